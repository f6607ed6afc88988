/* item: item types, selectors, menu lines and dot-stuffing. */
#include "gopher/item.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "runtime/mime.h"

static bool prefixed(const char *type, const char *prefix)
{
    return strncmp(type, prefix, strlen(prefix)) == 0;
}

static bool one_of(const char *type, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(type, *list) == 0)
            return true;
    return false;
}

static char type_of_media(const char *type)
{
    static const char *const archives[] = {
        "application/zip",        "application/x-tar",      "application/gzip",
        "application/x-gzip",     "application/x-bzip2",    "application/x-xz",
        "application/x-7z-compressed", "application/x-rar-compressed", "application/zstd",
        "application/vnd.rar",    "application/x-compress", NULL};
    static const char *const documents[] = {
        "application/pdf", "application/msword", "application/rtf", "application/postscript",
        "application/epub+zip", NULL};

    if (strcmp(type, "text/html") == 0)
        return 'h';
    if (prefixed(type, "text/"))
        return '0';
    if (strcmp(type, "image/gif") == 0)
        return 'g';
    if (prefixed(type, "image/"))
        return 'I';
    if (prefixed(type, "audio/"))
        return 's';
    if (one_of(type, archives))
        return '5';
    if (one_of(type, documents) || prefixed(type, "application/vnd.oasis.opendocument.") ||
        prefixed(type, "application/vnd.openxmlformats-officedocument."))
        return 'd';
    return '9';
}

char gopher_item_type(const char *name, size_t len, bool is_dir, const struct mime_map *m)
{
    const char *dot = memrchr(name, '.', len);

    if (is_dir)
        return '1';
    /* README, ABOUT, NEWS: a name without an extension is text in gopherspace. */
    if (dot == NULL || dot == name)
        return '0';
    if (len - (size_t)(dot - name) == 4 && strncasecmp(dot, ".hqx", 4) == 0)
        return '4';
    return type_of_media(mime_lookup(m, name, len));
}

bool gopher_name_ok(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return len > 0;
}

void gopher_put_selector(struct buf *b, const char *s, size_t n)
{
    const char *pct;

    while ((pct = memchr(s, '%', n)) != NULL) {
        buf_append(b, s, (size_t)(pct - s));
        buf_append(b, "%25", 3);
        n -= (size_t)(pct - s) + 1;
        s = pct + 1;
    }
    buf_append(b, s, n);
}

void gopher_put_line(struct buf *b, char type, const char *display, size_t dlen,
                     const char *selector, size_t slen, const char *host, unsigned port, bool plus)
{
    char tail[24];
    int n = snprintf(tail, sizeof(tail), "\t%u%s\r\n", port, plus ? "\t+" : "");

    buf_append(b, &type, 1);
    buf_append(b, display, dlen);
    buf_append(b, "\t", 1);
    buf_append(b, selector, slen);
    buf_append(b, "\t", 1);
    buf_puts(b, host);
    buf_append(b, tail, (size_t)n);
}

void gopher_put_info(struct buf *b, const char *text, size_t len)
{
    gopher_put_line(b, 'i', text, len, "", 0, "null.host", 1, false);
}

size_t gopher_dotstuff(const char *in, size_t n, bool *line_start, char *out)
{
    size_t o = 0;
    bool start = *line_start;

    for (size_t i = 0; i < n;) {
        const char *lf;
        size_t run;
        if (start && in[i] == '.')
            out[o++] = '.';
        lf = memchr(in + i, '\n', n - i);
        run = lf ? (size_t)(lf - (in + i)) + 1 : n - i;
        memcpy(out + o, in + i, run);
        o += run;
        i += run;
        start = lf != NULL;
    }
    *line_start = start;
    return o;
}

void gopher_put_text_end(struct buf *b, bool line_start)
{
    if (!line_start)
        buf_append(b, "\r\n", 2);
    buf_append(b, ".\r\n", 3);
}
