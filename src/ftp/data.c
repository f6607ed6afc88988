/* data: FTP data connections and transfers. */
#include "ftp/data.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/net.h"
#include "ftp/ctrl.h"
#include "ftp/ftp.h"
#include "runtime/throttle.h"
#include "runtime/tls.h"
#include "runtime/worker.h"

#define CHUNK 32768 /* file bytes converted per step of a TYPE A transfer */
#define TURN_BYTES (1024 * 1024) /* bytes moved per event before the worker's other clients */

enum dstate {
    D_PASSIVE,    /* listening, nothing accepted yet */
    D_ACTIVE,     /* PORT/EPRT given, not connected yet */
    D_CONNECTING, /* active connect in progress */
    D_CONNECTED,  /* a connection, no transfer asked for yet */
    D_HANDSHAKE,  /* TLS on the data connection */
    D_XFER,
};

struct ftp_data {
    struct ftp_conn *c;
    struct loop_io lio, io;
    struct loop_timer timer;
    struct xport x;
    enum dstate state;
    int lfd, fd;
    bool xport_on, watch_out, have_req, cr_pending, line_start;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct ftp_xfer_req req;
    off_t end;            /* SEND_FILE: where the file ends */
    struct buf *out;      /* SEND_BUF, or a converted TYPE A piece */
    size_t out_sent;
    uint64_t bytes;
    size_t turn;          /* bytes moved since the loop last had the worker */
    struct bw_waiter bw;  /* its place in the worker's queue for bandwidth */
};

static void data_on_io(struct loop *l, struct loop_io *io, uint32_t events);
static void data_on_listen(struct loop *l, struct loop_io *io, uint32_t events);
static void data_begin(struct ftp_data *d);
static void data_pump(struct ftp_data *d);
static void data_bw_resume(struct bw_waiter *bw);

static uint32_t data_timeout(const struct ftp_data *d)
{
    const struct ftp_site *fs = ftp_site_of(d->c->s.site);

    return fs ? fs->data_timeout_ms : 120000;
}

/* ---- ending ---- */

static void req_release(struct ftp_data *d, bool keep_upload)
{
    struct ftp_xfer_req *r = &d->req;

    if (!d->have_req)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->dirfd >= 0) {
        if (!keep_upload && r->tmp[0])
            unlinkat(r->dirfd, r->tmp, 0); /* an interrupted STOR leaves nothing behind */
        close(r->dirfd);
    }
    worker_buf_put(d->c->s.w, r->buf);
    d->have_req = false;
}

static void data_free(struct ftp_data *d, bool keep_upload)
{
    struct loop *l = d->c->s.w->loop;

    loop_timer_clear(l, &d->timer);
    throttle_cancel(&d->bw);
    if (d->lfd >= 0) {
        loop_del(l, &d->lio);
        close(d->lfd);
    }
    if (d->xport_on)
        xport_close(&d->x); /* closes d->fd */
    else if (d->fd >= 0)
        close(d->fd);
    req_release(d, keep_upload);
    worker_buf_put(d->c->s.w, d->out);
    d->c->data = NULL; /* the memory stays with the connection: events of this batch may name it */
}

void ftp_data_release(struct ftp_conn *c)
{
    free(c->data_mem);
    c->data_mem = NULL;
}

void ftp_data_close(struct ftp_conn *c)
{
    if (c->data)
        data_free(c->data, false);
}

/* The transfer ended with reply CODE (226 on success) saying MSG. */
static void data_end(struct ftp_data *d, int code, const char *msg)
{
    struct ftp_conn *c = d->c;
    bool ok = code == 226;
    const char *what = d->req.what;
    char why[200];

    if (ok && d->req.kind == XFER_RECV_FILE && d->req.tmp[0] &&
        renameat(d->req.dirfd, d->req.tmp, d->req.dirfd, d->req.final) == -1) {
        code = 553;
        snprintf(why, sizeof(why), "The upload cannot take its name: %s.", strerror(errno));
        msg = why;
        ok = false;
    }
    if (ok && d->req.kind == XFER_SEND_FILE)
        session_stat(&c->s, STAT_FILES_SENT);
    if (ok && d->req.kind == XFER_RECV_FILE)
        session_stat(&c->s, STAT_FILES_RECEIVED);
    ftp_reply(c, code, "%s", msg);
    ftp_ctrl_log(c, what, c->file, code);
    data_free(d, ok);
    ftp_ctrl_transfer_done(c);
}

