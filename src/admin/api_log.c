/*
 * api_log: GET /api/v1/log — the access log entries of the sites whose log
 * is in SQLite (log_format "sqlite"), filtered as logq parses them and read
 * by logdb_search. Admin thread, under the API lock, like every handler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api.h"
#include "admin/api_int.h"
#include "core/alloc.h"
#include "runtime/accesslog.h"
#include "runtime/gen.h"
#include "runtime/logdb.h"
#include "runtime/logq.h"
#include "runtime/service.h"

/* What a site's log is, by name. */
static const char *format_name(const struct site *s)
{
    static const char *const names[] = {
        [ALOG_W3C] = "w3c", [ALOG_NCSA] = "ncsa", [ALOG_SQLITE] = "sqlite"};

    return s->alog == NULL ? "none" : names[alog_format_of(s->alog)];
}

static void reply_bad(struct api_response *rs, const struct logq_error *e)
{
    api_reply_json(rs, 400,
                   json_pack("{s:{s:s,s:s,s:{s:s}}}", "error", "code", "invalid_request", "message",
                             e->message, "details", "parameter", e->param));
}

/* The sites Q names: of its service (every one when none), called its site
 * (any name when none). */
static bool site_wanted(const struct site *s, const struct logq *q)
{
    return (q->service[0] == '\0' || strcmp(s->svc->name, q->service) == 0) &&
           (q->site[0] == '\0' || strcmp(s->name, q->site) == 0);
}

struct sources {
    struct logdb_source *v;
    size_t n;
    json_t *names;       /* "www/default" of each source */
    json_t *unqueryable; /* {"service", "site", "log_format"} of the others */
    size_t matched;      /* sites Q names, queryable or not */
};

static void sources_collect(struct sources *out, const struct gen *g, const struct logq *q)
{
    out->v = xcalloc(g->nsites ? g->nsites : 1, sizeof(*out->v));
    out->names = json_array();
    out->unqueryable = json_array();
    for (size_t i = 0; i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        if (!site_wanted(s, q))
            continue;
        out->matched++;
        if (s->alog != NULL && alog_format_of(s->alog) == ALOG_SQLITE) {
            out->v[out->n++] = (struct logdb_source){s->svc->name, s->name, alog_dir(s->alog)};
            json_array_append_new(out->names, json_sprintf("%s/%s", s->svc->name, s->name));
        } else {
            json_array_append_new(out->unqueryable,
                                  json_pack("{s:s,s:s,s:s}", "service", s->svc->name, "site",
                                            s->name, "log_format", format_name(s)));
        }
    }
}

static void sources_free(struct sources *s)
{
    free(s->v);
    json_decref(s->names);
    json_decref(s->unqueryable);
}

/* 400 naming PARAM, with a message about the name Q gave for it. */
static void reply_no_such(struct api_response *rs, const char *param, const char *what,
                          const char *name)
{
    struct logq_error e;

    snprintf(e.param, sizeof(e.param), "%s", param);
    snprintf(e.message, sizeof(e.message), "%s: no %s \"%s\"", param, what, name);
    reply_bad(rs, &e);
}

/* 400 for a name that is no service or site, 409 when none of the sites logs to SQLite. */
static bool sources_usable(const struct sources *src, const struct logq *q, struct api_response *rs)
{
    const json_t *first = json_array_get(src->unqueryable, 0);

    if (q->service[0] != '\0' && service_find(q->service) == NULL) {
        reply_no_such(rs, "service", "such service", q->service);
        return false;
    }
    if (q->site[0] != '\0' && src->matched == 0) {
        reply_no_such(rs, "site", q->service[0] ? "site of that service called" : "site called",
                      q->site);
        return false;
    }
    if (src->n > 0)
        return true;
    if (first == NULL)
        api_error(rs, 409, "log_not_queryable", "%s%s has no site with an access log to query",
                  q->service[0] ? "service " : "the server", q->service);
    else
        api_error(rs, 409, "log_not_queryable",
                  "the access log of %s site %s is in format %s; only log_format \"sqlite\" "
                  "can be queried (set it on the site or its service)",
                  json_string_value(json_object_get(first, "service")),
                  json_string_value(json_object_get(first, "site")),
                  json_string_value(json_object_get(first, "log_format")));
    return false;
}

static void log_query(const struct api_request *rq, struct api_response *rs)
{
    struct logq q;
    struct logq_error e;
    struct sources src = {0};
    struct gen *g;
    json_t *out;

    logq_init(&q, time(NULL));
    if (logq_parse_query(&q, rq->query, strlen(rq->query), &e) == -1) {
        reply_bad(rs, &e);
        return;
    }
    g = gen_current_ref();
    if (g == NULL) {
        api_error(rs, 409, "log_not_queryable", "no site has an access log to query");
        return;
    }
    sources_collect(&src, g, &q);
    if (sources_usable(&src, &q, rs)) {
        out = logdb_search(src.v, src.n, &q);
        json_object_set_new(out, "limit", json_integer(q.limit));
        json_object_set_new(out, "order", json_string(q.oldest_first ? "oldest" : "newest"));
        json_object_set(out, "sources", src.names);
        if (json_array_size(src.unqueryable) > 0)
            json_object_set(out, "not_queryable", src.unqueryable);
        api_reply_json(rs, 200, out);
    }
    sources_free(&src);
    gen_unref(g);
}

void api_route_log(const struct api_request *rq, struct api_response *rs)
{
    if (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0)
        log_query(rq, rs);
    else
        api_error(rs, 405, "method_not_allowed", "%s is not allowed here", rq->method);
}
