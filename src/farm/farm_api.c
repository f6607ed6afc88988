/* farm_api: the admin side of the farm — a commit made on this member
 * becomes the next farm revision in etcd, then waits until the member
 * thread (and, when asked, every live member) has applied it; the farm
 * status; leaving the farm. Called with the API lock held, released while
 * waiting on etcd or on the members. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "farm/farm_int.h"

/* ---- what a commit touches ---- */

enum scope { SCOPE_NONE, SCOPE_LOCAL, SCOPE_SHARED, SCOPE_MIXED };

/* Whether OPS name the machine key, shared keys, or both (a malformed op is left to
 * the metabase's own checks, as shared). */
static enum scope ops_scope(const json_t *ops)
{
    bool local = false, shared = false;
    size_t i;
    json_t *op;

    json_array_foreach ((json_t *)(uintptr_t)ops, i, op) {
        const char *key = json_string_value(json_object_get(op, "key"));
        if (key != NULL && strcmp(key, "/") == 0)
            local = true;
        else
            shared = true;
    }
    return local && shared ? SCOPE_MIXED : local ? SCOPE_LOCAL : shared ? SCOPE_SHARED : SCOPE_NONE;
}

/* ---- the dry run that computes the tree a commit leads to ---- */

struct capture {
    json_t *tree;
};

static int capture_hook(struct mb *mb, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    struct capture *c = arg;

    if (farm.env.apply(mb, NULL, phase, err) == -1)
        return -1;
    if (phase == MB_APPLY_CHECK)
        c->tree = mb_tree(mb, err);
    return c->tree || phase != MB_APPLY_CHECK ? 0 : -1;
}

/* The whole tree RQ leads to, checked by the daemon's hook as a dry run (the change
 * must apply here, with this member's binding_overrides); NULL in *TREE when nothing
 * would change. */
static int dry_run(const struct farm_req *rq, json_t **tree, struct mb_error *err)
{
    struct capture c = {0};
    uint64_t rev;
    json_t *cur, *target;
    int rc;

    if (rq->ops)
        rc = mb_commit(farm.env.mb, rq->ops, rq->base, rq->who, rq->comment, true, capture_hook, &c,
                       &rev, err);
    else {
        if ((cur = mb_tree(farm.env.mb, err)) == NULL)
            return -1;
        target = record_merge(rq->tree, cur);
        rc = mb_tree_replace(farm.env.mb, target, rq->base, rq->who, rq->comment, "farm", true,
                             capture_hook, &c, &rev, err);
        json_decref(target);
        json_decref(cur);
    }
    if (rc == -1) {
        json_decref(c.tree);
        return -1;
    }
    *tree = c.tree;
    return 0;
}

/* ---- writing the record ---- */

static void new_record(struct record *r, uint64_t rev, const json_t *tree,
                       const struct farm_req *rq)
{
    unsigned char id[RECORD_ID_LEN / 2];

    memset(r, 0, sizeof(*r));
    r->format = RECORD_FORMAT;
    r->revision = rev;
    randombytes_buf(id, sizeof(id));
    sodium_bin2hex(r->id, sizeof(r->id), id, sizeof(id));
    r->time = time(NULL);
    snprintf(r->member, sizeof(r->member), "%s", farm.member);
    r->identity = xstrdup(rq->who && rq->who->identity ? rq->who->identity : "");
    r->address = xstrdup(rq->who && rq->who->address ? rq->who->address : "");
    r->comment = xstrdup(rq->comment ? rq->comment : "");
    r->state = record_shared(tree);
    r->requires = record_requires(r->state);
    record_hash(r->state, r->hash);
}