__attribute__((format(printf, 3, 4))) static void data_endf(struct ftp_data *d, int code,
                                                          const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    data_end(d, code, msg);
}

static void data_timeout_fired(struct loop *l, struct loop_timer *t)
{
    struct ftp_data *d = container_of(t, struct ftp_data, timer);
    struct ftp_conn *c = d->c;

    if (d->bw.queued) { /* waiting for bandwidth is not a stalled transfer */
        loop_timer_set(l, &d->timer, data_timeout(d), data_timeout_fired);
        return;
    }
    if (!d->have_req) { /* a prepared connection nobody used */
        data_free(d, false);
        return;
    }
    if (d->state == D_XFER || d->state == D_HANDSHAKE)
        data_end(d, 426, "The data connection stalled; transfer aborted.");
    else
        data_end(d, 425, "The data connection did not open in time.");
    (void)c;
}

static void data_arm(struct ftp_data *d)
{
    loop_timer_set(d->c->s.w->loop, &d->timer, data_timeout(d), data_timeout_fired);
}

void ftp_data_abort(struct ftp_conn *c)
{
    struct ftp_data *d = c->data;

    if (d == NULL || !d->have_req) {
        if (d)
            data_free(d, false);
        ftp_reply(c, 225, "No transfer to abort.");
        return;
    }
    ftp_reply(c, 426, "Transfer aborted.");
    ftp_ctrl_log(c, d->req.what, c->file, 426);
    data_free(d, false);
    ftp_reply(c, 226, "ABOR successful.");
    ftp_ctrl_transfer_done(c);
}

bool ftp_data_ready(const struct ftp_conn *c)
{
    return c->data != NULL && !c->data->have_req;
}

bool ftp_data_busy(const struct ftp_conn *c)
{
    return c->data != NULL && c->data->have_req;
}

uint64_t ftp_data_bytes(const struct ftp_conn *c)
{
    return c->data ? c->data->bytes : 0;
}

/* ---- setting up ---- */

static struct ftp_data *data_new(struct ftp_conn *c)
{
    struct ftp_data *d;

    ftp_data_close(c); /* a new PASV or PORT replaces the previous one */
    if (c->data_mem == NULL)
        c->data_mem = xmalloc(sizeof(*d));
    d = c->data_mem;
    memset(d, 0, sizeof(*d));
    d->c = c;
    d->lfd = d->fd = -1;
    d->lio.cb = data_on_listen;
    d->io.cb = data_on_io;
    throttle_waiter_init(&d->bw, &c->s, data_bw_resume);
    c->data = d;
    return d;
}

/* Bind a listening socket to the control connection's local address, on a
 * port of the site's passive range (tried from a random place) or any. */
static int passive_socket(struct ftp_conn *c, struct sockaddr_storage *local, socklen_t *len)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);
    unsigned lo = fs ? fs->pasv_min : 0, hi = fs ? fs->pasv_max : 0;
    unsigned span = lo ? hi - lo + 1 : 1, first = lo ? randombytes_uniform(span) : 0;
    int fd;

    *len = sizeof(*local);
    if (getsockname(c->io.fd, (struct sockaddr *)local, len) == -1)
        return -1;
    fd = socket(local->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* A port of the range in TIME_WAIT from the last transfer may serve the next one
     * (SO_REUSEADDR; never SO_REUSEPORT, which would let two sessions share it). */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
    for (unsigned i = 0; i < span; i++) {
        net_set_port((struct net_addr *)(void *)local, lo ? (int)(lo + (first + i) % span) : 0);
        if (bind(fd, (struct sockaddr *)local, *len) == 0 && listen(fd, 1) == 0)
            return getsockname(fd, (struct sockaddr *)local, len) == 0 ? fd : (close(fd), -1);
    }
    close(fd);
    errno = EADDRINUSE;
    return -1;
}

