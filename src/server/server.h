/*
 * server: the daemon's runtime — binds the listeners of every worker, starts
 * and stops the worker threads, and gathers answers from them (sessions,
 * cache flush). Called from the main thread only.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/net.h"

struct server_listen {
    const char *service;   /* "www" */
    struct net_addr addr;  /* port 0: pick one; filled with the bound port */
};

/**
 * Bind every listener once per worker and start NWORKERS threads serving the
 * current generation. Returns 0, or -1 with a message in err.
 */
int server_start(unsigned nworkers, struct server_listen *ls, size_t nls, char *err,
                 size_t errlen);
/** Stop accepting, finish in-flight responses for up to GRACE_MS, then stop every worker. */
void server_stop(unsigned grace_ms);
/** Ask every worker to flush its open-file cache, and wait for them. */
void server_flush_caches(void);
/** Append a JSON array of the live sessions to OUT, gathered from every worker. */
void server_sessions_json(struct buf *out);
/** Number of workers running. */
unsigned server_nworkers(void);

#endif
