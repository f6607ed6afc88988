/* ctrl: FTP control connections. */
#include "ftp/ctrl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "ftp/auth.h"
#include "ftp/cmd.h"
#include "ftp/data.h"
#include "ftp/ftp.h"
#include "ftp/fs.h"
#include "ftp/list.h"
#include "runtime/accesslog.h"
#include "runtime/path.h"
#include "runtime/ratelimit.h"
#include "runtime/tls.h"
#include "runtime/worker.h"
#include "version.h"

#define IN_MAX 8192             /* command bytes buffered (pipelined commands) */
#define OUT_HIGH 65536          /* replies queued before commands wait */
#define FAIL_DELAY_MS 1000      /* after a wrong password */
#define LOGIN_FAILURES 5        /* within LOGIN_WINDOW_S, then blocked for LOGIN_BLOCK_S */
#define LOGIN_WINDOW_S 60
#define LOGIN_BLOCK_S 300

static void ctrl_on_io(struct loop *l, struct loop_io *io, uint32_t events);
static void ctrl_process(struct ftp_conn *c);

/* ---- limits shared by every worker: failed logins and connections per address ---- */

static pthread_mutex_t addr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit *failures;

struct addr_count {
    char ip[48];
    unsigned n;
};
static struct addr_count *addrs;
static size_t naddrs, addrs_cap;

static struct ratelimit *login_limiter(void)
{
    pthread_mutex_lock(&addr_lock);
    if (failures == NULL)
        failures = rl_new(LOGIN_FAILURES, LOGIN_WINDOW_S, LOGIN_BLOCK_S, 4096);
    pthread_mutex_unlock(&addr_lock);
    return failures;
}

/* Count one more connection from IP; the new count. */
static unsigned addr_inc(const char *ip)
{
    unsigned n = 0;

    pthread_mutex_lock(&addr_lock);
    for (size_t i = 0; i < naddrs && n == 0; i++)
        if (strcmp(addrs[i].ip, ip) == 0)
            n = ++addrs[i].n;
    if (n == 0) {
        if (naddrs == addrs_cap)
            addrs = xrealloc(addrs, (addrs_cap = addrs_cap ? addrs_cap * 2 : 64) * sizeof(*addrs));
        snprintf(addrs[naddrs].ip, sizeof(addrs[naddrs].ip), "%s", ip);
        n = addrs[naddrs++].n = 1;
    }
    pthread_mutex_unlock(&addr_lock);
    return n;
}

static void addr_dec(const char *ip)
{
    pthread_mutex_lock(&addr_lock);
    for (size_t i = 0; i < naddrs; i++) {
        if (strcmp(addrs[i].ip, ip) == 0 && --addrs[i].n == 0) {
            addrs[i] = addrs[--naddrs];
            break;
        }
    }
    pthread_mutex_unlock(&addr_lock);
}

/* ---- replies ---- */

static struct buf *out_buf(struct ftp_conn *c)
{
    if (c->out == NULL)
        c->out = worker_buf_get(c->s.w);
    return c->out;
}

void ftp_reply(struct ftp_conn *c, int code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (char *p = text; *p; p++) /* a reply line holds no line end of its own */
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    buf_printf(out_buf(c), "%d %s\r\n", code, text);
}

/* CODE-line for each of LINES, then "CODE LAST". */
static void reply_lines(struct ftp_conn *c, int code, char *const *lines, const char *last)
{
    for (size_t i = 0; lines && lines[i]; i++)
        buf_printf(out_buf(c), "%d-%s\r\n", code, lines[i]);
    ftp_reply(c, code, "%s", last);
}

static int ctrl_watch_out(struct ftp_conn *c, bool on)
{
    if (loop_watch_out(c->s.w->loop, &c->io, &c->watch_out, on) == -1) {
        log_warn("ftp: epoll mod");
        return -1;
    }
    return 0;
}

int ftp_ctrl_flush(struct ftp_conn *c)
{
    while (c->out && c->out_sent < c->out->len) {
        ssize_t n = xport_write(&c->x, c->out->data + c->out_sent, c->out->len - c->out_sent,
                                false);
        if (n == XP_AGAIN)
            return ctrl_watch_out(c, true) == -1 ? (ftp_ctrl_close(c), -1) : 0;
        if (n < 0) {
            ftp_ctrl_close(c);
            return -1;
        }
        c->out_sent += (size_t)n;
        session_count_out(&c->s, (size_t)n);
    }
    switch (xport_pending(&c->x) ? xport_flush(&c->x) : 0) {
    case XP_AGAIN:
        return ctrl_watch_out(c, true) == -1 ? (ftp_ctrl_close(c), -1) : 0;
    case XP_ERROR:
        ftp_ctrl_close(c);
        return -1;
    }
    worker_buf_put(c->s.w, c->out);
    c->out = NULL;
    c->out_sent = 0;
    if (c->quit) {
        ftp_ctrl_close(c);
        return -1;
    }
    return ctrl_watch_out(c, false) == -1 ? (ftp_ctrl_close(c), -1) : 0;
}

/* ---- the access log ---- */

void ftp_ctrl_log(struct ftp_conn *c, const char *verb, const char *arg, int code)
{
    const struct site *site = c->s.site;
    struct alog_entry e = {0};

    if (site == NULL || site->alog == NULL)
        return;
    e.time = clock_wall();
    e.client_ip = c->s.peer_ip;
    e.user = c->user[0] ? c->user : NULL;
    e.method = verb;
    e.uri_stem = arg && *arg ? arg : "-";
    e.uri_stem_len = strlen(e.uri_stem);
    e.protocol = "FTP";
    e.status = code;
    e.bytes_sent = c->s.bytes_out;
    e.bytes_received = c->s.bytes_in;
    e.server_ip = c->s.li->ip;
    e.server_port = c->s.li->port;
    e.site = site->name;
    alog_write(site->alog, c->s.w->id, &e);
}

/* ---- life cycle ---- */

static uint32_t idle_ms(const struct ftp_conn *c)
{
    return c->s.site ? c->s.site->idle_timeout_ms : 15000;
}

static void ctrl_timeout(struct loop *l, struct loop_timer *t)
{
    struct ftp_conn *c = container_of(t, struct ftp_conn, timer);

    (void)l;
    if (c->state == FC_CMD && ftp_data_busy(c)) { /* the data connection has its own timer */
        loop_timer_set(c->s.w->loop, &c->timer, idle_ms(c), ctrl_timeout);
        return;
    }
    if (c->state == FC_CMD) {
        ftp_reply(c, 421, "Timeout: no command for %u seconds; closing the connection.",
                  idle_ms(c) / 1000);
        c->quit = true;
        ftp_ctrl_flush(c);
        return;
    }
    ftp_ctrl_close(c);
}