int ftp_data_passive(struct ftp_conn *c, bool extended)
{
    struct sockaddr_storage local;
    socklen_t len;
    struct ftp_data *d;
    int fd;
    unsigned port;

    if (!extended && c->s.li->addr.ss.ss_family != AF_INET) {
        ftp_reply(c, 425, "PASV is for IPv4; use EPSV.");
        return -1;
    }
    fd = passive_socket(c, &local, &len);
    if (fd < 0) {
        ftp_reply(c, 425, "No passive port is free: %s.", strerror(errno));
        return -1;
    }
    d = data_new(c);
    d->lfd = d->lio.fd = fd;
    d->state = D_PASSIVE;
    if (loop_add(c->s.w->loop, &d->lio, LOOP_IN) == -1) {
        data_free(d, false);
        ftp_reply(c, 425, "The passive port cannot be watched.");
        return -1;
    }
    data_arm(d);
    port = (unsigned)net_port((struct sockaddr *)&local);
    if (extended) {
        ftp_reply(c, 229, "Entering Extended Passive Mode (|||%u|).", port);
    } else {
        const unsigned char *a =
            (const unsigned char *)&((struct sockaddr_in *)(void *)&local)->sin_addr;
        ftp_reply(c, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", a[0], a[1], a[2], a[3],
                  port >> 8, port & 255);
    }
    return 0;
}

int ftp_data_active(struct ftp_conn *c, const struct sockaddr_storage *addr, socklen_t len)
{
    struct ftp_data *d = data_new(c);

    d->peer = *addr;
    d->peer_len = len;
    d->state = D_ACTIVE;
    ftp_reply(c, 200, "PORT command successful; the data connection opens with the transfer.");
    return 0;
}

/* Only the control connection's client may connect: anything else is port theft. */
static bool same_client(const struct ftp_data *d, const struct sockaddr_storage *ss)
{
    char ip[48];

    net_host_str((const struct sockaddr *)ss, ip, sizeof(ip));
    return strcmp(ip, d->c->s.peer_ip) == 0;
}

static void data_accept(struct ftp_data *d)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd;

    while ((fd = accept4(d->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (!same_client(d, &ss)) {
            char ip[48];
            net_host_str((const struct sockaddr *)&ss, ip, sizeof(ip));
            log_warnx("ftp: refused a data connection from %s to the passive port of %s "
                      "(another address than the client's)", ip, d->c->s.peer_ip);
            close(fd);
            len = sizeof(ss);
            continue;
        }
        loop_del(d->c->s.w->loop, &d->lio);
        close(d->lfd);
        d->lfd = -1;
        d->fd = fd;
        d->state = D_CONNECTED;
        if (d->have_req)
            data_begin(d);
        return;
    }
}

static void data_connect(struct ftp_data *d)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    int fd = socket(d->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return data_endf(d, 425, "Cannot open the data connection: %s.", strerror(errno));
    d->fd = fd;
    /* From the address the client reached, so that it sees the server it talks to. */
    if (getsockname(d->c->io.fd, (struct sockaddr *)&local, &len) == 0) {
        net_set_port((struct net_addr *)(void *)&local, 0);
        if (bind(fd, (struct sockaddr *)&local, len) == -1)
            log_debug("ftp: bind of an active data connection: %d", errno);
    }
    if (connect(fd, (struct sockaddr *)&d->peer, d->peer_len) == -1 && errno != EINPROGRESS)
        return data_endf(d, 425, "Cannot open the data connection: %s.", strerror(errno));
    d->state = D_CONNECTING;
    d->io.fd = fd;
    if (loop_add(d->c->s.w->loop, &d->io, LOOP_IN | LOOP_OUT) == -1)
        return data_end(d, 425, "Cannot watch the data connection.");
    d->watch_out = true;
}

static void data_connected(struct ftp_data *d)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
        return data_endf(d, 425, "Cannot open the data connection: %s.", strerror(err ? err : errno));
    d->state = D_CONNECTED;
    data_begin(d);
}

