#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin/accounts.h"
#include "admin/api.h"
#include "admin/api_int.h"
#include "admin/events.h"
#include "admin/login.h"
#include "admin/webfiles.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "metabase/mb.h"
#include "runtime/path.h"
#include "runtime/ratelimit.h"
#include "runtime/tlscert.h"
#include "www/http1.h"
#include "www/req.h"

#define MAX_CONNS 1100
#define MAX_STREAMS 1024
#define IO_TIMEOUT_MS 10000
#define MAX_HEAD 16384
#define MAX_BODY (1 << 20)
#define MAX_REQUESTS_PER_CONN 1000
#define NEXEC 4                    /* request threads; API calls still take the lock in turn */
#define STREAM_BACKLOG (256 * 1024) /* unsent event bytes before a stream is dropped */
#define STREAM_BATCH (256 * 1024)   /* event bytes copied into a stream at a time */
#define STREAM_SNDBUF (64 * 1024)   /* a stream socket's send buffer */
#define FLUSH_BATCH 16
#define FLUSH_DELAY_MS 40           /* events gathered before they are written (the loop's
                                       timers tick every 64 ms) */              /* streams fed before the loop looks at other work */

/*
 * A connection lives on the admin loop. It reads and parses a request there,
 * hands it to a request thread (BUSY: nothing else happens to it meanwhile),
 * and writes the answer back on the loop; an event stream stays open after
 * its head, fed from the event ring whenever something is published.
 */
enum cstate { C_HANDSHAKE, C_READING, C_BUSY, C_WRITING, C_STREAM };

struct aconn {
    struct loop_io io;
    struct loop_timer timer;
    struct aconn *prev, *next; /* every connection */
    SSL *ssl;
    bool local;
    uid_t uid;
    char addr[64];
    enum cstate st;
    struct buf in, out;
    size_t out_off;
    bool close_after, doomed;
    bool dead;                   /* closed; freed once the loop's current batch is done */
    unsigned served;
    uint64_t after;              /* stream: the last event sent */
    unsigned si;                 /* stream: its place in A.streams */
    char sid[LOGIN_ID_HEX];      /* stream: its console session, "" for a token */
};

struct job {
    struct job *next;
    struct aconn *c;
    struct http1_req req;
    size_t head;
    struct buf out; /* the whole answer */
    bool keep, stream;
    bool changed; /* a write: its commit or state change is told to the streams after it */
    uint64_t after;
    char sid[LOGIN_ID_HEX];
};

static struct {
    int unix_fd, tcp_fd;
    unsigned tcp_port;
    SSL_CTX *ssl_ctx;
    struct mb *mb;
    struct ratelimit *rl;
    struct loop *loop;
    struct loop_io unix_io, tcp_io;
    pthread_t loop_thread, ticker, exec[NEXEC];
    bool running;
    struct aconn *conns;
    unsigned nconns;
    struct aconn *graveyard; /* closed connections, freed before the loop waits again */
    atomic_uint nstreams;
    atomic_bool flush_posted;
    /* the streams, fed FLUSH_BATCH at a time so that API connections are not
       kept waiting behind hundreds of writes */
    struct aconn *streams[MAX_STREAMS];
    unsigned flush_cursor;
    bool flushing, flush_again;
    struct loop_timer flush_timer;
    /* the request queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct job *qhead, **qtail;
    bool stopping;
    pthread_cond_t tick_cond;
    char sock_path[PATH_MAX];
} A = {.unix_fd = -1, .tcp_fd = -1, .qlock = PTHREAD_MUTEX_INITIALIZER,
       .qcond = PTHREAD_COND_INITIALIZER, .tick_cond = PTHREAD_COND_INITIALIZER};

static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;

void admin_lock(void)
{
    pthread_mutex_lock(&api_lock);
}

void admin_unlock(void)
{
    pthread_mutex_unlock(&api_lock);
}

/* ---- transport (admin loop) ---- */

/* >0 bytes, 0 closed, -1 would block, -2 failed */
static ssize_t conn_read(struct aconn *c, void *p, size_t n)
{
    ssize_t r;

    if (c->ssl == NULL) {
        r = recv(c->io.fd, p, n, 0);
        return r >= 0 ? r : (errno == EAGAIN || errno == EINTR) ? -1 : -2;
    }
    r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, (int)r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: ERR_clear_error(); return -2;
    }
}

