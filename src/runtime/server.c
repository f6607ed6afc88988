#include "runtime/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "runtime/accesslog.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/service.h"
#include "runtime/session.h"
#include "runtime/stats.h"
#include "runtime/worker.h"

#define ACCEPT_RETRY_MS 100
#define ACCEPT_BATCH 256

static struct worker *workers;
static unsigned nworkers;

/* ---- per-worker: accepting ---- */

static void worker_accept_retry(struct loop *l, struct loop_timer *t);

/* Edge-triggered listeners lose their edge when accept stops early (no
 * descriptor left, or the batch bound): the backlog is then picked up by a
 * retry timer, armed only in that case. */
static void listener_stopped_early(struct listener *li, bool failed)
{
    struct worker *w = li->w;
    uint64_t now = clock_ms();

    if (failed && now - w->accept_warned_ms >= 1000) {
        log_warn("server: accept on %s:%u (retrying every %d ms)", li->ip, li->port,
                 ACCEPT_RETRY_MS);
        w->accept_warned_ms = now;
    }
    if (!loop_timer_armed(&w->accept_retry))
        loop_timer_set(w->loop, &w->accept_retry, ACCEPT_RETRY_MS, worker_accept_retry);
}

/* The default site's max_connections is reached: say so in the service's
 * words and close, like the original's "too many users" message. */