/* Whether revision N in etcd is R (our own write, whose answer was lost). */
static bool is_ours(const struct record *r)
{
    char key[400], why[64];
    struct etcd_range got;
    struct etcd_err err;
    struct record other;
    bool ours = false;

    record_rev_key(farm.prefix, r->revision, key, sizeof(key));
    if (etcd_get(farm.etcd, key, NULL, false, FARM_CALL_MS, &got, &err) == -1)
        return false;
    if (got.n == 1 &&
        record_decode(got.kvs[0].value, got.kvs[0].value_len, &other, why, sizeof(why)) == 0) {
        ours = strcmp(other.id, r->id) == 0;
        record_free(&other);
    }
    etcd_range_free(&got);
    return ours;
}

static uint64_t head_of(const json_t *resp)
{
    const json_t *rr =
        json_object_get(json_array_get(json_object_get(resp, "responses"), 0), "response_range");
    struct etcd_range r;
    const char *why;
    uint64_t head = 0;

    if (etcd_msg_range(rr, &r, &why) == 0) {
        head = r.n == 1 ? strtoull(r.kvs[0].value, NULL, 10) : 0;
        etcd_range_free(&r);
    }
    return head;
}

static json_t *write_ops(const struct record *r, const char *text)
{
    char key[400], old[400], head[24];
    json_t *ok;

    snprintf(head, sizeof(head), "%" PRIu64, r->revision);
    record_rev_key(farm.prefix, r->revision, key, sizeof(key));
    ok = json_pack("[o, o]", etcd_msg_put_op(farm.head_key, head, strlen(head), 0),
                   etcd_msg_put_op(key, text, strlen(text), 0));
    if (r->revision > FARM_KEEP) { /* the history etcd keeps is bounded */
        record_rev_key(farm.prefix, r->revision - FARM_KEEP, old, sizeof(old));
        json_array_append_new(ok, etcd_msg_delete_op(old));
    }
    return ok;
}

/* One transaction: head goes from BASE to R's revision with the record, or nothing.
 * 0 written, 1 lost to another member (*HEAD: the farm's revision), -1 with ERR. */
static int write_record(const struct record *r, uint64_t base, uint64_t *head, struct mb_error *err)
{
    char *text = record_encode(r), basetext[24];
    struct etcd_err e;
    json_t *req, *resp = NULL;
    bool succeeded = false;
    int rc;

    if (text == NULL)
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                       "the shared configuration would be larger than %u bytes, more than a "
                       "farm revision may hold",
                       RECORD_MAX);
    snprintf(basetext, sizeof(basetext), "%" PRIu64, base);
    req = etcd_msg_txn_req(
        json_pack("[o]", etcd_msg_cmp_value(farm.head_key, base ? basetext : NULL)),
        write_ops(r, text), json_pack("[o]", etcd_msg_range_op(farm.head_key)));
    rc = etcd_txn(farm.etcd, req, FARM_WRITE_MS, &succeeded, &resp, &e);
    json_decref(req);
    free(text);
    if (rc == 0 && !succeeded)
        *head = head_of(resp);
    json_decref(resp);
    /* An answer lost on the way (the endpoint died), or a retry that found its own
     * write done: the record in etcd tells. */
    if ((rc == -1 && e.unreachable) || (rc == 0 && !succeeded && *head >= r->revision))
        if (is_ours(r))
            return 0;
    if (rc == -1)
        return mb_fail(err, e.unreachable ? FARM_E_UNREACHABLE : MB_E_STORAGE, NULL, NULL,
                       "farm unreachable: %s", e.msg);
    return succeeded ? 0 : 1;
}

/* ---- waiting for the members ---- */

/* Whether member entry M has applied revision N, or failed on it (*FAILED). */
static bool entry_done(const json_t *m, uint64_t n, bool *failed)
{
    uint64_t rev = (uint64_t)json_integer_value(json_object_get(m, "revision"));
    uint64_t erev = (uint64_t)json_integer_value(json_object_get(m, "error_revision"));

    *failed = rev < n && erev >= n && json_is_string(json_object_get(m, "error"));
    return rev >= n || *failed;
}

