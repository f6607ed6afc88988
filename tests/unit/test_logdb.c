/*
 * Unit tests for logdb: records in and rows out, file names, rollover by
 * period and size with the old periods pruned, and searches merging several
 * files and sites. The writer's clock is the NOW passed to logdb_write, so
 * that days can pass in a test.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "runtime/logdb.h"

#define DAY 86400
#define T_2026_11_30_1200 ((time_t)1796040000)
#define T_2026_11_30 ((time_t)1795996800)

/* ---- helpers ---- */

static char *t_mkdtemp(void)
{
    char tmpl[] = "/tmp/logdb-test-XXXXXX";

    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void t_rmtree(const char *dir)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* The names of the log files in DIR, sorted, joined by spaces. */
static char *t_files(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    static char out[4096];
    size_t len = 0;

    out[0] = '\0';
    cr_assert_geq(n, 0);
    for (int i = 0; i < n; i++) {
        if (logdb_is_log_file(list[i]->d_name))
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "",
                                    list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return out;
}

static struct logdb *t_open(const char *dir, const char *site, enum alog_period period,
                            uint64_t max_size, unsigned keep, time_t now)
{
    struct logdb_config cfg = {.dir = dir,
                               .service = "www",
                               .site = site,
                               .period = period,
                               .max_size = max_size,
                               .keep = keep};
    const char *err = NULL;
    struct logdb *db = logdb_open(&cfg, now, &err);

    cr_assert_not_null(db, "logdb_open: %s", err ? err : "?");
    return db;
}

static struct alog_entry t_entry(time_t t, const char *path, int status, const char *client)
{
    return (struct alog_entry){.time = t,
                               .client_ip = client,
                               .method = "GET",
                               .uri_stem = path,
                               .uri_stem_len = strlen(path),
                               .protocol = "HTTP/1.1",
                               .status = status,
                               .bytes_sent = 100,
                               .bytes_received = 50,
                               .time_taken_ms = 3,
                               .server_ip = "127.0.0.1",
                               .server_port = 8080,
                               .site = "x"};
}

/* Write N entries at T, T+1, ... with paths "/PREFIX-i", at the writer's time NOW. */
static void t_write_n(struct logdb *db, time_t t, int n, const char *prefix, int status, time_t now)
{
    struct buf b = {0};
    char path[64];

    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/%s-%d", prefix, i);
        struct alog_entry e = t_entry(t + i, path, status, "192.0.2.1");
        logdb_encode(&b, &e);
    }
    cr_assert_eq(logdb_write(db, b.data, b.len, now), 0, "entries lost");
    buf_free(&b);
}

static json_t *t_search(const char *dir, const char *raw)
{
    struct logdb_source src = {"www", "s", dir};
    struct logq q;
    struct logq_error e;

    logq_init(&q, T_2026_11_30_1200);
    cr_assert_eq(logq_parse_query(&q, raw, strlen(raw), &e), 0, "%s", e.message);
    return logdb_search(&src, 1, &q);
}

static const char *t_path_at(const json_t *res, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(res, "entries"), i), "path"));
}

static size_t t_count(const json_t *res)
{
    return json_array_size(json_object_get(res, "entries"));
}

/* ---- names ---- */

