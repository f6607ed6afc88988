/* mb: the handle and the tree as readers see it — keys, children, and the
 * effective value of each property (own, inherited from an ancestor, or the
 * table default). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "metabase/mb_int.h"

int mb_open(struct mb **out, const char *path, struct mb_error *err)
{
    sqlite3 *db;

    mb_err_clear(err);
    /* The project convention: allocation failure aborts instead of returning NULL. */
    json_set_alloc_funcs(xmalloc, free);
    if (mb_store_open(&db, path, err) == -1)
        return -1;
    *out = xcalloc(1, sizeof(**out));
    (*out)->db = db;
    return 0;
}

void mb_close(struct mb *mb)
{
    if (mb == NULL)
        return;
    sqlite3_close_v2(mb->db);
    free(mb);
}

uint64_t mb_revision(struct mb *mb)
{
    uint64_t rev = 0;

    mb_store_revision(mb->db, &rev, NULL);
    return rev;
}

bool mb_is_empty(struct mb *mb)
{
    return mb_revision(mb) == 0;
}

sqlite3 *mb_db(struct mb *mb)
{
    return mb->db;
}

/* ---- keys ---- */

static int exists(struct mb *mb, const struct mb_key *k, struct mb_error *err)
{
    bool found;

    if (mb_key_implicit(k))
        return 0;
    if (mb_store_key_exists(mb->db, k->path, &found, err) == -1)
        return -1;
    return found ? 0 : mb_fail(err, MB_E_NO_SUCH_KEY, k->path, NULL, "no key %s", k->path);
}

static json_t *child_names(struct mb *mb, const struct mb_key *k, struct mb_error *err)
{
    json_t *names = NULL;

    if (k->kind == MB_KIND_MACHINE)
        return json_pack("[sss]", "www", "ftp", "gopher");
    if (k->kind == MB_KIND_SERVICE)
        return json_pack("[s]", "sites");
    if (mb_store_children(mb->db, k->path, &names, err) == -1)
        return NULL;
    return names;
}

int mb_keys(struct mb *mb, const char *key, char ***out, size_t *n)
{
    struct mb_key k;
    json_t *names, *v;
    size_t i;

    *out = NULL;
    *n = 0;
    if (mb_key_parse(key, &k, NULL) == -1 || exists(mb, &k, NULL) == -1 ||
        (names = child_names(mb, &k, NULL)) == NULL)
        return -1;
    *n = json_array_size(names);
    *out = xcalloc(*n ? *n : 1, sizeof(char *));
    json_array_foreach (names, i, v)
        (*out)[i] = xstrdup(json_string_value(v));
    json_decref(names);
    return 0;
}

void mb_keys_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- effective values ---- */

/* The properties set on K and each of its ancestors, nearest first:
 * [{"path", "props"}, ...]. */
static json_t *chain_load(struct mb *mb, const struct mb_key *k, struct mb_error *err)
{
    json_t *chain = json_array(), *props;
    struct mb_key cur = *k, parent;

    for (;;) {
        if (mb_store_props(mb->db, cur.path, &props, err) == -1) {
            json_decref(chain);
            return NULL;
        }
        json_array_append_new(chain, json_pack("{s:s, s:o}", "path", cur.path, "props", props));
        if (!mb_key_parent(&cur, &parent))
            return chain;
        cur = parent;
    }
}

/* The effective value of P along CHAIN (new reference, or NULL); *source is
 * NULL when set on the key itself, else an ancestor's path or "default". */
static json_t *resolve(const struct prop *p, const json_t *chain, const char **source)
{
    size_t n = p->inherit ? json_array_size(chain) : 1;

    for (size_t i = 0; i < n; i++) {
        const json_t *link = json_array_get(chain, i);
        json_t *v = json_object_get(json_object_get(link, "props"), p->name);
        if (v) {
            *source = i == 0 ? NULL : json_string_value(json_object_get(link, "path"));
            return json_incref(v);
        }
    }
    *source = "default";
    return props_default(p);
}

