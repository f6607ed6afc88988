/*
 * logdb: access log entries in SQLite. One file per period keeps removal of
 * an old period a matter of unlinking it, and keeps each file's indexes
 * small; a query reads every file of a site and merges. WAL with
 * synchronous=NORMAL: a committed batch survives the process crashing (not
 * necessarily the machine losing power), and readers never wait for the
 * writer.
 */
#include "runtime/logdb.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"

#define LOGDB_APP_ID 0x696e6c67 /* "inlg": PRAGMA application_id of our files */
#define LOGDB_NULL UINT32_MAX   /* length of an absent field */
#define LOGDB_BUSY_MS 2000

/* ---- records: what a worker hands over ---- */

enum logdb_field {
    F_CLIENT,
    F_USER,
    F_METHOD,
    F_PATH,
    F_QUERY,
    F_PROTOCOL,
    F_HOST,
    F_USER_AGENT,
    F_REFERER,
    F_SERVER_IP,
    NFIELDS
};

/* The fixed part of a record, copied in and out with memcpy (records are not
 * aligned in the buffer); the fields' bytes follow in enum order. */
struct logdb_rec {
    uint32_t size; /* the whole record */
    int32_t status;
    int64_t time;
    uint64_t bytes_sent, bytes_received, time_taken_ms;
    uint32_t server_port;
    uint32_t len[NFIELDS];
};

struct logdb_str {
    const char *s;
    uint32_t n; /* LOGDB_NULL: absent */
};

/* An optional field: absent when NULL or empty. */
static struct logdb_str opt_str(const char *s, size_t n)
{
    if (s == NULL || n == 0)
        return (struct logdb_str){NULL, LOGDB_NULL};
    return (struct logdb_str){s, n > LOGDB_FIELD_MAX ? LOGDB_FIELD_MAX : (uint32_t)n};
}

/* A field every entry has: "" when missing. */
static struct logdb_str req_str(const char *s, size_t n)
{
    struct logdb_str f = opt_str(s, n);

    return f.n == LOGDB_NULL ? (struct logdb_str){"", 0} : f;
}

static size_t z(const char *s)
{
    return s ? strlen(s) : 0;
}

static uint64_t clamp63(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v;
}

void logdb_encode(struct buf *b, const struct alog_entry *e)
{
    struct logdb_str f[NFIELDS] = {
        [F_CLIENT] = req_str(e->client_ip, z(e->client_ip)),
        [F_USER] = opt_str(e->user, z(e->user)),
        [F_METHOD] = req_str(e->method, z(e->method)),
        [F_PATH] = req_str(e->uri_stem, e->uri_stem ? e->uri_stem_len : 0),
        [F_QUERY] = opt_str(e->query, e->query ? e->query_len : 0),
        [F_PROTOCOL] = opt_str(e->protocol, z(e->protocol)),
        [F_HOST] = opt_str(e->host, e->host ? e->host_len : 0),
        [F_USER_AGENT] = opt_str(e->user_agent, e->user_agent ? e->user_agent_len : 0),
        [F_REFERER] = opt_str(e->referer, e->referer ? e->referer_len : 0),
        [F_SERVER_IP] = opt_str(e->server_ip, z(e->server_ip)),
    };
    struct logdb_rec r = {.status = e->status,
                          .time = (int64_t)e->time,
                          .bytes_sent = clamp63(e->bytes_sent),
                          .bytes_received = clamp63(e->bytes_received),
                          .time_taken_ms = clamp63(e->time_taken_ms),
                          .server_port = e->server_port};
    size_t size = sizeof(r);

    for (size_t i = 0; i < NFIELDS; i++) {
        r.len[i] = f[i].n;
        size += f[i].n == LOGDB_NULL ? 0 : f[i].n;
    }
    r.size = (uint32_t)size;
    buf_reserve(b, size);
    buf_append(b, &r, sizeof(r));
    for (size_t i = 0; i < NFIELDS; i++)
        if (f[i].n != LOGDB_NULL)
            buf_append(b, f[i].s, f[i].n);
}

