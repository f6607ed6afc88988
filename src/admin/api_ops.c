/* The operational half of the admin API: discovery, services, statistics,
 * sessions, cache, accounts, audit, metrics — and the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/accounts.h"
#include "admin/api.h"
#include "admin/api_int.h"
#include "core/alloc.h"
#include "farm/farm.h"
#include "runtime/gen.h"
#include "runtime/server.h"
#include "runtime/service.h"
#include "runtime/stats.h"
#include "version.h"

static const char *capabilities[] = {
    "config",         "config.history", "config.diff", "config.rollback",     "config.export",
    "config.import",  "backups",        "services",    "services.pause",      "stats",
    "stats.clear",    "sessions",       "sessions.disconnect", "cache.flush", "accounts",
    "audit",          "metrics",        "certificates", "www.ip_restrictions",
    "www.headers",    "www.error_pages", "www.auth",   "www.uploads",         "www.cgi",
    "log.query",      "www.compression", "bandwidth",      "www.h2",
    "farm",           "console",        "schema",      "events",
};

static bool is(const struct api_request *rq, const char *method)
{
    return strcmp(rq->method, method) == 0 || (strcmp(method, "GET") == 0 &&
                                                strcmp(rq->method, "HEAD") == 0);
}

static bool starts(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

json_t *api_capabilities(void)
{
    json_t *caps = json_array();
    const struct service *svc;
    char name[48];

    for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++)
        json_array_append_new(caps, json_string(capabilities[i]));
    /* WWW was there from the start; each later service is a capability of its own. */
    for (size_t i = 0; (svc = service_at(i)) != NULL; i++) {
        if (strcmp(svc->name, "www") == 0)
            continue;
        snprintf(name, sizeof(name), "services.%s", svc->name);
        json_array_append_new(caps, json_string(name));
    }
    if (service_find("ftp"))
        json_array_append_new(caps, json_string("ftp.users"));
    return caps;
}

static void discovery(struct api_response *rs)
{
    time_t started = api_started();
    char when[32];

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&started));
    api_reply_json(rs, 200,
                   json_pack("{s:s,s:s,s:[s],s:o,s:s,s:I}", "product", "infosrv", "version",
                             INFOSRV_VERSION, "api_versions", "v1", "capabilities",
                             api_capabilities(), "started", when, "uptime",
                             (json_int_t)(time(NULL) - started)));
}

/* ---- services ---- */

static const char *state_name(enum site_state st)
{
    return st == SITE_STOPPED ? "stopped" : st == SITE_PAUSED ? "paused" : "started";
}

static json_t *site_json(const struct site *s)
{
    json_t *b = json_array(), *h = json_array();
    char a[80], url[96];

    for (size_t i = 0; i < s->nbindings; i++) {
        net_addr_str((const struct sockaddr *)&s->bindings[i].addr.ss, a, sizeof(a));
        snprintf(url, sizeof(url), "%s%s", s->bindings[i].tls ? s->svc->tls_scheme : "", a);
        json_array_append_new(b, json_string(url));
    }
    for (size_t i = 0; i < s->nhost_names; i++)
        json_array_append_new(h, json_string(s->host_names[i]));
    return json_pack("{s:s,s:s,s:o,s:o}", "name", s->name, "state", state_name(s->state),
                     "bindings", b, "host_names", h);
}

static json_t *service_state(const char *svc)
{
    char key[32];
    json_t *v;

    snprintf(key, sizeof(key), "/%s", svc);
    v = mb_value(api_metabase(), key, "state");
    if (!json_is_string(v)) {
        json_decref(v);
        v = json_string("started");
    }
    return v;
}

json_t *api_services_json(void)
{
    struct gen *g = gen_current_ref();
    json_t *list = json_array();
    const struct service *svc;

    for (size_t k = 0; (svc = service_at(k)) != NULL; k++) {
        json_t *sites = json_array();
        for (size_t i = 0; g && i < g->nsites; i++)
            if (g->sites[i].svc == svc)
                json_array_append_new(sites, site_json(&g->sites[i]));
        json_array_append_new(list, json_pack("{s:s,s:o,s:o}", "name", svc->name, "state",
                                              service_state(svc->name), "sites", sites));
    }
    gen_unref(g);
    return list;
}

