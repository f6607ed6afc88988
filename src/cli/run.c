/*
 * run: infoadm's runner — resolves the server (or every server under --all),
 * checks the command's capability, runs it, and prints what the command
 * handed over: tables (merged with a SERVER column under --all), JSON, and
 * on failure the one "infoadm: REASON" line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "cli/pin.h"
#include "core/alloc.h"
#include "version.h"

/* ---- what commands call ---- */

int cli_emit_json(struct cli_run *r, json_t *v)
{
    json_decref(r->result);
    r->result = v;
    return 0;
}

/* Under --json the answer is the command's result; otherwise the caller renders it. */
static int cli_view(struct cli_run *r, int rc, json_t **out)
{
    if (rc < 0)
        return -1;
    if (r->g->json) {
        cli_emit_json(r, *out);
        return 1;
    }
    return 0;
}

int cli_fetch_view(struct cli_run *r, struct buf *url, json_t **out)
{
    int rc = cli_fetch(r, cli_buf_str(url), out);

    buf_free(url);
    return cli_view(r, rc, out);
}

int cli_send_view(struct cli_run *r, const char *method, struct buf *url, json_t **out)
{
    int rc = cli_send(r, method, cli_buf_str(url), NULL, NULL, out);

    buf_free(url);
    return cli_view(r, rc, out);
}

void cli_emit_table(struct cli_run *r, struct out_table *t)
{
    if (r->aggregate) {
        if (r->ntables < CLI_MAX_TABLES)
            r->tables[r->ntables++] = t;
        else
            out_table_free(t);
        return;
    }
    if (r->ntables++ > 0)
        fputc('\n', r->out);
    out_table_print(t, r->out);
    out_table_free(t);
}

