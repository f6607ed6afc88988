/*
 * metabase: the configuration store — a tree of keys with typed properties
 * (declared in props.c), kept in SQLite; every commit is one transaction and
 * one revision (history, diff, rollback, export/import, backup/restore, audit).
 * Every json_t returned is a new reference owned by the caller (json_decref).
 * A handle is used by one thread at a time: the main thread at start-up, then
 * the admin thread.
 */
#ifndef METABASE_MB_H
#define METABASE_MB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes: part of the admin API contract, never renamed. */
#define MB_E_UNKNOWN_PROPERTY "unknown_property" /* a property name the table does not know */
#define MB_E_INVALID_VALUE "invalid_value"       /* wrong type, out of range, missing required */
#define MB_E_NOT_ALLOWED_HERE "not_allowed_here" /* property not valid on this kind of key */
#define MB_E_NO_SUCH_KEY "no_such_key"
#define MB_E_KEY_EXISTS "key_exists"
#define MB_E_INVALID_KEY "invalid_key"
#define MB_E_STALE_REVISION "stale_revision"
#define MB_E_NO_SUCH_REVISION "no_such_revision"
#define MB_E_HAS_CHILDREN "has_children"       /* delete without recursive */
#define MB_E_APPLY_FAILED "apply_failed"       /* the apply callback refused */
#define MB_E_INVALID_REQUEST "invalid_request" /* malformed ops or document, not a metabase */
#define MB_E_STORAGE "storage"                 /* SQLite or file system failure */

/* What a client sees instead of a secret value in changes and diffs. */
#define MB_SECRET_MARK "(secret)"

struct mb;

/** Why a call failed: code is one of MB_E_* (NULL on success); key/property may be "". */
struct mb_error {
    const char *code;
    char message[256];
    char key[256];
    char property[64];
};