/* The record at P (N bytes left) into *R and its fields; false when it is not whole. */
static bool decode(const char *p, size_t n, struct logdb_rec *r, struct logdb_str *f)
{
    size_t off = sizeof(*r);

    if (n < sizeof(*r))
        return false;
    memcpy(r, p, sizeof(*r));
    if (r->size < sizeof(*r) || r->size > n)
        return false;
    for (size_t i = 0; i < NFIELDS; i++) {
        f[i].n = r->len[i];
        f[i].s = NULL;
        if (r->len[i] == LOGDB_NULL)
            continue;
        if (r->len[i] > r->size - off)
            return false;
        f[i].s = p + off;
        off += r->len[i];
    }
    return off == r->size;
}

/* ---- file names ---- */

static void tm_of(time_t t, struct tm *tm)
{
    if (gmtime_r(&t, tm) == NULL) {
        memset(tm, 0, sizeof(*tm));
        tm->tm_mday = 1;
        tm->tm_year = 70;
    }
}

size_t logdb_file_name(enum alog_period period, unsigned seq, time_t t, char *out, size_t outlen)
{
    struct tm tm;
    int y, m, n;

    tm_of(t, &tm);
    y = tm.tm_year + 1900;
    m = tm.tm_mon + 1;
    switch (period) {
    case ALOG_HOURLY:
        n = snprintf(out, outlen, "access-%04d-%02d-%02d-%02d.sqlite", y, m, tm.tm_mday,
                     tm.tm_hour);
        break;
    case ALOG_DAILY:
        n = snprintf(out, outlen, "access-%04d-%02d-%02d.sqlite", y, m, tm.tm_mday);
        break;
    case ALOG_WEEKLY: /* week of the month, as the text logs: days 1-7 are week 1 */
        n = snprintf(out, outlen, "access-%04d-%02d-w%d.sqlite", y, m, (tm.tm_mday - 1) / 7 + 1);
        break;
    case ALOG_MONTHLY:
        n = snprintf(out, outlen, "access-%04d-%02d.sqlite", y, m);
        break;
    case ALOG_SIZE:
        n = snprintf(out, outlen, "access-%u.sqlite", seq);
        break;
    default:
        n = snprintf(out, outlen, "access.sqlite");
        break;
    }
    return (n > 0 && (size_t)n < outlen) ? (size_t)n : 0;
}

/* NAME against TEMPLATE, where '#' stands for a digit. */
static bool name_matches(const char *name, const char *tmpl)
{
    for (; *tmpl != '\0'; name++, tmpl++)
        if (*tmpl == '#' ? (*name < '0' || *name > '9') : *name != *tmpl)
            return false;
    return *name == '\0';
}

/* "access-N.sqlite", N from 1 without leading zeros. */
static bool seq_name(const char *name, unsigned *seq)
{
    const char *p = name + 7;
    unsigned long v = 0;

    if (strncmp(name, "access-", 7) != 0 || *p < '1' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (unsigned long)(*p - '0')) >= UINT_MAX)
            return false;
    if (strcmp(p, ".sqlite") != 0)
        return false;
    *seq = (unsigned)v;
    return true;
}

bool logdb_file_of(const char *name, enum alog_period period, unsigned *seq)
{
    switch (period) {
    case ALOG_HOURLY:
        return name_matches(name, "access-####-##-##-##.sqlite");
    case ALOG_DAILY:
        return name_matches(name, "access-####-##-##.sqlite");
    case ALOG_WEEKLY:
        return name_matches(name, "access-####-##-w#.sqlite");
    case ALOG_MONTHLY:
        return name_matches(name, "access-####-##.sqlite");
    case ALOG_SIZE:
        return seq_name(name, seq);
    default:
        return strcmp(name, "access.sqlite") == 0;
    }
}

bool logdb_is_log_file(const char *name)
{
    unsigned seq;

    for (int p = ALOG_PERIOD_NONE; p <= ALOG_SIZE; p++)
        if (logdb_file_of(name, (enum alog_period)p, &seq))
            return true;
    return false;
}

/* ---- the writer's database ---- */

