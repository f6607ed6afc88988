/* state: whole-tree states ({path: {name: value}}) — comparing two of them
 * (diff) and turning one into another as commit operations (rollback,
 * import, restore). */
#include <stdlib.h>
#include <string.h>

#include "metabase/mb_int.h"

static bool is_secret(const char *name)
{
    const struct prop *p = props_find(name);

    return p && p->secret;
}

json_t *mb_props_masked(const json_t *props, bool drop)
{
    json_t *o = json_object(), *v;
    const char *name;

    json_object_foreach (mb_unconst(props), name, v) {
        if (!is_secret(name))
            json_object_set(o, name, v);
        else if (!drop)
            json_object_set_new(o, name, json_string(MB_SECRET_MARK));
    }
    return o;
}

/* ---- diff ---- */

static json_t *prop_change(const char *key, const char *name, const json_t *from, const json_t *to)
{
    bool secret = is_secret(name);
    json_t *c =
        json_pack("{s:s, s:s, s:s}", "change", to ? "set" : "unset", "key", key, "name", name);

    if (secret)
        json_object_set_new(c, "secret", json_true());
    if (from)
        json_object_set_new(c, "from", secret ? json_string(MB_SECRET_MARK) : json_deep_copy(from));
    if (to)
        json_object_set_new(c, "to", secret ? json_string(MB_SECRET_MARK) : json_deep_copy(to));
    return c;
}

/* The names in A or B, sorted. Only the keys matter: a shallow copy will do. */
static json_t *sorted_union_keys(const json_t *a, const json_t *b)
{
    json_t *all = json_copy(mb_unconst(a)), *keys;

    json_object_update(all, mb_unconst(b));
    keys = mb_sorted_keys(all);
    json_decref(all);
    return keys;
}

static void diff_props(const char *key, const json_t *a, const json_t *b, json_t *out)
{
    json_t *names = sorted_union_keys(a, b), *n;
    size_t i;

    json_array_foreach (names, i, n) {
        const char *name = json_string_value(n);
        json_t *from = json_object_get(a, name), *to = json_object_get(b, name);
        if (from == NULL || to == NULL || !json_equal(from, to))
            json_array_append_new(out, prop_change(key, name, from, to));
    }
    json_decref(names);
}

json_t *mb_state_diff(const json_t *a, const json_t *b)
{
    json_t *paths = sorted_union_keys(a, b), *p, *out = json_array();
    size_t i;

    json_array_foreach (paths, i, p) {
        const char *path = json_string_value(p);
        json_t *pa = json_object_get(a, path), *pb = json_object_get(b, path);
        if (pa && pb)
            diff_props(path, pa, pb, out);
        else
            json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "change",
                                                 pa ? "delete" : "create", "key", path, "props",
                                                 mb_props_masked(pa ? pa : pb, false)));
    }
    json_decref(paths);
    return out;
}

/* ---- turning one state into another ---- */

static json_t *set_op(const char *key, const json_t *cur, const json_t *target)
{
    json_t *set = json_object(), *unset = json_array(), *v;
    const char *name;

    json_object_foreach (mb_unconst(target), name, v) {
        json_t *old = json_object_get(cur, name);
        if (old == NULL || !json_equal(old, v))
            json_object_set(set, name, v);
    }
    json_object_foreach (mb_unconst(cur), name, v)
        if (json_object_get(target, name) == NULL)
            json_array_append_new(unset, json_string(name));
    if (json_object_size(set) == 0 && json_array_size(unset) == 0) {
        json_decref(set);
        json_decref(unset);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "op", "set", "key", key, "set", set, "unset", unset);
}

json_t *mb_state_ops(const json_t *cur, const json_t *target)
{
    json_t *ops = json_array(), *deletes = json_array(), *creates = json_array(), *paths, *p;
    size_t i;

    paths = mb_sorted_keys(cur);
    json_array_foreach (paths, i, p) {
        const char *path = json_string_value(p);
        json_t *t = json_object_get(target, path);
        if (t == NULL) /* pre-order reversed: children go before their parents */
            json_array_insert_new(deletes, 0, json_pack("{s:s, s:s}", "op", "delete", "key", path));
        else if ((t = set_op(path, json_object_get(cur, path), t)) != NULL)
            json_array_append_new(ops, t);
    }
    json_decref(paths);
    paths = mb_sorted_keys(target);
    json_array_foreach (paths, i, p) {
        const char *path = json_string_value(p);
        if (json_object_get(cur, path) == NULL)
            json_array_append_new(creates, json_pack("{s:s, s:s, s:O}", "op", "create", "key", path,
                                                     "set", json_object_get(target, path)));
    }
    json_decref(paths);
    json_array_extend(deletes, ops);
    json_array_extend(deletes, creates);
    json_decref(ops);
    json_decref(creates);
    return deletes;
}

int mb_state_replace(struct mb *mb, const json_t *target, struct mb_req *r, uint64_t *new_rev,
                     struct mb_error *err)
{
    json_t *cur, *ops;
    uint64_t rev;
    int rc;

    if (mb_busy_check(mb, err) == -1 || mb_store_revision(mb->db, &rev, err) == -1 ||
        mb_store_state(mb->db, &cur, err) == -1)
        return -1;
    ops = mb_state_ops(cur, target);
    r->ops = ops;
    r->unbounded = true;
    r->base = (int64_t)rev; /* nothing can commit in between: the handle is single-threaded */
    rc = mb_commit_req(mb, r, new_rev, err);
    json_decref(ops);
    json_decref(cur);
    return rc;
}
