/* config: seeding the metabase from the command line, compiling it into generations. */
#include "runtime/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/net.h"
#include "metabase/props.h"
#include "runtime/stats.h"
#include "www/dirlist.h"
#include "www/mime.h"

#define SITES_KEY "/www/sites"
#define SEED_SITE SITES_KEY "/default"
#define SEED_ROOT SEED_SITE "/root"
#define KEY_BUF 512 /* the metabase bounds key paths to 255 bytes */

/* ---- seeding ---- */

struct seed {
    json_t *ops;  /* the operations, parents before children */
    json_t *sets; /* key path -> the "set" object of its create op */
};

/* The "set" object of KEY's create op, appending the op when KEY is new. */
static json_t *seed_key(struct seed *sd, const char *key)
{
    json_t *set = json_object_get(sd->sets, key);

    if (set)
        return set;
    set = json_object();
    json_object_set(sd->sets, key, set);
    json_array_append_new(sd->ops,
                          json_pack("{s:s, s:s, s:o}", "op", "create", "key", key, "set", set));
    return set;
}

/* The value KEY would get for NAME from the keys seeded so far (new reference). */
static json_t *seed_inherited(const struct seed *sd, const char *key, const char *name)
{
    char *path = xstrdup(key), *slash;
    json_t *v = NULL;

    while (v == NULL && (slash = strrchr(path, '/')) != NULL && slash != path) {
        *slash = '\0';
        v = json_object_get(json_object_get(sd->sets, path), name);
    }
    free(path);
    return v ? json_incref(v) : props_default(props_find(name));
}

/* Set NAME to V (stolen) on KEY unless KEY would get that value anyway. */
static void seed_set(struct seed *sd, const char *key, const char *name, json_t *v)
{
    json_t *had = seed_inherited(sd, key, name);

    if (v && !json_equal(v, had))
        json_object_set_new(seed_key(sd, key), name, v);
    else
        json_decref(v);
    json_decref(had);
}

/* PATH made absolute with symbolic links resolved; as given (made absolute)
 * when it does not exist, so that compiling names the missing directory. */
static json_t *seed_path(const char *path)
{
    char *real = realpath(path, NULL), cwd[PATH_MAX];
    json_t *v;

    if (real == NULL && path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
        real = xmalloc(strlen(cwd) + strlen(path) + 2);
        memcpy(real, cwd, strlen(cwd));
        real[strlen(cwd)] = '/';
        memcpy(real + strlen(cwd) + 1, path, strlen(path) + 1);
    }
    v = json_string(real ? real : path);
    free(real);
    return v;
}

/* The key of URL prefix PREFIX ("/a/b" -> SEED_ROOT "/a/b"), creating the
 * keys between the root and it without a path. Caller frees. */
static char *seed_vdir_key(struct seed *sd, const char *prefix)
{
    char *key = xmalloc(sizeof(SEED_ROOT) + strlen(prefix) + 1);
    size_t len = sizeof(SEED_ROOT) - 1, n;

    memcpy(key, SEED_ROOT, len + 1);
    for (const char *p = prefix; *p != '\0'; p += n) {
        p += strspn(p, "/");
        n = strcspn(p, "/");
        if (n == 0)
            break;
        key[len++] = '/';
        memcpy(key + len, p, n);
        key[len += n] = '\0';
        seed_key(sd, key);
    }
    return key;
}

static void seed_vdir(struct seed *sd, const struct config_vdir *v)
{
    char *key = seed_vdir_key(sd, v->prefix ? v->prefix : "");

    json_object_set_new(seed_key(sd, key), "path", seed_path(v->path ? v->path : ""));
    seed_set(sd, key, "access_read", json_boolean(v->read));
    seed_set(sd, key, "symlinks", v->symlinks ? json_string(v->symlinks) : NULL);
    seed_set(sd, key, "directory_browsing", json_boolean(v->browse));
    free(key);
}

