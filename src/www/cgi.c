#include "www/cgi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "runtime/gen.h"
#include "runtime/path.h"
#include "runtime/session.h"
#include "runtime/worker.h"
#include "version.h"
#include "www/cgi_head.h"

#define IN_HIGH_WATER (64 * 1024)  /* request body held for the program before pausing */
#define READ_CHUNK 16384
#define STDERR_LOG_MAX (64 * 1024) /* bytes of a program's standard error logged */
#define LINE_MAX_LOG 512

static atomic_uint running;

unsigned www_cgi_running(void)
{
    return atomic_load(&running);
}

struct cgi {
    struct www_res *res;
    struct loop *loop;
    char *script;                /* for the error log */
    pid_t pid;
    struct loop_io out, in, err, proc;
    struct loop_timer timer;
    struct buf head;             /* standard output until the header section is complete */
    struct buf inq;              /* request body not yet taken by the pipe */
    struct buf errline;          /* standard error: the line being collected */
    size_t err_logged;
    uint64_t length_left;        /* a Content-Length the program gave */
    int status;
    bool head_only;
    bool head_done, has_length, out_paused, body_ended, in_watch, body_paused;
    bool answered;               /* finish was called, or the connection went away */
    bool exited;
};

/* ---- which requests run a program ---- */

static const char *mapped(const struct vdir *v, const char *name, size_t n)
{
    const char *dot = NULL;

    for (size_t i = n; i-- > 0 && name[i] != '/';)
        if (name[i] == '.') {
            dot = name + i;
            break;
        }
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < v->nscripts; i++) {
        size_t el = strlen(v->scripts[i].ext);
        if ((size_t)(name + n - dot) == el && strncasecmp(dot, v->scripts[i].ext, el) == 0)
            return v->scripts[i].interpreter;
    }
    return NULL;
}

bool www_cgi_match(const struct vdir *v, const char *rel, size_t rlen, struct cgi_target *t)
{
    bool exec = (v->access & VDIR_EXECUTE) != 0;
    char sub[8192];

    if (!(v->access & (VDIR_EXECUTE | VDIR_SCRIPT)) || rlen == 0 || rlen >= sizeof(sub))
        return false;
    for (size_t e = 0; e < rlen;) {
        const char *slash = memchr(rel + e, '/', rlen - e);
        const char *interp;
        struct stat st;
        int fd;

        e = slash ? (size_t)(slash - rel) : rlen;
        interp = mapped(v, rel, e);
        if (interp == NULL && !exec) {
            e++;
            continue;
        }
        memcpy(sub, rel, e);
        sub[e] = '\0';
        fd = path_open_beneath(v->dirfd, sub, v->symlinks, O_PATH);
        if (fd < 0)
            return false;
        if (fstat(fd, &st) == -1) {
            close(fd);
            return false;
        }
        close(fd);
        if (S_ISDIR(st.st_mode)) {
            e++;
            continue;
        }
        if (!S_ISREG(st.st_mode))
            return false;
        if (interp == NULL && !(st.st_mode & 0111))
            return false; /* a plain file in an execute directory is sent as it is */
        t->script_len = e;
        t->interpreter = interp;
        return true;
    }
    return false;
}

/* ---- the environment (RFC 3875 4.1), from scratch ---- */

static void env_add(struct buf *b, size_t *count, const char *name, const char *v, size_t n)
{
    buf_puts(b, name);
    buf_puts(b, "=");
    buf_append(b, v, n);
    buf_append(b, "", 1);
    (*count)++;
}

static void env_str(struct buf *b, size_t *count, const char *name, const char *v)
{
    env_add(b, count, name, v, strlen(v));
}

/* HTTP_NAME for a request header; Authorization and Proxy (httpoxy) never reach the program. */
static void env_header(struct buf *b, size_t *count, const struct http_header *h)
{
    char name[96];
    size_t n = 5;

    if (h->name.n + 6 > sizeof(name) || http_str_ieq(h->name, "authorization") ||
        http_str_ieq(h->name, "proxy") || http_str_ieq(h->name, "content-type") ||
        http_str_ieq(h->name, "content-length") || http_str_ieq(h->name, "connection") ||
        http_str_ieq(h->name, "transfer-encoding"))
        return;
    memcpy(name, "HTTP_", 5);
    for (size_t i = 0; i < h->name.n; i++) {
        char c = h->name.p[i];
        if (c == '-')
            c = '_';
        else if (isalnum((unsigned char)c))
            c = (char)toupper((unsigned char)c);
        else
            return; /* "_" or another character: ambiguous once mapped, left out */
        name[n++] = c;
    }
    name[n] = '\0';
    env_add(b, count, name, h->value.p, h->value.n);
}

