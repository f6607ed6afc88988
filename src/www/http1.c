#include "www/http1.h"

#include <string.h>

/*
 * The request-head parser runs once over the bytes received so far and is
 * simply called again from the start when more arrive: a head is small and a
 * single pass is cheaper than keeping resumable state. Every check runs left
 * to right, so an error that is certain in a prefix is reported as soon as
 * that prefix is seen, and the same error is reported for any longer input.
 */

/* Byte classes (RFC 9110 5.6.2 tchar, 5.5 field-vchar, RFC 3986 host). */
#define H1_TCHAR 0x01  /* token character */
#define H1_TARGET 0x02 /* request-target: VCHAR */
#define H1_VALUE 0x04  /* field value: VCHAR, SP, HTAB, obs-text */
#define H1_HOST 0x08   /* uri-host [":" port], IP-literal included */
#define H1_HEX 0x10    /* HEXDIG */

static const uint8_t h1_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    4,  15, 6,  7,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 14, 14, 6,  14, 6,  6,  /* 0x30 */
    6,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0x80 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0x90 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xA0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xB0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xC0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xD0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xE0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xF0 */
};

#define H1_IS(c, cls) ((h1_class[(unsigned char)(c)] & (cls)) != 0)

/* Empty lines tolerated before a request line (RFC 9112 2.2 asks for one). */
#define H1_MAX_EMPTY_LINES 8
/* Bounds of the chunked framing outside the data itself. */
#define H1_CHUNK_LINE_MAX 4096
#define H1_TRAILER_MAX 8192

/* SWAR constants: a byte-wise view of a 64-bit word. */
#define H1_ONES 0x0101010101010101ULL
#define H1_HIGH 0x8080808080808080ULL

static const char h1_slash[] = "/";

/* One call of http1_parse_request: the input, its limits and what the
 * headers seen so far imply for the ones still to come. */
struct h1_parse {
    const char *buf;
    size_t len;
    size_t wend;    /* the head must end before this offset */
    bool truncated; /* wend < end of input: running out of window means 431 */
    size_t max_target;
    size_t max_headers;
    struct http1_req *req;
    int *status;
    const char **reason;
    unsigned nhost;
    bool absolute; /* host came from an absolute-form target */
    bool cl_seen;
    bool te_seen;
    bool te_chunked;
    bool conn_close;
    bool conn_keep;
};

static enum http1_result h1_fail(struct h1_parse *p, int status, const char *reason)
{
    if (p->status)
        *p->status = status;
    if (p->reason)
        *p->reason = reason;
    return HTTP1_ERROR;
}

/* Out of bytes: wait for more, unless the head already overflows max_head. */
static enum http1_result h1_need(struct h1_parse *p)
{
    if (p->truncated)
        return h1_fail(p, 431, "request head too large");
    return HTTP1_AGAIN;
}

static char h1_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* p[0..n) equals the lower-case literal lit, ignoring case. */
static bool h1_lower_eq(const char *p, const char *lit, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (h1_lower(p[i]) != lit[i])
            return false;
    return true;
}

bool http_str_ieq(struct http_str s, const char *lit)
{
    size_t i;

    for (i = 0; i < s.n; i++)
        if (lit[i] == '\0' || h1_lower(s.p[i]) != h1_lower(lit[i]))
            return false;
    return lit[s.n] == '\0';
}

static bool h1_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct http_str h1_trim(const char *p, size_t n)
{
    while (n > 0 && h1_ows(p[0])) {
        p++;
        n--;
    }
    while (n > 0 && h1_ows(p[n - 1]))
        n--;
    return (struct http_str){p, n};
}

static bool h1_all(struct http_str s, uint8_t cls)
{
    size_t i;

    for (i = 0; i < s.n; i++)
        if (!H1_IS(s.p[i], cls))
            return false;
    return true;
}

static bool h1_host_ok(struct http_str s)
{
    return s.n > 0 && h1_all(s, H1_HOST);
}

/* Any byte of x below 0x20 or equal to 0x7F (HTAB included: the caller
 * rechecks byte by byte). Bytes >= 0x80 are never flagged. */
static bool h1_word_has_ctl(uint64_t x)
{
    uint64_t lt = (x - H1_ONES * 0x20) & ~x & H1_HIGH;
    uint64_t d = x ^ (H1_ONES * 0x7F);
    uint64_t del = (d - H1_ONES) & ~d & H1_HIGH;

    return (lt | del) != 0;
}

