#include "runtime/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/worker.h"
#include "runtime/accesslog.h"
#include "www/conn.h"
#include "runtime/fcache.h"

#define ACCEPT_RETRY_MS 100

static struct worker *workers;
static unsigned nworkers;

/* ---- per-worker: generations, accepting, idle work ---- */

static const struct site *site_for_listener(const struct gen *g, const struct listener *li)
{
    for (size_t i = 0; i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        for (size_t b = 0; b < s->nbindings; b++) {
            const struct net_addr *a = &s->bindings[b];
            if (a->ss.ss_family == li->addr.ss.ss_family && a->len == li->addr.len &&
                memcmp(&a->ss, &li->addr.ss, a->len) == 0)
                return s;
        }
    }
    return NULL;
}

static void listener_bind_site(const struct gen *g, struct listener *li)
{
    li->site = g ? site_for_listener(g, li) : NULL;
    li->site_slot = li->site ? li->site->stats_slot : -1;
}

static void worker_adopt_gen(struct worker *w)
{
    struct gen *g = gen_current_ref();

    if (g == NULL)
        return;
    for (size_t i = 0; i < w->nlisteners; i++)
        listener_bind_site(g, w->listeners[i]);
    /* Cached entries point at the old generation's MIME map. */
    if (w->fcache)
        fcache_flush(w->fcache);
    gen_unref(w->gen);
    w->gen = g;
}

static void worker_on_wake(void *arg)
{
    struct worker *w = arg;

    if (gen_current_peek() != w->gen)
        worker_adopt_gen(w);
}

static void worker_log_flush_due(struct loop *l, struct loop_timer *t);

/* Hand access-log lines over; lines held back to batch the hand-overs get a
 * timer, since an idle loop would not come back here by itself. */
static void worker_flush_logs(struct worker *w)
{
    bool held = false;

    for (size_t i = 0; w->gen && i < w->gen->nsites; i++)
        if (w->gen->sites[i].alog && alog_flush(w->gen->sites[i].alog, w->id))
            held = true;
    if (held && !loop_timer_armed(&w->log_flush))
        loop_timer_set(w->loop, &w->log_flush, ALOG_HANDOVER_MS, worker_log_flush_due);
}

static void worker_log_flush_due(struct loop *l, struct loop_timer *t)
{
    (void)l;
    worker_flush_logs(container_of(t, struct worker, log_flush));
}

static void worker_on_idle(void *arg)
{
    struct worker *w = arg;

    www_conn_reap(w);
    worker_flush_logs(w);
    if (w->draining && w->nconns == 0)
        loop_stop(w->loop);
}

static bool site_full(const struct listener *li)
{
    return li->site && li->site->max_connections > 0 &&
           stats_current(li->site_slot) >= li->site->max_connections;
}

/* The site's max_connections is reached: say so and close, like the
 * original's "too many users" message, without adopting the connection. */
static void refuse_busy(int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 45\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
                               "The site has too many connections right now.\n";

    if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("www: 503 to a refused connection: %d", errno);
    close(fd);
}

static void worker_accept_retry(struct loop *l, struct loop_timer *t);

/* Edge-triggered listeners lose their edge when accept stops early (no
 * descriptor left, or the batch bound): the backlog is then picked up by a
 * retry timer, armed only in that case. */
static void listener_stopped_early(struct listener *li, bool failed)
{
    struct worker *w = li->w;
    uint64_t now = clock_ms();

    if (failed && now - w->accept_warned_ms >= 1000) {
        log_warn("www: accept on %s:%u (retrying every %d ms)", li->ip, li->port, ACCEPT_RETRY_MS);
        w->accept_warned_ms = now;
    }
    if (!loop_timer_armed(&w->accept_retry))
        loop_timer_set(w->loop, &w->accept_retry, ACCEPT_RETRY_MS, worker_accept_retry);
}

