/* proto: strict parsing of the headers and problem documents of ACME answers. */
#include "acme/proto.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/clock.h"

void acme_headers_reset(struct acme_headers *h)
{
    memset(h, 0, sizeof(*h));
    h->retry_after = -1;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r' ||
                  (*p)[*n - 1] == '\n'))
        (*n)--;
}

/* Copy a visible-ASCII value into OUT; an empty OUT when it has anything else or is too long. */
static void copy_token(char *out, size_t cap, const char *p, size_t n)
{
    out[0] = '\0';
    if (n == 0 || n >= cap)
        return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return;
    memcpy(out, p, n);
    out[n] = '\0';
}

long acme_retry_after(const char *p, size_t n, time_t now)
{
    long v = 0;
    time_t t;
    size_t i;

    trim(&p, &n);
    if (n == 0)
        return -1;
    for (i = 0; i < n && isdigit((unsigned char)p[i]); i++)
        if (v <= ACME_RETRY_AFTER_MAX)
            v = v * 10 + (p[i] - '0');
    if (i == n)
        return v > ACME_RETRY_AFTER_MAX ? ACME_RETRY_AFTER_MAX : v;
    if (!clock_http_parse(p, n, &t))
        return -1;
    if (t <= now)
        return 0;
    return t - now > ACME_RETRY_AFTER_MAX ? ACME_RETRY_AFTER_MAX : (long)(t - now);
}

/* Whether the parameters P[0..N) of one link-value say rel="up" (or rel=up,
 * or a rel list naming up among other relation types). */
static bool rel_is_up(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t start, end;
        while (i < n && (p[i] == ';' || p[i] == ' ' || p[i] == '\t'))
            i++;
        start = i;
        while (i < n && p[i] != ';')
            i = p[i] == '"' ? (memchr(p + i + 1, '"', n - i - 1)
                                   ? (size_t)((const char *)memchr(p + i + 1, '"', n - i - 1) - p) + 1
                                   : n)
                            : i + 1;
        end = i;
        if (end - start > 4 && strncasecmp(p + start, "rel=", 4) == 0) {
            const char *v = p + start + 4;
            size_t vn = end - start - 4;
            if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"')
                v++, vn -= 2;
            for (size_t k = 0; k < vn;) {
                size_t w = k;
                while (w < vn && v[w] != ' ')
                    w++;
                if (w - k == 2 && strncasecmp(v + k, "up", 2) == 0)
                    return true;
                k = w + 1;
            }
        }
    }
    return false;
}

/* Link: <URL>;rel="up", <URL2>;rel="index" — the first link-value of the line whose
 * rel is "up" (a later Link line replaces it, as later lines do for every header). */
static void link_up(struct acme_headers *h, const char *p, size_t n)
{
    bool found = false;
    size_t i = 0;

    while (i < n) {
        const char *end;
        size_t params, stop;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        if (i == n || p[i] != '<' || (end = memchr(p + i, '>', n - i)) == NULL)
            return;
        params = (size_t)(end - p) + 1;
        /* the link-value ends at a comma outside quotes */
        for (stop = params; stop < n && p[stop] != ','; stop++)
            if (p[stop] == '"') {
                const char *q = memchr(p + stop + 1, '"', n - stop - 1);
                if (q == NULL)
                    return;
                stop = (size_t)(q - p);
            }
        if (!found && rel_is_up(p + params, stop - params)) {
            copy_token(h->link_up, sizeof(h->link_up), p + i + 1, (size_t)(end - p - i - 1));
            found = true;
        }
        i = stop;
    }
}

static void content_type(struct acme_headers *h, const char *p, size_t n)
{
    const char *semi = memchr(p, ';', n);
    size_t len = semi ? (size_t)(semi - p) : n;

    trim(&p, &len);
    copy_token(h->content_type, sizeof(h->content_type), p, len);
    for (char *c = h->content_type; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

void acme_header_line(struct acme_headers *h, const char *p, size_t n, time_t now)
{
    const char *colon = memchr(p, ':', n);
    size_t nlen, vlen;
    const char *v;

    if (colon == NULL)
        return;
    nlen = (size_t)(colon - p);
    v = colon + 1;
    vlen = n - nlen - 1;
    trim(&v, &vlen);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(p, name, nlen) == 0)
    if (IS("Replay-Nonce"))
        copy_token(h->nonce, sizeof(h->nonce), v, vlen);
    else if (IS("Location"))
        copy_token(h->location, sizeof(h->location), v, vlen);
    else if (IS("Retry-After"))
        h->retry_after = acme_retry_after(v, vlen, now);
    else if (IS("Link"))
        link_up(h, v, vlen);
    else if (IS("Content-Type"))
        content_type(h, v, vlen);
#undef IS
}

/* The CA's text goes to the error log: nothing that could forge a line. */
static void copy_text(char *out, size_t cap, const char *s)
{
    size_t i = 0;

    for (; s && *s && i + 1 < cap; s++)
        out[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
    out[i] = '\0';
}

int acme_problem_parse(const char *body, size_t n, int status, struct acme_problem *pr)
{
    json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
    const json_t *t = json_object_get(j, "type"), *d = json_object_get(j, "detail");

    memset(pr, 0, sizeof(*pr));
    pr->status = status;
    if (!json_is_string(t)) {
        json_decref(j);
        return -1;
    }
    copy_text(pr->type, sizeof(pr->type), json_string_value(t));
    copy_text(pr->detail, sizeof(pr->detail), json_string_value(d));
    if (json_is_integer(json_object_get(j, "status")) &&
        json_integer_value(json_object_get(j, "status")) >= 100 &&
        json_integer_value(json_object_get(j, "status")) <= 599)
        pr->status = (int)json_integer_value(json_object_get(j, "status"));
    json_decref(j);
    return 0;
}

bool acme_problem_is(const struct acme_problem *pr, const char *name)
{
    static const char ns[] = "urn:ietf:params:acme:error:";

    return strncmp(pr->type, ns, sizeof(ns) - 1) == 0 &&
           strcmp(pr->type + sizeof(ns) - 1, name) == 0;
}
