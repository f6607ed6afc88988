/* Unit tests for src/www/http1.c: request heads (valid, malformed, limits)
 * and the chunked decoder (whole, byte by byte, malformed, 413). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "www/http1.h"

static const struct http1_limits lim_default = {
    .max_head = 8192,
    .max_target = 4096,
    .max_headers = 100,
};

static struct http1_req req;

struct parse_out {
    enum http1_result r;
    size_t consumed;
    int status;
    const char *reason;
};

static struct parse_out parse_n(const char *s, size_t n, const struct http1_limits *lim)
{
    struct parse_out o = {.status = -1, .reason = NULL};

    o.r = http1_parse_request(s, n, lim, &req, &o.consumed, &o.status, &o.reason);
    return o;
}

static struct parse_out parse(const char *s)
{
    return parse_n(s, strlen(s), &lim_default);
}

static bool str_is(struct http_str s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

#define cr_assert_str_is(s, lit)                                                                   \
    cr_assert(str_is((s), (lit)), "expected \"%s\", got \"%.*s\"", (lit), (int)(s).n,              \
              (s).p ? (s).p : "")

/* ---- malformed heads ---- */

struct bad_case {
    const char *in;
    size_t len;
    int status;
};

/* clang-format off */
#define BAD(s, st) {(s), sizeof(s) - 1, (st)}
/* clang-format on */
#define H "Host: a\r\n"

