#include "www/static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "runtime/challenge.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/session.h"
#include "runtime/worker.h"
#include "runtime/accesslog.h"
#include "www/auth.h"
#include "www/cgi.h"
#include "www/upload.h"
#include "www/coded.h"
#include "www/cond.h"
#include "www/dirlist.h"
#include "runtime/mime.h"
#include "runtime/fcache.h"
#include "runtime/path.h"
#include "www/negotiate.h"
#include "www/range.h"
#include "www/www.h"

#define MAX_RANGES 16
#define DIRLIST_MAX_ENTRIES 10000
#define PATH_MAX_BYTES (8192 + 2)

struct reply {
    const struct www_req *req;
    struct www_res *res;
    const struct site *site;
    const struct vdir *v;      /* the directory serving the path, once known */
    struct www_file *wf;       /* of the file being answered */
    bool head_only;
    bool file_sent; /* counts as a file sent */
};

/* What WWW derives once from a cached file (its fc_entry's ext): they never
 * change while the entry lives, so they are not rebuilt per request. The
 * coded representations are found on the first request that asks for them. */
struct www_file {
    const char *mime;
    char etag[ETAG_MAX];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1];
    char *hdr200; /* "Content-Type ... Accept-Ranges: bytes\r\n" of a full response */
    size_t hdr200_len;
    bool negotiable;                /* may be sent coded: every answer says Vary */
    struct www_gzip_copy gz;        /* the compressed-file cache's copy */
    struct www_coded *sib[CODINGS]; /* FILE.gz and FILE.br as last found */
};

bool www_static_accepts(enum http_method m)
{
    return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS || m == HTTP_M_PUT ||
           m == HTTP_M_DELETE || m == HTTP_M_POST;
}

#define HEAD_LIT(r, s) (r)->res->ops->header((r)->res, (s), sizeof(s) - 1)

static void body_bytes(struct reply *r, const void *p, size_t n)
{
    r->res->ops->body(r->res, p, n);
}

static int reply_error(struct reply *r, int status, const char *reason)
{
    const struct vdir_error_page *pg = vdir_error_page(r->v, status);

    if (pg == NULL) {
        www_res_error(r->res, status, reason);
        return status;
    }
    /* The site's own page (error_pages), read when the configuration was applied. */
    r->res->ops->status(r->res, status);
    if (status == 405 || status == 501)
        www_res_allow(r->res);
    char line[160];
    int n = snprintf(line, sizeof(line), "Content-Type: %s\r\n", pg->type);
    r->res->ops->header(r->res, line, (size_t)n); /* whole lines: HTTP/2 parses each call */
    www_res_header_u64(r->res, "Content-Length: ", 16, pg->len);
    r->res->ops->end_head(r->res);
    if (!r->head_only)
        body_bytes(r, pg->body, pg->len);
    return status;
}

/* ---- accounting: statistics and the access log ---- */

static const char *log_method(const struct www_req *q)
{
    const char *m = http1_method_name(q->method);

    return m && q->method != HTTP_M_UNKNOWN ? m : "-";
}

void www_account(const struct www_req *q, const struct site *site, int status, uint64_t bytes,
                 bool file_sent)
{
    const struct session *ss = q->s;
    struct alog_entry e = {0};

    session_stat(ss, STAT_TOTAL_REQUESTS);
    if (q->method != HTTP_M_GET && q->method != HTTP_M_HEAD)
        session_stat(ss, STAT_OTHER_REQUESTS);
    else
        session_stat(ss, q->method == HTTP_M_GET ? STAT_GET_REQUESTS : STAT_HEAD_REQUESTS);
    if (status == 404)
        session_stat(ss, STAT_NOT_FOUND_ERRORS);
    if (file_sent)
        session_stat(ss, STAT_FILES_SENT);
    if (site == NULL || site->alog == NULL)
        return;
    e.time = clock_wall();
    e.client_ip = ss->peer_ip;
    e.user = ss->user[0] ? ss->user : NULL;
    e.method = log_method(q);
    e.uri_stem = q->path.n ? q->path.p : "-";
    e.uri_stem_len = q->path.n ? q->path.n : 1;
    e.query = q->query.p;
    e.query_len = q->query.n;
    e.protocol = q->protocol;
    e.status = status;
    e.bytes_sent = bytes;
    e.bytes_received = q->bytes_in;
    e.host = q->host.p, e.host_len = q->host.n;
    e.user_agent = q->user_agent.p, e.user_agent_len = q->user_agent.n;
    e.referer = q->referer.p, e.referer_len = q->referer.n;
    e.server_ip = ss->li->ip;
    e.server_port = ss->li->port;
    e.site = site->name;
    alog_write(site->alog, ss->w->id, &e);
}

