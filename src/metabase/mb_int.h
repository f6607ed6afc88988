/*
 * mb_int: what the metabase's own files share and nothing else includes —
 * the handle, error helpers, key paths, the SQLite store, the commit engine
 * and tree states. A "state" is a JSON object {path: {name: value}} holding
 * every existing key (machine and services always) with real secret values.
 */
#ifndef METABASE_MB_INT_H
#define METABASE_MB_INT_H

#include <stdarg.h>

#include "metabase/mb.h"
#include "metabase/props.h"

#define MB_KEY_MAX 255       /* bytes in a key path: fits struct mb_error.key */
#define MB_SITE_MAX 63       /* bytes in a site name */
#define MB_ALIAS_MAX 128     /* bytes in a virtual directory name */
#define MB_USER_MAX 64       /* bytes in an FTP user name */
#define MB_MAX_OPS 4096      /* operations in one commit */
#define MB_TEXT_MAX 1024     /* bytes in a comment, identity or address */
#define MB_SCHEMA 2          /* PRAGMA user_version this build writes */
#define MB_APP_ID 0x696e6673 /* PRAGMA application_id: "infs" */

struct mb {
    sqlite3 *db;
    bool in_commit; /* set while a commit (and its apply callback) runs */
};

/* errors.c */
/** MB_E_STORAGE with SQLite's message about DB and what was being done; returns -1. */
int mb_fail_db(sqlite3 *db, struct mb_error *err, const char *what);
/** Reset *err to "no error". */
void mb_err_clear(struct mb_error *err);
/** V as short JSON text for messages (truncated with "..."). */
void mb_json_brief(const json_t *v, char *out, size_t cap);
/** V as compact JSON text with sorted keys; free() it. Aborts on out-of-memory. */
char *mb_json_text(const json_t *v);
/** Drop const for jansson iterators, which take non-const pointers but only read. */
json_t *mb_unconst(const json_t *v);
/** Sorted array of the keys of object O (with '/' ordering before every other byte). */
json_t *mb_sorted_keys(const json_t *o);

/* keypath.c */
struct mb_key {
    char path[MB_KEY_MAX + 1]; /* canonical: no trailing slash except "/" */
    enum mb_kind kind;
    unsigned service; /* enum mb_service; 0 for the machine key */
    bool root;        /* a site's home directory (kind VDIR) */
};
/** Parse and validate a key path; -1 with MB_E_INVALID_KEY. */
int mb_key_parse(const char *s, struct mb_key *k, struct mb_error *err);
/** The parent of K (false for the machine key). */
bool mb_key_parent(const struct mb_key *k, struct mb_key *parent);
/** True for keys that always exist (machine, services, sites containers). */
bool mb_key_implicit(const struct mb_key *k);
/** "machine", "service", "site", "vdir" or "sites". */
const char *mb_kind_name(enum mb_kind kind);

/* store.c */
/** Open PATH read-write (creating it), check it is a metabase, set WAL, migrate. */
int mb_store_open(sqlite3 **out, const char *path, struct mb_error *err);
/** Check DB (named WHAT in messages) is a metabase of a known schema, then migrate it. */
int mb_store_adopt(sqlite3 *db, const char *what, bool allow_fresh, struct mb_error *err);
/** Run SQL with N text parameters (NULL binds SQL NULL). */
int mb_db_run(sqlite3 *db, struct mb_error *err, const char *sql, int n, ...);
/** The latest revision number in DB. */
int mb_store_revision(sqlite3 *db, uint64_t *rev, struct mb_error *err);
/** Whether key PATH exists in the keys table. */
int mb_store_key_exists(sqlite3 *db, const char *path, bool *exists, struct mb_error *err);
/** Full paths of every stored key strictly below PATH, sorted. */
int mb_store_descendants(sqlite3 *db, const char *path, json_t **out, struct mb_error *err);
/** Names (last segment) of the stored direct children of PATH, sorted. */
int mb_store_children(sqlite3 *db, const char *path, json_t **out, struct mb_error *err);
/** The properties set on PATH as an object. */
int mb_store_props(sqlite3 *db, const char *path, json_t **out, struct mb_error *err);
/** Set (V non-NULL) or remove (V NULL) property NAME on PATH. */
int mb_store_put(sqlite3 *db, const char *path, const char *name, const json_t *v,
                 struct mb_error *err);
/** The whole tree of DB as a state. */
int mb_store_state(sqlite3 *db, json_t **out, struct mb_error *err);

/* commit.c */
struct mb_req {
    const json_t *ops;
    int64_t base; /* -1: no staleness check */
    const struct mb_actor *who;
    const char *comment;
    const char *action; /* audit action: "commit", "rollback", "import", "restore" */
    bool dry_run;
    bool unbounded; /* no MB_MAX_OPS limit: ops built by the metabase itself */
    mb_apply_fn apply;
    void *arg;
};
/** The commit engine behind mb_commit, mb_rollback, mb_import and mb_restore. */
int mb_commit_req(struct mb *mb, const struct mb_req *r, uint64_t *new_rev, struct mb_error *err);
/** Refuse re-entry from an apply callback; -1 with MB_E_INVALID_REQUEST. */
int mb_busy_check(struct mb *mb, struct mb_error *err);

/* validate.c */
/** Check the shape of OPS (at most MAX) and every property, value and key syntax in it. */
int mb_ops_check(const json_t *ops, size_t max, struct mb_error *err);

/* state.c */
/** Ops that turn state CUR into state TARGET: deletes, then sets, then creates. */
json_t *mb_state_ops(const json_t *cur, const json_t *target);
/** The changes turning state A into state B, secrets masked. */
json_t *mb_state_diff(const json_t *a, const json_t *b);
/** Copy of PROPS with secret values replaced by MB_SECRET_MARK (or removed when DROP). */
json_t *mb_props_masked(const json_t *props, bool drop);
/** Replace the tree with state TARGET as one revision (action and comment in R). */
int mb_state_replace(struct mb *mb, const json_t *target, struct mb_req *r, uint64_t *new_rev,
                     struct mb_error *err);

/* revisions.c */
/** The tree as it was at revision N, with real secret values. */
int mb_state_at(struct mb *mb, uint64_t n, json_t **out, struct mb_error *err);

/* audit.c */
/** Format Unix time T as ISO 8601 UTC ("2025-01-31T12:00:00Z"). */
void mb_iso_time(int64_t t, char *out, size_t cap);

#endif
