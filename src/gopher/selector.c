/* selector: the Gopher request line. */
#include "gopher/selector.h"

#include <stdbool.h>
#include <string.h>

/* Methods a browser or an HTTP tool would send first. */
static bool http_request_line(const char *p, size_t n)
{
    static const char *const methods[] = {"GET ", "HEAD ", "POST ", "PUT ", "OPTIONS ", "DELETE "};
    bool method = false;

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !method; i++)
        method = n > strlen(methods[i]) && memcmp(p, methods[i], strlen(methods[i])) == 0;
    return method && n >= 9 && memcmp(p + n - 9, " HTTP/1.", 8) == 0;
}

/* The bytes of a line: no NUL, no control byte other than TAB. */
static const char *line_bytes_bad(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == 0)
            return "the selector contains a NUL byte";
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return "the selector contains a control character";
    }
    return NULL;
}

static bool is_marker(char c)
{
    return c == '+' || c == '!' || c == '$';
}

static void set_marker(struct gopher_req *out, const char *f, size_t n)
{
    out->kind = f[0] == '+' ? GOPHER_REQ_PLUS : f[0] == '!' ? GOPHER_REQ_ATTR : GOPHER_REQ_DIR_ATTR;
    out->extra = f + 1;
    out->extra_len = n - 1;
}

/* Split LINE into selector, search and the Gopher+ marker. */
static enum gopher_parse split_fields(const char *line, size_t n, struct gopher_req *out,
                                      const char **why)
{
    const char *f[4];
    size_t len[4], nf = 0, start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != '\t')
            continue;
        if (nf == 3)
            return *why = "the request line has more than three tab-separated fields",
                   GOPHER_ERROR;
        f[nf] = line + start;
        len[nf++] = i - start;
        start = i + 1;
    }
    out->selector = f[0];
    out->selector_len = len[0];
    if (nf == 2 && len[1] > 0 && is_marker(f[1][0])) {
        set_marker(out, f[1], len[1]);
    } else if (nf >= 2) {
        out->search = f[1];
        out->search_len = len[1];
    }
    if (nf == 3) {
        if (len[2] == 0 || !is_marker(f[2][0]))
            return *why = "the third field of a request must be a Gopher+ marker (+, ! or $)",
                   GOPHER_ERROR;
        set_marker(out, f[2], len[2]);
    }
    return GOPHER_DONE;
}

enum gopher_parse gopher_parse_request(const char *p, size_t n, struct gopher_req *out,
                                       const char **why)
{
    size_t scan = n < GOPHER_LINE_MAX + 2 ? n : GOPHER_LINE_MAX + 2;
    const char *lf = memchr(p, '\n', scan);
    size_t len;

    memset(out, 0, sizeof(*out));
    if (lf == NULL) {
        if (n > GOPHER_LINE_MAX + 1)
            return *why = "the selector line is longer than 1024 bytes", GOPHER_ERROR;
        return GOPHER_AGAIN;
    }
    len = (size_t)(lf - p);
    out->line_len = len + 1;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    if (len > GOPHER_LINE_MAX)
        return *why = "the selector line is longer than 1024 bytes", GOPHER_ERROR;
    if ((*why = line_bytes_bad(p, len)) != NULL)
        return GOPHER_ERROR;
    if (http_request_line(p, len)) {
        out->kind = GOPHER_REQ_HTTP;
        out->selector = p;
        out->selector_len = len;
        return GOPHER_DONE;
    }
    return split_fields(p, len, out, why);
}

int gopher_attr_wanted(const char *extra, size_t extra_len, const char *name)
{
    size_t nl = strlen(name);

    if (extra_len == 0)
        return 1; /* no list: every block */
    for (size_t i = 0; i + nl <= extra_len; i++)
        if (memcmp(extra + i, name, nl) == 0 && (i + nl == extra_len || extra[i + nl] == '+'))
            return 1;
    return 0;
}
