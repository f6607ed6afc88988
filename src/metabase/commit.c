/* commit: the engine behind every write — one SQLite transaction, one
 * revision recording each effective change with its before and after values,
 * the daemon's apply callback, and the audit row. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metabase/mb_int.h"

struct txn {
    struct mb *mb;
    json_t *changes; /* as stored in revisions.changes: secrets masked */
    json_t *secrets; /* [{"idx", "name", "old", "new"}]: the real values behind the marks */
};

/* ---- recording changes ---- */

static void keep_secret(struct txn *t, const char *name, const json_t *old, const json_t *new)
{
    json_t *row =
        json_pack("{s:I, s:s}", "idx", (json_int_t)json_array_size(t->changes), "name", name);

    if (old)
        json_object_set_new(row, "old", json_deep_copy(old));
    if (new)
        json_object_set_new(row, "new", json_deep_copy(new));
    json_array_append_new(t->secrets, row);
}

/* A key created or deleted with PROPS: secrets in PROPS are masked. */
static void record_key(struct txn *t, const char *what, const char *key, const json_t *props)
{
    const char *name;
    json_t *v;
    bool created = strcmp(what, "create") == 0;

    json_object_foreach (mb_unconst(props), name, v) {
        const struct prop *p = props_find(name);
        if (p && p->secret)
            keep_secret(t, name, created ? NULL : v, created ? v : NULL);
    }
    json_array_append_new(t->changes, json_pack("{s:s, s:s, s:o}", "change", what, "key", key,
                                                "props", mb_props_masked(props, false)));
}

/* A property set (NEW non-NULL) or unset, OLD NULL when it was not set. */
static void record_prop(struct txn *t, const char *key, const char *name, const json_t *old,
                        const json_t *new)
{
    const struct prop *p = props_find(name);
    bool secret = p && p->secret;
    json_t *c =
        json_pack("{s:s, s:s, s:s}", "change", new ? "set" : "unset", "key", key, "name", name);

    if (secret) {
        keep_secret(t, name, old, new);
        json_object_set_new(c, "secret", json_true());
    }
    if (old)
        json_object_set_new(c, "old", secret ? json_string(MB_SECRET_MARK) : json_deep_copy(old));
    if (new)
        json_object_set_new(c, "new", secret ? json_string(MB_SECRET_MARK) : json_deep_copy(new));
    json_array_append_new(t->changes, c);
}

/* ---- operations against the tree, inside the transaction ---- */

static int key_exists(struct txn *t, const struct mb_key *k, bool *exists, struct mb_error *err)
{
    if (mb_key_implicit(k))
        return *exists = true, 0;
    return mb_store_key_exists(t->mb->db, k->path, exists, err);
}

static int put_all(struct txn *t, const char *key, const json_t *set, struct mb_error *err)
{
    const char *name;
    json_t *v;

    json_object_foreach (mb_unconst(set), name, v)
        if (mb_store_put(t->mb->db, key, name, v, err) == -1)
            return -1;
    return 0;
}

static int op_create(struct txn *t, const struct mb_key *k, const json_t *set, struct mb_error *err)
{
    struct mb_key parent;
    bool exists;
    json_t *empty = json_object();
    int rc;

    if (mb_key_implicit(k))
        rc = mb_fail(err, MB_E_KEY_EXISTS, k->path, NULL, "the key %s always exists", k->path);
    else if (key_exists(t, k, &exists, err) == -1)
        rc = -1;
    else if (exists)
        rc = mb_fail(err, MB_E_KEY_EXISTS, k->path, NULL, "the key %s already exists", k->path);
    else if (!mb_key_parent(k, &parent) || key_exists(t, &parent, &exists, err) == -1)
        rc = -1;
    else if (!exists)
        rc = mb_fail(err, MB_E_NO_SUCH_KEY, k->path, NULL,
                     "cannot create %s: its parent %s does not exist", k->path, parent.path);
    else if (mb_db_run(t->mb->db, err, "INSERT INTO keys (path, parent) VALUES (?, ?)", 2, k->path,
                       parent.path) == -1 ||
             put_all(t, k->path, set ? set : empty, err) == -1)
        rc = -1;
    else
        rc = 0, record_key(t, "create", k->path, set ? set : empty);
    json_decref(empty);
    return rc;
}