struct logdb {
    char *dir, *service, *site;
    enum alog_period period;
    uint64_t max_size;
    _Atomic unsigned keep;
    unsigned pruned_keep; /* keep as of the last pruning */
    sqlite3 *db;          /* NULL while no file is open */
    sqlite3_stmt *ins, *pages;
    int64_t page_size;
    bool has_rows; /* the open file holds an entry */
    char name[LOGDB_NAME_MAX];
    unsigned seq; /* ALOG_SIZE file number */
    time_t warned_open, warned_write;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS access ("
    " id INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " iso TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%SZ', time, 'unixepoch')) VIRTUAL,"
    " service TEXT NOT NULL, site TEXT NOT NULL, client TEXT NOT NULL, user TEXT,"
    " method TEXT NOT NULL, path TEXT NOT NULL, query TEXT, protocol TEXT,"
    " status INTEGER NOT NULL, bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
    " time_taken_ms INTEGER NOT NULL, host TEXT, user_agent TEXT, referer TEXT,"
    " server_ip TEXT, server_port INTEGER);"
    "CREATE INDEX IF NOT EXISTS access_time ON access(time);"
    "CREATE INDEX IF NOT EXISTS access_status ON access(status, time);"
    "CREATE INDEX IF NOT EXISTS access_client ON access(client, time);"
    "CREATE INDEX IF NOT EXISTS access_path ON access(path, time);";

static const char insert_sql[] =
    "INSERT INTO access (time, service, site, client, user, method, path, query, protocol,"
    " status, bytes_sent, bytes_received, time_taken_ms, host, user_agent, referer, server_ip,"
    " server_port) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static bool ratelimit(time_t *last, time_t now)
{
    if (*last == now)
        return false;
    *last = now;
    return true;
}

/* One integer from a single-row statement such as a PRAGMA; -1 on failure. */
static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The tables of a new file. */
static const char *create_schema(sqlite3 *db)
{
    char set[96];

    snprintf(set, sizeof(set), "PRAGMA user_version = %d; PRAGMA application_id = %d;",
             LOGDB_SCHEMA_VERSION, LOGDB_APP_ID);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, set, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return "cannot create the access log tables";
    }
    return NULL;
}

/* A file that is not ours is left as it is: nothing is changed before the check. */
static const char *configure(sqlite3 *db)
{
    int64_t version;

    sqlite3_busy_timeout(db, LOGDB_BUSY_MS);
    version = one_int(db, "PRAGMA user_version");
    if (version == -1)
        return "the access log file cannot be read as a SQLite database";
    if (version != 0 && version != LOGDB_SCHEMA_VERSION)
        return "the access log database has a schema this server does not know";
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "PRAGMA journal_size_limit = 4194304;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return "cannot put the access log database in WAL mode";
    return version == 0 ? create_schema(db) : NULL;
}

static void file_close(struct logdb *db)
{
    sqlite3_finalize(db->ins);
    sqlite3_finalize(db->pages);
    sqlite3_close(db->db); /* the last connection checkpoints and removes the -wal */
    db->ins = db->pages = NULL;
    db->db = NULL;
}

static const char *file_open_at(struct logdb *db, const char *path)
{
    const char *why;

    if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return "cannot open the access log database";
    why = configure(db->db);
    if (why == NULL &&
        (sqlite3_prepare_v3(db->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &db->ins, NULL) !=
             SQLITE_OK ||
         sqlite3_prepare_v3(db->db, "PRAGMA page_count", -1, SQLITE_PREPARE_PERSISTENT, &db->pages,
                            NULL) != SQLITE_OK))
        why = "cannot prepare the access log statements";
    if (why == NULL) {
        db->page_size = one_int(db->db, "PRAGMA page_size");
        db->has_rows = one_int(db->db, "SELECT EXISTS (SELECT 1 FROM access)") == 1;
    }
    return why;
}

static void prune(struct logdb *db);

/* ": " and SQLite's reason, for a warning. */
static const char *errmsg_of(sqlite3 *db)
{
    static _Thread_local char msg[256];

    snprintf(msg, sizeof(msg), ": %s", sqlite3_errmsg(db));
    return msg;
}

/* Open the file for NOW (or the current size sequence), then prune. */
static const char *file_open(struct logdb *db, time_t now)
{
    const char *why = NULL;
    char *path;

    if (logdb_file_name(db->period, db->seq, now, db->name, sizeof(db->name)) == 0)
        return "access log file name too long";
    path = fs_path_join(db->dir, db->name);
    why = file_open_at(db, path);
    if (why != NULL) {
        if (ratelimit(&db->warned_open, now))
            log_warnx("logdb: %s: %s%s%s", path, why, db->db == NULL ? " (out of memory)" : "",
                      db->db && sqlite3_errcode(db->db) != SQLITE_OK ? errmsg_of(db->db) : "");
        file_close(db);
    } else {
        prune(db);
    }
    free(path);
    return why;
}

/* ---- removing old periods ---- */

static void unlink_log(const char *dir, const char *name)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        if (snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix[i]) >= (int)sizeof(path))
            return;
        if (unlink(path) == -1 && errno != ENOENT)
            log_warn("logdb: cannot remove %s", path);
    }
}

