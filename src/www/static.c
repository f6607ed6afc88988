#include "www/static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/session.h"
#include "runtime/worker.h"
#include "runtime/accesslog.h"
#include "www/cond.h"
#include "www/dirlist.h"
#include "www/mime.h"
#include "runtime/fcache.h"
#include "runtime/path.h"
#include "www/range.h"
#include "www/www.h"

#define MAX_RANGES 16
#define DIRLIST_MAX_ENTRIES 10000
#define PATH_MAX_BYTES (8192 + 2)

struct reply {
    struct www_conn *c;
    const struct http1_req *req;
    const struct site *site;
    const struct www_file *wf; /* of the file being answered */
    bool head_only;
    bool file_sent; /* counts as a file sent */
};

/* What WWW derives once from a cached file (its fc_entry's ext): they never
 * change while the entry lives, so they are not rebuilt per request. */
struct www_file {
    const char *mime;
    char etag[ETAG_MAX];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1];
    char *hdr200; /* "Content-Type ... Accept-Ranges: bytes\r\n" of a full response */
    size_t hdr200_len;
};

bool www_static_accepts(enum http_method m)
{
    return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS;
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

static void out_str(struct www_conn *c, const char *s)
{
    www_out(c, s, strlen(s));
}

static void out_header_u64(struct www_conn *c, const char *name, size_t nlen, uint64_t v)
{
    char line[64];
    size_t n;

    memcpy(line, name, nlen);
    n = nlen + u64_to_str(v, line + nlen);
    line[n++] = '\r';
    line[n++] = '\n';
    www_out(c, line, n);
}

#define OUT_LIT(c, s) www_out((c), (s), sizeof(s) - 1)

static bool keep_alive(const struct reply *r)
{
    return !r->c->close_after;
}

static int minor(const struct reply *r)
{
    return r->req ? r->req->version_minor : 1;
}

static int reply_error(struct reply *r, int status, const char *reason)
{
    www_out_error(r->c, status, reason, r->c->stop_reading, r->head_only, minor(r), keep_alive(r));
    return status;
}

/* ---- accounting: statistics and the access log ---- */

static void count(struct www_conn *c, const struct site *s, enum stat_id id)
{
    stats_add(c->s.w->id, c->s.li->service_slot, id, 1);
    if (s)
        stats_add(c->s.w->id, s->stats_slot, id, 1);
}

static void account(struct reply *r, int status, uint64_t bytes)
{
    const struct http1_req *q = r->req;
    struct www_conn *c = r->c;
    struct alog_entry e = {0};

    count(c, r->site, STAT_TOTAL_REQUESTS);
    if (q == NULL || (q->method != HTTP_M_GET && q->method != HTTP_M_HEAD))
        count(c, r->site, STAT_OTHER_REQUESTS);
    else
        count(c, r->site, q->method == HTTP_M_GET ? STAT_GET_REQUESTS : STAT_HEAD_REQUESTS);
    if (status == 404)
        count(c, r->site, STAT_NOT_FOUND_ERRORS);
    if (r->file_sent)
        count(c, r->site, STAT_FILES_SENT);
    if (r->site == NULL || r->site->alog == NULL)
        return;
    e.time = clock_wall();
    e.client_ip = c->s.peer_ip;
    e.method = q ? (http1_method_name(q->method) ? http1_method_name(q->method) : "-") : "-";
    if (q && q->method == HTTP_M_UNKNOWN)
        e.method = "-";
    e.uri_stem = q ? q->path.p : "-";
    e.uri_stem_len = q ? q->path.n : 1;
    e.query = q ? q->query.p : NULL;
    e.query_len = q ? q->query.n : 0;
    e.protocol = (q && q->version_minor == 0) ? "HTTP/1.0" : "HTTP/1.1";
    e.status = status;
    e.bytes_sent = bytes;
    e.bytes_received = c->req_bytes;
    e.time_taken_ms = 0;
    if (q) {
        e.host = q->host.p, e.host_len = q->host.n;
        e.user_agent = q->user_agent.p, e.user_agent_len = q->user_agent.n;
        e.referer = q->referer.p, e.referer_len = q->referer.n;
    }
    e.server_ip = c->s.li->ip;
    e.server_port = c->s.li->port;
    e.site = r->site->name;
    alog_write(r->site->alog, c->s.w->id, &e);
}

void www_static_error(struct www_conn *c, const struct http1_req *req, int status,
                      const char *reason)
{
    struct reply r = {.c = c, .req = req, .site = c->s.site};
    uint64_t before = www_out_queued(c);

    r.head_only = req && req->method == HTTP_M_HEAD;
    reply_error(&r, status, reason);
    account(&r, status, www_out_queued(c) - before);
}

/* ---- file responses ---- */

static void www_file_free(void *p)
{
    struct www_file *wf = p;

    free(wf->hdr200);
    free(wf);
}

/* The entry's media type comes from the site's MIME map: an entry is keyed
 * by its vdir, which belongs to one site of one generation. */
static const struct www_file *www_file_of(struct fc_entry *fe, const struct mime_map *mime)
{
    struct www_file *wf = fe->ext;
    size_t cap;
    int n;

    if (wf != NULL)
        return wf;
    wf = xcalloc(1, sizeof(*wf));
    wf->mime = mime_lookup(mime, fe->rel, fe->rel_len);
    wf->etag_len = cond_make_etag(wf->etag, sizeof(wf->etag), (uint64_t)fe->size,
                                  (int64_t)fe->mtime, fe->mtime_nsec);
    clock_http_format(fe->mtime, wf->last_modified);
    cap = strlen(wf->mime) + wf->etag_len + 160;
    wf->hdr200 = xmalloc(cap);
    n = snprintf(wf->hdr200, cap,
                 "Content-Type: %s\r\nContent-Length: %lld\r\nLast-Modified: %s\r\n"
                 "ETag: %.*s\r\nAccept-Ranges: bytes\r\n",
                 wf->mime, (long long)fe->size, wf->last_modified, (int)wf->etag_len, wf->etag);
    wf->hdr200_len = (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
    fe->ext = wf;
    fe->ext_free = www_file_free;
    return wf;
}

static void out_file_headers(struct www_conn *c, const struct www_file *wf)
{
    OUT_LIT(c, "Last-Modified: ");
    www_out(c, wf->last_modified, HTTP_DATE_LEN);
    OUT_LIT(c, "\r\nETag: ");
    www_out(c, wf->etag, wf->etag_len);
    OUT_LIT(c, "\r\n");
}

static void out_body(struct reply *r, struct fc_entry *fe, uint64_t off, uint64_t len)
{
    if (r->head_only || len == 0)
        return;
    if (fe->body)
        www_out(r->c, fe->body + off, (size_t)len);
    else
        www_out_file(r->c, fe, (off_t)off, (size_t)len);
}

static int reply_not_modified(struct reply *r)
{
    www_out_status(r->c, 304);
    out_file_headers(r->c, r->wf);
    www_out_end_head(r->c, keep_alive(r), minor(r));
    return 304;
}

static int reply_full(struct reply *r, struct fc_entry *fe)
{
    struct www_conn *c = r->c;

    www_out_status(c, 200);
    www_out(c, r->wf->hdr200, r->wf->hdr200_len);
    www_out_end_head(c, keep_alive(r), minor(r));
    out_body(r, fe, 0, (uint64_t)fe->size);
    r->file_sent = true;
    return 200;
}

static int reply_unsatisfiable(struct reply *r, const struct fc_entry *fe, const char *why)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "Content-Range: bytes */%lld\r\n", (long long)fe->size);
    struct buf body = {0};

    buf_printf(&body, "<!DOCTYPE html>\n<html><head><title>416 Range Not Satisfiable</title>"
                      "</head>\n<body><h1>Range Not Satisfiable</h1>\n<p>%s</p></body></html>\n",
               why);
    www_out_status(r->c, 416);
    www_out(r->c, line, (size_t)n);
    OUT_LIT(r->c, "Content-Type: text/html; charset=utf-8\r\n");
    out_header_u64(r->c, "Content-Length: ", 16, body.len);
    www_out_end_head(r->c, keep_alive(r), minor(r));
    if (!r->head_only)
        www_out(r->c, body.data, body.len);
    buf_free(&body);
    return 416;
}