Test(logdb_names, one_name_per_period)
{
    char name[LOGDB_NAME_MAX];
    time_t t = T_2026_11_30_1200 + 3 * 3600; /* 15:00 */
    unsigned seq = 0;

    cr_expect_gt(logdb_file_name(ALOG_HOURLY, 0, t, name, sizeof(name)), 0);
    cr_expect_str_eq(name, "access-2026-11-30-15.sqlite");
    logdb_file_name(ALOG_DAILY, 0, t, name, sizeof(name));
    cr_expect_str_eq(name, "access-2026-11-30.sqlite");
    logdb_file_name(ALOG_WEEKLY, 0, t, name, sizeof(name));
    cr_expect_str_eq(name, "access-2026-11-w5.sqlite");
    logdb_file_name(ALOG_MONTHLY, 0, t, name, sizeof(name));
    cr_expect_str_eq(name, "access-2026-11.sqlite");
    logdb_file_name(ALOG_SIZE, 12, t, name, sizeof(name));
    cr_expect_str_eq(name, "access-12.sqlite");
    logdb_file_name(ALOG_PERIOD_NONE, 0, t, name, sizeof(name));
    cr_expect_str_eq(name, "access.sqlite");
    cr_expect_eq(logdb_file_name(ALOG_DAILY, 0, t, name, 10), 0, "too small a buffer");
    cr_expect(logdb_file_of("access-2026-11-30.sqlite", ALOG_DAILY, &seq));
    cr_expect(!logdb_file_of("access-2026-11-30.sqlite", ALOG_HOURLY, &seq));
    cr_expect(!logdb_file_of("access-2026-11-30.sqlite-wal", ALOG_DAILY, &seq));
    cr_expect(logdb_file_of("access-7.sqlite", ALOG_SIZE, &seq) && seq == 7);
    cr_expect(!logdb_file_of("access-07.sqlite", ALOG_SIZE, &seq));
    cr_expect(!logdb_file_of("access-0.sqlite", ALOG_SIZE, &seq));
    cr_expect(logdb_is_log_file("access-2026-11-w1.sqlite"));
    cr_expect(logdb_is_log_file("access.sqlite"));
    cr_expect(!logdb_is_log_file("ex261130.log"));
    cr_expect(!logdb_is_log_file("access-2026-11-30.sqlite-shm"));
}

/* ---- rows ---- */

Test(logdb_rows, every_field_round_trips)
{
    char *dir = t_mkdtemp();
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 30, T_2026_11_30_1200);
    struct alog_entry e = t_entry(T_2026_11_30_1200 - 5, "/caf\xc3\xa9/\xff", 404, "::1");
    struct buf b = {0};
    json_t *res, *row;

    e.user = "anna";
    e.query = "q=1";
    e.query_len = 3;
    e.host = "www.example.com";
    e.host_len = 15;
    e.user_agent = "agent/1.0";
    e.user_agent_len = 9;
    e.referer = "";
    e.referer_len = 0;
    logdb_encode(&b, &e);
    cr_assert_eq(logdb_write(db, b.data, b.len, T_2026_11_30_1200), 0);
    res = t_search(dir, "");
    cr_assert_eq(t_count(res), 1);
    row = json_array_get(json_object_get(res, "entries"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(row, "time")), "2026-11-30T11:59:55Z");
    cr_expect_eq(json_integer_value(json_object_get(row, "unix_time")), T_2026_11_30_1200 - 5);
    cr_expect_str_eq(json_string_value(json_object_get(row, "service")), "www");
    cr_expect_str_eq(json_string_value(json_object_get(row, "site")), "s");
    cr_expect_str_eq(json_string_value(json_object_get(row, "client")), "::1");
    cr_expect_str_eq(json_string_value(json_object_get(row, "user")), "anna");
    cr_expect_str_eq(json_string_value(json_object_get(row, "method")), "GET");
    cr_expect_str_eq(json_string_value(json_object_get(row, "path")), "/caf\xc3\xa9/\xef\xbf\xbd",
                     "a byte that is not UTF-8 becomes U+FFFD in JSON");
    cr_expect_str_eq(json_string_value(json_object_get(row, "query")), "q=1");
    cr_expect_str_eq(json_string_value(json_object_get(row, "protocol")), "HTTP/1.1");
    cr_expect_eq(json_integer_value(json_object_get(row, "status")), 404);
    cr_expect_eq(json_integer_value(json_object_get(row, "bytes_sent")), 100);
    cr_expect_eq(json_integer_value(json_object_get(row, "bytes_received")), 50);
    cr_expect_eq(json_integer_value(json_object_get(row, "time_taken_ms")), 3);
    cr_expect_str_eq(json_string_value(json_object_get(row, "host")), "www.example.com");
    cr_expect_str_eq(json_string_value(json_object_get(row, "user_agent")), "agent/1.0");
    cr_expect(json_is_null(json_object_get(row, "referer")), "an empty field is null");
    cr_expect_eq(json_integer_value(json_object_get(row, "server_port")), 8080);
    cr_expect(json_is_false(json_object_get(res, "truncated")));
    json_decref(res);
    logdb_close(db);
    buf_free(&b);
    t_rmtree(dir);
    free(dir);
}