/* 1 all written, 0 would block, -1 failed */
static int conn_flush(struct aconn *c)
{
    while (c->out_off < c->out.len) {
        size_t n = c->out.len - c->out_off;
        const char *p = c->out.data + c->out_off;
        ssize_t w;

        if (c->ssl) {
            w = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
            if (w <= 0) {
                int e = SSL_get_error(c->ssl, (int)w);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    return 0;
                ERR_clear_error();
                return -1;
            }
        } else {
            w = send(c->io.fd, p, n, MSG_NOSIGNAL);
            if (w < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        c->out_off += (size_t)w;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    return 1;
}

static void conn_close(struct aconn *c)
{
    if (c->st == C_BUSY) { /* a request thread holds it: freed when its answer comes */
        c->doomed = true;
        return;
    }
    if (c->st == C_STREAM) {
        unsigned n = atomic_fetch_sub(&A.nstreams, 1) - 1;
        A.streams[c->si] = A.streams[n];
        A.streams[c->si]->si = c->si;
        if (c->si < A.flush_cursor)
            A.flush_again = true; /* the one moved here was not fed in this pass */
    }
    loop_timer_clear(A.loop, &c->timer);
    loop_del(A.loop, &c->io);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->io.fd);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        A.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    A.nconns--;
    /* An event for it may still be in the batch the loop is going through
     * (this close may come from a post or another connection's callback). */
    c->dead = true;
    c->next = A.graveyard;
    A.graveyard = c;
}

static void bury(void *arg)
{
    struct aconn *c;

    (void)arg;
    while ((c = A.graveyard) != NULL) {
        A.graveyard = c->next;
        free(c);
    }
}

static void on_timeout(struct loop *l, struct loop_timer *t)
{
    struct aconn *c = container_of(t, struct aconn, timer);

    (void)l;
    if (c->st != C_BUSY && c->st != C_STREAM)
        conn_close(c);
}

/* ---- request threads ---- */

static void queue_job(struct job *j)
{
    pthread_mutex_lock(&A.qlock);
    j->next = NULL;
    *A.qtail = j;
    A.qtail = &j->next;
    pthread_cond_signal(&A.qcond);
    pthread_mutex_unlock(&A.qlock);
}

static void drive(struct aconn *c);

/* Parse what c->in holds: 1 a request was handed on, 0 more bytes are needed, -1 answered an error. */
static int take_request(struct aconn *c)
{
    static const struct http1_limits lim = {MAX_HEAD, 8192, 100};
    struct job *j;
    int status = 400;
    const char *reason = "bad request";
    enum http1_result r;
    size_t head;

    if (c->in.len == 0)
        return 0;
    j = xcalloc(1, sizeof(*j));
    r = http1_parse_request(c->in.data, c->in.len, &lim, &j->req, &head, &status, &reason);
    if (r == HTTP1_DONE && j->req.body == HTTP_BODY_CHUNKED) {
        r = HTTP1_ERROR, status = 411, reason = "send the body with Content-Length";
    } else if (r == HTTP1_DONE && j->req.body == HTTP_BODY_LENGTH &&
               j->req.content_length > MAX_BODY) {
        r = HTTP1_ERROR, status = 413, reason = "the admin API accepts bodies up to 1 MiB";
    }
    if (r == HTTP1_ERROR) {
        struct api_response rs = {0};
        api_error(&rs, status, "invalid_request", "%s", reason);
        free(j);
        buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nServer: infosrv-admin\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   rs.status, www_status_text(rs.status), rs.body.len);
        buf_append(&c->out, rs.body.data, rs.body.len);
        buf_free(&rs.body);
        c->close_after = true;
        c->st = C_WRITING;
        return -1;
    }
    if (r != HTTP1_DONE ||
        (j->req.body == HTTP_BODY_LENGTH && c->in.len < head + j->req.content_length)) {
        free(j);
        return 0;
    }
    j->c = c;
    j->head = head;
    c->st = C_BUSY;
    loop_timer_clear(A.loop, &c->timer);
    queue_job(j);
    return 1;
}

static void start_stream(struct aconn *c, struct job *j)
{
    c->st = C_STREAM;
    c->after = j->after;
    memcpy(c->sid, j->sid, sizeof(c->sid));
    c->si = atomic_fetch_add(&A.nstreams, 1);
    A.streams[c->si] = c;
    /* the kernel's share of a stream's backlog is bounded too (it would grow to megabytes) */
    setsockopt(c->io.fd, SOL_SOCKET, SO_SNDBUF, &(int){STREAM_SNDBUF}, sizeof(int));
    if (!events_copy(&c->after, &c->out, STREAM_BATCH)) {
        events_reset(&c->out);
        c->after = events_last();
    }
}

/* A request thread's answer, back on the loop. */
static void job_done(void *arg)
{
    struct job *j = arg;
    struct aconn *c = j->c;

    c->st = C_READING;
    if (c->doomed) {
        conn_close(c);
    } else {
        buf_append(&c->out, j->out.data, j->out.len);
        buf_consume(&c->in,
                    j->head + (j->req.body == HTTP_BODY_LENGTH ? j->req.content_length : 0));
        c->served++;
        if (j->stream && atomic_load(&A.nstreams) < MAX_STREAMS) {
            start_stream(c, j);
        } else {
            c->st = C_WRITING;
            c->close_after = !j->keep || j->stream || c->served >= MAX_REQUESTS_PER_CONN;
        }
        drive(c);
    }
    buf_free(&j->out);
    free(j);
}

/* Feed stream C what was published since it last got some (admin loop). */
static void stream_feed(struct aconn *c)
{
    if (c->sid[0] && !login_alive(c->sid)) { /* logged out or expired */
        conn_close(c);
        return;
    }
    if (c->out.len - c->out_off > STREAM_BACKLOG) { /* the client stopped reading */
        conn_close(c);
        return;
    }
    if (!events_copy(&c->after, &c->out, STREAM_BATCH)) {
        events_reset(&c->out);
        c->after = events_last();
    }
    drive(c);
}

/* One batch of a pass over the streams; the pass goes on after other work. */
static void streams_flush_step(void *arg)
{
    unsigned done = 0;

    (void)arg;
    while (A.flush_cursor < atomic_load(&A.nstreams) && done++ < FLUSH_BATCH)
        stream_feed(A.streams[A.flush_cursor++]);
    if (A.flush_cursor < atomic_load(&A.nstreams)) {
        loop_post(A.loop, streams_flush_step, NULL);
        return;
    }
    if (A.flush_again) {
        A.flush_again = false;
        A.flush_cursor = 0;
        loop_post(A.loop, streams_flush_step, NULL);
        return;
    }
    A.flushing = false;
}

/* Something was published: start a pass over the streams, or one more after this one. */
static void streams_flush(void *arg)
{
    (void)arg;
    if (A.flushing) {
        A.flush_again = true;
        return;
    }
    A.flushing = true;
    A.flush_cursor = 0;
    streams_flush_step(NULL);
}

static void on_flush_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
    streams_flush(NULL);
}

