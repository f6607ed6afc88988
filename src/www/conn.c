#include "www/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/tls.h"
#include "runtime/worker.h"
#include "version.h"
#include "www/h2.h"
#include "www/req.h"
#include "www/static.h"
#include "www/www.h"

#define OUT_HIGH_WATER (256 * 1024) /* stop parsing pipelined requests above this */
#define CONTINUE_100 "HTTP/1.1 100 Continue\r\n\r\n"

static const struct http1_limits limits = {
    .max_head = 32768,
    .max_target = 8192,
    .max_headers = 100,
};

static void conn_on_io(struct loop *l, struct loop_io *io, uint32_t events);
static void conn_read(struct www_conn *c);
static int conn_flush(struct www_conn *c);
static void conn_kick_later(struct www_conn *c);
static void conn_resume(struct www_conn *c);
static void conn_bw_resume(struct bw_waiter *bw);

/* ---- output queue ---- */

static void www_out(struct www_conn *c, const void *p, size_t n)
{
    struct buf *b = c->out;

    if (n == 0)
        return;
    if (b == NULL)
        b = c->out = worker_buf_get(c->s.w);
    if (b->cap - b->len < n) /* pooled buffers are usually big enough */
        buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Segment slots live in a pooled buffer while a response has file parts, so
 * an idle connection holds none and a busy one allocates nothing. */
static void conn_segs_get(struct www_conn *c)
{
    c->segbuf = worker_buf_get(c->s.w);
    buf_reserve(c->segbuf, CONN_MAX_SEGS * sizeof(struct conn_seg));
    c->segs = (struct conn_seg *)(void *)c->segbuf->data;
}

static void www_out_file(struct www_conn *c, struct fc_entry *fe, off_t off, size_t len)
{
    struct conn_seg *s;

    if (len == 0)
        return;
    if (c->out == NULL)
        c->out = worker_buf_get(c->s.w);
    if (c->segs == NULL)
        conn_segs_get(c);
    s = &c->segs[c->nsegs++];
    s->at = c->out->len;
    s->fe = fe;
    s->off = off;
    s->len = len;
    fe->refs++;
}

static uint64_t www_out_queued(const struct www_conn *c)
{
    uint64_t n = c->out ? c->out->len - c->out_sent : 0;

    for (unsigned i = c->seg_first; i < c->nsegs; i++)
        n += c->segs[i].len;
    return n;
}

static bool conn_out_pending(const struct www_conn *c)
{
    return (c->out != NULL && (c->out_sent < c->out->len || c->seg_first < c->nsegs)) ||
           xport_pending(&c->x);
}

static void conn_out_release(struct www_conn *c)
{
    for (unsigned i = c->seg_first; i < c->nsegs; i++)
        fcache_put(c->segs[i].fe);
    c->nsegs = c->seg_first = 0;
    c->out_sent = 0;
    worker_buf_put(c->s.w, c->out);
    c->out = NULL;
    worker_buf_put(c->s.w, c->segbuf);
    c->segbuf = NULL;
    c->segs = NULL;
}

/* Drop everything queued after the mark (a response that waited for a body
 * that turned out malformed). */
static void conn_out_truncate(struct www_conn *c, size_t mark, unsigned segs_mark)
{
    while (c->nsegs > segs_mark)
        fcache_put(c->segs[--c->nsegs].fe);
    if (c->out)
        c->out->len = mark;
}

void www_conn_out(struct www_conn *c, const void *p, size_t n)
{
    www_out(c, p, n);
}

void www_conn_out_file(struct www_conn *c, struct fc_entry *fe, off_t off, size_t len)
{
    www_out_file(c, fe, off, len);
}

struct buf *www_conn_out_buf(struct www_conn *c)
{
    if (c->out == NULL)
        c->out = worker_buf_get(c->s.w);
    return c->out;
}

bool www_conn_out_pending(const struct www_conn *c)
{
    return conn_out_pending(c);
}

/* ---- status lines and errors ---- */

/* "HTTP/1.1 200 OK\r\nDate: " for the common statuses, built once. */
static size_t status_line(int status, char *out, size_t cap)
{
    const char *text = www_status_text(status);
    size_t tlen = strlen(text);

    if (status < 100 || status > 999 || tlen + 32 > cap)
        return 0;
    memcpy(out, "HTTP/1.1 ", 9);
    out[9] = (char)('0' + status / 100);
    out[10] = (char)('0' + status / 10 % 10);
    out[11] = (char)('0' + status % 10);
    out[12] = ' ';
    memcpy(out + 13, text, tlen);
    memcpy(out + 13 + tlen, "\r\nDate: ", 8);
    return 21 + tlen;
}

static void www_out_status(struct www_conn *c, int status)
{
    static const char server[] = "\r\nServer: infosrv/" INFOSRV_VERSION "\r\n";
    char line[96];
    size_t n;

    if (status == 200) {
        www_out(c, "HTTP/1.1 200 OK\r\nDate: ", 23);
    } else {
        n = status_line(status, line, sizeof(line));
        www_out(c, line, n);
    }
    www_out(c, clock_http_date(), HTTP_DATE_LEN);
    www_out(c, server, sizeof(server) - 1);
}

static void www_out_end_head(struct www_conn *c, bool keep_alive, int version_minor)
{
    if (!keep_alive)
        www_out(c, "Connection: close\r\n\r\n", 21);
    else if (version_minor == 0)
        www_out(c, "Connection: keep-alive\r\n\r\n", 26);
    else
        www_out(c, "\r\n", 2);
}

/* ---- the HTTP/1.1 encoder of struct www_res ---- */

static struct www_conn *enc_conn(const struct www_res *res)
{
    return res->enc;
}

static void enc_status(struct www_res *res, int status)
{
    www_out_status(enc_conn(res), status);
}

static void enc_header(struct www_res *res, const char *lines, size_t n)
{
    www_out(enc_conn(res), lines, n);
}

static void enc_end_head(struct www_res *res)
{
    struct www_conn *c = enc_conn(res);

    if (res->close || (c->body_ends_conn && !c->detached))
        c->close_after = true;
    if (res->extra_len)
        www_out(c, res->extra, res->extra_len);
    if (res->stream && !res->head_only) { /* a body of unknown length */
        if (c->minor >= 1) {
            www_out(c, "Transfer-Encoding: chunked\r\n", 28);
            c->chunk_out = true;
        } else {
            c->close_after = true; /* HTTP/1.0: the end of the connection ends the body */
        }
    }
    www_out_end_head(c, !c->close_after, c->minor);
}

static void chunk_head(struct www_conn *c, size_t n)
{
    char line[24];
    int k = snprintf(line, sizeof(line), "%zx\r\n", n);

    www_out(c, line, (size_t)k);
}

static void enc_body(struct www_res *res, const void *p, size_t n)
{
    struct www_conn *c = enc_conn(res);

    if (c->chunk_out) {
        if (n == 0)
            return; /* a zero-size chunk would end the body */
        chunk_head(c, n);
        www_out(c, p, n);
        www_out(c, "\r\n", 2);
    } else {
        www_out(c, p, n);
    }
    if (c->detached)
        conn_kick_later(c);
}

static void enc_file(struct www_res *res, struct fc_entry *fe, off_t off, size_t len)
{
    struct www_conn *c = enc_conn(res);

    if (c->chunk_out && len > 0)
        chunk_head(c, len);
    www_out_file(c, fe, off, len);
    if (c->chunk_out && len > 0)
        www_out(c, "\r\n", 2);
    if (c->detached)
        conn_kick_later(c);
}

static uint64_t enc_queued(const struct www_res *res)
{
    return www_out_queued(enc_conn(res));
}

/* ---- handlers that answer later ---- */

static void conn_wake(struct www_wait *wt)
{
    struct www_conn *c = container_of(wt, struct www_conn, wait);

    c->waiting--;
    if (c->orphan) { /* closed and released while the handler waited */
        if (c->waiting == 0)
            free(c);
        return;
    }
    if (c->state == CS_DEAD || !c->suspended)
        return;
    c->suspended = false;
    c->retrying = true;
    conn_resume(c);
}

static struct www_wait *enc_suspend(struct www_res *res)
{
    struct www_conn *c = enc_conn(res);

    c->suspended = true;
    c->read_blocked = true;
    c->waiting++;
    c->wait.wake = conn_wake;
    return &c->wait;
}

static struct www_res *enc_detach(struct www_res *res)
{
    struct www_conn *c = enc_conn(res);

    c->dres = *res;
    c->detached = true;
    c->dres_base = c->s.bytes_out + c->resp_before;
    www_req_keep(c->cur_req, &c->dreq, &c->dstore);
    return &c->dres;
}

static void detached_end(struct www_conn *c)
{
    c->detached = false;
    c->body_paused = c->drain_wanted = false;
    c->dres.on_body = NULL;
    c->dres.on_drain = NULL;
    c->dres.on_abort = NULL;
    c->dres.arg = NULL;
}

static void enc_finish(struct www_res *res, int status)
{
    struct www_conn *c = enc_conn(res);

    if (c->chunk_out && !res->broken)
        www_out(c, "0\r\n\r\n", 5);
    c->chunk_out = false;
    if (res->close || res->broken)
        c->stop_reading = c->close_after = true;
    www_account(&c->dreq, c->s.site, status, c->s.bytes_out + www_out_queued(c) - c->dres_base,
                res->file_sent);
    detached_end(c);
    conn_kick_later(c);
}

static bool enc_room(const struct www_res *res)
{
    struct www_conn *c = enc_conn(res);
    bool room = www_out_queued(c) < OUT_HIGH_WATER && c->nsegs + 4 <= CONN_MAX_SEGS;

    if (!room)
        c->drain_wanted = true;
    return room;
}

static void enc_resume_body(struct www_res *res)
{
    struct www_conn *c = enc_conn(res);

    c->body_paused = false;
    conn_kick_later(c);
}

/* The handler is told the connection went away; it must not touch RES again. */
static void conn_detached_abort(struct www_conn *c)
{
    void (*abort_fn)(void *) = c->dres.on_abort;
    void *arg = c->dres.arg;

    if (!c->detached)
        return;
    detached_end(c);
    c->chunk_out = false;
    if (abort_fn)
        abort_fn(arg);
}

static const struct www_res_ops http1_encoder = {
    .status = enc_status,
    .header = enc_header,
    .end_head = enc_end_head,
    .body = enc_body,
    .file = enc_file,
    .queued = enc_queued,
    .suspend = enc_suspend,
    .detach = enc_detach,
    .finish = enc_finish,
    .room = enc_room,
    .resume_body = enc_resume_body,
};

size_t www_host_name_len(const struct http_str *host)
{
    size_t n = host->n;

    if (n > 0 && host->p[0] == '[') {
        const char *close = memchr(host->p, ']', n);
        return close ? (size_t)(close - host->p) + 1 : n;
    }
    for (size_t i = n; i-- > 0;)
        if (host->p[i] == ':')
            return i;
    return n;
}

/* The handler's view of a parsed head H (NULL: an unparsable request). */
static void conn_req(struct www_conn *c, const struct http1_req *h, struct www_req *q)
{
    memset(q, 0, sizeof(*q));
    q->s = &c->s;
    q->protocol = "HTTP/1.1";
    q->bytes_in = c->req_bytes;
    c->minor = 1;
    if (h == NULL)
        return;
    c->minor = h->version_minor;
    q->method = h->method;
    q->method_str = h->method_str;
    q->target = h->target;
    q->path = h->path;
    q->query = h->query;
    q->host = h->host;
    q->host_name = (struct http_str){h->host.p, www_host_name_len(&h->host)};
    q->asterisk = h->asterisk;
    q->protocol = h->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
    q->if_match = h->if_match;
    q->if_none_match = h->if_none_match;
    q->if_modified_since = h->if_modified_since;
    q->if_unmodified_since = h->if_unmodified_since;
    q->if_range = h->if_range;
    q->range = h->range;
    q->user_agent = h->user_agent;
    q->referer = h->referer;
    q->authorization = h->authorization;
    q->content_type = h->content_type;
    q->headers = h->headers;
    q->nheaders = h->nheaders;
    q->has_body = h->body == HTTP_BODY_CHUNKED || (h->body == HTTP_BODY_LENGTH && h->content_length > 0);
    q->length_known = h->body != HTTP_BODY_CHUNKED;
    q->content_length = h->body == HTTP_BODY_LENGTH ? h->content_length : 0;
    q->accept_encoding = h->accept_encoding;
}

/* Run HANDLER on the request (or ERROR when STATUS is set) and account for it. */
static void conn_respond(struct www_conn *c, const struct http1_req *h, int status,
                         const char *reason)
{
    struct www_req q;
    struct www_res res = {.ops = &http1_encoder, .enc = c, .close = c->stop_reading};
    uint64_t before = www_out_queued(c);

    conn_req(c, h, &q);
    res.head_only = q.method == HTTP_M_HEAD;
    if (status != 0) {
        www_res_error(&res, status, reason);
    } else {
        c->cur_req = &q;
        c->resp_before = before;
        status = www_static_handle(&q, &res);
        c->cur_req = NULL;
        if (status == WWW_SUSPENDED || status == WWW_DETACHED)
            return; /* answered later: after the wake, or by ops->finish */
        if (res.close)
            c->stop_reading = true;
    }
    www_account(&q, c->s.site, status, www_out_queued(c) - before, res.file_sent);
}

/* ---- life cycle ---- */

static uint32_t header_timeout_ms(const struct www_conn *c)
{
    const struct www_site *ws = www_site_of(c->s.site);

    return ws ? ws->header_timeout_ms : 10000;
}

static void conn_timeout(struct loop *l, struct loop_timer *t)
{
    struct www_conn *c = container_of(t, struct www_conn, timer);

    (void)l;
    if (c->bw.queued) { /* waiting for bandwidth is not a stalled client */
        loop_timer_set(c->s.w->loop, &c->timer, WWW_WRITE_TIMEOUT_MS, conn_timeout);
        return;
    }
    if (c->detached || c->suspended) { /* an upload stalled, or a check took too long */
        www_conn_close(c);
        return;
    }
    if (c->state != CS_HANDSHAKE && c->head_timer && !conn_out_pending(c)) {
        /* A request head (or the first one) did not arrive: say why. An idle
         * keep-alive connection runs the other timer and closes silently. */
        c->stop_reading = true;
        conn_respond(c, NULL, 408, "The request head did not arrive in time.");
        if (conn_flush(c) == 0) { /* still sending: give it a little longer */
            c->head_timer = false;
            loop_timer_set(c->s.w->loop, &c->timer, 2000, conn_timeout);
        }
        return;
    }
    www_conn_close(c);
}

static void conn_arm_timer(struct www_conn *c)
{
    const struct site *s = c->s.site;
    bool partial = c->in != NULL && buf_unread(c->in) > 0;
    struct loop *l = c->s.w->loop;

    if (c->state == CS_HANDSHAKE) {
        if (!loop_timer_armed(&c->timer))
            loop_timer_set(l, &c->timer, TLS_HANDSHAKE_TIMEOUT_MS, conn_timeout);
    } else if (conn_out_pending(c)) {
        c->head_timer = false;
        loop_timer_set(l, &c->timer, WWW_WRITE_TIMEOUT_MS, conn_timeout);
    } else if (c->detached && c->state != CS_BODY) {
        loop_timer_clear(l, &c->timer); /* the handler keeps its own time (cgi_timeout) */
    } else if (c->state == CS_BODY && c->detached) {
        /* an upload: the time allowed is between arrivals, not for the whole body */
        c->head_timer = true;
        loop_timer_set(l, &c->timer, header_timeout_ms(c), conn_timeout);
    } else if (partial || c->state == CS_BODY || c->s.requests == 0) {
        if (!c->head_timer || !loop_timer_armed(&c->timer)) {
            c->head_timer = true;
            loop_timer_set(l, &c->timer, header_timeout_ms(c), conn_timeout);
        }
    } else {
        c->head_timer = false;
        loop_timer_set(l, &c->timer, s ? s->idle_timeout_ms : 15000, conn_timeout);
    }
}

static void conn_start(struct www_conn *c);

void www_conn_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer)
{
    struct www_conn *c = xcalloc(1, sizeof(*c));
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    session_open(&c->s, &www_service, w, li, peer);
    c->io.fd = fd;
    c->io.cb = conn_on_io;
    c->s.tls = li->bind->tls;
    c->limit_slot = c->s.site_slot;
    c->state = c->s.tls ? CS_HANDSHAKE : CS_HEAD;
    throttle_waiter_init(&c->bw, &c->s, conn_bw_resume);
    c->h2c_maybe = !c->s.tls;
    if (xport_accept_init(&c->x, fd, li->bind, &c->s, w->rbuf, WORKER_RBUF) == -1) {
        www_conn_close(c);
        return;
    }
    if (loop_add(w->loop, &c->io, LOOP_IN) == -1) {
        log_warn("www: epoll add of a new connection");
        www_conn_close(c);
        return;
    }
    conn_start(c);
}

