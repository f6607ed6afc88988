/* gmap: gophermap lines. */
#include "gopher/gmap.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* RFC 1436's types, Gopher+'s and the common extensions (h, i, I, s, d, p, ;). */
static const char item_types[] = "0123456789+TgIhisdp;cM:<w";

int gmap_type_ok(char t)
{
    return t != '\0' && strchr(item_types, t) != NULL;
}

static const char *bytes_bad(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return "the line contains a control character";
    }
    return NULL;
}

/* Field I (0-based) of P[0..N) split at tabs, or NULL past the last one. */
static const char *field(const char *p, size_t n, unsigned i, size_t *len)
{
    const char *end = p + n, *tab;

    for (; i > 0; i--) {
        tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            return NULL;
        p = tab + 1;
    }
    tab = memchr(p, '\t', (size_t)(end - p));
    *len = (size_t)((tab ? tab : end) - p);
    return p;
}

static int parse_port(const char *p, size_t n, unsigned *port)
{
    unsigned v = 0;

    if (n == 0) {
        *port = 0;
        return 0;
    }
    if (n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

static int parse_item(const char *p, size_t n, struct gmap_line *out, const char **why)
{
    size_t len;
    const char *f;

    if (!gmap_type_ok(p[0]))
        return *why = "unknown item type (the first character of a link line)", -1;
    out->kind = GMAP_ITEM;
    out->type = p[0];
    out->display = field(p + 1, n - 1, 0, &out->display_len);
    if ((f = field(p + 1, n - 1, 1, &len)) != NULL)
        out->selector = f, out->selector_len = len;
    if ((f = field(p + 1, n - 1, 2, &len)) != NULL)
        out->host = f, out->host_len = len;
    if ((f = field(p + 1, n - 1, 3, &len)) != NULL && parse_port(f, len, &out->port) == -1)
        return *why = "the port field is not a number from 1 to 65535", -1;
    if (out->display_len == 0 && out->selector_len == 0)
        return *why = "a link needs a display text or a selector", -1;
    for (size_t i = 0; i < out->host_len; i++)
        if (out->host[i] == ' ')
            return *why = "the host field contains a space", -1;
    return 0;
}

static int parse_special(const char *p, size_t n, struct gmap_line *out, const char **why)
{
    out->display = p + 1;
    out->display_len = n - 1;
    switch (p[0]) {
    case '#':
        out->kind = GMAP_COMMENT;
        return 0;
    case '!':
        out->kind = GMAP_TITLE;
        return 0;
    case '-':
        out->kind = GMAP_HIDE;
        return n > 1 ? 0 : (*why = "\"-\" needs the name of the entry to hide", -1);
    case '=':
        if (n > 1 && (isalnum((unsigned char)p[1]) || p[1] == '/' || p[1] == '.'))
            return *why = "\"=\" (including another map or a program's output) is not "
                          "supported", -1;
        break;
    case ':':
        if (memchr(p, '=', n) != NULL && memchr(p, ' ', n) == NULL)
            return *why = "\":\" (file type directives) is not supported", -1;
        break;
    }
    /* Banners such as "=====" are text. */
    out->kind = GMAP_INFO;
    out->display = p;
    out->display_len = n;
    return 0;
}

int gmap_parse_line(const char *p, size_t n, struct gmap_line *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n > GMAP_LINE_MAX)
        return *why = "the line is longer than 1024 bytes", -1;
    if ((*why = bytes_bad(p, n)) != NULL)
        return -1;
    if (n == 1 && p[0] == '*')
        return out->kind = GMAP_LISTING, 0;
    if (n == 1 && p[0] == '.')
        return out->kind = GMAP_END, 0;
    if (memchr(p, '\t', n) != NULL)
        return parse_item(p, n, out, why);
    if (n == 0) {
        out->kind = GMAP_INFO;
        out->display = p;
        return 0;
    }
    return parse_special(p, n, out, why);
}
