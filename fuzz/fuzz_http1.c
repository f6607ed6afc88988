/*
 * libFuzzer target for src/www/http1.c. The first input byte selects what the
 * rest feeds (its low two bits, so '0'..'3' name the modes in seed files):
 *   0  http1_parse_request with generous limits
 *   1  http1_parse_request with two sets of small limits
 *   2  http1_chunked_decode, whole against piecewise (must agree)
 *   3  a request head, then its chunked body if it has one
 * Every invariant of the contract is checked; a violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "www/http1.h"
#include "fuzz.h"

static const struct http1_limits lim_large = {8192, 4096, HTTP1_MAX_HEADERS};
static const struct http1_limits lim_small_a = {200, 40, 5};
static const struct http1_limits lim_small_b = {48, 12, 1};

static struct http1_req req, req2;

/* s lies inside buf[0..len); an absent string is {NULL, 0}. */
static bool str_inside(struct http_str s, const char *buf, size_t len)
{
    if (s.p == NULL)
        return s.n == 0;
    return s.p >= buf && s.p <= buf + len && s.n <= (size_t)(buf + len - s.p);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void check_header(const struct http_header *h, const char *buf, size_t len)
{
    size_t i;

    CHECK(str_inside(h->name, buf, len) && str_inside(h->value, buf, len));
    CHECK(h->name.n > 0);
    CHECK(h->name.p + h->name.n < buf + len && h->name.p[h->name.n] == ':');
    for (i = 0; i < h->name.n; i++)
        CHECK(h->name.p[i] > ' ' && h->name.p[i] < 0x7f && h->name.p[i] != ':');
    for (i = 0; i < h->value.n; i++)
        CHECK(h->value.p[i] != '\r' && h->value.p[i] != '\n' && h->value.p[i] != '\0');
    if (h->value.n > 0)
        CHECK(!is_ows(h->value.p[0]) && !is_ows(h->value.p[h->value.n - 1]));
}

static void check_strings(const struct http1_req *r, const char *buf, size_t n)
{
    const struct http_str *all[] = {
        &r->method_str,
        &r->target,
        &r->query,
        &r->host,
        &r->if_match,
        &r->if_none_match,
        &r->if_modified_since,
        &r->if_unmodified_since,
        &r->if_range,
        &r->range,
        &r->user_agent,
        &r->referer,
        &r->cookie,
    };
    size_t i;

    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK(str_inside(*all[i], buf, n));
    /* An absolute-form target without a path gets a static "/". */
    CHECK(str_inside(r->path, buf, n) || (r->path.n == 1 && r->path.p[0] == '/'));
    CHECK(r->method_str.n > 0 && r->target.n > 0 && r->path.n > 0);
}

static void check_done(const struct http1_req *r, const char *buf, size_t len, size_t consumed,
                       const struct http1_limits *lim)
{
    const char *name = http1_method_name(r->method);
    size_t i;

    CHECK(consumed >= 16 && consumed <= len);
    CHECK(memcmp(buf + consumed - 4, "\r\n\r\n", 4) == 0);
    check_strings(r, buf, consumed);
    CHECK(r->nheaders <= lim->max_headers && r->nheaders <= HTTP1_MAX_HEADERS);
    for (i = 0; i < r->nheaders; i++)
        check_header(&r->headers[i], buf, consumed);
    CHECK(r->version_minor == 0 || r->version_minor == 1);
    CHECK(r->target.n <= lim->max_target);
    CHECK(r->version_minor == 0 || r->has_host);
    CHECK(!r->has_host || r->host.n > 0);
    CHECK(r->body != HTTP_BODY_CHUNKED || r->version_minor == 1);
    CHECK(r->body != HTTP_BODY_LENGTH || r->content_length <= (uint64_t)INT64_MAX);
    CHECK(!(r->body == HTTP_BODY_CHUNKED && http1_find_header(r, "content-length")));
    CHECK(!(r->body == HTTP_BODY_LENGTH && http1_find_header(r, "transfer-encoding")));
    CHECK(r->body != HTTP_BODY_NONE || !http1_find_header(r, "content-length"));
    CHECK(!r->expect_continue || r->version_minor == 1);
    CHECK(!http1_find_header(r, "transfer-encoding") || r->body == HTTP_BODY_CHUNKED);
    if (name != NULL)
        CHECK(http_str_ieq(r->method_str, name) &&
              memcmp(r->method_str.p, name, r->method_str.n) == 0);
    else
        CHECK(r->method == HTTP_M_UNKNOWN);
}

static enum http1_result parse_checked(const char *buf, size_t len, const struct http1_limits *lim,
                                       struct http1_req *r, size_t *consumed, int *status)
{
    const char *reason = NULL;
    enum http1_result res;

    *status = 0;
    res = http1_parse_request(buf, len, lim, r, consumed, status, &reason);
    CHECK(*consumed <= len);
    if (res == HTTP1_ERROR) {
        CHECK(*status == 400 || *status == 414 || *status == 431 || *status == 501 ||
              *status == 505);
        CHECK(reason != NULL && reason[0] != '\0');
        CHECK(*consumed == 0);
    } else if (res == HTTP1_AGAIN) {
        CHECK(*consumed == 0);
    } else {
        CHECK(res == HTTP1_DONE);
        check_done(r, buf, len, *consumed, lim);
    }
    return res;
}

/* A prefix of the input is either incomplete or says what the whole says. */
static void check_prefix(const char *buf, size_t plen, const struct http1_limits *lim,
                         enum http1_result full, size_t full_consumed, int full_status)
{
    size_t consumed;
    int status;
    enum http1_result res = parse_checked(buf, plen, lim, &req2, &consumed, &status);

    if (full == HTTP1_DONE && plen >= full_consumed)
        CHECK(res == HTTP1_DONE && consumed == full_consumed);
    else if (res != HTTP1_AGAIN)
        CHECK(res == full && res == HTTP1_ERROR && status == full_status);
}

static enum http1_result fuzz_parse(const char *buf, size_t len, const struct http1_limits *lim,
                                    size_t *consumed)
{
    int status;
    enum http1_result res = parse_checked(buf, len, lim, &req, consumed, &status);

    if (len > 0) {
        check_prefix(buf, len - 1, lim, res, *consumed, status);
        check_prefix(buf, len / 2, lim, res, *consumed, status);
        check_prefix(buf, len / 3 * 2, lim, res, *consumed, status);
    }
    /* Parsing again yields the same (the server re-parses from the start). */
    {
        size_t c2;
        int s2;

        CHECK(parse_checked(buf, len, lim, &req2, &c2, &s2) == res && c2 == *consumed);
        if (res == HTTP1_ERROR)
            CHECK(s2 == status);
    }
    return res;
}

struct decoded {
    enum http1_result r;
    int status;
    size_t consumed;
    size_t out_len;
    uint64_t total;
};

static void check_decode_step(enum http1_result r, size_t len, size_t used, size_t out, int status,
                              const char *reason)
{
    CHECK(used <= len);
    CHECK(out <= used);
    if (r == HTTP1_AGAIN)
        CHECK(used == len);
    else if (r == HTTP1_ERROR)
        CHECK((status == 400 || status == 413) && reason != NULL);
    else
        CHECK(r == HTTP1_DONE);
}

/* Decode src[0..len) in pieces of `step` bytes, appending output to out. */
static struct decoded decode(const char *src, size_t len, size_t step, uint64_t max_body, char *out)
{
    struct http1_chunked st = {0};
    struct decoded d = {.r = HTTP1_AGAIN};
    char *piece = malloc(len + 1);
    size_t off = 0;

    CHECK(piece != NULL);
    while (d.r == HTTP1_AGAIN && off < len) {
        size_t k = len - off < step ? len - off : step, used = len + 1, n = len + 1;
        const char *reason = NULL;

        memcpy(piece, src + off, k);
        d.status = 0;
        d.r = http1_chunked_decode(&st, piece, k, max_body, &used, &n, &d.status, &reason);
        check_decode_step(d.r, k, used, n, d.status, reason);
        memcpy(out + d.out_len, piece, n);
        d.out_len += n;
        off += used;
        CHECK(st.total == d.out_len && st.total <= max_body);
    }
    if (d.r == HTTP1_DONE) {
        size_t used = 1, n = 1;
        int s = 0;
        const char *reason = NULL;

        CHECK(http1_chunked_decode(&st, piece, 0, max_body, &used, &n, &s, &reason) == HTTP1_DONE);
        CHECK(used == 0 && n == 0);
    }
    free(piece);
    d.consumed = off;
    d.total = st.total;
    return d;
}

static void fuzz_chunked(const char *src, size_t len, uint8_t sel)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);
    size_t step = 1 + (size_t)(sel >> 2) % 9;
    uint64_t max_body = (sel & 0x80) ? 37 : 1 << 20;
    struct decoded whole, split;

    CHECK(a != NULL && b != NULL);
    whole = decode(src, len, len ? len : 1, max_body, a);
    split = decode(src, len, step, max_body, b);
    CHECK(whole.r == split.r && whole.consumed == split.consumed);
    CHECK(whole.out_len == split.out_len && memcmp(a, b, whole.out_len) == 0);
    if (whole.r == HTTP1_ERROR)
        CHECK(whole.status == split.status);
    free(a);
    free(b);
}

static void fuzz_request_then_body(const char *buf, size_t len)
{
    size_t consumed;

    if (fuzz_parse(buf, len, &lim_large, &consumed) != HTTP1_DONE)
        return;
    if (req.body == HTTP_BODY_CHUNKED)
        fuzz_chunked(buf + consumed, len - consumed, 0x10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;
    size_t len, consumed;

    if (size < 1)
        return 0;
    len = size - 1;
    /* A heap copy of exactly len bytes so ASan sees any over-read. */
    buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    memcpy(buf, data + 1, len);
    switch (data[0] & 3) {
    case 0:
        fuzz_parse(buf, len, &lim_large, &consumed);
        break;
    case 1:
        fuzz_parse(buf, len, &lim_small_a, &consumed);
        fuzz_parse(buf, len, &lim_small_b, &consumed);
        break;
    case 2:
        fuzz_chunked(buf, len, data[0]);
        break;
    default:
        fuzz_request_then_body(buf, len);
        break;
    }
    free(buf);
    return 0;
}