int cli_usage(struct cli_run *r, const char *fmt, ...)
{
    char name[64], reason[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cli_cmd_name(r->cmd, name, sizeof(name));
    cli_err_set(&r->err, CLI_EXIT_USAGE, "usage", "%s: %s (usage: infoadm %s%s%s)", name, reason,
                name, r->cmd->args[0] ? " " : "", r->cmd->args);
    return -1;
}

int cli_fail(struct cli_run *r, int exit, const char *code, const char *fmt, ...)
{
    char msg[sizeof(r->err.msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_err_set(&r->err, exit, code, "%s", msg);
    return -1;
}

int cli_need(struct cli_run *r, const char *cap, const char *what)
{
    char name[64];

    return cli_need_cap(r->conn, cap,
                        what != NULL ? what : cli_cmd_name(r->cmd, name, sizeof(name)), &r->err);
}

int cli_fetch(struct cli_run *r, const char *path, json_t **out)
{
    return cli_get(r->conn, path, out, &r->err);
}

int cli_send(struct cli_run *r, const char *method, const char *path, json_t *body,
             const char *if_match, json_t **out)
{
    struct cli_req req = {.method = method, .path = path, .body = body, .if_match = if_match};
    int rc = cli_call(r->conn, &req, out, &r->err);

    json_decref(body);
    return rc;
}

int cli_number(struct cli_run *r, const char *what, const char *s, long long min, long long max,
               long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    if (max == CLI_NUM_MAX)
        return cli_usage(r, "%s must be a whole number of at least %lld, not '%s'", what, min, s);
    return cli_usage(r, "%s must be a whole number from %lld to %lld, not '%s'", what, min, max, s);
}

int cli_key_arg(struct cli_run *r, const char *arg, char **key)
{
    return cli_key_norm(arg, key, &r->err);
}

void cli_add_comment(struct cli_run *r, json_t *body)
{
    const char *c = cli_opt(r->args, "comment");

    if (c != NULL)
        json_object_set_new(body, "comment", json_string(c));
}

int cli_report_revision(struct cli_run *r, json_t *resp, const char *what)
{
    const json_t *rev = json_object_get(resp, "revision");
    char *cell = out_cell(rev);

    if (r->g->json) {
        free(cell);
        return cli_emit_json(r, resp);
    }
    const json_t *farm = json_object_get(resp, "farm_revision");
    if (json_is_false(json_object_get(resp, "changed")))
        fprintf(r->out, "nothing changed: the server already had that (revision %s)\n", cell);
    else if (json_is_integer(farm)) /* a farm member: its own revision, then the farm's */
        fprintf(r->out, "%s (revision %s, farm revision %lld)\n", what, cell,
                (long long)json_integer_value(farm));
    else
        fprintf(r->out, "%s (revision %s)\n", what, cell);
    free(cell);
    json_decref(resp);
    return 0;
}

int cli_commit(struct cli_run *r, json_t *ops, const char *what)
{
    json_t *body = json_pack("{s:o}", "ops", ops), *resp;

    cli_add_comment(r, body);
    if (cli_send(r, "POST", "/api/v1/commits", body, NULL, &resp) < 0)
        return -1;
    return cli_report_revision(r, resp, what);
}

const json_t *cli_prop_value(const json_t *key, const char *name)
{
    const json_t *p = json_object_get(json_object_get(key, "properties"), name);

    return json_is_object(p) ? json_object_get(p, "value") : p;
}

/* ---- resolving the server ---- */

static char *maybe_dup(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static int load_inv(struct inv *inv, bool *loaded, struct cli_err *err)
{
    char *path;
    int rc;

    if (*loaded)
        return 0;
    path = inv_default_path(err);
    if (path == NULL)
        return -1;
    rc = inv_load(inv, path, err);
    free(path);
    *loaded = rc == 0;
    if (rc < 0)
        inv_free(inv);
    return rc;
}

static void replace_str(char **dst, const char *src)
{
    free(*dst);
    *dst = xstrdup(src);
}

/* A server without a token of its own uses $INFOADM_TOKEN. */
static void env_token(struct cli_server *s)
{
    const char *t = getenv("INFOADM_TOKEN");

    if (s->token == NULL && t != NULL && *t != '\0')
        s->token = xstrdup(t);
}

/* Command-line --token, --token-file, --pin and --cacert override the inventory. */
static int apply_overrides(const struct cli_globals *g, struct cli_server *s, struct cli_err *err)
{
    char *tok = NULL;

    if (g->token != NULL)
        replace_str(&s->token, g->token);
    else if (g->token_file != NULL) {
        if (cli_token_from_file(g->token_file, &tok, err) < 0)
            return -1;
        free(s->token);
        s->token = tok;
    }
    env_token(s);
    if (g->pin != NULL) {
        if (!pin_valid(g->pin)) {
            cli_err_set(err, CLI_EXIT_USAGE, "usage",
                        "--pin expects sha256// and 44 base64 characters, not '%s'", g->pin);
            return -1;
        }
        replace_str(&s->pin, g->pin);
    }
    if (g->cacert != NULL)
        replace_str(&s->cacert, g->cacert);
    return 0;
}

static int from_entry(const struct inv_server *e, struct cli_server *out, struct cli_err *err)
{
    if (cli_url_norm(e->url, &out->url, err) < 0)
        return -1;
    out->name = xstrdup(e->name);
    out->token = maybe_dup(e->token);
    out->pin = maybe_dup(e->pin);
    out->cacert = maybe_dup(e->cacert);
    out->in_inventory = true;
    return 0;
}

static int resolve_url(const char *s, struct inv *inv, bool *loaded, struct cli_server *out,
                       struct cli_err *err)
{
    struct inv_server e;

    if (cli_url_norm(s, &out->url, err) < 0)
        return -1;
    /* An HTTPS URL the inventory knows uses that entry's token and pin. */
    if (cli_url_is_https(out->url) && load_inv(inv, loaded, err) == 0 &&
        inv_find_url(inv, out->url, &e) == 0) {
        free(out->url);
        out->url = NULL;
        return from_entry(&e, out, err);
    }
    cli_err_clear(err);
    out->name = xstrdup(out->url);
    return 0;
}

static int resolve(const struct cli_globals *g, struct inv *inv, bool *loaded,
                   struct cli_server *out, struct cli_err *err)
{
    const char *s = g->server != NULL ? g->server : CLI_DEFAULT_SERVER;
    struct inv_server e;
    int rc;

    if (strchr(s, ':') != NULL || strchr(s, '/') != NULL)
        rc = resolve_url(s, inv, loaded, out, err);
    else if (load_inv(inv, loaded, err) < 0)
        rc = -1;
    else if (inv_find(inv, s, &e) < 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "no_such_server",
                    "no server '%s' in the inventory %s (add it with 'infoadm server add %s URL')",
                    s, inv->path, s);
        rc = -1;
    } else
        rc = from_entry(&e, out, err);
    return rc < 0 ? -1 : apply_overrides(g, out, err);
}

/* ---- running ---- */

/* The service a command names, in --service, as the first argument of the
 * service commands (start gopher), or as the first part of a key path
 * (/gopher/sites/default); NAME is left empty when it names none. */
static void named_service(const struct cli_run *r, char *name, size_t cap)
{
    const char *s = cli_opt(r->args, "service"), *first = r->args->npos ? r->args->pos[0] : "";
    size_t n;

    if (s == NULL && strcmp(r->cmd->cap ? r->cmd->cap : "", "services") == 0)
        s = first;
    else if (s == NULL && first[0] == '/')
        s = first + 1;
    n = s ? strcspn(s, "/") : 0;
    snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), s ? s : "");
}

/* Servers before 0.3.0 have the WWW service only: a command naming another
 * is refused in one line instead of failing on an unknown key. */
static int need_service(struct cli_run *r)
{
    char svc[32], cap[48], what[64];

    named_service(r, svc, sizeof(svc));
    if (svc[0] == '\0' || strcmp(svc, "www") == 0 ||
        (strcmp(svc, "gopher") != 0 && strcmp(svc, "ftp") != 0))
        return 0;
    snprintf(cap, sizeof(cap), "services.%s", svc);
    snprintf(what, sizeof(what), "the %s service", svc);
    return cli_need(r, cap, what);
}

static int run_on(struct cli_run *r)
{
    if (r->cmd->cap != NULL && cli_need(r, r->cmd->cap, NULL) < 0)
        return -1;
    if (r->cmd->cap != NULL && need_service(r) < 0)
        return -1;
    return r->cmd->fn(r);
}

static void run_init(struct cli_run *r, const struct cli_cmd *cmd, const struct cli_globals *g,
                     const struct cli_args *a)
{
    memset(r, 0, sizeof(*r));
    r->cmd = cmd;
    r->g = g;
    r->args = a;
    r->out = stdout;
}

static void run_release(struct cli_run *r)
{
    for (size_t i = 0; i < r->ntables && r->aggregate; i++)
        out_table_free(r->tables[i]);
    json_decref(r->result);
    r->result = NULL;
}

static int finish(struct cli_run *r, int rc)
{
    int status = 0;

    fflush(stdout);
    if (rc < 0) {
        cli_err_print(stderr, &r->err, NULL);
        status = r->err.exit != 0 ? r->err.exit : CLI_EXIT_API;
    } else if (r->g->json && r->result != NULL) {
        out_json(stdout, r->result);
    }
    run_release(r);
    return status;
}

static int run_local(const struct cli_cmd *cmd, const struct cli_globals *g,
                     const struct cli_args *a)
{
    struct cli_run r;
    struct inv inv = {0};
    bool loaded = false;
    int rc = 0;

    run_init(&r, cmd, g, a);
    if (g->all)
        rc = cli_usage(&r, "--all does not apply here");
    else if ((cmd->flags & CMD_INV) && load_inv(&inv, &loaded, &r.err) < 0)
        rc = -1;
    r.inv = loaded ? &inv : NULL;
    if (rc == 0)
        rc = cmd->fn(&r);
    rc = finish(&r, rc);
    if (loaded)
        inv_free(&inv);
    return rc;
}

static int run_single(const struct cli_cmd *cmd, const struct cli_globals *g,
                      const struct cli_args *a)
{
    struct cli_run r;
    struct cli_server srv = {0};
    struct cli_conn conn = {0};
    struct inv inv = {0};
    bool loaded = false;
    int rc;

    run_init(&r, cmd, g, a);
    rc = resolve(g, &inv, &loaded, &srv, &r.err);
    if (rc == 0) {
        cli_conn_init(&conn, &srv, loaded ? &inv : NULL);
        r.conn = &conn;
        r.inv = loaded ? &inv : NULL;
        rc = run_on(&r);
    }
    rc = finish(&r, rc);
    cli_server_free(&srv);
    cli_conn_free(&conn);
    if (loaded)
        inv_free(&inv);
    return rc;
}

struct all_output {
    json_t *json; /* --json: results keyed by server */
    struct out_table *tables[CLI_MAX_TABLES];
    int status;
};

static void collect(struct all_output *o, struct cli_run *r, const char *name, int rc)
{
    if (rc < 0) {
        cli_err_print(stderr, &r->err, name);
        if (o->status == 0)
            o->status = r->err.exit != 0 ? r->err.exit : CLI_EXIT_API;
    }
    if (o->json != NULL)
        json_object_set_new(o->json, name,
                            rc < 0 ? cli_err_json(&r->err)
                                   : (r->result != NULL ? json_incref(r->result) : json_object()));
    for (size_t k = 0; k < r->ntables && r->aggregate; k++) {
        if (o->tables[k] == NULL)
            o->tables[k] = out_table_new_prefixed(r->tables[k], "SERVER");
        out_table_merge(o->tables[k], r->tables[k], name);
    }
}

static void run_one_of_all(const struct cli_cmd *cmd, const struct cli_globals *g,
                           const struct cli_args *a, struct inv *inv, const char *name,
                           size_t index, struct all_output *o)
{
    struct cli_run r;
    struct cli_server srv = {0};
    struct cli_conn conn = {0};
    struct inv_server e;
    int rc;

    run_init(&r, cmd, g, a);
    r.index = index;
    r.inv = inv;
    r.aggregate = (cmd->flags & CMD_TABLE) && !g->json;
    inv_find(inv, name, &e);
    if (!r.aggregate && !g->json)
        printf("%s== %s (%s)\n", index > 0 ? "\n" : "", name, e.url);
    rc = from_entry(&e, &srv, &r.err);
    if (rc == 0 && g->cacert != NULL)
        replace_str(&srv.cacert, g->cacert);
    if (rc == 0)
        env_token(&srv);
    if (rc == 0) {
        cli_conn_init(&conn, &srv, inv);
        r.conn = &conn;
        rc = run_on(&r);
    }
    fflush(stdout);
    collect(o, &r, name, rc);
    run_release(&r);
    cli_server_free(&srv);
    cli_conn_free(&conn);
}

static void print_all(struct all_output *o)
{
    bool first = true;

    if (o->json != NULL)
        out_json(stdout, o->json);
    for (size_t k = 0; k < CLI_MAX_TABLES; k++) {
        if (o->tables[k] == NULL)
            continue;
        if (!first)
            fputc('\n', stdout);
        first = false;
        out_table_print(o->tables[k], stdout);
        out_table_free(o->tables[k]);
    }
    json_decref(o->json);
}

static int all_usage(const struct cli_globals *g, struct cli_err *err)
{
    if (g->server != NULL)
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "--all and -s exclude each other");
    else if (g->token != NULL || g->token_file != NULL || g->pin != NULL)
        cli_err_set(err, CLI_EXIT_USAGE, "usage",
                    "--token, --token-file and --pin do not combine with --all (each server "
                    "uses its inventory entry)");
    else
        return 0;
    return -1;
}