static void listener_accept(struct listener *li)
{
    struct worker *w = li->w;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    for (int i = 0; i < 256; i++) {
        if (w->draining || li->closed)
            return;
        len = sizeof(ss);
        fd = accept4(li->io.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            listener_stopped_early(li, true); /* EMFILE and friends */
            return;
        }
        stats_add(w->id, li->service_slot, STAT_CONNECTION_ATTEMPTS, 1);
        stats_add(w->id, li->site_slot, STAT_CONNECTION_ATTEMPTS, 1);
        if (site_full(li)) {
            refuse_busy(fd);
            continue;
        }
        www_conn_accept(w, li, fd, (struct sockaddr *)&ss);
    }
    listener_stopped_early(li, false);
}

static void listener_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    (void)events;
    listener_accept(container_of(io, struct listener, io));
}

static void worker_accept_retry(struct loop *l, struct loop_timer *t)
{
    struct worker *w = container_of(t, struct worker, accept_retry);

    (void)l;
    for (size_t i = 0; i < w->nlisteners; i++)
        listener_accept(w->listeners[i]);
}

static void listener_close(struct worker *w, struct listener *li)
{
    if (li->closed)
        return;
    loop_del(w->loop, &li->io);
    close(li->io.fd);
    li->io.fd = -1;
    li->closed = true;
    li->refs++; /* let unref do the freeing when the last connection goes */
    worker_listener_unref(w, li);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    worker_adopt_gen(w);
    loop_set_wake(w->loop, worker_on_wake, w);
    loop_set_idle(w->loop, worker_on_idle, w);
    loop_run(w->loop);
    loop_timer_clear(w->loop, &w->accept_retry);
    loop_timer_clear(w->loop, &w->log_flush);
    while (w->conns)
        www_conn_close(w->conns);
    www_conn_reap(w);
    while (w->nlisteners > 0)
        listener_close(w, w->listeners[w->nlisteners - 1]);
    for (size_t i = 0; w->gen && i < w->gen->nsites; i++)
        if (w->gen->sites[i].alog)
            alog_flush(w->gen->sites[i].alog, w->id);
    return NULL;
}

/* ---- listener groups: one socket per worker for each bound address ---- */

#define MAX_GROUPS 256

struct lgroup {
    char service[8];
    struct net_addr addr;
    char site[64];
};

static struct lgroup groups[MAX_GROUPS];
static size_t ngroups;
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

struct listen_job {
    struct worker *w;
    struct net_addr addr;
    int fd; /* -1: close the listener for addr */
    char service[8];
};

