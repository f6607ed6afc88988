#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin/accounts.h"
#include "admin/api.h"
#include "runtime/ratelimit.h"
#include "runtime/tlscert.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "metabase/mb.h"
#include "www/http1.h"
#include "runtime/path.h"

#define MAX_CONNS 32
#define IO_TIMEOUT_S 10
#define MAX_HEAD 16384
#define MAX_BODY (1 << 20)
#define MAX_REQUESTS_PER_CONN 1000

struct aconn {
    int fd;
    SSL *ssl;
    bool local;
    uid_t uid;
    char addr[64];
    struct buf in;
};

static struct {
    int unix_fd, tcp_fd, stop_pipe[2];
    unsigned tcp_port;
    SSL_CTX *ssl_ctx;
    struct mb *mb;
    struct ratelimit *rl;
    pthread_t thread;
    bool running;
    atomic_int nconns;
    char sock_path[PATH_MAX];
} A = {.unix_fd = -1, .tcp_fd = -1, .stop_pipe = {-1, -1}};

static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;

void admin_lock(void)
{
    pthread_mutex_lock(&api_lock);
}

void admin_unlock(void)
{
    pthread_mutex_unlock(&api_lock);
}

/* ---- transport ---- */

static ssize_t conn_read(struct aconn *c, void *p, size_t n)
{
    int r;

    if (c->ssl == NULL)
        return recv(c->fd, p, n, 0);
    r = SSL_read(c->ssl, p, (int)n);
    return r > 0 ? r : (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static int conn_write(struct aconn *c, const void *p, size_t n)
{
    const char *q = p;

    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, q, (int)n) : send(c->fd, q, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until a complete head (and its Content-Length body) is buffered. */
static int read_request(struct aconn *c, struct http1_req *req, size_t *head, int *status,
                        const char **reason)
{
    static const struct http1_limits lim = {MAX_HEAD, 8192, 100};
    enum http1_result r;
    ssize_t n;

    for (;;) {
        if (c->in.len > 0) {
            r = http1_parse_request(c->in.data, c->in.len, &lim, req, head, status, reason);
            if (r == HTTP1_ERROR)
                return -1;
            if (r == HTTP1_DONE) {
                if (req->body == HTTP_BODY_CHUNKED) {
                    *status = 411;
                    *reason = "send the body with Content-Length";
                    return -1;
                }
                if (req->body == HTTP_BODY_LENGTH && req->content_length > MAX_BODY) {
                    *status = 413;
                    *reason = "the admin API accepts bodies up to 1 MiB";
                    return -1;
                }
                if (req->body != HTTP_BODY_LENGTH || c->in.len >= *head + req->content_length)
                    return 0;
            }
        }
        buf_reserve(&c->in, 16384);
        n = conn_read(c, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n <= 0)
            return -2; /* closed or timed out: no answer */
        c->in.len += (size_t)n;
    }
}

static const char *status_text(int st)
{
    switch (st) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static int send_response(struct aconn *c, const struct api_response *rs, bool keep, bool head)
{
    struct buf h = {0};
    int rc;

    buf_printf(&h, "HTTP/1.1 %d %s\r\nServer: infosrv-admin\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                   "X-Content-Type-Options: nosniff\r\n",
               rs->status, status_text(rs->status),
               rs->content_type ? rs->content_type : "application/json", rs->body.len);
    if (rs->etag[0])
        buf_printf(&h, "ETag: \"%s\"\r\n", rs->etag);
    if (rs->status == 401)
        buf_puts(&h, "WWW-Authenticate: Bearer realm=\"infosrv\"\r\n");
    if (rs->retry_after)
        buf_printf(&h, "Retry-After: %u\r\n", rs->retry_after);
    buf_puts(&h, keep ? "\r\n" : "Connection: close\r\n\r\n");
    if (!head)
        buf_append(&h, rs->body.data, rs->body.len);
    rc = conn_write(c, h.data, h.len);
    buf_free(&h);
    return rc;
}

/* ---- authentication ---- */

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

/* Decide who is asking; fills identity and role or an error response. */
static bool authenticate(struct aconn *c, const struct http1_req *req, char *identity,
                         size_t cap, enum role *role, struct api_response *rs)
{
    const struct http_header *h;
    char name[ACCT_NAME_MAX + 1], token[256];
    unsigned retry;

    if (c->local) {
        snprintf(identity, cap, "local:%u", (unsigned)c->uid);
        *role = ROLE_ADMIN;
        return true;
    }
    if (rl_blocked(A.rl, c->addr, time(NULL), &retry)) {
        api_error(rs, 429, "rate_limited", "too many failed logins from %s; retry in %u s",
                  c->addr, retry);
        rs->retry_after = retry;
        return false;
    }
    h = http1_find_header(req, "Authorization");
    if (h == NULL || h->value.n < 8 || strncasecmp(h->value.p, "Bearer ", 7) != 0 ||
        h->value.n - 7 >= sizeof(token)) {
        api_error(rs, 401, "unauthorized", "this request needs Authorization: Bearer TOKEN");
        rl_fail(A.rl, c->addr, time(NULL));
        return false;
    }
    memcpy(token, h->value.p + 7, h->value.n - 7);
    token[h->value.n - 7] = '\0';
    if (acct_authenticate(A.mb, token, name, sizeof(name), role) == -1) {
        api_error(rs, 401, "unauthorized", "the token is not valid");
        rl_fail(A.rl, c->addr, time(NULL));
        mb_audit_add(A.mb, &(struct mb_actor){"-", c->addr}, "login", "-", "refused", NULL);
        return false;
    }
    rl_success(A.rl, c->addr);
    snprintf(identity, cap, "token:%s", name);
    return true;
}

/* ---- one request ---- */

static void split_target(const struct http1_req *req, char *path, size_t cap, char **query)
{
    size_t plen;
    int st;
    const char *why;

    if (path_normalize(req->path.p, req->path.n, path, cap, &plen, &st, &why) == -1)
        path[0] = '\0';
    *query = xstrndup(req->query.p ? req->query.p : "", req->query.n);
}

static void answer(struct aconn *c, const struct http1_req *req, const char *body,
                   struct api_response *rs)
{
    char path[8200], identity[128], *query, *if_match;
    struct api_request rq = {0};

    pthread_mutex_lock(&api_lock);
    if (!origin_ok(req, c)) {
        api_error(rs, 403, "forbidden", "cross-origin requests are refused");
    } else if (authenticate(c, req, identity, sizeof(identity), &rq.role, rs)) {
        split_target(req, path, sizeof(path), &query);
        if_match = header_dup(req, "If-Match");
        rq.method = http1_method_name(req->method) ? http1_method_name(req->method) : "?";
        rq.path = path;
        rq.query = query;
        rq.if_match = if_match;
        rq.body = req->body == HTTP_BODY_LENGTH ? body : NULL;
        rq.body_len = req->body == HTTP_BODY_LENGTH ? req->content_length : 0;
        rq.identity = identity;
        rq.address = c->addr;
        if (path[0] == '\0')
            api_error(rs, 400, "invalid_request", "the request path is malformed");
        else
            api_handle(&rq, rs);
        free(query);
        free(if_match);
    }
    pthread_mutex_unlock(&api_lock);
}

static void serve_conn(struct aconn *c)
{
    struct http1_req req;
    size_t head;
    int status, served = 0;
    const char *reason;
    struct api_response rs;
    bool keep;

    while (served++ < MAX_REQUESTS_PER_CONN) {
        memset(&rs, 0, sizeof(rs));
        int r = read_request(c, &req, &head, &status, &reason);
        if (r == -2)
            break;
        if (r == -1) {
            api_error(&rs, status, "invalid_request", "%s", reason);
            send_response(c, &rs, false, false);
            buf_free(&rs.body);
            break;
        }
        answer(c, &req, c->in.data + head, &rs);
        keep = req.keep_alive && served < MAX_REQUESTS_PER_CONN;
        if (send_response(c, &rs, keep, req.method == HTTP_M_HEAD) == -1)
            keep = false;
        buf_free(&rs.body);
        buf_consume(&c->in, head + (req.body == HTTP_BODY_LENGTH ? req.content_length : 0));
        if (!keep)
            break;
    }
}

static void conn_free(struct aconn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    buf_free(&c->in);
    free(c);
    atomic_fetch_sub(&A.nconns, 1);
}

static void *conn_thread(void *arg)
{
    struct aconn *c = arg;

    if (c->ssl && SSL_accept(c->ssl) != 1) {
        ERR_clear_error();
        conn_free(c);
        return NULL;
    }
    serve_conn(c);
    ERR_clear_error();
    conn_free(c);
    return NULL;
}

/* ---- accepting ---- */

static bool peer_allowed(int fd, uid_t *uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
        return false;
    *uid = cred.uid;
    return cred.uid == 0 || cred.uid == geteuid();
}

static void start_conn(int fd, bool local, const struct sockaddr_storage *ss)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    struct aconn *c;
    pthread_t t;
    pthread_attr_t attr;

    if (atomic_fetch_add(&A.nconns, 1) >= MAX_CONNS) {
        atomic_fetch_sub(&A.nconns, 1);
        close(fd);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->local = local;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (local) {
        snprintf(c->addr, sizeof(c->addr), "unix");
        if (!peer_allowed(fd, &c->uid)) {
            log_warnx("admin: refused a local connection from uid %u", (unsigned)c->uid);
            conn_free(c);
            return;
        }
    } else {
        net_host_str((const struct sockaddr *)ss, c->addr, sizeof(c->addr));
        c->ssl = SSL_new(A.ssl_ctx);
        SSL_set_fd(c->ssl, fd);
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, conn_thread, c) != 0)
        conn_free(c);
    pthread_attr_destroy(&attr);
}

static void *accept_thread(void *arg)
{
    struct pollfd pfd[3] = {{A.stop_pipe[0], POLLIN, 0}, {A.unix_fd, POLLIN, 0},
                            {A.tcp_fd, POLLIN, 0}};
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    (void)arg;
    for (;;) {
        if (poll(pfd, A.tcp_fd >= 0 ? 3 : 2, -1) == -1 && errno != EINTR)
            break;
        if (pfd[0].revents)
            break;
        for (int i = 1; i < 3; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            len = sizeof(ss);
            fd = accept4(pfd[i].fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
            if (fd >= 0)
                start_conn(fd, i == 1, &ss);
        }
    }
    return NULL;
}

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
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    old = umask(0177); /* the socket is born 0600 */
    if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 || listen(fd, 64) == -1) {
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
    net_addr_str((const struct sockaddr *)&a->ss, where, sizeof(where));
    if (net_port((const struct sockaddr *)&a->ss) < 1024 && geteuid() != 0) {
        /* a privileged port once root is given up: the privsep helper opens it */
        if (net_probe_free(a) == -1 || (A.tcp_fd = net_listen(a, 64)) == -1) {
            snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
            return -1;
        }
        fcntl(A.tcp_fd, F_SETFL, fcntl(A.tcp_fd, F_GETFL) & ~O_NONBLOCK);
        A.tcp_port = (unsigned)net_local_port(A.tcp_fd);
        return 0;
    }
    A.tcp_fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (A.tcp_fd == -1 || setsockopt(A.tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(A.tcp_fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
        listen(A.tcp_fd, 64) == -1) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
        return -1;
    }
    A.tcp_port = (unsigned)net_local_port(A.tcp_fd);
    return 0;
}

int admin_start(const struct admin_config *cfg, char *err, size_t errlen)
{
    A.mb = cfg->mb;
    A.rl = rl_new(5, 60, 60, 4096);
    api_init(cfg->mb, cfg->state_dir);
    if (pipe2(A.stop_pipe, O_CLOEXEC) == -1 || open_unix(cfg->state_dir, err, errlen) == -1)
        return -1;
    if (cfg->tcp && open_tcp(cfg->state_dir, cfg->tcp, err, errlen) == -1)
        return -1;
    if (pthread_create(&A.thread, NULL, accept_thread, NULL) != 0)
        return snprintf(err, errlen, "cannot start the admin thread"), -1;
    A.running = true;
    return 0;
}

unsigned admin_tcp_port(void)
{
    return A.tcp_port;
}

void admin_stop(void)
{
    if (!A.running)
        return;
    if (write(A.stop_pipe[1], "x", 1) != 1)
        log_warn("admin: stop pipe");
    pthread_join(A.thread, NULL);
    A.running = false;
    close(A.unix_fd);
    unlink(A.sock_path);
    if (A.tcp_fd >= 0)
        close(A.tcp_fd);
    /* Connection threads finish within their I/O timeout; wait for them. */
    for (int i = 0; i < (IO_TIMEOUT_S + 2) * 10 && atomic_load(&A.nconns) > 0; i++)
        usleep(100000);
    if (A.ssl_ctx)
        SSL_CTX_free(A.ssl_ctx);
    rl_free(A.rl);
    close(A.stop_pipe[0]);
    close(A.stop_pipe[1]);
}
