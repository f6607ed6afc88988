/*
 * libFuzzer target for src/acme/proto.c. The input is what a CA could send:
 * split at each LF into header lines (each with its line end, as libcurl
 * hands them) for acme_header_line, and taken whole as a Retry-After value
 * and as a problem document. Each line may change only the field it names;
 * nonce, location and media type must be exactly the trimmed value or "".
 * Every invariant of the contract is checked; a violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme/proto.h"
#include "fuzz.h"

#define NOW ((time_t)1700000000) /* Tue, 14 Nov 2023 22:13:20 GMT */

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Only visible ASCII: what nonces, URLs and media types are made of. */
static bool visible(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Nothing that could forge a log line. */
static bool no_controls(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static void check_headers(const struct acme_headers *h)
{
    CHECK(terminated(h->nonce, sizeof(h->nonce)) && visible(h->nonce));
    CHECK(terminated(h->location, sizeof(h->location)) && visible(h->location));
    CHECK(terminated(h->link_up, sizeof(h->link_up)) && visible(h->link_up));
    CHECK(terminated(h->content_type, sizeof(h->content_type)) && visible(h->content_type));
    for (const char *c = h->content_type; *c; c++)
        CHECK((*c < 'A' || *c > 'Z') && *c != ';');
    CHECK(h->retry_after >= -1);
}

/* The value of LINE[0..N) when its field name is NAME (any case), else NULL. */
static const char *value_of(const char *line, size_t n, const char *name, size_t *vlen)
{
    size_t len = strlen(name);

    if (n <= len || line[len] != ':' || strncasecmp(line, name, len) != 0)
        return NULL;
    *vlen = n - len - 1;
    return line + len + 1;
}

/* What a visible-ASCII field must hold for value V[0..N): the trimmed value (in any case
 * when FOLD), or "". */
static bool holds_token(const char *field, size_t cap, const char *v, size_t n, bool fold)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return field[0] == '\0';
    if (n == 0 || n >= cap)
        return field[0] == '\0';
    return strlen(field) == n && (fold ? strncasecmp(field, v, n) : memcmp(field, v, n)) == 0;
}

/* LINK is "" or was sent between angle brackets. */
static bool link_from(const char *link, const char *v, size_t n)
{
    size_t len = strlen(link);

    if (len == 0)
        return true;
    for (const char *p = v; (p = memchr(p, '<', n - (size_t)(p - v))) != NULL; p++)
        if ((size_t)(v + n - p) >= len + 2 && memcmp(p + 1, link, len) == 0 && p[len + 1] == '>')
            return true;
    return false;
}

static void check_field(const char *before, const char *after, const char *line, size_t n,
                        const char *name)
{
    size_t vlen;

    if (value_of(line, n, name, &vlen) == NULL)
        CHECK(strcmp(before, after) == 0);
}

/* One line: each field changes only on its own header, and as the contract says. */
static void check_line(const struct acme_headers *was, const struct acme_headers *h,
                       const char *line, size_t n)
{
    const char *v;
    size_t vlen;

    check_headers(h);
    check_field(was->nonce, h->nonce, line, n, "Replay-Nonce");
    check_field(was->location, h->location, line, n, "Location");
    check_field(was->link_up, h->link_up, line, n, "Link");
    check_field(was->content_type, h->content_type, line, n, "Content-Type");
    if ((v = value_of(line, n, "Replay-Nonce", &vlen)) != NULL)
        CHECK(holds_token(h->nonce, sizeof(h->nonce), v, vlen, false));
    if ((v = value_of(line, n, "Location", &vlen)) != NULL)
        CHECK(holds_token(h->location, sizeof(h->location), v, vlen, false));
    if ((v = value_of(line, n, "Content-Type", &vlen)) != NULL) {
        const char *semi = memchr(v, ';', vlen);
        CHECK(holds_token(h->content_type, sizeof(h->content_type), v,
                          semi ? (size_t)(semi - v) : vlen, true));
    }
    if ((v = value_of(line, n, "Link", &vlen)) != NULL && strcmp(was->link_up, h->link_up) != 0)
        CHECK(link_from(h->link_up, v, vlen));
    if ((v = value_of(line, n, "Retry-After", &vlen)) != NULL)
        CHECK(h->retry_after == acme_retry_after(v, vlen, NOW));
    else
        CHECK(h->retry_after == was->retry_after);
}

static void fuzz_header_lines(const char *p, size_t size)
{
    struct acme_headers h, was;

    memset(&h, 0xaa, sizeof(h));
    acme_headers_reset(&h);
    check_headers(&h);
    for (size_t at = 0; at < size;) {
        const char *lf = memchr(p + at, '\n', size - at);
        size_t n = lf ? (size_t)(lf - (p + at)) + 1 : size - at;
        char *line = malloc(n); /* exactly the line, so ASan sees a read past it */

        CHECK(line != NULL);
        memcpy(line, p + at, n);
        was = h;
        acme_header_line(&h, line, n, NOW);
        check_line(&was, &h, line, n);
        free(line);
        at += n;
    }
}

static void fuzz_retry_after(const char *p, size_t size)
{
    long r = acme_retry_after(p, size, NOW), r0 = acme_retry_after(p, size, 0);

    CHECK(r >= -1 && r0 >= -1);
    CHECK((r == -1) == (r0 == -1));
    CHECK(r == -1 || r0 >= r); /* seconds until a date only grow as "now" goes back */
}

static void fuzz_problem(const char *p, size_t size)
{
    static const char bad_nonce[] = "urn:ietf:params:acme:error:badNonce";
    struct acme_problem pr;
    int rc;

    memset(&pr, 0xaa, sizeof(pr));
    rc = acme_problem_parse(p, size, 499, &pr);
    CHECK(rc == 0 || rc == -1);
    CHECK(terminated(pr.type, sizeof(pr.type)) && no_controls(pr.type));
    CHECK(terminated(pr.detail, sizeof(pr.detail)) && no_controls(pr.detail));
    if (rc == -1)
        CHECK(pr.status == 499 && pr.type[0] == '\0' && pr.detail[0] == '\0');
    CHECK(acme_problem_is(&pr, "badNonce") == (strcmp(pr.type, bad_nonce) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly SIZE bytes so ASan sees any over-read. */
    char *p = malloc(size ? size : 1);

    CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    fuzz_header_lines(p, size);
    fuzz_retry_after(p, size);
    fuzz_problem(p, size);
    free(p);
    return 0;
}
