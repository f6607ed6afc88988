#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

/* The wheel: 1024 slots of 64 ms span about 65 s; later deadlines stay in
 * their slot until a pass finds them due. Timeouts here are seconds long, so
 * 64 ms of slack is fine and keeps idle wake-ups rare. */
#define TICK_MS 64
#define NSLOTS 1024
#define MAX_EVENTS 256

struct post {
    struct post *next;
    loop_fn fn;
    void *arg;
};

struct loop {
    int epfd;
    bool stopping;
    uint64_t tick;   /* last processed tick */
    size_t ntimers;  /* armed timers */
    struct loop_timer *slots[NSLOTS];
    struct loop_io wake_io;
    pthread_mutex_t post_lock;
    struct post *posts, **posts_tail;
    loop_fn idle_fn, wake_fn;
    void *idle_arg, *wake_arg;
};

static void loop_drain_posts(struct loop *l, struct loop_io *io, uint32_t events);

struct loop *loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof(*l));

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_io.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->epfd == -1 || l->wake_io.fd == -1)
        goto fail;
    l->wake_io.cb = loop_drain_posts;
    pthread_mutex_init(&l->post_lock, NULL);
    l->posts_tail = &l->posts;
    clock_update();
    l->tick = clock_ms() / TICK_MS;
    if (loop_add(l, &l->wake_io, LOOP_IN) == -1)
        goto fail;
    return l;
fail:
    if (l->epfd != -1)
        close(l->epfd);
    if (l->wake_io.fd > 0)
        close(l->wake_io.fd);
    free(l);
    return NULL;
}

void loop_free(struct loop *l)
{
    struct post *p;

    if (l == NULL)
        return;
    while ((p = l->posts) != NULL) {
        l->posts = p->next;
        free(p);
    }
    close(l->wake_io.fd);
    close(l->epfd);
    pthread_mutex_destroy(&l->post_lock);
    free(l);
}

int loop_add(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLET | EPOLLRDHUP, .data.ptr = io};

    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLET | EPOLLRDHUP, .data.ptr = io};

    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

int loop_watch_out(struct loop *l, struct loop_io *io, bool *watching, bool on)
{
    if (*watching == on)
        return 0;
    if (loop_mod(l, io, LOOP_IN | (on ? LOOP_OUT : 0)) == -1)
        return -1;
    *watching = on;
    return 0;
}

void loop_del(struct loop *l, struct loop_io *io)
{
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) == -1 && errno != EBADF && errno != ENOENT)
        log_warn("loop_del: fd %d", io->fd);
}

static void timer_unlink(struct loop_timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

/* The count matters: while it is above zero the loop wakes every tick. */
void loop_timer_clear(struct loop *l, struct loop_timer *t)
{
    if (t->pprev == NULL)
        return;
    timer_unlink(t);
    l->ntimers--;
}

void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_timer_cb cb)
{
    struct loop_timer **slot;

    if (t->pprev == NULL)
        l->ntimers++;
    else
        timer_unlink(t);
    t->deadline = clock_ms() + delay_ms;
    t->cb = cb;
    /* Round up so a timer never fires early. */
    slot = &l->slots[((t->deadline + TICK_MS - 1) / TICK_MS) % NSLOTS];
    t->next = *slot;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = slot;
    *slot = t;
}

static void loop_fire_slot(struct loop *l, size_t idx, uint64_t now)
{
    struct loop_timer *t = l->slots[idx], *next;

    for (; t != NULL; t = next) {
        next = t->next;
        if (t->deadline > now)
            continue;
        loop_timer_clear(l, t);
        t->cb(l, t);
        /* The callback may have freed or re-armed timers of this slot, so
         * restart the walk; fired timers are gone from it. */
        next = l->slots[idx];
    }
}

static void loop_run_timers(struct loop *l)
{
    uint64_t now = clock_ms(), now_tick = now / TICK_MS;
    uint64_t from = l->tick;

    if (now_tick - from >= NSLOTS)
        from = now_tick - NSLOTS + 1;
    for (uint64_t tick = from; tick <= now_tick && l->ntimers > 0; tick++)
        loop_fire_slot(l, tick % NSLOTS, now);
    l->tick = now_tick;
}

static void loop_drain_posts(struct loop *l, struct loop_io *io, uint32_t events)
{
    uint64_t v;
    struct post *p, *next;

    (void)events;
    if (read(io->fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
        log_warn("loop: eventfd read");
    pthread_mutex_lock(&l->post_lock);
    p = l->posts;
    l->posts = NULL;
    l->posts_tail = &l->posts;
    pthread_mutex_unlock(&l->post_lock);
    for (; p != NULL; p = next) {
        next = p->next;
        p->fn(p->arg);
        free(p);
    }
}

void loop_post(struct loop *l, loop_fn fn, void *arg)
{
    struct post *p = xmalloc(sizeof(*p));
    uint64_t one = 1;

    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&l->post_lock);
    *l->posts_tail = p;
    l->posts_tail = &p->next;
    pthread_mutex_unlock(&l->post_lock);
    if (write(l->wake_io.fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
        log_warn("loop_post: eventfd write");
}

void loop_set_idle(struct loop *l, loop_fn fn, void *arg)
{
    l->idle_fn = fn;
    l->idle_arg = arg;
}

void loop_set_wake(struct loop *l, loop_fn fn, void *arg)
{
    l->wake_fn = fn;
    l->wake_arg = arg;
}

void loop_stop(struct loop *l)
{
    l->stopping = true;
}

void loop_run(struct loop *l)
{
    struct epoll_event events[MAX_EVENTS];
    int n, timeout;

    while (!l->stopping) {
        if (l->idle_fn)
            l->idle_fn(l->idle_arg);
        if (l->stopping)
            break;
        timeout = l->ntimers > 0 ? TICK_MS : -1;
        n = epoll_wait(l->epfd, events, MAX_EVENTS, timeout);
        if (n == -1 && errno != EINTR)
            fatal("loop_run: epoll_wait");
        clock_update();
        if (l->wake_fn)
            l->wake_fn(l->wake_arg);
        for (int i = 0; i < n; i++) {
            struct loop_io *io = events[i].data.ptr;
            io->cb(l, io, events[i].events);
        }
        if (l->ntimers > 0)
            loop_run_timers(l);
        else
            l->tick = clock_ms() / TICK_MS;
    }
}