/* ---- transferring ---- */

static const char *xfer_word(const struct ftp_xfer_req *r)
{
    return r->ascii ? "ASCII" : "BINARY";
}

void ftp_data_start(struct ftp_conn *c, struct ftp_xfer_req *r)
{
    struct ftp_data *d = c->data;
    struct stat st;

    d->req = *r;
    d->have_req = true;
    d->line_start = true;
    if (r->kind == XFER_SEND_FILE && fstat(r->fd, &st) == 0) {
        d->end = st.st_size;
        ftp_reply(c, 150, "Opening %s mode data connection for %s (%lld bytes).", xfer_word(r),
                  c->file, (long long)st.st_size);
    } else if (r->kind == XFER_RECV_FILE && strcmp(r->what, "STOU") == 0) {
        ftp_reply(c, 150, "FILE: %s", r->final); /* RFC 1123 4.1.2.9 */
    } else if (r->kind == XFER_RECV_FILE) {
        ftp_reply(c, 150, "Ok to send data.");
    } else {
        ftp_reply(c, 150, "Here comes the directory listing.");
    }
    data_arm(d);
    if (d->state == D_ACTIVE)
        data_connect(d);
    else if (d->state == D_CONNECTED)
        data_begin(d);
}

static void data_begin(struct ftp_data *d)
{
    struct ftp_conn *c = d->c;
    struct worker *w = c->s.w;

    if (d->state == D_CONNECTING || d->watch_out) {
        loop_del(w->loop, &d->io); /* re-added below with the transfer's events */
        d->watch_out = false;
    }
    d->io.fd = d->fd;
    if (c->prot_p) {
        if (xport_tls_start(&d->x, d->fd, c->s.site, &c->s, w->rbuf, WORKER_RBUF) == -1)
            return data_end(d, 425, "Cannot start TLS on the data connection.");
        d->state = D_HANDSHAKE;
    } else {
        xport_plain_init(&d->x, d->fd, w->rbuf, WORKER_RBUF);
        d->state = D_XFER;
    }
    d->xport_on = true;
    if (loop_add(w->loop, &d->io, LOOP_IN) == -1)
        return data_end(d, 425, "Cannot watch the data connection.");
    if (d->state == D_HANDSHAKE)
        data_on_io(w->loop, &d->io, LOOP_IN | LOOP_OUT);
    else
        data_pump(d);
}

static int data_watch_out(struct ftp_data *d, bool on)
{
    return loop_watch_out(d->c->s.w->loop, &d->io, &d->watch_out, on);
}

/* LF to CRLF for TYPE A downloads (a CR already before the LF is kept as it is). */
static size_t to_crlf(const char *in, size_t n, bool *after_cr, char *out)
{
    size_t o = 0;
    bool cr = *after_cr;

    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n' && !cr)
            out[o++] = '\r';
        out[o++] = in[i];
        cr = in[i] == '\r';
    }
    *after_cr = cr;
    return o;
}

/* CRLF to LF for TYPE A uploads; a CR at the end of a piece waits for the next. */
static size_t from_crlf(const char *in, size_t n, bool *cr_pending, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (*cr_pending && in[i] != '\n')
            out[o++] = '\r';
        *cr_pending = in[i] == '\r';
        if (!*cr_pending)
            out[o++] = in[i];
    }
    return o;
}