/* Events wait FLUSH_DELAY_MS for the ones after them: a burst of commits
 * reaches each stream in one write rather than one each. */
static void flush_soon(void *arg)
{
    (void)arg;
    atomic_store(&A.flush_posted, false);
    if (!loop_timer_armed(&A.flush_timer))
        loop_timer_set(A.loop, &A.flush_timer, FLUSH_DELAY_MS, on_flush_timer);
}

/* Called by the event producers, from any thread. */
static void events_notify(void *arg)
{
    (void)arg;
    if (A.loop && atomic_load(&A.nstreams) > 0 && !atomic_exchange(&A.flush_posted, true))
        loop_post(A.loop, flush_soon, NULL);
}

/* ---- the connection's state machine (admin loop) ---- */

static void drive(struct aconn *c)
{
    for (;;) {
        switch (c->st) {
        case C_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                c->st = C_READING;
                break;
            }
            r = SSL_get_error(c->ssl, r);
            if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
                return;
            ERR_clear_error();
            conn_close(c);
            return;
        }
        case C_BUSY:
            return;
        case C_WRITING: {
            int r = conn_flush(c);
            if (r == -1 || (r == 1 && c->close_after)) {
                conn_close(c);
                return;
            }
            if (r == 0) {
                loop_timer_set(A.loop, &c->timer, IO_TIMEOUT_MS, on_timeout);
                return;
            }
            c->st = C_READING;
            loop_timer_set(A.loop, &c->timer, IO_TIMEOUT_MS, on_timeout);
            break;
        }
        case C_STREAM: {
            char sink[512];
            ssize_t n;
            /* a stream's client has nothing more to say: read only to see it go */
            while ((n = conn_read(c, sink, sizeof(sink))) > 0) {
            }
            if (n == 0 || n == -2 || conn_flush(c) == -1)
                conn_close(c);
            return;
        }
        case C_READING: {
            int t = take_request(c);
            ssize_t n;
            if (t != 0) {
                if (t == 1)
                    return;
                break; /* an error answer to write */
            }
            if (c->in.len >= MAX_HEAD + MAX_BODY + 4096) {
                conn_close(c);
                return;
            }
            buf_reserve(&c->in, 16384);
            n = conn_read(c, c->in.data + c->in.len, c->in.cap - c->in.len);
            if (n == -1)
                return;
            if (n <= 0) {
                conn_close(c);
                return;
            }
            c->in.len += (size_t)n;
            break;
        }
        }
    }
}