static int run_all(const struct cli_cmd *cmd, const struct cli_globals *g, const struct cli_args *a)
{
    struct all_output o = {0};
    struct inv inv = {0};
    struct cli_err err = {0};
    bool loaded = false;
    const char **names = NULL;
    size_t n = 0;

    if (all_usage(g, &err) < 0 || load_inv(&inv, &loaded, &err) < 0) {
        cli_err_print(stderr, &err, NULL);
        return err.exit;
    }
    names = inv_names(&inv, &n);
    if (n == 0) {
        cli_err_set(&err, CLI_EXIT_USAGE, "usage",
                    "--all: the inventory %s lists no servers (add one with 'infoadm server add')",
                    inv.path);
        cli_err_print(stderr, &err, NULL);
        o.status = err.exit;
    }
    o.json = g->json && n > 0 ? json_object() : NULL;
    for (size_t i = 0; i < n; i++)
        run_one_of_all(cmd, g, a, &inv, names[i], i, &o);
    print_all(&o);
    free(names);
    inv_free(&inv);
    return o.status;
}

static int dispatch(const struct cli_cmd *cmd, const struct cli_globals *g,
                    const struct cli_args *a)
{
    if (cmd->flags & CMD_LOCAL)
        return run_local(cmd, g, a);
    if (g->all)
        return run_all(cmd, g, a);
    return run_single(cmd, g, a);
}