void www_conn_close(struct www_conn *c)
{
    struct worker *w = c->s.w;

    if (c->state == CS_DEAD)
        return;
    c->state = CS_DEAD;
    loop_timer_clear(w->loop, &c->timer);
    loop_timer_clear(w->loop, &c->kick);
    conn_detached_abort(c);
    buf_free(&c->dstore);
    throttle_cancel(&c->bw);
    xport_close(&c->x);
    if (c->h2)
        h2_free(c);
    conn_out_release(c);
    worker_buf_put(w, c->in);
    c->in = NULL;
    session_close(&c->s);
}

void www_conn_drain(struct www_conn *c)
{
    bool partial = c->in != NULL && buf_unread(c->in) > 0;

    if (c->h2) {
        h2_drain(c);
        return;
    }
    if (!partial && !conn_out_pending(c) && c->state != CS_BODY && !c->detached && !c->suspended)
        www_conn_close(c);
    else
        c->close_after = true;
}

void www_conn_retire(struct www_conn *c)
{
    if (c->h2)
        h2_drain(c);
    else
        www_conn_close(c);
}

/* ---- writing ---- */

/* Send queued bytes up to LIMIT, then file segments before SEG_LIMIT.
 * Returns 0 (progress, or *blocked) or -1 (connection dead). */