/* The file keeps the raw bytes (and the ISO column) for other SQLite readers. */
Test(logdb_rows, the_file_as_sqlite3_sees_it)
{
    char *dir = t_mkdtemp(), path[512];
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 30, T_2026_11_30_1200);
    sqlite3 *s;
    sqlite3_stmt *st;

    t_write_n(db, T_2026_11_30_1200, 3, "p", 200, T_2026_11_30_1200);
    snprintf(path, sizeof(path), "%s/access-2026-11-30.sqlite", dir);
    cr_assert_eq(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(
        sqlite3_prepare_v2(s, "SELECT count(*), min(iso), max(path) FROM access", -1, &st, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(s));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 3);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 1), "2026-11-30T12:00:00Z");
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 2), "/p-2");
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(s, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(s);
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

/* ---- filters, against a real file ---- */

Test(logdb_search, filters_select_rows)
{
    char *dir = t_mkdtemp();
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 30, T_2026_11_30_1200);
    struct buf b = {0};
    struct alog_entry e[] = {
        t_entry(T_2026_11_30_1200 + 1, "/docs/a", 200, "192.0.2.1"),
        t_entry(T_2026_11_30_1200 + 2, "/docs/b", 404, "192.0.2.2"),
        t_entry(T_2026_11_30_1200 + 3, "/docs", 404, "192.0.2.1"),
        t_entry(T_2026_11_30_1200 + 4, "/img/c", 500, "2001:db8::1"),
        t_entry(T_2026_11_30_1200 + 5, "/docs0", 403, "192.0.2.1"),
    };
    json_t *r;

    for (size_t i = 0; i < 5; i++)
        logdb_encode(&b, &e[i]);
    cr_assert_eq(logdb_write(db, b.data, b.len, T_2026_11_30_1200), 0);
    r = t_search(dir, "status=404");
    cr_expect(t_count(r) == 2 && strcmp(t_path_at(r, 0), "/docs") == 0 &&
                  strcmp(t_path_at(r, 1), "/docs/b") == 0,
              "newest first");
    json_decref(r);
    r = t_search(dir, "status=4xx&order=oldest");
    cr_expect(t_count(r) == 3 && strcmp(t_path_at(r, 0), "/docs/b") == 0 &&
              strcmp(t_path_at(r, 2), "/docs0") == 0);
    json_decref(r);
    r = t_search(dir, "path=/docs/");
    cr_expect(t_count(r) == 2, "a prefix, not a word: /docs and /docs0 are not under /docs/");
    json_decref(r);
    r = t_search(dir, "path=/docs");
    cr_expect_eq(t_count(r), 4);
    json_decref(r);
    r = t_search(dir, "client=2001:db8:0::1");
    cr_expect(t_count(r) == 1 && strcmp(t_path_at(r, 0), "/img/c") == 0);
    json_decref(r);
    r = t_search(dir, "since=2026-11-30T12:00:02Z&until=2026-11-30T12:00:04Z");
    cr_expect_eq(t_count(r), 3, "until names the whole second 12:00:04");
    json_decref(r);
    r = t_search(dir, "since=yesterday&until=yesterday");
    cr_expect_eq(t_count(r), 0);
    json_decref(r);
    r = t_search(dir, "limit=2");
    cr_expect(t_count(r) == 2 && json_is_true(json_object_get(r, "truncated")));
    cr_expect_str_eq(t_path_at(r, 0), "/docs0");
    json_decref(r);
    r = t_search(dir, "limit=5");
    cr_expect(t_count(r) == 5 && json_is_false(json_object_get(r, "truncated")));
    json_decref(r);
    logdb_close(db);
    buf_free(&b);
    t_rmtree(dir);
    free(dir);
}

/* ---- periods ---- */

Test(logdb_period, days_roll_and_old_ones_go)
{
    char *dir = t_mkdtemp();
    time_t day0 = T_2026_11_30 - 5 * DAY + 3600; /* 2026-11-25T01:00Z */
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 2, day0);
    json_t *r;

    for (int d = 0; d < 6; d++)
        t_write_n(db, day0 + d * DAY, 2, d == 5 ? "today" : "old", 200, day0 + d * DAY);
    cr_expect_str_eq(t_files(dir),
                     "access-2026-11-28.sqlite access-2026-11-29.sqlite access-2026-11-30.sqlite",
                     "two old periods kept beside the current one");
    r = t_search(dir, "since=yesterday");
    cr_expect_eq(t_count(r), 4, "yesterday's and today's, from two files");
    cr_expect_str_eq(t_path_at(r, 0), "/today-1");
    json_decref(r);
    r = t_search(dir, "");
    cr_expect_eq(t_count(r), 6, "the removed periods are gone whole");
    json_decref(r);
    /* Fewer periods to keep: applied at the next write, even one without entries. */
    logdb_set_keep(db, 0);
    cr_expect_eq(logdb_write(db, NULL, 0, day0 + 5 * DAY + 60), 0);
    cr_expect_str_eq(t_files(dir), "access-2026-11-30.sqlite", "never the current one");
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