static void services_list(struct api_response *rs)
{
    api_reply_json(rs, 200, json_pack("{s:o}", "services", api_services_json()));
}

static const char *action_state(const char *action)
{
    if (strcmp(action, "start") == 0 || strcmp(action, "continue") == 0)
        return "started";
    if (strcmp(action, "stop") == 0)
        return "stopped";
    if (strcmp(action, "pause") == 0)
        return "paused";
    return NULL;
}

/* The commit result plus the desired state now recorded. */
static void add_state(struct api_response *rs, const char *state)
{
    json_t *j = json_loadb(rs->body.data, rs->body.len, 0, NULL);

    if (j == NULL)
        return;
    json_object_set_new(j, "state", json_string(state));
    api_reply_json(rs, 200, j);
}

/* The metabase key of "SVC" or "SVC/sites/NAME" at P (up to END), or -1. */
static int control_key(const char *p, const char *end, char *key, size_t cap)
{
    size_t svclen = strcspn(p, "/");
    char svc[32];

    if (svclen == 0 || svclen >= sizeof(svc) || p + svclen > end)
        return -1;
    memcpy(svc, p, svclen);
    svc[svclen] = '\0';
    if (service_find(svc) == NULL)
        return -1;
    p += svclen;
    if (p == end)
        return snprintf(key, cap, "/%s", svc) < (int)cap ? 0 : -1;
    if (strncmp(p, "/sites/", 7) != 0 || end - (p + 7) <= 0 || end - (p + 7) >= 128 ||
        memchr(p + 7, '/', (size_t)(end - (p + 7))) != NULL)
        return -1;
    return snprintf(key, cap, "/%s/sites/%.*s", svc, (int)(end - (p + 7)), p + 7) < (int)cap
               ? 0
               : -1;
}

/* /api/v1/services/SVC/ACTION or /api/v1/services/SVC/sites/NAME/ACTION */
static void services_control(const struct api_request *rq, struct api_response *rs)
{
    const char *p = rq->path + strlen("/api/v1/services/");
    const char *action = strrchr(p, '/'), *state;
    char key[256];
    json_t *op, *ops;

    state = action ? action_state(action + 1) : NULL;
    if (state == NULL || control_key(p, action, key, sizeof(key)) == -1) {
        api_error(rs, 404, "not_found", "no such service or action: %s", rq->path);
        return;
    }
    op = api_op_new("set", key);
    json_object_set_new(op, "set", json_pack("{s:s}", "state", state));
    ops = json_pack("[o]", op);
    api_commit(rq, rs, ops, -1, action + 1, false, 200);
    json_decref(ops);
    if (rs->status == 200)
        add_state(rs, state);
}

/* ---- statistics ---- */

static bool slot_matches(int slot, const char *service, const char *site)
{
    const char *svc, *st = stats_slot_site(slot, &svc);

    if (service[0] && strcmp(service, svc) != 0)
        return false;
    if (site[0])
        return st && strcmp(site, st) == 0;
    return true;
}

json_t *api_stats_json(const char *service, const char *site, bool clear)
{
    json_t *arr = json_array();
    const char *svc, *st;

    for (int i = 0; i < stats_nslots(); i++) {
        if (!slot_matches(i, service, site))
            continue;
        if (clear)
            stats_clear(i);
        st = stats_slot_site(i, &svc);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:I}", "service", svc, "site",
                                             st ? json_string(st) : json_null(), "counters",
                                             stats_counters_json(i), "cleared_at",
                                             (json_int_t)stats_cleared_at(i)));
    }
    return arr;
}

static void stats_route(const struct api_request *rq, struct api_response *rs)
{
    char service[32] = "", site[128] = "";
    json_t *arr;
    bool clear = is(rq, "DELETE");

    api_query_get(rq->query, "service", service, sizeof(service));
    api_query_get(rq->query, "site", site, sizeof(site));
    arr = api_stats_json(service, site, clear);
    if (clear)
        mb_audit_add(api_metabase(), &(struct mb_actor){rq->identity, rq->address},
                     "stats.clear", site[0] ? site : (service[0] ? service : "*"), "ok", NULL);
    api_reply_json(rs, 200, json_pack("{s:o}", "stats", arr));
}