static bool refuse_busy(const struct listener *li, int fd)
{
    const struct site *s = li->bind->default_site;
    const char *reply = li->bind->svc->busy_reply;

    if (s == NULL || s->max_connections == 0 || stats_current(s->stats_slot) < s->max_connections)
        return false;
    /* Words in the clear would be garbage to a TLS client: it is just closed. */
    if (reply && !li->bind->tls &&
        send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("server: busy reply to a refused connection: %d", errno);
    close(fd);
    return true;
}

static void listener_accept(struct listener *li)
{
    struct worker *w = li->w;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
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
        if (li->bind == NULL) { /* closing: the generation no longer listens here */
            close(fd);
            continue;
        }
        if (li->bind->default_site)
            stats_add(w->id, li->bind->default_site->stats_slot, STAT_CONNECTION_ATTEMPTS, 1);
        if (refuse_busy(li, fd))
            continue;
        li->bind->svc->accept(w, li, fd, (struct sockaddr *)&ss);
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
    li->closed = true; /* its bind stays: the sessions accepted here go on */
    li->refs++; /* let unref do the freeing when the last session goes */
    worker_listener_unref(w, li);
}

/* ---- per-worker: generations, logs, idle work ---- */

/* A session whose site the new generation no longer serves on its listener
 * (stopped, removed, or moved to other bindings) is closed, or retired
 * where its service can end it gracefully. */
static bool session_orphaned(const struct session *s)
{
    if (s->li->bind == NULL)
        return true;
    return s->site != NULL && binding_site_named(s->li->bind, s->site->name) == NULL;
}

static void worker_adopt(struct worker *w, struct gen *g)
{
    struct session *s, *next;

    for (size_t i = 0; i < w->nlisteners; i++)
        w->listeners[i]->bind = gen_find_binding(g, &w->listeners[i]->addr);
    /* Cached entries carry what the old generation's sites derived from
     * them. The cache is sized by the first generation (cache_size and
     * cache_revalidate apply at start). */
    if (w->fcache)
        fcache_flush(w->fcache);
    else
        w->fcache = fcache_new(4096, g->cache_bytes / (nworkers ? nworkers : 1), g->cache_valid_ms);
    gen_unref(w->gen);
    w->gen = g;
    throttle_adopt(w);
    for (s = w->sessions; s != NULL; s = next) {
        next = s->next;
        if (session_orphaned(s)) {
            if (s->svc->retire)
                s->svc->retire(s);
            else
                s->svc->close(s);
            continue;
        }
        /* Pausing a site keeps the sessions it has (the original's pause). */
        const struct site *now = s->site ? binding_site_named(s->li->bind, s->site->name) : NULL;
        if (now && now->state == SITE_PAUSED && s->site->state != SITE_PAUSED)
            s->pause_exempt = true;
    }
}

struct adopt_job {
    struct worker *w;
    struct gen *g; /* a reference for the worker */
};

static void job_adopt(void *arg)
{
    struct adopt_job *j = arg;

    worker_adopt(j->w, j->g);
    free(j);
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

static void worker_reap(struct worker *w)
{
    struct session *s;

    struct listener *li;

    while ((s = w->dead) != NULL) {
        w->dead = s->next;
        s->svc->free(s);
    }
    while ((li = w->dead_listeners) != NULL) {
        w->dead_listeners = li->next_dead;
        free(li);
    }
}

static void worker_on_idle(void *arg)
{
    struct worker *w = arg;

    worker_reap(w);
    worker_flush_logs(w);
    if (w->draining && w->nsessions == 0)
        loop_stop(w->loop);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    loop_set_idle(w->loop, worker_on_idle, w);
    loop_run(w->loop);
    loop_timer_clear(w->loop, &w->accept_retry);
    loop_timer_clear(w->loop, &w->log_flush);
    while (w->sessions)
        w->sessions->svc->close(w->sessions);
    throttle_worker_stop(w);
    worker_reap(w);
    while (w->nlisteners > 0)
        listener_close(w, w->listeners[w->nlisteners - 1]);
    worker_reap(w);
    for (size_t i = 0; w->gen && i < w->gen->nsites; i++)
        if (w->gen->sites[i].alog)
            alog_flush(w->gen->sites[i].alog, w->id);
    return NULL;
}

/* ---- listener groups: one socket per worker for each bound address ---- */

#define MAX_GROUPS 256

struct lgroup {
    const struct service *svc;
    struct net_addr addr;
    bool tls;
    char site[64];
};

static struct lgroup groups[MAX_GROUPS];
static size_t ngroups;
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

struct pending {
    struct lgroup grp;
    int *fds;
};

static struct pending *held; /* what server_prepare bound */
static size_t nheld;

struct listen_job {
    struct worker *w;
    struct net_addr addr;
    int fd; /* -1: close the listener for addr */
    const struct service *svc;
};

static void job_listen(void *arg)
{
    struct listen_job *j = arg;
    struct worker *w = j->w;
    struct listener *li;

    if (j->fd == -1) {
        for (size_t i = 0; i < w->nlisteners; i++) {
            if (!w->listeners[i]->closed && net_addr_eq(&w->listeners[i]->addr, &j->addr)) {
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
    li->service_slot = stats_slot(j->svc->name, NULL);
    li->bind = gen_find_binding(w->gen, &li->addr);
    w->listeners = xrealloc(w->listeners, (w->nlisteners + 1) * sizeof(*w->listeners));
    w->listeners[w->nlisteners++] = li;
    if (loop_add(w->loop, &li->io, LOOP_IN) == -1)
        log_warn("worker %u: epoll add listener", w->id);
    listener_accept(li);
    free(j);
}

static int listen_error(const struct net_addr *a, char *err, size_t errlen)
{
    char where[80];

    net_addr_str((const struct sockaddr *)&a->ss, where, sizeof(where));
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    return -1;
}

/* Bind one socket per worker for A; fills fds. Port 0 is resolved into A. */
static int bind_group(struct net_addr *a, int *fds, char *err, size_t errlen)
{
    unsigned i;

    if (net_probe_free(a) == -1)
        return listen_error(a, err, errlen);
    for (i = 0; i < nworkers; i++) {
        fds[i] = net_listen(a, 1024);
        if (fds[i] == -1)
            break;
        if (net_port((struct sockaddr *)&a->ss) == 0)
            net_set_port(a, net_local_port(fds[i]));
    }
    if (i == nworkers)
        return 0;
    listen_error(a, err, errlen);
    while (i-- > 0)
        close(fds[i]);
    return -1;
}

/* A binding listens while one of its sites is started; paused sites keep
 * their sessions but take no new ones. */
static bool binding_listens(const struct binding *b)
{
    for (size_t i = 0; i < b->nsites; i++)
        if (b->sites[i]->state == SITE_STARTED)
            return true;
    return false;
}

static const struct binding *wanted_binding(const struct gen *g, const struct net_addr *a)
{
    const struct binding *b = gen_find_binding(g, a);

    return b && binding_listens(b) ? b : NULL;
}

static bool group_open(const struct net_addr *a)
{
    for (size_t i = 0; i < ngroups; i++)
        if (net_addr_eq(&groups[i].addr, a))
            return true;
    return false;
}

static void post_listen(const struct net_addr *a, const int *fds, const struct service *svc)
{
    for (unsigned i = 0; i < nworkers; i++) {
        struct listen_job *j = xcalloc(1, sizeof(*j));
        j->w = &workers[i];
        j->addr = *a;
        j->fd = fds ? fds[i] : -1;
        j->svc = svc;
        worker_post(&workers[i], job_listen, j);
    }
}

static void held_free(bool close_fds)
{
    for (size_t i = 0; i < nheld; i++) {
        for (unsigned w = 0; close_fds && w < nworkers; w++)
            close(held[i].fds[w]);
        free(held[i].fds);
    }
    free(held);
    held = NULL;
    nheld = 0;
}

static void held_add(const struct binding *b, const struct net_addr *a, int *fds)
{
    struct pending *p;

    held = xrealloc(held, (nheld + 1) * sizeof(*held));
    p = &held[nheld++];
    memset(p, 0, sizeof(*p));
    p->grp.svc = b->svc;
    p->grp.addr = *a;
    p->grp.tls = b->tls;
    snprintf(p->grp.site, sizeof(p->grp.site), "%s", b->default_site->name);
    p->fds = fds;
}

/* Probe (dry) or bind every address the generation wants that is not open.
 * All new sockets are bound before any is handed to a worker, so a commit
 * whose second new address fails leaves no trace of the first. */
static int prepare_locked(const struct gen *g, bool dry, char *err, size_t errlen)
{
    for (size_t i = 0; i < g->nbindings; i++) {
        const struct binding *b = &g->bindings[i];
        struct net_addr a = b->addr;
        if (!binding_listens(b) || group_open(&a))
            continue;
        if (ngroups + nheld >= MAX_GROUPS) {
            snprintf(err, errlen, "too many listening addresses (at most %d)", MAX_GROUPS);
            return -1;
        }
        if (dry) {
            if (net_probe_free(&a) == -1)
                return listen_error(&a, err, errlen);
            continue;
        }
        int *fds = xcalloc(nworkers ? nworkers : 1, sizeof(int));
        if (bind_group(&a, fds, err, errlen) == -1) {
            free(fds);
            return -1;
        }
        held_add(b, &a, fds);
    }
    return 0;
}

int server_prepare(const struct gen *g, bool dry, char *err, size_t errlen)
{
    int rc;

    pthread_mutex_lock(&sync_lock);
    held_free(true);
    rc = prepare_locked(g, dry, err, errlen);
    if (rc == -1)
        held_free(true);
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

void server_abort(void)
{
    pthread_mutex_lock(&sync_lock);
    held_free(true);
    pthread_mutex_unlock(&sync_lock);
}

static void post_adopt(struct gen *g)
{
    for (unsigned i = 0; i < nworkers; i++) {
        struct adopt_job *j = xcalloc(1, sizeof(*j));
        j->w = &workers[i];
        j->g = g;
        gen_ref(g);
        worker_post(&workers[i], job_adopt, j);
    }
}

/* The mailbox runs jobs in order: each worker adopts G, then opens the new
 * listeners (bound to G's bindings), then closes the unwanted ones. */
void server_publish(struct gen *g)
{
    pthread_mutex_lock(&sync_lock);
    post_adopt(g);
    for (size_t i = 0; i < nheld && ngroups < MAX_GROUPS; i++) {
        groups[ngroups++] = held[i].grp;
        post_listen(&held[i].grp.addr, held[i].fds, held[i].grp.svc);
    }
    held_free(false);
    for (size_t i = 0; i < ngroups;) {
        const struct binding *b = wanted_binding(g, &groups[i].addr);
        if (b) {
            snprintf(groups[i].site, sizeof(groups[i].site), "%s", b->default_site->name);
            i++;
            continue;
        }
        post_listen(&groups[i].addr, NULL, groups[i].svc);
        groups[i] = groups[--ngroups];
    }
    pthread_mutex_unlock(&sync_lock);
    gen_publish(g);
}

json_t *server_listeners(void)
{
    char host[64];
    json_t *arr = json_array();

    pthread_mutex_lock(&sync_lock);
    for (size_t i = 0; i < ngroups; i++) {
        net_host_str((struct sockaddr *)&groups[i].addr.ss, host, sizeof(host));
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:i, s:b}", "service", groups[i].svc->name, "site",
                           groups[i].site, "address", host, "port",
                           (int)net_port((struct sockaddr *)&groups[i].addr.ss), "tls",
                           groups[i].tls));
    }
    pthread_mutex_unlock(&sync_lock);
    return arr;
}

/* ---- start and stop ---- */

int server_start(unsigned n)
{
    nworkers = n;
    workers = xcalloc(n, sizeof(*workers));
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        w->id = i;
        w->loop = loop_new();
        if (w->loop == NULL)
            fatal("server: cannot create an event loop");
        w->rbuf = xmalloc(WORKER_RBUF);
    }
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            fatal("server: cannot start worker thread %u", i);
    return 0;
}

static void worker_drain(void *arg)
{
    struct worker *w = arg;
    struct session *s, *next;

    w->draining = true;
    for (size_t i = w->nlisteners; i-- > 0;)
        if (!w->listeners[i]->closed)
            listener_close(w, w->listeners[i]);
    for (s = w->sessions; s != NULL; s = next) {
        next = s->next;
        s->svc->drain(s);
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
        free(w->auth_cache);
        gen_unref(w->gen);
        loop_free(w->loop);
        for (size_t p = 0; p < w->npool; p++) {
            buf_free(w->pool[p]);
            free(w->pool[p]);
        }
        free(w->listeners);
        free(w->rbuf);
    }
    held_free(true);
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
    json_t *sessions;  /* job_sessions appends here */
    uint64_t id;       /* job_disconnect closes this session */
    unsigned closed;
};

static void gather_finish(struct gather *g)
{
    pthread_mutex_lock(&g->lock);
    if (--g->pending == 0)
        pthread_cond_signal(&g->done);
    pthread_mutex_unlock(&g->lock);
}

struct gather_job {
    struct worker *w;
    struct gather *g;
    void (*fn)(struct worker *w, struct gather *g);
};

static void job_gather(void *arg)
{
    struct gather_job *j = arg;

    j->fn(j->w, j->g);
    gather_finish(j->g);
    free(j);
}

static void gather_run(void (*fn)(struct worker *, struct gather *), struct gather *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->done, NULL);
    g->pending = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        struct gather_job *j = xcalloc(1, sizeof(*j));
        *j = (struct gather_job){.w = &workers[i], .g = g, .fn = fn};
        worker_post(&workers[i], job_gather, j);
    }
    pthread_mutex_lock(&g->lock);
    while (g->pending > 0)
        pthread_cond_wait(&g->done, &g->lock);
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&g->done);
    pthread_mutex_destroy(&g->lock);
}