Test(logdb_period, opening_prunes_and_leaves_other_files)
{
    char *dir = t_mkdtemp(), path[512];
    const char *const planted[] = {"access-2026-11-20.sqlite",
                                   "access-2026-11-21.sqlite",
                                   "access-2026-11-22.sqlite",
                                   "access-2026-11-21.sqlite-wal",
                                   "access-2026-12-05.sqlite",
                                   "access-3.sqlite",
                                   "ex261120.log"};
    struct logdb *db;
    FILE *f;

    for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, planted[i]);
        cr_assert_not_null(f = fopen(path, "w"));
        fclose(f);
    }
    db = t_open(dir, "s", ALOG_DAILY, 0, 1, T_2026_11_30_1200);
    cr_expect_str_eq(t_files(dir),
                     "access-2026-11-22.sqlite access-2026-11-30.sqlite access-2026-12-05.sqlite "
                     "access-3.sqlite",
                     "old days beyond one go; a later day, another period's files stay");
    snprintf(path, sizeof(path), "%s/access-2026-11-21.sqlite-wal", dir);
    cr_expect_neq(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/ex261120.log", dir);
    cr_expect_eq(access(path, F_OK), 0, "text logs are never removed");
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

Test(logdb_period, size_rollover_keeps_whole_files)
{
    char *dir = t_mkdtemp();
    struct logdb *db = t_open(dir, "s", ALOG_SIZE, 64 * 1024, 2, T_2026_11_30_1200);
    json_t *r;

    for (int i = 0; i < 40; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "b%02d", i);
        t_write_n(db, T_2026_11_30_1200 + i * 100, 50, prefix, 200, T_2026_11_30_1200);
    }
    char *files = t_files(dir);
    int n = 0, first = 0;
    for (char *p = files; (p = strstr(p, "access-")) != NULL; p++, n++)
        if (n == 0)
            first = atoi(p + 7);
    cr_expect_eq(n, 3, "the current file and two old ones: %s", files);
    cr_expect_gt(first, 1, "the first files went: %s", files);
    r = t_search(dir, "limit=1");
    cr_expect_str_eq(t_path_at(r, 0), "/b39-49", "the newest entry is in the current file");
    json_decref(r);
    logdb_close(db);
    /* Reopened, it continues with the highest number. */
    db = t_open(dir, "s", ALOG_SIZE, 64 * 1024, 2, T_2026_11_30_1200);
    t_write_n(db, T_2026_11_30_1200 + 9999, 1, "again", 200, T_2026_11_30_1200);
    r = t_search(dir, "limit=1");
    cr_expect_str_eq(t_path_at(r, 0), "/again-0");
    json_decref(r);
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

/* ---- merging ---- */

Test(logdb_search, merges_files_and_sites_in_time_order)
{
    char *dir = t_mkdtemp(), a[300], b[300];
    struct logdb *da, *db;
    struct logdb_source src[2];
    struct logq q;
    struct logq_error e;
    json_t *r;

    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    mkdir(a, 0700);
    mkdir(b, 0700);
    da = t_open(a, "a", ALOG_HOURLY, 0, 30, T_2026_11_30_1200);
    db = t_open(b, "b", ALOG_HOURLY, 0, 30, T_2026_11_30_1200);
    /* a: even seconds in three hourly files; b: odd seconds in one. */
    for (int h = 0; h < 3; h++) {
        struct buf buf = {0};
        for (int i = 0; i < 10; i++) {
            char path[32];
            snprintf(path, sizeof(path), "/a%d", h * 20 + 2 * i);
            struct alog_entry en =
                t_entry(T_2026_11_30_1200 + h * 3600 + 2 * i, path, 200, "192.0.2.1");
            logdb_encode(&buf, &en);
        }
        cr_assert_eq(logdb_write(da, buf.data, buf.len, T_2026_11_30_1200 + h * 3600), 0);
        buf_free(&buf);
    }
    for (int i = 0; i < 10; i++) {
        struct buf buf = {0};
        char path[32];
        snprintf(path, sizeof(path), "/b%d", 2 * i + 1);
        struct alog_entry en =
            t_entry(T_2026_11_30_1200 + 2 * 3600 + 2 * i + 1, path, 200, "192.0.2.1");
        logdb_encode(&buf, &en);
        cr_assert_eq(logdb_write(db, buf.data, buf.len, T_2026_11_30_1200), 0);
        buf_free(&buf);
    }
    src[0] = (struct logdb_source){"www", "a", a};
    src[1] = (struct logdb_source){"www", "b", b};
    logq_init(&q, T_2026_11_30_1200);
    cr_assert_eq(logq_parse_query(&q, "limit=6", 7, &e), 0);
    r = logdb_search(src, 2, &q);
    {
        static const char *const want[] = {"/b19", "/a58", "/b17", "/a56", "/b15", "/a54"};
        cr_assert_eq(t_count(r), 6);
        for (size_t i = 0; i < 6; i++)
            cr_expect_str_eq(t_path_at(r, i), want[i], "entry %zu", i);
        cr_expect(json_is_true(json_object_get(r, "truncated")));
    }
    json_decref(r);
    logq_init(&q, T_2026_11_30_1200);
    cr_assert_eq(logq_parse_query(&q, "limit=3&order=oldest", 20, &e), 0);
    r = logdb_search(src, 2, &q);
    cr_expect(t_count(r) == 3 && strcmp(t_path_at(r, 0), "/a0") == 0 &&
              strcmp(t_path_at(r, 2), "/a4") == 0);
    json_decref(r);
    logdb_close(da);
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

Test(logdb_search, a_foreign_file_is_skipped_and_named)
{
    char *dir = t_mkdtemp(), path[512];
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 30, T_2026_11_30_1200);
    sqlite3 *s;
    json_t *r;

    t_write_n(db, T_2026_11_30_1200, 2, "p", 200, T_2026_11_30_1200);
    snprintf(path, sizeof(path), "%s/access.sqlite", dir);
    cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(s, "CREATE TABLE t (x); PRAGMA user_version = 9;", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(s);
    r = t_search(dir, "");
    cr_expect_eq(t_count(r), 2);
    cr_expect_eq(json_array_size(json_object_get(r, "skipped_files")), 1);
    json_decref(r);
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}

/* A file with a schema this server does not know is not written into. */
Test(logdb_rows, a_foreign_current_file_is_refused)
{
    char *dir = t_mkdtemp(), path[512];
    struct logdb_config cfg = {
        .dir = dir, .service = "www", .site = "s", .period = ALOG_PERIOD_NONE, .keep = 1};
    const char *err = NULL;
    sqlite3 *s;

    snprintf(path, sizeof(path), "%s/access.sqlite", dir);
    cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(s, "PRAGMA user_version = 9;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    cr_expect_null(logdb_open(&cfg, T_2026_11_30_1200, &err));
    cr_expect(err != NULL && strstr(err, "schema") != NULL, "%s", err ? err : "");
    t_rmtree(dir);
    free(dir);
}

/* A log without traffic creates no files: the next period's opens with its first entry. */
Test(logdb_period, an_idle_log_creates_no_files)
{
    char *dir = t_mkdtemp();
    struct logdb *db = t_open(dir, "s", ALOG_DAILY, 0, 30, T_2026_11_30_1200);
    char *path;

    t_write_n(db, T_2026_11_30_1200, 1, "p", 200, T_2026_11_30_1200);
    for (int d = 1; d <= 3; d++)
        cr_expect_eq(logdb_write(db, NULL, 0, T_2026_11_30_1200 + d * DAY), 0);
    cr_expect_str_eq(t_files(dir), "access-2026-11-30.sqlite");
    cr_expect_null(logdb_path(db), "the finished day's file is closed");
    t_write_n(db, T_2026_11_30_1200 + 3 * DAY, 1, "later", 200, T_2026_11_30_1200 + 3 * DAY);
    cr_expect_str_eq(t_files(dir), "access-2026-11-30.sqlite access-2026-12-03.sqlite");
    path = logdb_path(db);
    cr_expect(path != NULL && strstr(path, "access-2026-12-03.sqlite") != NULL);
    free(path);
    logdb_close(db);
    t_rmtree(dir);
    free(dir);
}
