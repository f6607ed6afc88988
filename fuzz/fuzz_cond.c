/*
 * libFuzzer target for the conditional-request parsers: src/www/cond.c
 * (entity-tag lists, If-Range) and clock_http_parse in src/core/clock.c
 * (the three HTTP-date forms). Input: one byte of flags, 8 bytes of mtime,
 * then six fields separated by '\n': our ETag, If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range. Each field is copied to
 * its own allocation so ASan sees any read past it. Checks, aborting on a
 * violation:
 *   - every parsed date formats back to an IMF-fixdate that parses to the
 *     same time (within the years a 4-digit year can show);
 *   - cond_evaluate answers 0, 304 or 412, and 304 only for GET or HEAD;
 *   - our own well-formed strong ETag always satisfies If-Match, If-Range
 *     and (as 304 for GET) If-None-Match; "*" always satisfies If-Match;
 *   - a date If-Range matches exactly the formatted mtime.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "www/cond.h"
#include "fuzz.h"

#define NFIELDS 6
#define YEAR_9999_END 253402300799LL /* 9999-12-31T23:59:59Z */
#define YEAR_0_START (-62167219200LL) /* 0000-01-01T00:00:00Z */

enum { F_ETAG, F_IF_MATCH, F_IF_NONE_MATCH, F_IMS, F_IUS, F_IF_RANGE };

static bool formattable(time_t t)
{
    return (long long)t >= YEAR_0_START && (long long)t <= YEAR_9999_END;
}

static void check_date_round_trip(const char *s, size_t n)
{
    char text[HTTP_DATE_LEN + 1];
    time_t t, back;

    if (!clock_http_parse(s, n, &t) || !formattable(t))
        return;
    clock_http_format(t, text);
    CHECK(strlen(text) == HTTP_DATE_LEN);
    CHECK(clock_http_parse(text, HTTP_DATE_LEN, &back) && back == t);
}

/* A strong entity-tag as cond_make_etag writes them: quotes around etagc. */
static bool strong_tag(const char *s, size_t n)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80))
            return false;
    }
    return true;
}

static struct http_str field(char *const f[NFIELDS], const size_t n[NFIELDS], int i)
{
    return (struct http_str){f[i], n[i]};
}

static void check_evaluate(char *const f[NFIELDS], const size_t n[NFIELDS], uint8_t flags,
                           time_t mtime)
{
    static const enum http_method methods[] = {HTTP_M_GET, HTTP_M_HEAD, HTTP_M_PUT, HTTP_M_DELETE};
    struct www_req req;
    int r;

    memset(&req, 0, sizeof(req));
    req.method = methods[flags & 3];
    if (flags & 0x04)
        req.if_match = field(f, n, F_IF_MATCH);
    if (flags & 0x08)
        req.if_none_match = field(f, n, F_IF_NONE_MATCH);
    if (flags & 0x10)
        req.if_modified_since = field(f, n, F_IMS);
    if (flags & 0x20)
        req.if_unmodified_since = field(f, n, F_IUS);
    r = cond_evaluate(&req, f[F_ETAG], n[F_ETAG], mtime);
    CHECK(r == 0 || r == 304 || r == 412);
    if (r == 304)
        CHECK(req.method == HTTP_M_GET || req.method == HTTP_M_HEAD);
}

static void check_own_tag(const char *etag, size_t len, uint8_t flags, time_t mtime)
{
    struct www_req req;
    struct http_str own = {etag, len};

    if (!strong_tag(etag, len))
        return;
    memset(&req, 0, sizeof(req));
    req.method = HTTP_M_GET;
    req.if_match = own;
    CHECK(cond_evaluate(&req, etag, len, mtime) == 0);
    req.if_match = (struct http_str){"*", 1};
    CHECK(cond_evaluate(&req, etag, len, mtime) == 0);
    req.if_match = (struct http_str){NULL, 0};
    req.if_none_match = own;
    CHECK(cond_evaluate(&req, etag, len, mtime) == 304);
    req.method = (flags & 1) ? HTTP_M_PUT : HTTP_M_DELETE;
    CHECK(cond_evaluate(&req, etag, len, mtime) == 412);
    CHECK(cond_if_range(own, etag, len, mtime));
}

static void check_if_range_date(const char *etag, size_t len, time_t mtime)
{
    char text[HTTP_DATE_LEN + 1];

    if (!formattable(mtime) || mtime == (time_t)-1)
        return;
    clock_http_format(mtime, text);
    CHECK(cond_if_range((struct http_str){text, HTTP_DATE_LEN}, etag, len, mtime));
    CHECK(!cond_if_range((struct http_str){text, HTTP_DATE_LEN}, etag, len, mtime + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[NFIELDS];
    size_t n[NFIELDS];
    const char *p, *end, *nl;
    int64_t m = 0;
    uint8_t flags;
    time_t mtime;

    if (size < 9)
        return 0;
    flags = data[0];
    memcpy(&m, data + 1, 8);
    /* Keep the mtime where time_t arithmetic in the checks cannot overflow. */
    mtime = (time_t)(m % (YEAR_9999_END * 2));
    p = (const char *)data + 9;
    end = (const char *)data + size;
    for (int i = 0; i < NFIELDS; i++) {
        nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        n[i] = nl ? (size_t)(nl - p) : (size_t)(end - p);
        f[i] = malloc(n[i] ? n[i] : 1);
        if (n[i])
            memcpy(f[i], p, n[i]);
        p = nl ? nl + 1 : end;
    }
    for (int i = F_IMS; i <= F_IF_RANGE; i++)
        check_date_round_trip(f[i], n[i]);
    check_evaluate(f, n, flags, mtime);
    (void)cond_if_range(field(f, n, F_IF_RANGE), f[F_ETAG], n[F_ETAG], mtime);
    check_own_tag(f[F_ETAG], n[F_ETAG], flags, mtime);
    check_if_range_date(f[F_ETAG], n[F_ETAG], mtime);
    for (int i = 0; i < NFIELDS; i++)
        free(f[i]);
    return 0;
}