static int conn_flush_step(struct www_conn *c, size_t limit, unsigned seg_limit, bool *blocked)
{
    struct conn_seg *s = c->seg_first < seg_limit ? &c->segs[c->seg_first] : NULL;
    size_t upto = (s && s->at < limit) ? s->at : limit;
    ssize_t n;

    *blocked = false;
    if (c->out_sent < upto) {
        size_t want = upto - c->out_sent;
        const char *p = c->out->data + c->out_sent;
        bool more = s && s->at == upto;
        n = c->s.w->bw_limited ? throttle_write(&c->bw, &c->x, p, &want, more)
                               : xport_write(&c->x, p, want, more);
        if (n < 0)
            return n == XP_AGAIN ? (*blocked = true, 0) : -1;
        c->out_sent += (size_t)n;
        session_count_out(&c->s, (size_t)n);
        *blocked = (size_t)n < want && !c->s.tls; /* TLS takes what fits its record buffer */
        return 0;
    }
    if (s == NULL || s->at > limit)
        return *blocked = true, 0;
    n = c->s.w->bw_limited ? throttle_sendfile(&c->bw, &c->x, s->fe->fd, &s->off, &(size_t){s->len})
                           : xport_sendfile(&c->x, s->fe->fd, &s->off, s->len);
    if (n == XP_AGAIN)
        return *blocked = true, 0;
    if (n <= 0) /* an error, or the file shrank under us: the framing is lost */
        return -1;
    session_count_out(&c->s, (size_t)n);
    s->len -= (size_t)n;
    if (s->len == 0) {
        fcache_put(s->fe);
        c->seg_first++;
    }
    return 0;
}