static void ctrl_arm(struct ftp_conn *c)
{
    loop_timer_set(c->s.w->loop, &c->timer,
                   c->state == FC_HANDSHAKE ? TLS_HANDSHAKE_TIMEOUT_MS : idle_ms(c), ctrl_timeout);
}

static void greet(struct ftp_conn *c)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    reply_lines(c, 220, fs ? fs->greeting : NULL, "infosrv FTP service ready.");
}

/* The site or the client's address has too many connections: 421 and close. */
static bool ctrl_refuse_busy(struct ftp_conn *c, unsigned per_addr)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (fs == NULL || fs->max_per_address == 0 || per_addr <= fs->max_per_address)
        return false;
    reply_lines(c, 421, fs->busy_msg, "Too many connections from your address; try again later.");
    c->quit = true;
    return true;
}

void ftp_ctrl_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer)
{
    struct ftp_conn *c = xcalloc(1, sizeof(*c));
    int one = 1;
    unsigned per_addr;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* The Telnet Synch before ABOR is urgent data: read inline, its IAC bytes are removed. */
    setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
    session_open(&c->s, &ftp_service, w, li, peer);
    c->io.fd = fd;
    c->io.cb = ctrl_on_io;
    c->s.tls = li->bind->tls;
    c->cwd = xstrdup("/");
    c->home = xstrdup("");
    per_addr = addr_inc(c->s.peer_ip);
    c->state = c->s.tls ? FC_HANDSHAKE : FC_CMD;
    if (xport_accept_init(&c->x, fd, li->bind, &c->s, w->rbuf, WORKER_RBUF) == -1) {
        ftp_ctrl_close(c);
        return;
    }
    if (loop_add(w->loop, &c->io, LOOP_IN) == -1) {
        log_warn("ftp: epoll add of a new connection");
        ftp_ctrl_close(c);
        return;
    }
    ctrl_arm(c);
    if (c->state == FC_HANDSHAKE) {
        ctrl_on_io(w->loop, &c->io, LOOP_IN);
        return;
    }
    if (!ctrl_refuse_busy(c, per_addr))
        greet(c);
    ftp_ctrl_flush(c);
}

static void logout(struct ftp_conn *c)
{
    if (!c->logged_in)
        return;
    stats_gauge_dec(c->s.li->service_slot, c->anonymous ? GAUGE_ANONYMOUS : GAUGE_NONANONYMOUS);
    stats_gauge_dec(c->login_slot, c->anonymous ? GAUGE_ANONYMOUS : GAUGE_NONANONYMOUS);
    c->logged_in = false;
}

void ftp_ctrl_close(struct ftp_conn *c)
{
    struct worker *w = c->s.w;

    if (c->state == FC_DEAD)
        return;
    c->state = FC_DEAD;
    ftp_data_close(c);
    logout(c);
    loop_timer_clear(w->loop, &c->timer);
    xport_close(&c->x);
    worker_buf_put(w, c->in);
    worker_buf_put(w, c->out);
    c->in = c->out = NULL;
    addr_dec(c->s.peer_ip);
    session_close(&c->s);
}

void ftp_ctrl_drain(struct ftp_conn *c)
{
    if (!ftp_data_busy(c) && !c->auth_pending) {
        ftp_reply(c, 421, "The service is shutting down; closing the connection.");
        c->quit = true;
        ftp_ctrl_flush(c);
        return;
    }
    c->quit = true; /* after the transfer */
}

void ftp_ctrl_free(struct ftp_conn *c)
{
    if (c->auth_pending) { /* the auth thread still has to answer: it frees */
        c->orphan = true;
        return;
    }
    ftp_data_release(c);
    free(c->cwd);
    free(c->home);
    free(c->rnfr);
    free(c);
}

void ftp_ctrl_describe(const struct session *s, json_t *out)
{
    const struct ftp_conn *c = (const struct ftp_conn *)(const void *)s;

    json_object_set_new(out, "anonymous", json_boolean(c->logged_in && c->anonymous));
    json_object_set_new(out, "logged_in", json_boolean(c->logged_in));
    json_object_set_new(out, "file", c->file[0] ? json_string(c->file) : json_null());
    json_object_set_new(out, "transfer_bytes", json_integer((json_int_t)ftp_data_bytes(c)));
}

void ftp_ctrl_transfer_done(struct ftp_conn *c)
{
    c->file[0] = '\0';
    c->hold = false;
    if (ftp_ctrl_flush(c) == -1)
        return;
    if (c->quit && !ftp_data_busy(c)) {
        ftp_ctrl_close(c);
        return;
    }
    ctrl_arm(c);
    ctrl_process(c);
}

/* ---- login ---- */

static bool is_anonymous_name(const char *name)
{
    return strcasecmp(name, "anonymous") == 0 || strcasecmp(name, "ftp") == 0;
}

static void login_ok(struct ftp_conn *c, bool anonymous, const char *home)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    c->logged_in = true;
    c->anonymous = anonymous;
    free(c->home);
    c->home = xstrdup(home);
    free(c->cwd);
    c->cwd = xstrdup("/");
    snprintf(c->s.user, sizeof(c->s.user), "%s", anonymous ? "anonymous" : c->user);
    c->login_slot = c->s.site ? c->s.site->stats_slot : -1;
    stats_gauge_inc(c->s.li->service_slot, anonymous ? GAUGE_ANONYMOUS : GAUGE_NONANONYMOUS);
    stats_gauge_inc(c->login_slot, anonymous ? GAUGE_ANONYMOUS : GAUGE_NONANONYMOUS);
    rl_success(login_limiter(), c->s.peer_ip);
    reply_lines(c, 230, fs ? fs->welcome : NULL,
                anonymous ? "Anonymous user logged in." : "User logged in.");
    ftp_ctrl_log(c, "PASS", anonymous ? "anonymous" : c->user, 230);
}