/* Every live member has applied N or failed on it; farm.mu held. */
static bool all_done(uint64_t n)
{
    const char *name;
    json_t *m;
    bool failed;

    json_object_foreach (farm.members, name, m)
        if (json_is_true(json_object_get(m, "alive")) && !entry_done(m, n, &failed))
            return false;
    return true;
}

static json_t *members_report(uint64_t n, bool *all)
{
    json_t *out = json_array(), *m;
    const char *name;
    bool failed;

    *all = true;
    farm_lock();
    json_object_foreach (farm.members, name, m) {
        if (!json_is_true(json_object_get(m, "alive")))
            continue;
        bool done = entry_done(m, n, &failed) && !failed;
        *all = *all && done;
        json_array_append_new(out,
                              json_pack("{s:s, s:O, s:b, s:O}", "name", name, "revision",
                                        json_object_get(m, "revision"), "applied", done, "error",
                                        failed ? json_object_get(m, "error") : json_null()));
    }
    farm_unlock();
    return out;
}

/* Until this member has applied N: 0, or -1 (its apply failed, or time ran out). */
static int wait_applied(uint64_t n, int64_t deadline, struct mb_error *err)
{
    int rc = 0;

    farm_lock();
    while (farm.applied < n && !(farm.error && farm.error_revision >= n) && !farm.stop)
        if (!farm_wait_until(deadline))
            break;
    if (farm.applied < n && farm.error && farm.error_revision >= n)
        rc = mb_fail(err, MB_E_APPLY_FAILED, NULL, NULL,
                     "the farm took revision %" PRIu64 " but this member could not apply it: %s", n,
                     farm.error);
    else if (farm.applied < n)
        rc = mb_fail(err, FARM_E_TIMEOUT, NULL, NULL,
                     "the farm took revision %" PRIu64 " but this member has not applied it "
                     "within %d s (farm status shows its progress)",
                     n, FARM_APPLY_WAIT_MS / 1000);
    farm_unlock();
    return rc;
}

static void wait_all(uint64_t n, int64_t deadline)
{
    farm_lock();
    while (!all_done(n) && !farm.stop)
        if (!farm_wait_until(deadline))
            break;
    farm_unlock();
}

/* Until this member has caught up with revision N (after losing a race without If-Match). */
static void wait_caught_up(uint64_t n)
{
    int64_t deadline = clock_mono_ms() + FARM_RACE_WAIT_MS;

    farm_lock();
    while (farm.applied < n && !farm.stop && farm_wait_until(deadline))
        ;
    farm_unlock();
}

static bool connected(struct mb_error *err)
{
    bool ok;

    farm_lock();
    ok = farm.connected;
    if (!ok)
        mb_fail(err, FARM_E_UNREACHABLE, NULL, NULL, "farm unreachable: %s (farm %s)",
                farm.conn_error, farm.prefix);
    farm_unlock();
    return ok;
}

/* ---- a commit ---- */

static void result_now(struct farm_result *res, bool changed)
{
    res->revision = mb_revision(farm.env.mb);
    res->farm_revision = farm_applied_now();
    res->changed = changed;
}

static bool same_shared(const json_t *tree)
{
    char want[RECORD_HASH_LEN + 1], have[RECORD_HASH_LEN + 1];
    json_t *shared = record_shared(tree);

    record_hash(shared, want);
    json_decref(shared);
    farm_tree_hash(have);
    return strcmp(want, have) == 0;
}

/* Write TREE as revision BASE + 1 and wait for it; the API lock is released meanwhile.
 * 0 done, 1 lost the race (*HEAD), -1 error. */
static int commit_tree(const struct farm_req *rq, const json_t *tree, uint64_t base, uint64_t *head,
                       struct farm_result *res, struct mb_error *err)
{
    struct record r;
    int64_t deadline;
    int rc;

