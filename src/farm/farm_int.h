/*
 * farm_int: what the member thread (farm.c) and the admin side of the farm
 * (farm_api.c) share — the one farm state, its lock and bounds. Internal to
 * src/farm. Fields marked "member thread" are touched by it alone; the rest
 * only under farm.mu.
 */
#ifndef FARM_FARM_INT_H
#define FARM_FARM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "farm/etcd.h"
#include "farm/farm.h"
#include "farm/record.h"

#define FARM_KEEP 64        /* farm revision records kept in etcd */
#define FARM_LEASE_TTL_S 10 /* a member that stops renewing is gone after this */
#define FARM_KEEPALIVE_MS 2000
#define FARM_CALL_MS 3000        /* the member thread's etcd calls */
#define FARM_WRITE_MS 5000       /* a commit's transaction, across an election */
#define FARM_APPLY_WAIT_MS 10000 /* a commit waits this long for its members */
#define FARM_RACE_WAIT_MS 3000   /* a commit without If-Match that lost waits to catch up */
#define FARM_RACE_TRIES 3
#define FARM_RECONNECT_MIN_MS 100
#define FARM_RECONNECT_MAX_MS 2000
#define FARM_RETRY_MIN_MS 2000 /* a revision that failed to apply is tried again */
#define FARM_RETRY_MAX_MS 30000
#define FARM_QUEUE_MAX 64 /* records received and not applied yet */
#define FARM_POLL_MS 200
#define FARM_MEMBERS_MAX 1024 /* member entries kept in memory */

struct farm_state {
    struct farm_env env;
    json_t *caps;
    char prefix[256], member[RECORD_NAME_MAX + 1], head_key[300];
    struct etcd *etcd;
    pthread_t thread;
    bool running;
    atomic_bool active;

    /* owned by the member thread */
    int64_t lease;
    int64_t next_keepalive, retry_at;
    unsigned retry_ms;
    struct record queue[FARM_QUEUE_MAX]; /* sorted by revision */
    size_t nqueue;
    bool resync;        /* records were dropped: read them from etcd */
    uint64_t filled_to; /* the farm revision etcd was last read up to for a gap */
    bool publish;       /* the member entry changed */
    int behind_checks;  /* keep-alives that found etcd ahead of the watch */
    char last_logged[512];
    int64_t started;

    /* shared: under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* applied, members or connected changed; stop */
    bool stop, kicked, connected, lost;
    unsigned inflight; /* admin requests inside farm_commit: farm_stop waits for them */
    char conn_error[320];
    uint64_t applied; /* matches the metabase whenever the API lock is free */
    char farm_hash[RECORD_HASH_LEN + 1], hash[RECORD_HASH_LEN + 1];
    uint64_t head;
    char head_hash[RECORD_HASH_LEN + 1];
    char *error;
    uint64_t error_revision;
    json_t *members; /* name -> entry with "alive" */
    struct etcd_watch *watch;
};

extern struct farm_state farm;

/** Take farm.mu. */
void farm_lock(void);
/** Release farm.mu. */
void farm_unlock(void);
/** Wake whoever waits on farm.cond, and the member thread's watch; farm.mu held. */
void farm_wake(void);
/** Wait on farm.cond until DEADLINE (monotonic ms), farm.mu held; false once it has passed. */
bool farm_wait_until(int64_t deadline);
/** The farm revision applied. */
uint64_t farm_applied_now(void);
/** Hex SHA-256 of the metabase's shared tree, under the API lock. */
void farm_tree_hash(char out[RECORD_HASH_LEN + 1]);
/** Forget this farm's bookkeeping row, under the API lock. */
void farm_book_forget(void);
/** Stop and join the member thread, then wait for farm_commit calls to end (API lock free). */
void farm_stop_thread(void);

#endif
