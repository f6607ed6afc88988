/*
 * commands_services: what runs — status, statistics, sessions, service
 * control and the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"

/* The summary columns of `status`, from the counters of GET /api/v1/stats. */
static const char *const summary_counters[] = {"current_connections", "total_requests",
                                               "bytes_sent", "bytes_received"};

static void service_rows(struct out_table *t, const json_t *svc)
{
    const json_t *site;
    size_t i;

    out_table_add_json(t, (const json_t *[]){json_object_get(svc, "name"), NULL,
                                             json_object_get(svc, "state"), NULL});
    json_array_foreach (json_object_get(svc, "sites"), i, site) {
        out_table_add_json(t, (const json_t *[]){json_object_get(svc, "name"),
                                                 json_object_get(site, "name"),
                                                 json_object_get(site, "state"),
                                                 json_object_get(site, "bindings")});
    }
}

static struct out_table *summary_table(const json_t *stats)
{
    struct out_table *t = out_table_new(
        6, (const char *[]){"SERVICE", "SITE", "CONNECTIONS", "REQUESTS", "SENT", "RECEIVED"});
    const json_t *s;
    size_t i;

    for (size_t c = 2; c < 6; c++)
        out_table_right(t, c);
    json_array_foreach (json_object_get(stats, "stats"), i, s) {
        const json_t *counters = json_object_get(s, "counters");
        const json_t *row[6] = {json_object_get(s, "service"), json_object_get(s, "site")};
        for (size_t c = 0; c < 4; c++)
            row[c + 2] = json_object_get(counters, summary_counters[c]);
        out_table_add_json(t, row);
    }
    return t;
}

int cli_cmd_status(struct cli_run *r)
{
    json_t *svcs, *stats = NULL, *certs = NULL;
    struct out_table *t;
    const json_t *svc;
    size_t i;

    if (cli_fetch(r, "/api/v1/services", &svcs) < 0)
        return -1;
    /* The summary is a bonus: a server without statistics still has a status. */
    if (cli_has_cap(r->conn, "stats") && cli_fetch(r, "/api/v1/stats", &stats) < 0) {
        json_decref(svcs);
        return -1;
    }
    if (r->g->json) {
        cli_emit_json(r, json_pack("{s:O?,s:O?}", "services", json_object_get(svcs, "services"),
                                   "stats", json_object_get(stats, "stats")));
        json_decref(svcs);
        json_decref(stats);
        return 0;
    }
    t = out_table_new(4, (const char *[]){"SERVICE", "SITE", "STATE", "BINDINGS"});
    json_array_foreach (json_object_get(svcs, "services"), i, svc)
        service_rows(t, svc);
    cli_emit_table(r, t);
    if (stats != NULL)
        cli_emit_table(r, summary_table(stats));
    if (cli_has_cap(r->conn, "certificates") && cli_fetch(r, "/api/v1/certificates", &certs) >= 0)
        cli_cert_warnings(r, certs);
    json_decref(certs);
    json_decref(svcs);
    json_decref(stats);
    return 0;
}

static void filters(struct cli_run *r, struct buf *url, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cli_query_add(url, names[i], cli_opt(r->args, names[i]));
}

static const char *const svc_filters[] = {"service", "site"};
static const char *const session_filters[] = {"service", "site", "user", "address"};

static void counter_rows(struct out_table *t, const json_t *s)
{
    const json_t *svc = json_object_get(s, "service"), *site = json_object_get(s, "site");
    const char *name;
    const json_t *v;
    char *cleared = out_time(json_object_get(s, "cleared_at"));
    json_t *cv = json_string(cleared);
    json_t *label = json_string("cleared_at");

    json_object_foreach (out_unconst(json_object_get(s, "counters")), name, v) {
        json_t *n = json_string(name);
        out_table_add_json(t, (const json_t *[]){svc, site, n, v});
        json_decref(n);
    }
    if (json_object_get(s, "cleared_at") != NULL)
        out_table_add_json(t, (const json_t *[]){svc, site, label, cv});
    json_decref(label);
    json_decref(cv);
    free(cleared);
}

int cli_cmd_stats(struct cli_run *r)
{
    struct buf url = {0};
    struct out_table *t;
    const json_t *s;
    json_t *resp;
    size_t i;
    int rc;

    buf_puts(&url, "/api/v1/stats");
    filters(r, &url, svc_filters, 2);
    rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    t = out_table_new(4, (const char *[]){"SERVICE", "SITE", "COUNTER", "VALUE"});
    out_table_right(t, 3);
    json_array_foreach (json_object_get(resp, "stats"), i, s)
        counter_rows(t, s);
    cli_emit_table(r, t);
    json_decref(resp);
    return 0;
}