static json_t *shown(const struct prop *p, json_t *v, const char *source)
{
    json_t *o;

    if (p->secret) {
        o = json_pack("{s:s, s:b, s:b}", "value", "", "secret", 1, "set", v != NULL);
        json_decref(v);
    } else {
        o = json_pack("{s:o}", "value", v);
    }
    json_object_set_new(o, "inherited", json_boolean(source != NULL));
    if (source)
        json_object_set_new(o, "source", json_string(source));
    return o;
}

/* Every property valid on K: for the API (REVEAL false) or the compiler. */
static json_t *properties(const struct mb_key *k, const json_t *chain, bool reveal)
{
    json_t *o = json_object(), *v;
    const char *source;

    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        if (!props_valid_on(p, k->kind, k->service))
            continue;
        v = resolve(p, chain, &source);
        if (v == NULL && !(p->secret && !reveal))
            continue;
        if (reveal)
            json_object_set_new(o, p->name, v);
        else
            json_object_set_new(o, p->name, shown(p, v, v ? source : NULL));
    }
    return o;
}

static json_t *get_one(struct mb *mb, const struct mb_key *k, struct mb_error *err)
{
    json_t *chain = chain_load(mb, k, err), *children;

    if (chain == NULL)
        return NULL;
    children = child_names(mb, k, err);
    if (children == NULL) {
        json_decref(chain);
        return NULL;
    }
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "key", k->path, "kind", mb_kind_name(k->kind),
                          "properties", properties(k, chain, false), "children", children);
    json_decref(chain);
    return o;
}

/* Append every key below K (pre-order, children sorted) to OUT. */
static int walk(struct mb *mb, const struct mb_key *k, const json_t *children, json_t *out,
                struct mb_error *err)
{
    size_t i;
    json_t *name;
    struct mb_key child;
    char path[MB_KEY_MAX + 2];

    json_array_foreach (children, i, name) {
        snprintf(path, sizeof(path), "%s/%s", k->kind == MB_KIND_MACHINE ? "" : k->path,
                 json_string_value(name));
        if (mb_key_parse(path, &child, err) == -1)
            return -1;
        json_t *o = get_one(mb, &child, err);
        if (o == NULL)
            return -1;
        json_array_append_new(out, o);
        if (walk(mb, &child, json_object_get(o, "children"), out, err) == -1)
            return -1;
    }
    return 0;
}

json_t *mb_get(struct mb *mb, const char *key, bool recursive, struct mb_error *err)
{
    struct mb_error local;
    struct mb_key k;
    json_t *o, *subkeys;

    err = err ? err : &local;
    mb_err_clear(err);
    if (mb_key_parse(key, &k, err) == -1 || exists(mb, &k, err) == -1 ||
        (o = get_one(mb, &k, err)) == NULL)
        return NULL;
    json_object_set_new(o, "revision", json_integer((json_int_t)mb_revision(mb)));
    if (!recursive)
        return o;
    subkeys = json_array();
    json_object_set_new(o, "subkeys", subkeys);
    if (walk(mb, &k, json_object_get(o, "children"), subkeys, err) == -1) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *effective(struct mb *mb, const char *key)
{
    struct mb_key k;
    json_t *chain, *o;

    if (mb_key_parse(key, &k, NULL) == -1 || exists(mb, &k, NULL) == -1 ||
        (chain = chain_load(mb, &k, NULL)) == NULL)
        return NULL;
    o = properties(&k, chain, true);
    json_decref(chain);
    return o;
}

json_t *mb_effective(struct mb *mb, const char *key)
{
    return effective(mb, key);
}

json_t *mb_value(struct mb *mb, const char *key, const char *prop)
{
    json_t *all = effective(mb, key), *v;

    if (all == NULL)
        return NULL;
    v = json_incref(json_object_get(all, prop ? prop : ""));
    json_decref(all);
    return v;
}