/* ---- sessions ---- */

static bool session_matches(json_t *s, const char *q)
{
    static const char *fields[] = {"service", "site", "user", "address"};
    char want[128];

    for (size_t i = 0; i < 4; i++) {
        if (!api_query_get(q, fields[i], want, sizeof(want)))
            continue;
        const char *key = strcmp(fields[i], "address") == 0 ? "client" : fields[i];
        const char *have = json_string_value(json_object_get(s, key));
        if (have == NULL)
            return false;
        if (strcmp(fields[i], "address") == 0 ? strncmp(have, want, strlen(want)) != 0
                                               : strcmp(have, want) != 0)
            return false;
    }
    return true;
}

static json_t *sessions_filtered(const char *q)
{
    json_t *all = server_sessions(), *out = json_array(), *s;
    size_t i;

    json_array_foreach(all, i, s) {
        if (session_matches(s, q))
            json_array_append(out, s);
    }
    json_decref(all);
    return out;
}

static void sessions_delete(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/sessions");
    json_t *list, *s;
    uint64_t id;
    unsigned n = 0;
    size_t i;

    if (*rest == '/') {
        if (!api_parse_u64(rest + 1, &id)) {
            api_error(rs, 404, "not_found", "no session \"%s\"", rest + 1);
            return;
        }
        n = server_disconnect(id);
        if (n == 0) {
            api_error(rs, 404, "not_found", "no session %llu", (unsigned long long)id);
            return;
        }
    } else if (rq->query[0] == '\0') {
        api_error(rs, 400, "invalid_request",
                  "disconnecting sessions needs an id or a filter (service, site, user, address)");
        return;
    } else {
        list = sessions_filtered(rq->query);
        json_array_foreach(list, i, s)
            n += server_disconnect((uint64_t)json_integer_value(json_object_get(s, "id")));
        json_decref(list);
    }
    mb_audit_add(api_metabase(), &(struct mb_actor){rq->identity, rq->address}, "disconnect",
                 *rest == '/' ? rest + 1 : rq->query, "ok", NULL);
    api_reply_json(rs, 200, json_pack("{s:i}", "disconnected", n));
}

static void sessions_route(const struct api_request *rq, struct api_response *rs)
{
    if (is(rq, "GET") && rq->path[strlen("/api/v1/sessions")] == '\0')
        api_reply_json(rs, 200, json_pack("{s:o}", "sessions", sessions_filtered(rq->query)));
    else if (is(rq, "DELETE"))
        sessions_delete(rq, rs);
    else
        api_error(rs, 405, "method_not_allowed", "%s is not allowed here", rq->method);
}

/* ---- accounts and audit ---- */

static void accounts_create(const struct api_request *rq, struct api_response *rs)
{
    static const char *fields[] = {"name", "role", NULL};
    char token[ACCT_TOKEN_SIZE + 8];
    struct mb_error err = {0};
    json_t *body = api_body_object(rq, rs);
    const char *name, *role_s;
    enum role role;

    if (body == NULL || !api_body_known(body, fields, rs))
        goto out;
    name = json_string_value(json_object_get(body, "name"));
    role_s = json_string_value(json_object_get(body, "role"));
    if (name == NULL || role_s == NULL || role_from_string(role_s, &role) == -1) {
        api_error(rs, 400, "invalid_request",
                  "an account needs a name and a role (admin, operator or reader)");
        goto out;
    }
    if (acct_create(api_metabase(), name, role, token, sizeof(token), &err) == -1) {
        api_reply_mb_error(rs, &err);
        goto out;
    }
    mb_audit_add(api_metabase(), &(struct mb_actor){rq->identity, rq->address}, "account.add",
                 name, "ok", role_s);
    api_reply_json(rs, 201, json_pack("{s:s,s:s,s:s}", "name", name, "role", role_s, "token",
                                      token));
out:
    json_decref(body);
}