static void fail_delay_done(struct loop *l, struct loop_timer *t)
{
    struct ftp_conn *c = container_of(t, struct ftp_conn, timer);

    (void)l;
    c->failed_login_wait = false;
    c->hold = false;
    ftp_reply(c, 530, "Login incorrect.");
    ftp_ctrl_log(c, "PASS", c->user, 530);
    c->user_ok = false;
    if (ftp_ctrl_flush(c) == 0) {
        ctrl_arm(c);
        ctrl_process(c);
    }
}

/* A wrong password is answered after a delay; enough of them block the address. */
static void login_failed(struct ftp_conn *c)
{
    rl_fail(login_limiter(), c->s.peer_ip, clock_wall());
    c->failed_login_wait = true;
    c->hold = true;
    loop_timer_set(c->s.w->loop, &c->timer, FAIL_DELAY_MS, fail_delay_done);
}

/* The home directory must exist on this site before the login succeeds. */
static bool home_exists(const struct ftp_conn *c, const char *home)
{
    struct ftp_target t;
    int fd;

    if (c->s.site == NULL || ftp_resolve(c->s.site, home, "/", &t) == -1)
        return false;
    fd = ftp_open(&t, O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static void auth_done(void *arg, bool ok)
{
    struct ftp_conn *c = arg;
    const struct ftp_user *u;

    c->auth_pending = false;
    if (c->orphan) {
        ftp_ctrl_free(c);
        return;
    }
    if (c->state == FC_DEAD)
        return;
    session_adopt_gen(&c->s);
    u = ftp_user_find(c->s.gen, c->user);
    c->hold = false;
    if (!ok || u == NULL || !u->enabled) {
        login_failed(c);
        return;
    }
    if (!home_exists(c, u->home)) {
        ftp_reply(c, 530, "Your home directory %s does not exist on this site.", u->home);
        ftp_ctrl_log(c, "PASS", c->user, 530);
    } else {
        login_ok(c, false, u->home);
    }
    if (ftp_ctrl_flush(c) == 0) {
        ctrl_arm(c);
        ctrl_process(c);
    }
}

static bool tls_required(const struct ftp_conn *c)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    return fs && fs->tls == FTP_TLS_REQUIRE && !c->s.tls;
}

static void cmd_user(struct ftp_conn *c, const char *arg)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (c->logged_in)
        return ftp_reply(c, 503, "Already logged in.");
    if (tls_required(c))
        return ftp_reply(c, 530, "TLS is required on this site: send AUTH TLS first.");
    if (arg == NULL || *arg == '\0' || strlen(arg) >= sizeof(c->user))
        return ftp_reply(c, 501, "USER needs a name of at most %zu bytes.", sizeof(c->user) - 1);
    memcpy(c->user, arg, strlen(arg) + 1); /* fits: checked above */
    c->user_ok = true;
    if (is_anonymous_name(arg) && !fs->allow_anonymous)
        return c->user_ok = false, ftp_reply(c, 530, "Anonymous logins are not allowed here.");
    if (!is_anonymous_name(arg) && fs->anonymous_only)
        return c->user_ok = false, ftp_reply(c, 530, "Only anonymous logins are allowed here.");
    if (is_anonymous_name(arg))
        return ftp_reply(c, 331, "Anonymous login ok; send your e-mail address as the password.");
    ftp_reply(c, 331, "Password required for %s.", c->user);
}

static void cmd_pass(struct ftp_conn *c, const char *arg)
{
    unsigned retry;
    const struct ftp_user *u;

    if (c->logged_in)
        return ftp_reply(c, 503, "Already logged in.");
    if (!c->user_ok)
        return ftp_reply(c, 503, "Send USER first.");
    session_stat(&c->s, STAT_LOGON_ATTEMPTS);
    if (rl_blocked(login_limiter(), c->s.peer_ip, clock_wall(), &retry)) {
        ftp_reply(c, 421, "Too many failed logins from your address; try again in %u seconds.",
                  retry);
        c->quit = true;
        return;
    }
    if (is_anonymous_name(c->user))
        return login_ok(c, true, "");
    u = ftp_user_find(c->s.gen, c->user);
    if (ftp_auth_submit(c->s.w, u && u->enabled ? u->hash : NULL, arg ? arg : "", auth_done, c) ==
        -1)
        return ftp_reply(c, 421, "Too many logins are being checked; try again later.");
    c->auth_pending = true;
    c->hold = true;
}

/* ---- paths ---- */

/* The client path of ARG (the current directory when ARG is empty) resolved on the site. */
static int target_of(struct ftp_conn *c, const char *arg, char *vpath, size_t cap,
                     struct ftp_target *t)
{
    const char *why = NULL;

    if (ftp_path_join(c->cwd, arg ? arg : "", arg ? strlen(arg) : 0, vpath, cap, &why) == -1) {
        ftp_reply(c, 553, "%s: %s.", arg ? arg : "", why);
        return -1;
    }
    if (c->s.site == NULL || ftp_resolve(c->s.site, c->home, vpath, t) == -1) {
        ftp_reply(c, 550, "%s: no such file or directory.", vpath);
        return -1;
    }
    return 0;
}

static bool may(struct ftp_conn *c, const struct ftp_target *t, unsigned access, const char *vpath)
{
    if ((t->v->access & access) == access)
        return true;
    ftp_reply(c, 550, "%s: permission denied (%s access is not allowed here).", vpath,
              access & VDIR_WRITE ? "write" : "read");
    return false;
}

/* 550 with the reason of ERR for VPATH. */
static void reply_errno(struct ftp_conn *c, int code, const char *vpath, int err)
{
    const char *why;

    switch (err) {
    case ENOENT:
    case ENOTDIR:
        why = "no such file or directory";
        session_stat(&c->s, STAT_NOT_FOUND_ERRORS);
        break;
    case EACCES:
    case EPERM:
        why = "permission denied";
        break;
    case EXDEV:
    case ELOOP:
        why = "outside the site's directories";
        break;
    case EEXIST:
        why = "already exists";
        break;
    case ENOTEMPTY:
        why = "the directory is not empty";
        break;
    case ENOSPC:
    case EDQUOT:
        code = 452;
        why = "insufficient storage space";
        break;
    case EISDIR:
        why = "is a directory";
        break;
    default:
        why = strerror(err);
    }
    ftp_reply(c, code, "%s: %s.", vpath, why);
}

/* "PATH" with its double quotes doubled (RFC 959's 257 reply). */
static void quote_path(const char *p, char *out, size_t cap)
{
    size_t o = 0;

    for (; *p && o + 3 < cap; p++) {
        out[o++] = *p;
        if (*p == '"')
            out[o++] = '"';
    }
    out[o] = '\0';
}

