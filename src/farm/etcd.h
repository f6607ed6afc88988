/*
 * etcd: a client of etcd's v3 JSON gateway over libcurl. Unary calls go to
 * the endpoint that answered last and move on to the next one on a
 * transport failure or an "unavailable" answer (no leader yet), with a
 * short backoff, until their deadline; a watch is one long streamed
 * response read through a curl multi handle. A struct etcd is shared by
 * the member thread and the admin threads (calls take a pooled easy handle
 * under its lock); a watch belongs to the thread that opened it. Never
 * call from a worker loop: every call blocks.
 */
#ifndef FARM_ETCD_H
#define FARM_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farm/etcd_msg.h"

#define ETCD_MAX_ENDPOINTS 16

struct etcd_conf {
    const char *endpoints[ETCD_MAX_ENDPOINTS]; /* "http://HOST:PORT" */
    size_t nendpoints;
    const char *ca_file;              /* PEM CAs for https endpoints, or NULL: the system's */
    const char *cert_file, *key_file; /* client certificate, or NULL */
    const char *user, *password;      /* etcd authentication, or NULL */
};

/** Why a call failed. UNREACHABLE: no endpoint gave an answer (the outcome of a write is unknown).
 */
struct etcd_err {
    char msg[320];
    bool unreachable;
    int code; /* the gRPC code of an etcd error answer, else 0 */
};

struct etcd;

/** A client for CONF (copied). Needs curl_global_init. */
struct etcd *etcd_new(const struct etcd_conf *conf);
/** Release the client (NULL is fine); no call may be running. */
void etcd_free(struct etcd *e);
/** The endpoint calls go to first, for messages. */
const char *etcd_endpoint(struct etcd *e);

/**
 * POST BODY (not stolen) to PATH ("/v3/kv/range") and parse the answer into
 * *RESP, trying endpoints until TIMEOUT_MS have passed. An etcd error answer
 * is a failure with its code (not retried unless it says etcd is unavailable).
 */
int etcd_call(struct etcd *e, const char *path, const json_t *body, int timeout_ms, json_t **resp,
              struct etcd_err *err);
/** Range [KEY, END) (END NULL: KEY alone) into *OUT. */
int etcd_get(struct etcd *e, const char *key, const char *end, bool keys_only, int timeout_ms,
             struct etcd_range *out, struct etcd_err *err);
/** Run the transaction REQ (etcd_msg_txn_req); *SUCCEEDED tells which branch ran. RESP optional. */
int etcd_txn(struct etcd *e, const json_t *req, int timeout_ms, bool *succeeded, json_t **resp,
             struct etcd_err *err);
/** A lease of TTL seconds into *ID. */
int etcd_lease_grant(struct etcd *e, int ttl, int timeout_ms, int64_t *id, struct etcd_err *err);
/** Renew lease ID; *TTL is 0 when it has expired already. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int timeout_ms, int64_t *ttl,
                         struct etcd_err *err);
/** Revoke lease ID (its keys go with it). */
int etcd_lease_revoke(struct etcd *e, int64_t id, int timeout_ms, struct etcd_err *err);

/* ---- watches ---- */

struct etcd_watch;

/** What a watch hands over: each parsed message, in order. Return -1 to end the watch. */
typedef int (*etcd_watch_fn)(void *arg, const struct etcd_watch_msg *m);

/** Start watching every key under PREFIX from REVISION on, at the current endpoint. */
struct etcd_watch *etcd_watch_open(struct etcd *e, const char *prefix, int64_t revision,
                                   struct etcd_err *err);
/**
 * Wait up to TIMEOUT_MS for the stream and hand every message received to FN.
 * 0 while the watch lives; -1 once it has ended (the endpoint went away,
 * etcd canceled it, FN asked): ERR says why, and the watch must be closed.
 */
int etcd_watch_poll(struct etcd_watch *w, int timeout_ms, etcd_watch_fn fn, void *arg,
                    struct etcd_err *err);
/** Wake a etcd_watch_poll sleeping in another thread. */
void etcd_watch_wakeup(struct etcd_watch *w);
/** Stop the watch and free it (NULL is fine). */
void etcd_watch_close(struct etcd_watch *w);

#endif