static void on_conn(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct aconn *c = container_of(io, struct aconn, io);

    (void)l;
    (void)events;
    if (!c->dead)
        drive(c);
}

/* ---- accepting (admin loop) ---- */

static bool peer_allowed(int fd, uid_t *uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
        return false;
    *uid = cred.uid;
    return cred.uid == 0 || cred.uid == geteuid();
}

static void on_accept(struct loop *l, struct loop_io *io, uint32_t events)
{
    bool local = io == &A.unix_io;
    struct sockaddr_storage ss;
    socklen_t len;
    struct aconn *c;
    uid_t uid = 0;
    int fd;

    (void)l;
    (void)events;
    for (;;) {
        len = sizeof(ss);
        fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd == -1)
            return;
        if (A.nconns >= MAX_CONNS) {
            close(fd);
            continue;
        }
        if (local && !peer_allowed(fd, &uid)) {
            log_warnx("admin: refused a local connection from uid %u", (unsigned)uid);
            close(fd);
            continue;
        }
        if (!local)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        c = xcalloc(1, sizeof(*c));
        c->io.fd = fd;
        c->io.cb = on_conn;
        c->local = local;
        c->uid = uid;
        c->st = C_READING;
        if (local) {
            snprintf(c->addr, sizeof(c->addr), "unix");
        } else {
            net_host_str((const struct sockaddr *)&ss, c->addr, sizeof(c->addr));
            c->ssl = SSL_new(A.ssl_ctx);
            if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
                ERR_clear_error();
                SSL_free(c->ssl);
                close(fd);
                free(c);
                continue;
            }
            SSL_set_accept_state(c->ssl);
            c->st = C_HANDSHAKE;
        }
        c->next = A.conns;
        if (A.conns)
            A.conns->prev = c;
        A.conns = c;
        A.nconns++;
        if (loop_add(A.loop, &c->io, LOOP_IN | LOOP_OUT | EPOLLRDHUP) == -1) {
            conn_close(c);
            continue;
        }
        loop_timer_set(A.loop, &c->timer, IO_TIMEOUT_MS, on_timeout);
        drive(c);
    }
}

static void *loop_main(void *arg)
{
    (void)arg;
    loop_run(A.loop);
    return NULL;
}

/* ---- answering (request threads) ---- */

static const char console_headers[] =
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'\r\n"
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n";

static void format_response(struct job *j, const struct api_response *rs, const char *extra,
                            size_t extra_len, bool console_file)
{
    struct buf *h = &j->out;

    buf_printf(h, "HTTP/1.1 %d %s\r\nServer: infosrv-admin\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\nCache-Control: %s\r\n"
                  "X-Content-Type-Options: nosniff\r\n",
               rs->status, www_status_text(rs->status),
               rs->content_type ? rs->content_type : "application/json", rs->body.len,
               console_file ? "no-cache" : "no-store");
    if (console_file)
        buf_puts(h, console_headers);
    if (rs->etag[0])
        buf_printf(h, "ETag: \"%s\"\r\n", rs->etag);
    if (rs->status == 401)
        buf_puts(h, "WWW-Authenticate: Bearer realm=\"infosrv\"\r\n");
    if (rs->retry_after)
        buf_printf(h, "Retry-After: %u\r\n", rs->retry_after);
    buf_append(h, extra, extra_len);
    buf_puts(h, j->keep ? "\r\n" : "Connection: close\r\n\r\n");
    if (j->req.method != HTTP_M_HEAD)
        buf_append(h, rs->body.data, rs->body.len);
}

static char *header_dup(const struct http1_req *req, const char *name)
{
    const struct http_header *h = http1_find_header(req, name);

    return h ? xstrndup(h->value.p, h->value.n) : NULL;
}

/* Browsers send Origin: refuse it unless it names this very host. */
static bool origin_ok(const struct http1_req *req, const struct aconn *c)
{
    const struct http_header *o = http1_find_header(req, "Origin");
    char want[600];
    int n;

    if (o == NULL)
        return true;
    n = snprintf(want, sizeof(want), "%s://%.*s", c->ssl ? "https" : "http", (int)req->host.n,
                 req->host.p);
    return n > 0 && (size_t)n == o->value.n && memcmp(want, o->value.p, o->value.n) == 0;
}

static bool is_read(const struct http1_req *req)
{
    return req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
}