static bool addr_eq(const struct net_addr *a, const struct net_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static void job_listen(void *arg)
{
    struct listen_job *j = arg;
    struct worker *w = j->w;
    struct listener *li;

    if (j->fd == -1) {
        for (size_t i = 0; i < w->nlisteners; i++) {
            if (!w->listeners[i]->closed && addr_eq(&w->listeners[i]->addr, &j->addr)) {
                listener_close(w, w->listeners[i]);
                break;
            }
        }
        free(j);
        return;
    }
    li = xcalloc(1, sizeof(*li));
    li->io.fd = j->fd;
    li->io.cb = listener_on_io;
    li->w = w;
    li->addr = j->addr;
    net_host_str((struct sockaddr *)&li->addr.ss, li->ip, sizeof(li->ip));
    li->port = net_port((struct sockaddr *)&li->addr.ss);
    li->service_slot = stats_slot(j->service, NULL);
    listener_bind_site(w->gen, li);
    w->listeners = xrealloc(w->listeners, (w->nlisteners + 1) * sizeof(*w->listeners));
    w->listeners[w->nlisteners++] = li;
    if (loop_add(w->loop, &li->io, LOOP_IN) == -1)
        log_warn("worker %u: epoll add listener", w->id);
    listener_accept(li);
    free(j);
}

/* SO_REUSEPORT would let us share a port another process listens on; probe
 * with a socket without it first so "address in use" is reported instead.
 * SO_REUSEADDR lets the probe past our own connections on that port (open or
 * in TIME_WAIT after a stop), which are no conflict. */
static int probe_free(const struct net_addr *a)
{
    int fd, rc, saved, one = 1;

    if (net_port((const struct sockaddr *)&a->ss) == 0)
        return 0;
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Bind one socket per worker for A; fills fds. Port 0 is resolved into A. */
static int bind_group(struct net_addr *a, int *fds, char *err, size_t errlen)
{
    char where[80];
    unsigned i;

    net_addr_str((struct sockaddr *)&a->ss, where, sizeof(where));
    if (probe_free(a) == -1)
        goto fail;
    for (i = 0; i < nworkers; i++) {
        fds[i] = net_listen(a, 1024);
        if (fds[i] == -1)
            goto fail_close;
        if (net_port((struct sockaddr *)&a->ss) == 0)
            net_set_port(a, net_local_port(fds[i]));
    }
    return 0;
fail_close:
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    while (i-- > 0)
        close(fds[i]);
    return -1;
fail:
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    return -1;
}

static bool site_listens(const struct site *s)
{
    return s->state == 0; /* started; stopped and paused sites accept nothing */
}

static bool group_wanted(const struct gen *g, const struct lgroup *grp)
{
    for (size_t i = 0; i < g->nsites; i++)
        for (size_t b = 0; site_listens(&g->sites[i]) && b < g->sites[i].nbindings; b++)
            if (addr_eq(&g->sites[i].bindings[b], &grp->addr))
                return true;
    return false;
}

static bool group_open(const struct net_addr *a)
{
    for (size_t i = 0; i < ngroups; i++)
        if (addr_eq(&groups[i].addr, a))
            return true;
    return false;
}

static void post_listen(const struct net_addr *a, const int *fds, const char *service)
{
    for (unsigned i = 0; i < nworkers; i++) {
        struct listen_job *j = xcalloc(1, sizeof(*j));
        j->w = &workers[i];
        j->addr = *a;
        j->fd = fds ? fds[i] : -1;
        snprintf(j->service, sizeof(j->service), "%s", service);
        worker_post(&workers[i], job_listen, j);
    }
}

/* Close groups the generation no longer wants. */
static void sync_close_unwanted(const struct gen *g)
{
    for (size_t i = 0; i < ngroups;) {
        if (group_wanted(g, &groups[i])) {
            i++;
            continue;
        }
        post_listen(&groups[i].addr, NULL, groups[i].service);
        groups[i] = groups[--ngroups];
    }
}

struct pending {
    struct net_addr addr;
    const char *site;
    int *fds;
};

static void pending_free(struct pending *p, size_t n, bool close_fds)
{
    for (size_t i = 0; i < n; i++) {
        for (unsigned w = 0; close_fds && w < nworkers; w++)
            close(p[i].fds[w]);
        free(p[i].fds);
    }
    free(p);
}

/* Probe (dry) or bind every binding the generation wants and is not open.
 * All new sockets are bound before any is handed to a worker, so a commit
 * whose second new address fails leaves no trace of the first. */
static int sync_open_wanted(const struct gen *g, bool dry, char *err, size_t errlen)
{
    struct pending *p = NULL;
    size_t n = 0;
    char where[80];

    for (size_t i = 0; i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        for (size_t b = 0; site_listens(s) && b < s->nbindings; b++) {
            struct net_addr a = s->bindings[b];
            if (group_open(&a))
                continue;
            if (ngroups + n >= MAX_GROUPS) {
                snprintf(err, errlen, "too many listening addresses (at most %d)", MAX_GROUPS);
                goto fail;
            }
            if (dry) {
                if (probe_free(&a) == 0)
                    continue;
                net_addr_str((struct sockaddr *)&a.ss, where, sizeof(where));
                snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
                goto fail;
            }
            p = xrealloc(p, (n + 1) * sizeof(*p));
            p[n].fds = xcalloc(nworkers ? nworkers : 1, sizeof(int));
            p[n].site = s->name;
            if (bind_group(&a, p[n].fds, err, errlen) == -1) {
                free(p[n].fds);
                goto fail;
            }
            p[n++].addr = a;
        }
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(groups[ngroups].service, sizeof(groups[ngroups].service), "www");
        snprintf(groups[ngroups].site, sizeof(groups[ngroups].site), "%s", p[i].site);
        groups[ngroups++].addr = p[i].addr;
        post_listen(&p[i].addr, p[i].fds, "www");
    }
    pending_free(p, n, false);
    return 0;
fail:
    pending_free(p, n, true);
    return -1;
}

int server_sync_listeners(const struct gen *g, bool dry, char *err, size_t errlen)
{
    int rc;

    pthread_mutex_lock(&sync_lock);
    /* New sockets first: if one cannot be bound nothing has changed yet. */
    rc = sync_open_wanted(g, dry, err, errlen);
    if (rc == 0 && !dry)
        sync_close_unwanted(g);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

void server_listeners_json(struct buf *out)
{
    char host[64];

    pthread_mutex_lock(&sync_lock);
    buf_puts(out, "[");
    for (size_t i = 0; i < ngroups; i++) {
        net_host_str((struct sockaddr *)&groups[i].addr.ss, host, sizeof(host));
        buf_printf(out, "%s{\"service\": \"%s\", \"site\": \"%s\", \"address\": \"%s\", \"port\": %u}",
                   i ? ", " : "", groups[i].service, groups[i].site, host,
                   net_port((struct sockaddr *)&groups[i].addr.ss));
    }
    buf_puts(out, "]");
    pthread_mutex_unlock(&sync_lock);
}

/* ---- start and stop ---- */

int server_start(unsigned n)
{
    struct gen *g = gen_current_peek();

    nworkers = n;
    workers = xcalloc(n, sizeof(*workers));
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        w->id = i;
        w->loop = loop_new();
        if (w->loop == NULL)
            fatal("server: cannot create an event loop");
        w->rbuf = xmalloc(WORKER_RBUF);
        w->fcache = fcache_new(4096, g ? g->cache_bytes / n : 1 << 20, g ? g->cache_valid_ms : 1000);
    }
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            fatal("server: cannot start worker thread %u", i);
    return 0;
}

static void worker_drain(void *arg)
{
    struct worker *w = arg;
    struct www_conn *c, *next;

    w->draining = true;
    for (size_t i = w->nlisteners; i-- > 0;)
        if (!w->listeners[i]->closed)
            listener_close(w, w->listeners[i]);
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        www_conn_drain(c);
    }
}

static void worker_force_stop(void *arg)
{
    struct worker *w = arg;

    loop_stop(w->loop);
}

static bool join_until(struct worker *w, const struct timespec *deadline)
{
    return pthread_timedjoin_np(w->thread, NULL, deadline) == 0;
}

void server_stop(unsigned grace_ms)
{
    struct timespec deadline;
    bool *joined = xcalloc(nworkers ? nworkers : 1, sizeof(bool));

    for (unsigned i = 0; i < nworkers; i++)
        worker_post(&workers[i], worker_drain, &workers[i]);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_ms / 1000;
    deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    for (unsigned i = 0; i < nworkers; i++)
        joined[i] = join_until(&workers[i], &deadline);
    for (unsigned i = 0; i < nworkers; i++) {
        if (joined[i])
            continue;
        log_warnx("server: worker %u still busy after %u ms; closing its connections", i,
                  grace_ms);
        worker_post(&workers[i], worker_force_stop, &workers[i]);
        pthread_join(workers[i].thread, NULL);
    }
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        fcache_free(w->fcache);
        gen_unref(w->gen);
        loop_free(w->loop);
        for (size_t p = 0; p < w->npool; p++) {
            buf_free(w->pool[p]);
            free(w->pool[p]);
        }
        free(w->listeners);
        free(w->rbuf);
    }
    free(joined);
    free(workers);
    workers = NULL;
    nworkers = 0;
    ngroups = 0;
}

