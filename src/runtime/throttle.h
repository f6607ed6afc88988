/*
 * throttle: bandwidth limits on what every service sends — the machine's
 * bandwidth_limit (one bucket all workers share) and each site's
 * max_bandwidth (one bucket per site) — as token buckets (runtime/tbucket)
 * owned by the generation. A connection reserves a quantum of bytes at a
 * time in each bucket that limits it and sends them when the bucket says;
 * until then it waits in its worker's queue, ordered by that instant, and a
 * timer resumes it: no polling, and since buckets serve reservations in the
 * order they were made, connections take turns (round robin) across workers.
 * The limits are those of the worker's newest generation, so a change
 * applies to transfers in progress. With no limit set (worker->bw_limited
 * false) writers call nothing here. Worker thread only.
 */
#ifndef RUNTIME_THROTTLE_H
#define RUNTIME_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/loop.h"

struct session;
struct worker;
struct xport;

/* A connection's place in its worker's queue; embed it in the connection. */
struct bw_waiter {
    struct bw_waiter *next, *prev;
    struct session *s;                    /* whose limits apply */
    void (*resume)(struct bw_waiter *bw); /* its turn has come: send again */
    uint64_t reserved;                    /* bytes reserved and not sent yet */
    uint64_t ready_at;                    /* when they may be sent (monotonic ns) */
    bool queued;
};

/* A worker's waiting connections, soonest first, and the timer that resumes them. */
struct throttle_queue {
    struct bw_waiter *head, *tail;
    struct loop_io timer; /* a timerfd, opened when first needed */
    bool timer_open;
    uint64_t deadline; /* what the timer is set for (0: not set) */
};

/** Prepare BW for a connection of session S; RESUME is called when it may send again. */
void throttle_waiter_init(struct bw_waiter *bw, struct session *s,
                          void (*resume)(struct bw_waiter *bw));
/**
 * xport_write of at most *N bytes of P under BW's limits: *N becomes what
 * was granted. XP_AGAIN with bw->queued when nothing may be sent now.
 */
ssize_t throttle_write(struct bw_waiter *bw, struct xport *x, const void *p, size_t *n, bool more);
/** xport_sendfile of at most *N bytes under BW's limits, as throttle_write. */
ssize_t throttle_sendfile(struct bw_waiter *bw, struct xport *x, int fd, off_t *off, size_t *n);
/** Take BW out of its queue (the connection closes); harmless when it waits for nothing. */
void throttle_cancel(struct bw_waiter *bw);
/** Worker W took a new generation: note whether it limits anything, and let waiters re-check. */
void throttle_adopt(struct worker *w);
/** Worker W stops: close its timer (every connection is closed by then). */
void throttle_worker_stop(struct worker *w);

#endif