/* ---- file responses ---- */

static void www_file_free(void *p)
{
    struct www_file *wf = p;

    coded_free(wf->gz.coded);
    for (int k = 0; k < CODINGS; k++)
        coded_free(wf->sib[k]);
    free(wf->hdr200);
    free(wf);
}

/* The entry's media type comes from the site's MIME map and whether it may
 * be coded from its directory: an entry is keyed by its vdir, which belongs
 * to one site of one generation. */
static struct www_file *www_file_of(struct fc_entry *fe, const struct mime_map *mime,
                                    const struct vdir *v)
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
    wf->negotiable = coded_type_ok(v, wf->mime);
    cap = strlen(wf->mime) + wf->etag_len + 160 + sizeof(VARY_LINE);
    wf->hdr200 = xmalloc(cap);
    n = snprintf(wf->hdr200, cap,
                 "Content-Type: %s\r\nContent-Length: %lld\r\nLast-Modified: %s\r\n"
                 "ETag: %.*s\r\nAccept-Ranges: bytes\r\n%s",
                 wf->mime, (long long)fe->size, wf->last_modified, (int)wf->etag_len, wf->etag,
                 wf->negotiable ? VARY_LINE : "");
    wf->hdr200_len = (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
    fe->ext = wf;
    fe->ext_free = www_file_free;
    return wf;
}

/* One header line "NAME: VALUE\r\n" from pieces, emitted whole. */
static void head_line(struct reply *r, const char *name, const char *v1, size_t n1,
                      const char *v2, size_t n2)
{
    char line[512];
    size_t nl = strlen(name), n = nl + 2 + n1 + n2 + 2;
    struct buf big = {0};
    char *p = line;

    if (n > sizeof(line)) { /* a long Location: not the hot path */
        buf_reserve(&big, n);
        p = big.data;
    }
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, v1, n1);
    if (n2)
        memcpy(p + nl + 2 + n1, v2, n2);
    memcpy(p + n - 2, "\r\n", 2);
    r->res->ops->header(r->res, p, n);
    buf_free(&big);
}

/* The validators of the representation sent, and Vary when the file has several. */
static void out_validators(struct reply *r, const char *etag, size_t etag_len,
                           const char *last_modified)
{
    head_line(r, "Last-Modified", last_modified, HTTP_DATE_LEN, NULL, 0);
    head_line(r, "ETag", etag, etag_len, NULL, 0);
    if (r->wf->negotiable)
        HEAD_LIT(r, VARY_LINE);
}

static void out_file_headers(struct reply *r)
{
    out_validators(r, r->wf->etag, r->wf->etag_len, r->wf->last_modified);
}

static void out_body(struct reply *r, struct fc_entry *fe, uint64_t off, uint64_t len)
{
    if (r->head_only || len == 0)
        return;
    if (fe->body)
        body_bytes(r, fe->body + off, (size_t)len);
    else
        r->res->ops->file(r->res, fe, (off_t)off, (size_t)len);
}