/* Any byte of x outside 0x21-0x7E. */
static bool h1_word_not_vchar(uint64_t x)
{
    uint64_t le = (x - H1_ONES * 0x21) & ~x & H1_HIGH;
    uint64_t d = x ^ (H1_ONES * 0x7F);
    uint64_t del = (d - H1_ONES) & ~d & H1_HIGH;

    return ((le | del | x) & H1_HIGH) != 0;
}

static uint64_t h1_load64(const char *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof x);
    return x;
}

/* Offset of the first byte in b[i..end) that is not of class cls; words are
 * skipped 8 bytes at a time while skip_word says they hold no stop byte. */
static size_t h1_scan(const char *b, size_t i, size_t end, uint8_t cls, bool (*skip_word)(uint64_t))
{
    for (;;) {
        size_t stop;

        while (end - i >= 8 && !skip_word(h1_load64(b + i)))
            i += 8;
        stop = end - i > 8 ? i + 8 : end;
        while (i < stop && H1_IS(b[i], cls))
            i++;
        if (i < stop || i == end)
            return i;
    }
}

static enum http_method h1_method_lookup(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0)
            return HTTP_M_GET;
        if (memcmp(m, "PUT", 3) == 0)
            return HTTP_M_PUT;
        break;
    case 4:
        if (memcmp(m, "HEAD", 4) == 0)
            return HTTP_M_HEAD;
        if (memcmp(m, "POST", 4) == 0)
            return HTTP_M_POST;
        break;
    case 5:
        if (memcmp(m, "TRACE", 5) == 0)
            return HTTP_M_TRACE;
        if (memcmp(m, "PATCH", 5) == 0)
            return HTTP_M_PATCH;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0)
            return HTTP_M_DELETE;
        break;
    case 7:
        if (memcmp(m, "CONNECT", 7) == 0)
            return HTTP_M_CONNECT;
        if (memcmp(m, "OPTIONS", 7) == 0)
            return HTTP_M_OPTIONS;
        break;
    }
    return HTTP_M_UNKNOWN;
}

enum http_method http1_method_of(const char *m, size_t n)
{
    return h1_method_lookup(m, n);
}

const char *http1_method_name(enum http_method m)
{
    switch (m) {
    case HTTP_M_GET:
        return "GET";
    case HTTP_M_HEAD:
        return "HEAD";
    case HTTP_M_POST:
        return "POST";
    case HTTP_M_PUT:
        return "PUT";
    case HTTP_M_DELETE:
        return "DELETE";
    case HTTP_M_CONNECT:
        return "CONNECT";
    case HTTP_M_OPTIONS:
        return "OPTIONS";
    case HTTP_M_TRACE:
        return "TRACE";
    case HTTP_M_PATCH:
        return "PATCH";
    case HTTP_M_UNKNOWN:
        break;
    }
    return NULL;
}

const struct http_header *http1_find_header(const struct http1_req *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->nheaders; i++)
        if (http_str_ieq(req->headers[i].name, name))
            return &req->headers[i];
    return NULL;
}

/* Reset everything but the header array, which nheaders bounds (clearing
 * 4 KiB per call would cost more than the parse). */
static void h1_req_init(struct http1_req *r)
{
    static const struct http_str none;

    r->method = HTTP_M_UNKNOWN;
    r->method_str = r->target = r->path = r->query = none;
    r->asterisk = false;
    r->version_minor = 1;
    r->nheaders = 0;
    r->host = none;
    r->has_host = false;
    r->body = HTTP_BODY_NONE;
    r->content_length = 0;
    r->keep_alive = false;
    r->expect_continue = r->expect_other = false;
    r->if_match = r->if_none_match = r->if_modified_since = r->if_unmodified_since = none;
    r->if_range = r->range = r->user_agent = r->referer = r->cookie = none;
    r->authorization = r->content_type = none;
    r->accept_encoding = none;
}

/* Leading CRLFs (RFC 9112 2.2), at most H1_MAX_EMPTY_LINES of them. */
static enum http1_result h1_skip_empty_lines(struct h1_parse *p, size_t *pos)
{
    const char *b = p->buf;
    size_t i = 0;
    unsigned n = 0;

