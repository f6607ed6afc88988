/*
 * server: the daemon's runtime — starts and stops the worker threads, binds
 * the listeners of every worker, hands each new generation to every worker
 * with an explicit message, and gathers answers from them (sessions, cache
 * flush, disconnect). Knows no protocol: accepted sockets go to the service
 * of their binding (runtime/service.h). Called from the main and admin
 * threads; listener changes are serialised inside.
 */
#ifndef RUNTIME_SERVER_H
#define RUNTIME_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct gen;
struct worker;

/** Create NWORKERS worker threads with no generation and no listeners yet. */
int server_start(unsigned nworkers);
/**
 * Bind one socket per worker for every address G listens on that is not
 * open yet, and hold them (nothing changes for the workers). DRY only probes
 * that the addresses could be bound. -1 with ERR, nothing held, on failure.
 */
int server_prepare(const struct gen *g, bool dry, char *err, size_t errlen);
/** Close the sockets the last server_prepare holds (the commit failed). */
void server_abort(void);
/**
 * Make G current: every worker gets it by message (sessions of sites it no
 * longer serves are closed there), the held sockets start listening, and
 * listeners G does not want close. Takes over the caller's reference.
 */
void server_publish(struct gen *g);
/** The open listeners as a new JSON array [{service, site, address, port, tls}]. */
json_t *server_listeners(void);
/** Stop accepting, finish in-flight work for up to GRACE_MS, then stop every worker. */
void server_stop(unsigned grace_ms);
/** Ask every worker to flush its open-file cache, and wait for them. */
void server_flush_caches(void);
/**
 * Every worker forgets its cached entry of REL beneath the vdir VDIR_UID
 * (a file was uploaded or deleted): this worker now, the others by message.
 */
void server_forget_file(struct worker *self, uint64_t vdir_uid, const char *rel, size_t len);
/** The live sessions of every worker as a new JSON array (caller's reference); waits. */
json_t *server_sessions(void);
/** Close session ID; returns 1 when it existed, else 0. Waits. */
unsigned server_disconnect(uint64_t id);
/** Number of workers running. */
unsigned server_nworkers(void);
/** Ask every worker loop to answer (without waiting); the ping's number. */
unsigned server_ping(void);
/** True once every worker loop has answered ping SEQ (or a later one). */
bool server_answered(unsigned seq);

#endif
