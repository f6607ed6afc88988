/*
 * worker: a worker thread — its event loop, its own SO_REUSEPORT listeners,
 * open-file cache, buffer pool and table of live sessions. Everything here
 * is touched only by the worker's thread, except through worker_post (the
 * mailbox), which is how the main and admin threads hand over generations
 * and listeners and ask for snapshots, disconnects, cache flushes and the
 * graceful stop.
 */
#ifndef RUNTIME_WORKER_H
#define RUNTIME_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loop.h"
#include "core/net.h"
#include "runtime/throttle.h"

struct binding;
struct fcache;
struct gen;
struct session;

#define WORKER_POOL_MAX 256        /* pooled buffers kept per worker */
#define WORKER_POOL_BUF_MAX 65536  /* bigger buffers are freed, not pooled */
#define WORKER_RBUF 65536          /* shared read buffer */

struct listener {
    struct loop_io io;
    struct worker *w;
    struct net_addr addr;
    char ip[48];
    unsigned port;
    int service_slot;              /* stats slot of the service */
    const struct binding *bind;    /* this address in the worker's generation, or NULL */
    int refs;                      /* sessions accepted here that are still open */
    bool closed;                   /* no longer listening; freed when refs drops to 0 */
    struct listener *next_dead;    /* the worker's listeners waiting to be freed */
};

struct worker {
    unsigned id;
    pthread_t thread;
    struct loop *loop;
    struct gen *gen;               /* the newest generation this worker was given */
    struct listener **listeners;   /* open ones, and closed ones sessions still use */
    size_t nlisteners;
    struct fcache *fcache;
    void *auth_cache;              /* WWW's verified credentials (www/auth.c): plain memory */
    struct session *sessions;      /* live sessions, most recent first */
    size_t nsessions;
    struct session *dead;          /* closed, freed when the loop goes idle */
    struct listener *dead_listeners; /* likewise */
    char *rbuf;
    struct buf *pool[WORKER_POOL_MAX];
    size_t npool;
    struct loop_timer accept_retry; /* armed while a listener's backlog was left behind */
    uint64_t accept_warned_ms;
    struct loop_timer log_flush;   /* armed while access-log lines wait in the worker */
    bool bw_limited;               /* its generation limits bandwidth: runtime/throttle */
    struct throttle_queue bwq;     /* connections waiting for bandwidth */
    bool draining;
};

/** Take a pooled, empty buffer. */
struct buf *worker_buf_get(struct worker *w);
/** Return a buffer to the pool (or free it). NULL is ignored. */
void worker_buf_put(struct worker *w, struct buf *b);
/** A session accepted on LI closed (worker thread). */
void worker_listener_unref(struct worker *w, struct listener *li);
/** Run FN(ARG) on worker W's thread; any thread. */
void worker_post(struct worker *w, loop_fn fn, void *arg);

#endif