    while (i < p->len && (b[i] == '\r' || b[i] == '\n')) {
        if (b[i] == '\n')
            return h1_fail(p, 400, "bare LF in request head");
        if (i + 1 >= p->len)
            return HTTP1_AGAIN;
        if (b[i + 1] != '\n')
            return h1_fail(p, 400, "bare CR in request head");
        if (++n > H1_MAX_EMPTY_LINES)
            return h1_fail(p, 400, "too many empty lines before request");
        i += 2;
    }
    *pos = i;
    return HTTP1_DONE;
}

static void h1_set_window(struct h1_parse *p, size_t start, size_t max_head)
{
    p->truncated = p->len - start >= max_head;
    p->wend = p->truncated ? start + max_head : p->len;
}

static enum http1_result h1_parse_method(struct h1_parse *p, size_t *pos)
{
    const char *b = p->buf;
    size_t start = *pos, i = start;

    while (i < p->wend && H1_IS(b[i], H1_TCHAR))
        i++;
    if (i >= p->wend)
        return h1_need(p);
    if (b[i] == '\n')
        return h1_fail(p, 400, "bare LF in request head");
    if (b[i] != ' ')
        return h1_fail(p, 400, "invalid character in method");
    if (i == start)
        return h1_fail(p, 400, "empty method");
    p->req->method_str = (struct http_str){b + start, i - start};
    p->req->method = h1_method_lookup(b + start, i - start);
    *pos = i + 1;
    return HTTP1_DONE;
}

/* path up to '?', query after it; s starts at the path. */
static void h1_split_path(struct http1_req *r, struct http_str s)
{
    const char *q = memchr(s.p, '?', s.n);

    if (q == NULL) {
        r->path = s;
        r->query = (struct http_str){s.p + s.n, 0};
        return;
    }
    r->path = (struct http_str){s.p, (size_t)(q - s.p)};
    r->query = (struct http_str){q + 1, s.n - r->path.n - 1};
}

/* Length of a leading "http://" or "https://", any case; 0 if neither. */
static size_t h1_scheme_len(struct http_str t)
{
    if (t.n >= 7 && h1_lower_eq(t.p, "http://", 7))
        return 7;
    if (t.n >= 8 && h1_lower_eq(t.p, "https://", 8))
        return 8;
    return 0;
}

static enum http1_result h1_absolute_form(struct h1_parse *p, struct http_str t, size_t skip)
{
    struct http1_req *r = p->req;
    const char *a = t.p + skip, *end = t.p + t.n, *e = a;
    struct http_str auth;

    while (e < end && *e != '/' && *e != '?')
        e++;
    auth = (struct http_str){a, (size_t)(e - a)};
    if (!h1_host_ok(auth))
        return h1_fail(p, 400, "invalid authority in request target");
    p->absolute = true;
    r->host = auth;
    r->has_host = true;
    h1_split_path(r, (struct http_str){e, (size_t)(end - e)});
    if (r->path.n == 0)
        r->path = (struct http_str){h1_slash, 1};
    return HTTP1_DONE;
}

/* CONNECT's uri-host ":" port: the port is what follows the last colon. */
static enum http1_result h1_authority_form(struct h1_parse *p, struct http_str t)
{
    size_t colon = t.n, i;

    while (colon > 0 && t.p[colon - 1] != ':')
        colon--;
    if (!h1_host_ok(t) || colon < 2 || colon == t.n)
        return h1_fail(p, 400, "invalid authority-form target");
    for (i = colon; i < t.n; i++)
        if (t.p[i] < '0' || t.p[i] > '9')
            return h1_fail(p, 400, "invalid authority-form target");
    p->req->path = t;
    return HTTP1_DONE;
}

static enum http1_result h1_classify_target(struct h1_parse *p)
{
    struct http1_req *r = p->req;
    struct http_str t = r->target;
    size_t skip;

    if (t.p[0] == '/') {
        h1_split_path(r, t);
        return HTTP1_DONE;
    }
    if (t.n == 1 && t.p[0] == '*') {
        r->asterisk = true;
        r->path = t;
        r->query = (struct http_str){t.p + 1, 0};
        return HTTP1_DONE;
    }
    skip = h1_scheme_len(t);
    if (skip > 0)
        return h1_absolute_form(p, t, skip);
    if (r->method == HTTP_M_CONNECT)
        return h1_authority_form(p, t);
    return h1_fail(p, 400, "invalid request target form");
}

