/*
 * libFuzzer target for src/gopher/selector.c. The input is what a client
 * sends to the Gopher port; it is parsed whole and as prefixes, and on
 * GOPHER_DONE the fields are put back together and must give the line again.
 * Every invariant of the contract is checked; a violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gopher/selector.h"
#include "fuzz.h"

/* S[0..N) lies inside BUF[0..LEN); an absent field is {NULL, 0}. */
static bool inside(const char *s, size_t n, const char *buf, size_t len)
{
    if (s == NULL)
        return n == 0;
    return s >= buf && s <= buf + len && n <= (size_t)(buf + len - s);
}

static bool bytes_clean(const char *s, size_t n, bool tab_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0 || ch == 0x7f || ch == '\n' || ch == '\r' || (ch < 0x20 && ch != '\t'))
            return false;
        if (ch == '\t' && !tab_ok)
            return false;
    }
    return true;
}

static char marker_of(enum gopher_req_kind k)
{
    return k == GOPHER_REQ_PLUS ? '+' : k == GOPHER_REQ_ATTR ? '!' : '$';
}

/* The fields, joined by tabs as the client sent them, equal the line. */
static void check_rebuild(const struct gopher_req *q, const char *line, size_t len)
{
    char *b = malloc(len + 1);
    size_t o = 0;

    CHECK(b != NULL);
    memcpy(b, q->selector, q->selector_len);
    o = q->selector_len;
    if (q->search != NULL) {
        b[o++] = '\t';
        memcpy(b + o, q->search, q->search_len);
        o += q->search_len;
    }
    if (q->kind != GOPHER_REQ_PLAIN) {
        CHECK(q->extra != NULL && q->extra > line && q->extra[-1] == marker_of(q->kind));
        b[o++] = '\t';
        b[o++] = marker_of(q->kind);
        memcpy(b + o, q->extra, q->extra_len);
        o += q->extra_len;
    }
    CHECK(o == len && memcmp(b, line, len) == 0);
    free(b);
}

static void check_attrs(const struct gopher_req *q)
{
    static const char *const names[] = {"+INFO", "+ADMIN", "+VIEWS", "+ABSTRACT"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int w = gopher_attr_wanted(q->extra, q->extra_len, names[i]);
        if (q->extra_len == 0)
            CHECK(w);
        else if (w)
            CHECK(memmem(q->extra, q->extra_len, names[i], strlen(names[i])) != NULL);
    }
}

static void check_done(const struct gopher_req *q, const char *p, size_t n)
{
    size_t len;

    CHECK(q->line_len >= 1 && q->line_len <= n && q->line_len <= GOPHER_LINE_MAX + 2);
    CHECK(p[q->line_len - 1] == '\n' && memchr(p, '\n', q->line_len - 1) == NULL);
    len = q->line_len - 1;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    CHECK(len <= GOPHER_LINE_MAX);
    CHECK(q->selector != NULL && q->selector == p);
    CHECK(inside(q->selector, q->selector_len, p, len));
    CHECK(inside(q->search, q->search_len, p, len));
    CHECK(inside(q->extra, q->extra_len, p, len));
    CHECK(memchr(q->selector, '\0', q->selector_len) == NULL);
    if (q->kind == GOPHER_REQ_HTTP) {
        CHECK(q->selector_len == len && q->search == NULL && q->extra == NULL);
        CHECK(bytes_clean(q->selector, q->selector_len, true));
        CHECK(len >= 9 && memcmp(p + len - 9, " HTTP/1.", 8) == 0);
        return;
    }
    CHECK(q->kind <= GOPHER_REQ_DIR_ATTR);
    CHECK(bytes_clean(q->selector, q->selector_len, false));
    CHECK(q->search == NULL || bytes_clean(q->search, q->search_len, false));
    CHECK(q->extra == NULL || bytes_clean(q->extra, q->extra_len, false));
    CHECK(q->kind != GOPHER_REQ_PLAIN || q->extra == NULL);
    check_rebuild(q, p, len);
    check_attrs(q);
}

static enum gopher_parse parse_checked(const char *p, size_t n, struct gopher_req *q)
{
    const char *why = NULL;
    enum gopher_parse r = gopher_parse_request(p, n, q, &why);

    switch (r) {
    case GOPHER_DONE:
        check_done(q, p, n);
        break;
    case GOPHER_ERROR:
        CHECK(why != NULL && why[0] != '\0');
        break;
    case GOPHER_AGAIN:
        CHECK(n <= GOPHER_LINE_MAX + 1 && memchr(p, '\n', n) == NULL);
        break;
    default:
        CHECK(0);
    }
    return r;
}

static bool same_req(const struct gopher_req *a, const struct gopher_req *b)
{
    return a->kind == b->kind && a->selector == b->selector && a->selector_len == b->selector_len &&
           a->search == b->search && a->search_len == b->search_len && a->extra == b->extra &&
           a->extra_len == b->extra_len && a->line_len == b->line_len;
}

/* A prefix of K bytes: incomplete before the line end, the same result after it. */
static void check_prefix(const char *p, size_t k, enum gopher_parse full,
                         const struct gopher_req *fq)
{
    struct gopher_req q;
    enum gopher_parse r = parse_checked(p, k, &q);

    if (full == GOPHER_DONE && k < fq->line_len)
        CHECK(r == GOPHER_AGAIN);
    else if (full == GOPHER_DONE)
        CHECK(r == GOPHER_DONE && same_req(&q, fq));
    else if (full == GOPHER_AGAIN)
        CHECK(r == GOPHER_AGAIN);
    else if (r != GOPHER_AGAIN)
        CHECK(r == GOPHER_ERROR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gopher_req q;
    enum gopher_parse r;
    /* A heap copy of exactly SIZE bytes so ASan sees any over-read. */
    char *p = malloc(size ? size : 1);

    CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    r = parse_checked(p, size, &q);
    if (size > 0) {
        check_prefix(p, size - 1, r, &q);
        check_prefix(p, size / 2, r, &q);
    }
    if (r == GOPHER_DONE && q.line_len < size)
        parse_checked(p + q.line_len, size - q.line_len, &q); /* the next pipelined line */
    free(p);
    return 0;
}
