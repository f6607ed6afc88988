/* conn: Gopher connections on the worker loop. */
#include "gopher/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "gopher/gopher.h"
#include "gopher/item.h"
#include "gopher/selector.h"
#include "gopher/serve.h"
#include "runtime/accesslog.h"
#include "runtime/fcache.h"
#include "runtime/tls.h"
#include "runtime/worker.h"

#define WRITE_TIMEOUT_MS 60000
#define LINGER_MS 2000
#define TEXT_CHUNK 32768 /* file bytes read per step of a dot-stuffed text */

static void conn_on_io(struct loop *l, struct loop_io *io, uint32_t events);
static void conn_pump(struct gopher_conn *c);
static void conn_bw_resume(struct bw_waiter *bw);

/* ---- life cycle ---- */

static void conn_timeout(struct loop *l, struct loop_timer *t)
{
    struct gopher_conn *c = container_of(t, struct gopher_conn, timer);

    (void)l;
    if (c->bw.queued) { /* waiting for bandwidth is not a stalled client */
        loop_timer_set(c->s.w->loop, &c->timer, WRITE_TIMEOUT_MS, conn_timeout);
        return;
    }
    gopher_conn_close(c);
}

static void conn_arm_timer(struct gopher_conn *c, uint32_t ms)
{
    loop_timer_set(c->s.w->loop, &c->timer, ms, conn_timeout);
}

static uint32_t read_timeout_ms(const struct gopher_conn *c)
{
    return c->s.site ? c->s.site->idle_timeout_ms : 15000;
}

/* Menus name this server as the site's host name, else as the address the client reached. */
static void conn_advertise(struct gopher_conn *c)
{
    const struct gopher_site *gs = gopher_site_of(c->s.site);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    c->port = c->s.li->port;
    if (gs && gs->host)
        snprintf(c->host, sizeof(c->host), "%s", gs->host);
    else if (getsockname(c->io.fd, (struct sockaddr *)&ss, &len) == 0)
        net_host_str((struct sockaddr *)&ss, c->host, sizeof(c->host));
    else
        snprintf(c->host, sizeof(c->host), "%s", c->s.li->ip);
}

void gopher_conn_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer)
{
    struct gopher_conn *c = xcalloc(1, sizeof(*c));
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    session_open(&c->s, &gopher_service, w, li, peer);
    c->io.fd = fd;
    c->io.cb = conn_on_io;
    c->s.tls = li->bind->tls;
    c->started_ms = clock_ms();
    c->method = "-";
    c->state = c->s.tls ? GC_HANDSHAKE : GC_READ;
    throttle_waiter_init(&c->bw, &c->s, conn_bw_resume);
    if (xport_accept_init(&c->x, fd, li->bind, &c->s, w->rbuf, WORKER_RBUF) == -1) {
        gopher_conn_close(c);
        return;
    }
    if (loop_add(w->loop, &c->io, LOOP_IN) == -1) {
        log_warn("gopher: epoll add of a new connection");
        gopher_conn_close(c);
        return;
    }
    conn_arm_timer(c, c->s.tls ? TLS_HANDSHAKE_TIMEOUT_MS : read_timeout_ms(c));
    conn_on_io(w->loop, &c->io, LOOP_IN); /* the selector often arrives with the connection */
}

void gopher_conn_close(struct gopher_conn *c)
{
    struct worker *w = c->s.w;

    if (c->state == GC_DEAD)
        return;
    c->state = GC_DEAD;
    loop_timer_clear(w->loop, &c->timer);
    throttle_cancel(&c->bw);
    xport_close(&c->x);
    if (c->fe)
        fcache_put(c->fe);
    c->fe = NULL;
    worker_buf_put(w, c->in);
    worker_buf_put(w, c->out);
    c->in = c->out = NULL;
    session_close(&c->s);
}

void gopher_conn_drain(struct gopher_conn *c)
{
    if (c->state == GC_READ && (c->in == NULL || buf_unread(c->in) == 0))
        gopher_conn_close(c);
    /* otherwise the answer in progress ends with the close anyway */
}

/* ---- accounting ---- */

static void conn_account(struct gopher_conn *c)
{
    const struct site *site = c->s.site;
    struct alog_entry e = {0};

    if (site == NULL || site->alog == NULL)
        return;
    e.time = clock_wall();
    e.client_ip = c->s.peer_ip;
    e.method = c->method;
    e.uri_stem = c->selector[0] ? c->selector : "/";
    e.uri_stem_len = strlen(e.uri_stem);
    e.protocol = strchr(c->method, '+') || c->method[0] == '!' || c->method[0] == '$'
                     ? "GOPHER+" : "GOPHER";
    e.status = c->status;
    e.bytes_sent = c->s.bytes_out;
    e.bytes_received = c->bytes_in;
    e.time_taken_ms = clock_ms() - c->started_ms;
    e.server_ip = c->s.li->ip;
    e.server_port = c->s.li->port;
    e.site = site->name;
    alog_write(site->alog, c->s.w->id, &e);
}

/* ---- writing ---- */

