/*
 * commands_admin: the server itself and who may administer it — version,
 * accounts, audit, help.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "version.h"

int cli_cmd_version(struct cli_run *r)
{
    const json_t *api;
    struct out_table *t;

    if (!r->g->json && (!r->aggregate || r->index == 0))
        fprintf(r->out, "infoadm %s (admin API v1)\n", INFOSRV_VERSION);
    fflush(r->out);
    api = cli_api(r->conn, &r->err);
    if (api == NULL)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, json_pack("{s:{s:s,s:s,s:[s]},s:O}", "client", "product", "infoadm",
                                          "version", INFOSRV_VERSION, "api_versions", "v1",
                                          "server", api));
    t = out_table_new(4, (const char *[]){"PRODUCT", "VERSION", "API", "CAPABILITIES"});
    out_table_add_json(t, (const json_t *[]){json_object_get(api, "product"),
                                             json_object_get(api, "version"),
                                             json_object_get(api, "api_versions"),
                                             json_object_get(api, "capabilities")});
    cli_emit_table(r, t);
    return 0;
}

static void print_token(struct cli_run *r, const json_t *resp, const char *what)
{
    char *name = out_cell(json_object_get(resp, "name"));
    char *role = out_cell(json_object_get(resp, "role"));
    char *token = out_cell(json_object_get(resp, "token"));

    if (json_object_get(resp, "role") != NULL)
        fprintf(r->out, "%s %s (role %s); its token, shown only this once:\n%s\n", what, name, role,
                token);
    else
        fprintf(r->out, "%s %s; its token, shown only this once:\n%s\n", what, name, token);
    free(name);
    free(role);
    free(token);
}

int cli_cmd_account_add(struct cli_run *r)
{
    const char *role = cli_opt(r->args, "role");
    json_t *resp;

    if (role == NULL)
        return cli_usage(r, "--role is required (admin, operator or reader)");
    if (cli_send(r, "POST", "/api/v1/accounts",
                 json_pack("{s:s,s:s}", "name", r->args->pos[0], "role", role), NULL, &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    print_token(r, resp, "created account");
    json_decref(resp);
    return 0;
}

static void account_url(struct buf *b, const char *name, const char *tail)
{
    buf_puts(b, "/api/v1/accounts/");
    cli_pct_encode(b, name);
    buf_puts(b, tail);
}

int cli_cmd_account_remove(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    account_url(&url, r->args->pos[0], "");
    rc = cli_send_view(r, "DELETE", &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    fprintf(r->out, "removed account %s\n", r->args->pos[0]);
    json_decref(resp);
    return 0;
}

int cli_cmd_account_token(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    account_url(&url, r->args->pos[0], "/token");
    rc = cli_send_view(r, "POST", &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (json_object_get(resp, "name") == NULL)
        json_object_set_new(resp, "name", json_string(r->args->pos[0]));
    print_token(r, resp, "new token for account");
    json_decref(resp);
    return 0;
}

/* A table of the objects in ARR under FIELDS, TIME_FIELD rendered as a time. */
static struct out_table *listing(const json_t *arr, const char *const *fields,
                                 const char *const *heads, size_t n, const char *time_field)
{
    struct out_table *t = out_table_new(n, heads);
    const json_t *obj, *vals[OUT_MAX_COLS];
    size_t i;

    json_array_foreach (arr, i, obj) {
        char *tm = out_time(json_object_get(obj, time_field));
        json_t *tv = json_string(tm);
        for (size_t c = 0; c < n; c++)
            vals[c] = strcmp(fields[c], time_field) == 0 ? tv : json_object_get(obj, fields[c]);
        out_table_add_json(t, vals);
        json_decref(tv);
        free(tm);
    }
    return t;
}

int cli_cmd_account_list(struct cli_run *r)
{
    static const char *const fields[] = {"name", "role", "created"};
    static const char *const heads[] = {"NAME", "ROLE", "CREATED"};
    json_t *resp;

    if (cli_fetch(r, "/api/v1/accounts", &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    cli_emit_table(r, listing(json_object_get(resp, "accounts"), fields, heads, 3, "created"));
    json_decref(resp);
    return 0;
}

int cli_cmd_audit(struct cli_run *r)
{
    static const char *const fields[] = {"id",     "time",   "identity", "address",
                                         "action", "target", "result"};
    static const char *const heads[] = {"ID",     "TIME",   "IDENTITY", "ADDRESS",
                                        "ACTION", "TARGET", "RESULT"};
    const char *names[] = {"limit", "before"};
    struct buf url = {0};
    json_t *resp;
    long long v;
    int rc = 0;

    buf_puts(&url, "/api/v1/audit");
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        const char *s = cli_opt(r->args, names[i]);
        if (s != NULL)
            rc = cli_number(r, i == 0 ? "--limit" : "--before", s, 1, CLI_NUM_MAX, &v);
        cli_query_add(&url, names[i], s);
    }
    if (rc == 0)
        rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    cli_emit_table(r, listing(json_object_get(resp, "entries"), fields, heads, 7, "time"));
    json_decref(resp);
    return 0;
}

int cli_cmd_help(struct cli_run *r)
{
    return cli_help(r->out, r->args->pos, r->args->npos, &r->err);
}