static void cmd_pwd(struct ftp_conn *c)
{
    char q[FTP_PATH_MAX * 2];

    quote_path(c->cwd, q, sizeof(q));
    ftp_reply(c, 257, "\"%s\" is the current directory.", q);
}

static void cmd_cwd(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    int fd;

    if (target_of(c, arg && *arg ? arg : "/", vpath, sizeof(vpath), &t) == -1 ||
        !may(c, &t, VDIR_READ, vpath))
        return;
    fd = ftp_open(&t, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return reply_errno(c, 550, vpath, errno);
    close(fd);
    free(c->cwd);
    c->cwd = xstrdup(vpath);
    ftp_reply(c, 250, "Directory changed to %s.", vpath);
}

/* ARG opened for reading (a file or a directory) with its metadata; -1 after the reply. */
static int open_entry(struct ftp_conn *c, const char *arg, char *vpath, struct ftp_target *t,
                      struct stat *st)
{
    int fd;

    if (target_of(c, arg, vpath, FTP_PATH_MAX, t) == -1 || !may(c, t, VDIR_READ, vpath))
        return -1;
    fd = ftp_open(t, O_RDONLY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, st) == -1) {
        reply_errno(c, 550, vpath, errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int open_file(struct ftp_conn *c, const char *arg, char *vpath, struct ftp_target *t,
                     struct stat *st)
{
    int fd = open_entry(c, arg, vpath, t, st);

    if (fd < 0)
        return -1;
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        ftp_reply(c, 550, "%s: not a plain file.", vpath);
        return -1;
    }
    return fd;
}

static void cmd_size(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    struct stat st;
    int fd = open_file(c, arg, vpath, &t, &st);

    if (fd < 0)
        return;
    close(fd);
    ftp_reply(c, 213, "%lld", (long long)st.st_size);
}

static void cmd_mdtm(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX], when[15];
    struct ftp_target t;
    struct stat st;
    int fd = open_file(c, arg, vpath, &t, &st);

    if (fd < 0)
        return;
    close(fd);
    ftp_time14(st.st_mtim.tv_sec, when);
    ftp_reply(c, 213, "%s", when);
}

/* ---- changes to the file system ---- */

static int open_parent(struct ftp_conn *c, const char *arg, char *vpath, struct ftp_target *t,
                       const char **name)
{
    int dfd;

    if (arg == NULL || *arg == '\0') {
        ftp_reply(c, 501, "A file name is needed.");
        return -1;
    }
    if (target_of(c, arg, vpath, FTP_PATH_MAX, t) == -1 || !may(c, t, VDIR_WRITE, vpath))
        return -1;
    dfd = ftp_open_parent(t, name);
    if (dfd < 0)
        reply_errno(c, 550, vpath, errno);
    return dfd;
}

static void cmd_dele(struct ftp_conn *c, const char *arg, bool dir)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    const char *name;
    int dfd = open_parent(c, arg, vpath, &t, &name);

    if (dfd < 0)
        return;
    if (unlinkat(dfd, name, dir ? AT_REMOVEDIR : 0) == -1)
        reply_errno(c, 550, vpath, errno);
    else
        ftp_reply(c, 250, "%s removed.", vpath);
    close(dfd);
}

static void cmd_mkd(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX], q[FTP_PATH_MAX * 2];
    struct ftp_target t;
    const char *name;
    int dfd = open_parent(c, arg, vpath, &t, &name);

    if (dfd < 0)
        return;
    if (mkdirat(dfd, name, 0755) == -1) {
        reply_errno(c, 550, vpath, errno);
    } else {
        quote_path(vpath, q, sizeof(q));
        ftp_reply(c, 257, "\"%s\" created.", q);
    }
    close(dfd);
}

static void cmd_rnfr(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    const char *name;
    struct stat st;
    int dfd = open_parent(c, arg, vpath, &t, &name);

    if (dfd < 0)
        return;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        reply_errno(c, 550, vpath, errno);
    } else {
        free(c->rnfr);
        c->rnfr = xstrdup(vpath);
        ftp_reply(c, 350, "%s exists; send RNTO with its new name.", vpath);
    }
    close(dfd);
}

static void cmd_rnto(struct ftp_conn *c, const char *arg)
{
    char from[FTP_PATH_MAX], to[FTP_PATH_MAX];
    struct ftp_target tf, tt;
    const char *nf, *nt;
    int df, dt;

    if (c->rnfr == NULL)
        return ftp_reply(c, 503, "Send RNFR first.");
    snprintf(from, sizeof(from), "%s", c->rnfr);
    free(c->rnfr);
    c->rnfr = NULL;
    if ((dt = open_parent(c, arg, to, &tt, &nt)) < 0)
        return;
    if (ftp_resolve(c->s.site, c->home, from, &tf) == -1 || tf.v != tt.v) {
        close(dt);
        return ftp_reply(c, 553, "%s and %s are not in the same directory tree.", from, to);
    }
    df = ftp_open_parent(&tf, &nf);
    if (df < 0) {
        reply_errno(c, 550, from, errno);
    } else if (renameat(df, nf, dt, nt) == -1) {
        reply_errno(c, 553, to, errno);
    } else {
        ftp_reply(c, 250, "%s renamed to %s.", from, to);
    }
    if (df >= 0)
        close(df);
    close(dt);
}

/* ---- transfers ---- */

/* A transfer may start: a data connection is prepared and protected as the site requires. */
static bool data_allowed(struct ftp_conn *c)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (fs && fs->tls == FTP_TLS_REQUIRE && !c->prot_p) {
        ftp_reply(c, 521, "Data connections must be encrypted here: send PBSZ 0 and PROT P.");
        return false;
    }
    if (!ftp_data_ready(c)) {
        ftp_reply(c, 425, "Use PORT, EPRT, PASV or EPSV first.");
        return false;
    }
    return true;
}

static void start(struct ftp_conn *c, struct ftp_xfer_req *r, const char *vpath)
{
    size_t n = strlen(vpath) < sizeof(c->file) - 1 ? strlen(vpath) : sizeof(c->file) - 1;

    memcpy(c->file, vpath, n); /* the session table shows the start of a long path */
    c->file[n] = '\0';
    c->rest = 0; /* commands are read on: ABOR, STAT and NOOP are answered during the transfer */
    ftp_data_start(c, r);
}

