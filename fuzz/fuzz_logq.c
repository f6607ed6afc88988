/*
 * libFuzzer target for src/runtime/logq.c, the filters of GET /api/v1/log.
 * Input: one byte choosing the parser, then its text. 0: a whole query
 * string; 1: a time; 2: a status. Each text is copied to its own exact-size
 * allocation so ASan sees any read past it. Checks, aborting on a violation:
 *   - an accepted query is within bounds (limit 1..10000, since < until,
 *     statuses within 100-599 and ordered, a path of 1..1024 bytes with the
 *     end of its prefix range above it, a client that parses as an address)
 *     and its SQL prepares against a table of LOGQ_COLUMNS with every value
 *     bound; a refused one names a sentence;
 *   - an accepted time is a non-empty interval, and a full "...THH:MM:SSZ"
 *     formats back to itself;
 *   - an accepted status range is ordered within 100-599.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "runtime/logq.h"
#include "fuzz.h"

#define NOW ((time_t)1796040000) /* 2026-11-30T12:00:00Z */

static sqlite3 *fuzz_db(void)
{
    static sqlite3 *db;

    if (db == NULL) {
        CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "CREATE TABLE access (" LOGQ_COLUMNS ")", NULL, NULL, NULL) ==
              SQLITE_OK);
    }
    return db;
}

static void check_sql(const struct logq *q)
{
    struct logq_bind b[LOGQ_BINDS_MAX + 1];
    struct buf sql = {0};
    sqlite3_stmt *st = NULL;
    size_t n;

    memset(b, 0x5a, sizeof(b));
    n = logq_sql(q, &sql, b);
    CHECK(n >= 1 && n <= LOGQ_BINDS_MAX);
    CHECK(sqlite3_prepare_v2(fuzz_db(), sql.data, -1, &st, NULL) == SQLITE_OK);
    CHECK((size_t)sqlite3_bind_parameter_count(st) == n);
    for (size_t i = 0; i < n; i++) {
        if (b[i].text)
            CHECK(sqlite3_bind_text(st, (int)i + 1, b[i].s, (int)b[i].n, SQLITE_STATIC) ==
                  SQLITE_OK);
        else
            CHECK(sqlite3_bind_int64(st, (int)i + 1, b[i].i) == SQLITE_OK);
    }
    CHECK(sqlite3_step(st) == SQLITE_DONE); /* the table is empty */
    sqlite3_finalize(st);
    buf_free(&sql);
}

static void check_query(const struct logq *q)
{
    unsigned char a[16];

    CHECK(q->limit >= 1 && q->limit <= LOGQ_LIMIT_MAX);
    CHECK(q->since < q->until);
    CHECK((q->status_min == 0 && q->status_max == 0) ||
          (q->status_min >= 100 && q->status_min <= q->status_max && q->status_max <= 599));
    CHECK(q->path_len <= LOGQ_PATH_MAX && q->path_len == strlen(q->path));
    CHECK(q->path_end_len <= q->path_len);
    if (q->path_len > 0 && q->path_end_len > 0)
        CHECK(memcmp(q->path_end, q->path, q->path_end_len) > 0);
    if (q->client[0] != '\0')
        CHECK(inet_pton(strchr(q->client, ':') ? AF_INET6 : AF_INET, q->client, a) == 1);
    check_sql(q);
}

static void fuzz_query(const char *s, size_t n)
{
    struct logq q;
    struct logq_error e;

    logq_init(&q, NOW);
    memset(&e, 0, sizeof(e));
    if (logq_parse_query(&q, s, n, &e) == 0)
        check_query(&q);
    else
        CHECK(e.message[0] != '\0');
}

static void fuzz_time(const char *s, size_t n)
{
    char back[CLOCK_ISO_LEN + 1];
    int64_t a, b;
    const char *why = NULL;

    if (logq_parse_time(s, NOW, &a, &b, &why) != 0) {
        CHECK(why != NULL);
        return;
    }
    CHECK(a < b);
    if (n == CLOCK_ISO_LEN && (s[10] == 'T') && s[19] == 'Z') {
        CHECK(b == a + 1);
        CHECK(clock_iso_format((time_t)a, back, sizeof(back)));
        CHECK(memcmp(back, s, CLOCK_ISO_LEN) == 0);
    }
}

static void fuzz_status(const char *s)
{
    int lo, hi;
    const char *why;

    if (logq_parse_status(s, &lo, &hi, &why) == 0)
        CHECK(lo >= 100 && lo <= hi && hi <= 599);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    s = malloc(n + 1);
    memcpy(s, data + 1, n);
    s[n] = '\0';
    if (data[0] % 3 == 0) {
        fuzz_query(s, n);
    } else if (memchr(s, '\0', n) == NULL) { /* the others take C strings */
        if (data[0] % 3 == 1)
            fuzz_time(s, n);
        else
            fuzz_status(s);
    }
    free(s);
    return 0;
}