static size_t prefix_depth(const char *prefix)
{
    size_t n = 0;

    for (const char *p = prefix ? prefix : ""; *p != '\0'; p++)
        n += *p != '/' && (p == prefix || p[-1] == '/');
    return n;
}

static int vdir_depth_cmp(const void *a, const void *b)
{
    const struct config_vdir *const *x = a, *const *y = b;
    size_t dx = prefix_depth((*x)->prefix), dy = prefix_depth((*y)->prefix);

    if (dx != dy)
        return dx < dy ? -1 : 1;
    return (*x > *y) - (*x < *y); /* keep command-line order */
}

/* Parents first, so that a directory sees the settings of the ones above it. */
static void seed_vdirs(struct seed *sd, const struct config_flags *f)
{
    const struct config_vdir **order = xcalloc(f->nvdirs ? f->nvdirs : 1, sizeof(*order));

    for (size_t i = 0; i < f->nvdirs; i++)
        order[i] = &f->vdirs[i];
    qsort(order, f->nvdirs, sizeof(*order), vdir_depth_cmp);
    for (size_t i = 0; i < f->nvdirs; i++)
        seed_vdir(sd, order[i]);
    free(order);
}

json_t *config_seed_ops(const struct config_flags *f)
{
    struct seed sd = {json_array(), json_object()};
    json_t *site = seed_key(&sd, SEED_SITE);

    if (f->http)
        json_object_set_new(site, "bindings", json_pack("[s]", f->http));
    if (f->header_timeout)
        seed_set(&sd, SEED_SITE, "header_timeout", json_integer(f->header_timeout));
    if (f->keepalive_timeout)
        seed_set(&sd, SEED_SITE, "connection_timeout", json_integer(f->keepalive_timeout));
    seed_set(&sd, SEED_SITE, "log_format", f->log_format ? json_string(f->log_format) : NULL);
    seed_set(&sd, SEED_SITE, "log_period", f->log_period ? json_string(f->log_period) : NULL);
    if (f->log_size)
        seed_set(&sd, SEED_SITE, "log_size", json_integer((json_int_t)f->log_size));
    json_object_set_new(seed_key(&sd, SEED_ROOT), "path", seed_path(f->root ? f->root : ""));
    seed_set(&sd, SEED_ROOT, "directory_browsing", json_boolean(f->browse));
    seed_vdirs(&sd, f);
    json_decref(sd.sets);
    return sd.ops;
}

/* ---- compiling ---- */

struct cc {
    struct mb *mb;
    const struct config_env *env;
    struct mb_error *err;
};

struct name_value {
    const char *name;
    int value;
};

static const struct name_value symlink_names[] = {{"inside", PATH_SYMLINKS_INSIDE},
                                                  {"never", PATH_SYMLINKS_NEVER},
                                                  {"any", PATH_SYMLINKS_ANY},
                                                  {NULL, 0}};
static const struct name_value state_names[] = {{"started", CONFIG_SITE_STARTED},
                                                {"stopped", CONFIG_SITE_STOPPED},
                                                {"paused", CONFIG_SITE_PAUSED},
                                                {NULL, 0}};
static const struct name_value format_names[] = {{"w3c", ALOG_W3C}, {"ncsa", ALOG_NCSA}, {NULL, 0}};
static const struct name_value period_names[] = {{"hourly", ALOG_HOURLY},
                                                 {"daily", ALOG_DAILY},
                                                 {"weekly", ALOG_WEEKLY},
                                                 {"monthly", ALOG_MONTHLY},
                                                 {"size", ALOG_SIZE},
                                                 {"none", ALOG_PERIOD_NONE},
                                                 {NULL, 0}};

struct name_flag {
    const char *name;
    unsigned flag;
};

static const struct name_flag access_props[] = {{"access_read", VDIR_READ},
                                                {"access_write", VDIR_WRITE},
                                                {"access_execute", VDIR_EXECUTE},
                                                {"access_script", VDIR_SCRIPT},
                                                {NULL, 0}};