static void cmd_retr(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    struct stat st;
    struct ftp_xfer_req r = {.kind = XFER_SEND_FILE, .dirfd = -1, .what = "RETR"};
    int fd;

    if (!data_allowed(c) || (fd = open_file(c, arg, vpath, &t, &st)) < 0)
        return;
    if (c->rest > st.st_size) {
        close(fd);
        ftp_reply(c, 554, "REST %lld is past the end of %s.", (long long)c->rest, vpath);
        c->rest = 0;
        return;
    }
    r.fd = fd;
    r.off = c->rest;
    r.ascii = c->ascii;
    start(c, &r, vpath);
}

/* A name no one else uses for the upload in progress. */
static void temp_name(char *out, size_t cap)
{
    unsigned char rnd[6];

    randombytes_buf(rnd, sizeof(rnd));
    snprintf(out, cap, ".in.infosrv-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
}

static int store_open(struct ftp_conn *c, int dfd, const char *name, bool append,
                      struct ftp_xfer_req *r)
{
    int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;

    if (append) {                   /* APPE: in place, created when missing */
        r->fd = openat(dfd, name, flags | O_CREAT | O_APPEND, 0644);
    } else if (c->rest > 0) {       /* REST + STOR resumes the existing file */
        r->fd = openat(dfd, name, flags);
        r->off = c->rest;
    } else {                        /* STOR: a temporary name, renamed when complete */
        temp_name(r->tmp, sizeof(r->tmp));
        r->fd = openat(dfd, r->tmp, flags | O_CREAT | O_EXCL, 0644);
    }
    return r->fd;
}

static void cmd_stor(struct ftp_conn *c, const char *arg, enum ftp_verb v)
{
    char vpath[FTP_PATH_MAX], unique[40];
    struct ftp_target t;
    struct ftp_xfer_req r = {.kind = XFER_RECV_FILE, .dirfd = -1};
    const char *name;
    int dfd;

    if (v == FTP_STOU) { /* a new visible name, given back in the 150 reply */
        unsigned char rnd[6];
        randombytes_buf(rnd, sizeof(rnd));
        snprintf(unique, sizeof(unique), "ftp-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
        arg = unique;
    }
    if (!data_allowed(c) || (dfd = open_parent(c, arg, vpath, &t, &name)) < 0)
        return;
    if (store_open(c, dfd, name, v == FTP_APPE, &r) < 0) {
        reply_errno(c, errno == ENOENT && c->rest > 0 ? 550 : 553, vpath, errno);
        close(dfd);
        c->rest = 0;
        return;
    }
    if (r.off > 0 && lseek(r.fd, r.off, SEEK_SET) == -1) {
        reply_errno(c, 554, vpath, errno);
        close(r.fd);
        close(dfd);
        return;
    }
    r.dirfd = dfd;
    snprintf(r.final, sizeof(r.final), "%s", name);
    r.ascii = c->ascii;
    r.what = ftp_verb_name(v);
    start(c, &r, vpath);
}

enum list_kind { LIST_LONG, LIST_NAMES, LIST_MLSD };

static unsigned perms_of(const struct ftp_target *t)
{
    return (t->v->access & VDIR_READ ? FTP_PERM_READ : 0) |
           (t->v->access & VDIR_WRITE ? FTP_PERM_WRITE : 0);
}

static void list_entry(struct buf *b, enum list_kind k, enum ftp_list_style style,
                       const char *name, const struct stat *st, unsigned perms)
{
    if (k == LIST_NAMES)
        ftp_nlst_line(b, name, strlen(name));
    else if (k == LIST_MLSD)
        ftp_mlsx_line(b, name, strlen(name), st, perms, false, false);
    else
        ftp_list_line(b, style, name, strlen(name), st, clock_wall());
}

struct list_entry {
    char *name;
    struct stat st;
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

/* Metadata of entry NAME of the directory at REL beneath T's virtual
 * directory, as the site's symlink policy lets it be seen: a link it refuses
 * (one leading outside) is left out of listings as it is refused when asked
 * for. Plain files and directories are stat'ed without following anything. */
static bool entry_stat(const struct ftp_target *t, int dfd, const char *name, unsigned char dtype,
                       struct stat *st)
{
    char rel[FTP_PATH_MAX + 256];
    int fd, n;
    bool ok;

    if (dtype == DT_REG || dtype == DT_DIR)
        return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0;
    n = snprintf(rel, sizeof(rel), "%.*s%s%s", (int)t->rlen, t->rel, t->rlen ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return false;
    fd = path_open_beneath(t->v->dirfd, rel, t->v->symlinks, O_PATH);
    if (fd < 0)
        return false;
    ok = fstat(fd, st) == 0 && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode));
    close(fd);
    return ok;
}

/* The entries of directory DFD (T) that a listing shows, with their
 * metadata, sorted by name: no dotfiles, no names that would break a
 * listing line, nothing the symlink policy refuses. */
static struct list_entry *dir_entries(int dfd, const struct ftp_target *t, size_t *count)
{
    int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct list_entry *es = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    struct stat st;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rewinddir(d); /* the duplicate shares the offset */
    while ((de = readdir(d)) != NULL && n < 100000) {
        if (de->d_name[0] == '.' || strpbrk(de->d_name, "\r\n") != NULL ||
            !entry_stat(t, dfd, de->d_name, de->d_type, &st))
            continue;
        if (n + 1 >= cap)
            es = xrealloc(es, (cap = cap ? cap * 2 : 64) * sizeof(*es));
        es[n].name = xstrdup(de->d_name);
        es[n++].st = st;
    }
    closedir(d);
    if (es == NULL)
        es = xcalloc(1, sizeof(*es));
    qsort(es, n, sizeof(*es), entry_cmp);
    *count = n;
    return es;
}

/* The listing of directory DFD (T) into B. */
static int list_dir(int dfd, const struct ftp_target *t, struct buf *b, enum list_kind k,
                    enum ftp_list_style style)
{
    size_t n = 0;
    struct list_entry *es = dir_entries(dfd, t, &n);

    if (es == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        list_entry(b, k, style, es[i].name, &es[i].st, perms_of(t));
        free(es[i].name);
    }
    free(es);
    return 0;
}

/* LIST's options ("-la") are ls's; the path is what follows them. */
static const char *list_path(const char *arg)
{
    while (arg && *arg == '-') {
        arg += strcspn(arg, " ");
        arg += strspn(arg, " ");
    }
    return arg;
}

static void cmd_list(struct ftp_conn *c, const char *arg, enum list_kind k)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    struct ftp_xfer_req r = {.kind = XFER_SEND_BUF, .fd = -1, .dirfd = -1,
                             .what = k == LIST_MLSD ? "MLSD" : k == LIST_NAMES ? "NLST" : "LIST"};
    struct stat st;
    int fd;

    if (!data_allowed(c) || (fd = open_entry(c, list_path(arg), vpath, &t, &st)) < 0)
        return;
    if (k == LIST_MLSD && !S_ISDIR(st.st_mode)) {
        close(fd);
        return ftp_reply(c, 501, "%s is not a directory (MLSD lists directories).", vpath);
    }
    r.buf = worker_buf_get(c->s.w);
    if (!S_ISDIR(st.st_mode)) {
        list_entry(r.buf, k, fs->listing, ftp_basename(vpath), &st, perms_of(&t));
    } else if (list_dir(fd, &t, r.buf, k, fs->listing) == -1) {
        reply_errno(c, 550, vpath, errno);
        worker_buf_put(c->s.w, r.buf);
        close(fd);
        return;
    }
    close(fd);
    r.ascii = false;
    start(c, &r, vpath);
}

static void cmd_mlst(struct ftp_conn *c, const char *arg)
{
    char vpath[FTP_PATH_MAX];
    struct ftp_target t;
    struct stat st;
    int fd;

    if ((fd = open_entry(c, arg && *arg ? arg : ".", vpath, &t, &st)) < 0)
        return;
    close(fd);
    buf_printf(out_buf(c), "250-Listing %s\r\n ", vpath);
    ftp_mlsx_line(out_buf(c), vpath, strlen(vpath), &st, perms_of(&t), false, false);
    ftp_reply(c, 250, "End.");
}

/* ---- data connection set-up ---- */

/* PORT and EPRT may only name the client's own address, on an unprivileged
 * port: anything else is the bounce attack of RFC 2577. */
static void set_active(struct ftp_conn *c, int family, const char *host, unsigned port)
{
    struct net_addr a;
    char text[80], peer[48];
    const char *why;

    if (family == 2)
        snprintf(text, sizeof(text), "[%s]:%u", host, port);
    else
        snprintf(text, sizeof(text), "%s:%u", host, port);
    if (net_parse_addr(text, &a, &why) == -1)
        return ftp_reply(c, 501, "The address %s is not valid: %s.", host, why);
    net_host_str((const struct sockaddr *)&a.ss, peer, sizeof(peer));
    if (strcmp(peer, c->s.peer_ip) != 0)
        return ftp_reply(c, 504, "PORT and EPRT may only name your own address (%s).",
                         c->s.peer_ip);
    if (port < 1024)
        return ftp_reply(c, 504, "PORT and EPRT may not name a privileged port (%u).", port);
    ftp_data_active(c, &a.ss, a.len);
}

static void cmd_port(struct ftp_conn *c, const char *arg)
{
    unsigned char h[4];
    unsigned port;
    char host[20];

    if (arg == NULL || ftp_parse_port(arg, strlen(arg), h, &port) == -1)
        return ftp_reply(c, 501, "PORT needs h1,h2,h3,h4,p1,p2.");
    snprintf(host, sizeof(host), "%u.%u.%u.%u", h[0], h[1], h[2], h[3]);
    set_active(c, 1, host, port);
}

static void cmd_eprt(struct ftp_conn *c, const char *arg)
{
    char host[64];
    int family;
    unsigned port;

    if (arg == NULL || ftp_parse_eprt(arg, strlen(arg), &family, host, sizeof(host), &port) == -1)
        return ftp_reply(c, 501, "EPRT needs |1|ADDRESS|PORT| or |2|ADDRESS|PORT|.");
    set_active(c, family, host, port);
}

/* ---- TLS ---- */

static void cmd_auth(struct ftp_conn *c, const char *arg)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (arg == NULL || (strcasecmp(arg, "TLS") != 0 && strcasecmp(arg, "SSL") != 0 &&
                        strcasecmp(arg, "TLS-C") != 0))
        return ftp_reply(c, 504, "AUTH supports TLS only.");
    if (c->s.tls)
        return ftp_reply(c, 503, "TLS is already on.");
    if (fs == NULL || fs->tls == FTP_TLS_OFF || c->s.site->tls.ctx == NULL)
        return ftp_reply(c, 534, "TLS is not offered on this site.");
    if (c->in && buf_unread(c->in) > 0) { /* bytes after AUTH would be lost to TLS */
        ftp_reply(c, 503, "Nothing may follow AUTH TLS before the TLS handshake.");
        c->quit = true;
        return;
    }
    ftp_reply(c, 234, "AUTH TLS successful; start the TLS handshake.");
    if (ftp_ctrl_flush(c) == -1)
        return;
    if (xport_tls_start(&c->x, c->io.fd, c->s.site, &c->s, c->s.w->rbuf, WORKER_RBUF) == -1) {
        ftp_ctrl_close(c);
        return;
    }
    c->s.tls = true;
    c->state = FC_HANDSHAKE;
    ctrl_arm(c);
}