/* The directory's content expiration (expires), on file responses. */
static void out_cache_headers(struct reply *r)
{
    char line[160], date[HTTP_DATE_LEN + 1];
    int n = 0;

    switch (r->v ? r->v->expires : EXPIRES_OFF) {
    case EXPIRES_IMMEDIATE:
        HEAD_LIT(r, "Cache-Control: no-cache\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
        return;
    case EXPIRES_AFTER:
        clock_http_format(clock_wall() + (time_t)r->v->expires_after_s, date);
        n = snprintf(line, sizeof(line), "Cache-Control: max-age=%u\r\nExpires: %s\r\n",
                     (unsigned)r->v->expires_after_s, date);
        break;
    case EXPIRES_ON:
        n = snprintf(line, sizeof(line), "Expires: %s\r\n", r->v->expires_on);
        break;
    case EXPIRES_OFF:
        return;
    }
    r->res->ops->header(r->res, line, (size_t)n);
}

static int reply_not_modified(struct reply *r, const char *etag, size_t etag_len,
                              const char *last_modified)
{
    r->res->ops->status(r->res, 304);
    out_validators(r, etag, etag_len, last_modified);
    out_cache_headers(r);
    r->res->ops->end_head(r->res);
    return 304;
}

static int reply_full(struct reply *r, struct fc_entry *fe)
{
    r->res->ops->status(r->res, 200);
    r->res->ops->header(r->res, r->wf->hdr200, r->wf->hdr200_len);
    out_cache_headers(r);
    r->res->ops->end_head(r->res);
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
    r->res->ops->status(r->res, 416);
    r->res->ops->header(r->res, line, (size_t)n);
    HEAD_LIT(r, "Content-Type: text/html; charset=utf-8\r\n");
    www_res_header_u64(r->res, "Content-Length: ", 16, body.len);
    r->res->ops->end_head(r->res);
    if (!r->head_only)
        body_bytes(r, body.data, body.len);
    buf_free(&body);
    return 416;
}

static int reply_one_range(struct reply *r, struct fc_entry *fe, const struct byte_range *br)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "Content-Range: bytes %llu-%llu/%lld\r\n",
                     (unsigned long long)br->first, (unsigned long long)br->last,
                     (long long)fe->size);

    r->res->ops->status(r->res, 206);
    head_line(r, "Content-Type", r->wf->mime, strlen(r->wf->mime), NULL, 0);
    r->res->ops->header(r->res, line, (size_t)n);
    www_res_header_u64(r->res, "Content-Length: ", 16, br->last - br->first + 1);
    out_file_headers(r);
    out_cache_headers(r);
    HEAD_LIT(r, "Accept-Ranges: bytes\r\n");
    r->res->ops->end_head(r->res);
    out_body(r, fe, br->first, br->last - br->first + 1);
    r->file_sent = true;
    return 206;
}

static int reply_multi_range(struct reply *r, struct fc_entry *fe, const struct byte_range *br,
                             size_t count)
{
    static const char multi[] = "multipart/byteranges; boundary=";
    const struct session *ss = r->req->s;
    char boundary[21], part[512];
    size_t n;

    range_boundary(fe->ino ^ (uint64_t)fe->mtime ^ ss->id ^ ss->requests, boundary);
    r->res->ops->status(r->res, 206);
    head_line(r, "Content-Type", multi, sizeof(multi) - 1, boundary, 20);
    www_res_header_u64(r->res, "Content-Length: ", 16,
                       range_multipart_length(boundary, r->wf->mime, br, count, (uint64_t)fe->size));
    out_file_headers(r);
    out_cache_headers(r);
    HEAD_LIT(r, "Accept-Ranges: bytes\r\n");
    r->res->ops->end_head(r->res);
    r->file_sent = true;
    if (r->head_only)
        return 206;
    for (size_t i = 0; i < count; i++) {
        n = range_part_header(part, sizeof(part), boundary, r->wf->mime, &br[i], (uint64_t)fe->size,
                              i == 0);
        body_bytes(r, part, n);
        out_body(r, fe, br[i].first, br[i].last - br[i].first + 1);
    }
    n = range_part_trailer(part, sizeof(part), boundary);
    body_bytes(r, part, n);
    return 206;
}