struct old_file {
    char name[LOGDB_NAME_MAX];
    unsigned seq;
};

/* Newest first: by sequence number for size rollover, else by name (the
 * names of one period kind sort by time). */
static int old_newest_first(const void *a, const void *b)
{
    const struct old_file *x = a, *y = b;

    if (x->seq != y->seq)
        return x->seq < y->seq ? 1 : -1;
    return -strcmp(x->name, y->name);
}

/* Whether NAME is an old period of DB (before the current file). */
static bool is_old(const struct logdb *db, const char *name, unsigned *seq)
{
    *seq = 0;
    if (db->period == ALOG_PERIOD_NONE || !logdb_file_of(name, db->period, seq))
        return false;
    return db->period == ALOG_SIZE ? *seq < db->seq : strcmp(name, db->name) < 0;
}

/* The old files of DB's period kind, in a new array (*N of them). */
static struct old_file *old_files(const struct logdb *db, size_t *n)
{
    struct old_file *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    DIR *d = opendir(db->dir);
    unsigned seq;

    *n = 0;
    if (d == NULL)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len >= LOGDB_NAME_MAX || !is_old(db, de->d_name, &seq))
            continue;
        if (*n == cap)
            v = xrealloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
        memcpy(v[*n].name, de->d_name, len + 1);
        v[(*n)++].seq = seq;
    }
    closedir(d);
    return v;
}

/* Whole old periods beyond the kept ones go; the current file never does. */
static void prune(struct logdb *db)
{
    unsigned keep = atomic_load(&db->keep);
    size_t n;
    struct old_file *v = old_files(db, &n);

    db->pruned_keep = keep;
    if (n > keep) {
        qsort(v, n, sizeof(*v), old_newest_first);
        for (size_t i = keep; i < n; i++) {
            unlink_log(db->dir, v[i].name);
            log_info("logdb: %s/%s: removed an old period (log_keep_periods %u)", db->dir,
                     v[i].name, keep);
        }
    }
    free(v);
}

/* ---- writing ---- */

static int64_t file_size(struct logdb *db)
{
    int64_t pages = -1;

    if (sqlite3_step(db->pages) == SQLITE_ROW)
        pages = sqlite3_column_int64(db->pages, 0);
    sqlite3_reset(db->pages);
    return pages < 0 ? 0 : pages * db->page_size;
}

/* Time to start the next file: the period changed, or the size was reached. */
static bool should_roll(struct logdb *db, time_t now)
{
    char name[LOGDB_NAME_MAX];

    if (db->period == ALOG_SIZE)
        return db->has_rows && (uint64_t)file_size(db) >= db->max_size;
    if (db->period == ALOG_PERIOD_NONE)
        return false;
    return logdb_file_name(db->period, 0, now, name, sizeof(name)) != 0 &&
           strcmp(name, db->name) != 0;
}

static void bind_str(sqlite3_stmt *st, int col, struct logdb_str f)
{
    if (f.n == LOGDB_NULL)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_text(st, col, f.s, (int)f.n, SQLITE_STATIC);
}

