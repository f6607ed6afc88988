/*
 * farm: this server as a member of a farm whose shared configuration (every
 * key but the machine key "/") lives in etcd under farm_name. One member
 * thread catches up from the last farm revision applied, watches the farm's
 * prefix and applies each farm revision, in order and once, as a local
 * commit (identity farm:MEMBER:ADMIN) through the daemon's apply hook,
 * recording it in the same SQLite transaction; it keeps MEMBERS/NAME alive
 * under a lease. A commit on any member is written to etcd as the next farm
 * revision in one transaction comparing the farm's revision, and answered
 * once this member (or every live one) has applied it.
 *
 * Threads: farm_start/farm_stop from the main thread; farm_commit,
 * farm_status and farm_leave from admin threads with the API lock held
 * (they release it while they wait on etcd or the member thread, so the
 * member thread, which takes it to apply, can go on). The metabase handle
 * is only used under the API lock.
 */
#ifndef FARM_FARM_H
#define FARM_FARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metabase/mb.h"

/* Error codes (struct mb_error.code) of the farm, beside the MB_E_* ones. */
#define FARM_E_UNREACHABLE "farm_unreachable" /* no etcd endpoint answers: HTTP 503 */
#define FARM_E_TIMEOUT "farm_timeout"    /* etcd took it, this member has not applied it: 504 */
#define FARM_E_NOT_IN_FARM "not_in_farm" /* farm leave on a standalone server: 409 */

struct farm_env {
    struct mb *mb;
    void (*lock)(void); /* the API lock, owner of the metabase handle */
    void (*unlock)(void);
    mb_apply_fn apply;          /* the daemon's commit hook, run for every farm revision */
    const json_t *capabilities; /* this build's admin API capabilities (copied) */
    const char *version;
};

/**
 * What the machine key's effective properties MACHINE say: 1 standalone; 0
 * a farm member, its name (member_name or the host name) in MEMBER (64
 * bytes); -1 with a one-line reason in ERR for settings that cannot work.
 */
int farm_settings(const json_t *machine, char member[64], char *err, size_t cap);
/**
 * Start the member thread when the machine key names a farm (farm_endpoints
 * and farm_name); 0 as well when it does not (standalone). -1 with a
 * one-line reason in ERR for settings that cannot work.
 */
int farm_start(const struct farm_env *env, char *err, size_t cap);
/** Stop the member thread (its lease is revoked, so it shows as gone at once). */
void farm_stop(void);
/** Whether this server is a farm member: shared keys are then changed through etcd. */
bool farm_active(void);
/** Tell the member thread a local commit happened: a revision it failed to apply is retried. */
void farm_kick(void);

/** A change to commit through the farm: OPS, or TREE (the whole tree wanted; its machine key is
 * ignored). */
struct farm_req {
    const json_t *ops;
    const json_t *tree;
    int64_t base; /* the local revision it is based on (If-Match), or -1 */
    const struct mb_actor *who;
    const char *comment;
    bool dry_run;
    bool wait_all; /* answer once every live member has applied it */
};

struct farm_result {
    uint64_t revision; /* the local revision after it */
    uint64_t farm_revision;
    bool changed;
    json_t *members; /* wait_all: [{name, revision, applied, error}]; else NULL */
    bool all_applied;
};

/**
 * Commit RQ through the farm. 1 when RQ only changes the machine key: the
 * caller commits it locally. 0 when done (*RES filled; the caller decrefs
 * res->members); -1 with ERR: the metabase's codes for a change that is not
 * valid here, MB_E_STALE_REVISION when another member committed first,
 * FARM_E_UNREACHABLE, FARM_E_TIMEOUT or MB_E_APPLY_FAILED after etcd took it.
 */
int farm_commit(const struct farm_req *rq, struct farm_result *res, struct mb_error *err);
/** The farm as GET /api/v1/farm shows it (a new object; {"farm": null} when standalone). */
json_t *farm_status(void);
/**
 * Leave the farm: stop the member, remove its entries from etcd (when it
 * answers) and clear farm_endpoints and farm_name in the machine key, keeping
 * the configuration as it is. *OUT: {"left", "member", "revision", "etcd"}.
 */
int farm_leave(const struct mb_actor *who, json_t **out, struct mb_error *err);

#endif
