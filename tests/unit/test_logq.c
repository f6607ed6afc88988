/*
 * Unit tests for logq: the times, statuses and other filters of an access
 * log query, the query string they come in, and the SQL built from them.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/logq.h"

#define T_2026_11_30 ((int64_t)1795996800)
#define T_2026_11_30_1200 ((int64_t)1796040000)
#define T_2026_11_01 ((int64_t)1793491200)
#define T_2026_12_01 ((int64_t)1796083200)
#define T_2027_01_01 ((int64_t)1798761600)
#define T_2028_02_29 ((int64_t)1835395200)
#define DAY 86400
/* "now" of the tests: 2026-11-30T12:00:00Z */
#define NOW ((time_t)T_2026_11_30_1200)

static void expect_time(const char *s, int64_t start, int64_t end)
{
    int64_t a = 0, b = 0;
    const char *why = NULL;

    cr_assert_eq(logq_parse_time(s, NOW, &a, &b, &why), 0, "\"%s\" refused: %s", s, why);
    cr_expect_eq(a, start, "\"%s\" starts at %lld, not %lld", s, (long long)a, (long long)start);
    cr_expect_eq(b, end, "\"%s\" ends at %lld, not %lld", s, (long long)b, (long long)end);
}

static void expect_bad_time(const char *s)
{
    int64_t a, b;
    const char *why = NULL;

    cr_expect_eq(logq_parse_time(s, NOW, &a, &b, &why), -1, "\"%s\" accepted", s);
    cr_expect_not_null(why);
}

/* ---- times ---- */

Test(logq_time, iso_dates_name_their_whole_day_or_month)
{
    expect_time("2026-11-30", T_2026_11_30, T_2026_11_30 + DAY);
    expect_time("2028-02-29", T_2028_02_29, T_2028_02_29 + DAY);
    expect_time("2026-11", T_2026_11_01, T_2026_12_01);
    expect_time("2026-12", T_2026_12_01, T_2027_01_01);
}

Test(logq_time, iso_times_name_their_hour_minute_or_second)
{
    expect_time("2026-11-30T12", T_2026_11_30_1200, T_2026_11_30_1200 + 3600);
    expect_time("2026-11-30T12:00", T_2026_11_30_1200, T_2026_11_30_1200 + 60);
    expect_time("2026-11-30T12:00:00", T_2026_11_30_1200, T_2026_11_30_1200 + 1);
    expect_time("2026-11-30T12:00:00Z", T_2026_11_30_1200, T_2026_11_30_1200 + 1);
    expect_time("2026-11-30 12:00:05z", T_2026_11_30_1200 + 5, T_2026_11_30_1200 + 6);
    expect_time("2026-11-30t00:00:00Z", T_2026_11_30, T_2026_11_30 + 1);
}

Test(logq_time, zone_offsets_move_to_utc)
{
    expect_time("2026-11-30T14:00:00+02:00", T_2026_11_30_1200, T_2026_11_30_1200 + 1);
    expect_time("2026-11-30T14:00:00+0200", T_2026_11_30_1200, T_2026_11_30_1200 + 1);
    expect_time("2026-11-30T14:00+02", T_2026_11_30_1200, T_2026_11_30_1200 + 60);
    expect_time("2026-11-30T06:30:00-05:30", T_2026_11_30_1200, T_2026_11_30_1200 + 1);
    /* across midnight backwards */
    expect_time("2026-11-30T01:00:00+02:00", T_2026_11_30 - 3600, T_2026_11_30 - 3600 + 1);
}

Test(logq_time, words_and_relative_times)
{
    expect_time("now", NOW, NOW + 1);
    expect_time("today", T_2026_11_30, T_2026_11_30 + DAY);
    expect_time("yesterday", T_2026_11_30 - DAY, T_2026_11_30);
    expect_time("-1d", NOW - DAY, NOW - DAY + 1);
    expect_time("-30s", NOW - 30, NOW - 29);
    expect_time("-15m", NOW - 900, NOW - 899);
    expect_time("-2h", NOW - 7200, NOW - 7199);
    expect_time("-2w", NOW - 14 * DAY, NOW - 14 * DAY + 1);
    expect_time("-0s", NOW, NOW + 1);
    expect_time("@1700000000", 1700000000, 1700000001);
    expect_time("@0", 0, 1);
}

Test(logq_time, malformed_times_are_refused)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-1-30",
        "2026-11-3",
        "26-11-30",
        "2026-13-01",
        "2026-00-10",
        "2026-11-31",
        "2026-02-29",
        "2026-11-00",
        "1969-12-31",
        "2026-11-30T24:00",
        "2026-11-30T12:60",
        "2026-11-30T12:00:60",
        "2026-11-30T1",
        "2026-11-30T12:0",
        "2026-11-30Z",
        "2026-11-30T12:00:00Zx",
        "2026-11-30T12:00:00+24:00",
        "2026-11-30T12:00:00+02:60",
        "2026-11-30T12:00:00+2",
        "2026-11-30T12:00:00.5Z",
        "2026-11-30X12",
        "2026/11/30",
        "-1y",
        "-d",
        "-",
        "--1d",
        "-1.5h",
        "1d",
        "+1d",
        "-1234567890123d",
        "@",
        "@-5",
        "@12x",
        "Today",
        "tomorrow",
        " today",
        "now ",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad_time(bad[i]);
}