static int early_exit(const struct cli_cmd *cmd, const struct cli_globals *g)
{
    struct cli_err err = {0};
    char name[64], *words[3] = {NULL, NULL, NULL};
    size_t n = 0;

    if (cmd == NULL && g->version && !g->help) {
        printf("infoadm %s\n", INFOSRV_VERSION);
        return 0;
    }
    if (cmd != NULL) {
        /* "--help" after a command explains that command. */
        cli_cmd_name(cmd, name, sizeof(name));
        for (char *p = name; p != NULL && n < 3;) {
            words[n++] = p;
            p = strchr(p, ' ');
            if (p != NULL)
                *p++ = '\0';
        }
    }
    if (cli_help(stdout, words, n, &err) < 0) {
        cli_err_print(stderr, &err, NULL);
        return err.exit;
    }
    return 0;
}

/*
 * "--help" on a line that does not parse ("infoadm sta --help"): help for the
 * words given. Returns the exit status, or -1 when no help was asked for.
 */
static int help_fallback(int argc, char **argv)
{
    static const char *const valued[] = {"-s",           "--server", "--token",
                                         "--token-file", "--cacert", "--pin"};
    char *words[3];
    size_t n = 0;
    bool help = false;
    struct cli_err err = {0};

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
            if (strcmp(argv[i], valued[k]) == 0)
                i++;
        if (i < argc && argv[i][0] != '-' && n < 3)
            words[n++] = argv[i];
    }
    if (!help)
        return -1;
    if (cli_help(stdout, words, n, &err) < 0) {
        cli_err_print(stderr, &err, NULL);
        return err.exit;
    }
    return 0;
}

int cli_main(int argc, char **argv)
{
    struct cli_globals g = {0};
    struct cli_args a = {0};
    struct cli_err err = {0};
    const struct cli_cmd *cmd = NULL;
    int status;

    if (cli_parse_argv(argc, argv, &g, &cmd, &a, &err) < 0) {
        cli_args_free(&a);
        status = help_fallback(argc, argv);
        if (status >= 0)
            return status;
        cli_err_print(stderr, &err, NULL);
        return CLI_EXIT_USAGE;
    }
    if (cmd == NULL || g.help) {
        cli_args_free(&a);
        return early_exit(cmd, &g);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    status = dispatch(cmd, &g, &a);
    curl_global_cleanup();
    cli_args_free(&a);
    return status;
}