static char **env_build(const struct www_req *q, const struct vdir *v, const char *path,
                        size_t script_url_len, const char *file, const char *info, size_t ilen,
                        struct buf *b)
{
    const struct session *s = q->s;
    char num[32];
    size_t count = 0, at = 0;
    char **envp;

    env_str(b, &count, "GATEWAY_INTERFACE", "CGI/1.1");
    env_str(b, &count, "SERVER_SOFTWARE", "infosrv/" INFOSRV_VERSION);
    env_str(b, &count, "PATH", "/usr/local/bin:/usr/bin:/bin");
    env_str(b, &count, "SERVER_PROTOCOL", q->protocol);
    env_add(b, &count, "REQUEST_METHOD", q->method_str.p, q->method_str.n);
    env_add(b, &count, "REQUEST_URI", q->target.p, q->target.n);
    env_add(b, &count, "SCRIPT_NAME", path, script_url_len);
    env_str(b, &count, "SCRIPT_FILENAME", file);
    if (ilen > 0) {
        struct buf tr = {0};
        env_add(b, &count, "PATH_INFO", info, ilen);
        buf_puts(&tr, v->path);
        buf_append(&tr, info, ilen);
        env_add(b, &count, "PATH_TRANSLATED", tr.data, tr.len);
        buf_free(&tr);
    }
    env_add(b, &count, "QUERY_STRING", q->query.p ? q->query.p : "", q->query.n);
    env_str(b, &count, "DOCUMENT_ROOT", v->path);
    env_str(b, &count, "REMOTE_ADDR", s->peer_ip);
    snprintf(num, sizeof(num), "%u", s->peer_port);
    env_str(b, &count, "REMOTE_PORT", num);
    if (s->user[0]) {
        env_str(b, &count, "AUTH_TYPE", "Basic");
        env_str(b, &count, "REMOTE_USER", s->user);
    }
    if (q->host_name.n > 0)
        env_add(b, &count, "SERVER_NAME", q->host_name.p, q->host_name.n);
    else
        env_str(b, &count, "SERVER_NAME", s->li->ip);
    snprintf(num, sizeof(num), "%u", s->li->port);
    env_str(b, &count, "SERVER_PORT", num);
    env_str(b, &count, "SERVER_ADDR", s->li->ip);
    if (s->tls)
        env_str(b, &count, "HTTPS", "on");
    if (q->has_body || q->method == HTTP_M_POST || q->method == HTTP_M_PUT) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)q->content_length);
        env_str(b, &count, "CONTENT_LENGTH", num);
    }
    if (q->content_type.n > 0)
        env_add(b, &count, "CONTENT_TYPE", q->content_type.p, q->content_type.n);
    for (size_t i = 0; i < q->nheaders; i++)
        env_header(b, &count, &q->headers[i]);
    envp = xcalloc(count + 1, sizeof(*envp));
    for (size_t i = 0; i < count; i++) {
        envp[i] = b->data + at;
        at += strlen(envp[i]) + 1;
    }
    return envp;
}

/* ---- the process ---- */

static void close_io(struct cgi *c, struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_del(c->loop, io);
    close(io->fd);
    io->fd = -1;
}

/* Everything is over once the answer is out (or unwanted) and the process reaped. */
static void cgi_maybe_free(struct cgi *c)
{
    if (!c->answered || !c->exited || c->out.fd >= 0 || c->err.fd >= 0)
        return;
    loop_timer_clear(c->loop, &c->timer);
    close_io(c, &c->in);
    buf_free(&c->head);
    buf_free(&c->inq);
    buf_free(&c->errline);
    free(c->script);
    free(c);
}

static void cgi_kill(struct cgi *c)
{
    if (!c->exited)
        kill(-c->pid, SIGKILL); /* the whole process group it may have started */
}

static void cgi_finish(struct cgi *c, int status, bool broken)
{
    struct www_res *res = c->res;

    if (c->answered)
        return;
    c->answered = true;
    c->res = NULL;
    res->broken = broken;
    res->ops->finish(res, status);
}