static const struct name_flag browse_props[] = {
    {"browse_show_date", DIRLIST_DATE},     {"browse_show_time", DIRLIST_TIME},
    {"browse_show_size", DIRLIST_SIZE},     {"browse_show_extension", DIRLIST_EXTENSION},
    {"browse_long_date", DIRLIST_LONGDATE}, {NULL, 0}};

static int64_t int_of(const json_t *eff, const char *name)
{
    return json_integer_value(json_object_get(eff, name));
}

static const char *str_of(const json_t *eff, const char *name)
{
    const char *s = json_string_value(json_object_get(eff, name));

    return s ? s : "";
}

static unsigned flags_of(const json_t *eff, const struct name_flag *t)
{
    unsigned flags = 0;

    for (; t->name; t++)
        if (json_is_true(json_object_get(eff, t->name)))
            flags |= t->flag;
    return flags;
}

static int enum_of(struct cc *c, const json_t *eff, const char *key, const char *name,
                   const struct name_value *t, int *out)
{
    const char *s = str_of(eff, name);

    for (; t->name; t++) {
        if (strcmp(t->name, s) == 0) {
            *out = t->value;
            return 0;
        }
    }
    return mb_fail(c->err, MB_E_APPLY_FAILED, key, name, "%s: %s \"%s\" is not supported", key, name, s);
}

static int compile_machine(struct cc *c, struct gen *g)
{
    json_t *eff = mb_effective(c->mb, "/");

    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, "/", NULL, "the machine key / cannot be read");
    g->cache_bytes = (uint64_t)int_of(eff, "cache_size");
    g->cache_valid_ms = (uint32_t)int_of(eff, "cache_revalidate");
    json_decref(eff);
    return 0;
}

static int site_bindings(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "bindings"), *v;
    size_t i;

    if (json_array_size(list) == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings", "site %s has no bindings: it would listen nowhere",
                    key);
    s->bindings = xcalloc(json_array_size(list), sizeof(*s->bindings));
    json_array_foreach (list, i, v) {
        const char *addr = json_string_value(v), *why = "not a string";
        if (addr == NULL || net_parse_addr(addr, &s->bindings[i], &why) == -1)
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings", "site %s: binding \"%s\" is invalid: %s", key,
                        addr ? addr : "?", why ? why : "bad address");
        s->nbindings++;
    }
    return 0;
}

static int site_settings(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    s->header_timeout_ms = (uint32_t)int_of(eff, "header_timeout") * 1000;
    s->keepalive_timeout_ms = (uint32_t)int_of(eff, "connection_timeout") * 1000;
    s->max_body = (uint64_t)int_of(eff, "max_body");
    s->max_connections = (uint32_t)int_of(eff, "max_connections");
    return enum_of(c, eff, key, "state", state_names, &s->state);
}

static int site_log(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    struct alog_config cfg = {.max_size = (uint64_t)int_of(eff, "log_size"),
                              .nworkers = c->env->nworkers};
    const char *why = NULL;
    int format, period;

    s->alog = NULL;
    if (strcmp(str_of(eff, "log_format"), "none") == 0 || c->env->alog_for == NULL)
        return 0;
    if (enum_of(c, eff, key, "log_format", format_names, &format) == -1 ||
        enum_of(c, eff, key, "log_period", period_names, &period) == -1)
        return -1;
    cfg.format = (enum alog_format)format;
    cfg.period = (enum alog_period)period;
    s->alog = c->env->alog_for(c->env->alog_arg, s->name, &cfg, &why);
    if (s->alog == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "log_format", "site %s: the access log cannot be opened: %s", key,
                    why ? why : "unknown error");
    return 0;
}

/* Default documents and MIME overrides, as the home directory sees them
 * (the generation holds them per site, not per directory). */
static void site_documents(struct site *s, const json_t *eff)
{
    const json_t *docs = json_object_get(eff, "default_documents"), *v;
    const char *ext;
    size_t i;

    s->default_docs = xcalloc(json_array_size(docs) + 1, sizeof(char *));
    json_array_foreach (docs, i, v)
        s->default_docs[s->ndefault_docs++] = xstrdup(json_string_value(v));
    s->mime = mime_new();
    mime_load_file(s->mime, "/etc/mime.types");
    json_object_foreach (json_object_get(eff, "mime_map"), ext, v)
        mime_set(s->mime, ext, json_string_value(v));
}

