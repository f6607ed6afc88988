/*
 * server: the daemon's runtime — binds the listeners of every worker, starts
 * and stops the worker threads, and gathers answers from them (sessions,
 * cache flush). Called from the main thread only.
 */
#ifndef RUNTIME_SERVER_H
#define RUNTIME_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/net.h"

struct gen;

/** Create NWORKERS worker threads serving the current generation, with no listeners yet. */
int server_start(unsigned nworkers);
/**
 * Open listeners for every binding of a started site in G that is not open
 * yet, and close those G no longer wants. New sockets are bound before
 * anything closes, so on failure (-1, err) nothing changed. DRY only checks
 * that the new addresses could be bound. Any thread; serialised inside.
 */
int server_sync_listeners(const struct gen *g, bool dry, char *err, size_t errlen);
/** Append a JSON array of the open listeners (service, site, address, port). */
void server_listeners_json(struct buf *out);
/** Stop accepting, finish in-flight responses for up to GRACE_MS, then stop every worker. */
void server_stop(unsigned grace_ms);
/** Ask every worker to flush its open-file cache, and wait for them. */
void server_flush_caches(void);
/** The live sessions of every worker as a new JSON array (caller's reference); waits. */
json_t *server_sessions(void);
/** Close session ID (returns 1), or with ID 0 every session of a stopped or removed site; waits. */
unsigned server_disconnect(uint64_t id);
/** Number of workers running. */
unsigned server_nworkers(void);

#endif