static void cgi_fail(struct cgi *c, int status, const char *why)
{
    if (c->answered)
        return;
    if (c->head_done) { /* the head is out: all that can be done is cut the body off */
        log_warnx("www: CGI %s: %s", c->script, why);
        cgi_finish(c, c->status, true);
        return;
    }
    log_warnx("www: CGI %s: %s (%d sent)", c->script, why, status);
    www_res_error(c->res, status,
                  status == 504 ? "The program did not answer in time."
                                : "The program did not give a valid answer.");
    c->head_done = true;
    c->status = status;
    cgi_finish(c, status, false);
}

static void cgi_timeout(struct loop *l, struct loop_timer *t)
{
    struct cgi *c = container_of(t, struct cgi, timer);

    (void)l;
    cgi_kill(c);
    cgi_fail(c, 504, "killed after cgi_timeout");
    close_io(c, &c->in);
    cgi_maybe_free(c);
}

/* ---- the response ---- */

/* One whole header line: encoders take lines, never pieces of one. */
static void head_line(struct www_res *res, struct buf *b, struct http_str name, struct http_str v)
{
    b->len = 0;
    buf_append(b, name.p, name.n);
    buf_append(b, ": ", 2);
    buf_append(b, v.p, v.n);
    buf_append(b, "\r\n", 2);
    res->ops->header(res, b->data, b->len);
}

static void send_head(struct cgi *c, const struct cgi_head *h)
{
    struct www_res *res = c->res;
    struct buf line = {0};

    c->status = h->status;
    res->ops->status(res, h->status);
    if (h->type.n > 0)
        head_line(res, &line, (struct http_str){"Content-Type", 12}, h->type);
    if (h->location.n > 0)
        head_line(res, &line, (struct http_str){"Location", 8}, h->location);
    for (size_t i = 0; i < h->nfields; i++)
        head_line(res, &line, h->fields[i].name, h->fields[i].value);
    buf_free(&line);
    if (h->status == 204 || h->status == 304) {
        c->head_only = true;
    } else if (h->has_length) {
        www_res_header_u64(res, "Content-Length: ", 16, h->length);
        c->has_length = true;
        c->length_left = h->length;
    } else {
        res->stream = true;
    }
    res->ops->end_head(res);
    c->head_done = true;
}

static void body_out(struct cgi *c, const char *p, size_t n)
{
    if (c->head_only || n == 0)
        return;
    if (c->has_length) {
        if (c->length_left == 0)
            return; /* more than it announced: dropped */
        if (n > c->length_left)
            n = (size_t)c->length_left;
        c->length_left -= n;
    }
    c->res->ops->body(c->res, p, n);
}

static void stdout_bytes(struct cgi *c, const char *p, size_t n)
{
    struct cgi_head h;
    const char *why = NULL;

    if (c->head_done) {
        body_out(c, p, n);
        return;
    }
    buf_append(&c->head, p, n);
    switch (cgi_head_parse(c->head.data, c->head.len, &h, &why)) {
    case CGI_HEAD_AGAIN:
        return;
    case CGI_HEAD_BAD:
        cgi_kill(c);
        cgi_fail(c, 502, why);
        return;
    case CGI_HEAD_DONE:
        send_head(c, &h);
        body_out(c, c->head.data + h.head_len, c->head.len - h.head_len);
        buf_free(&c->head);
        return;
    }
}

static void stdout_eof(struct cgi *c)
{
    close_io(c, &c->out);
    if (c->answered)
        return;
    if (!c->head_done)
        cgi_fail(c, 502, "it ended without a complete header section");
    else
        cgi_finish(c, c->status, c->has_length && c->length_left > 0);
}