static void accounts_list(struct api_response *rs)
{
    json_t *list = acct_list(api_metabase());

    if (list == NULL)
        api_error(rs, 500, "storage", "the accounts cannot be read");
    else
        api_reply_json(rs, 200, json_pack("{s:o}", "accounts", list));
}

static void accounts_route(const struct api_request *rq, struct api_response *rs)
{
    const char *rest = rq->path + strlen("/api/v1/accounts");
    char name[ACCT_NAME_MAX + 1], token[ACCT_TOKEN_SIZE + 8];
    struct mb_error err = {0};
    struct mb_actor who = {rq->identity, rq->address};
    const char *slash;
    size_t nlen;

    if (*rest == '\0' && is(rq, "GET"))
        return accounts_list(rs);
    if (*rest == '\0' && is(rq, "POST"))
        return accounts_create(rq, rs);
    slash = *rest == '/' ? strchr(rest + 1, '/') : NULL;
    nlen = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    if (*rest != '/' || nlen == 0 || nlen > ACCT_NAME_MAX) /* never match a cut-off name */
        return api_error(rs, 404, "not_found", "no such account");
    memcpy(name, rest + 1, nlen);
    name[nlen] = '\0';
    if (slash == NULL && is(rq, "DELETE")) {
        if (acct_delete(api_metabase(), name, &err) == -1)
            return api_reply_mb_error(rs, &err);
        mb_audit_add(api_metabase(), &who, "account.remove", name, "ok", NULL);
        return api_reply_json(rs, 200, json_pack("{s:s}", "removed", name));
    }
    if (slash && strcmp(slash, "/token") == 0 && is(rq, "POST")) {
        if (acct_new_token(api_metabase(), name, token, sizeof(token), &err) == -1)
            return api_reply_mb_error(rs, &err);
        mb_audit_add(api_metabase(), &who, "account.token", name, "ok", NULL);
        return api_reply_json(rs, 200, json_pack("{s:s,s:s}", "name", name, "token", token));
    }
    api_error(rs, 404, "not_found", "no such accounts endpoint");
}

static void audit_route(const struct api_request *rq, struct api_response *rs)
{
    uint64_t before = 0, limit = 50;

    api_query_u64(rq->query, "before", &before);
    api_query_u64(rq->query, "limit", &limit);
    api_reply_json(rs, 200, json_pack("{s:o}", "entries",
                                      mb_audit_list(api_metabase(), before, (unsigned)limit)));
}

/* ---- metrics ---- */

/*
 * The Prometheus family of each statistic, by its stat_id: the name after
 * "infosrv_" (base units, counters ending in _total) and the HELP text.
 * Statistics before STAT_COUNTERS are counters, the rest gauges.
 */
