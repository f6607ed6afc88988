/* negotiate: Accept-Encoding weights and the choice of a content coding. */
#include "www/negotiate.h"

#include <stdbool.h>
#include <strings.h>

#define Q_UNSET (-1)
#define Q_STAR CODINGS /* the slot of "*" in the table of explicit weights */

/* A cursor over one header value. */
struct cur {
    const char *p, *end;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    for (const char *e = extra; *e; e++)
        if (c == *e)
            return true;
    return false;
}

static void skip_ows(struct cur *c)
{
    while (c->p < c->end && is_ows(*c->p))
        c->p++;
}

static size_t token(struct cur *c)
{
    const char *start = c->p;

    while (c->p < c->end && is_tchar(*c->p))
        c->p++;
    return (size_t)(c->p - start);
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if malformed. */
static int qvalue(const char *p, size_t n)
{
    int v, scale = 100;

    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    v = (p[0] - '0') * QVALUE_MAX;
    if (n == 1)
        return v;
    if (p[1] != '.' || n > 5)
        return -1;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9' || (v == QVALUE_MAX && p[i] != '0'))
            return -1;
        v += (p[i] - '0') * scale;
    }
    return v;
}

/* *( OWS ";" OWS name "=" value ): the weight when a "q" parameter is there, else 1000;
 * -1 when the parameters are malformed. Other parameters are passed over. */
static int element_weight(struct cur *c)
{
    int q = QVALUE_MAX;

    for (;;) {
        skip_ows(c);
        if (c->p == c->end || *c->p == ',')
            return q;
        if (*c->p++ != ';')
            return -1;
        skip_ows(c);
        const char *name = c->p;
        size_t nlen = token(c);
        if (nlen == 0 || c->p == c->end || *c->p++ != '=')
            return -1;
        const char *val = c->p;
        size_t vlen = token(c);
        if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q') && (q = qvalue(val, vlen)) < 0)
            return -1;
    }
}

static int coding_slot(const char *p, size_t n)
{
    if (n == 1 && p[0] == '*')
        return Q_STAR;
    if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) || (n == 6 && strncasecmp(p, "x-gzip", 6) == 0))
        return CODING_GZIP;
    if (n == 2 && strncasecmp(p, "br", 2) == 0)
        return CODING_BR;
    if (n == 8 && strncasecmp(p, "identity", 8) == 0)
        return CODING_IDENTITY;
    return -1;
}

/* One list element at c->p; leaves c->p at the comma that ends it (or the end). */
static void element(struct cur *c, int explicit_q[CODINGS + 1])
{
    const char *name;
    size_t n;
    int slot, q;

    skip_ows(c);
    name = c->p;
    n = token(c);
    q = n > 0 ? element_weight(c) : -1;
    slot = q >= 0 ? coding_slot(name, n) : -1;
    if (slot >= 0 && explicit_q[slot] == Q_UNSET)
        explicit_q[slot] = q;
    while (c->p < c->end && *c->p != ',') /* what is left of a malformed element */
        c->p++;
}

void negotiate_accept_encoding(const char *s, size_t n, struct accept_codings *out)
{
    int explicit_q[CODINGS + 1];
    struct cur c = {s, s + n};

    for (int i = 0; i <= CODINGS; i++)
        explicit_q[i] = Q_UNSET;
    while (c.p < c.end) {
        element(&c, explicit_q);
        if (c.p < c.end)
            c.p++; /* the comma */
    }
    for (int i = 0; i < CODINGS; i++) {
        int q = explicit_q[i];
        if (q == Q_UNSET)
            q = explicit_q[Q_STAR] != Q_UNSET ? explicit_q[Q_STAR]
                : i == CODING_IDENTITY        ? QVALUE_MAX
                                              : 0;
        out->q[i] = (uint16_t)q;
    }
}

enum coding negotiate_choose(const struct accept_codings *a, unsigned available)
{
    /* In order of preference when weights tie. */
    static const enum coding order[] = {CODING_BR, CODING_GZIP, CODING_IDENTITY};
    enum coding best = CODING_IDENTITY;
    int best_q = 0;

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        enum coding k = order[i];
        if ((k == CODING_IDENTITY || (available & CODING_BIT(k))) && a->q[k] > best_q) {
            best = k;
            best_q = a->q[k];
        }
    }
    return best;
}

const char *negotiate_coding_name(enum coding c)
{
    switch (c) {
    case CODING_GZIP:
        return "gzip";
    case CODING_BR:
        return "br";
    default:
        return "identity";
    }
}