static int reply_one_range(struct reply *r, struct fc_entry *fe, const struct byte_range *br)
{
    struct www_conn *c = r->c;
    char line[96];
    int n = snprintf(line, sizeof(line), "Content-Range: bytes %llu-%llu/%lld\r\n",
                     (unsigned long long)br->first, (unsigned long long)br->last,
                     (long long)fe->size);

    www_out_status(c, 206);
    OUT_LIT(c, "Content-Type: ");
    out_str(c, r->wf->mime);
    OUT_LIT(c, "\r\n");
    www_out(c, line, (size_t)n);
    out_header_u64(c, "Content-Length: ", 16, br->last - br->first + 1);
    out_file_headers(c, r->wf);
    OUT_LIT(c, "Accept-Ranges: bytes\r\n");
    www_out_end_head(c, keep_alive(r), minor(r));
    out_body(r, fe, br->first, br->last - br->first + 1);
    r->file_sent = true;
    return 206;
}

static int reply_multi_range(struct reply *r, struct fc_entry *fe, const struct byte_range *br,
                             size_t count)
{
    struct www_conn *c = r->c;
    char boundary[21], part[512];
    size_t n;

    range_boundary(fe->ino ^ (uint64_t)fe->mtime ^ c->s.id ^ c->s.requests, boundary);
    www_out_status(c, 206);
    OUT_LIT(c, "Content-Type: multipart/byteranges; boundary=");
    www_out(c, boundary, 20);
    OUT_LIT(c, "\r\n");
    out_header_u64(c, "Content-Length: ", 16,
                   range_multipart_length(boundary, r->wf->mime, br, count, (uint64_t)fe->size));
    out_file_headers(c, r->wf);
    OUT_LIT(c, "Accept-Ranges: bytes\r\n");
    www_out_end_head(c, keep_alive(r), minor(r));
    r->file_sent = true;
    if (r->head_only)
        return 206;
    for (size_t i = 0; i < count; i++) {
        n = range_part_header(part, sizeof(part), boundary, r->wf->mime, &br[i], (uint64_t)fe->size,
                              i == 0);
        www_out(c, part, n);
        out_body(r, fe, br[i].first, br[i].last - br[i].first + 1);
    }
    n = range_part_trailer(part, sizeof(part), boundary);
    www_out(c, part, n);
    return 206;
}