/* The request carries session S's CSRF token (compared in constant time). */
static bool csrf_ok(const struct http1_req *req, const struct login *s)
{
    const struct http_header *h = http1_find_header(req, "X-CSRF-Token");

    return h != NULL && h->value.n == LOGIN_ID_HEX - 1 &&
           sodium_memcmp(h->value.p, s->csrf, LOGIN_ID_HEX - 1) == 0;
}

static bool too_many_failures(const struct aconn *c, struct api_response *rs)
{
    unsigned retry;

    if (!rl_blocked(A.rl, c->addr, time(NULL), &retry))
        return false;
    api_error(rs, 429, "rate_limited", "too many failed logins from %s; retry in %u s", c->addr,
              retry);
    rs->retry_after = retry;
    return true;
}

static void login_failed(const struct aconn *c)
{
    rl_fail(A.rl, c->addr, time(NULL));
    mb_audit_add(A.mb, &(struct mb_actor){"-", c->addr}, "login", "-", "refused", NULL);
}

/*
 * Decide who is asking (API lock held): the local socket's peer, a bearer
 * token, or a console session (whose writes must carry its CSRF token).
 */
static bool authenticate(struct job *j, char *identity, size_t cap, enum role *role,
                         struct api_response *rs)
{
    const struct aconn *c = j->c;
    const struct http1_req *req = &j->req;
    const struct http_header *h;
    char name[ACCT_NAME_MAX + 1], token[256], sid[LOGIN_ID_HEX];
    struct login s;

    if (c->local) {
        snprintf(identity, cap, "local:%u", (unsigned)c->uid);
        *role = ROLE_ADMIN;
        return true;
    }
    if (too_many_failures(c, rs))
        return false;
    h = http1_find_header(req, "Authorization");
    if (h == NULL) {
        login_cookie_id(req->cookie.p, req->cookie.n, sid);
        if (sid[0] && login_find(A.mb, sid, &s)) {
            if (!is_read(req) && !csrf_ok(req, &s)) {
                api_error(rs, 403, "forbidden",
                          "missing or wrong CSRF token (X-CSRF-Token) for a console session");
                return false;
            }
            snprintf(identity, cap, "token:%s", s.account);
            *role = s.role;
            memcpy(j->sid, sid, sizeof(j->sid));
            return true;
        }
        api_error(rs, 401, "unauthorized",
                  sid[0] ? "the console session has ended; log in again"
                         : "this request needs Authorization: Bearer TOKEN");
        if (!sid[0])
            rl_fail(A.rl, c->addr, time(NULL));
        return false;
    }
    if (h->value.n < 8 || strncasecmp(h->value.p, "Bearer ", 7) != 0 ||
        h->value.n - 7 >= sizeof(token)) {
        api_error(rs, 401, "unauthorized", "this request needs Authorization: Bearer TOKEN");
        rl_fail(A.rl, c->addr, time(NULL));
        return false;
    }
    memcpy(token, h->value.p + 7, h->value.n - 7);
    token[h->value.n - 7] = '\0';
    if (acct_authenticate(A.mb, token, name, sizeof(name), role) == -1) {
        api_error(rs, 401, "unauthorized", "the token is not valid");
        login_failed(c);
        return false;
    }
    rl_success(A.rl, c->addr);
    snprintf(identity, cap, "token:%s", name);
    return true;
}

static json_t *login_json(const struct login *s)
{
    char when[32], identity[ACCT_NAME_MAX + 8];

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&s->expires));
    snprintf(identity, sizeof(identity), "token:%s", s->account);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "identity", identity, "account", s->account, "role",
                     role_to_string(s->role), "csrf", s->csrf, "expires", when);
}

/* POST /api/v1/login {"token"}, GET /api/v1/login, POST /api/v1/logout (API lock held). */
static void login_route(struct job *j, const char *path, struct api_response *rs,
                        struct buf *extra)
{
    struct aconn *c = j->c;
    char sid[LOGIN_ID_HEX];
    struct login s;