/** Fill *ERR (code, key, property, message; ERR may be NULL) and return -1. */
int mb_fail(struct mb_error *err, const char *code, const char *key, const char *prop,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Who made a change, for revisions and the audit log (NULL fields are stored as ""). */
struct mb_actor {
    const char *identity;
    const char *address;
};

/* The phases of a commit the daemon's hook sees. */
enum mb_apply_phase {
    MB_APPLY_CHECK,   /* a dry run: validate only, prepare and publish nothing */
    MB_APPLY_PREPARE, /* compile, validate and bind what the new state needs; publish nothing */
    MB_APPLY_PUBLISH, /* the COMMIT succeeded: make the prepared state live (cannot fail) */
    MB_APPLY_ABORT,   /* the COMMIT failed after PREPARE: release what PREPARE made */
};

/**
 * The daemon's hook. CHECK and PREPARE run inside the commit transaction
 * after the tree has been changed: reads through MB see the new state and
 * mb_revision() returns the revision being written; return 0 to accept, or
 * -1 (with *err filled, code MB_E_APPLY_FAILED when left NULL) to roll
 * everything back. After a successful PREPARE exactly one of PUBLISH (the
 * SQLite COMMIT succeeded) or ABORT (it failed: MB_E_STORAGE, nothing is
 * stored) follows, outside the transaction; their return value is ignored.
 * The callback must not commit.
 */
typedef int (*mb_apply_fn)(struct mb *mb, void *arg, enum mb_apply_phase phase,
                           struct mb_error *err);

/**
 * Open (creating when missing) the metabase at PATH, migrating an older schema;
 * refuses (MB_E_INVALID_REQUEST) files that are not metabases or are newer.
 * Also points jansson's allocator at the aborting xmalloc (project convention).
 */
int mb_open(struct mb **out, const char *path, struct mb_error *err);
/** Close the handle (NULL is fine). */
void mb_close(struct mb *mb);
/** The current revision (0 = the empty tree, before any commit). */
uint64_t mb_revision(struct mb *mb);
/** True when no revision has ever been committed: the daemon seeds the tree then. */
bool mb_is_empty(struct mb *mb);
/** The SQLite connection, for modules that own other tables (accounts). */
sqlite3 *mb_db(struct mb *mb);

/**
 * A key as the API shows it: {"key", "revision", "kind", "properties", "children"}
 * with every property valid on the key (own, inherited with its "source", or
 * "default"); secrets as {"value": "", "secret": true, "set": bool}. RECURSIVE
 * adds "subkeys": every key below, pre-order, in the same shape. NULL on error.
 */
json_t *mb_get(struct mb *mb, const char *key, bool recursive, struct mb_error *err);

/**
 * Apply OPS (an array of {"op": "create"|"set"|"delete", "key", "set", "unset",
 * "recursive"}) as one revision. BASE_REVISION -1 skips the staleness check.
 * Everything is validated first; APPLY (may be NULL) then sees the new tree.
 * On success *new_rev is the new revision; when nothing would change, or for a
 * dry run, no revision is written and *new_rev is the current revision.
 */
int mb_commit(struct mb *mb, const json_t *ops, int64_t base_revision, const struct mb_actor *who,
              const char *comment, bool dry_run, mb_apply_fn apply, void *apply_arg,
              uint64_t *new_rev, struct mb_error *err);
/** mb_commit with comment "initial configuration", for the first start. */
int mb_seed(struct mb *mb, const json_t *ops, const struct mb_actor *who, mb_apply_fn apply,
            void *apply_arg, struct mb_error *err);

/** KEY's direct children (last segments, sorted) for the compiler; -1 for a missing key. */
int mb_keys(struct mb *mb, const char *key, char ***out, size_t *n);
/** Free a list from mb_keys. */
void mb_keys_free(char **names, size_t n);
/** The effective value of PROP on KEY (own, inherited or default; secrets included), or NULL. */
json_t *mb_value(struct mb *mb, const char *key, const char *prop);
/** Every effective value on KEY as {name: value} (secrets included), or NULL for no key. */
json_t *mb_effective(struct mb *mb, const char *key);

/**
 * Revisions before BEFORE (0 = from the latest), newest first, at most LIMIT
 * (0 = 50, capped at 1000): [{revision, time, identity, address, comment, changes_count,
 * summary}], summary being the first changes as {change, key, name?}, never values.
 */
json_t *mb_history(struct mb *mb, uint64_t before, unsigned limit);
/**
 * One revision: the mb_history fields plus "changes", in order:
 *   {"change": "create", "key", "props": {...}}   {"change": "delete", "key", "props": {...}}
 *   {"change": "set", "key", "name", "old" (absent if unset before), "new"}
 *   {"change": "unset", "key", "name", "old"}
 * Secret values read MB_SECRET_MARK (and set/unset carry "secret": true).
 * Revision 0 is the empty tree, with no changes.
 */
json_t *mb_revision_get(struct mb *mb, uint64_t n, struct mb_error *err);
/**
 * What turns the tree of revision A into that of revision B (either order), by
 * key path: {"change": "create"|"delete", "key", "props"} and {"change":
 * "set"|"unset", "key", "name", "from" (absent if unset), "to" (absent if unset)}.
 */
json_t *mb_diff(struct mb *mb, uint64_t a, uint64_t b, struct mb_error *err);
/** A new revision making the tree equal to revision TO's (secrets included); see mb_commit. */
int mb_rollback(struct mb *mb, uint64_t to, const struct mb_actor *who, const char *comment,
                mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err);

/** The tree as {"format": "infosrv-metabase", "version": 1, "revision", "keys": {path: props}}. */
json_t *mb_export(struct mb *mb);
/**
 * Replace the whole tree by DOC (an mb_export document) as one revision: keys
 * not in DOC are deleted, secrets DOC leaves out keep their values, unknown
 * top-level members are ignored, everything else is validated as a commit.
 */
int mb_import(struct mb *mb, const json_t *doc, const struct mb_actor *who, const char *comment,
              mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err);
/** Copy the whole database (history included) to DEST_PATH, replacing it atomically. */
int mb_backup(struct mb *mb, const char *dest_path, struct mb_error *err);
/** Commit the latest tree of the backup at SRC_PATH (secrets included) as a new revision here. */
int mb_restore(struct mb *mb, const char *src_path, const struct mb_actor *who, const char *comment,
               mb_apply_fn apply, void *apply_arg, uint64_t *new_rev, struct mb_error *err);

/* ---- whole trees, for replication (src/farm) ---- */

/**
 * The whole tree as {path: {name: value}}: every stored key and the fixed
 * ones ("/", "/www", "/ftp", "/gopher"), with the real secret values. For
 * replication between servers only: never show it to a client. NULL on error.
 */
json_t *mb_tree(struct mb *mb, struct mb_error *err);
/** The tree of revision N, as mb_tree. */
json_t *mb_tree_at(struct mb *mb, uint64_t n, struct mb_error *err);
/** The tree mb_import would commit for DOC (checked as mb_import checks it), as mb_tree. */
json_t *mb_import_tree(struct mb *mb, const json_t *doc, struct mb_error *err);
/** The latest tree of the backup at PATH, as mb_tree. */
json_t *mb_backup_tree(const char *path, struct mb_error *err);
/**
 * Make the tree equal to TREE (an mb_tree document; fixed keys it leaves out
 * are taken as holding no properties) as one revision, recorded in the audit
 * log as ACTION ("farm"). BASE_REVISION, DRY_RUN, APPLY and NEW_REV as for
 * mb_commit; there is no limit on the number of changes.
 */
int mb_tree_replace(struct mb *mb, const json_t *tree, int64_t base_revision,
                    const struct mb_actor *who, const char *comment, const char *action,
                    bool dry_run, mb_apply_fn apply, void *apply_arg, uint64_t *new_rev,
                    struct mb_error *err);

/** Append an audit row (RESULT "ok" or an error code). */
int mb_audit_add(struct mb *mb, const struct mb_actor *who, const char *action, const char *target,
                 const char *result, const char *detail);
/** Audit rows with id below BEFORE_ID (0 = from the latest), newest first, LIMIT as mb_history. */
json_t *mb_audit_list(struct mb *mb, uint64_t before_id, unsigned limit);

#endif
