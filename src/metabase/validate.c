/* validate: the shape of commit operations and every value in them, checked
 * before a transaction starts. What depends on the tree (existence, parents,
 * children) is checked by commit.c inside the transaction. */
#include <string.h>

#include "metabase/mb_int.h"

static int bad_op(struct mb_error *err, size_t i, const char *key, const char *why)
{
    return mb_fail(err, MB_E_INVALID_REQUEST, key, NULL, "operation %zu%s%s%s: %s", i + 1,
                   key ? " (" : "", key ? key : "", key ? ")" : "", why);
}

/* Only the members an operation defines: a misspelt member is refused rather
 * than silently ignored. ALLOWED: the operation, its members as text, then
 * the member names, NULL-terminated. */
static int check_members(const json_t *op, size_t i, const char *const *allowed, const char *key,
                         struct mb_error *err)
{
    const char *name;
    json_t *v;
    char why[160];
    size_t j;

    json_object_foreach (mb_unconst(op), name, v) {
        for (j = 2; allowed[j] && strcmp(allowed[j], name) != 0; j++)
            ;
        if (allowed[j] == NULL) {
            snprintf(why, sizeof(why), "unknown member \"%.64s\" (a %s operation takes %s)", name,
                     allowed[0], allowed[1]);
            return bad_op(err, i, key, why);
        }
    }
    return 0;
}

static int check_set(const struct mb_key *k, const json_t *set, size_t i, struct mb_error *err)
{
    const char *name;
    json_t *v;

    if (!json_is_object(set))
        return bad_op(err, i, k->path, "\"set\" must be an object of property values");
    json_object_foreach (mb_unconst(set), name, v) {
        const struct prop *p = props_find(name);
        if (p == NULL)
            return mb_fail(err, MB_E_UNKNOWN_PROPERTY, k->path, name,
                           "unknown property \"%.64s\" on %s", name, k->path);
        if (props_check_where(p, k->kind, k->service, k->path, err) == -1 ||
            props_check_value(p, v, k->path, err) == -1)
            return -1;
    }
    return 0;
}

static int check_unset(const struct mb_key *k, const json_t *unset, const json_t *set, size_t i,
                       struct mb_error *err)
{
    size_t j;
    json_t *v;

    if (!json_is_array(unset))
        return bad_op(err, i, k->path, "\"unset\" must be an array of property names");
    json_array_foreach (unset, j, v) {
        const char *name = json_string_value(v);
        const struct prop *p = props_find(name);
        if (name == NULL)
            return bad_op(err, i, k->path, "\"unset\" must be an array of property names");
        if (p == NULL)
            return mb_fail(err, MB_E_UNKNOWN_PROPERTY, k->path, name,
                           "unknown property \"%.64s\" on %s", name, k->path);
        if (props_check_where(p, k->kind, k->service, k->path, err) == -1)
            return -1;
        if (set && json_object_get(set, name))
            return mb_fail(err, MB_E_INVALID_REQUEST, k->path, name,
                           "operation %zu (%s): property \"%s\" is both set and unset", i + 1,
                           k->path, name);
    }
    return 0;
}

static int check_body(const json_t *op, const char *what, const struct mb_key *k, size_t i,
                      struct mb_error *err)
{
    const json_t *set = json_object_get(op, "set"), *unset = json_object_get(op, "unset");
    const json_t *rec = json_object_get(op, "recursive");
    /* [0] names the operation, [1] lists its members for the message */
    static const char *const create_m[] = {"create", "op, key, set", "op", "key", "set", NULL};
    static const char *const set_m[] = {"set", "op, key, set, unset", "op", "key", "set", "unset",
                                        NULL};
    static const char *const delete_m[] = {"delete", "op, key, recursive", "op",
                                           "key",    "recursive",          NULL};

    if (strcmp(what, "delete") == 0) {
        if (check_members(op, i, delete_m, k->path, err) == -1)
            return -1;
        if (rec && !json_is_boolean(rec))
            return bad_op(err, i, k->path, "\"recursive\" must be true or false");
        return 0;
    }
    if (check_members(op, i, strcmp(what, "set") == 0 ? set_m : create_m, k->path, err) == -1)
        return -1;
    if (set && check_set(k, set, i, err) == -1)
        return -1;
    return unset ? check_unset(k, unset, set, i, err) : 0;
}

static int check_op(const json_t *op, size_t i, struct mb_error *err)
{
    const char *what = json_string_value(json_object_get(op, "op"));
    const char *key = json_string_value(json_object_get(op, "key"));
    struct mb_key k;

    if (!json_is_object(op))
        return bad_op(err, i, NULL, "each operation must be a JSON object");
    if (what == NULL || (strcmp(what, "create") && strcmp(what, "set") && strcmp(what, "delete")))
        return bad_op(err, i, key, "\"op\" must be \"create\", \"set\" or \"delete\"");
    if (key == NULL)
        return bad_op(err, i, NULL, "\"key\" must be a key path string");
    if (mb_key_parse(key, &k, err) == -1)
        return -1;
    return check_body(op, what, &k, i, err);
}

int mb_ops_check(const json_t *ops, size_t max, struct mb_error *err)
{
    size_t i;
    json_t *op;

    if (!json_is_array(ops))
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                       "\"ops\" must be a JSON array of operations");
    if (json_array_size(ops) > max)
        return mb_fail(err, MB_E_INVALID_REQUEST, NULL, NULL,
                       "a commit holds at most %zu operations, got %zu", max, json_array_size(ops));
    json_array_foreach (ops, i, op)
        if (check_op(op, i, err) == -1)
            return -1;
    return 0;
}