static enum http1_result h1_bad_target_end(struct h1_parse *p, char c, bool empty)
{
    if (c == '\n')
        return h1_fail(p, 400, "bare LF in request head");
    if (c == ' ' && empty)
        return h1_fail(p, 400, "extra whitespace in request line");
    if (c == '\r')
        return h1_fail(p, 400, empty ? "empty request target" : "missing HTTP version");
    return h1_fail(p, 400, "invalid character in request target");
}

/* A target longer than max_target is a 414 as soon as that many bytes have
 * arrived. So is a target that runs past the head window: the request line
 * is too long because of it, and the answer must not depend on bytes beyond
 * max_head that may never be read. */
static enum http1_result h1_parse_target(struct h1_parse *p, size_t *pos)
{
    const char *b = p->buf;
    size_t start = *pos, i;
    size_t lim = p->wend - start > p->max_target ? start + p->max_target + 1 : p->wend;

    i = h1_scan(b, start, lim, H1_TARGET, h1_word_not_vchar);
    if (i - start > p->max_target || (i == p->wend && p->truncated))
        return h1_fail(p, 414, "request target too long");
    if (i == p->wend)
        return HTTP1_AGAIN;
    if (b[i] != ' ' || i == start)
        return h1_bad_target_end(p, b[i], i == start);
    p->req->target = (struct http_str){b + start, i - start};
    *pos = i + 1;
    return h1_classify_target(p);
}

static bool h1_version_byte_ok(size_t k, char c)
{
    switch (k) {
    case 5:
    case 7:
        return c >= '0' && c <= '9';
    case 6:
        return c == '.';
    case 8:
        return c == '\r';
    case 9:
        return c == '\n';
    default:
        return c == "HTTP/"[k];
    }
}

/* "HTTP/" DIGIT "." DIGIT CRLF, checked as far as it has arrived. */
static enum http1_result h1_parse_version(struct h1_parse *p, size_t *pos)
{
    const char *v = p->buf + *pos;
    size_t avail = p->wend - *pos, k;

    for (k = 0; k < 10 && k < avail; k++) {
        if (h1_version_byte_ok(k, v[k]))
            continue;
        if (v[k] == '\n')
            return h1_fail(p, 400, "bare LF in request head");
        if (k == 9)
            return h1_fail(p, 400, "bare CR in request head");
        return h1_fail(p, 400, "malformed HTTP version");
    }
    if (k < 10)
        return h1_need(p);
    if (v[5] != '1')
        return h1_fail(p, 505, "unsupported HTTP version");
    p->req->version_minor = v[7] == '0' ? 0 : 1;
    *pos += 10;
    return HTTP1_DONE;
}

static enum http1_result h1_parse_request_line(struct h1_parse *p, size_t *pos)
{
    enum http1_result r = h1_parse_method(p, pos);

    if (r == HTTP1_DONE)
        r = h1_parse_target(p, pos);
    if (r == HTTP1_DONE)
        r = h1_parse_version(p, pos);
    return r;
}

static enum http1_result h1_on_host(struct h1_parse *p, struct http_str v)
{
    if (++p->nhost > 1)
        return h1_fail(p, 400, "multiple Host headers");
    if (v.n == 0)
        return h1_fail(p, 400, "empty Host header");
    if (!h1_host_ok(v))
        return h1_fail(p, 400, "invalid Host header");
    if (!p->absolute)
        p->req->host = v;
    p->req->has_host = true;
    return HTTP1_DONE;
}

