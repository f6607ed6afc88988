/*
 * logdb_search: one query over the database files of several site logs.
 * Each file answers at most limit + 1 rows through its indexes; the rows are
 * merged into a running best limit + 1, whose last row then bounds the time
 * range asked of the files after it. Files are read newest first (by
 * modification time) so that the bound tightens early; memory stays within
 * two limits' worth of rows.
 */
#include "runtime/logdb.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#define SEARCH_FILES_MAX 4096 /* files one search reads at most */
#define SEARCH_BUSY_MS 2000

struct file {
    char *path;
    time_t mtime;
};

struct hit {
    int64_t time, id;
    size_t rank; /* of the file, in reading order */
    json_t *row;
};

struct hits {
    struct hit *v;
    size_t n, cap;
};

/* ---- the files ---- */

static time_t mtime_of(const char *path)
{
    struct stat st;
    char wal[4096];
    time_t t = stat(path, &st) == 0 ? st.st_mtime : 0;

    /* The current file's news are in its -wal until a checkpoint. */
    if (snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) && stat(wal, &st) == 0 &&
        st.st_mtime > t)
        t = st.st_mtime;
    return t;
}

static char *path_of(const char *dir, const char *name)
{
    struct buf b = {0};

    buf_printf(&b, "%s/%s", dir, name);
    return b.data;
}

static void add_dir(struct file **v, size_t *n, size_t *cap, size_t *over, const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL)
        return; /* no file yet */
    while ((de = readdir(d)) != NULL) {
        if (!logdb_is_log_file(de->d_name))
            continue;
        if (*n == SEARCH_FILES_MAX) {
            (*over)++;
            continue;
        }
        if (*n == *cap)
            *v = xrealloc(*v, (*cap = *cap ? *cap * 2 : 16) * sizeof(**v));
        (*v)[*n].path = path_of(dir, de->d_name);
        (*v)[*n].mtime = mtime_of((*v)[*n].path);
        (*n)++;
    }
    closedir(d);
}

static int newest_file_first(const void *a, const void *b)
{
    const struct file *x = a, *y = b;

    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? 1 : -1;
    return -strcmp(x->path, y->path);
}

static int oldest_file_first(const void *a, const void *b)
{
    return newest_file_first(b, a);
}

/* ---- rows as JSON ---- */

/* Length of the well-formed UTF-8 sequence at S (N bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80                    ? 1
                 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    return len;
}

/* The bytes as a JSON string, each byte that is not UTF-8 as U+FFFD: the log
 * keeps what clients sent, JSON cannot. */
static json_t *text_json(const unsigned char *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    struct buf b = {0};

    if (j != NULL)
        return j;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        if (k == 0) {
            buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        } else {
            buf_append(&b, s + i, k);
            i += k;
        }
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return j ? j : json_string("");
}

static json_t *col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *s;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    s = sqlite3_column_text(st, col);
    return s ? text_json(s, (size_t)sqlite3_column_bytes(st, col)) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int col)
{
    return json_integer((json_int_t)sqlite3_column_int64(st, col));
}

static json_t *row_json(sqlite3_stmt *st)
{
    char iso[CLOCK_ISO_LEN + 1];
    time_t t = (time_t)sqlite3_column_int64(st, LOGQ_C_TIME);
    json_t *row;

    if (!clock_iso_format(t, iso, sizeof(iso)))
        iso[0] = '\0';
    row = json_pack("{s:s,s:I}", "time", iso, "unix_time", (json_int_t)t);
    json_object_set_new(row, "service", col_text(st, LOGQ_C_SERVICE));
    json_object_set_new(row, "site", col_text(st, LOGQ_C_SITE));
    json_object_set_new(row, "client", col_text(st, LOGQ_C_CLIENT));
    json_object_set_new(row, "user", col_text(st, LOGQ_C_USER));
    json_object_set_new(row, "method", col_text(st, LOGQ_C_METHOD));
    json_object_set_new(row, "path", col_text(st, LOGQ_C_PATH));
    json_object_set_new(row, "query", col_text(st, LOGQ_C_QUERY));
    json_object_set_new(row, "protocol", col_text(st, LOGQ_C_PROTOCOL));
    json_object_set_new(row, "status", col_int(st, LOGQ_C_STATUS));
    json_object_set_new(row, "bytes_sent", col_int(st, LOGQ_C_BYTES_SENT));
    json_object_set_new(row, "bytes_received", col_int(st, LOGQ_C_BYTES_RECEIVED));
    json_object_set_new(row, "time_taken_ms", col_int(st, LOGQ_C_TIME_TAKEN));
    json_object_set_new(row, "host", col_text(st, LOGQ_C_HOST));
    json_object_set_new(row, "user_agent", col_text(st, LOGQ_C_USER_AGENT));
    json_object_set_new(row, "referer", col_text(st, LOGQ_C_REFERER));
    json_object_set_new(row, "server_ip", col_text(st, LOGQ_C_SERVER_IP));
    json_object_set_new(row, "server_port", col_int(st, LOGQ_C_SERVER_PORT));
    return row;
}