    login_cookie_id(j->req.cookie.p, j->req.cookie.n, sid);
    if (strcmp(path, "/api/v1/logout") == 0) {
        if (j->req.method != HTTP_M_POST) {
            api_error(rs, 405, "method_not_allowed", "log out with POST /api/v1/logout");
            return;
        }
        if (sid[0] && login_find(A.mb, sid, &s)) {
            if (!csrf_ok(&j->req, &s)) {
                api_error(rs, 403, "forbidden", "missing or wrong CSRF token (X-CSRF-Token)");
                return;
            }
            login_delete(sid);
            mb_audit_add(A.mb, &(struct mb_actor){"console", c->addr}, "logout", s.account, "ok",
                         NULL);
            events_notify(NULL); /* its event streams end now */
        }
        buf_puts(extra, "Set-Cookie: " LOGIN_COOKIE "=; Path=/; Max-Age=0; HttpOnly; Secure; "
                        "SameSite=Strict\r\n");
        api_reply_json(rs, 200, json_pack("{s:b}", "logged_out", 1));
        return;
    }
    if (j->req.method == HTTP_M_GET || j->req.method == HTTP_M_HEAD) {
        if (sid[0] && login_find(A.mb, sid, &s))
            api_reply_json(rs, 200, login_json(&s));
        else
            api_error(rs, 401, "unauthorized", "no console session; log in with a token");
        return;
    }
    if (j->req.method != HTTP_M_POST) {
        api_error(rs, 405, "method_not_allowed", "log in with POST /api/v1/login {\"token\"}");
        return;
    }
    if (too_many_failures(c, rs))
        return;
    json_error_t jerr;
    const char *body = c->in.data + j->head;
    json_t *doc = j->req.body == HTTP_BODY_LENGTH
                      ? json_loadb(body, (size_t)j->req.content_length, 0, &jerr)
                      : NULL;
    const char *token = json_string_value(json_object_get(doc, "token"));
    if (!json_is_object(doc) || token == NULL || json_object_size(doc) != 1) {
        api_error(rs, 400, "invalid_request", "log in with a body {\"token\": \"TOKEN\"}");
    } else if (login_create(A.mb, token, &s) == -1) {
        api_error(rs, 401, "unauthorized", "the token is not valid");
        login_failed(c);
    } else {
        rl_success(A.rl, c->addr);
        mb_audit_add(A.mb, &(struct mb_actor){"console", c->addr}, "login", s.account, "ok",
                     NULL);
        buf_printf(extra,
                   "Set-Cookie: " LOGIN_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; Secure; "
                   "SameSite=Strict\r\n",
                   s.id, LOGIN_TTL_S);
        api_reply_json(rs, 200, login_json(&s));
    }
    json_decref(doc);
}

/* GET /api/v1/events: the head and what the stream starts with (API lock held). */
static void events_start(struct job *j)
{
    char *last = header_dup(&j->req, "Last-Event-ID");
    int64_t at = events_resume_point(last);

    buf_puts(&j->out, "HTTP/1.1 200 OK\r\nServer: infosrv-admin\r\n"
                      "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\nConnection: keep-alive\r\n\r\n"
                      "retry: 2000\n\n");
    events_hello(&j->out);
    if (at < 0) {
        events_reset(&j->out);
        at = (int64_t)events_last();
    }
    j->after = (uint64_t)at;
    j->stream = true;
    free(last);
}

static void answer_api(struct job *j, const char *path, const char *query)
{
    struct api_response rs = {0};
    struct api_request rq = {0};
    struct buf extra = {0};
    char identity[128], *if_match = NULL;

    pthread_mutex_lock(&api_lock);
    if (!origin_ok(&j->req, j->c)) {
        api_error(&rs, 403, "forbidden", "cross-origin requests are refused");
    } else if (!j->c->local &&
               (strcmp(path, "/api/v1/login") == 0 || strcmp(path, "/api/v1/logout") == 0)) {
        login_route(j, path, &rs, &extra);
    } else if (authenticate(j, identity, sizeof(identity), &rq.role, &rs)) {
        if (strcmp(path, "/api/v1/events") == 0 && is_read(&j->req)) {
            events_start(j);
            pthread_mutex_unlock(&api_lock);
            return;
        }
        if_match = header_dup(&j->req, "If-Match");
        rq.method = http1_method_name(j->req.method) ? http1_method_name(j->req.method) : "?";
        rq.path = path;
        rq.query = query;
        rq.if_match = if_match;
        rq.body = j->req.body == HTTP_BODY_LENGTH ? j->c->in.data + j->head : NULL;
        rq.body_len = j->req.body == HTTP_BODY_LENGTH ? (size_t)j->req.content_length : 0;
        rq.identity = identity;
        rq.address = j->c->addr;
        api_handle(&rq, &rs);
        j->changed = !is_read(&j->req);
        free(if_match);
    }
    pthread_mutex_unlock(&api_lock);
    format_response(j, &rs, extra.data, extra.len, false);
    buf_free(&extra);
    buf_free(&rs.body);
}