static const struct metric_family {
    const char *name, *help;
} families[] = {
    [STAT_BYTES_SENT] = {"sent_bytes_total", "Bytes sent to clients."},
    [STAT_BYTES_RECEIVED] = {"received_bytes_total", "Bytes received from clients."},
    [STAT_FILES_SENT] = {"files_sent_total", "Files sent to clients."},
    [STAT_TOTAL_CONNECTIONS] = {"connections_total", "Connections served."},
    [STAT_CONNECTION_ATTEMPTS] = {"connection_attempts_total",
                                  "Connections accepted, including those refused as busy."},
    [STAT_GET_REQUESTS] = {"get_requests_total", "HTTP GET requests."},
    [STAT_HEAD_REQUESTS] = {"head_requests_total", "HTTP HEAD requests."},
    [STAT_OTHER_REQUESTS] = {"other_requests_total", "HTTP requests with another method."},
    [STAT_TOTAL_REQUESTS] = {"requests_total", "Requests of any kind."},
    [STAT_NOT_FOUND_ERRORS] = {"not_found_errors_total", "Requests for files that do not exist."},
    [STAT_MENUS_SENT] = {"menus_sent_total", "Gopher menus sent."},
    [STAT_FILES_RECEIVED] = {"files_received_total", "FTP uploads completed."},
    [STAT_LOGON_ATTEMPTS] = {"logon_attempts_total", "Logon attempts: FTP PASS commands, WWW password checks."},
    [STAT_CERTS_ISSUED] = {"certificates_issued_total", "Certificates the ACME CA issued."},
    [STAT_CERT_FAILURES] = {"certificate_failures_total", "ACME orders and renewals that failed."},
    [STAT_ACCESS_DENIED] = {"access_denied_total",
                            "Requests refused (403) by the ip_default and ip_exceptions rules."},
    [STAT_LOG_DROPPED] = {"log_entries_dropped_total",
                          "Access log entries lost: the log writer was behind or could not "
                          "write."},
    [STAT_FILES_COMPRESSED] = {"files_compressed_total",
                               "File versions gzipped into the compressed-file cache."},
    [STAT_CURRENT_CONNECTIONS] = {"current_connections", "Connections open now."},
    [STAT_MAX_CONNECTIONS] = {"max_connections",
                              "Most connections open at once since the statistics were cleared."},
    [STAT_CURRENT_ANONYMOUS] = {"current_anonymous_users", "Anonymous FTP users logged in now."},
    [STAT_MAX_ANONYMOUS] = {"max_anonymous_users",
                            "Most anonymous FTP users logged in at once since the statistics "
                            "were cleared."},
    [STAT_CURRENT_NONANONYMOUS] = {"current_nonanonymous_users", "Named FTP users logged in now."},
    [STAT_MAX_NONANONYMOUS] = {"max_nonanonymous_users",
                               "Most named FTP users logged in at once since the statistics "
                               "were cleared."},
};
_Static_assert(sizeof(families) / sizeof(families[0]) == STAT_ALL, "a family per statistic");

typedef uint64_t slot_values[STAT_ALL]; /* one slot's statistics, by stat_id */

/* VALUE as a label value of the text format: backslash, quote and newline escaped. */
static void metrics_label(struct buf *b, const char *value)
{
    size_t n;

    for (;;) {
        n = strcspn(value, "\\\"\n");
        buf_append(b, value, n);
        value += n;
        if (*value == '\0')
            return;
        buf_puts(b, *value == '\n' ? "\\n" : *value == '\\' ? "\\\\" : "\\\"");
        value++;
    }
}

static void metrics_header(struct buf *b, const char *name, const char *help, const char *type)
{
    buf_printf(b, "# HELP infosrv_%s %s\n# TYPE infosrv_%s %s\n", name, help, name, type);
}

/* One sample of family ID for SLOT: a site slot has both labels, a service slot only service. */
static void metrics_sample(struct buf *b, enum stat_id id, int slot, uint64_t value)
{
    const char *svc, *site = stats_slot_site(slot, &svc);

    buf_printf(b, "infosrv_%s{service=\"", families[id].name);
    metrics_label(b, svc);
    if (site) {
        buf_puts(b, "\",site=\"");
        metrics_label(b, site);
    }
    buf_printf(b, "\"} %llu\n", (unsigned long long)value);
}

/* Family ID over the NSLOTS slots read into V; nothing when no slot keeps it. */
static void metrics_family(struct buf *b, enum stat_id id, int nslots, slot_values *v)
{
    bool first = true;

    for (int i = 0; i < nslots; i++) {
        if (!stats_has(i, id))
            continue;
        if (first)
            metrics_header(b, families[id].name, families[id].help,
                           id < STAT_COUNTERS ? "counter" : "gauge");
        first = false;
        metrics_sample(b, id, i, v[i][id]);
    }
}

static void metrics(struct api_response *rs)
{
    int n = stats_nslots();
    slot_values *v = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*v));

    /* Every slot read once, so that the families agree with each other. */
    for (int i = 0; i < n; i++)
        stats_read(i, v[i]);
    rs->status = 200;
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&rs->body);
    metrics_header(&rs->body, "build_info", "The infosrv release; always 1.", "gauge");
    buf_puts(&rs->body, "infosrv_build_info{version=\"");
    metrics_label(&rs->body, INFOSRV_VERSION);
    buf_puts(&rs->body, "\"} 1\n");
    for (int id = 0; id < STAT_ALL; id++)
        metrics_family(&rs->body, (enum stat_id)id, n, v);
    free(v);
}