/* Most responses fit the socket buffer at once, so EPOLLOUT is only
 * registered the first time a send would block: every ACK would otherwise
 * wake the loop for nothing. */
static int conn_watch_out(struct www_conn *c)
{
    if (loop_watch_out(c->s.w->loop, &c->io, &c->watch_out, true) == -1) {
        log_warn("www: epoll mod");
        www_conn_close(c);
        return -1;
    }
    return 0;
}

int www_conn_watch_out(struct www_conn *c)
{
    return conn_watch_out(c);
}

/* Returns -1 when the connection was closed. While a request body is
 * being skipped, the response queued for it (after resp_mark) is held back. */
static int conn_flush(struct www_conn *c)
{
    bool blocked = false;

    while (c->out != NULL) {
        bool held = c->state == CS_BODY;
        size_t limit = held ? c->resp_mark : c->out->len;
        unsigned seg_limit = held ? c->segs_mark : c->nsegs;
        bool segs_left = c->seg_first < seg_limit && c->segs[c->seg_first].at <= limit;
        if (c->out_sent >= limit && !segs_left)
            break;
        if (conn_flush_step(c, limit, seg_limit, &blocked) == -1) {
            www_conn_close(c);
            return -1;
        }
        if (blocked) /* by the socket, or waiting for bandwidth (the queue resumes it) */
            return c->bw.queued ? 0 : conn_watch_out(c);
    }
    /* TLS records made above leave in as few sends as the socket takes. */
    switch (xport_pending(&c->x) ? xport_flush(&c->x) : 0) {
    case XP_AGAIN:
        return conn_watch_out(c);
    case XP_ERROR:
        www_conn_close(c);
        return -1;
    }
    if (c->out != NULL && c->state != CS_BODY && !conn_out_pending(c)) {
        conn_out_release(c);
        xport_release(&c->x);
    }
    if (c->out == NULL && c->close_after && !c->detached && !c->suspended) {
        www_conn_close(c);
        return -1;
    }
    return 0;
}