unsigned server_nworkers(void)
{
    return nworkers;
}

/* ---- questions answered by every worker ---- */

struct gather {
    pthread_mutex_t lock;
    pthread_cond_t done;
    unsigned pending;
    json_t *sessions; /* job_sessions appends here */
};

static void gather_finish(struct gather *g)
{
    pthread_mutex_lock(&g->lock);
    if (--g->pending == 0)
        pthread_cond_signal(&g->done);
    pthread_mutex_unlock(&g->lock);
}

static void gather_run(void (*fn)(void *), struct gather *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->done, NULL);
    g->pending = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        worker_post(&workers[i], fn, g);
    }
    pthread_mutex_lock(&g->lock);
    while (g->pending > 0)
        pthread_cond_wait(&g->done, &g->lock);
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&g->done);
    pthread_mutex_destroy(&g->lock);
}

static struct worker *self_worker(void)
{
    pthread_t me = pthread_self();

    for (unsigned i = 0; i < nworkers; i++)
        if (pthread_equal(workers[i].thread, me))
            return &workers[i];
    return NULL;
}

static void job_flush(void *arg)
{
    struct worker *w = self_worker();

    if (w)
        fcache_flush(w->fcache);
    gather_finish(arg);
}

void server_flush_caches(void)
{
    struct gather g = {0};

    gather_run(job_flush, &g);
}