static void job_flush(struct worker *w, struct gather *g)
{
    (void)g;
    if (w->fcache)
        fcache_flush(w->fcache);
}

struct forget {
    struct worker *w;
    uint64_t uid;
    size_t len;
    char rel[];
};

static void job_forget(void *arg)
{
    struct forget *f = arg;

    if (f->w->fcache)
        fcache_forget(f->w->fcache, f->uid, f->rel, f->len);
    free(f);
}

void server_forget_file(struct worker *self, uint64_t vdir_uid, const char *rel, size_t len)
{
    if (self->fcache)
        fcache_forget(self->fcache, vdir_uid, rel, len);
    for (unsigned i = 0; i < nworkers; i++) {
        struct forget *f;
        if (&workers[i] == self)
            continue;
        f = xmalloc(sizeof(*f) + len);
        f->w = &workers[i];
        f->uid = vdir_uid;
        f->len = len;
        memcpy(f->rel, rel, len);
        worker_post(&workers[i], job_forget, f);
    }
}

void server_flush_caches(void)
{
    struct gather g = {0};

    gather_run(job_flush, &g);
}

static void job_sessions(struct worker *w, struct gather *g)
{
    json_t *part = json_array();

    for (const struct session *s = w->sessions; s != NULL; s = s->next)
        json_array_append_new(part, session_json(s));
    pthread_mutex_lock(&g->lock);
    json_array_extend(g->sessions, part);
    pthread_mutex_unlock(&g->lock);
    json_decref(part);
}

