/* throttle: granting bytes from the buckets, and the queue of those waiting for them. */
#include "runtime/throttle.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/gen.h"
#include "runtime/session.h"
#include "runtime/tbucket.h"
#include "runtime/worker.h"
#include "runtime/xport.h"

#define MAX_BUCKETS 2

/* The buckets limiting S now: its site's and the machine's, as the worker's newest
 * generation has them (a session's own generation may be older). */
static size_t buckets_of(const struct session *s, struct tbucket *b[MAX_BUCKETS])
{
    const struct site *site = s->site;
    size_t n = 0;

    if (site && s->gen != s->w->gen && s->li->bind)
        site = binding_site_named(s->li->bind, site->name);
    if (site && site->bw)
        b[n++] = site->bw;
    if (s->w->gen && s->w->gen->bw)
        b[n++] = s->w->gen->bw;
    return n;
}

/* ---- the timer ---- */

static void queue_on_timer(struct loop *l, struct loop_io *io, uint32_t events);

static int timer_open(struct worker *w)
{
    struct throttle_queue *q = &w->bwq;
    int fd;

    if (q->timer_open)
        return 0;
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd == -1) {
        log_warn("throttle: timerfd");
        return -1;
    }
    q->timer.fd = fd;
    q->timer.cb = queue_on_timer;
    if (loop_add(w->loop, &q->timer, LOOP_IN) == -1) {
        log_warn("throttle: epoll add of the timer");
        close(fd);
        return -1;
    }
    q->timer_open = true;
    return 0;
}