static int insert(struct logdb *db, const struct logdb_rec *r, const struct logdb_str *f)
{
    sqlite3_stmt *st = db->ins;
    int rc;

    sqlite3_bind_int64(st, 1, r->time);
    sqlite3_bind_text(st, 2, db->service, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, db->site, -1, SQLITE_STATIC);
    bind_str(st, 4, f[F_CLIENT]);
    bind_str(st, 5, f[F_USER]);
    bind_str(st, 6, f[F_METHOD]);
    bind_str(st, 7, f[F_PATH]);
    bind_str(st, 8, f[F_QUERY]);
    bind_str(st, 9, f[F_PROTOCOL]);
    sqlite3_bind_int(st, 10, r->status);
    sqlite3_bind_int64(st, 11, (int64_t)r->bytes_sent);
    sqlite3_bind_int64(st, 12, (int64_t)r->bytes_received);
    sqlite3_bind_int64(st, 13, (int64_t)r->time_taken_ms);
    bind_str(st, 14, f[F_HOST]);
    bind_str(st, 15, f[F_USER_AGENT]);
    bind_str(st, 16, f[F_REFERER]);
    bind_str(st, 17, f[F_SERVER_IP]);
    sqlite3_bind_int(st, 18, (int)r->server_port);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Records in P[0..N). */
static uint64_t count_records(const char *p, size_t n)
{
    struct logdb_str f[NFIELDS];
    struct logdb_rec r;
    uint64_t count = 0;

    for (; decode(p, n, &r, f); p += r.size, n -= r.size)
        count++;
    return count;
}

/* Up to LOGDB_TXN_ROWS records of P[0..N) in one transaction; *USED gets
 * the bytes consumed. Returns the entries lost (all of them on failure). */
static uint64_t insert_batch(struct logdb *db, const char *p, size_t n, size_t *used, time_t now)
{
    struct logdb_str f[NFIELDS];
    struct logdb_rec r;
    uint64_t rows = 0;
    bool ok = sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

    *used = 0;
    while (rows < LOGDB_TXN_ROWS && decode(p + *used, n - *used, &r, f)) {
        ok = ok && insert(db, &r, f) == 0;
        *used += r.size;
        rows++;
    }
    if (ok && sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        db->has_rows = db->has_rows || rows > 0;
        return 0;
    }
    if (ratelimit(&db->warned_write, now))
        log_warnx("logdb: %s/%s: cannot write %llu entries: %s", db->dir, db->name,
                  (unsigned long long)rows, sqlite3_errmsg(db->db));
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rows;
}

/* Close a file whose period is over (so that its WAL is checkpointed away)
 * and prune when log_keep_periods changed; the next file opens with the next
 * entry, so that an idle log (a site's log superseded by new settings keeps
 * its writer until exit) creates no files. */
static void roll_idle(struct logdb *db, time_t now)
{
    if (db->db != NULL && atomic_load(&db->keep) != db->pruned_keep)
        prune(db);
    if (db->db != NULL && should_roll(db, now)) {
        file_close(db);
        if (db->period == ALOG_SIZE)
            db->seq++;
    }
}

/* Make sure the right file is open for the next transaction. */
static int current_file(struct logdb *db, time_t now)
{
    roll_idle(db, now);
    if (db->db == NULL && file_open(db, now) != NULL)
        return -1;
    return 0;
}

uint64_t logdb_write(struct logdb *db, const char *p, size_t n, time_t now)
{
    uint64_t lost = 0;
    size_t used;

    while (n > 0) {
        if (current_file(db, now) == -1)
            return lost + count_records(p, n);
        lost += insert_batch(db, p, n, &used, now);
        if (used == 0) {
            if (ratelimit(&db->warned_write, now))
                log_warnx("logdb: %s: a malformed record; %zu bytes dropped", db->dir, n);
            return lost;
        }
        p += used;
        n -= used;
    }
    roll_idle(db, now);
    return lost;
}

void logdb_reopen(struct logdb *db)
{
    if (db->db != NULL)
        file_close(db);
}

void logdb_set_keep(struct logdb *db, unsigned n)
{
    atomic_store(&db->keep, n);
}

char *logdb_path(const struct logdb *db)
{
    return db->db != NULL ? fs_path_join(db->dir, db->name) : NULL;
}

/* ALOG_SIZE continues with the highest file number there is, or 1. */
static unsigned scan_seq(const char *dir)
{
    unsigned best = 1, seq;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL)
        return best;
    while ((de = readdir(d)) != NULL)
        if (seq_name(de->d_name, &seq) && seq > best)
            best = seq;
    closedir(d);
    return best;
}

struct logdb *logdb_open(const struct logdb_config *cfg, time_t now, const char **err)
{
    struct logdb *db = xcalloc(1, sizeof(*db));

    db->dir = xstrdup(cfg->dir);
    db->service = xstrdup(cfg->service ? cfg->service : "");
    db->site = xstrdup(cfg->site ? cfg->site : "");
    db->period = cfg->period;
    db->max_size = cfg->max_size;
    atomic_store(&db->keep, cfg->keep);
    if (db->period == ALOG_SIZE)
        db->seq = scan_seq(db->dir);
    *err = file_open(db, now);
    if (*err == NULL)
        return db;
    logdb_close(db);
    return NULL;
}

void logdb_close(struct logdb *db)
{
    if (db == NULL)
        return;
    file_close(db);
    free(db->dir);
    free(db->service);
    free(db->site);
    free(db);
}