/* The next TYPE A piece of the file into d->out; false at the end of the file. */
static bool ascii_piece(struct ftp_data *d)
{
    ssize_t n;
    bool cr = !d->line_start; /* line_start doubles as "the last byte was not CR" */

    if (d->req.off >= d->end)
        return false;
    n = pread(d->req.fd, d->c->s.w->rbuf, CHUNK, d->req.off);
    if (n <= 0)
        return false;
    if (d->out == NULL)
        d->out = worker_buf_get(d->c->s.w);
    buf_reset(d->out);
    buf_reserve(d->out, 2 * (size_t)n);
    d->out->len = to_crlf(d->c->s.w->rbuf, (size_t)n, &cr, d->out->data);
    d->line_start = !cr;
    d->out_sent = 0;
    d->req.off += n;
    return true;
}

/* A fast client never makes a socket wait, so a transfer gives the loop back
 * after TURN_BYTES: re-arming the descriptor queues a new event at once
 * while it is still ready (edge-triggered epoll reports the new edge). */
static int data_yield(struct ftp_data *d, bool out)
{
    d->watch_out = out;
    d->turn = 0;
    return loop_mod(d->c->s.w->loop, &d->io, LOOP_IN | (out ? LOOP_OUT : 0)) == -1 ? -1 : 2;
}

/* Write what d->out holds; 1 done, 0 blocked, 2 yielded, -1 error. */
static int send_out(struct ftp_data *d, struct buf *b, size_t *sent)
{
    while (*sent < b->len) {
        size_t want = b->len - *sent;
        ssize_t n = d->c->s.w->bw_limited
                        ? throttle_write(&d->bw, &d->x, b->data + *sent, &want, false)
                        : xport_write(&d->x, b->data + *sent, want, false);
        if (n == XP_AGAIN)
            return 0;
        if (n < 0)
            return -1;
        *sent += (size_t)n;
        d->bytes += (uint64_t)n;
        session_count_out(&d->c->s, (size_t)n);
        if ((d->turn += (size_t)n) >= TURN_BYTES && *sent < b->len)
            return data_yield(d, true);
    }
    return 1;
}

/* 1 when everything is sent, 0 when blocked, -1 on error. */
static int send_step(struct ftp_data *d)
{
    struct ftp_xfer_req *r = &d->req;
    int rc;

    if (r->kind == XFER_SEND_BUF)
        return send_out(d, r->buf, &d->out_sent);
    if (r->ascii) {
        for (;;) {
            if (d->out && (rc = send_out(d, d->out, &d->out_sent)) != 1)
                return rc;
            if (!ascii_piece(d))
                return 1;
            if (d->turn >= TURN_BYTES)
                return data_yield(d, true);
        }
    }
    while (r->off < d->end) {
        size_t want = (size_t)(d->end - r->off);
        ssize_t n = d->c->s.w->bw_limited ? throttle_sendfile(&d->bw, &d->x, r->fd, &r->off, &want)
                                          : xport_sendfile(&d->x, r->fd, &r->off, want);
        if (n == XP_AGAIN)
            return 0;
        if (n <= 0)
            return n == 0 ? 1 : -1; /* shrank under us: what there was is sent */
        d->bytes += (uint64_t)n;
        session_count_out(&d->c->s, (size_t)n);
        if ((d->turn += (size_t)n) >= TURN_BYTES && r->off < d->end)
            return data_yield(d, true);
    }
    return 1;
}

static void send_pump(struct ftp_data *d)
{
    int rc = send_step(d);

    if (rc == 1) {
        switch (xport_pending(&d->x) ? xport_flush(&d->x) : 0) {
        case XP_AGAIN:
            rc = 0;
            break;
        case XP_ERROR:
            rc = -1;
            break;
        }
    }
    if (rc == -1)
        return data_end(d, 426, "The data connection broke; transfer aborted.");
    if (rc == 2)
        return data_arm(d);
    if (rc == 0) { /* the socket is full, or the queue resumes it when bandwidth is there */
        if (!d->bw.queued)
            data_watch_out(d, true);
        return data_arm(d);
    }
    data_end(d, 226, "Transfer complete.");
}

static void recv_failed(struct ftp_data *d, int err)
{
    if (err == ENOSPC || err == EDQUOT)
        return data_endf(d, 452, "Insufficient storage space: %s; upload removed.", strerror(err));
    data_endf(d, 553, "The upload cannot be written: %s.", strerror(err));
}