static int conn_watch_out(struct gopher_conn *c)
{
    if (loop_watch_out(c->s.w->loop, &c->io, &c->watch_out, true) == -1) {
        log_warn("gopher: epoll mod");
        gopher_conn_close(c);
        return -1;
    }
    return 0;
}

/* The next piece of a dot-stuffed text file into c->out; false at its end. */
static bool conn_text_piece(struct gopher_conn *c)
{
    size_t want = (size_t)(c->end - c->off) < TEXT_CHUNK ? (size_t)(c->end - c->off) : TEXT_CHUNK;
    const char *src = NULL;
    ssize_t n = 0;

    if (want == 0)
        return false;
    if (c->fe->body) {
        src = c->fe->body + c->off;
        n = (ssize_t)want;
    } else {
        n = pread(c->fe->fd, c->s.w->rbuf, want, c->off);
        src = c->s.w->rbuf;
    }
    if (n <= 0)
        return false; /* shrank under us: end the text where it stops */
    buf_reserve(c->out, 2 * (size_t)n);
    c->out->len += gopher_dotstuff(src, (size_t)n, &c->line_start, c->out->data + c->out->len);
    c->off += n;
    return true;
}

/* Refill c->out from the file being sent; false when nothing is left to add. */
static bool conn_refill(struct gopher_conn *c)
{
    if (c->fe == NULL || !c->text)
        return false;
    buf_reset(c->out);
    c->out_sent = 0;
    if (!conn_text_piece(c)) {
        gopher_put_text_end(c->out, c->line_start);
        fcache_put(c->fe);
        c->fe = NULL;
    }
    return true;
}

/* Send a raw file; 1 when done, 0 when blocked, -1 on error. */
static int conn_send_file(struct gopher_conn *c)
{
    while (c->off < c->end) {
        size_t want = (size_t)(c->end - c->off);
        ssize_t n = c->s.w->bw_limited ? throttle_sendfile(&c->bw, &c->x, c->fe->fd, &c->off, &want)
                                       : xport_sendfile(&c->x, c->fe->fd, &c->off, want);
        if (n == XP_AGAIN)
            return 0;
        if (n <= 0)
            return -1;
        session_count_out(&c->s, (size_t)n);
    }
    fcache_put(c->fe);
    c->fe = NULL;
    return 1;
}

/* 1 when everything is sent, 0 when blocked, -1 on error. */
static int conn_send(struct gopher_conn *c)
{
    for (;;) {
        while (c->out && c->out_sent < c->out->len) {
            const char *p = c->out->data + c->out_sent;
            size_t want = c->out->len - c->out_sent;
            ssize_t n = c->s.w->bw_limited ? throttle_write(&c->bw, &c->x, p, &want, c->fe != NULL)
                                           : xport_write(&c->x, p, want, c->fe != NULL);
            if (n == XP_AGAIN)
                return 0;
            if (n < 0)
                return -1;
            c->out_sent += (size_t)n;
            session_count_out(&c->s, (size_t)n);
        }
        if (c->fe && !c->text) {
            int rc = conn_send_file(c);
            if (rc != 1)
                return rc;
        }
        if (!conn_refill(c))
            break;
    }
    switch (xport_pending(&c->x) ? xport_flush(&c->x) : 0) {
    case XP_AGAIN:
        return 0;
    case XP_ERROR:
        return -1;
    }
    return 1;
}

/* The answer is out: log it, then close (after the client's own close
 * when it sent more than we read, so that no reset cuts the answer). */
static void conn_finish(struct gopher_conn *c)
{
    conn_account(c);
    if (!c->linger || c->s.tls) {
        gopher_conn_close(c);
        return;
    }
    c->state = GC_LINGER;
    shutdown(c->io.fd, SHUT_WR);
    conn_arm_timer(c, LINGER_MS);
}

static void conn_pump(struct gopher_conn *c)
{
    int rc = conn_send(c);

    if (rc == -1) {
        c->status = c->status == 200 ? 499 : c->status; /* the client went away */
        conn_account(c);
        gopher_conn_close(c);
    } else if (rc == 0) { /* the socket is full, or the queue resumes it when bandwidth is there */
        if (c->bw.queued || conn_watch_out(c) == 0)
            conn_arm_timer(c, WRITE_TIMEOUT_MS);
    } else {
        conn_finish(c);
    }
}

static void conn_bw_resume(struct bw_waiter *bw)
{
    conn_pump(container_of(bw, struct gopher_conn, bw));
}

/* ---- reading ---- */

static void conn_note(struct gopher_conn *c, const struct gopher_req *q)
{
    size_t n = q->selector_len < sizeof(c->selector) - 1 ? q->selector_len : sizeof(c->selector) - 1;

    for (size_t i = 0; i < n; i++) /* logs and the session table show ASCII */
        c->selector[i] = (unsigned char)q->selector[i] < 0x20 || (unsigned char)q->selector[i] > 0x7e
                             ? '?' : q->selector[i];
    c->selector[n] = '\0';
}