int www_conn_flush(struct www_conn *c)
{
    return conn_flush(c);
}

/* ---- reading and parsing ---- */

/* Start skipping a request body; the response waits behind resp_mark. */
static void conn_begin_body(struct www_conn *c, const struct http1_req *req)
{
    c->state = CS_BODY;
    c->body_chunked = req->body == HTTP_BODY_CHUNKED;
    c->body_left = req->content_length;
    memset(&c->chunked, 0, sizeof(c->chunked));
}

/* A request runs on the newest generation the worker has, and on the site
 * its binding gives the host: the SNI name on TLS (chosen at the handshake),
 * the Host header on plain HTTP. */
void www_conn_choose_site(struct www_conn *c, struct http_str host)
{
    const struct binding *b = c->s.li->bind;

    session_adopt_gen(&c->s);
    if (!c->s.tls)
        session_set_site(&c->s, binding_site_for_host(b, host.p, www_host_name_len(&host)));
    else if (c->s.site == NULL && b)
        session_set_site(&c->s, b->default_site);
}

/* The runtime checked max_connections of the binding's default site at
 * accept; a site chosen later by SNI or Host is checked when the
 * connection first counts there. */
bool www_conn_site_full(struct www_conn *c)
{
    const struct site *s = c->s.site;

    if (s == NULL || c->s.site_slot == c->limit_slot)
        return false;
    c->limit_slot = c->s.site_slot;
    return s->max_connections > 0 && stats_current(s->stats_slot) > s->max_connections;
}

static bool body_skipped(enum http_method m)
{
    return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS;
}

