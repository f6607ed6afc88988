#include "www/range.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

/*
 * Raw range-specs are collected into a fixed array before sorting, so the
 * work per header is bounded no matter what MAX the caller passes.
 */
#define RANGE_RAW_MAX 256

struct range_scan {
    const char *p, *end;
};

static bool range_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void range_skip_ows(struct range_scan *sc)
{
    while (sc->p < sc->end && range_is_ows(*sc->p))
        sc->p++;
}

static bool range_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1*DIGIT into *v; false when absent or beyond uint64_t. */
static bool range_number(struct range_scan *sc, uint64_t *v)
{
    const char *start = sc->p;
    uint64_t x = 0;

    while (sc->p < sc->end && range_is_digit(*sc->p)) {
        unsigned d = (unsigned)(*sc->p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
        sc->p++;
    }
    *v = x;
    return sc->p > start;
}

/* The "bytes=" prefix, unit case-insensitive. */
static bool range_unit(struct range_scan *sc)
{
    static const char unit[] = "bytes=";

    if ((size_t)(sc->end - sc->p) < sizeof(unit) - 1)
        return false;
    for (size_t i = 0; i < sizeof(unit) - 1; i++) {
        char c = sc->p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != unit[i])
            return false;
    }
    sc->p += sizeof(unit) - 1;
    return true;
}

/*
 * One range-spec, resolved against SIZE. Returns false on a syntax error;
 * *sat tells whether the spec selects any byte.
 */
static bool range_spec(struct range_scan *sc, uint64_t size, struct byte_range *r, bool *sat)
{
    uint64_t a, b;

    if (sc->p < sc->end && *sc->p == '-') { /* suffix-range */
        sc->p++;
        if (!range_number(sc, &b))
            return false;
        *sat = b > 0 && size > 0;
        r->first = b >= size ? 0 : size - b;
        r->last = size - 1;
        return true;
    }
    if (!range_number(sc, &a) || sc->p >= sc->end || *sc->p != '-')
        return false;
    sc->p++;
    b = UINT64_MAX;
    if (sc->p < sc->end && range_is_digit(*sc->p)) {
        if (!range_number(sc, &b) || b < a)
            return false;
    }
    *sat = a < size;
    r->first = a;
    r->last = b < size ? b : size - 1;
    return true;
}

/*
 * Walk the range-set: elements separated by commas with OWS, empty elements
 * allowed. Satisfiable specs go to raw[] (up to cap); *nspecs counts every
 * non-empty spec so the caller can refuse long headers. False on bad syntax.
 */
static bool range_scan_set(struct range_scan *sc, uint64_t size, struct byte_range *raw, size_t cap,
                           size_t *nraw, size_t *nspecs)
{
    struct byte_range r;
    bool sat;

    *nraw = *nspecs = 0;
    for (;;) {
        range_skip_ows(sc);
        if (sc->p == sc->end)
            break;
        if (*sc->p == ',') {
            sc->p++;
            continue;
        }
        if (!range_spec(sc, size, &r, &sat))
            return false;
        range_skip_ows(sc);
        if (sc->p < sc->end && *sc->p != ',')
            return false;
        if (++*nspecs <= cap && sat)
            raw[(*nraw)++] = r;
    }
    return *nspecs > 0;
}

static void range_sort(struct byte_range *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct byte_range x = r[i];
        size_t j = i;
        while (j > 0 && r[j - 1].first > x.first) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

/* Merge overlapping or adjacent ranges of a sorted array; returns the new count. */
static size_t range_coalesce(struct byte_range *r, size_t n)
{
    size_t k = 0;

    for (size_t i = 1; i < n; i++) {
        /* last < size <= UINT64_MAX, so last + 1 cannot wrap */
        if (r[i].first <= r[k].last + 1) {
            if (r[i].last > r[k].last)
                r[k].last = r[i].last;
        } else {
            r[++k] = r[i];
        }
    }
    return n ? k + 1 : 0;
}

static size_t range_spec_cap(size_t max)
{
    if (max >= (RANGE_RAW_MAX - 50) / 2)
        return RANGE_RAW_MAX;
    return 2 * max + 50;
}

enum range_result range_parse(const char *s, size_t n, uint64_t size, struct byte_range *out,
                              size_t max, size_t *count)
{
    struct byte_range raw[RANGE_RAW_MAX];
    size_t cap = range_spec_cap(max), nraw, nspecs;
    struct range_scan sc;

    *count = 0;
    if (s == NULL)
        return RANGE_NONE;
    sc.p = s;
    sc.end = s + n;
    range_skip_ows(&sc);
    if (!range_unit(&sc) || !range_scan_set(&sc, size, raw, cap, &nraw, &nspecs))
        return RANGE_NONE;
    if (nspecs > cap)
        return RANGE_TOO_MANY;
    if (nraw == 0)
        return RANGE_UNSATISFIABLE;
    range_sort(raw, nraw);
    nraw = range_coalesce(raw, nraw);
    if (nraw > max)
        return RANGE_TOO_MANY;
    for (size_t i = 0; i < nraw; i++)
        out[i] = raw[i];
    *count = nraw;
    return RANGE_OK;
}

/* splitmix64: a cheap, well-mixed step so nearby seeds give unrelated boundaries. */
static uint64_t range_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void range_boundary(uint64_t seed, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t state = seed;
    uint64_t a = range_splitmix(&state), b = range_splitmix(&state);

    for (int i = 0; i < 16; i++)
        out[i] = hex[(a >> (60 - 4 * i)) & 0xf];
    for (int i = 0; i < 4; i++)
        out[16 + i] = hex[(b >> (60 - 4 * i)) & 0xf];
    out[20] = '\0';
}

/* The one place the part-header format lives, so lengths and bytes agree. */
static int range_fmt_header(char *out, size_t cap, const char *boundary, const char *type,
                            const struct byte_range *r, uint64_t size, int first)
{
    return snprintf(out, cap,
                    "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                    "/%" PRIu64 "\r\n\r\n",
                    first ? "" : "\r\n", boundary, type, r->first, r->last, size);
}

static int range_fmt_trailer(char *out, size_t cap, const char *boundary)
{
    return snprintf(out, cap, "\r\n--%s--\r\n", boundary);
}

size_t range_part_header(char *out, size_t cap, const char *boundary, const char *type,
                         const struct byte_range *r, uint64_t size, int first)
{
    int len = range_fmt_header(out, cap, boundary, type, r, size, first);

    if (len < 0 || (size_t)len >= cap)
        return 0;
    return (size_t)len;
}

size_t range_part_trailer(char *out, size_t cap, const char *boundary)
{
    int len = range_fmt_trailer(out, cap, boundary);

    if (len < 0 || (size_t)len >= cap)
        return 0;
    return (size_t)len;
}

uint64_t range_multipart_length(const char *boundary, const char *type, const struct byte_range *r,
                                size_t count, uint64_t size)
{
    uint64_t total = 0;

    for (size_t i = 0; i < count; i++) {
        int h = range_fmt_header(NULL, 0, boundary, type, &r[i], size, i == 0);
        if (h > 0)
            total += (uint64_t)h;
        total += r[i].last - r[i].first + 1;
    }
    total += (uint64_t)range_fmt_trailer(NULL, 0, boundary);
    return total;
}
