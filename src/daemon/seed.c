/* seed: the first revision of an empty metabase, from the command line. */
#include "daemon/seed.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "metabase/props.h"

#define SITES_KEY "/www/sites"
#define SEED_SITE SITES_KEY "/default"
#define SEED_ROOT SEED_SITE "/root"

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

#define GOPHER_SITE "/gopher/sites/default"
#define GOPHER_ROOT GOPHER_SITE "/root"

static void seed_logs(struct seed *sd, const char *site, const struct config_flags *f)
{
    seed_set(sd, site, "log_format", f->log_format ? json_string(f->log_format) : NULL);
    seed_set(sd, site, "log_period", f->log_period ? json_string(f->log_period) : NULL);
    if (f->log_size)
        seed_set(sd, site, "log_size", json_integer((json_int_t)f->log_size));
}

static void seed_gopher(struct seed *sd, const struct config_flags *f)
{
    json_t *site = seed_key(sd, GOPHER_SITE);

    json_object_set_new(site, "bindings", json_pack("[s]", f->gopher));
    seed_logs(sd, GOPHER_SITE, f);
    json_object_set_new(seed_key(sd, GOPHER_ROOT), "path",
                        seed_path(f->gopher_root ? f->gopher_root : ""));
}

#define FTP_SITE "/ftp/sites/default"
#define FTP_ROOT FTP_SITE "/root"

static void seed_ftp(struct seed *sd, const struct config_flags *f)
{
    json_t *site = seed_key(sd, FTP_SITE);

    json_object_set_new(site, "bindings", json_pack("[s]", f->ftp));
    seed_logs(sd, FTP_SITE, f);
    json_object_set_new(seed_key(sd, FTP_ROOT), "path", seed_path(f->ftp_root ? f->ftp_root : ""));
}

static void seed_www(struct seed *sd, const struct config_flags *f)
{
    json_t *site = seed_key(sd, SEED_SITE);

    if (f->http || f->https) {
        json_t *b = json_array();
        char tls[96];
        if (f->http)
            json_array_append_new(b, json_string(f->http));
        if (f->https) {
            snprintf(tls, sizeof(tls), "https://%s", f->https);
            json_array_append_new(b, json_string(tls));
        }
        json_object_set_new(site, "bindings", b);
    }
    if (f->header_timeout)
        seed_set(sd, SEED_SITE, "header_timeout", json_integer(f->header_timeout));
    if (f->keepalive_timeout)
        seed_set(sd, SEED_SITE, "connection_timeout", json_integer(f->keepalive_timeout));
    seed_logs(sd, SEED_SITE, f);
    json_object_set_new(seed_key(sd, SEED_ROOT), "path", seed_path(f->root ? f->root : ""));
    seed_set(sd, SEED_ROOT, "directory_browsing", json_boolean(f->browse));
    seed_vdirs(sd, f);
}

json_t *config_seed_ops(const struct config_flags *f)
{
    struct seed sd = {json_array(), json_object()};

    if (f->www)
        seed_www(&sd, f);
    if (f->gopher)
        seed_gopher(&sd, f);
    if (f->ftp)
        seed_ftp(&sd, f);
    json_decref(sd.sets);
    return sd.ops;
}