/* Fire at AT (monotonic ns) unless the timer is due earlier already. */
static void timer_arm(struct worker *w, uint64_t at)
{
    struct throttle_queue *q = &w->bwq;
    struct itimerspec its = {0};

    if ((q->deadline != 0 && q->deadline <= at) || timer_open(w) == -1)
        return;
    at = at ? at : 1; /* 0 would disarm it */
    its.it_value.tv_sec = (time_t)(at / 1000000000u);
    its.it_value.tv_nsec = (long)(at % 1000000000u);
    if (timerfd_settime(q->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
        log_warn("throttle: timerfd_settime");
        return;
    }
    q->deadline = at;
}

/* ---- the queue ---- */

static void queue_unlink(struct throttle_queue *q, struct bw_waiter *bw)
{
    if (bw->prev)
        bw->prev->next = bw->next;
    else
        q->head = bw->next;
    if (bw->next)
        bw->next->prev = bw->prev;
    else
        q->tail = bw->prev;
    bw->next = bw->prev = NULL;
    bw->queued = false;
}

/* BW waits until its ready_at, in order (mostly the latest: looked for from the tail). */
static void park(struct bw_waiter *bw)
{
    struct worker *w = bw->s->w;
    struct throttle_queue *q = &w->bwq;
    struct bw_waiter *after = q->tail;

    while (after && after->ready_at > bw->ready_at)
        after = after->prev;
    bw->prev = after;
    bw->next = after ? after->next : q->head;
    if (bw->next)
        bw->next->prev = bw;
    else
        q->tail = bw;
    if (after)
        after->next = bw;
    else
        q->head = bw;
    bw->queued = true;
    if (q->head == bw)
        timer_arm(w, bw->ready_at);
}

/* Resume the waiters whose time has come. One resumed may queue again, but for a
 * later instant than now, so the loop ends. */
static void queue_run(struct worker *w)
{
    struct throttle_queue *q = &w->bwq;
    uint64_t now = tbucket_now();
    struct bw_waiter *bw;

    while ((bw = q->head) != NULL && bw->ready_at <= now) {
        queue_unlink(q, bw);
        bw->resume(bw);
    }
    if (q->head)
        timer_arm(w, q->head->ready_at);
}

static void queue_on_timer(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct throttle_queue *q = container_of(io, struct throttle_queue, timer);
    struct worker *w = container_of(q, struct worker, bwq);
    uint64_t expirations;

    (void)l;
    (void)events;
    if (read(q->timer.fd, &expirations, sizeof(expirations)) == -1 && errno != EAGAIN)
        log_warn("throttle: timerfd read");
    q->deadline = 0;
    queue_run(w);
}

/* ---- granting ---- */

/* A quantum (the smallest of the buckets') of WANT, reserved in each bucket. */
static void reserve(struct bw_waiter *bw, struct tbucket **b, size_t nb, uint64_t want,
                    uint64_t now)
{
    uint64_t n = want, ready;

    for (size_t i = 0; i < nb; i++)
        if (b[i]->quantum < n)
            n = b[i]->quantum;
    bw->ready_at = 0;
    for (size_t i = 0; i < nb; i++)
        if ((ready = tbucket_reserve(b[i], n, now)) > bw->ready_at)
            bw->ready_at = ready;
    bw->reserved = n;
}

/* Bytes BW may send of WANT now; 0 when it waits in the queue. */
static uint64_t grant(struct bw_waiter *bw, uint64_t want)
{
    struct tbucket *b[MAX_BUCKETS];
    size_t nb = buckets_of(bw->s, b);
    uint64_t now, got;

    if (nb == 0) { /* no limit any more: what was reserved is forgotten with its buckets */
        bw->reserved = 0;
        return want;
    }
    if (bw->queued)
        return 0;
    now = tbucket_now();
    if (bw->reserved == 0)
        reserve(bw, b, nb, want, now);
    if (bw->ready_at > now) {
        park(bw);
        return 0;
    }
    got = want < bw->reserved ? want : bw->reserved;
    bw->reserved -= got;
    return got;
}

/* What was granted but not taken by the socket stays reserved for the next write. */
static void settle(struct bw_waiter *bw, uint64_t granted, ssize_t sent)
{
    bw->reserved += sent > 0 ? granted - (uint64_t)sent : granted;
}

ssize_t throttle_write(struct bw_waiter *bw, struct xport *x, const void *p, size_t *n, bool more)
{
    uint64_t g = grant(bw, *n);
    ssize_t sent;

    if (g == 0 && *n > 0)
        return XP_AGAIN;
    *n = (size_t)g;
    sent = xport_write(x, p, *n, more);
    settle(bw, g, sent);
    return sent;
}

ssize_t throttle_sendfile(struct bw_waiter *bw, struct xport *x, int fd, off_t *off, size_t *n)
{
    uint64_t g = grant(bw, *n);
    ssize_t sent;

    if (g == 0 && *n > 0)
        return XP_AGAIN;
    *n = (size_t)g;
    sent = xport_sendfile(x, fd, off, *n);
    settle(bw, g, sent);
    return sent;
}

/* ---- life cycle ---- */

void throttle_waiter_init(struct bw_waiter *bw, struct session *s,
                          void (*resume)(struct bw_waiter *bw))
{
    *bw = (struct bw_waiter){.s = s, .resume = resume};
}

void throttle_cancel(struct bw_waiter *bw)
{
    struct tbucket *b[MAX_BUCKETS];
    size_t nb;

    if (bw->s == NULL)
        return;
    if (bw->queued)
        queue_unlink(&bw->s->w->bwq, bw);
    nb = bw->reserved ? buckets_of(bw->s, b) : 0;
    for (size_t i = 0; i < nb; i++)
        tbucket_give_back(b[i], bw->reserved);
    bw->reserved = 0;
}

/* Waiters whose limits went with the old generation go at once; the others keep their
 * instants (reserved in the buckets they had, which is a quantum at most). */
void throttle_adopt(struct worker *w)
{
    struct throttle_queue *q = &w->bwq;
    struct bw_waiter *bw = q->head, *next, *all = NULL, **tail = &all;
    struct tbucket *b[MAX_BUCKETS];

    w->bw_limited = w->gen && w->gen->bw_any;
    for (; bw; bw = next) { /* take them all out, then back in their new order */
        next = bw->next;
        queue_unlink(q, bw);
        *tail = bw;
        tail = &bw->next;
    }
    for (bw = all; bw; bw = next) {
        next = bw->next;
        if (buckets_of(bw->s, b) == 0)
            bw->ready_at = 0;
        park(bw);
    }
}

void throttle_worker_stop(struct worker *w)
{
    if (!w->bwq.timer_open)
        return;
    loop_del(w->loop, &w->bwq.timer);
    close(w->bwq.timer.fd);
    w->bwq.timer_open = false;
}
