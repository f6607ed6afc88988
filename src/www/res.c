/* res: what every WWW handler writes the same way — status texts, numeric
 * header lines and error pages — through any encoder. */
#include "www/req.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"

const char *www_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static size_t u64_to_str(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void www_res_header_u64(struct www_res *res, const char *name, size_t nlen, uint64_t v)
{
    char line[96];
    size_t n;

    if (nlen > sizeof(line) - 26)
        return;
    memcpy(line, name, nlen);
    n = nlen + u64_to_str(v, line + nlen);
    line[n++] = '\r';
    line[n++] = '\n';
    res->ops->header(res, line, n);
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

/* The strings go to STORE as offsets first, pointers once it stops growing. */
static void keep_str(struct buf *b, struct http_str *s)
{
    size_t at = b->len;

    buf_append(b, s->p ? s->p : "", s->n);
    s->p = (const char *)(uintptr_t)at;
}

void www_req_keep(const struct www_req *in, struct www_req *out, struct buf *store)
{
    struct http_str *keep[] = {&out->method_str, &out->target, &out->path, &out->query,
                               &out->host, &out->host_name, &out->user_agent, &out->referer};

    *out = *in;
    out->headers = NULL;
    out->nheaders = 0;
    out->authorization = out->content_type = out->if_match = out->if_none_match =
        (struct http_str){0};
    out->if_modified_since = out->if_unmodified_since = out->if_range = out->range =
        (struct http_str){0};
    out->accept_encoding = (struct http_str){0};
    store->len = 0;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        keep_str(store, keep[i]);
    buf_reserve(store, 1);
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        keep[i]->p = store->data + (uintptr_t)keep[i]->p;
}

#define HEADER_LIT(res, s) (res)->ops->header((res), (s), sizeof(s) - 1)

void www_res_allow(struct www_res *res)
{
    const char *m = res->allow ? res->allow : "GET, HEAD, OPTIONS";
    char line[128];
    int n = snprintf(line, sizeof(line), "Allow: %s\r\n", m);

    if (n > 0 && (size_t)n < sizeof(line))
        res->ops->header(res, line, (size_t)n);
}

void www_res_error(struct www_res *res, int status, const char *reason)
{
    www_res_error_with(res, status, reason, NULL, 0);
}

void www_res_error_with(struct www_res *res, int status, const char *reason, const char *lines,
                        size_t n)
{
    struct buf body = {0};

    buf_printf(&body, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n<body><h1>%s</h1>\n",
               status, www_status_text(status), www_status_text(status));
    if (reason && *reason) {
        buf_puts(&body, "<p>");
        html_escape(&body, reason);
        buf_puts(&body, "</p>\n");
    }
    buf_puts(&body, "</body></html>\n");
    res->ops->status(res, status);
    if (status == 405 || status == 501)
        www_res_allow(res);
    if (n > 0)
        res->ops->header(res, lines, n);
    HEADER_LIT(res, "Content-Type: text/html; charset=utf-8\r\n");
    www_res_header_u64(res, "Content-Length: ", 16, body.len);
    res->ops->end_head(res);
    if (!res->head_only)
        res->ops->body(res, body.data, body.len);
    buf_free(&body);
}