static void cmd_pbsz(struct ftp_conn *c, const char *arg)
{
    if (!c->s.tls)
        return ftp_reply(c, 503, "PBSZ comes after AUTH TLS.");
    c->pbsz = true;
    ftp_reply(c, 200, "PBSZ=0%s", arg && strcmp(arg, "0") != 0 ? " (only 0 is supported)" : "");
}

static void cmd_prot(struct ftp_conn *c, const char *arg)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (!c->s.tls || !c->pbsz)
        return ftp_reply(c, 503, "PROT comes after AUTH TLS and PBSZ.");
    if (arg && strcasecmp(arg, "P") == 0) {
        c->prot_p = true;
        return ftp_reply(c, 200, "Data connections will be encrypted.");
    }
    if (arg && strcasecmp(arg, "C") == 0) {
        if (fs && fs->tls == FTP_TLS_REQUIRE)
            return ftp_reply(c, 534, "Data connections must be encrypted on this site.");
        c->prot_p = false;
        return ftp_reply(c, 200, "Data connections will be in the clear.");
    }
    ftp_reply(c, 504, "PROT supports C and P.");
}

/* ---- the rest ---- */

static void cmd_feat(struct ftp_conn *c)
{
    buf_puts(out_buf(c), "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n"
                         " MLST type*;size*;modify*;perm*;\r\n PASV\r\n REST STREAM\r\n SIZE\r\n"
                         " TVFS\r\n UTF8\r\n");
    if (ftp_site_of(c->s.site) && ftp_site_of(c->s.site)->tls != FTP_TLS_OFF)
        buf_puts(out_buf(c), " AUTH TLS\r\n PBSZ\r\n PROT\r\n");
    ftp_reply(c, 211, "End");
}

