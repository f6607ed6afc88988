/*
 * commands_sites: sites and virtual directories, as metabase keys
 * /SERVICE/sites/NAME and /SERVICE/sites/NAME/root[/ALIAS...], each change
 * one commit.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"

#define MAX_VDIRS 1000
#define MAX_DEPTH 32

static const char *service(struct cli_run *r)
{
    const char *s = cli_opt(r->args, "service");
    return s != NULL ? s : "www";
}

static int plain_name(struct cli_run *r, const char *what, const char *s)
{
    if (*s == '\0' || strchr(s, '/') != NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return cli_usage(r, "invalid %s '%s'", what, s);
    return 0;
}

static char *site_key(struct cli_run *r, const char *site)
{
    size_t n = strlen(service(r)) + strlen(site) + 16;
    char *k = xmalloc(n);

    snprintf(k, n, "/%s/sites/%s", service(r), site);
    return k;
}

/* DIR as the server should see it: relative paths only make sense on this machine. */
static char *server_dir(struct cli_run *r, const char *dir)
{
    char cwd[PATH_MAX], *abs;
    size_t n;

    if (dir[0] == '/')
        return xstrdup(dir);
    if (cli_url_is_https(r->conn->srv.url)) {
        cli_usage(r, "DIR must be an absolute path on a remote server, not '%s'", dir);
        return NULL;
    }
    abs = realpath(dir, NULL);
    if (abs != NULL)
        return abs;
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        cli_usage(r, "cannot make '%s' absolute", dir);
        return NULL;
    }
    while (strncmp(dir, "./", 2) == 0)
        dir += 2 + strspn(dir + 2, "/");
    n = strlen(cwd) + strlen(dir) + 2;
    abs = xmalloc(n);
    snprintf(abs, n, "%s%s%s", cwd, *dir != '\0' && strcmp(dir, ".") != 0 ? "/" : "",
             strcmp(dir, ".") != 0 ? dir : "");
    return abs;
}

