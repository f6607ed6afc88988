/*
 * commands_farm: the server's farm (/api/v1/farm) — every member, alive or
 * not, with the farm revision it runs, how far behind it is, whether its
 * tree drifted from the farm's, and its last apply error; and leaving the
 * farm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"

static const char *yes_no(const json_t *v)
{
    return json_is_true(v) ? "yes" : "no";
}

/* What a member runs, in one word or two. */
static void state_cell(const json_t *m, char *out, size_t cap)
{
    long long behind = (long long)json_integer_value(json_object_get(m, "behind"));

    if (json_is_string(json_object_get(m, "error")))
        snprintf(out, cap, "failed");
    else if (json_is_true(json_object_get(m, "drift")))
        snprintf(out, cap, "drift");
    else if (behind > 0)
        snprintf(out, cap, "behind %lld", behind);
    else
        snprintf(out, cap, "current");
}

static struct out_table *members_table(const json_t *farm)
{
    struct out_table *t = out_table_new(
        7, (const char *[]){"MEMBER", "ALIVE", "VERSION", "REVISION", "STATE", "DRIFT", "ERROR"});
    const json_t *m;
    char state[32];
    size_t i;

    out_table_right(t, 3);
    json_array_foreach (json_object_get(farm, "members"), i, m) {
        json_t *alive = json_string(yes_no(json_object_get(m, "alive")));
        json_t *drift = json_string(yes_no(json_object_get(m, "drift")));
        state_cell(m, state, sizeof(state));
        json_t *st = json_string(state);
        out_table_add_json(t, (const json_t *[]){json_object_get(m, "name"), alive,
                                                 json_object_get(m, "version"),
                                                 json_object_get(m, "revision"), st, drift,
                                                 json_object_get(m, "error")});
        json_decref(alive);
        json_decref(drift);
        json_decref(st);
    }
    return t;
}

static struct out_table *summary(const json_t *farm)
{
    struct out_table *t = out_table_new_kv();
    char *rev = out_cell(json_object_get(farm, "revision"));
    char etcd[600];

    snprintf(etcd, sizeof(etcd), "%s (%s%s%s)", json_string_value(json_object_get(farm, "etcd")),
             json_is_true(json_object_get(farm, "connected")) ? "connected" : "unreachable",
             json_is_string(json_object_get(farm, "error")) ? ": " : "",
             json_is_string(json_object_get(farm, "error"))
                 ? json_string_value(json_object_get(farm, "error"))
                 : "");
    out_table_add(t, (const char *[]){"farm", json_string_value(json_object_get(farm, "farm"))});
    out_table_add(t,
                  (const char *[]){"member", json_string_value(json_object_get(farm, "member"))});
    out_table_add(t, (const char *[]){"revision", rev});
    out_table_add(t, (const char *[]){"etcd", etcd});
    free(rev);
    return t;
}

int cli_cmd_farm_status(struct cli_run *r)
{
    json_t *farm;
    int rc = cli_fetch(r, "/api/v1/farm", &farm);

    if (rc < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, farm);
    if (!json_is_string(json_object_get(farm, "farm")))
        fprintf(r->out, "standalone: this server is not in a farm\n");
    else {
        cli_emit_table(r, summary(farm));
        cli_emit_table(r, members_table(farm));
    }
    json_decref(farm);
    return 0;
}

int cli_cmd_farm_leave(struct cli_run *r)
{
    json_t *resp;

    if (cli_send(r, "POST", "/api/v1/farm/leave", json_object(), NULL, &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    fprintf(r->out,
            "%s left farm %s: standalone with its configuration (revision %lld); its "
            "etcd entries: %s\n",
            json_string_value(json_object_get(resp, "member")),
            json_string_value(json_object_get(resp, "left")),
            (long long)json_integer_value(json_object_get(resp, "revision")),
            json_string_value(json_object_get(resp, "etcd")));
    json_decref(resp);
    return 0;
}