static int set_one(struct txn *t, const char *key, const char *name, const json_t *v,
                   struct mb_error *err)
{
    json_t *props, *old;
    int rc = 0;

    if (mb_store_props(t->mb->db, key, &props, err) == -1)
        return -1;
    old = json_object_get(props, name);
    if ((old == NULL && v == NULL) || (old && v && json_equal(old, mb_unconst(v))))
        goto done; /* no effective change */
    rc = mb_store_put(t->mb->db, key, name, v, err);
    if (rc == 0)
        record_prop(t, key, name, old, v);
done:
    json_decref(props);
    return rc;
}

static int op_set(struct txn *t, const struct mb_key *k, const json_t *set, const json_t *unset,
                  struct mb_error *err)
{
    const char *name;
    bool exists;
    json_t *v;
    size_t i;

    if (key_exists(t, k, &exists, err) == -1)
        return -1;
    if (!exists)
        return mb_fail(err, MB_E_NO_SUCH_KEY, k->path, NULL, "no key %s", k->path);
    json_object_foreach (mb_unconst(set), name, v)
        if (set_one(t, k->path, name, v, err) == -1)
            return -1;
    json_array_foreach (unset, i, v)
        if (set_one(t, k->path, json_string_value(v), NULL, err) == -1)
            return -1;
    return 0;
}

static int delete_one(struct txn *t, const char *path, struct mb_error *err)
{
    json_t *props;
    int rc;

    if (mb_store_props(t->mb->db, path, &props, err) == -1)
        return -1;
    rc = mb_db_run(t->mb->db, err, "DELETE FROM properties WHERE key = ?", 1, path);
    if (rc == 0)
        rc = mb_db_run(t->mb->db, err, "DELETE FROM keys WHERE path = ?", 1, path);
    if (rc == 0)
        record_key(t, "delete", path, props);
    json_decref(props);
    return rc;
}

static int op_delete(struct txn *t, const struct mb_key *k, bool recursive, struct mb_error *err)
{
    json_t *below;
    bool exists;
    int rc = 0;

    if (mb_key_implicit(k))
        return mb_fail(err, MB_E_INVALID_KEY, k->path, NULL,
                       "the key %s always exists and cannot be deleted", k->path);
    if (key_exists(t, k, &exists, err) == -1)
        return -1;
    if (!exists)
        return mb_fail(err, MB_E_NO_SUCH_KEY, k->path, NULL, "no key %s", k->path);
    if (mb_store_descendants(t->mb->db, k->path, &below, err) == -1)
        return -1;
    if (json_array_size(below) > 0 && !recursive)
        rc = mb_fail(err, MB_E_HAS_CHILDREN, k->path, NULL,
                     "the key %s has %zu key(s) below it (first %s); delete them first or "
                     "delete recursively",
                     k->path, json_array_size(below), json_string_value(json_array_get(below, 0)));
    /* Sorted by path, so walking backwards removes children before parents. */
    for (size_t i = json_array_size(below); rc == 0 && i > 0; i--)
        rc = delete_one(t, json_string_value(json_array_get(below, i - 1)), err);
    json_decref(below);
    return rc == 0 ? delete_one(t, k->path, err) : -1;
}

static int exec_op(struct txn *t, const json_t *op, struct mb_error *err)
{
    const char *what = json_string_value(json_object_get(op, "op"));
    const json_t *set = json_object_get(op, "set"), *unset = json_object_get(op, "unset");
    struct mb_key k;

    if (mb_key_parse(json_string_value(json_object_get(op, "key")), &k, err) == -1)
        return -1;
    if (strcmp(what, "create") == 0)
        return op_create(t, &k, set, err);
    if (strcmp(what, "set") == 0)
        return op_set(t, &k, set, unset, err);
    return op_delete(t, &k, json_is_true(json_object_get(op, "recursive")), err);
}

/* Every required property of root key PATH is set. */
static int root_complete(struct txn *t, const char *path, struct mb_error *err)
{
    json_t *props;
    int rc = 0;

    if (mb_store_props(t->mb->db, path, &props, err) == -1)
        return -1;
    for (size_t j = 0; rc == 0 && j < props_count(); j++) {
        const struct prop *p = props_at(j);
        if (p->required == PROP_REQUIRED_ON_ROOT && !json_object_get(props, p->name))
            rc = mb_fail(err, MB_E_INVALID_VALUE, path, p->name,
                         "property \"%s\" is required on %s (the site's home directory)", p->name,
                         path);
    }
    json_decref(props);
    return rc;
}