static void read_stdout(struct cgi *c)
{
    char data[READ_CHUNK];

    while (c->out.fd >= 0) {
        if (c->answered) { /* nobody wants it any more: drain so the program ends */
            if (read(c->out.fd, data, sizeof(data)) > 0)
                continue;
            close_io(c, &c->out);
            return;
        }
        if (c->head_done && !c->res->ops->room(c->res)) {
            c->out_paused = true; /* on_drain reads on */
            return;
        }
        ssize_t n = read(c->out.fd, data, sizeof(data));
        if (n > 0) {
            stdout_bytes(c, data, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        stdout_eof(c);
        return;
    }
}

static void read_stderr(struct cgi *c)
{
    char data[4096];
    ssize_t n;

    while ((n = read(c->err.fd, data, sizeof(data))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            bool eol = data[i] == '\n';
            if (!eol && c->errline.len < LINE_MAX_LOG)
                buf_append(&c->errline, &data[i], 1);
            if (eol || c->errline.len >= LINE_MAX_LOG) {
                if (c->err_logged < STDERR_LOG_MAX && c->errline.len > 0)
                    log_warnx("www: CGI %s: %.*s", c->script, (int)c->errline.len,
                              c->errline.data);
                c->err_logged += c->errline.len;
                c->errline.len = 0;
            }
        }
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (c->errline.len > 0 && c->err_logged < STDERR_LOG_MAX)
            log_warnx("www: CGI %s: %.*s", c->script, (int)c->errline.len, c->errline.data);
        close_io(c, &c->err);
    }
}

/* ---- the request body ---- */

static void write_stdin(struct cgi *c)
{
    while (c->in.fd >= 0 && c->inq.len > 0) {
        ssize_t n = write(c->in.fd, c->inq.data, c->inq.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->in_watch && loop_add(c->loop, &c->in, LOOP_OUT) == 0)
                c->in_watch = true;
            return;
        }
        if (n <= 0) { /* it stopped reading: the rest of the body is dropped */
            c->inq.len = 0;
            break;
        }
        memmove(c->inq.data, c->inq.data + n, c->inq.len - (size_t)n);
        c->inq.len -= (size_t)n;
    }
    if (c->body_paused && c->inq.len < IN_HIGH_WATER / 2 && c->res) {
        c->body_paused = false;
        c->res->ops->resume_body(c->res);
    }
    if (c->body_ended && c->inq.len == 0) {
        close_io(c, &c->in);
        c->in_watch = false;
    }
}

static int on_body(void *arg, const char *p, size_t n)
{
    struct cgi *c = arg;

    if (n == 0) {
        c->body_ended = true;
        write_stdin(c);
        return WWW_BODY_OK;
    }
    if (c->in.fd < 0)
        return WWW_BODY_OK;
    buf_append(&c->inq, p, n);
    write_stdin(c);
    if (c->inq.len >= IN_HIGH_WATER) {
        c->body_paused = true;
        return WWW_BODY_PAUSE;
    }
    return WWW_BODY_OK;
}

static void on_drain(void *arg)
{
    struct cgi *c = arg;

    if (c->out_paused) {
        c->out_paused = false;
        read_stdout(c);
        cgi_maybe_free(c);
    }
}

static void on_abort(void *arg)
{
    struct cgi *c = arg;

    c->answered = true;
    c->res = NULL;
    cgi_kill(c);
    close_io(c, &c->in);
    c->in_watch = false;
    read_stdout(c); /* drains and closes */
    cgi_maybe_free(c);
}

static void proc_exited(struct cgi *c)
{
    int st;

    if (waitpid(c->pid, &st, WNOHANG) == 0)
        return;
    c->exited = true;
    atomic_fetch_sub(&running, 1);
    close_io(c, &c->proc);
    if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
        log_warnx("www: CGI %s: ended by signal %d", c->script, WTERMSIG(st));
    /* what it wrote before it ended is still read to the end of its output */
}

static void on_stdout(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct cgi *c = container_of(io, struct cgi, out);

    (void)l, (void)events;
    read_stdout(c);
    cgi_maybe_free(c);
}

static void on_stderr(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct cgi *c = container_of(io, struct cgi, err);

    (void)l, (void)events;
    read_stderr(c);
    cgi_maybe_free(c);
}

static void on_stdin(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct cgi *c = container_of(io, struct cgi, in);

    (void)l, (void)events;
    write_stdin(c);
    cgi_maybe_free(c);
}

static void on_exit_(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct cgi *c = container_of(io, struct cgi, proc);

    (void)l, (void)events;
    proc_exited(c);
    cgi_maybe_free(c);
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int spawn(struct cgi *c, const char *file, const char *dir, const char *interp, char **envp)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rc = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    char *argv[3];

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        goto out;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&dfl);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl); /* SIGPIPE is ignored here, not in the program */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    argv[0] = (char *)(uintptr_t)(interp ? interp : file);
    argv[1] = interp ? (char *)(uintptr_t)file : NULL;
    argv[2] = NULL;
    errno = posix_spawn(&c->pid, argv[0], &fa, &at, argv, envp);
    rc = errno == 0 ? 0 : -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