static int reply_ranges(struct reply *r, struct fc_entry *fe)
{
    struct byte_range br[MAX_RANGES];
    size_t count = 0;
    const struct www_req *q = r->req;

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

/* ---- content codings ---- */

/* The file may be gzipped now: the directory compresses on the fly, and the
 * file is big enough to gain from it (or the client refuses it unencoded). */
static bool gzip_on_the_fly(const struct reply *r, const struct fc_entry *fe,
                            const struct accept_codings *a)
{
    return r->v->compression == COMPRESSION_ON && !r->wf->gz.none &&
           ((uint64_t)fe->size >= r->v->compression_min || a->q[CODING_IDENTITY] == 0);
}

/* The representation Accept-Encoding picks among FE's siblings and gzip copy;
 * NULL for FE itself. A copy still being made leaves the choice to the others. */
static const struct www_coded *choose_coded(struct reply *r, struct fc_entry *fe)
{
    const struct www_coded *have[CODINGS] = {NULL};
    struct www_file *wf = r->wf;
    struct accept_codings a;
    unsigned avail = 0;
    bool started;
    enum coding k;

    negotiate_accept_encoding(r->req->accept_encoding.p, r->req->accept_encoding.n, &a);
    for (k = CODING_GZIP; k <= CODING_BR; k++)
        if (a.q[k] > 0 && (have[k] = coded_sibling(r->req->s->w->fcache, r->v, fe, k, wf->mime,
                                                   &wf->sib[k])) != NULL)
            avail |= CODING_BIT(k);
    if (have[CODING_GZIP] == NULL && a.q[CODING_GZIP] > 0 && gzip_on_the_fly(r, fe, &a))
        avail |= CODING_BIT(CODING_GZIP);
    k = negotiate_choose(&a, avail);
    if (k == CODING_GZIP && have[k] == NULL) {
        have[k] = coded_gzip_copy(fe, wf->mime, r->req->s->gen->zcache_bytes, &wf->gz, &started);
        if (started)
            session_stat(r->req->s, STAT_FILES_COMPRESSED);
        if (have[k] == NULL)
            k = negotiate_choose(&a, avail & ~CODING_BIT(CODING_GZIP));
    }
    return have[k];
}

static int reply_coded(struct reply *r, const struct www_coded *k)
{
    int st = cond_evaluate(r->req, k->etag, k->etag_len, k->mtime);

    if (st == 304)
        return reply_not_modified(r, k->etag, k->etag_len, k->last_modified);
    if (st == 412)
        return reply_error(r, 412, "A precondition of the request does not hold.");
    r->res->ops->status(r->res, 200);
    r->res->ops->header(r->res, k->hdr200, k->hdr200_len);
    out_cache_headers(r);
    r->res->ops->end_head(r->res);
    out_body(r, k->fe, 0, (uint64_t)k->fe->size);
    r->file_sent = true;
    return 200;
}

/* Ranges are always of the unencoded file: a Range request is not negotiated. */
static int reply_file(struct reply *r, struct fc_entry *fe)
{
    const struct www_coded *k = NULL;
    int st;

    r->wf = www_file_of(fe, www_site_of(r->site)->mime, r->v);
    if (r->wf->negotiable && r->req->accept_encoding.n > 0 && r->req->range.n == 0)
        k = choose_coded(r, fe);
    if (k != NULL)
        return reply_coded(r, k);
    st = cond_evaluate(r->req, r->wf->etag, r->wf->etag_len, fe->mtime);
    if (st == 304)
        return reply_not_modified(r, r->wf->etag, r->wf->etag_len, r->wf->last_modified);
    if (st == 412)
        return reply_error(r, 412, "A precondition of the request does not hold.");
    /* HEAD gets the headers GET would get (RFC 9110 9.3.2), ranges included. */
    if (r->req->range.n > 0)
        return reply_ranges(r, fe);
    return reply_full(r, fe);
}

/* ---- directories ---- */

/* 301 to V (the start of the URL, freed here) + PATH + AFTER + ?QUERY. */
static int reply_moved(struct reply *r, struct buf *v, const char *after)
{
    const struct www_req *q = r->req;

    buf_append(v, q->path.p, q->path.n);
    buf_puts(v, after);
    if (q->query.n > 0) {
        buf_puts(v, "?");
        buf_append(v, q->query.p, q->query.n);
    }
    r->res->ops->status(r->res, 301);
    head_line(r, "Location", v->data, v->len, NULL, 0);
    HEAD_LIT(r, "Content-Length: 0\r\n");
    r->res->ops->end_head(r->res);
    buf_free(v);
    return 301;
}

/* The directory's URL with its slash. */
static int reply_redirect_slash(struct reply *r)
{
    struct buf v = {0};

    return reply_moved(r, &v, "/");
}

static int reply_listing(struct reply *r, struct fc_entry *dir, const struct vdir *v,
                         const char *path)
{
    struct buf body = {0};

    if (dirlist_render(dir->fd, path, v->browse_flags, DIRLIST_MAX_ENTRIES, &body) == -1) {
        buf_free(&body);
        return reply_error(r, 403, "The directory cannot be read.");
    }
    r->res->ops->status(r->res, 200);
    HEAD_LIT(r, "Content-Type: text/html; charset=utf-8\r\n");
    www_res_header_u64(r->res, "Content-Length: ", 16, body.len);
    HEAD_LIT(r, "Cache-Control: no-cache\r\n");
    r->res->ops->end_head(r->res);
    if (!r->head_only)
        body_bytes(r, body.data, body.len);
    buf_free(&body);
    return 200;
}

static int reply_directory(struct reply *r, struct fc_entry *dir, const struct vdir *v,
                           const char *path, size_t plen, const char *rel, size_t rlen)
{
    const struct www_site *ws = www_site_of(r->site);
    char doc[PATH_MAX_BYTES + 256];
    struct fc_entry *fe;
    int st;

    if (plen == 0 || path[plen - 1] != '/')
        return reply_redirect_slash(r);
    for (size_t i = 0; i < ws->ndefault_docs; i++) {
        size_t dlen = strlen(ws->default_docs[i]);
        if (rlen + dlen >= sizeof(doc))
            continue;
        memcpy(doc, rel, rlen);
        memcpy(doc + rlen, ws->default_docs[i], dlen + 1);
        fe = fcache_get(r->req->s->w->fcache, v, doc, rlen + dlen);
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

/* "Location: https://HOST[:PORT]PATH?QUERY" on the site's TLS port. */
static int reply_redirect_tls(struct reply *r)
{
    const struct www_req *q = r->req;
    const char *ip = q->s->li->ip;
    unsigned port = tls_port(r->site);
    struct buf v = {0};

    buf_puts(&v, "https://");
    if (q->host_name.n > 0)
        buf_append(&v, q->host_name.p, q->host_name.n);
    else
        buf_printf(&v, strchr(ip, ':') ? "[%s]" : "%s", ip);
    if (port != 443)
        buf_printf(&v, ":%u", port);
    return reply_moved(r, &v, "");
}

/* ---- dispatch ---- */

static int reply_options(struct reply *r)
{
    r->res->ops->status(r->res, 204);
    www_res_allow(r->res);
    r->res->ops->end_head(r->res);
    return 204;
}

static int reply_method(struct reply *r)
{
    switch (r->req->method) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_PUT:
    case HTTP_M_DELETE:
    case HTTP_M_POST:
        return 0;
    case HTTP_M_OPTIONS:
        return r->req->asterisk ? reply_options(r) : 0;
    case HTTP_M_UNKNOWN:
        return reply_error(r, 501, "This method is not implemented.");
    default:
        return reply_error(r, 405, "Static content accepts GET, HEAD and OPTIONS only.");
    }
}

/* The methods a directory answers, for Allow. */
static const char *vdir_allow(const struct vdir *v)
{
    bool write = v->access & VDIR_WRITE, run = v->access & (VDIR_EXECUTE | VDIR_SCRIPT);

    if (write && run)
        return "GET, HEAD, OPTIONS, POST, PUT, DELETE";
    if (write)
        return "GET, HEAD, OPTIONS, PUT, DELETE";
    return run ? "GET, HEAD, OPTIONS, POST" : NULL;
}

/* OPTIONS, uploads and programs; 0 for a GET or HEAD of a file. */
static int reply_other_methods(struct reply *r, const struct vdir *v, const char *path,
                               size_t plen, const char *rel, size_t rlen)
{
    enum http_method m = r->req->method;
    struct cgi_target t;

    if (m == HTTP_M_OPTIONS)
        return reply_options(r);
    if (m == HTTP_M_PUT || m == HTTP_M_DELETE) {
        if (!(v->access & VDIR_WRITE))
            return reply_error(r, 405, "Files here cannot be uploaded or deleted (access_write).");
        return m == HTTP_M_PUT ? www_upload_put(r->req, r->res, v, rel, rlen)
                               : www_upload_delete(r->req, r->res, v, rel, rlen);
    }
    if (www_cgi_match(v, rel, rlen, &t))
        return www_cgi_run(r->req, r->res, v, path, plen, rel, rlen, &t);
    if (m == HTTP_M_POST)
        return reply_error(r, 405, "Static content accepts GET, HEAD and OPTIONS only.");
    return 0;
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
    r->v = v;
    r->res->extra = v->headers;
    r->res->extra_len = v->headers_len;
    if (!vdir_allows(v, r->req->s->peer_addr)) {
        session_stat(r->req->s, STAT_ACCESS_DENIED);
        return reply_error(r, 403, "Access from your address is not allowed here.");
    }
    if ((st = www_auth_check(r->req, r->res, v)) != 0)
        return st;
    if (v->require_tls && !r->req->s->tls)
        return reply_redirect_tls(r);
    rel = path + v->prefix_len;
    if (*rel == '/')
        rel++;
    rlen = plen - (size_t)(rel - path);
    r->res->allow = vdir_allow(v);
    if ((st = reply_other_methods(r, v, path, plen, rel, rlen)) != 0)
        return st;
    if (!(v->access & VDIR_READ))
        return reply_error(r, 403, "Read access is not allowed here.");
    fe = fcache_get(r->req->s->w->fcache, v, rel, rlen);
    if (fe->fd < 0)
        st = reply_error(r, path_errno_status(fe->err), open_reason(path_errno_status(fe->err)));
    else if (fe->is_dir)
        st = reply_directory(r, fe, v, path, plen, rel, rlen);
    else
        st = reply_file(r, fe);
    fcache_put(fe);
    return st;
}

/* An ACME CA fetching an HTTP-01 key authorization: answered before any
 * site setting (a paused site, require_tls) can send it elsewhere. */
static bool acme_challenge(struct reply *r)
{
    static const char prefix[] = CHALLENGE_HTTP_PREFIX;
    const struct http_str *p = &r->req->path;
    char answer[CHALLENGE_ANSWER_MAX + 1];
    int n;

    if ((r->req->method != HTTP_M_GET && r->req->method != HTTP_M_HEAD) ||
        p->n <= sizeof(prefix) - 1 || memcmp(p->p, prefix, sizeof(prefix) - 1) != 0)
        return false;
    n = challenge_http_get(p->p + sizeof(prefix) - 1, p->n - (sizeof(prefix) - 1), answer,
                           sizeof(answer));
    if (n < 0)
        return false;
    r->res->ops->status(r->res, 200);
    HEAD_LIT(r, "Content-Type: application/octet-stream\r\nCache-Control: no-store\r\n");
    www_res_header_u64(r->res, "Content-Length: ", 16, (uint64_t)n);
    r->res->ops->end_head(r->res);
    if (!r->head_only)
        body_bytes(r, answer, (size_t)n);
    return true;
}

int www_static_handle(const struct www_req *req, struct www_res *res)
{
    const struct session *s = req->s;
    struct reply r = {.req = req, .res = res, .site = s->site, .head_only = res->head_only};
    int st;

    req->s->user[0] = '\0'; /* anonymous until Basic credentials are verified */
    if (acme_challenge(&r))
        st = 200;
    else if (r.site == NULL)
        st = reply_error(&r, 404, "No site is bound to this address.");
    else if (r.site->state != SITE_STARTED && !s->pause_exempt)
        st = reply_error(&r, 503, "This site is paused: it takes no new connections.");
    else if ((st = reply_method(&r)) != 0)
        ;
    else if (req->asterisk) {
        res->close = true; /* as if the framing were lost: nothing more is read */
        st = reply_error(&r, 400, "The target \"*\" is only valid with OPTIONS.");
    } else
        st = reply_path(&r);
    res->file_sent = r.file_sent;
    return st;
}