/* Required properties on every key the commit touched that still exists. */
static int check_required(struct txn *t, struct mb_error *err)
{
    size_t i;
    json_t *c;
    struct mb_key k;
    bool exists;

    json_array_foreach (t->changes, i, c) {
        if (mb_key_parse(json_string_value(json_object_get(c, "key")), &k, NULL) == -1 || !k.root)
            continue;
        if (key_exists(t, &k, &exists, err) == -1 ||
            (exists && root_complete(t, k.path, err) == -1))
            return -1;
    }
    return 0;
}

/* ---- the revision row ---- */

static int write_secrets(struct txn *t, uint64_t rev, struct mb_error *err)
{
    char revs[24], idx[24];
    size_t i;
    json_t *row;

    snprintf(revs, sizeof(revs), "%llu", (unsigned long long)rev);
    json_array_foreach (t->secrets, i, row) {
        json_t *old = json_object_get(row, "old"), *new = json_object_get(row, "new");
        char *ot = old ? mb_json_text(old) : NULL, *nt = new ? mb_json_text(new) : NULL;
        snprintf(idx, sizeof(idx), "%lld",
                 (long long)json_integer_value(json_object_get(row, "idx")));
        int rc = mb_db_run(t->mb->db, err,
                           "INSERT INTO revision_secrets (revision, idx, name, old, new)"
                           " VALUES (?, ?, ?, ?, ?)",
                           5, revs, idx, json_string_value(json_object_get(row, "name")), ot, nt);
        free(ot);
        free(nt);
        if (rc == -1)
            return -1;
    }
    return 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int write_revision(struct txn *t, const struct mb_req *r, uint64_t rev, struct mb_error *err)
{
    char revs[24], now[24], count[24];
    char *changes = mb_json_text(t->changes);
    int rc;

    snprintf(revs, sizeof(revs), "%llu", (unsigned long long)rev);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(count, sizeof(count), "%zu", json_array_size(t->changes));
    rc = mb_db_run(t->mb->db, err,
                   "INSERT INTO revisions (n, time, identity, address, comment, nchanges, changes)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   7, revs, now, or_empty(r->who ? r->who->identity : NULL),
                   or_empty(r->who ? r->who->address : NULL), or_empty(r->comment), count, changes);
    free(changes);
    return rc == 0 ? write_secrets(t, rev, err) : -1;
}

/* ---- the transaction ---- */

static int call_apply(struct mb *mb, const struct mb_req *r, struct mb_error *err)
{
    if (r->apply == NULL)
        return 0;
    mb_err_clear(err);
    if (r->apply(mb, r->arg, r->dry_run ? MB_APPLY_CHECK : MB_APPLY_PREPARE, err) == 0)
        return 0;
    if (err->code == NULL)
        err->code = MB_E_APPLY_FAILED;
    if (err->message[0] == '\0')
        snprintf(err->message, sizeof(err->message), "the server refused the new configuration");
    return -1;
}

static void finish_apply(struct mb *mb, const struct mb_req *r, enum mb_apply_phase phase)
{
    struct mb_error ignored;

    if (r->apply)
        r->apply(mb, r->arg, phase, &ignored);
}

static int stale_check(int64_t base, uint64_t cur, struct mb_error *err)
{
    if (base < 0 || (uint64_t)base == cur)
        return 0;
    return mb_fail(err, MB_E_STALE_REVISION, NULL, NULL,
                   "the configuration is at revision %llu, not %lld: reload it and retry",
                   (unsigned long long)cur, (long long)base);
}

static int exec_all(struct txn *t, const json_t *ops, struct mb_error *err)
{
    size_t i;
    json_t *op;

    json_array_foreach (ops, i, op)
        if (exec_op(t, op, err) == -1)
            return -1;
    return check_required(t, err);
}

static void audit_result(struct mb *mb, const struct mb_req *r, uint64_t rev, struct txn *t,
                         const struct mb_error *err)
{
    char target[32], detail[1200];

    if (err == NULL) {
        snprintf(target, sizeof(target), "revision %llu", (unsigned long long)rev);
        snprintf(detail, sizeof(detail), "%zu change(s)%s%s", json_array_size(t->changes),
                 r->comment && *r->comment ? ": " : "", r->comment ? r->comment : "");
        mb_audit_add(mb, r->who, r->action, target, "ok", detail);
    } else {
        mb_audit_add(mb, r->who, r->action, err->key, err->code ? err->code : MB_E_STORAGE,
                     err->message);
    }
}

/* Inside BEGIN: run the ops, write the revision, ask the daemon. Returns 1
 * when there is nothing to commit. */
static int in_txn(struct txn *t, const struct mb_req *r, uint64_t *rev, struct mb_error *err)
{
    uint64_t cur;

    if (mb_store_revision(t->mb->db, &cur, err) == -1 || stale_check(r->base, cur, err) == -1 ||
        exec_all(t, r->ops, err) == -1)
        return -1;
    *rev = cur;
    if (json_array_size(t->changes) == 0)
        return 1;
    if (write_revision(t, r, cur + 1, err) == -1)
        return -1;
    if (!r->dry_run)
        audit_result(t->mb, r, cur + 1, t, NULL);
    if (call_apply(t->mb, r, err) == -1)
        return -1;
    if (!r->dry_run)
        *rev = cur + 1;
    return 0;
}

static int run(struct mb *mb, const struct mb_req *r, uint64_t *new_rev, struct mb_error *err)
{
    struct txn t = {.mb = mb, .changes = json_array(), .secrets = json_array()};
    uint64_t rev = 0;
    int rc;

    if (mb_db_run(mb->db, err, "BEGIN IMMEDIATE", 0) == -1) {
        rc = -1;
        goto out;
    }
    mb->in_commit = true;
    rc = in_txn(&t, r, &rev, err);
    mb->in_commit = false;
    if (rc == 0 && !r->dry_run) {
        /* Prepared inside the transaction, published only once it is stored. */
        if (mb_db_run(mb->db, err, "COMMIT", 0) == -1) {
            rc = -1;
            finish_apply(mb, r, MB_APPLY_ABORT);
        } else {
            finish_apply(mb, r, MB_APPLY_PUBLISH);
        }
    }
    if (rc != 0 || r->dry_run)
        sqlite3_exec(mb->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc >= 0 && new_rev)
        *new_rev = rev;
out:
    json_decref(t.changes);
    json_decref(t.secrets);
    return rc < 0 ? -1 : 0;
}

int mb_busy_check(struct mb *mb, struct mb_error *err)
{
    if (!mb->in_commit)
        return 0;
    return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                   "a commit is already in progress (an apply callback cannot write)");
}