/* 1*DIGIT no greater than 2^63-1. */
static bool h1_parse_length(struct http_str v, uint64_t *out)
{
    const uint64_t max = (uint64_t)INT64_MAX;
    uint64_t n = 0;
    size_t i;

    if (v.n == 0)
        return false;
    for (i = 0; i < v.n; i++) {
        unsigned d = (unsigned)(unsigned char)v.p[i] - '0';

        if (d > 9 || n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

static enum http1_result h1_on_content_length(struct h1_parse *p, struct http_str v)
{
    uint64_t n;

    if (p->cl_seen)
        return h1_fail(p, 400, "duplicate Content-Length");
    p->cl_seen = true;
    if (p->te_seen)
        return h1_fail(p, 400, "Content-Length with Transfer-Encoding");
    if (!h1_parse_length(v, &n))
        return h1_fail(p, 400, "invalid Content-Length");
    p->req->body = HTTP_BODY_LENGTH;
    p->req->content_length = n;
    return HTTP1_DONE;
}

/* Next element of a comma list starting at *i, OWS trimmed (may be empty).
 * Returns false when the list is exhausted. */
static bool h1_list_next(struct http_str v, size_t *i, struct http_str *elem)
{
    size_t start = *i, j = start;

    if (start > v.n)
        return false;
    while (j < v.n && v.p[j] != ',')
        j++;
    *elem = h1_trim(v.p + start, j - start);
    *i = j + 1;
    return true;
}

/* Codings in one Transfer-Encoding line: syntax first, then any coding but
 * chunked is 501, then chunked must be the single, last one (400). */
static enum http1_result h1_te_codings(struct h1_parse *p, struct http_str v)
{
    struct http_str e;
    size_t i = 0;
    unsigned any = 0, chunked = p->te_chunked ? 1 : 0;
    bool unknown = false, after_chunked = false;

    while (h1_list_next(v, &i, &e)) {
        if (e.n == 0)
            continue;
        if (!h1_all(e, H1_TCHAR))
            return h1_fail(p, 400, "invalid Transfer-Encoding");
        any++;
        if (chunked > 0)
            after_chunked = true;
        if (http_str_ieq(e, "chunked"))
            chunked++;
        else
            unknown = true;
    }
    if (any == 0)
        return h1_fail(p, 400, "empty Transfer-Encoding");
    /* A coding after chunked leaves the body without framing: that is a
     * framing error (RFC 9112 6.3) whatever the coding is. */
    if (after_chunked && chunked == 1)
        return h1_fail(p, 400, "chunked is not the last transfer coding");
    if (unknown)
        return h1_fail(p, 501, "unsupported transfer coding");
    if (chunked > 1)
        return h1_fail(p, 400, "chunked applied more than once");
    p->te_chunked = true;
    p->req->body = HTTP_BODY_CHUNKED;
    return HTTP1_DONE;
}

static enum http1_result h1_on_transfer_encoding(struct h1_parse *p, struct http_str v)
{
    if (p->req->version_minor == 0)
        return h1_fail(p, 400, "Transfer-Encoding in HTTP/1.0 request");
    p->te_seen = true;
    if (p->cl_seen)
        return h1_fail(p, 400, "Content-Length with Transfer-Encoding");
    return h1_te_codings(p, v);
}

static void h1_on_connection(struct h1_parse *p, struct http_str v)
{
    struct http_str e;
    size_t i = 0;

    while (h1_list_next(v, &i, &e)) {
        if (http_str_ieq(e, "close"))
            p->conn_close = true;
        else if (http_str_ieq(e, "keep-alive"))
            p->conn_keep = true;
    }
}

/* RFC 9110 10.1.1: 100-continue from an HTTP/1.0 client is ignored. */
static void h1_on_expect(struct h1_parse *p, struct http_str v)
{
    if (v.n == 0)
        return;
    if (!http_str_ieq(v, "100-continue"))
        p->req->expect_other = true;
    else if (p->req->version_minor == 1)
        p->req->expect_continue = true;
}

/* Repeated single-valued fields: the first one is kept. */
static void h1_keep_first(struct http_str *dst, struct http_str v)
{
    if (dst->p == NULL)
        *dst = v;
}

/* The known names by length, then by a case-insensitive compare. */
static enum http1_result h1_apply_header(struct h1_parse *p, const struct http_header *h)
{
    struct http1_req *r = p->req;
    const char *n = h->name.p;
    struct http_str v = h->value;

    switch (h->name.n) {
    case 4:
        if (h1_lower_eq(n, "host", 4))
            return h1_on_host(p, v);
        break;
    case 5:
        if (h1_lower_eq(n, "range", 5))
            h1_keep_first(&r->range, v);
        break;
    case 6:
        if (h1_lower_eq(n, "expect", 6))
            h1_on_expect(p, v);
        else if (h1_lower_eq(n, "cookie", 6))
            h1_keep_first(&r->cookie, v);
        break;
    case 7:
        if (h1_lower_eq(n, "referer", 7))
            h1_keep_first(&r->referer, v);
        break;
    case 8:
        if (h1_lower_eq(n, "if-match", 8))
            h1_keep_first(&r->if_match, v);
        else if (h1_lower_eq(n, "if-range", 8))
            h1_keep_first(&r->if_range, v);
        break;
    case 12:
        if (h1_lower_eq(n, "content-type", 12))
            h1_keep_first(&r->content_type, v);
        break;
    case 10:
        if (h1_lower_eq(n, "connection", 10))
            h1_on_connection(p, v);
        else if (h1_lower_eq(n, "user-agent", 10))
            h1_keep_first(&r->user_agent, v);
        break;
    case 13:
        if (h1_lower_eq(n, "if-none-match", 13))
            h1_keep_first(&r->if_none_match, v);
        else if (h1_lower_eq(n, "authorization", 13))
            h1_keep_first(&r->authorization, v);
        break;
    case 14:
        if (h1_lower_eq(n, "content-length", 14))
            return h1_on_content_length(p, v);
        break;
    case 15:
        if (h1_lower_eq(n, "accept-encoding", 15))
            h1_keep_first(&r->accept_encoding, v);
        break;
    case 17:
        if (h1_lower_eq(n, "transfer-encoding", 17))
            return h1_on_transfer_encoding(p, v);
        if (h1_lower_eq(n, "if-modified-since", 17))
            h1_keep_first(&r->if_modified_since, v);
        break;
    case 19:
        if (h1_lower_eq(n, "if-unmodified-since", 19))
            h1_keep_first(&r->if_unmodified_since, v);
        break;
    }
    return HTTP1_DONE;
}

static enum http1_result h1_bad_name_end(struct h1_parse *p, char c, bool empty)
{
    if (h1_ows(c))
        return h1_fail(p, 400, empty ? "obs-fold not allowed" : "whitespace before colon");
    if (c == '\n')
        return h1_fail(p, 400, "bare LF in request head");
    if (c == '\r')
        return h1_fail(p, 400, "header field without colon");
    if (c == ':')
        return h1_fail(p, 400, "empty header field name");
    return h1_fail(p, 400, "invalid character in header field name");
}

static enum http1_result h1_bad_value_end(struct h1_parse *p, char c)
{
    if (c == '\n')
        return h1_fail(p, 400, "bare LF in request head");
    return h1_fail(p, 400, "invalid character in header field value");
}

/* One field line at *pos: name ":" OWS value OWS CRLF. */
static enum http1_result h1_parse_field(struct h1_parse *p, size_t *pos)
{
    const char *b = p->buf;
    size_t start = *pos, i = start, nend, vstart;
    struct http_header *h;

    while (i < p->wend && H1_IS(b[i], H1_TCHAR))
        i++;
    if (i >= p->wend)
        return h1_need(p);
    if (b[i] != ':' || i == start)
        return h1_bad_name_end(p, b[i], i == start);
    nend = i++;
    while (i < p->wend && h1_ows(b[i]))
        i++;
    vstart = i;
    i = h1_scan(b, i, p->wend, H1_VALUE, h1_word_has_ctl);
    if (i >= p->wend)
        return h1_need(p);
    if (b[i] != '\r')
        return h1_bad_value_end(p, b[i]);
    if (i + 1 >= p->wend)
        return h1_need(p);
    if (b[i + 1] != '\n')
        return h1_fail(p, 400, "bare CR in request head");
    if (p->req->nheaders >= p->max_headers)
        return h1_fail(p, 431, "too many header fields");
    h = &p->req->headers[p->req->nheaders++];
    h->name = (struct http_str){b + start, nend - start};
    h->value = h1_trim(b + vstart, i - vstart);
    *pos = i + 2;
    return h1_apply_header(p, h);
}

static enum http1_result h1_parse_fields(struct h1_parse *p, size_t pos, size_t *end)
{
    const char *b = p->buf;
    enum http1_result r;

    for (;;) {
        if (pos >= p->wend)
            return h1_need(p);
        if (b[pos] == '\r') {
            if (pos + 1 >= p->wend)
                return h1_need(p);
            if (b[pos + 1] != '\n')
                return h1_fail(p, 400, "bare CR in request head");
            *end = pos + 2;
            return HTTP1_DONE;
        }
        r = h1_parse_field(p, &pos);
        if (r != HTTP1_DONE)
            return r;
    }
}

/* What only the whole head can tell. */
static enum http1_result h1_finish(struct h1_parse *p)
{
    struct http1_req *r = p->req;

    if (r->version_minor == 1 && p->nhost == 0)
        return h1_fail(p, 400, "missing Host header");
    r->keep_alive = (r->version_minor == 1 || p->conn_keep) && !p->conn_close;
    return HTTP1_DONE;
}

enum http1_result http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                                      struct http1_req *req, size_t *consumed, int *status,
                                      const char **reason)
{
    struct h1_parse p = {
        .buf = buf,
        .len = len,
        .max_target = lim->max_target,
        .max_headers = lim->max_headers < HTTP1_MAX_HEADERS ? lim->max_headers : HTTP1_MAX_HEADERS,
        .req = req,
        .status = status,
        .reason = reason,
    };
    size_t pos = 0, end = 0;
    enum http1_result r;

    *consumed = 0;
    h1_req_init(req);
    r = h1_skip_empty_lines(&p, &pos);
    if (r == HTTP1_DONE) {
        h1_set_window(&p, pos, lim->max_head);
        r = h1_parse_request_line(&p, &pos);
    }
    if (r == HTTP1_DONE)
        r = h1_parse_fields(&p, pos, &end);
    if (r == HTTP1_DONE)
        r = h1_finish(&p);
    if (r == HTTP1_DONE)
        *consumed = end;
    return r;
}

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

enum h1c_state {
    H1C_SIZE_START = 0, /* first HEXDIG of chunk-size */
    H1C_SIZE,           /* more HEXDIG, or what follows them */
    H1C_SIZE_BWS,       /* whitespace after chunk-size: only ";" may follow */
    H1C_EXT,            /* chunk-ext, up to CR */
    H1C_SIZE_LF,
    H1C_DATA,
    H1C_DATA_CR,
    H1C_DATA_LF,
    H1C_TRAILER_START, /* start of a trailer field or of the final CRLF */
    H1C_TRAILER_NAME,
    H1C_TRAILER_VALUE,
    H1C_TRAILER_LF,
    H1C_END_LF,
    H1C_DONE,
    H1C_FAILED_400, /* a previous call failed: keep failing the same way */
    H1C_FAILED_413,
};

/* One call of http1_chunked_decode. */
struct h1c_run {
    struct http1_chunked *st;
    uint64_t max_body;
    const char *reason;
};

static int h1c_fail(struct h1c_run *c, int status, const char *reason)
{
    c->reason = reason;
    c->st->state = status == 413 ? H1C_FAILED_413 : H1C_FAILED_400;
    return status;
}

static unsigned h1c_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)(h1_lower(c) - 'a') + 10;
}

