/*
 * logq: access-log query filters. Times are UTC throughout, as the log is;
 * every time names an interval of its own precision (a day, a minute, a
 * second), so that "--since yesterday --until yesterday" is all of yesterday.
 */
#include "runtime/logq.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DAY 86400

/* ---- time ---- */

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil): no timegm, no locale, no TZ. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : n[m - 1];
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly N digits at *P into *OUT, advancing *P. */
static bool fixed_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* The fields of an ISO 8601 time as far as it goes; PREC is the length of
 * the interval it names, 0 for a month. */
struct logq_tm {
    int year, mon, day, hour, min, sec;
    int64_t prec;
    int64_t offset; /* seconds east of UTC */
};

/* "Z", "+HH:MM", "+HHMM", "+HH" or nothing; the rest of the string must be it. */
static bool parse_zone(const char *p, struct logq_tm *tm)
{
    int h, m = 0, sign;

    if (*p == '\0')
        return true;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    if (*p != '+' && *p != '-')
        return false;
    sign = *p++ == '-' ? -1 : 1;
    if (!fixed_digits(&p, 2, &h) || h > 23)
        return false;
    if (*p == ':')
        p++;
    if (*p != '\0' && (!fixed_digits(&p, 2, &m) || m > 59))
        return false;
    tm->offset = sign * (h * 3600 + m * 60);
    return *p == '\0';
}

/* HH[:MM[:SS]] and the zone, after the date's 'T' or space. */
static bool parse_clock(const char *p, struct logq_tm *tm)
{
    if (!fixed_digits(&p, 2, &tm->hour) || tm->hour > 23)
        return false;
    tm->prec = 3600;
    if (*p == ':') {
        p++;
        if (!fixed_digits(&p, 2, &tm->min) || tm->min > 59)
            return false;
        tm->prec = 60;
        if (*p == ':') {
            p++;
            if (!fixed_digits(&p, 2, &tm->sec) || tm->sec > 59)
                return false;
            tm->prec = 1;
        }
    }
    return parse_zone(p, tm);
}

static bool parse_iso_fields(const char *p, struct logq_tm *tm)
{
    memset(tm, 0, sizeof(*tm));
    if (!fixed_digits(&p, 4, &tm->year) || tm->year < 1970 || *p++ != '-' ||
        !fixed_digits(&p, 2, &tm->mon) || tm->mon < 1 || tm->mon > 12)
        return false;
    tm->day = 1;
    if (*p == '\0')
        return true; /* a month: prec 0 */
    if (*p++ != '-' || !fixed_digits(&p, 2, &tm->day) || tm->day < 1 ||
        (unsigned)tm->day > days_in_month(tm->year, (unsigned)tm->mon))
        return false;
    tm->prec = DAY;
    if (*p == '\0')
        return true;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    return parse_clock(p + 1, tm);
}

static int parse_iso(const char *s, int64_t *start, int64_t *end)
{
    struct logq_tm tm;
    int64_t t;

    if (!parse_iso_fields(s, &tm))
        return -1;
    t = days_from_civil(tm.year, (unsigned)tm.mon, (unsigned)tm.day) * DAY + tm.hour * 3600 +
        tm.min * 60 + tm.sec - tm.offset;
    *start = t;
    if (tm.prec != 0)
        *end = t + tm.prec;
    else if (tm.mon == 12)
        *end = days_from_civil(tm.year + 1, 1, 1) * DAY;
    else
        *end = days_from_civil(tm.year, (unsigned)tm.mon + 1, 1) * DAY;
    return 0;
}