json_t *server_sessions(void)
{
    struct gather g = {.sessions = json_array()};

    gather_run(job_sessions, &g);
    return g.sessions;
}

static void job_disconnect(struct worker *w, struct gather *g)
{
    for (struct session *s = w->sessions; s != NULL; s = s->next) {
        if (s->id != g->id)
            continue;
        s->svc->close(s);
        pthread_mutex_lock(&g->lock);
        g->closed++;
        pthread_mutex_unlock(&g->lock);
        return;
    }
}

unsigned server_disconnect(uint64_t id)
{
    struct gather g = {.id = id};

    gather_run(job_disconnect, &g);
    return g.closed;
}

/* ---- liveness ---- */

static _Atomic unsigned ping_seq;
static _Atomic unsigned pong[STATS_MAX_WORKERS];

static void job_pong(void *arg)
{
    struct worker *w = arg;

    atomic_store(&pong[w->id], atomic_load(&ping_seq));
}

unsigned server_ping(void)
{
    unsigned seq = atomic_fetch_add(&ping_seq, 1) + 1;

    for (unsigned i = 0; i < nworkers; i++)
        worker_post(&workers[i], job_pong, &workers[i]);
    return seq;
}

bool server_answered(unsigned seq)
{
    for (unsigned i = 0; i < nworkers; i++)
        if (atomic_load(&pong[i]) < seq)
            return false;
    return true;
}