    new_record(&r, base + 1, tree, rq);
    farm.env.unlock();
    rc = write_record(&r, base, head, err);
    deadline = clock_mono_ms() + FARM_APPLY_WAIT_MS;
    if (rc == 0)
        rc = wait_applied(r.revision, deadline, err);
    if (rc == 0 && rq->wait_all)
        wait_all(r.revision, deadline);
    if (rc == 0 && rq->wait_all)
        res->members = members_report(r.revision, &res->all_applied);
    farm.env.lock();
    if (rc == 0) {
        result_now(res, true);
        res->farm_revision = r.revision;
    }
    record_free(&r);
    return rc;
}

static int stale(uint64_t base, uint64_t head, struct mb_error *err)
{
    return mb_fail(err, MB_E_STALE_REVISION, NULL, NULL,
                   "another member committed first: the farm is at revision %" PRIu64
                   ", this member had applied %" PRIu64 ": reload and retry",
                   head, base);
}

static void audit_failure(const struct farm_req *rq, const struct mb_error *err)
{
    if (!rq->dry_run)
        mb_audit_add(farm.env.mb, rq->who, "commit", "farm", err->code ? err->code : "storage",
                     err->message);
}

static int commit(const struct farm_req *rq, struct farm_result *res, struct mb_error *err);

int farm_commit(const struct farm_req *rq, struct farm_result *res, struct mb_error *err)
{
    int rc;

    farm_lock();
    if (farm.stop) { /* leaving or stopping: the client may be gone before this ends */
        farm_unlock();
        return mb_fail(err, FARM_E_UNREACHABLE, NULL, NULL,
                       "farm unreachable: this member is leaving farm %s", farm.prefix);
    }
    farm.inflight++;
    farm_unlock();
    rc = commit(rq, res, err);
    farm_lock();
    farm.inflight--;
    pthread_cond_broadcast(&farm.cond);
    farm_unlock();
    return rc;
}

static int commit(const struct farm_req *rq, struct farm_result *res, struct mb_error *err)
{
    enum scope sc = rq->ops ? ops_scope(rq->ops) : SCOPE_SHARED;
    uint64_t base, head = 0;
    json_t *tree = NULL;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (sc == SCOPE_LOCAL)
        return 1;
    if (sc == SCOPE_MIXED)
        return mb_fail(err, MB_E_INVALID_REQUEST, "/", NULL,
                       "in a farm a commit changes either the machine key / (this member's "
                       "own) or shared keys, not both: send them as two commits");
    for (int tries = 0; tries < FARM_RACE_TRIES; tries++) {
        base = farm_applied_now(); /* matches the metabase: the API lock is held */
        if (dry_run(rq, &tree, err) == -1)
            return -1;
        if (rq->dry_run || tree == NULL || same_shared(tree)) {
            result_now(res, tree != NULL && !same_shared(tree));
            json_decref(tree);
            return 0;
        }
        rc = connected(err) ? commit_tree(rq, tree, base, &head, res, err) : -1;
        json_decref(tree);
        if (rc != 1)
            break;
        if (rq->base >= 0 || tries + 1 == FARM_RACE_TRIES) {
            rc = stale(base, head, err);
            break;
        }
        farm.env.unlock(); /* without If-Match: catch up and try again on the newer tree */
        wait_caught_up(head);
        farm.env.lock();
    }
    if (rc == -1)
        audit_failure(rq, err);
    return rc == 0 ? 0 : -1;
}

/* ---- status ---- */

static json_t *member_view(const json_t *m, uint64_t head, const char *head_hash)
{
    json_t *v = json_deep_copy(m);
    uint64_t rev = (uint64_t)json_integer_value(json_object_get(m, "revision"));
    const char *hash = json_string_value(json_object_get(m, "hash"));
    const char *fh = json_string_value(json_object_get(m, "farm_hash"));
    bool drift =
        hash && fh &&
        (*fh ? strcmp(hash, fh) != 0 : rev == head && *head_hash && strcmp(hash, head_hash) != 0);

    json_object_set_new(v, "behind", json_integer((json_int_t)(head > rev ? head - rev : 0)));
    json_object_set_new(v, "drift", json_boolean(drift || (rev == 0 && head > 0)));
    return v;
}