/* A HEXDIG of chunk-size: at most 16 significant digits, within max_body. */
static int h1c_size_digit(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    if (st->remaining >> 60)
        return h1c_fail(c, 400, "chunk size too large");
    st->remaining = st->remaining * 16 + h1c_hexval(ch);
    if (st->total > c->max_body || st->remaining > c->max_body - st->total)
        return h1c_fail(c, 413, "request body too large");
    st->state = H1C_SIZE;
    return 0;
}

static int h1c_after_size(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    if (ch == '\r')
        st->state = H1C_SIZE_LF;
    else if (ch == ';')
        st->state = H1C_EXT;
    else if (h1_ows(ch))
        st->state = H1C_SIZE_BWS;
    else if (ch == '\n')
        return h1c_fail(c, 400, "bare LF in chunked body");
    else
        return h1c_fail(c, 400, "invalid chunk size");
    return 0;
}

/* The chunk-size line: size, optional extensions, CRLF. */
static int h1c_size_line(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    if (ch != '\r' && st->state != H1C_SIZE_LF && ++st->line_len > H1_CHUNK_LINE_MAX)
        return h1c_fail(c, 400, "chunk size line too long");
    switch (st->state) {
    case H1C_SIZE_START:
        if (!H1_IS(ch, H1_HEX))
            return h1c_fail(c, 400, "invalid chunk size");
        return h1c_size_digit(c, ch);
    case H1C_SIZE:
        if (H1_IS(ch, H1_HEX))
            return h1c_size_digit(c, ch);
        return h1c_after_size(c, ch);
    case H1C_SIZE_BWS:
        if (ch == ';')
            st->state = H1C_EXT;
        else if (!h1_ows(ch))
            return h1c_fail(c, 400, "invalid chunk extension");
        return 0;
    case H1C_EXT:
        if (ch == '\r')
            st->state = H1C_SIZE_LF;
        else if (ch == '\n')
            return h1c_fail(c, 400, "bare LF in chunked body");
        else if (!H1_IS(ch, H1_VALUE))
            return h1c_fail(c, 400, "invalid chunk extension");
        return 0;
    default: /* H1C_SIZE_LF */
        if (ch != '\n')
            return h1c_fail(c, 400, "bare CR in chunked body");
        st->line_len = 0;
        st->state = st->remaining == 0 ? H1C_TRAILER_START : H1C_DATA;
        return 0;
    }
}

