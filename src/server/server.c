#include "server/server.h"

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
#include "server/gen.h"
#include "server/stats.h"
#include "server/worker.h"
#include "www/accesslog.h"
#include "www/conn.h"
#include "www/fcache.h"

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
    return g->nsites > 0 ? &g->sites[0] : NULL;
}

static void worker_adopt_gen(struct worker *w)
{
    struct gen *g = gen_current_ref();

    if (g == NULL)
        return;
    for (size_t i = 0; i < w->nlisteners; i++) {
        struct listener *li = &w->listeners[i];
        li->site = site_for_listener(g, li);
        li->site_slot = li->site ? li->site->stats_slot : -1;
    }
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

static void worker_on_idle(void *arg)
{
    struct worker *w = arg;

    www_conn_reap(w);
    if (w->gen == NULL)
        return;
    for (size_t i = 0; i < w->gen->nsites; i++)
        if (w->gen->sites[i].alog)
            alog_flush(w->gen->sites[i].alog, w->id);
    if (w->draining && w->nconns == 0)
        loop_stop(w->loop);
}

static void listener_accept(struct listener *li)
{
    struct worker *w = li->w;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    for (int i = 0; i < 256 && !w->draining; i++) {
        len = sizeof(ss);
        fd = accept4(li->io.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            log_warn("www: accept on %s:%u", li->ip, li->port);
            return; /* EMFILE and friends: the poll below retries */
        }
        stats_add(w->id, li->service_slot, STAT_CONNECTION_ATTEMPTS, 1);
        stats_add(w->id, li->site_slot, STAT_CONNECTION_ATTEMPTS, 1);
        www_conn_accept(w, li, fd, (struct sockaddr *)&ss);
    }
}

static void listener_on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    (void)events;
    listener_accept(container_of(io, struct listener, io));
}

/* Edge-triggered listeners lose their edge when accept stops early (fd
 * limit, batch bound); a periodic poll picks the backlog up again. */
struct accept_poll {
    struct loop_timer t;
    struct worker *w;
};

static void worker_accept_poll(struct loop *l, struct loop_timer *t)
{
    struct accept_poll *p = container_of(t, struct accept_poll, t);

    if (p->w->draining)
        return;
    for (size_t i = 0; i < p->w->nlisteners; i++)
        listener_accept(&p->w->listeners[i]);
    loop_timer_set(l, t, ACCEPT_RETRY_MS, worker_accept_poll);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct accept_poll poll = {.w = w};

    worker_adopt_gen(w);
    loop_set_wake(w->loop, worker_on_wake, w);
    loop_set_idle(w->loop, worker_on_idle, w);
    for (size_t i = 0; i < w->nlisteners; i++)
        if (loop_add(w->loop, &w->listeners[i].io, LOOP_IN) == -1)
            fatal("worker %u: epoll add listener", w->id);
    loop_timer_set(w->loop, &poll.t, ACCEPT_RETRY_MS, worker_accept_poll);
    loop_run(w->loop);
    loop_timer_clear(&poll.t);
    while (w->conns)
        www_conn_close(w->conns);
    www_conn_reap(w);
    for (size_t i = 0; w->gen && i < w->gen->nsites; i++)
        if (w->gen->sites[i].alog)
            alog_flush(w->gen->sites[i].alog, w->id);
    return NULL;
}

/* ---- start and stop ---- */

/* SO_REUSEPORT would let us share a port another process holds; probe with a
 * plain socket first so "address in use" is reported instead. */
static int probe_free(const struct net_addr *a)
{
    int fd, rc, saved;

    if (net_port((const struct sockaddr *)&a->ss) == 0)
        return 0;
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int bind_listeners(struct server_listen *ls, size_t nls, char *err, size_t errlen)
{
    char where[80];

    for (size_t i = 0; i < nls; i++) {
        net_addr_str((struct sockaddr *)&ls[i].addr.ss, where, sizeof(where));
        if (probe_free(&ls[i].addr) == -1)
            goto fail;
        for (unsigned wi = 0; wi < nworkers; wi++) {
            struct listener *li = &workers[wi].listeners[i];
            li->io.fd = net_listen(&ls[i].addr, 1024);
            if (li->io.fd == -1)
                goto fail;
            if (net_port((struct sockaddr *)&ls[i].addr.ss) == 0)
                net_set_port(&ls[i].addr, net_local_port(li->io.fd));
            li->io.cb = listener_on_io;
            li->w = &workers[wi];
            li->addr = ls[i].addr;
            net_host_str((struct sockaddr *)&li->addr.ss, li->ip, sizeof(li->ip));
            li->port = net_port((struct sockaddr *)&li->addr.ss);
            li->service_slot = stats_slot(ls[i].service, NULL);
            li->site_slot = -1;
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    return -1;
}

int server_start(unsigned n, struct server_listen *ls, size_t nls, char *err, size_t errlen)
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
        w->listeners = xcalloc(nls ? nls : 1, sizeof(*w->listeners));
        w->nlisteners = nls;
        w->fcache = fcache_new(4096, g ? g->cache_bytes / n : 1 << 20, g ? g->cache_valid_ms : 1000);
    }
    if (bind_listeners(ls, nls, err, errlen) == -1)
        return -1;
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
    for (size_t i = 0; i < w->nlisteners; i++) {
        loop_del(w->loop, &w->listeners[i].io);
        close(w->listeners[i].io.fd);
        w->listeners[i].io.fd = -1;
    }
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
    struct buf *out;
    bool first;
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

static void json_str(struct buf *b, const char *s)
{
    buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            buf_printf(b, "\\u%04x", ch);
        else
            buf_append(b, s, 1);
    }
    buf_puts(b, "\"");
}

static void session_json(struct buf *b, const struct www_conn *c)
{
    const char *site = c->li->site ? c->li->site->name : "";

    buf_printf(b, "{\"id\": %llu, \"service\": \"www\", \"site\": ", (unsigned long long)c->id);
    json_str(b, site);
    if (strchr(c->peer_ip, ':'))
        buf_printf(b, ", \"client\": \"[%s]:%u\"", c->peer_ip, c->peer_port);
    else
        buf_printf(b, ", \"client\": \"%s:%u\"", c->peer_ip, c->peer_port);
    buf_printf(b, ", \"since\": %lld, \"bytes_sent\": %llu, \"bytes_received\": %llu"
                  ", \"requests\": %llu, \"request\": ",
               (long long)c->since, (unsigned long long)c->bytes_out,
               (unsigned long long)c->bytes_in, (unsigned long long)c->requests);
    json_str(b, c->last_req);
    buf_puts(b, "}");
}

static void job_sessions(void *arg)
{
    struct gather *g = arg;
    struct worker *w = self_worker();
    struct buf part = {0};
    bool first = true;

    for (const struct www_conn *c = w ? w->conns : NULL; c != NULL; c = c->next) {
        if (!first)
            buf_puts(&part, ",\n  ");
        session_json(&part, c);
        first = false;
    }
    pthread_mutex_lock(&g->lock);
    if (part.len > 0) {
        if (!g->first)
            buf_puts(g->out, ",\n  ");
        buf_append(g->out, part.data, part.len);
        g->first = false;
    }
    if (--g->pending == 0)
        pthread_cond_signal(&g->done);
    pthread_mutex_unlock(&g->lock);
    buf_free(&part);
}

void server_sessions_json(struct buf *out)
{
    struct gather g = {.out = out, .first = true};

    buf_puts(out, "[\n  ");
    gather_run(job_sessions, &g);
    buf_puts(out, "\n]");
}