/* ---- the farm ---- */

static void farm_leave_route(const struct api_request *rq, struct api_response *rs)
{
    struct mb_error err = {0};
    json_t *out;

    if (farm_leave(&(struct mb_actor){rq->identity, rq->address}, &out, &err) == -1)
        api_reply_mb_error(rs, &err);
    else
        api_reply_json(rs, 200, out);
}

/* ---- the router ---- */

static void route_v1(const struct api_request *rq, struct api_response *rs)
{
    const char *p = rq->path;

    if (starts(p, "/api/v1/config"))
        api_route_config(rq, rs);
    else if (strcmp(p, "/api/v1/commits") == 0 && is(rq, "POST"))
        api_route_commits(rq, rs);
    else if (starts(p, "/api/v1/revisions") && is(rq, "GET"))
        api_route_revisions(rq, rs);
    else if (strcmp(p, "/api/v1/diff") == 0 && is(rq, "GET"))
        api_route_diff(rq, rs);
    else if (strcmp(p, "/api/v1/rollback") == 0 && is(rq, "POST"))
        api_route_rollback(rq, rs);
    else if (strcmp(p, "/api/v1/export") == 0 && is(rq, "GET"))
        api_reply_json(rs, 200, mb_export(api_metabase()));
    else if (strcmp(p, "/api/v1/import") == 0 && is(rq, "POST"))
        api_route_import(rq, rs);
    else if (starts(p, "/api/v1/backups"))
        api_route_backups(rq, rs);
    else if (strcmp(p, "/api/v1/services") == 0 && is(rq, "GET"))
        services_list(rs);
    else if (starts(p, "/api/v1/services") && is(rq, "POST"))
        services_control(rq, rs);
    else if (strcmp(p, "/api/v1/stats") == 0 && (is(rq, "GET") || is(rq, "DELETE")))
        stats_route(rq, rs);
    else if (starts(p, "/api/v1/sessions"))
        sessions_route(rq, rs);
    else if (strcmp(p, "/api/v1/cache/flush") == 0 && is(rq, "POST")) {
        server_flush_caches();
        api_reply_json(rs, 200, json_pack("{s:b}", "flushed", 1));
    } else if (starts(p, "/api/v1/accounts"))
        accounts_route(rq, rs);
    else if (starts(p, "/api/v1/ftp/users") && service_find("ftp"))
        api_route_ftp_users(rq, rs);
    else if (starts(p, "/api/v1/certificates"))
        api_route_certificates(rq, rs);
    else if (strcmp(p, "/api/v1/log") == 0)
        api_route_log(rq, rs);
    else if (strcmp(p, "/api/v1/audit") == 0 && is(rq, "GET"))
        audit_route(rq, rs);
    else if (strcmp(p, "/api/v1/schema") == 0 && is(rq, "GET"))
        api_reply_json(rs, 200, api_schema_json());
    else if (strcmp(p, "/api/v1/farm") == 0 && is(rq, "GET"))
        api_reply_json(rs, 200, farm_status());
    else if (strcmp(p, "/api/v1/farm/leave") == 0 && is(rq, "POST"))
        farm_leave_route(rq, rs);
    else
        api_error(rs, 404, "not_found", "no endpoint %s %s", rq->method, rq->path);
}

void api_handle(const struct api_request *rq, struct api_response *rs)
{
    if (!role_allows(rq->role, rq->method, rq->path))
        api_error(rs, 403, "forbidden", "the role of %s does not allow %s %s", rq->identity,
                  rq->method, rq->path);
    else if (strcmp(rq->path, "/api") == 0 && is(rq, "GET"))
        discovery(rs);
    else if (strcmp(rq->path, "/metrics") == 0 && is(rq, "GET"))
        metrics(rs);
    else if (starts(rq->path, "/api/v1"))
        route_v1(rq, rs);
    else
        api_error(rs, 404, "not_found", "no endpoint %s %s", rq->method, rq->path);
}