static int reply_ranges(struct reply *r, struct fc_entry *fe)
{
    struct byte_range br[MAX_RANGES];
    size_t count = 0;
    const struct http1_req *q = r->req;

    if (q->if_range.n > 0 && !cond_if_range(q->if_range, r->wf->etag, r->wf->etag_len, fe->mtime))
        return reply_full(r, fe);
    switch (range_parse(q->range.p, q->range.n, (uint64_t)fe->size, br, MAX_RANGES, &count)) {
    case RANGE_OK:
        return count == 1 ? reply_one_range(r, fe, br) : reply_multi_range(r, fe, br, count);
    case RANGE_UNSATISFIABLE:
        return reply_unsatisfiable(r, fe, "No requested range is inside the file.");
    case RANGE_TOO_MANY:
        return reply_unsatisfiable(r, fe, "Too many ranges were requested.");
    case RANGE_NONE:
    default:
        return reply_full(r, fe);
    }
}

static int reply_file(struct reply *r, struct fc_entry *fe)
{
    int st;

    r->wf = www_file_of(fe, www_site_of(r->site)->mime);
    st = cond_evaluate(r->req, r->wf->etag, r->wf->etag_len, fe->mtime);

    if (st == 304)
        return reply_not_modified(r);
    if (st == 412)
        return reply_error(r, 412, "A precondition of the request does not hold.");
    /* HEAD gets the headers GET would get (RFC 9110 9.3.2), ranges included. */
    if (r->req->range.n > 0)
        return reply_ranges(r, fe);
    return reply_full(r, fe);
}