/* ---- statuses ---- */

static void expect_status(const char *s, int lo, int hi)
{
    int a = 0, b = 0;
    const char *why;

    cr_assert_eq(logq_parse_status(s, &a, &b, &why), 0, "\"%s\" refused", s);
    cr_expect(a == lo && b == hi, "\"%s\": [%d, %d], not [%d, %d]", s, a, b, lo, hi);
}

Test(logq_status, codes_classes_and_ranges)
{
    const char *const bad[] = {"",     "4",       "40",     "4044", "600",  "099",     "000",
                               "4x",   "x04",     "6xx",    "0xx",  "4xX0", "499-400", "400-",
                               "-499", "400-600", "40-499", " 404", "404 "};
    int a, b;
    const char *why;

    expect_status("404", 404, 404);
    expect_status("100", 100, 100);
    expect_status("599", 599, 599);
    expect_status("4xx", 400, 499);
    expect_status("5XX", 500, 599);
    expect_status("1xx", 100, 199);
    expect_status("400-499", 400, 499);
    expect_status("404-404", 404, 404);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(logq_parse_status(bad[i], &a, &b, &why), -1, "\"%s\" accepted", bad[i]);
}

/* ---- the query string ---- */

static int parse(struct logq *q, const char *raw, struct logq_error *e)
{
    logq_init(q, NOW);
    memset(e, 0, sizeof(*e));
    return logq_parse_query(q, raw, strlen(raw), e);
}

Test(logq_query, defaults)
{
    struct logq q;
    struct logq_error e;

    cr_assert_eq(parse(&q, "", &e), 0);
    cr_expect_eq(q.limit, LOGQ_LIMIT_DEFAULT);
    cr_expect_eq(q.since, LOGQ_TIME_MIN);
    cr_expect_eq(q.until, LOGQ_TIME_MAX);
    cr_expect(!q.oldest_first);
    cr_expect_eq(q.status_min, 0);
    cr_expect_eq(q.path_len, 0);
    cr_expect_str_empty(q.client);
    cr_expect_str_empty(q.service);
}

Test(logq_query, every_parameter)
{
    struct logq q;
    struct logq_error e;

    cr_assert_eq(parse(&q,
                       "service=www&site=shop.example&status=4xx&client=192.0.2.7&path=%2Fdocs%2F"
                       "&since=yesterday&until=today&limit=10000&order=oldest",
                       &e),
                 0, "%s", e.message);
    cr_expect_str_eq(q.service, "www");
    cr_expect_str_eq(q.site, "shop.example");
    cr_expect(q.status_min == 400 && q.status_max == 499);
    cr_expect_str_eq(q.client, "192.0.2.7");
    cr_expect_str_eq(q.path, "/docs/");
    cr_expect_eq(q.path_len, 6);
    cr_expect_eq(q.since, T_2026_11_30 - DAY);
    cr_expect_eq(q.until, T_2026_11_30 + DAY, "until today: to the end of today");
    cr_expect_eq(q.limit, 10000);
    cr_expect(q.oldest_first);
}

Test(logq_query, decoding)
{
    struct logq q;
    struct logq_error e;

    cr_assert_eq(parse(&q, "path=/a+b%20c%2b&&since=2026-11-30T12%3A00%3A00Z&", &e), 0, "%s",
                 e.message);
    cr_expect_str_eq(q.path, "/a b c+");
    cr_expect_eq(q.since, T_2026_11_30_1200);
    cr_assert_eq(parse(&q, "client=0%3A0%3A%3A1", &e), 0, "%s", e.message);
    cr_expect_str_eq(q.client, "::1", "addresses are kept in the form the log has");
    cr_assert_eq(parse(&q, "client=2001:DB8:0:0::7", &e), 0, "%s", e.message);
    cr_expect_str_eq(q.client, "2001:db8::7");
}

static void expect_bad(const char *raw, const char *param, const char *words)
{
    struct logq q;
    struct logq_error e;

    cr_assert_eq(parse(&q, raw, &e), -1, "\"%s\" accepted", raw);
    cr_expect_str_eq(e.param, param, "\"%s\": parameter \"%s\", not \"%s\"", raw, e.param, param);
    cr_expect(strstr(e.message, words) != NULL, "\"%s\": \"%s\" lacks \"%s\"", raw, e.message,
              words);
}