static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p;

    while (dl > 0 && dir[dl - 1] == '/')
        dl--;
    p = xmalloc(dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

/* Whether the symbolic link PATH, the implicit subdirectory of PARENT, may be
 * followed under POLICY: the vdir opens it directly, so the policy the parent
 * would have applied to it is checked here. */
static bool link_allowed(const char *path, const char *parent, enum path_symlinks policy)
{
    char *target, *base;
    bool ok;

    if (policy == PATH_SYMLINKS_ANY)
        return true;
    if (policy == PATH_SYMLINKS_NEVER)
        return false;
    target = realpath(path, NULL);
    base = realpath(parent, NULL);
    ok = target && base && strncmp(target, base, strlen(base)) == 0 &&
         (target[strlen(base)] == '/' || strcmp(base, "/") == 0);
    free(target);
    free(base);
    return ok;
}

/* Add the directory of KEY at PATH. PARENT is set when PATH is implicit (the
 * key has no path of its own); such a directory that does not exist is left
 * out: the key only carries settings for the keys below it, and its URL
 * space is the parent's anyway. */
static int vdir_add(struct cc *c, struct site *s, const char *key, const char *prefix,
                    const char *path, const char *parent, const json_t *eff)
{
    char why[200];
    struct stat st;
    int symlinks;

    if (enum_of(c, eff, key, "symlinks", symlink_names, &symlinks) == -1)
        return -1;
    if (parent && (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)))
        return 0;
    if (parent && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
        !link_allowed(path, parent, (enum path_symlinks)symlinks))
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "symlinks",
                    "%s: %s is a symbolic link that symlinks \"%s\" does not follow", key, path,
                    str_of(eff, "symlinks"));
    if (gen_site_add_vdir(
            s, prefix, path, flags_of(eff, access_props), (enum path_symlinks)symlinks,
            json_is_true(json_object_get(eff, "directory_browsing")), why, sizeof(why)) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "path", "%s: %s", key, why);
    s->vdirs[s->nvdirs - 1].browse_flags = flags_of(eff, browse_props);
    return 0;
}

static int vdir_tree(struct cc *c, struct site *s, const char *key, const char *prefix,
                     const char *parent_path);

static int vdir_children(struct cc *c, struct site *s, const char *key, const char *prefix,
                         const char *path)
{
    char **names, ckey[KEY_BUF], cprefix[KEY_BUF];
    size_t n;
    int rc = 0;

    if (mb_keys(c->mb, key, &names, &n) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "the subkeys of %s cannot be read", key);
    for (size_t i = 0; i < n && rc == 0; i++) {
        snprintf(ckey, sizeof(ckey), "%s/%s", key, names[i]);
        snprintf(cprefix, sizeof(cprefix), "%s/%s", prefix, names[i]);
        rc = vdir_tree(c, s, ckey, cprefix, path);
    }
    mb_keys_free(names, n);
    return rc;
}

/* KEY and every directory key below it; PARENT_PATH NULL for the site's root. */
static int vdir_tree(struct cc *c, struct site *s, const char *key, const char *prefix,
                     const char *parent_path)
{
    json_t *eff = mb_effective(c->mb, key);
    const char *own, *alias = strrchr(key, '/') + 1;
    char *path;
    int rc;

    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "%s cannot be read", key);
    own = json_string_value(json_object_get(eff, "path"));
    if (own == NULL && parent_path == NULL) {
        json_decref(eff);
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "path", "%s has no path: a site's home directory needs one", key);
    }
    path = own ? xstrdup(own) : path_join(parent_path, alias);
    rc = vdir_add(c, s, key, prefix, path, own ? NULL : parent_path, eff);
    json_decref(eff);
    if (rc == 0)
        rc = vdir_children(c, s, key, prefix, path);
    free(path);
    return rc;
}