/* ---- directories ---- */

static int reply_redirect_slash(struct reply *r)
{
    struct www_conn *c = r->c;
    const struct http1_req *q = r->req;

    www_out_status(c, 301);
    OUT_LIT(c, "Location: ");
    www_out(c, q->path.p, q->path.n);
    OUT_LIT(c, "/");
    if (q->query.n > 0) {
        OUT_LIT(c, "?");
        www_out(c, q->query.p, q->query.n);
    }
    OUT_LIT(c, "\r\nContent-Length: 0\r\n");
    www_out_end_head(c, keep_alive(r), minor(r));
    return 301;
}

static int reply_listing(struct reply *r, struct fc_entry *dir, const struct vdir *v,
                         const char *path)
{
    struct buf body = {0};
    struct www_conn *c = r->c;

    if (dirlist_render(dir->fd, path, v->browse_flags, DIRLIST_MAX_ENTRIES, &body) == -1) {
        buf_free(&body);
        return reply_error(r, 403, "The directory cannot be read.");
    }
    www_out_status(c, 200);
    OUT_LIT(c, "Content-Type: text/html; charset=utf-8\r\n");
    out_header_u64(c, "Content-Length: ", 16, body.len);
    OUT_LIT(c, "Cache-Control: no-cache\r\n");
    www_out_end_head(c, keep_alive(r), minor(r));
    if (!r->head_only)
        www_out(c, body.data, body.len);
    buf_free(&body);
    return 200;
}

static int reply_directory(struct reply *r, struct fc_entry *dir, const struct vdir *v,
                           const char *path, size_t plen, const char *rel, size_t rlen)
{
    char doc[PATH_MAX_BYTES + 256];
    struct fc_entry *fe;
    int st;

    if (plen == 0 || path[plen - 1] != '/')
        return reply_redirect_slash(r);
    const struct www_site *ws = www_site_of(r->site);

    for (size_t i = 0; i < ws->ndefault_docs; i++) {
        size_t dlen = strlen(ws->default_docs[i]);
        if (rlen + dlen >= sizeof(doc))
            continue;
        memcpy(doc, rel, rlen);
        memcpy(doc + rlen, ws->default_docs[i], dlen + 1);
        fe = fcache_get(r->c->s.w->fcache, v, doc, rlen + dlen);
        if (fe->fd >= 0 && !fe->is_dir) {
            st = reply_file(r, fe);
            fcache_put(fe);
            return st;
        }
        fcache_put(fe);
    }
    if (v->browse)
        return reply_listing(r, dir, v, path);
    return reply_error(r, 403, "Directory browsing is not allowed here.");
}

/* ---- redirects to TLS ---- */

/* The first https:// binding of the site: its port, on the host asked for. */
static unsigned tls_port(const struct site *s)
{
    for (size_t i = 0; i < s->nbindings; i++)
        if (s->bindings[i].tls)
            return net_port((const struct sockaddr *)&s->bindings[i].addr.ss);
    return 0;
}

static size_t host_only(const struct http_str *h)
{
    if (h->n > 0 && h->p[0] == '[') {
        const char *close = memchr(h->p, ']', h->n);
        return close ? (size_t)(close - h->p) + 1 : h->n;
    }
    for (size_t i = h->n; i-- > 0;)
        if (h->p[i] == ':')
            return i;
    return h->n;
}

