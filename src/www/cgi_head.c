#include "www/cgi_head.h"

#include <string.h>
#include <strings.h>

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is(struct http_str n, const char *lit)
{
    return n.n == strlen(lit) && strncasecmp(n.p, lit, n.n) == 0;
}

static enum cgi_head_result bad(const char **why, const char *what)
{
    *why = what;
    return CGI_HEAD_BAD;
}

static bool parse_status(struct http_str v, int *status)
{
    if (v.n < 3 || v.p[0] < '1' || v.p[0] > '5' || v.p[1] < '0' || v.p[1] > '9' || v.p[2] < '0' ||
        v.p[2] > '9' || (v.n > 3 && v.p[3] != ' '))
        return false;
    *status = (v.p[0] - '0') * 100 + (v.p[1] - '0') * 10 + (v.p[2] - '0');
    return true;
}

static bool parse_length(struct http_str v, uint64_t *out)
{
    uint64_t n = 0;

    if (v.n == 0 || v.n > 15)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return true;
}

/* One field NAME: VALUE into H. */
static enum cgi_head_result field(struct cgi_head *h, struct http_str n, struct http_str v,
                                  bool *has_status, const char **why)
{
    if (is(n, "status")) {
        if (*has_status || !parse_status(v, &h->status))
            return bad(why, "a Status field that is not one \"NNN reason\" with NNN 100-599");
        *has_status = true;
    } else if (is(n, "content-type")) {
        if (h->type.n || v.n == 0)
            return bad(why, "an empty or repeated Content-Type field");
        h->type = v;
    } else if (is(n, "location")) {
        if (h->location.n || v.n == 0)
            return bad(why, "an empty or repeated Location field");
        h->location = v;
    } else if (is(n, "content-length")) {
        if (h->has_length || !parse_length(v, &h->length))
            return bad(why, "a Content-Length field that is not one decimal number");
        h->has_length = true;
    } else if (is(n, "connection") || is(n, "keep-alive") || is(n, "transfer-encoding") ||
               is(n, "date") || is(n, "server") || is(n, "upgrade") ||
               is(n, "proxy-connection") || is(n, "te") || is(n, "trailer")) {
        /* the server frames the response itself */
    } else {
        if (h->nfields == CGI_MAX_FIELDS)
            return bad(why, "more than 64 header fields");
        h->fields[h->nfields].name = n;
        h->fields[h->nfields].value = v;
        h->nfields++;
    }
    return CGI_HEAD_DONE;
}

enum cgi_head_result cgi_head_parse(const char *buf, size_t len, struct cgi_head *h,
                                    const char **why)
{
    size_t pos = 0;
    bool has_status = false;
    enum cgi_head_result r;

    memset(h, 0, sizeof(*h));
    h->status = 200;
    for (;;) {
        const char *lf = memchr(buf + pos, '\n', len - pos);
        size_t end, i;
        struct http_str n, v;

        if (lf == NULL)
            return len >= CGI_HEAD_MAX ? bad(why, "a header section larger than 32 KiB")
                                       : CGI_HEAD_AGAIN;
        end = (size_t)(lf - buf);
        if (end + 1 > CGI_HEAD_MAX)
            return bad(why, "a header section larger than 32 KiB");
        if (end > pos && buf[end - 1] == '\r')
            end--;
        if (end == pos) { /* the blank line */
            h->head_len = (size_t)(lf - buf) + 1;
            break;
        }
        for (i = pos; i < end && tchar((unsigned char)buf[i]); i++)
            ;
        if (i == pos || i == end || buf[i] != ':')
            return bad(why, "a header line that is not \"Name: value\"");
        n = (struct http_str){buf + pos, i - pos};
        for (i++; i < end && (buf[i] == ' ' || buf[i] == '\t'); i++)
            ;
        v = (struct http_str){buf + i, end - i};
        while (v.n > 0 && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
            v.n--;
        for (size_t k = 0; k < v.n; k++)
            if (((unsigned char)v.p[k] < 0x20 && v.p[k] != '\t') || v.p[k] == 0x7f)
                return bad(why, "a control character in a header value");
        if ((r = field(h, n, v, &has_status, why)) != CGI_HEAD_DONE)
            return r;
        pos = (size_t)(lf - buf) + 1;
    }
    if (!has_status && h->type.n == 0 && h->location.n == 0)
        return bad(why, "no Content-Type, Location or Status field");
    if (!has_status && h->location.n > 0)
        h->status = 302;
    return CGI_HEAD_DONE;
}