static void conn_on_request(struct www_conn *c, const struct http1_req *req)
{
    bool has_body = req->body == HTTP_BODY_CHUNKED ||
                    (req->body == HTTP_BODY_LENGTH && req->content_length > 0);
    bool retry = c->retrying; /* the same request again, after its handler's wait */
    const struct www_site *ws;

    c->retrying = false;
    www_conn_choose_site(c, req->host);
    ws = www_site_of(c->s.site);
    if (!retry) {
        session_note_request(&c->s, req->method_str.p, req->method_str.n, req->target.p,
                             req->target.n);
        c->continue_sent = false;
    }
    if (!req->keep_alive || c->s.w->draining)
        c->close_after = true;
    if (www_conn_site_full(c)) {
        c->stop_reading = true;
        conn_respond(c, req, 503, "The site has too many connections right now.");
        return;
    }
    if (req->expect_other) {
        c->stop_reading = true;
        conn_respond(c, req, 417, "Only the 100-continue expectation is supported.");
        return;
    }
    if (has_body && req->body == HTTP_BODY_LENGTH && ws && req->content_length > ws->max_body) {
        c->stop_reading = true;
        conn_respond(c, req, 413, "The request body is larger than this server accepts.");
        return;
    }
    if (has_body && !www_static_accepts(req->method)) {
        /* Refused before reading the body: the body is never parsed, so the
         * connection cannot be reused. */
        c->stop_reading = true;
        c->close_after = true;
        conn_respond(c, req, 0, NULL);
        return;
    }
    /* GET, HEAD and OPTIONS bodies are read and dropped (100 first if asked
     * for); a handler that wants the body detaches before writing (uploads,
     * CGI); any other body is never parsed and the connection ends after the
     * answer (Connection: close, set by the encoder). */
    c->body_ends_conn = has_body && !body_skipped(req->method);
    if (has_body && req->expect_continue && !c->continue_sent && body_skipped(req->method)) {
        www_out(c, CONTINUE_100, sizeof(CONTINUE_100) - 1);
        c->continue_sent = true;
    }
    c->resp_mark = c->out ? c->out->len : 0;
    c->segs_mark = c->nsegs;
    conn_respond(c, req, 0, NULL);
    c->body_ends_conn = false;
    if (c->suspended)
        return;
    if (!has_body) {
        if (c->detached && c->dres.on_body)
            c->dres.on_body(c->dres.arg, NULL, 0); /* no body: its end at once */
        return;
    }
    if (c->detached && c->dres.on_body) {
        if (req->expect_continue && !c->continue_sent &&
            (c->out == NULL || c->out->len == c->resp_mark) && c->nsegs == c->segs_mark) {
            www_out(c, CONTINUE_100, sizeof(CONTINUE_100) - 1);
            c->resp_mark = c->out->len;
        }
        c->continue_sent = true;
    } else if (!body_skipped(req->method)) {
        c->stop_reading = true;
        c->close_after = true;
        return;
    }
    conn_begin_body(c, req);
}

static void conn_body_failed(struct www_conn *c, int status, const char *reason)
{
    conn_detached_abort(c);
    conn_out_truncate(c, c->resp_mark, c->segs_mark);
    c->state = CS_HEAD;
    c->stop_reading = true;
    conn_respond(c, NULL, status, reason);
}

/* Request-body bytes to the detached handler that reads them. */
static void conn_body_deliver(struct www_conn *c, const char *p, size_t n)
{
    if (!c->detached || c->dres.on_body == NULL)
        return; /* answered already: the body is skipped */
    if (c->dres.on_body(c->dres.arg, p, n) == WWW_BODY_PAUSE && n > 0)
        c->body_paused = true;
}

/* Consume request-body bytes from p[0..len): given to a detached handler,
 * else skipped. Returns bytes used. */
static size_t conn_body(struct www_conn *c, char *p, size_t len)
{
    const struct www_site *ws = www_site_of(c->s.site);
    size_t used, out_len;
    int status;
    const char *reason;
    enum http1_result r;

    if (!c->body_chunked) {
        used = len < c->body_left ? len : (size_t)c->body_left;
        c->body_left -= used;
        if (used > 0)
            conn_body_deliver(c, p, used);
        if (c->body_left == 0 && c->state == CS_BODY) {
            c->state = CS_HEAD;
            conn_body_deliver(c, NULL, 0);
        }
        return used;
    }
    r = http1_chunked_decode(&c->chunked, p, len, ws ? ws->max_body : 1 << 20, &used, &out_len,
                             &status, &reason);
    if (r == HTTP1_ERROR) {
        conn_body_failed(c, status, reason);
        return used;
    }
    if (out_len > 0)
        conn_body_deliver(c, p, out_len);
    if (r == HTTP1_DONE && c->state == CS_BODY) {
        c->state = CS_HEAD;
        conn_body_deliver(c, NULL, 0);
    }
    return used;
}

/* Parse and answer requests in p[0..len); returns bytes consumed. */
static size_t conn_process(struct www_conn *c, char *p, size_t len)
{
    size_t done = 0, used;
    struct http1_req req;
    int status;
    const char *reason;
    enum http1_result r;

    while (done < len && !c->stop_reading && c->state != CS_DEAD) {
        if (c->state == CS_BODY) {
            if (c->body_paused) {
                c->read_blocked = true;
                break;
            }
            done += conn_body(c, p + done, len - done);
            continue;
        }
        if (c->suspended || c->detached || (c->close_after && !c->retrying) ||
            (c->out && c->out->len - c->out_sent > OUT_HIGH_WATER) ||
            c->nsegs + 4 > CONN_MAX_SEGS) {
            c->read_blocked = true;
            break;
        }
        r = http1_parse_request(p + done, len - done, &limits, &req, &used, &status, &reason);
        if (r == HTTP1_AGAIN)
            break;
        if (r == HTTP1_ERROR) {
            c->stop_reading = true;
            c->req_bytes = len - done;
            conn_respond(c, NULL, status, reason);
            break;
        }
        c->req_bytes = used + (req.body == HTTP_BODY_LENGTH ? req.content_length : 0);
        conn_on_request(c, &req);
        if (c->suspended) { /* the head stays unread: it is parsed again after the wake */
            c->read_blocked = true;
            break;
        }
        done += used;
        c->head_timer = false;
    }
    return done;
}