static int h1c_trailer_start(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    if (ch == '\r')
        st->state = H1C_END_LF;
    else if (H1_IS(ch, H1_TCHAR))
        st->state = H1C_TRAILER_NAME;
    else if (h1_ows(ch))
        return h1c_fail(c, 400, "obs-fold not allowed in trailer");
    else if (ch == '\n')
        return h1c_fail(c, 400, "bare LF in chunked body");
    else
        return h1c_fail(c, 400, "invalid trailer field");
    return 0;
}

/* The trailer section: field lines, then CRLF. */
static int h1c_trailer(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    if (++st->trailer_bytes > H1_TRAILER_MAX)
        return h1c_fail(c, 400, "trailer section too large");
    switch (st->state) {
    case H1C_TRAILER_START:
        return h1c_trailer_start(c, ch);
    case H1C_TRAILER_NAME:
        if (ch == ':')
            st->state = H1C_TRAILER_VALUE;
        else if (!H1_IS(ch, H1_TCHAR))
            return h1c_fail(c, 400, "invalid trailer field");
        return 0;
    case H1C_TRAILER_VALUE:
        if (ch == '\r')
            st->state = H1C_TRAILER_LF;
        else if (!H1_IS(ch, H1_VALUE))
            return h1c_fail(c, 400,
                            ch == '\n' ? "bare LF in chunked body" : "invalid trailer field");
        return 0;
    case H1C_TRAILER_LF:
    case H1C_END_LF:
        if (ch != '\n')
            return h1c_fail(c, 400, "bare CR in chunked body");
        st->state = st->state == H1C_END_LF ? H1C_DONE : H1C_TRAILER_START;
        return 0;
    }
    return 0;
}