/* At most 12 digits (and nothing else) into *OUT. */
static bool parse_count(const char *p, const char *end, int64_t *out)
{
    int64_t v = 0;

    if (p == end || end - p > 12)
        return false;
    for (; p < end; p++) {
        if (!is_digit(*p))
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* "-N" and a unit: s, m, h, d or w. */
static int parse_relative(const char *s, time_t now, int64_t *start, int64_t *end)
{
    static const char units[] = "smhdw";
    static const int64_t secs[] = {1, 60, 3600, DAY, 7 * DAY};
    size_t n = strlen(s);
    const char *u;
    int64_t count;

    if (n < 3 || (u = strchr(units, s[n - 1])) == NULL || !parse_count(s + 1, s + n - 1, &count))
        return -1;
    *start = (int64_t)now - count * secs[u - units];
    *end = *start + 1;
    return 0;
}

int logq_parse_time(const char *s, time_t now, int64_t *start, int64_t *end, const char **why)
{
    int64_t today = ((int64_t)now >= 0 ? (int64_t)now : (int64_t)now - DAY + 1) / DAY * DAY;
    int64_t epoch;

    *why = "a time is an ISO 8601 date or time (2026-11-30, 2026-11-30T12:00:00Z), "
           "today, yesterday, now, -Nu with u one of s, m, h, d, w (-1d), or @EPOCH";
    if (strcmp(s, "now") == 0)
        *start = (int64_t)now, *end = (int64_t)now + 1;
    else if (strcmp(s, "today") == 0)
        *start = today, *end = today + DAY;
    else if (strcmp(s, "yesterday") == 0)
        *start = today - DAY, *end = today;
    else if (s[0] == '@' && parse_count(s + 1, s + strlen(s), &epoch))
        *start = epoch, *end = epoch + 1;
    else if (s[0] == '-')
        return parse_relative(s, now, start, end);
    else
        return parse_iso(s, start, end);
    return 0;
}

/* ---- status ---- */

/* A three-digit status 100..599 at S[0..3). */
static bool status_code(const char *s, int *out)
{
    const char *p = s;

    return fixed_digits(&p, 3, out) && *out >= 100 && *out <= 599;
}

int logq_parse_status(const char *s, int *min, int *max, const char **why)
{
    *why = "a status is a code (404), a class (4xx) or a range (400-499) within 100-599";
    if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
        (s[2] == 'x' || s[2] == 'X')) {
        *min = (s[0] - '0') * 100;
        *max = *min + 99;
        return 0;
    }
    if (strlen(s) == 3 && status_code(s, min)) {
        *max = *min;
        return 0;
    }
    if (strlen(s) == 7 && s[3] == '-' && status_code(s, min) && status_code(s + 4, max) &&
        *min <= *max)
        return 0;
    return -1;
}

/* ---- parameters ---- */

static int set_name(char *dst, const char *v, const char **why)
{
    size_t n = strlen(v);

    *why = "a name of 1 to 127 letters, digits, '-', '_' or '.'";
    if (n == 0 || n >= LOGQ_NAME_MAX ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                  "TUVWXYZ0123456789-_.") != n)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

static int set_service(struct logq *q, const char *v, const char **why)
{
    return set_name(q->service, v, why);
}

static int set_site(struct logq *q, const char *v, const char **why)
{
    return set_name(q->site, v, why);
}

static int set_status(struct logq *q, const char *v, const char **why)
{
    return logq_parse_status(v, &q->status_min, &q->status_max, why);
}

/* An IPv4 or IPv6 address, kept in the text form the log records (inet_ntop's). */
static int set_client(struct logq *q, const char *v, const char **why)
{
    unsigned char a[16];
    int af = strchr(v, ':') ? AF_INET6 : AF_INET;

    *why = "a client is an IPv4 or IPv6 address (192.0.2.7, 2001:db8::7)";
    if (inet_pton(af, v, a) != 1 || inet_ntop(af, a, q->client, sizeof(q->client)) == NULL)
        return -1;
    return 0;
}

/* The least string above every string starting with the prefix: the prefix
 * without its trailing 0xff bytes, its last byte incremented. */
static void path_end(struct logq *q)
{
    size_t n = q->path_len;

    while (n > 0 && (unsigned char)q->path[n - 1] == 0xff)
        n--;
    memcpy(q->path_end, q->path, n);
    if (n > 0)
        q->path_end[n - 1] = (char)((unsigned char)q->path_end[n - 1] + 1);
    q->path_end[n] = '\0';
    q->path_end_len = n;
}

static int set_path(struct logq *q, const char *v, const char **why)
{
    size_t n = strlen(v);

    *why = "a path prefix of 1 to 1024 bytes";
    if (n == 0 || n > LOGQ_PATH_MAX)
        return -1;
    memcpy(q->path, v, n + 1);
    q->path_len = n;
    path_end(q);
    return 0;
}

static int set_since(struct logq *q, const char *v, const char **why)
{
    int64_t end;

    return logq_parse_time(v, q->now, &q->since, &end, why);
}

static int set_until(struct logq *q, const char *v, const char **why)
{
    int64_t start;

    return logq_parse_time(v, q->now, &start, &q->until, why);
}

static int set_limit(struct logq *q, const char *v, const char **why)
{
    int64_t n;

    *why = "a limit is a whole number from 1 to 10000";
    if (!parse_count(v, v + strlen(v), &n) || n < 1 || n > LOGQ_LIMIT_MAX)
        return -1;
    q->limit = (unsigned)n;
    return 0;
}

static int set_order(struct logq *q, const char *v, const char **why)
{
    *why = "the order is newest or oldest";
    if (strcmp(v, "newest") != 0 && strcmp(v, "oldest") != 0)
        return -1;
    q->oldest_first = v[0] == 'o';
    return 0;
}

static const struct logq_param {
    const char *name;
    int (*set)(struct logq *q, const char *v, const char **why);
} params[] = {
    {"service", set_service}, {"site", set_site},   {"status", set_status},
    {"client", set_client},   {"path", set_path},   {"since", set_since},
    {"until", set_until},     {"limit", set_limit}, {"order", set_order},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static int fail(struct logq_error *err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct logq_error *err, const char *param, const char *fmt, ...)
{
    va_list ap;

    snprintf(err->param, sizeof(err->param), "%s", param);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* V for a message: at most 40 printable ASCII bytes, others as '?'. */
static const char *echo(const char *v, char *out, size_t cap)
{
    size_t i = 0;

    for (; v[i] != '\0' && i + 1 < cap && i < 40; i++)
        out[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
    out[i] = '\0';
    return out;
}

void logq_init(struct logq *q, time_t now)
{
    memset(q, 0, sizeof(*q));
    q->since = LOGQ_TIME_MIN;
    q->until = LOGQ_TIME_MAX;
    q->limit = LOGQ_LIMIT_DEFAULT;
    q->now = now;
}

int logq_set(struct logq *q, const char *name, const char *value, struct logq_error *err)
{
    const char *why = NULL;
    char shown[48];

    for (size_t i = 0; i < NPARAMS; i++) {
        if (strcmp(name, params[i].name) != 0)
            continue;
        if (q->seen & (1u << i))
            return fail(err, name, "%s is given twice", name);
        q->seen |= 1u << i;
        if (params[i].set(q, value, &why) == 0)
            return 0;
        return fail(err, name, "%s: %s, not \"%s\"", name, why, echo(value, shown, sizeof(shown)));
    }
    echo(name, shown, sizeof(shown));
    return fail(err, shown,
                "unknown parameter \"%s\" (known: service, site, status, client, "
                "path, since, until, limit, order)",
                shown);
}

/* ---- the query string ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode S[0..N) into OUT (at least N + 1 bytes): %XX and '+'; -1 on a bad
 * escape or a NUL byte. */
static int pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] != '%') {
            out[o++] = s[i];
        } else if (i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 &&
                   (lo = hex_value(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            return -1;
        }
        if (out[o - 1] == '\0')
            return -1;
    }
    out[o] = '\0';
    return 0;
}

/* One "name=value" of the query string. */
static int parse_pair(struct logq *q, const char *p, size_t n, char *scratch,
                      struct logq_error *err)
{
    const char *eq = memchr(p, '=', n);
    size_t nl = eq ? (size_t)(eq - p) : n;
    char name[24];

    if (nl == 0 || nl >= sizeof(name) || pct_decode(p, nl, name) == -1)
        return fail(err, "", "a malformed query parameter name");
    if (eq == NULL)
        return fail(err, name, "%s needs a value (%s=...)", name, name);
    if (pct_decode(eq + 1, n - nl - 1, scratch) == -1)
        return fail(err, name, "%s: a bad percent-encoding (or %%00)", name);
    return logq_set(q, name, scratch, err);
}

static int check_whole(const struct logq *q, struct logq_error *err)
{
    if (q->since >= q->until)
        return fail(err, "until", "until must be later than since");
    return 0;
}

int logq_parse_query(struct logq *q, const char *raw, size_t len, struct logq_error *err)
{
    char scratch[LOGQ_QUERY_MAX + 1];
    const char *p = raw, *end = raw + len;

    if (len > LOGQ_QUERY_MAX)
        return fail(err, "", "the query string is longer than %d bytes", LOGQ_QUERY_MAX);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (n > 0 && parse_pair(q, p, n, scratch, err) == -1)
            return -1;
        p += n + (amp != NULL);
    }
    return check_whole(q, err);
}

/* ---- SQL ---- */

static size_t bind_int(struct logq_bind *b, size_t n, int64_t v)
{
    b[n] = (struct logq_bind){.text = false, .i = v};
    return n + 1;
}

static size_t bind_text(struct logq_bind *b, size_t n, const char *s, size_t len)
{
    b[n] = (struct logq_bind){.text = true, .s = s, .n = len};
    return n + 1;
}

size_t logq_sql(const struct logq *q, struct buf *sql, struct logq_bind *binds)
{
    size_t n = 0;

    buf_puts(sql, "SELECT " LOGQ_COLUMNS " FROM access WHERE 1");
    if (q->since != LOGQ_TIME_MIN) {
        buf_puts(sql, " AND time >= ?");
        n = bind_int(binds, n, q->since);
    }
    if (q->until != LOGQ_TIME_MAX) {
        buf_puts(sql, " AND time < ?");
        n = bind_int(binds, n, q->until);
    }
    if (q->status_min != 0) {
        buf_puts(sql, " AND status BETWEEN ? AND ?");
        n = bind_int(binds, n, q->status_min);
        n = bind_int(binds, n, q->status_max);
    }
    if (q->client[0] != '\0') {
        buf_puts(sql, " AND client = ?");
        n = bind_text(binds, n, q->client, strlen(q->client));
    }
    if (q->path_len != 0) {
        buf_puts(sql, " AND path >= ?");
        n = bind_text(binds, n, q->path, q->path_len);
        if (q->path_end_len != 0) {
            buf_puts(sql, " AND path < ?");
            n = bind_text(binds, n, q->path_end, q->path_end_len);
        }
    }
    buf_puts(sql, q->oldest_first ? " ORDER BY time ASC, id ASC LIMIT ?"
                                  : " ORDER BY time DESC, id DESC LIMIT ?");
    n = bind_int(binds, n, (int64_t)q->limit + 1);
    buf_append(sql, "", 1);
    sql->len--; /* NUL-terminated, the NUL not counted */
    return n;
}