/* Answer what C->in holds; frees it once empty or no longer wanted. */
static void conn_process_in(struct www_conn *c)
{
    size_t used = conn_process(c, buf_head(c->in), buf_unread(c->in));

    if (c->state == CS_DEAD)
        return;
    buf_consume(c->in, used);
    if (buf_unread(c->in) == 0 || c->stop_reading) {
        worker_buf_put(c->s.w, c->in);
        c->in = NULL;
    }
}

/* Process buffered input left by backpressure. */
static void conn_process_buffered(struct www_conn *c)
{
    if (c->in == NULL || buf_unread(c->in) == 0)
        return;
    c->read_blocked = false;
    conn_process_in(c);
}

/* Handle N fresh bytes at DATA (the transport's buffer): answered in place
 * when nothing is pending, the unparsed tail kept in c->in. */
static void conn_consume_input(struct www_conn *c, char *data, size_t n)
{
    size_t used;

    if (c->in != NULL) {
        buf_append(c->in, data, n);
        conn_process_in(c);
        return;
    }
    used = conn_process(c, data, n);
    if (c->state != CS_DEAD && used < n && !c->stop_reading) {
        c->in = worker_buf_get(c->s.w);
        buf_append(c->in, data + used, n - used);
    }
}

/* h2c by prior knowledge: a plain connection whose first bytes are the
 * HTTP/2 preface is handed to www/h2.c. While the bytes so far are a proper
 * prefix of it they wait in c->in. True when DATA was taken (kept, or the
 * connection switched); false: HTTP/1.1 parses c->in and DATA as usual. */
static bool conn_h2c(struct www_conn *c, char *data, size_t n)
{
    size_t have = c->in ? buf_unread(c->in) : 0;
    size_t m = have + n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN - have;
    struct buf *in;

    if (memcmp(data, &H2_PREFACE[have], m) != 0) {
        c->h2c_maybe = false;
        return false;
    }
    if (have + n < H2_PREFACE_LEN) {
        if (c->in == NULL)
            c->in = worker_buf_get(c->s.w);
        buf_append(c->in, data, n);
        return true;
    }
    c->h2c_maybe = false;
    if (have == 0) {
        h2_start(c, data, n);
        return true;
    }
    in = c->in;
    c->in = NULL;
    buf_append(in, data, n);
    h2_start(c, buf_head(in), buf_unread(in));
    worker_buf_put(c->s.w, in);
    return true;
}

/* Read and process until the transport is drained or input is held back. */
static void conn_read_some(struct www_conn *c)
{
    char *data;
    ssize_t n;

    while (c->state != CS_DEAD && !c->stop_reading && !c->read_blocked) {
        n = xport_read(&c->x, &data);
        if (n == XP_AGAIN) {
            if (c->x.want_write)
                conn_watch_out(c);
            break;
        }
        if (n <= 0) { /* EOF or error: answer what was complete, then close */
            if (n == 0 && (c->in == NULL || buf_unread(c->in) == 0) && conn_out_pending(c)) {
                c->close_after = true;
                break;
            }
            if (n == 0 && c->detached && c->state != CS_BODY) {
                c->close_after = c->stop_reading = true; /* answer the request, then close */
                break;
            }
            www_conn_close(c);
            return;
        }
        session_count_in(&c->s, (size_t)n);
        if (c->h2c_maybe && conn_h2c(c, data, (size_t)n))
            return; /* HTTP/2 now, or the rest of its preface is awaited */
        conn_consume_input(c, data, (size_t)n);
        if (c->x.drained) /* the socket is empty: no need for another read */
            break;
    }
}

/* Flush, and whenever the output drained while pipelined input was held
 * back, answer the held requests and read on: the socket will not signal
 * those bytes again (edge-triggered). Stops when a send would block. */
/* Input waits for a handler: the wake, the end of a detached response, or more room for a body. */
static bool conn_held(const struct www_conn *c)
{
    return c->suspended || c->body_paused || (c->detached && c->state != CS_BODY);
}

static void conn_pump(struct www_conn *c)
{
    for (;;) {
        if (c->state == CS_DEAD || conn_flush(c) == -1)
            return;
        if (c->detached && c->drain_wanted && c->dres.on_drain &&
            www_out_queued(c) < OUT_HIGH_WATER / 2) {
            c->drain_wanted = false;
            c->dres.on_drain(c->dres.arg);
            if (c->state == CS_DEAD)
                return;
            continue;
        }
        if (!c->read_blocked || conn_out_pending(c) || conn_held(c))
            break;
        conn_process_buffered(c);
        if (c->state == CS_DEAD)
            return;
        if (!c->read_blocked)
            conn_read_some(c);
    }
    if (c->state != CS_DEAD)
        conn_arm_timer(c);
}