/* One framing byte (anything but chunk data). */
static int h1c_step(struct h1c_run *c, char ch)
{
    struct http1_chunked *st = c->st;

    switch (st->state) {
    case H1C_DATA_CR:
        if (ch != '\r')
            return h1c_fail(c, 400, "missing CRLF after chunk data");
        st->state = H1C_DATA_LF;
        return 0;
    case H1C_DATA_LF:
        if (ch != '\n')
            return h1c_fail(c, 400, "missing CRLF after chunk data");
        st->state = H1C_SIZE_START;
        return 0;
    case H1C_SIZE_START:
    case H1C_SIZE:
    case H1C_SIZE_BWS:
    case H1C_EXT:
    case H1C_SIZE_LF:
        return h1c_size_line(c, ch);
    default:
        return h1c_trailer(c, ch);
    }
}

/* Chunk data from buf[*in] down to buf[*out] (out <= in: framing shrinks). */
static void h1c_data(struct http1_chunked *st, char *buf, size_t len, size_t *in, size_t *out)
{
    size_t n = len - *in;

    if (n > st->remaining)
        n = (size_t)st->remaining;
    if (*out != *in)
        memmove(buf + *out, buf + *in, n);
    *in += n;
    *out += n;
    st->remaining -= n;
    st->total += n;
    if (st->remaining == 0)
        st->state = H1C_DATA_CR;
}

enum http1_result http1_chunked_decode(struct http1_chunked *st, char *buf, size_t len,
                                       uint64_t max_body, size_t *consumed, size_t *out_len,
                                       int *status, const char **reason)
{
    struct h1c_run c = {.st = st, .max_body = max_body, .reason = NULL};
    size_t in = 0, out = 0;
    int err = 0;

    if (st->state == H1C_FAILED_400 || st->state == H1C_FAILED_413) {
        err = st->state == H1C_FAILED_413 ? 413 : 400;
        c.reason = "chunked body already rejected";
    }
    while (err == 0 && in < len && st->state != H1C_DONE) {
        if (st->state == H1C_DATA)
            h1c_data(st, buf, len, &in, &out);
        else
            err = h1c_step(&c, buf[in++]);
    }
    *consumed = in;
    *out_len = out;
    if (err != 0) {
        if (status)
            *status = err;
        if (reason)
            *reason = c.reason;
        return HTTP1_ERROR;
    }
    return st->state == H1C_DONE ? HTTP1_DONE : HTTP1_AGAIN;
}