/* The names of object O, sorted: farm status lists members by name. */
static json_t *sorted_names(const json_t *o)
{
    json_t *names = json_array(), *v;
    const char *k;
    size_t n;

    json_object_foreach ((json_t *)(uintptr_t)o, k, v)
        json_array_append_new(names, json_string(k));
    n = json_array_size(names);
    for (size_t i = 1; i < n; i++) /* a few members: insertion sort will do */
        for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(names, j - 1)),
                                           json_string_value(json_array_get(names, j))) > 0;
             j--) {
            json_t *a = json_incref(json_array_get(names, j - 1));
            json_array_set(names, j - 1, json_array_get(names, j));
            json_array_set_new(names, j, a);
        }
    return names;
}

json_t *farm_status(void)
{
    json_t *out, *list, *m, *names, *n;
    const char *name;
    size_t i;

    if (!farm.active)
        return json_pack("{s:n}", "farm");
    list = json_array();
    farm_lock();
    names = sorted_names(farm.members);
    json_array_foreach (names, i, n) {
        name = json_string_value(n);
        m = json_object_get(farm.members, name);
        json_array_append_new(list, member_view(m, farm.head, farm.head_hash));
    }
    json_decref(names);
    out = json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:I, s:o}", "farm", farm.prefix, "member",
                    farm.member, "etcd", etcd_endpoint(farm.etcd), "connected", farm.connected,
                    "revision", (json_int_t)farm.head, "hash", farm.head_hash, "applied",
                    (json_int_t)farm.applied, "members", list);
    if (!farm.connected)
        json_object_set_new(out, "error", json_string(farm.conn_error));
    farm_unlock();
    return out;
}

/* ---- leaving ---- */

static const char *forget_entries(char *why, size_t cap)
{
    char key[400], roster[400];
    struct etcd_err e;
    json_t *req;
    bool ok;

    record_member_key(farm.prefix, "members", farm.member, key, sizeof(key));
    record_member_key(farm.prefix, "roster", farm.member, roster, sizeof(roster));
    req = etcd_msg_txn_req(
        NULL, json_pack("[o, o]", etcd_msg_delete_op(key), etcd_msg_delete_op(roster)), NULL);
    if (etcd_txn(farm.etcd, req, FARM_CALL_MS, &ok, NULL, &e) == -1)
        snprintf(why, cap, "not removed: %s", e.msg);
    else
        snprintf(why, cap, "removed");
    json_decref(req);
    return why;
}

int farm_leave(const struct mb_actor *who, json_t **out, struct mb_error *err)
{
    char comment[300], why[400], prefix[256], member[RECORD_NAME_MAX + 1];
    json_t *ops;
    uint64_t rev = 0;
    int rc;

    if (!farm.active)
        return mb_fail(err, FARM_E_NOT_IN_FARM, NULL, NULL, "this server is not in a farm");
    farm.env.unlock();
    farm_stop_thread();
    forget_entries(why, sizeof(why));
    farm.env.lock();
    snprintf(prefix, sizeof(prefix), "%s", farm.prefix);
    snprintf(member, sizeof(member), "%s", farm.member);
    snprintf(comment, sizeof(comment), "left farm %s", prefix);
    ops = json_pack("[{s:s, s:s, s:[ss]}]", "op", "set", "key", "/", "unset", "farm_endpoints",
                    "farm_name");
    rc = mb_commit(farm.env.mb, ops, -1, who, comment, false, farm.env.apply, NULL, &rev, err);
    json_decref(ops);
    if (rc == 0)
        farm_book_forget();
    farm_stop(); /* standalone from now on, whatever the machine key says */
    if (rc == -1)
        return -1;
    log_info("farm: member %s left farm %s; it is standalone now", member, prefix);
    *out = json_pack("{s:s, s:s, s:I, s:s}", "left", prefix, "member", member, "revision",
                     (json_int_t)rev, "etcd", why);
    return 0;
}