static void conn_read(struct www_conn *c)
{
    conn_read_some(c);
    if (c->h2 == NULL)
        conn_pump(c);
}

/* After a wake, a finished or resumed handler: answer what is buffered, read on, send. */
static void conn_resume(struct www_conn *c)
{
    if (c->state == CS_DEAD)
        return;
    if (!conn_held(c)) {
        conn_process_buffered(c);
        if (c->state == CS_DEAD)
            return;
        if (!c->read_blocked && !conn_held(c))
            conn_read_some(c);
    }
    conn_pump(c);
}

static void conn_kick(struct loop *l, struct loop_timer *t)
{
    (void)l;
    conn_resume(container_of(t, struct www_conn, kick));
}

static void conn_kick_later(struct www_conn *c)
{
    if (c->state != CS_DEAD && !loop_timer_armed(&c->kick))
        loop_timer_set(c->s.w->loop, &c->kick, 0, conn_kick);
}

/* The bandwidth the connection waited for is there. */
static void conn_bw_resume(struct bw_waiter *bw)
{
    conn_pump(container_of(bw, struct www_conn, bw));
}

/* A plain HTTP request on a TLS port gets a plain answer saying so, as
 * nginx does, instead of a TLS alert the user's client cannot show: a TLS
 * handshake starts with byte 0x16, a request line with a capital letter. */
#define PLAIN_ON_TLS_BODY "This port speaks HTTPS: use an https:// address.\n"
_Static_assert(sizeof(PLAIN_ON_TLS_BODY) - 1 == 49, "Content-Length below");

static bool conn_plain_on_tls(struct www_conn *c)
{
    static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 49\r\nConnection: close\r\n\r\n" PLAIN_ON_TLS_BODY;
    char first;

    ssize_t n;

    if (c->tls_peeked)
        return false;
    n = recv(c->io.fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return false; /* nothing yet: look again when something arrives */
    c->tls_peeked = true;
    if (n == 0 || first < 'A' || first > 'Z') /* the handshake sees the end or a ClientHello */
        return false;
    if (send(c->io.fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("www: the plain answer on a TLS port: %d", errno);
    return true;
}

/* Drop what the client still sends until it closes (bounded by the timer):
 * closing with its request unread would reset the connection and could
 * lose the plain answer just sent. */
static void conn_linger_read(struct www_conn *c)
{
    if (net_discard(c->io.fd) == -1)
        www_conn_close(c);
}

static void conn_linger_timeout(struct loop *l, struct loop_timer *t)
{
    (void)l;
    www_conn_close(container_of(t, struct www_conn, timer));
}

static void conn_linger(struct www_conn *c)
{
    shutdown(c->io.fd, SHUT_WR);
    c->lingering = true;
    loop_timer_set(c->s.w->loop, &c->timer, 2000, conn_linger_timeout);
    conn_linger_read(c);
}

/* The TLS handshake: on completion the timer becomes the header timeout
 * and requests are read; data often arrives with the connection. */
static void conn_handshake(struct www_conn *c)
{
    int rc;

    if (conn_plain_on_tls(c)) {
        conn_linger(c);
        return;
    }
    if (!c->tls_peeked) { /* the first byte decides: a handshake now could eat a plain request */
        conn_arm_timer(c);
        return;
    }
    rc = xport_handshake(&c->x);

    if (rc == XP_AGAIN) {
        if (c->x.want_write)
            conn_watch_out(c);
        if (c->state != CS_DEAD)
            conn_arm_timer(c);
        return;
    }
    if (rc != 0) {
        www_conn_close(c);
        return;
    }
    c->state = CS_HEAD;
    loop_timer_clear(c->s.w->loop, &c->timer);
    if (xport_tls_alpn_is(&c->x, "h2"))
        h2_start(c, NULL, 0);
    else
        conn_read(c);
}

static void conn_start(struct www_conn *c)
{
    if (c->state == CS_HANDSHAKE)
        conn_handshake(c);
    else
        conn_read(c); /* data often arrives with the connection (deferred accept) */
}

static void conn_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct www_conn *c = container_of(io, struct www_conn, io);

    (void)l;
    if (c->state == CS_DEAD)
        return;
    if (events & EPOLLERR) {
        www_conn_close(c);
        return;
    }
    if (c->h2) {
        h2_on_io(c, events);
        return;
    }
    if (c->lingering) {
        conn_linger_read(c);
        return;
    }
    if (c->state == CS_HANDSHAKE) {
        conn_handshake(c);
        return;
    }
    if ((events & EPOLLOUT) && conn_out_pending(c)) {
        conn_pump(c);
        if (c->state == CS_DEAD)
            return;
    }
    /* A TLS read may wait for the socket to take its writes. */
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) || ((events & EPOLLOUT) && c->x.want_write))
        conn_read(c);
}