/* Every text here is ASCII (the parser admits no other byte in a request
 * line, and site names are metabase keys), so json_string cannot refuse it;
 * "" is the safe answer if it ever did. */
static json_t *ascii_string(const char *s)
{
    json_t *v = json_string(s);

    return v ? v : json_string("");
}

static json_t *session_json(const struct www_conn *c)
{
    char client[80];

    if (strchr(c->peer_ip, ':'))
        snprintf(client, sizeof(client), "[%s]:%u", c->peer_ip, c->peer_port);
    else
        snprintf(client, sizeof(client), "%s:%u", c->peer_ip, c->peer_port);
    return json_pack("{s:I, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "id", (json_int_t)c->id,
                     "service", "www", "site", ascii_string(c->li->site ? c->li->site->name : ""),
                     "client", ascii_string(client), "since", (json_int_t)c->since,
                     "bytes_sent", (json_int_t)c->bytes_out, "bytes_received",
                     (json_int_t)c->bytes_in, "requests", (json_int_t)c->requests, "request",
                     ascii_string(c->last_req));
}

static void job_sessions(void *arg)
{
    struct gather *g = arg;
    struct worker *w = self_worker();
    json_t *part = json_array();

    for (const struct www_conn *c = w ? w->conns : NULL; c != NULL; c = c->next)
        json_array_append_new(part, session_json(c));
    pthread_mutex_lock(&g->lock);
    json_array_extend(g->sessions, part);
    pthread_mutex_unlock(&g->lock);
    json_decref(part);
    gather_finish(g);
}

json_t *server_sessions(void)
{
    struct gather g = {.sessions = json_array()};

    gather_run(job_sessions, &g);
    return g.sessions;
}

/* ---- disconnecting ---- */

struct disconnect_job {
    struct gather g;
    uint64_t id; /* 0: every connection of a stopped or removed site */
    unsigned closed;
};

static void job_disconnect(void *arg)
{
    struct disconnect_job *d = arg;
    struct worker *w = self_worker();
    struct www_conn *c, *next;
    unsigned n = 0;

    for (c = w ? w->conns : NULL; c != NULL; c = next) {
        next = c->next;
        bool stopped = c->li->site == NULL || c->li->site->state == 1;
        if ((d->id != 0 && c->id == d->id) || (d->id == 0 && stopped)) {
            www_conn_close(c);
            n++;
        }
    }
    pthread_mutex_lock(&d->g.lock);
    d->closed += n;
    if (--d->g.pending == 0)
        pthread_cond_signal(&d->g.done);
    pthread_mutex_unlock(&d->g.lock);
}

unsigned server_disconnect(uint64_t id)
{
    struct disconnect_job d = {.id = id};

    gather_run(job_disconnect, &d.g);
    return d.closed;
}