static int site_root(struct cc *c, struct site *s, const char *key)
{
    char root[KEY_BUF + sizeof("/root")];
    json_t *eff;

    snprintf(root, sizeof(root), "%s/root", key);
    eff = mb_effective(c->mb, root);
    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "site %s has no home directory: create %s with a path", key,
                    root);
    site_documents(s, eff);
    json_decref(eff);
    if (vdir_tree(c, s, root, "", NULL) == -1)
        return -1;
    gen_site_finish(s);
    return 0;
}

static int compile_site(struct cc *c, struct site *s, const char *name)
{
    char key[KEY_BUF];
    json_t *eff;
    int rc = -1;

    snprintf(key, sizeof(key), "%s/%s", SITES_KEY, name);
    s->name = xstrdup(name);
    s->stats_slot = stats_slot("www", name);
    eff = mb_effective(c->mb, key);
    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "site %s cannot be read", key);
    /* The log last: a site that cannot be served opens none. */
    if (site_bindings(c, s, key, eff) == 0 && site_settings(c, s, key, eff) == 0 &&
        site_root(c, s, key) == 0 && site_log(c, s, key, eff) == 0)
        rc = 0;
    json_decref(eff);
    return rc;
}

static int compile_sites(struct cc *c, struct gen *g)
{
    char **names;
    size_t n;
    int rc = 0;

    if (mb_keys(c->mb, SITES_KEY, &names, &n) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, SITES_KEY, NULL, "the sites under %s cannot be read", SITES_KEY);
    g->sites = xcalloc(n ? n : 1, sizeof(*g->sites));
    g->nsites = n;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = compile_site(c, &g->sites[i], names[i]);
    mb_keys_free(names, n);
    return rc;
}

/* Port 0 asks for a fresh port each time, so only fixed ports can clash. */
static bool same_binding(const struct net_addr *a, const struct net_addr *b)
{
    char x[80], y[80];

    if (net_port((const struct sockaddr *)&a->ss) == 0)
        return false;
    net_addr_str((const struct sockaddr *)&a->ss, x, sizeof(x));
    net_addr_str((const struct sockaddr *)&b->ss, y, sizeof(y));
    return strcmp(x, y) == 0;
}

/* Is binding A of site S also a binding of an earlier site, or listed earlier in S? */
static int binding_clash(struct cc *c, const struct gen *g, size_t s, size_t a)
{
    const struct net_addr *addr = &g->sites[s].bindings[a];
    char key[KEY_BUF], text[80];

    for (size_t t = 0; t <= s; t++) {
        size_t end = t == s ? a : g->sites[t].nbindings;
        for (size_t b = 0; b < end; b++) {
            if (!same_binding(addr, &g->sites[t].bindings[b]))
                continue;
            snprintf(key, sizeof(key), "%s/%s", SITES_KEY, g->sites[s].name);
            net_addr_str((const struct sockaddr *)&addr->ss, text, sizeof(text));
            if (t == s)
                return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings", "site %s lists binding %s twice", key, text);
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings", "sites %s/%s and %s both bind %s", SITES_KEY,
                        g->sites[t].name, key, text);
        }
    }
    return 0;
}

static int check_bindings(struct cc *c, const struct gen *g)
{
    for (size_t s = 0; s < g->nsites; s++)
        for (size_t a = 0; a < g->sites[s].nbindings; a++)
            if (binding_clash(c, g, s, a) == -1)
                return -1;
    return 0;
}

struct gen *config_compile(struct mb *mb, const struct config_env *env, struct mb_error *err)
{
    struct mb_error local;
    struct cc c = {.mb = mb, .env = env, .err = err ? err : &local};
    struct gen *g = gen_new();

    memset(c.err, 0, sizeof(*c.err));
    g->nworkers = env->nworkers;
    if (compile_machine(&c, g) == -1 || compile_sites(&c, g) == -1 || check_bindings(&c, g) == -1) {
        gen_unref(g);
        return NULL;
    }
    return g;
}