static const struct bad_case bad_cases[] = {
    /* line endings */
    BAD("GET / HTTP/1.1\n" H "\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "\rX", 400),
    BAD("GET / HTTP/1.1\rX", 400),
    BAD("\nGET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("\r\r\nGET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\n", 400),
    BAD("GET\n", 400),
    /* request line layout and method */
    BAD("GET  / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /  HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/1.1 \r\n" H "\r\n", 400),
    BAD("GET\t/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD(" GET / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("G@T / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GE(T / HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET\r\n" H "\r\n", 400),
    BAD("GET /\r\n" H "\r\n", 400),
    BAD("GET / \r\n" H "\r\n", 400),
    /* request target */
    BAD("GET /a b HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\x7f HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\x80 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\xff HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\0 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\t HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET /\x01 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET index.html HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET example.com:80 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET ftp://a/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http:///x HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http://user@a/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("GET http:/a/ HTTP/1.1\r\n" H "\r\n", 400),
    BAD("CONNECT example.com HTTP/1.1\r\n" H "\r\n", 400),
    BAD("CONNECT example.com: HTTP/1.1\r\n" H "\r\n", 400),
    BAD("CONNECT :443 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("CONNECT a:4x3 HTTP/1.1\r\n" H "\r\n", 400),
    /* HTTP version */
    BAD("GET / HTTP/0.9\r\n" H "\r\n", 505),
    BAD("GET / HTTP/2.0\r\n" H "\r\n", 505),
    BAD("GET / HTTP/3.0\r\n" H "\r\n", 505),
    BAD("GET / HTTP/1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/11.1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/1.11\r\n" H "\r\n", 400),
    BAD("GET / http/1.1\r\n" H "\r\n", 400),
    BAD("GET / HTTX/1.1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/1.1x\r\n" H "\r\n", 400),
    BAD("GET / HTTP/a.1\r\n" H "\r\n", 400),
    BAD("GET / HTTP/2.0\n" H "\r\n", 400),
    /* field syntax */
    BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X: b\r\n  c\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X: b\r\n\tc\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H ": empty-name\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-A\x01: b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X-\xff: b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X(y): b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X: a\x01"
        "b\r\n\r\n",
        400),
    BAD("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X: a\x7f"
        "b\r\n\r\n",
        400),
    BAD("GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H "X: 0123456789abcdef\x1f"
        "0123456789\r\n\r\n",
        400),
    /* Host */
    BAD("GET / HTTP/1.1\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\n" H H "\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
    BAD("GET / HTTP/1.1\r\nHost:   \r\n\r\n", 400),
    BAD("GET http://a/ HTTP/1.1\r\n\r\n", 400),
    BAD("GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    /* Content-Length */
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 1,1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 1, 1\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 9223372036854775808\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n", 400),
    /* Transfer-Encoding */
    BAD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400), /* framing first */
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: x-foo\r\n\r\n", 501),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: , ,\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    BAD("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chun ked\r\n\r\n", 400),
};

static void check_prefixes(const struct bad_case *c, const struct parse_out *full)
{
    size_t n;

    /* A prefix is either incomplete or already shows the same error. */
    for (n = 0; n < c->len; n++) {
        struct parse_out o = parse_n(c->in, n, &lim_default);

        cr_assert(o.r == HTTP1_AGAIN || (o.r == HTTP1_ERROR && o.status == full->status),
                  "case \"%s\" prefix %zu: r=%d status=%d", c->in, n, o.r, o.status);
    }
}

Test(http1_bad, table)
{
    size_t i;

    cr_assert_geq(sizeof bad_cases / sizeof bad_cases[0], 40);
    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct parse_out o = parse_n(c->in, c->len, &lim_default);

        cr_assert_eq(o.r, HTTP1_ERROR, "case %zu \"%s\": r=%d", i, c->in, o.r);
        cr_assert_eq(o.status, c->status, "case %zu \"%s\": status %d (%s), want %d", i, c->in,
                     o.status, o.reason, c->status);
        cr_assert_not_null(o.reason);
        cr_assert_gt(strlen(o.reason), 0);
        cr_assert_eq(o.consumed, 0);
        check_prefixes(c, &o);
    }
}

Test(http1_bad, reasons)
{
    struct parse_out o;

    o = parse("GET / HTTP/1.1\nHost: a\r\n\r\n");
    cr_assert_str_eq(o.reason, "bare LF in request head");
    o = parse("POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 1\r\n\r\n");
    cr_assert_str_eq(o.reason, "duplicate Content-Length");
    o = parse("POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    cr_assert_str_eq(o.reason, "Content-Length with Transfer-Encoding");
    o = parse("GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n");
    cr_assert_str_eq(o.reason, "obs-fold not allowed");
    o = parse("GET /\x01 HTTP/1.1\r\n" H "\r\n");
    cr_assert_str_eq(o.reason, "invalid character in request target");
    o = parse("GET / HTTP/1.1\r\n\r\n");
    cr_assert_str_eq(o.reason, "missing Host header");
    o = parse("GET / HTTP/1.1\r\n" H H "\r\n");
    cr_assert_str_eq(o.reason, "multiple Host headers");
    o = parse("GET / HTTP/2.0\r\n\r\n");
    cr_assert_str_eq(o.reason, "unsupported HTTP version");
    o = parse("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n");
    cr_assert_str_eq(o.reason, "unsupported transfer coding");
}

/* ---- errors reported before the head is complete ---- */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

Test(http1_limits, early_414_on_incomplete_head)
{
    struct http1_limits lim = {.max_head = 8192, .max_target = 100, .max_headers = 10};
    char buf[256];
    struct parse_out o;

    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', sizeof buf - 5);
    o = parse_n(buf, 100, &lim);
    cr_assert_eq(o.r, HTTP1_AGAIN);
    o = parse_n(buf, 4 + 100, &lim); /* exactly max_target so far */
    cr_assert_eq(o.r, HTTP1_AGAIN);
    o = parse_n(buf, 4 + 101, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 414);
    o = parse_n(buf, sizeof buf, &lim);
    cr_assert_eq(o.status, 414);
}

Test(http1_limits, target_exactly_max)
{
    struct http1_limits lim = {.max_head = 8192, .max_target = 10, .max_headers = 10};
    struct parse_out o;

    o = parse_n("GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n", 36, &lim);
    cr_assert_eq(o.r, HTTP1_DONE);
    o = parse_n("GET /1234567890 HTTP/1.1\r\nHost: a\r\n\r\n", 37, &lim);
    cr_assert_eq(o.status, 414);
}

Test(http1_limits, early_431_on_incomplete_head)
{
    struct http1_limits lim = {.max_head = 64, .max_target = 1000, .max_headers = 10};
    const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ";
    char buf[200];
    struct parse_out o;

    memset(buf, 'v', sizeof buf);
    memcpy(buf, head, strlen(head));
    o = parse_n(buf, 63, &lim);
    cr_assert_eq(o.r, HTTP1_AGAIN);
    o = parse_n(buf, 64, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 431);
    o = parse_n(buf, sizeof buf, &lim);
    cr_assert_eq(o.status, 431);
}

Test(http1_limits, head_exactly_max)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = strlen(s);
    struct http1_limits lim = {.max_head = n, .max_target = 100, .max_headers = 10};
    struct parse_out o;

    o = parse_n(s, n, &lim);
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(o.consumed, n);
    lim.max_head = n - 1;
    o = parse_n(s, n, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 431);
}

Test(http1_limits, target_414_wins_over_431)
{
    struct http1_limits lim = {.max_head = 50, .max_target = 60, .max_headers = 10};
    char *s = repeat('a', 200);
    struct parse_out o;

    memcpy(s, "GET /", 5);
    o = parse_n(s, 200, &lim);
    cr_assert_eq(o.status, 414);
    /* Within max_target, but the window ends inside the target: still 414. */
    o = parse_n(s, 50, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 414);
    o = parse_n(s, 49, &lim);
    cr_assert_eq(o.r, HTTP1_AGAIN);
    /* The window ends in the method: the head is too large. */
    memset(s, 'A', 200);
    o = parse_n(s, 200, &lim);
    cr_assert_eq(o.status, 431);
    /* The target ends inside the window, the head does not. */
    memcpy(s, "GET /abc HTTP/1.1\r\nX: ", 22);
    memset(s + 22, 'v', 178);
    o = parse_n(s, 200, &lim);
    cr_assert_eq(o.status, 431);
    free(s);
}

Test(http1_limits, too_many_headers)
{
    struct http1_limits lim = {.max_head = 8192, .max_target = 100, .max_headers = 3};
    struct parse_out o;

    o = parse_n("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 39, &lim);
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.nheaders, 3);
    o = parse_n("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 45, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 431);
}

Test(http1_limits, max_headers_clamped)
{
    struct http1_limits lim = {.max_head = 1 << 20, .max_target = 100, .max_headers = 100000};
    char buf[8192];
    size_t n = 0, i;
    struct parse_out o;

    n += (size_t)snprintf(buf + n, sizeof buf - n, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (i = 0; i < HTTP1_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X%zu: v\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
    o = parse_n(buf, n, &lim);
    cr_assert_eq(o.r, HTTP1_ERROR);
    cr_assert_eq(o.status, 431);
}

/* ---- valid heads ---- */

Test(http1_ok, typical_get)
{
    const char *s = "GET /a/b.html?x=1&y=2 HTTP/1.1\r\n"
                    "Host: example.com:8080\r\n"
                    "User-Agent: test/1.0\r\n"
                    "Accept: */*\r\n"
                    "If-None-Match: \"abc\"\r\n"
                    "If-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\n"
                    "Range: bytes=0-10\r\n"
                    "Referer: http://r/\r\n"
                    "Cookie: a=b\r\n"
                    "\r\n"
                    "NEXT";
    struct parse_out o = parse(s);

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(o.consumed, strlen(s) - 4);
    cr_assert_eq(req.method, HTTP_M_GET);
    cr_assert_str_is(req.method_str, "GET");
    cr_assert_str_is(req.target, "/a/b.html?x=1&y=2");
    cr_assert_str_is(req.path, "/a/b.html");
    cr_assert_str_is(req.query, "x=1&y=2");
    cr_assert_eq(req.version_minor, 1);
    cr_assert(req.has_host);
    cr_assert_str_is(req.host, "example.com:8080");
    cr_assert_str_is(req.user_agent, "test/1.0");
    cr_assert_str_is(req.if_none_match, "\"abc\"");
    cr_assert_str_is(req.if_modified_since, "Sat, 29 Oct 1994 19:43:31 GMT");
    cr_assert_str_is(req.range, "bytes=0-10");
    cr_assert_str_is(req.referer, "http://r/");
    cr_assert_str_is(req.cookie, "a=b");
    cr_assert_eq(req.if_match.n, 0);
    cr_assert_eq(req.nheaders, 8);
    cr_assert_eq(req.body, HTTP_BODY_NONE);
    cr_assert(req.keep_alive);
    cr_assert_not(req.asterisk);
    cr_assert_not(req.expect_continue);
    cr_assert_not(req.expect_other);
}

Test(http1_ok, pipelined_two_requests)
{
    const char *a = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *b = "HEAD /two HTTP/1.1\r\nHost: b\r\n\r\n";
    char buf[128];
    struct parse_out o;
    size_t na = strlen(a), nb = strlen(b);

    memcpy(buf, a, na);
    memcpy(buf + na, b, nb);
    o = parse_n(buf, na + nb, &lim_default);
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(o.consumed, na);
    cr_assert_str_is(req.path, "/one");
    o = parse_n(buf + na, nb, &lim_default);
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(o.consumed, nb);
    cr_assert_eq(req.method, HTTP_M_HEAD);
    cr_assert_str_is(req.path, "/two");
    cr_assert_str_is(req.host, "b");
}

Test(http1_ok, byte_by_byte_prefixes)
{
    const char *s = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n";
    size_t n = strlen(s), i;
    struct parse_out o;

    for (i = 0; i < n; i++) {
        o = parse_n(s, i, &lim_default);
        cr_assert_eq(o.r, HTTP1_AGAIN, "prefix %zu", i);
        cr_assert_eq(o.consumed, 0);
    }
    o = parse_n(s, n, &lim_default);
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.body, HTTP_BODY_LENGTH);
    cr_assert_eq(req.content_length, 12);
}

Test(http1_ok, http10_keep_alive)
{
    struct parse_out o;

    o = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.version_minor, 0);
    cr_assert(req.keep_alive);
    cr_assert_not(req.has_host);
    o = parse("GET / HTTP/1.0\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_not(req.keep_alive);
    o = parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    cr_assert_not(req.keep_alive);
    o = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_not(req.keep_alive);
    o = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n");
    cr_assert(req.keep_alive);
}

Test(http1_ok, version_1x_is_11)
{
    struct parse_out o = parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n");

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.version_minor, 1);
    o = parse("GET / HTTP/1.2\r\n\r\n");
    cr_assert_eq(o.status, 400); /* treated as 1.1: Host required */
}

Test(http1_ok, absolute_form)
{
    struct parse_out o;

    o = parse("GET HTTP://Example.COM:81/p/q?z=9 HTTP/1.1\r\nHost: other\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.host, "Example.COM:81");
    cr_assert(req.has_host);
    cr_assert_str_is(req.path, "/p/q");
    cr_assert_str_is(req.query, "z=9");
    cr_assert_str_is(req.target, "HTTP://Example.COM:81/p/q?z=9");

    o = parse("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.host, "h");
    cr_assert_str_is(req.path, "/");
    cr_assert_eq(req.query.n, 0);

    o = parse("GET http://h?a HTTP/1.0\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.path, "/");
    cr_assert_str_is(req.query, "a");
    cr_assert_str_is(req.host, "h");
    cr_assert(req.has_host);

    o = parse("GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.host, "[::1]:8080");
}

Test(http1_ok, asterisk_form)
{
    struct parse_out o = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.method, HTTP_M_OPTIONS);
    cr_assert(req.asterisk);
    cr_assert_str_is(req.path, "*");
    cr_assert_eq(req.query.n, 0);
    o = parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert(req.asterisk);
}

Test(http1_ok, connect_authority_form)
{
    struct parse_out o = parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.method, HTTP_M_CONNECT);
    cr_assert_str_is(req.path, "example.com:443");
    cr_assert_str_is(req.host, "example.com:443");
}

Test(http1_ok, value_trimming_and_obs_text)
{
    struct parse_out o = parse("GET / HTTP/1.1\r\nHost:a\r\n"
                               "X-A:   spaced  value \t \r\n"
                               "X-B:\r\n"
                               "X-C: \t \r\n"
                               "X-D: caf\xc3\xa9\tok\r\n\r\n");
    const struct http_header *h;

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.host, "a");
    h = http1_find_header(&req, "x-a");
    cr_assert_not_null(h);
    cr_assert_str_is(h->name, "X-A");
    cr_assert_str_is(h->value, "spaced  value");
    h = http1_find_header(&req, "X-B");
    cr_assert_not_null(h);
    cr_assert_eq(h->value.n, 0);
    h = http1_find_header(&req, "x-c");
    cr_assert_eq(h->value.n, 0);
    h = http1_find_header(&req, "X-D");
    cr_assert_str_is(h->value, "caf\xc3\xa9\tok");
    cr_assert_null(http1_find_header(&req, "X"));
    cr_assert_null(http1_find_header(&req, "X-A-"));
}

Test(http1_ok, leading_empty_lines)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    struct parse_out o = parse(s);

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(o.consumed, strlen(s));
    cr_assert_str_is(req.path, "/");
    o = parse("\r\n\r");
    cr_assert_eq(o.r, HTTP1_AGAIN);
}

Test(http1_ok, methods)
{
    static const struct {
        const char *name;
        enum http_method m;
    } ms[] = {
        {"GET", HTTP_M_GET},
        {"HEAD", HTTP_M_HEAD},
        {"POST", HTTP_M_POST},
        {"PUT", HTTP_M_PUT},
        {"DELETE", HTTP_M_DELETE},
        {"CONNECT", HTTP_M_CONNECT},
        {"OPTIONS", HTTP_M_OPTIONS},
        {"TRACE", HTTP_M_TRACE},
        {"PATCH", HTTP_M_PATCH},
        {"get", HTTP_M_UNKNOWN},
        {"BREW", HTTP_M_UNKNOWN},
        {"M-SEARCH", HTTP_M_UNKNOWN},
        {"GETS", HTTP_M_UNKNOWN},
        {"PROPFIND", HTTP_M_UNKNOWN},
        {"!#$%&'*+-.^_`|~", HTTP_M_UNKNOWN},
    };
    char buf[128];
    size_t i;

    for (i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        const char *target = ms[i].m == HTTP_M_CONNECT ? "a:1" : "/";
        int n = snprintf(buf, sizeof buf, "%s %s HTTP/1.1\r\nHost: a\r\n\r\n", ms[i].name, target);
        struct parse_out o = parse_n(buf, (size_t)n, &lim_default);

        cr_assert_eq(o.r, HTTP1_DONE, "%s", ms[i].name);
        cr_assert_eq(req.method, ms[i].m, "%s", ms[i].name);
        cr_assert_str_is(req.method_str, ms[i].name);
        if (ms[i].m != HTTP_M_UNKNOWN)
            cr_assert_str_eq(http1_method_name(ms[i].m), ms[i].name);
    }
    cr_assert_null(http1_method_name(HTTP_M_UNKNOWN));
}

Test(http1_ok, bodies)
{
    struct parse_out o;

    o = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.body, HTTP_BODY_LENGTH);
    cr_assert_eq(req.content_length, 0);
    o = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.content_length, 9223372036854775807ULL);
    o = parse("POST / HTTP/1.1\r\nHost: a\r\ncontent-length:  007 \r\n\r\n");
    cr_assert_eq(req.content_length, 7);
    o = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.body, HTTP_BODY_CHUNKED);
    o = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.body, HTTP_BODY_CHUNKED);
}

Test(http1_ok, expect)
{
    struct parse_out o;

    o = parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert(req.expect_continue);
    cr_assert_not(req.expect_other);
    o = parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n");
    cr_assert_not(req.expect_continue);
    cr_assert(req.expect_other);
    o = parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_not(req.expect_continue);
    cr_assert_not(req.expect_other);
}

Test(http1_ok, conditional_first_kept)
{
    struct parse_out o = parse("GET / HTTP/1.1\r\nHost: a\r\n"
                               "If-Match: \"1\"\r\nIf-Match: \"2\"\r\n"
                               "if-unmodified-since: d1\r\nIF-RANGE: \"e\"\r\n\r\n");

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_str_is(req.if_match, "\"1\"");
    cr_assert_str_is(req.if_unmodified_since, "d1");
    cr_assert_str_is(req.if_range, "\"e\"");
}

Test(http1_ok, long_values_word_scan)
{
    char buf[600];
    int n = snprintf(buf, sizeof buf, "GET /%s HTTP/1.1\r\nHost: a\r\nX: %s\t%s\x80\r\n\r\n",
                     "0123456789abcdefghijklmnopqrstuvwxyz/0123456789abcdefghijkl",
                     "abcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    struct parse_out o = parse_n(buf, (size_t)n, &lim_default);

    cr_assert_eq(o.r, HTTP1_DONE);
    cr_assert_eq(req.headers[1].value.n, 36 + 1 + 26 + 1);
}

Test(http1_ok, str_ieq)
{
    struct http_str s = {"Content-Type", 12};

    cr_assert(http_str_ieq(s, "content-type"));
    cr_assert(http_str_ieq(s, "CONTENT-TYPE"));
    cr_assert_not(http_str_ieq(s, "content-typ"));
    cr_assert_not(http_str_ieq(s, "content-types"));
    cr_assert(http_str_ieq((struct http_str){"", 0}, ""));
    cr_assert_not(http_str_ieq((struct http_str){"a", 1}, ""));
}

/* ---- chunked decoding ---- */

struct chunk_out {
    enum http1_result r;
    size_t consumed;
    char body[4096];
    size_t body_len;
    int status;
};

/* Feed s in pieces of `step` bytes (0: all at once) through a copy buffer. */
static struct chunk_out chunk_feed(const char *s, size_t n, size_t step, uint64_t max_body)
{
    struct http1_chunked st = {0};
    struct chunk_out co = {.r = HTTP1_AGAIN, .status = -1};
    char *piece = malloc(n + 1);
    size_t off = 0;

    cr_assert_not_null(piece);

    if (step == 0)
        step = n ? n : 1;
    while (off < n && co.r == HTTP1_AGAIN) {
        size_t k = n - off < step ? n - off : step, used, out;
        const char *reason = NULL;

        memcpy(piece, s + off, k);
        co.r = http1_chunked_decode(&st, piece, k, max_body, &used, &out, &co.status, &reason);
        cr_assert_leq(used, k);
        cr_assert_leq(out, used);
        cr_assert(co.r != HTTP1_AGAIN || used == k, "AGAIN must consume everything");
        cr_assert(co.r != HTTP1_ERROR || reason != NULL);
        cr_assert_leq(co.body_len + out, sizeof co.body);
        memcpy(co.body + co.body_len, piece, out);
        co.body_len += out;
        off += used;
    }
    free(piece);
    co.consumed = off;
    return co;
}

#define CHUNK_OK(s, want)                                                                          \
    do {                                                                                           \
        size_t steps_[] = {0, 1, 2, 3, 7};                                                         \
        for (size_t k_ = 0; k_ < sizeof steps_ / sizeof steps_[0]; k_++) {                         \
            struct chunk_out co_ = chunk_feed((s), sizeof(s) - 1, steps_[k_], 1 << 20);            \
            cr_assert_eq(co_.r, HTTP1_DONE, "step %zu: r=%d status=%d", steps_[k_], co_.r,         \
                         co_.status);                                                              \
            cr_assert_eq(co_.consumed, sizeof(s) - 1);                                             \
            cr_assert_eq(co_.body_len, sizeof(want) - 1);                                          \
            cr_assert(memcmp(co_.body, (want), sizeof(want) - 1) == 0);                            \
        }                                                                                          \
    } while (0)

Test(http1_chunked, valid_whole_and_split)
{
    CHUNK_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    CHUNK_OK("0\r\n\r\n", "");
    CHUNK_OK("000A\r\n0123456789\r\n00\r\n\r\n", "0123456789");
    CHUNK_OK("a\r\n0123456789\r\nF\r\nABCDEFGHIJKLMNO\r\n0\r\n\r\n", "0123456789ABCDEFGHIJKLMNO");
    CHUNK_OK("3;name=value;flag\r\nabc\r\n0;x=\"q s\"\r\n\r\n", "abc");
    CHUNK_OK("3 ; ext\r\nabc\r\n0\r\n\r\n", "abc");
    CHUNK_OK("2\r\n\r\n\r\n0\r\nTrailer-A: 1\r\nX: \xff\r\nEmpty:\r\n\r\n", "\r\n");
}

Test(http1_chunked, stops_at_end_of_body)
{
    char buf[] = "4\r\nWiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    struct http1_chunked st = {0};
    size_t used, out;
    int status = 0;
    const char *reason = NULL;
    enum http1_result r;

    r = http1_chunked_decode(&st, buf, sizeof buf - 1, 100, &used, &out, &status, &reason);
    cr_assert_eq(r, HTTP1_DONE);
    cr_assert_eq(used, 14);
    cr_assert_eq(out, 4);
    cr_assert(memcmp(buf, "Wiki", 4) == 0);
    cr_assert(memcmp(buf + used, "GET", 3) == 0);
    r = http1_chunked_decode(&st, buf + used, 3, 100, &used, &out, &status, &reason);
    cr_assert_eq(r, HTTP1_DONE);
    cr_assert_eq(used, 0);
}

Test(http1_chunked, invalid)
{
    static const char *bad[] = {
        "g\r\n",
        "\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "0x5\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\rhello",
        "5 \r\nhello\r\n0\r\n\r\n",
        "5 x\r\n",
        "5;a\nb\r\n",
        "5;a\x01\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r\r",
        "0\r\n \r\n\r\n",
        "0\r\nX: a\r\n folded\r\n\r\n",
        "0\r\nNoColon\r\n\r\n",
        "0\r\nX : a\r\n\r\n",
        "0\r\nX: a\nY: b\r\n\r\n",
        "0\r\nX: a\x01\r\n\r\n",
        "0\r\n\n",
        "0\r\n\rX",
        "0\r\n:a\r\n\r\n",
        "10000000000000000\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct chunk_out whole = chunk_feed(bad[i], strlen(bad[i]), 0, UINT64_MAX);
        struct chunk_out bytes = chunk_feed(bad[i], strlen(bad[i]), 1, UINT64_MAX);

        cr_assert_eq(whole.r, HTTP1_ERROR, "case %zu \"%s\"", i, bad[i]);
        cr_assert_eq(whole.status, 400, "case %zu", i);
        cr_assert_eq(bytes.r, HTTP1_ERROR, "case %zu bytewise", i);
        cr_assert_eq(bytes.status, 400, "case %zu bytewise", i);
    }
}

Test(http1_chunked, size_line_and_trailer_bounds)
{
    size_t n = 5000;
    char *s = repeat('0', n);
    struct chunk_out co;

    s[n - 2] = '\r';
    s[n - 1] = '\n';
    co = chunk_feed(s, n, 0, 100);
    cr_assert_eq(co.r, HTTP1_ERROR);
    cr_assert_eq(co.status, 400);
    /* A size line of exactly 4096 bytes (zeros, then an extension) is fine;
     * one byte more is not. */
    memcpy(s + 10, ";e=", 3);
    memcpy(s + 4096, "\r\n\r\n", 4);
    co = chunk_feed(s, 4100, 0, 100);
    cr_assert_eq(co.r, HTTP1_DONE, "status %d", co.status);
    co = chunk_feed(s, 4100, 1, 100);
    cr_assert_eq(co.r, HTTP1_DONE, "status %d", co.status);
    memcpy(s + 4096, "x\r\n\r\n", 5);
    co = chunk_feed(s, 4101, 0, 100);
    cr_assert_eq(co.r, HTTP1_ERROR);
    cr_assert_eq(co.status, 400);
    free(s);

    s = repeat('a', 9000);
    memcpy(s, "0\r\nX: ", 6);
    co = chunk_feed(s, 9000, 0, 100);
    cr_assert_eq(co.r, HTTP1_ERROR);
    cr_assert_eq(co.status, 400);
    free(s);
}

Test(http1_chunked, max_body_413)
{
    const char *s = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    struct chunk_out co;

    co = chunk_feed(s, strlen(s), 0, 11);
    cr_assert_eq(co.r, HTTP1_DONE);
    co = chunk_feed(s, strlen(s), 0, 10);
    cr_assert_eq(co.r, HTTP1_ERROR);
    cr_assert_eq(co.status, 413);
    cr_assert_eq(co.body_len, 5, "first chunk decoded before the second is refused");
    co = chunk_feed(s, strlen(s), 1, 10);
    cr_assert_eq(co.status, 413);
    /* A huge size is refused from its digits, before any data. */
    co = chunk_feed("ffffffffffffffff\r\n", 18, 0, 1000);
    cr_assert_eq(co.status, 413);
    cr_assert_eq(co.consumed, 3);
}

Test(http1_chunked, failure_is_sticky)
{
    struct http1_chunked st = {0};
    char a[] = "zz";
    char b[] = "0\r\n\r\n";
    size_t used, out;
    int status = 0;
    const char *reason = NULL;

    cr_assert_eq(http1_chunked_decode(&st, a, 2, 10, &used, &out, &status, &reason), HTTP1_ERROR);
    status = 0;
    cr_assert_eq(http1_chunked_decode(&st, b, 5, 10, &used, &out, &status, &reason), HTTP1_ERROR);
    cr_assert_eq(status, 400);
    cr_assert_eq(used, 0);
}
