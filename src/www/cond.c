#include "www/cond.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"

/* One parsed entity-tag: its opaque-tag (with the quotes) and weakness. */
struct cond_tag {
    const char *p;
    size_t n;
    bool weak;
};

enum cond_match { COND_MALFORMED = -1, COND_NO_MATCH = 0, COND_MATCH = 1 };

size_t cond_make_etag(char *out, size_t cap, uint64_t size, int64_t mtime_sec, long mtime_nsec)
{
    int len;

    /* A nanosecond field outside its range would only lengthen the tag. */
    if (mtime_nsec < 0 || mtime_nsec > 999999999L)
        mtime_nsec = 0;
    len = snprintf(out, cap, "\"%llx-%lx-%llx\"", (unsigned long long)mtime_sec,
                   (unsigned long)mtime_nsec, (unsigned long long)size);
    if (len < 0 || (size_t)len >= cap)
        return 0;
    return (size_t)len;
}

static bool cond_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct http_str cond_trim(struct http_str s)
{
    if (s.p == NULL)
        s.n = 0;
    while (s.n > 0 && cond_is_ows(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && cond_is_ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* A header counts as present when it carries a non-empty value. */
static bool cond_present(struct http_str s)
{
    return cond_trim(s).n > 0;
}

static bool cond_is_star(struct http_str s)
{
    s = cond_trim(s);
    return s.n == 1 && s.p[0] == '*';
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool cond_is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* Parse one entity-tag at *p; advances *p past it. False when malformed. */
static bool cond_parse_tag(const char **p, const char *end, struct cond_tag *t)
{
    const char *q = *p;

    t->weak = false;
    if (end - q >= 2 && q[0] == 'W' && q[1] == '/') {
        t->weak = true;
        q += 2;
    }
    if (q == end || *q != '"')
        return false;
    t->p = q++;
    while (q < end && cond_is_etagc((unsigned char)*q))
        q++;
    if (q == end || *q != '"')
        return false;
    q++;
    t->n = (size_t)(q - t->p);
    *p = q;
    return true;
}

/* Our own ETag as a tag; a weak or malformed one never matches strongly. */
static bool cond_own_tag(const char *etag, size_t etag_len, struct cond_tag *t)
{
    const char *p = etag;

    if (etag == NULL || etag_len == 0)
        return false;
    return cond_parse_tag(&p, etag + etag_len, t) && p == etag + etag_len;
}

static bool cond_tag_eq(const struct cond_tag *a, const struct cond_tag *b, bool strong)
{
    if (strong && (a->weak || b->weak))
        return false;
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/*
 * Compare OURS with every tag of the list #entity-tag. The whole list is
 * parsed before answering so a malformed tail is never half-trusted.
 */
static enum cond_match cond_list_match(struct http_str list, const struct cond_tag *ours,
                                       bool strong)
{
    const char *p = list.p, *end;
    bool matched = false, any = false;
    struct cond_tag t;

    if (list.n == 0)
        return COND_MALFORMED;
    end = list.p + list.n;
    while (p < end) {
        if (cond_is_ows(*p) || *p == ',') {
            p++;
            continue;
        }
        if (!cond_parse_tag(&p, end, &t))
            return COND_MALFORMED;
        while (p < end && cond_is_ows(*p))
            p++;
        if (p < end && *p != ',')
            return COND_MALFORMED;
        any = true;
        if (ours != NULL && cond_tag_eq(&t, ours, strong))
            matched = true;
    }
    if (!any)
        return COND_MALFORMED;
    return matched ? COND_MATCH : COND_NO_MATCH;
}

static bool cond_matches(struct http_str field, const char *etag, size_t etag_len, bool strong)
{
    struct cond_tag ours;
    bool have = cond_own_tag(etag, etag_len, &ours);

    field = cond_trim(field);
    if (cond_is_star(field))
        return true;
    return cond_list_match(field, have ? &ours : NULL, strong) == COND_MATCH;
}

static bool cond_date(struct http_str field, time_t *t)
{
    field = cond_trim(field);
    return field.n > 0 && clock_http_parse(field.p, field.n, t);
}

static bool cond_get_or_head(const struct www_req *req)
{
    return req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
}

int cond_evaluate(const struct www_req *req, const char *etag, size_t etag_len, time_t mtime)
{
    time_t t;

    if (cond_present(req->if_match)) {
        if (!cond_matches(req->if_match, etag, etag_len, true))
            return 412;
    } else if (cond_date(req->if_unmodified_since, &t) && mtime > t) {
        return 412;
    }
    if (cond_present(req->if_none_match)) {
        if (cond_matches(req->if_none_match, etag, etag_len, false))
            return cond_get_or_head(req) ? 304 : 412;
    } else if (cond_get_or_head(req) && cond_date(req->if_modified_since, &t) && mtime <= t) {
        return 304;
    }
    return 0;
}

bool cond_if_range(struct http_str if_range, const char *etag, size_t etag_len, time_t mtime)
{
    struct cond_tag theirs, ours;
    const char *p, *end;
    time_t t;

    if_range = cond_trim(if_range);
    if (if_range.n == 0)
        return false;
    if (if_range.p[0] == '"' || (if_range.n >= 2 && memcmp(if_range.p, "W/", 2) == 0)) {
        p = if_range.p;
        end = if_range.p + if_range.n;
        if (!cond_parse_tag(&p, end, &theirs) || p != end)
            return false;
        return cond_own_tag(etag, etag_len, &ours) && cond_tag_eq(&theirs, &ours, true);
    }
    return clock_http_parse(if_range.p, if_range.n, &t) && t == mtime;
}