Test(logq_query, bad_parameters_are_named)
{
    expect_bad("status=4x", "status", "4xx");
    expect_bad("status=4x", "status", "not \"4x\"");
    expect_bad("since=2026-13-01", "since", "ISO 8601");
    expect_bad("until=soon", "until", "not \"soon\"");
    expect_bad("since=today&until=yesterday", "until", "later than since");
    expect_bad("since=today&until=today&since=now", "since", "twice");
    expect_bad("limit=0", "limit", "1 to 10000");
    expect_bad("limit=10001", "limit", "1 to 10000");
    expect_bad("limit=-5", "limit", "1 to 10000");
    expect_bad("limit=5x", "limit", "1 to 10000");
    expect_bad("limit", "limit", "needs a value");
    expect_bad("order=random", "order", "newest or oldest");
    expect_bad("client=example.com", "client", "IPv4 or IPv6");
    expect_bad("client=10.0.0.0%2F8", "client", "IPv4 or IPv6");
    expect_bad("path=", "path", "1 to 1024");
    expect_bad("path=%2", "path", "percent-encoding");
    expect_bad("path=%zz", "path", "percent-encoding");
    expect_bad("path=a%00b", "path", "percent-encoding");
    expect_bad("service=w%20w", "service", "name");
    expect_bad("site=", "site", "name");
    expect_bad("colour=red", "colour", "unknown parameter");
    expect_bad("=red", "", "malformed");
    expect_bad("%ff%fe=1", "??", "unknown parameter");
}

Test(logq_query, bounds)
{
    char raw[LOGQ_QUERY_MAX + 16], path[LOGQ_PATH_MAX + 2];
    struct logq q;
    struct logq_error e;

    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[LOGQ_PATH_MAX] = '\0';
    snprintf(raw, sizeof(raw), "path=%s", path);
    cr_expect_eq(parse(&q, raw, &e), 0, "a prefix of %d bytes: %s", LOGQ_PATH_MAX, e.message);
    path[LOGQ_PATH_MAX] = 'a';
    path[LOGQ_PATH_MAX + 1] = '\0';
    snprintf(raw, sizeof(raw), "path=%s", path);
    expect_bad(raw, "path", "1 to 1024");
    memset(raw, 'a', sizeof(raw));
    memcpy(raw, "path=/", 6);
    raw[LOGQ_QUERY_MAX + 1] = '\0';
    expect_bad(raw, "", "longer than 4096");
}

/* ---- SQL ---- */

Test(logq_sql, open_filters_bind_only_the_limit)
{
    struct logq q;
    struct logq_bind b[LOGQ_BINDS_MAX];
    struct buf sql = {0};
    size_t n;

    logq_init(&q, NOW);
    n = logq_sql(&q, &sql, b);
    cr_expect_str_eq(sql.data, "SELECT " LOGQ_COLUMNS
                               " FROM access WHERE 1 ORDER BY time DESC, id DESC LIMIT ?");
    cr_assert_eq(n, 1);
    cr_expect(!b[0].text && b[0].i == LOGQ_LIMIT_DEFAULT + 1, "one more than the limit");
    buf_free(&sql);
}

Test(logq_sql, every_filter_in_order)
{
    struct logq q;
    struct logq_error e;
    struct logq_bind b[LOGQ_BINDS_MAX];
    struct buf sql = {0};
    size_t n;

    cr_assert_eq(parse(&q,
                       "status=404&client=::1&path=/a&since=2026-11-30&until=2026-11-30"
                       "&limit=7&order=oldest",
                       &e),
                 0, "%s", e.message);
    n = logq_sql(&q, &sql, b);
    cr_expect_str_eq(sql.data,
                     "SELECT " LOGQ_COLUMNS " FROM access WHERE 1 AND time >= ? AND time < ?"
                     " AND status BETWEEN ? AND ? AND client = ? AND path >= ?"
                     " AND path < ? ORDER BY time ASC, id ASC LIMIT ?");
    cr_assert_eq(n, 8);
    cr_expect(!b[0].text && b[0].i == T_2026_11_30);
    cr_expect(!b[1].text && b[1].i == T_2026_11_30 + DAY);
    cr_expect(!b[2].text && b[2].i == 404 && !b[3].text && b[3].i == 404);
    cr_expect(b[4].text && b[4].n == 3 && memcmp(b[4].s, "::1", 3) == 0);
    cr_expect(b[5].text && b[5].n == 2 && memcmp(b[5].s, "/a", 2) == 0);
    cr_expect(b[6].text && b[6].n == 2 && memcmp(b[6].s, "/b", 2) == 0,
              "the least string after every one starting with /a");
    cr_expect(!b[7].text && b[7].i == 8);
    buf_free(&sql);
}

Test(logq_sql, prefix_end_past_0xff_bytes)
{
    struct logq q;
    struct logq_error e;
    struct logq_bind b[LOGQ_BINDS_MAX];
    struct buf sql = {0};
    size_t n;

    cr_assert_eq(parse(&q, "path=a%ff%ff", &e), 0, "%s", e.message);
    cr_expect_eq(q.path_end_len, 1);
    cr_expect_eq(q.path_end[0], 'b');
    cr_assert_eq(parse(&q, "path=%ff", &e), 0, "%s", e.message);
    cr_expect_eq(q.path_end_len, 0, "no string is above every one starting with 0xff");
    n = logq_sql(&q, &sql, b);
    cr_expect(strstr(sql.data, "path >= ?") != NULL && strstr(sql.data, "path < ?") == NULL);
    cr_expect_eq(n, 2);
    buf_free(&sql);
}