static void cmd_opts(struct ftp_conn *c, const char *arg)
{
    if (arg && strcasecmp(arg, "UTF8 ON") == 0) {
        c->utf8 = true;
        return ftp_reply(c, 200, "UTF-8 is on (names are sent as stored).");
    }
    if (arg && strncasecmp(arg, "MLST", 4) == 0)
        return ftp_reply(c, 200, "MLST OPTS type;size;modify;perm;");
    ftp_reply(c, 501, "OPTS supports UTF8 ON and MLST.");
}

static void cmd_type(struct ftp_conn *c, const char *arg)
{
    if (arg && (strcasecmp(arg, "A") == 0 || strcasecmp(arg, "A N") == 0)) {
        c->ascii = true;
        return ftp_reply(c, 200, "Type set to A.");
    }
    if (arg && (strcasecmp(arg, "I") == 0 || strcasecmp(arg, "L 8") == 0)) {
        c->ascii = false;
        return ftp_reply(c, 200, "Type set to I.");
    }
    ftp_reply(c, 504, "TYPE supports A and I.");
}

static void cmd_rest(struct ftp_conn *c, const char *arg)
{
    char *end;
    long long v;

    errno = 0;
    v = arg && *arg >= '0' && *arg <= '9' ? strtoll(arg, &end, 10) : -1;
    if (v < 0 || errno != 0 || *end != '\0')
        return ftp_reply(c, 501, "REST needs a byte offset.");
    c->rest = (off_t)v;
    ftp_reply(c, 350, "Restarting at %lld; send RETR, STOR or APPE.", v);
}

static void cmd_stat(struct ftp_conn *c, const char *arg)
{
    if (arg && *arg)
        return ftp_reply(c, 502, "STAT with a path is not supported; use LIST or MLST.");
    if (ftp_data_busy(c))
        return ftp_reply(c, 213, "Status: %llu bytes of %s transferred.",
                         (unsigned long long)ftp_data_bytes(c), c->file);
    buf_printf(out_buf(c), "211-infosrv %s FTP status:\r\n Connected from %s\r\n", INFOSRV_VERSION,
               c->s.peer_ip);
    if (c->logged_in)
        buf_printf(out_buf(c), " Logged in as %s\r\n", c->s.user);
    buf_printf(out_buf(c), " TYPE: %s; control connection %s; data connections %s\r\n",
               c->ascii ? "ASCII" : "BINARY", c->s.tls ? "encrypted" : "in the clear",
               c->prot_p ? "encrypted" : "in the clear");
    ftp_reply(c, 211, "End of status.");
}

static void cmd_help(struct ftp_conn *c)
{
    buf_puts(out_buf(c), "214-The following commands are recognized:\r\n"
                         " ABOR ALLO APPE AUTH CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n"
                         " MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD  QUIT REST\r\n"
                         " RETR RMD  RNFR RNTO SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD\r\n"
                         " XMKD XPWD XRMD\r\n");
    ftp_reply(c, 214, "Help OK.");
}

static void cmd_quit(struct ftp_conn *c)
{
    const struct ftp_site *fs = ftp_site_of(c->s.site);

    if (ftp_data_busy(c))
        ftp_data_abort(c);
    reply_lines(c, 221, fs ? fs->exit_msg : NULL, "Goodbye.");
    ftp_ctrl_log(c, "QUIT", "", 221);
    c->quit = true;
}

/* Commands a client may send before it has logged in. */
static bool before_login(enum ftp_verb v)
{
    switch (v) {
    case FTP_USER: case FTP_PASS: case FTP_QUIT: case FTP_AUTH: case FTP_PBSZ: case FTP_PROT:
    case FTP_FEAT: case FTP_SYST: case FTP_HELP: case FTP_NOOP: case FTP_OPTS: case FTP_STAT:
    case FTP_CCC:
        return true;
    default:
        return false;
    }
}

/* While a transfer runs only these are answered at once; the others wait for its end. */
static bool during_transfer(enum ftp_verb v)
{
    return v == FTP_ABOR || v == FTP_STAT || v == FTP_NOOP || v == FTP_QUIT;
}

static void dispatch_files(struct ftp_conn *c, const struct ftp_cmd *m, const char *a)
{
    switch (m->verb) {
    case FTP_PWD: case FTP_XPWD: cmd_pwd(c); break;
    case FTP_CWD: case FTP_XCWD: cmd_cwd(c, a); break;
    case FTP_CDUP: case FTP_XCUP: cmd_cwd(c, ".."); break;
    case FTP_SIZE: cmd_size(c, a); break;
    case FTP_MDTM: cmd_mdtm(c, a); break;
    case FTP_RETR: cmd_retr(c, a); break;
    case FTP_STOR: case FTP_APPE: case FTP_STOU: cmd_stor(c, a, m->verb); break;
    case FTP_LIST: cmd_list(c, a, LIST_LONG); break;
    case FTP_NLST: cmd_list(c, a, LIST_NAMES); break;
    case FTP_MLSD: cmd_list(c, a, LIST_MLSD); break;
    case FTP_MLST: cmd_mlst(c, a); break;
    case FTP_DELE: cmd_dele(c, a, false); break;
    case FTP_RMD: case FTP_XRMD: cmd_dele(c, a, true); break;
    case FTP_MKD: case FTP_XMKD: cmd_mkd(c, a); break;
    case FTP_RNFR: cmd_rnfr(c, a); break;
    case FTP_RNTO: cmd_rnto(c, a); break;
    case FTP_PORT: cmd_port(c, a); break;
    case FTP_EPRT: cmd_eprt(c, a); break;
    case FTP_PASV: ftp_data_passive(c, false); break;
    case FTP_EPSV:
        if (a && strcasecmp(a, "ALL") == 0)
            ftp_reply(c, 200, "EPSV ALL accepted.");
        else
            ftp_data_passive(c, true);
        break;
    default: ftp_reply(c, 502, "%s is not implemented.", m->name); break;
    }
}