static void conn_request(struct gopher_conn *c, const struct gopher_req *q, size_t have)
{
    session_adopt_gen(&c->s);
    if (c->s.site == NULL && c->s.li->bind)
        session_set_site(&c->s, c->s.li->bind->default_site);
    conn_advertise(c);
    conn_note(c, q);
    c->linger = q->kind == GOPHER_REQ_HTTP || have > q->line_len;
    c->state = GC_SEND;
    c->out = worker_buf_get(c->s.w);
    gopher_serve(c, q);
    session_note_request(&c->s, c->method, strlen(c->method), c->selector, strlen(c->selector));
    session_stat(&c->s, STAT_TOTAL_REQUESTS);
    conn_pump(c);
}

static void conn_bad_request(struct gopher_conn *c, const char *why)
{
    struct gopher_req q = {.selector = "", .kind = GOPHER_REQ_PLAIN};

    conn_advertise(c);
    c->linger = true;
    c->state = GC_SEND;
    c->out = worker_buf_get(c->s.w);
    gopher_serve_error(c, &q, 400, why);
    session_stat(&c->s, STAT_TOTAL_REQUESTS);
    conn_pump(c);
}

/* Parse what has arrived: DATA[0..N) is the whole line so far. */
static void conn_parse(struct gopher_conn *c, const char *data, size_t n)
{
    struct gopher_req q;
    const char *why = NULL;

    switch (gopher_parse_request(data, n, &q, &why)) {
    case GOPHER_DONE:
        conn_request(c, &q, n);
        break;
    case GOPHER_ERROR:
        conn_bad_request(c, why);
        break;
    case GOPHER_AGAIN:
        if (c->in == NULL) {
            c->in = worker_buf_get(c->s.w);
            buf_append(c->in, data, n);
        }
        break;
    }
}

static void conn_read(struct gopher_conn *c)
{
    char *data;
    ssize_t n;

    while (c->state == GC_READ) {
        n = xport_read(&c->x, &data);
        if (n == XP_AGAIN) {
            if (c->x.want_write)
                conn_watch_out(c);
            return;
        }
        if (n <= 0) {
            gopher_conn_close(c);
            return;
        }
        session_count_in(&c->s, (size_t)n);
        c->bytes_in += (uint64_t)n;
        if (c->in != NULL) {
            buf_append(c->in, data, (size_t)n);
            conn_parse(c, buf_head(c->in), buf_unread(c->in));
        } else {
            conn_parse(c, data, (size_t)n);
        }
    }
}

/* Whatever a client sends after its request is read and dropped until it closes. */
static void conn_linger_read(struct gopher_conn *c)
{
    char *data;
    ssize_t n;

    if (c->raw_linger) { /* the TLS port's plain answer: below the transport */
        if (net_discard(c->io.fd) == -1)
            gopher_conn_close(c);
        return;
    }
    while ((n = xport_read(&c->x, &data)) > 0)
        ;
    if (n != XP_AGAIN)
        gopher_conn_close(c);
}

/* A plain Gopher request on a TLS port is told to use gophers://. */
static bool conn_plain_on_tls(struct gopher_conn *c)
{
    static const char reply[] = "3This port speaks Gopher over TLS: use a gophers:// address.\t"
                                "error.host\t1\r\n.\r\n";
    unsigned char first;

    ssize_t n;

    if (c->tls_peeked)
        return false;
    n = recv(c->io.fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return false; /* nothing yet: look again when something arrives */
    c->tls_peeked = true;
    if (n == 0 || first == 0x16) /* the end, or a TLS handshake record */
        return false;
    if (send(c->io.fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("gopher: the plain answer on a TLS port: %d", errno);
    /* Closed with the request unread, the socket would reset and lose the answer. */
    shutdown(c->io.fd, SHUT_WR);
    c->state = GC_LINGER;
    c->raw_linger = true;
    conn_arm_timer(c, LINGER_MS);
    conn_linger_read(c);
    return true;
}

static void conn_handshake(struct gopher_conn *c)
{
    int rc;

    if (conn_plain_on_tls(c))
        return;
    if (!c->tls_peeked) /* the first byte decides: a handshake now could eat a plain request */
        return;
    rc = xport_handshake(&c->x);
    if (rc == XP_AGAIN) {
        if (c->x.want_write)
            conn_watch_out(c);
        return;
    }
    if (rc != 0) {
        gopher_conn_close(c);
        return;
    }
    c->state = GC_READ;
    conn_arm_timer(c, read_timeout_ms(c));
    conn_read(c);
}

static void conn_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct gopher_conn *c = container_of(io, struct gopher_conn, io);

    (void)l;
    if (events & EPOLLERR) {
        gopher_conn_close(c);
        return;
    }
    switch (c->state) {
    case GC_HANDSHAKE:
        conn_handshake(c);
        break;
    case GC_READ:
        conn_read(c);
        break;
    case GC_SEND:
        if ((events & EPOLLOUT) || c->x.want_write)
            conn_pump(c);
        break;
    case GC_LINGER:
        conn_linger_read(c);
        break;
    case GC_DEAD:
        break;
    }
}