static json_t *op(const char *kind, const char *key, json_t *set)
{
    json_t *o = json_pack("{s:s,s:s}", "op", kind, "key", key);

    if (set != NULL)
        json_object_set_new(o, "set", set);
    return o;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* --certificate and --key, made absolute like --path, into SET; -1 on a usage error. */
static int site_tls_opts(struct cli_run *r, json_t *set)
{
    const char *cert = cli_opt(r->args, "certificate"), *key = cli_opt(r->args, "key");
    char *c, *k;

    if ((cert == NULL) != (key == NULL))
        return cli_usage(r, "--certificate and --key go together");
    if (cert == NULL)
        return 0;
    if ((c = server_dir(r, cert)) == NULL)
        return -1;
    if ((k = server_dir(r, key)) == NULL) {
        free(c);
        return -1;
    }
    json_object_set_new(set, "tls_certificate_file", json_string(c));
    json_object_set_new(set, "tls_key_file", json_string(k));
    free(c);
    free(k);
    return 0;
}

int cli_cmd_site_add(struct cli_run *r)
{
    const char *name = r->args->pos[0], *path = cli_opt(r->args, "path"), *b[64], *h[64];
    size_t nb = cli_opt_all(r->args, "binding", b, 64);
    size_t nh = cli_opt_all(r->args, "host", h, 64);
    json_t *set, *ops;
    char *key, *root, *dir, what[300];
    int rc;

    if (plain_name(r, "site name", name) < 0)
        return -1;
    if (nb == 0 || path == NULL)
        return cli_usage(r, "a site needs --binding and --path");
    set = json_pack("{s:o}", "bindings", str_array(b, nb));
    if (nh > 0)
        json_object_set_new(set, "host_names", str_array(h, nh));
    if (site_tls_opts(r, set) == -1 || (dir = server_dir(r, path)) == NULL) {
        json_decref(set);
        return -1;
    }
    key = site_key(r, name);
    root = xmalloc(strlen(key) + 8);
    snprintf(root, strlen(key) + 8, "%s/root", key);
    ops = json_pack("[o,o]", op("create", key, set), op("create", root, json_pack("{s:s}", "path", dir)));
    snprintf(what, sizeof(what), "site %s added to %s", name, service(r));
    rc = cli_commit(r, ops, what);
    free(key);
    free(root);
    free(dir);
    return rc;
}

int cli_cmd_site_remove(struct cli_run *r)
{
    const char *name = r->args->pos[0];
    char *key, what[300];
    json_t *o;
    int rc;

    if (plain_name(r, "site name", name) < 0)
        return -1;
    key = site_key(r, name);
    o = op("delete", key, NULL);
    json_object_set_new(o, "recursive", json_true());
    snprintf(what, sizeof(what), "site %s removed from %s", name, service(r));
    rc = cli_commit(r, json_pack("[o]", o), what);
    free(key);
    return rc;
}

static int fetch_key(struct cli_run *r, const char *key, json_t **out)
{
    struct buf url = {0};
    int rc;

    cli_key_path(&url, "/api/v1/config", key);
    rc = cli_fetch(r, cli_buf_str(&url), out);
    buf_free(&url);
    return rc;
}

/* {"name", "state", "bindings", "path"} of site NAME, appended to ROWS. */
static int site_row(struct cli_run *r, json_t *rows, const char *name)
{
    char *key = site_key(r, name), *root = xmalloc(strlen(key) + 8);
    json_t *site = NULL, *home = NULL;
    int rc;

    snprintf(root, strlen(key) + 8, "%s/root", key);
    rc = fetch_key(r, key, &site);
    /* A site without a root is broken, but it is still listed. */
    if (rc == 0 && fetch_key(r, root, &home) < 0)
        cli_err_clear(&r->err);
    if (rc == 0)
        json_array_append_new(rows, json_pack("{s:s,s:O?,s:O?,s:O?}", "name", name, "state",
                                              cli_prop_value(site, "state"), "bindings",
                                              cli_prop_value(site, "bindings"), "path",
                                              cli_prop_value(home, "path")));
    json_decref(site);
    json_decref(home);
    free(key);
    free(root);
    return rc;
}

/* Rows of objects as a table with the columns FIELDS headed HEADS. */
static struct out_table *rows_table(const json_t *rows, const char *const *fields,
                                    const char *const *heads, size_t n)
{
    struct out_table *t = out_table_new(n, heads);
    const json_t *row, *vals[OUT_MAX_COLS];
    size_t i;

    json_array_foreach (rows, i, row) {
        for (size_t c = 0; c < n; c++)
            vals[c] = json_object_get(row, fields[c]);
        out_table_add_json(t, vals);
    }
    return t;
}

int cli_cmd_site_list(struct cli_run *r)
{
    static const char *const fields[] = {"name", "state", "bindings", "path"};
    static const char *const heads[] = {"NAME", "STATE", "BINDINGS", "PATH"};
    json_t *sites, *rows = json_array();
    const json_t *c;
    char *key = site_key(r, "");
    size_t i;
    int rc = 0;

    key[strlen(key) - 1] = '\0'; /* "/www/sites" */
    rc = fetch_key(r, key, &sites);
    free(key);
    json_array_foreach (rc == 0 ? json_object_get(sites, "children") : NULL, i, c) {
        if (json_is_string(c) && (rc = site_row(r, rows, json_string_value(c))) < 0)
            break;
    }
    if (rc == 0 && r->g->json)
        cli_emit_json(r, json_pack("{s:O}", "sites", rows));
    else if (rc == 0)
        cli_emit_table(r, rows_table(rows, fields, heads, 4));
    json_decref(rows);
    json_decref(sites);
    return rc;
}

/* "/a//b/" → "/a/b"; NULL with a usage error for "/" or a missing leading "/". */
static char *alias_arg(struct cli_run *r, const char *alias)
{
    char *norm;

    if (alias[0] != '/')
        cli_usage(r, "ALIAS must start with '/', not '%s'", alias);
    else if (cli_key_norm(alias, &norm, &r->err) < 0)
        return NULL;
    else if (strcmp(norm, "/") == 0) {
        free(norm);
        cli_usage(r, "'/' is the site's home directory: set its path with 'infoadm set'");
    } else
        return norm;
    return NULL;
}

static char *vdir_key(struct cli_run *r, const char *site, const char *alias)
{
    char *sk = site_key(r, site);
    size_t n = strlen(sk) + strlen(alias) + 8;
    char *k = xmalloc(n);

    snprintf(k, n, "%s/root%s", sk, alias);
    free(sk);
    return k;
}

/* Nested aliases need their parent: say so plainly rather than relay a key error. */
static int check_parent(struct cli_run *r, const char *site, const char *alias)
{
    char *parent = xstrdup(alias), *key;
    json_t *doc;
    int rc = 0;

    *strrchr(parent, '/') = '\0';
    if (parent[0] != '\0') {
        key = vdir_key(r, site, parent);
        rc = fetch_key(r, key, &doc);
        if (rc < 0 && strcmp(r->err.code, "no_such_key") == 0)
            cli_fail(r, CLI_EXIT_API, "no_such_key",
                     "site %s has no virtual directory %s: add it before %s", site, parent, alias);
        if (rc == 0)
            json_decref(doc);
        free(key);
    }
    free(parent);
    return rc;
}

static json_t *vdir_props(struct cli_run *r, const char *dir)
{
    json_t *set = json_pack("{s:s}", "path", dir);

    if (cli_flag(r->args, "browse"))
        json_object_set_new(set, "directory_browsing", json_true());
    if (cli_flag(r->args, "no-read"))
        json_object_set_new(set, "access_read", json_false());
    if (cli_flag(r->args, "write"))
        json_object_set_new(set, "access_write", json_true());
    return set;
}

int cli_cmd_vdir_add(struct cli_run *r)
{
    const char *site = r->args->pos[0];
    char *alias = NULL, *dir = NULL, *key = NULL, what[600];
    int rc = -1;

    if (plain_name(r, "site name", site) < 0 || (alias = alias_arg(r, r->args->pos[1])) == NULL)
        return -1;
    if ((dir = server_dir(r, r->args->pos[2])) == NULL || check_parent(r, site, alias) < 0)
        goto done;
    key = vdir_key(r, site, alias);
    snprintf(what, sizeof(what), "virtual directory %s added to site %s", alias, site);
    rc = cli_commit(r, json_pack("[o]", op("create", key, vdir_props(r, dir))), what);
done:
    free(alias);
    free(dir);
    free(key);
    return rc;
}

int cli_cmd_vdir_remove(struct cli_run *r)
{
    const char *site = r->args->pos[0];
    char *alias, *key, what[600];
    json_t *o;
    int rc;

    if (plain_name(r, "site name", site) < 0 || (alias = alias_arg(r, r->args->pos[1])) == NULL)
        return -1;
    key = vdir_key(r, site, alias);
    o = op("delete", key, NULL);
    if (cli_flag(r->args, "recursive"))
        json_object_set_new(o, "recursive", json_true());
    snprintf(what, sizeof(what), "virtual directory %s removed from site %s", alias, site);
    rc = cli_commit(r, json_pack("[o]", o), what);
    free(alias);
    free(key);
    return rc;
}

struct vdir_walk {
    struct cli_run *r;
    json_t *rows;
    const char *site;
    size_t count;
};

static json_t *vdir_row(const char *alias, const json_t *doc)
{
    const json_t *path = cli_prop_value(doc, "path");

    return json_pack("{s:s,s:O?,s:O?,s:O?}", "alias", alias, "path", path, "access_read",
                     cli_prop_value(doc, "access_read"), "directory_browsing",
                     cli_prop_value(doc, "directory_browsing"));
}

static int vdir_rows(struct vdir_walk *w, const char *alias, int depth)
{
    char *key = vdir_key(w->r, w->site, strcmp(alias, "/") == 0 ? "" : alias);
    json_t *doc;
    const json_t *c;
    size_t i;
    int rc = ++w->count > MAX_VDIRS || depth > MAX_DEPTH
                 ? cli_fail(w->r, CLI_EXIT_API, "too_large",
                            "site %s has too many virtual directories to list", w->site)
                 : fetch_key(w->r, key, &doc);

    free(key);
    if (rc < 0)
        return -1;
    json_array_append_new(w->rows, vdir_row(alias, doc));
    json_array_foreach (json_object_get(doc, "children"), i, c) {
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", strcmp(alias, "/") == 0 ? "" : alias,
                 json_string_value(c) != NULL ? json_string_value(c) : "?");
        if ((rc = vdir_rows(w, child, depth + 1)) < 0)
            break;
    }
    json_decref(doc);
    return rc;
}

int cli_cmd_vdir_list(struct cli_run *r)
{
    static const char *const fields[] = {"alias", "path", "access_read", "directory_browsing"};
    static const char *const heads[] = {"ALIAS", "PATH", "READ", "BROWSE"};
    struct vdir_walk w = {.r = r, .site = r->args->pos[0]};
    int rc;

    if (plain_name(r, "site name", w.site) < 0)
        return -1;
    w.rows = json_array();
    rc = vdir_rows(&w, "/", 0);
    if (rc == 0 && r->g->json)
        cli_emit_json(r, json_pack("{s:O}", "vdirs", w.rows));
    else if (rc == 0)
        cli_emit_table(r, rows_table(w.rows, fields, heads, 4));
    json_decref(w.rows);
    return rc;
}