int cli_cmd_stats_clear(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    buf_puts(&url, "/api/v1/stats");
    filters(r, &url, svc_filters, 2);
    rc = cli_send_view(r, "DELETE", &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    fputs("statistics cleared\n", r->out);
    json_decref(resp);
    return 0;
}

static void session_row(struct out_table *t, const json_t *s)
{
    char *since = out_time(json_object_get(s, "since"));
    json_t *sv = json_string(since);
    static const char *const f[] = {"id",   "service",    "site",           "client",
                                    "tls",  "user",       NULL,             "bytes_sent",
                                    "bytes_received",     "requests",       "file",
                                    "request"};
    const json_t *row[12];

    for (size_t i = 0; i < 12; i++)
        row[i] = f[i] != NULL ? json_object_get(s, f[i]) : sv;
    out_table_add_json(t, row);
    json_decref(sv);
    free(since);
}

int cli_cmd_sessions(struct cli_run *r)
{
    struct buf url = {0};
    struct out_table *t;
    const json_t *s;
    json_t *resp;
    size_t i;
    int rc;

    buf_puts(&url, "/api/v1/sessions");
    filters(r, &url, session_filters, 4);
    rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* FILE: what an FTP session is transferring (services without one show "-"). */
    t = out_table_new(12, (const char *[]){"ID", "SERVICE", "SITE", "CLIENT", "TLS", "USER",
                                           "SINCE", "SENT", "RECEIVED", "REQUESTS", "FILE",
                                           "REQUEST"});
    for (size_t c = 7; c < 10; c++)
        out_table_right(t, c);
    json_array_foreach (json_object_get(resp, "sessions"), i, s)
        session_row(t, s);
    cli_emit_table(r, t);
    json_decref(resp);
    return 0;
}

static long long disconnected(const json_t *resp)
{
    const json_t *n = json_object_get(resp, "disconnected");
    return json_is_integer(n) ? json_integer_value(n) : 0;
}

/* DELETE /api/v1/sessions with QUERY; adds the count to *TOTAL. */
static int disconnect_query(struct cli_run *r, const char *query, long long *total)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    buf_puts(&url, "/api/v1/sessions");
    buf_puts(&url, query);
    rc = cli_send(r, "DELETE", cli_buf_str(&url), NULL, NULL, &resp);
    buf_free(&url);
    if (rc == 0) {
        *total += disconnected(resp);
        json_decref(resp);
    }
    return rc;
}

/* --all without a filter: the API wants one, so go service by service. */
static int disconnect_everything(struct cli_run *r, long long *total)
{
    json_t *svcs;
    const json_t *svc;
    size_t i;
    int rc = 0;

    if (cli_fetch(r, "/api/v1/services", &svcs) < 0)
        return -1;
    json_array_foreach (json_object_get(svcs, "services"), i, svc) {
        struct buf q = {0};
        const char *name = json_string_value(json_object_get(svc, "name"));
        if (name == NULL)
            continue;
        cli_query_add(&q, "service", name);
        rc = disconnect_query(r, cli_buf_str(&q), total);
        buf_free(&q);
        if (rc < 0)
            break;
    }
    json_decref(svcs);
    return rc;
}

static bool any_filter(struct cli_run *r)
{
    for (size_t i = 0; i < 4; i++)
        if (cli_opt(r->args, session_filters[i]) != NULL)
            return true;
    return false;
}

int cli_cmd_disconnect(struct cli_run *r)
{
    bool all = cli_flag(r->args, "all");
    long long total = 0;
    struct buf q = {0};
    int rc;

    if (all == (r->args->npos == 1))
        return cli_usage(r, "give a session ID or --all");
    if (!all && any_filter(r))
        return cli_usage(r, "filters need --all");
    if (!all) {
        buf_puts(&q, "/");
        cli_pct_encode(&q, r->args->pos[0]);
        rc = disconnect_query(r, cli_buf_str(&q), &total);
    } else if (any_filter(r)) {
        filters(r, &q, session_filters, 4);
        rc = disconnect_query(r, cli_buf_str(&q), &total);
    } else {
        rc = disconnect_everything(r, &total);
    }
    buf_free(&q);
    if (rc < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, json_pack("{s:I}", "disconnected", (json_int_t)total));
    fprintf(r->out, "disconnected %lld session%s\n", total, total == 1 ? "" : "s");
    return 0;
}

int cli_cmd_control(struct cli_run *r)
{
    const char *action = r->cmd->words[0], *svc = r->args->pos[0];
    const char *site = r->args->npos > 1 ? r->args->pos[1] : NULL;
    struct buf url = {0};
    json_t *resp;
    char *state;
    int rc;

    buf_puts(&url, "/api/v1/services/");
    cli_pct_encode(&url, svc);
    if (site != NULL) {
        buf_puts(&url, "/sites/");
        cli_pct_encode(&url, site);
    }
    buf_puts(&url, "/");
    buf_puts(&url, action);
    rc = cli_send_view(r, "POST", &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* "state" is an optional field: a server that does not send it recorded
     * the state the action names. */
    state = json_object_get(resp, "state") ? out_cell(json_object_get(resp, "state"))
            : xstrdup(strcmp(action, "stop") == 0    ? "stopped"
                      : strcmp(action, "pause") == 0 ? "paused"
                                                     : "started");
    fprintf(r->out, "%s%s%s: %s\n", svc, site != NULL ? "/" : "", site != NULL ? site : "", state);
    free(state);
    json_decref(resp);
    return 0;
}

int cli_cmd_flush_cache(struct cli_run *r)
{
    const char *svc = r->args->npos > 0 ? r->args->pos[0] : NULL;
    struct buf url = {0};
    json_t *resp;
    int rc;

    buf_puts(&url, "/api/v1/cache/flush");
    cli_query_add(&url, "service", svc);
    rc = cli_send_view(r, "POST", &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    fprintf(r->out, "%s%scache flushed\n", svc != NULL ? svc : "", svc != NULL ? " " : "");
    json_decref(resp);
    return 0;
}