static int reply_redirect_tls(struct reply *r)
{
    struct www_conn *c = r->c;
    const struct http1_req *q = r->req;
    unsigned port = tls_port(r->site);
    char num[16];
    int n = snprintf(num, sizeof(num), ":%u", port);

    www_out_status(c, 301);
    OUT_LIT(c, "Location: https://");
    if (q->host.n > 0)
        www_out(c, q->host.p, host_only(&q->host));
    else if (strchr(c->s.li->ip, ':')) {
        OUT_LIT(c, "[");
        www_out(c, c->s.li->ip, strlen(c->s.li->ip));
        OUT_LIT(c, "]");
    } else
        www_out(c, c->s.li->ip, strlen(c->s.li->ip));
    if (port != 443)
        www_out(c, num, (size_t)n);
    www_out(c, q->path.p, q->path.n);
    if (q->query.n > 0) {
        OUT_LIT(c, "?");
        www_out(c, q->query.p, q->query.n);
    }
    OUT_LIT(c, "\r\nContent-Length: 0\r\n");
    www_out_end_head(c, keep_alive(r), minor(r));
    return 301;
}

/* ---- dispatch ---- */

static int reply_options(struct reply *r)
{
    www_out_status(r->c, 204);
    OUT_LIT(r->c, "Allow: GET, HEAD, OPTIONS\r\n");
    www_out_end_head(r->c, keep_alive(r), minor(r));
    return 204;
}

static int reply_method(struct reply *r)
{
    switch (r->req->method) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
        return 0;
    case HTTP_M_OPTIONS:
        return reply_options(r);
    case HTTP_M_UNKNOWN:
        return reply_error(r, 501, "This method is not implemented.");
    default:
        return reply_error(r, 405, "Static content accepts GET, HEAD and OPTIONS only.");
    }
}

static const char *open_reason(int status)
{
    if (status == 404)
        return "The requested file was not found.";
    if (status == 403)
        return "Access to this path is not allowed.";
    return "The file could not be opened.";
}

static int reply_path(struct reply *r)
{
    char path[PATH_MAX_BYTES];
    size_t plen, rlen;
    int st;
    const char *reason, *rel;
    const struct vdir *v;
    struct fc_entry *fe;

    if (path_normalize(r->req->path.p, r->req->path.n, path, sizeof(path), &plen, &st, &reason))
        return reply_error(r, st, reason);
    v = gen_find_vdir(r->site, path, plen);
    if (v == NULL)
        return reply_error(r, 404, "No virtual directory serves this path.");
    if (!(v->access & VDIR_READ))
        return reply_error(r, 403, "Read access is not allowed here.");
    rel = path + v->prefix_len;
    if (*rel == '/')
        rel++;
    rlen = plen - (size_t)(rel - path);
    if (v->require_tls && !r->c->s.tls)
        return reply_redirect_tls(r);
    fe = fcache_get(r->c->s.w->fcache, v, rel, rlen);
    if (fe->fd < 0)
        st = reply_error(r, path_errno_status(fe->err), open_reason(path_errno_status(fe->err)));
    else if (fe->is_dir)
        st = reply_directory(r, fe, v, path, plen, rel, rlen);
    else
        st = reply_file(r, fe);
    fcache_put(fe);
    return st;
}

void www_static_handle(struct www_conn *c, const struct http1_req *req)
{
    struct reply r = {.c = c, .req = req, .site = c->s.site};
    uint64_t before = www_out_queued(c);
    int st;

    r.head_only = req->method == HTTP_M_HEAD;
    if (r.site == NULL)
        st = reply_error(&r, 404, "No site is bound to this address.");
    else if (r.site->state != SITE_STARTED && !c->s.pause_exempt)
        st = reply_error(&r, 503, "This site is paused: it takes no new connections.");
    else if ((st = reply_method(&r)) != 0)
        ;
    else if (req->asterisk) {
        c->stop_reading = true;
        st = reply_error(&r, 400, "The target \"*\" is only valid with OPTIONS.");
    }
    else
        st = reply_path(&r);
    account(&r, st, www_out_queued(c) - before);
}