/* In stream mode the end of the data connection is the end of the file, so
 * a client killed mid-upload looks like one that finished. It also closes
 * its control connection, which says it never waited for the 226: then the
 * upload is treated as interrupted, and its temporary name is removed. */
static bool client_gone(const struct ftp_data *d)
{
    char c;
    ssize_t n = recv(d->c->io.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void recv_pump(struct ftp_data *d)
{
    char *data, conv[CHUNK * 2];
    ssize_t n;

    for (;;) {
        n = xport_read(&d->x, &data);
        if (n == XP_AGAIN) {
            if (d->x.want_write)
                data_watch_out(d, true);
            return data_arm(d);
        }
        if (n < 0)
            return data_end(d, 426, "The data connection broke; transfer aborted.");
        if (n == 0) {
            if (client_gone(d))
                return data_end(d, 426, "The client closed the control connection during the "
                                        "upload; upload removed.");
            if (d->cr_pending && fs_write_all(d->req.fd, "\r", 1) == -1)
                return recv_failed(d, errno);
            return data_end(d, 226, "Transfer complete.");
        }
        d->bytes += (uint64_t)n;
        session_count_in(&d->c->s, (size_t)n);
        for (size_t at = 0; at < (size_t)n; at += CHUNK) {
            size_t piece = (size_t)n - at < CHUNK ? (size_t)n - at : CHUNK;
            const char *p = data + at;
            size_t len = piece;
            if (d->req.ascii) {
                len = from_crlf(p, piece, &d->cr_pending, conv);
                p = conv;
            }
            if (fs_write_all(d->req.fd, p, len) == -1)
                return recv_failed(d, errno);
        }
        /* No stop at a short read: a FIN queued behind the data would raise no new edge. */
        if ((d->turn += (size_t)n) >= TURN_BYTES) {
            if (data_yield(d, d->watch_out) == -1)
                return data_end(d, 426, "The data connection cannot be watched.");
            return data_arm(d);
        }
    }
}

static void data_bw_resume(struct bw_waiter *bw)
{
    struct ftp_data *d = container_of(bw, struct ftp_data, bw);

    if (d->c->data == d && d->state == D_XFER)
        data_pump(d);
}

static void data_pump(struct ftp_data *d)
{
    if (d->req.kind == XFER_RECV_FILE)
        recv_pump(d);
    else
        send_pump(d);
}

static void data_handshake(struct ftp_data *d)
{
    int rc = xport_handshake(&d->x);

    if (rc == XP_AGAIN) {
        data_watch_out(d, d->x.want_write);
        return;
    }
    if (rc != 0)
        return data_end(d, 425, "The TLS handshake of the data connection failed.");
    if (!xport_tls_resumed(&d->x))
        return data_end(d, 522, "The data connection must resume the control connection's TLS session.");
    d->state = D_XFER;
    data_watch_out(d, false);
    data_pump(d);
}

static void data_on_listen(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct ftp_data *d = container_of(io, struct ftp_data, lio);

    (void)l;
    (void)events;
    if (d->c->data == d && d->lfd >= 0) /* else an event of a closed one, in this batch */
        data_accept(d);
}

static void data_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct ftp_data *d = container_of(io, struct ftp_data, io);

    (void)l;
    if (d->c->data != d || d->fd < 0)
        return; /* closed earlier in this batch of events */
    switch (d->state) {
    case D_CONNECTING:
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            data_connected(d);
        break;
    case D_HANDSHAKE:
        data_handshake(d);
        break;
    case D_XFER:
        if (d->req.kind == XFER_RECV_FILE || (events & (EPOLLOUT | EPOLLERR)) || d->x.want_write)
            data_pump(d);
        else if (events & (EPOLLHUP | EPOLLRDHUP))
            data_pump(d); /* the client went away: the send fails and says so */
        break;
    default:
        break;
    }
}