/* ---- merging ---- */

static int hit_newest_first(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

static int hit_oldest_first(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

static void hits_add(struct hits *h, sqlite3_stmt *st, size_t rank)
{
    if (h->n == h->cap)
        h->v = xrealloc(h->v, (h->cap = h->cap ? h->cap * 2 : 64) * sizeof(*h->v));
    h->v[h->n++] = (struct hit){.time = sqlite3_column_int64(st, LOGQ_C_TIME),
                                .id = sqlite3_column_int64(st, LOGQ_C_ID),
                                .rank = rank,
                                .row = row_json(st)};
}

/* Keep the best KEEP hits; later files need only beat the last of them. */
static void hits_trim(struct hits *h, struct logq *q, size_t keep)
{
    if (h->n == 0)
        return;
    qsort(h->v, h->n, sizeof(*h->v), q->oldest_first ? hit_oldest_first : hit_newest_first);
    while (h->n > keep)
        json_decref(h->v[--h->n].row);
    if (h->n < keep)
        return;
    if (q->oldest_first && h->v[keep - 1].time < q->until)
        q->until = h->v[keep - 1].time + 1;
    else if (!q->oldest_first && h->v[keep - 1].time > q->since)
        q->since = h->v[keep - 1].time;
}

/* ---- one file ---- */

static void bind_all(sqlite3_stmt *st, const struct logq_bind *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i].text)
            sqlite3_bind_text(st, (int)i + 1, b[i].s, (int)b[i].n, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, (int)i + 1, b[i].i);
    }
}

/* Schema version of an open file: 0 while it is being created. */
static int64_t file_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The rows of one file into H; -1 (with a warning) when it cannot be read. */
static int search_file(const char *path, size_t rank, const struct logq *q, struct hits *h)
{
    struct logq_bind binds[LOGQ_BINDS_MAX];
    struct buf sql = {0};
    sqlite3_stmt *st = NULL;
    sqlite3 *db = NULL;
    size_t nb = logq_sql(q, &sql, binds);
    const char *why = NULL;
    int64_t version;
    int rc;

    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, SEARCH_BUSY_MS);
    version = file_version(db);
    if (version == 0) /* just created: nothing in it yet */
        goto out;
    if (version != LOGDB_SCHEMA_VERSION) {
        why = "not an access log database of this server's schema";
        goto out;
    }
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto out;
    bind_all(st, binds, nb);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        hits_add(h, st, rank);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    if (rc != SQLITE_OK && why == NULL)
        why = db ? sqlite3_errmsg(db) : "out of memory";
    if (why != NULL)
        log_warnx("logdb: cannot search %s: %s", path, why);
    sqlite3_finalize(st);
    sqlite3_close(db);
    buf_free(&sql);
    return why != NULL ? -1 : 0;
}

/* Every log file of the sources, in reading order, and how many were left out. */
static struct file *files_of(const struct logdb_source *src, size_t nsrc, bool oldest_first,
                             size_t *n, size_t *over)
{
    struct file *v = NULL;
    size_t cap = 0;

    *n = *over = 0;
    for (size_t i = 0; i < nsrc; i++)
        add_dir(&v, n, &cap, over, src[i].dir);
    if (*n > 0)
        qsort(v, *n, sizeof(*v), oldest_first ? oldest_file_first : newest_file_first);
    return v;
}

/* The part of PATH below the log directory ("www/default/access-2026-11-30.sqlite"). */
static const char *short_name(const char *path)
{
    const char *p = path + strlen(path);
    int slashes = 0;

    while (p > path && slashes < 3)
        if (*--p == '/')
            slashes++;
    return slashes == 3 ? p + 1 : path;
}

json_t *logdb_search(const struct logdb_source *src, size_t nsrc, const struct logq *q)
{
    struct logq cur = *q;
    struct hits h = {0};
    json_t *entries = json_array(), *skipped = json_array(), *out;
    size_t n, over;
    struct file *files = files_of(src, nsrc, q->oldest_first, &n, &over);

    for (size_t i = 0; i < n; i++) {
        if (search_file(files[i].path, i, &cur, &h) == -1)
            json_array_append_new(skipped, json_string(short_name(files[i].path)));
        hits_trim(&h, &cur, (size_t)q->limit + 1);
        free(files[i].path);
    }
    free(files);
    for (size_t i = 0; i < h.n && i < q->limit; i++)
        json_array_append(entries, h.v[i].row);
    out = json_pack("{s:o,s:b}", "entries", entries, "truncated", h.n > q->limit || over > 0);
    for (size_t i = 0; i < h.n; i++)
        json_decref(h.v[i].row);
    free(h.v);
    if (over > 0)
        json_array_append_new(skipped, json_sprintf("%zu more files", over));
    if (json_array_size(skipped) > 0)
        json_object_set_new(out, "skipped_files", skipped);
    else
        json_decref(skipped);
    return out;
}