static void dispatch(struct ftp_conn *c, const struct ftp_cmd *m, const char *a)
{
    switch (m->verb) {
    case FTP_USER: cmd_user(c, a); break;
    case FTP_PASS: cmd_pass(c, a); break;
    case FTP_QUIT: cmd_quit(c); break;
    case FTP_AUTH: cmd_auth(c, a); break;
    case FTP_PBSZ: cmd_pbsz(c, a); break;
    case FTP_PROT: cmd_prot(c, a); break;
    case FTP_CCC: ftp_reply(c, 534, "CCC is refused: the control connection stays encrypted."); break;
    case FTP_FEAT: cmd_feat(c); break;
    case FTP_OPTS: cmd_opts(c, a); break;
    case FTP_SYST: ftp_reply(c, 215, "UNIX Type: L8"); break;
    case FTP_NOOP: ftp_reply(c, 200, "NOOP ok."); break;
    case FTP_HELP: cmd_help(c); break;
    case FTP_STAT: cmd_stat(c, a); break;
    case FTP_ABOR: ftp_data_abort(c); break;
    case FTP_TYPE: cmd_type(c, a); break;
    case FTP_MODE: ftp_reply(c, a && strcasecmp(a, "S") == 0 ? 200 : 504, "Mode S only."); break;
    case FTP_STRU: ftp_reply(c, a && strcasecmp(a, "F") == 0 ? 200 : 504, "Structure F only."); break;
    case FTP_ALLO: ftp_reply(c, 202, "ALLO is not needed."); break;
    case FTP_ACCT: ftp_reply(c, 202, "ACCT is not needed."); break;
    case FTP_REST: cmd_rest(c, a); break;
    case FTP_UNKNOWN: ftp_reply(c, 500, "%s: command not understood.", m->name); break;
    case FTP_REIN: case FTP_SITE: ftp_reply(c, 502, "%s is not implemented.", m->name); break;
    default: dispatch_files(c, m, a); break;
    }
}

/* Run one command whose line is already consumed (a transfer it starts may
 * end at once and answer the next lines); A is its argument or NULL. */
static void run_command(struct ftp_conn *c, const struct ftp_cmd *m, const char *a)
{
    session_adopt_gen(&c->s);
    session_note_request(&c->s, m->name, strlen(m->name), m->verb == FTP_PASS ? "***" : a ? a : "",
                         m->verb == FTP_PASS ? 3 : (a ? strlen(a) : 0));
    if (!c->logged_in && !before_login(m->verb))
        ftp_reply(c, 530, "Log in with USER and PASS first.");
    else
        dispatch(c, m, a);
}

/* ---- reading ---- */

/* Answer the complete command lines held in c->in, until one has to wait. */
static void ctrl_process(struct ftp_conn *c)
{
    struct ftp_cmd m;
    const char *why;
    char arg[FTP_LINE_MAX + 1];
    int code;

    while (c->state == FC_CMD && !c->hold && !c->quit && c->in && buf_unread(c->in) > 0 &&
           (c->out == NULL || c->out->len < OUT_HIGH)) {
        enum ftp_parse r = ftp_cmd_parse(buf_head(c->in), buf_unread(c->in), &m, &code, &why);
        if (r == FTP_PARSE_AGAIN)
            break;
        if (r == FTP_PARSE_ERROR) {
            ftp_reply(c, code, "%s.", why);
            if (m.line_len == 0) { /* no line end in sight: the stream cannot be resynchronised */
                c->quit = true;
                break;
            }
            buf_consume(c->in, m.line_len);
            continue;
        }
        if (ftp_data_busy(c) && !during_transfer(m.verb))
            break; /* it waits for the end of the transfer */
        if (m.arg) {
            memcpy(arg, m.arg, m.arg_len);
            arg[m.arg_len] = '\0';
        }
        buf_consume(c->in, m.line_len);
        run_command(c, &m, m.arg ? arg : NULL);
    }
    if (c->in && buf_unread(c->in) == 0) {
        worker_buf_put(c->s.w, c->in);
        c->in = NULL;
    }
    if (c->state != FC_DEAD && ftp_ctrl_flush(c) == 0 && !c->hold && !ftp_data_busy(c))
        ctrl_arm(c);
}

static void ctrl_read(struct ftp_conn *c)
{
    char *data;
    ssize_t n;

    while (c->state == FC_CMD) {
        if (c->in && buf_unread(c->in) >= IN_MAX)
            break; /* commands wait: the client reads no replies */
        n = xport_read(&c->x, &data);
        if (n == XP_AGAIN) {
            if (c->x.want_write)
                ctrl_watch_out(c, true);
            break;
        }
        if (n <= 0) {
            ftp_ctrl_close(c);
            return;
        }
        session_count_in(&c->s, (size_t)n);
        if (c->in == NULL)
            c->in = worker_buf_get(c->s.w);
        buf_append(c->in, data, (size_t)n);
        ctrl_process(c);
        /* read on to XP_AGAIN: a client's close queued behind QUIT raises no new edge */
    }
}

static void ctrl_handshake(struct ftp_conn *c)
{
    int rc = xport_handshake(&c->x);
    unsigned per_addr;

    if (rc == XP_AGAIN) {
        if (c->x.want_write)
            ctrl_watch_out(c, true);
        return;
    }
    if (rc != 0) {
        ftp_ctrl_close(c);
        return;
    }
    c->state = FC_CMD;
    ctrl_arm(c);
    if (c->s.requests == 0) { /* implicit FTPS: the greeting follows the handshake */
        pthread_mutex_lock(&addr_lock);
        per_addr = 0;
        for (size_t i = 0; i < naddrs; i++)
            if (strcmp(addrs[i].ip, c->s.peer_ip) == 0)
                per_addr = addrs[i].n;
        pthread_mutex_unlock(&addr_lock);
        if (!ctrl_refuse_busy(c, per_addr))
            greet(c);
        ftp_ctrl_flush(c);
        return;
    }
    ctrl_read(c);
}

static void ctrl_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct ftp_conn *c = container_of(io, struct ftp_conn, io);

    (void)l;
    if (events & EPOLLERR) {
        ftp_ctrl_close(c);
        return;
    }
    if (c->state == FC_HANDSHAKE) {
        ctrl_handshake(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out && ftp_ctrl_flush(c) == -1)
        return;
    if (c->state == FC_CMD && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLOUT))) {
        ctrl_read(c);
        if (c->state == FC_CMD && c->in && !c->hold)
            ctrl_process(c);
    }
}