static void answer_file(struct job *j, const char *path)
{
    struct api_response rs = {0};
    char type[WEBFILES_TYPE_MAX];

    if (!is_read(&j->req)) {
        static const char allow[] = "Allow: GET, HEAD\r\n";
        api_error(&rs, 405, "method_not_allowed", "the console's files are read with GET");
        format_response(j, &rs, allow, sizeof(allow) - 1, false);
    } else {
        rs.status = webfiles_get(path, &rs.body, type);
        rs.content_type = type;
        format_response(j, &rs, NULL, 0, rs.status == 200);
    }
    buf_free(&rs.body);
}

static bool is_api_path(const char *p)
{
    return strcmp(p, "/api") == 0 || strncmp(p, "/api/", 5) == 0 || strcmp(p, "/metrics") == 0;
}

static void answer(struct job *j)
{
    char path[8200], *query;
    size_t plen;
    int st;
    const char *why;
    const struct http1_req *req = &j->req;

    j->keep = req->keep_alive && j->c->served + 1 < MAX_REQUESTS_PER_CONN;
    query = xstrndup(req->query.p ? req->query.p : "", req->query.n);
    if (path_normalize(req->path.p, req->path.n, path, sizeof(path), &plen, &st, &why) == -1) {
        struct api_response rs = {0};
        api_error(&rs, 400, "invalid_request", "the request path is malformed");
        format_response(j, &rs, NULL, 0, false);
        buf_free(&rs.body);
    } else if (is_api_path(path)) {
        answer_api(j, path, query);
    } else {
        answer_file(j, path);
    }
    free(query);
}

static void *exec_main(void *arg)
{
    struct job *j;
    bool changed;

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&A.qlock);
        while (A.qhead == NULL && !A.stopping)
            pthread_cond_wait(&A.qcond, &A.qlock);
        if (A.stopping) {
            pthread_mutex_unlock(&A.qlock);
            return NULL;
        }
        j = A.qhead;
        A.qhead = j->next;
        if (A.qhead == NULL)
            A.qtail = &A.qhead;
        pthread_mutex_unlock(&A.qlock);
        answer(j);
        ERR_clear_error();
        changed = j->changed;
        loop_post(A.loop, job_done, j); /* J is the loop's now */
        if (changed) {
            /* after the answer, so that the caller does not wait for the streams */
            pthread_mutex_lock(&api_lock);
            events_poll();
            pthread_mutex_unlock(&api_lock);
        }
    }
}

/* Once a second while anyone listens: new revisions, state changes, the statistics. */
static void *ticker_main(void *arg)
{
    struct timespec until;

    (void)arg;
    pthread_mutex_lock(&A.qlock);
    while (!A.stopping) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&A.tick_cond, &A.qlock, &until);
        if (A.stopping || atomic_load(&A.nstreams) == 0)
            continue;
        pthread_mutex_unlock(&A.qlock);
        pthread_mutex_lock(&api_lock);
        events_tick();
        pthread_mutex_unlock(&api_lock);
        pthread_mutex_lock(&A.qlock);
    }
    pthread_mutex_unlock(&A.qlock);
    return NULL;
}

/* ---- listeners ---- */