out:
    if (in[0] >= 0)
        close(in[0]);
    if (out[1] >= 0)
        close(out[1]);
    if (err[1] >= 0)
        close(err[1]);
    c->in.fd = in[1];
    c->out.fd = out[0];
    c->err.fd = err[0];
    if (rc == 0) {
        c->proc.fd = pidfd_open(c->pid, 0);
        if (c->proc.fd < 0) { /* cannot watch it: do not leave it running unwatched */
            kill(-c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            rc = -1;
        }
    }
    return rc;
}

static int watch(struct cgi *c)
{
    c->in.cb = on_stdin;
    c->out.cb = on_stdout;
    c->err.cb = on_stderr;
    c->proc.cb = on_exit_;
    if (nonblock(c->in.fd) || nonblock(c->out.fd) || nonblock(c->err.fd))
        return -1;
    if (loop_add(c->loop, &c->out, LOOP_IN) == -1) {
        close(c->out.fd), c->out.fd = -1;
        return -1;
    }
    if (loop_add(c->loop, &c->err, LOOP_IN) == -1) {
        close(c->err.fd), c->err.fd = -1;
        return -1;
    }
    if (loop_add(c->loop, &c->proc, LOOP_IN) == -1) {
        close(c->proc.fd), c->proc.fd = -1;
        return -1;
    }
    return 0;
}

/* A program that could not start (or be watched, and was reaped): nothing is left of it. */
static void cgi_discard(struct cgi *c)
{
    atomic_fetch_sub(&running, 1);
    close_io(c, &c->in);
    close_io(c, &c->out);
    close_io(c, &c->err);
    close_io(c, &c->proc);
    free(c->script);
    free(c);
}

int www_cgi_run(const struct www_req *req, struct www_res *res, const struct vdir *v,
                const char *path, size_t plen, const char *rel, size_t rlen,
                const struct cgi_target *t)
{
    struct buf file = {0}, dir = {0}, env = {0};
    const char *info = rel + t->script_len;
    size_t ilen = rlen - t->script_len;
    struct cgi *c;
    char **envp;
    int rc;

    (void)plen;
    if (req->has_body && !req->length_known) {
        www_res_error(res, 411, "A program's request body needs a Content-Length.");
        return 411;
    }
    if (atomic_fetch_add(&running, 1) >= v->cgi_max) {
        atomic_fetch_sub(&running, 1);
        www_res_error_with(res, 503, "Too many programs are running; try again shortly.",
                           "Retry-After: 1\r\n", 15);
        return 503;
    }
    buf_puts(&file, v->path);
    buf_puts(&file, "/");
    buf_append(&file, rel, t->script_len);
    buf_append(&file, "", 1);
    buf_append(&dir, file.data, (size_t)(strrchr(file.data, '/') - file.data));
    buf_append(&dir, "", 1);
    envp = env_build(req, v, path, (size_t)(rel - path) + t->script_len, file.data, info, ilen,
                     &env);
    c = xcalloc(1, sizeof(*c));
    c->loop = req->s->w->loop;
    c->in.fd = c->out.fd = c->err.fd = c->proc.fd = -1;
    c->script = xstrdup(file.data);
    c->head_only = res->head_only;
    rc = spawn(c, file.data, dir.data, t->interpreter, envp);
    free(envp);
    buf_free(&env);
    buf_free(&dir);
    buf_free(&file);
    if (rc == -1) {
        log_warnx("www: CGI %s: cannot start it: %s", c->script, strerror(errno));
        cgi_discard(c);
        www_res_error(res, 502, "The program could not be started.");
        return 502;
    }
    if (watch(c) == -1) {
        log_warnx("www: CGI %s: cannot watch its pipes", c->script);
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        cgi_discard(c);
        www_res_error(res, 500, "The program could not be watched.");
        return 500;
    }
    c->res = res->ops->detach(res);
    c->res->arg = c;
    c->res->on_body = on_body;
    c->res->on_drain = on_drain;
    c->res->on_abort = on_abort;
    loop_timer_set(c->loop, &c->timer, v->cgi_timeout_ms, cgi_timeout);
    return WWW_DETACHED;
}