static int check_text(const char *what, const char *s, struct mb_error *err)
{
    if (s == NULL || strlen(s) <= MB_TEXT_MAX)
        return 0;
    return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL, "the %s is longer than %d bytes", what,
                   MB_TEXT_MAX);
}

int mb_commit_req(struct mb *mb, const struct mb_req *r, uint64_t *new_rev, struct mb_error *err)
{
    int rc;

    mb_err_clear(err);
    if (mb_busy_check(mb, err) == -1)
        return -1;
    rc = check_text("comment", r->comment, err);
    if (rc == 0 && r->who)
        rc = check_text("identity", r->who->identity, err) == 0 &&
                     check_text("address", r->who->address, err) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        rc = mb_ops_check(r->ops, r->unbounded ? SIZE_MAX : MB_MAX_OPS, err);
    if (rc == 0)
        rc = run(mb, r, new_rev, err);
    if (rc == -1 && !r->dry_run)
        audit_result(mb, r, 0, NULL, err);
    return rc;
}

int mb_commit(struct mb *mb, const json_t *ops, int64_t base_revision, const struct mb_actor *who,
              const char *comment, bool dry_run, mb_apply_fn apply, void *apply_arg,
              uint64_t *new_rev, struct mb_error *err)
{
    struct mb_error local;
    struct mb_req r = {.ops = ops,
                       .base = base_revision,
                       .who = who,
                       .comment = comment,
                       .action = "commit",
                       .dry_run = dry_run,
                       .apply = apply,
                       .arg = apply_arg};

    return mb_commit_req(mb, &r, new_rev, err ? err : &local);
}

int mb_seed(struct mb *mb, const json_t *ops, const struct mb_actor *who, mb_apply_fn apply,
            void *apply_arg, struct mb_error *err)
{
    return mb_commit(mb, ops, -1, who, "initial configuration", false, apply, apply_arg, NULL, err);
}