static int open_unix(const char *state_dir, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    mode_t old;
    int fd;

    if (snprintf(A.sock_path, sizeof(A.sock_path), "%s/admin.sock", state_dir) >=
            (int)sizeof(sun.sun_path))
        return snprintf(err, errlen, "the admin socket path is too long"), -1;
    memcpy(sun.sun_path, A.sock_path, strlen(A.sock_path) + 1);
    unlink(A.sock_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    old = umask(0177); /* the socket is born 0600 */
    if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
        listen(fd, 512) == -1) {
        umask(old);
        snprintf(err, errlen, "cannot listen on %s: %s", A.sock_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    umask(old);
    chmod(A.sock_path, 0600);
    A.unix_fd = fd;
    return 0;
}

static int open_tcp(const char *state_dir, const struct net_addr *a, char *err, size_t errlen)
{
    char crt[PATH_MAX], key[PATH_MAX], where[80];
    int one = 1;

    snprintf(crt, sizeof(crt), "%s/admin.crt", state_dir);
    snprintf(key, sizeof(key), "%s/admin.key", state_dir);
    if (tls_ensure_cert(crt, key, err, errlen) == -1)
        return -1;
    A.ssl_ctx = tls_server_ctx(crt, key, err, errlen);
    if (A.ssl_ctx == NULL)
        return -1;
    SSL_CTX_set_mode(A.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    net_addr_str((const struct sockaddr *)&a->ss, where, sizeof(where));
    if (net_port((const struct sockaddr *)&a->ss) < 1024 && geteuid() != 0) {
        /* a privileged port once root is given up: the privsep helper opens it */
        if (net_probe_free(a) == -1 || (A.tcp_fd = net_listen(a, 512)) == -1) {
            snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
            return -1;
        }
        fcntl(A.tcp_fd, F_SETFL, fcntl(A.tcp_fd, F_GETFL) | O_NONBLOCK);
        A.tcp_port = (unsigned)net_local_port(A.tcp_fd);
        return 0;
    }
    A.tcp_fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (A.tcp_fd == -1 || setsockopt(A.tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(A.tcp_fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
        listen(A.tcp_fd, 512) == -1) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
        return -1;
    }
    A.tcp_port = (unsigned)net_local_port(A.tcp_fd);
    return 0;
}

int admin_start(const struct admin_config *cfg, char *err, size_t errlen)
{
    char why[PATH_MAX + 200];

    A.mb = cfg->mb;
    A.rl = rl_new(5, 60, 60, 4096);
    A.qtail = &A.qhead;
    api_init(cfg->mb, cfg->state_dir);
    if (!webfiles_init(cfg->web_dir, why, sizeof(why))) {
        if (cfg->web_dir)
            return snprintf(err, errlen, "%s", why), -1;
        if (cfg->tcp)
            log_warnx("admin: the web console is not served: %s", why);
    }
    A.loop = loop_new();
    if (A.loop == NULL)
        return snprintf(err, errlen, "cannot make the admin event loop: %s", strerror(errno)), -1;
    loop_set_idle(A.loop, bury, NULL);
    events_init(cfg->mb, events_notify, NULL);
    pthread_mutex_lock(&api_lock);
    events_poll(); /* what is there now is not news */
    pthread_mutex_unlock(&api_lock);
    if (open_unix(cfg->state_dir, err, errlen) == -1)
        return -1;
    if (cfg->tcp && open_tcp(cfg->state_dir, cfg->tcp, err, errlen) == -1)
        return -1;
    A.unix_io = (struct loop_io){.fd = A.unix_fd, .cb = on_accept};
    A.tcp_io = (struct loop_io){.fd = A.tcp_fd, .cb = on_accept};
    if (loop_add(A.loop, &A.unix_io, LOOP_IN) == -1 ||
        (A.tcp_fd >= 0 && loop_add(A.loop, &A.tcp_io, LOOP_IN) == -1))
        return snprintf(err, errlen, "cannot watch the admin listeners: %s", strerror(errno)), -1;
    for (int i = 0; i < NEXEC; i++)
        if (pthread_create(&A.exec[i], NULL, exec_main, NULL) != 0)
            return snprintf(err, errlen, "cannot start the admin threads"), -1;
    if (pthread_create(&A.ticker, NULL, ticker_main, NULL) != 0 ||
        pthread_create(&A.loop_thread, NULL, loop_main, NULL) != 0)
        return snprintf(err, errlen, "cannot start the admin threads"), -1;
    A.running = true;
    return 0;
}

unsigned admin_tcp_port(void)
{
    return A.tcp_port;
}

bool admin_console_served(void)
{
    return webfiles_dir() != NULL;
}

static void loop_quit(void *arg)
{
    (void)arg;
    loop_stop(A.loop);
}

void admin_stop(void)
{
    struct job *j;

    if (!A.running)
        return;
    /* Request threads finish what they answer (bounded by the API's own
     * limits), then the loop runs their answers' posts and stops. */
    pthread_mutex_lock(&A.qlock);
    A.stopping = true;
    pthread_cond_broadcast(&A.qcond);
    pthread_cond_broadcast(&A.tick_cond);
    pthread_mutex_unlock(&A.qlock);
    for (int i = 0; i < NEXEC; i++)
        pthread_join(A.exec[i], NULL);
    pthread_join(A.ticker, NULL);
    loop_post(A.loop, loop_quit, NULL);
    pthread_join(A.loop_thread, NULL);
    A.running = false;
    /* requests never taken: their connections are closed below */
    while ((j = A.qhead) != NULL) {
        A.qhead = j->next;
        j->c->st = C_READING;
        free(j);
    }
    while (A.conns)
        conn_close(A.conns);
    bury(NULL);
    loop_timer_clear(A.loop, &A.flush_timer);
    loop_del(A.loop, &A.unix_io);
    close(A.unix_fd);
    unlink(A.sock_path);
    if (A.tcp_fd >= 0) {
        loop_del(A.loop, &A.tcp_io);
        close(A.tcp_fd);
    }
    loop_free(A.loop);
    A.loop = NULL;
    if (A.ssl_ctx)
        SSL_CTX_free(A.ssl_ctx);
    rl_free(A.rl);
    events_fini();
    login_clear();
}
