/*
 * commands_log: infoadm log — the access log entries of sites that log to
 * SQLite, through GET /api/v1/log. The server parses and checks every filter
 * (one parser, src/runtime/logq.c), so infoadm passes them on as given.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"

static const char *const filters[] = {"service", "site",  "status", "client",
                                      "path",    "since", "until",  "limit"};

/* "/path?query" as one cell. */
static json_t *target(const json_t *e)
{
    const char *path = json_string_value(json_object_get(e, "path"));
    const char *query = json_string_value(json_object_get(e, "query"));

    if (query == NULL || query[0] == '\0')
        return json_string(path ? path : "-");
    return json_sprintf("%s?%s", path ? path : "", query);
}

static void entry_row(struct out_table *t, const json_t *e)
{
    static const char *const f[] = {"time",       "service",        "site",         "client",
                                    "user",       "method",         NULL,           "status",
                                    "bytes_sent", "bytes_received", "time_taken_ms"};
    json_t *path = target(e);
    const json_t *row[11];

    for (size_t i = 0; i < 11; i++)
        row[i] = f[i] != NULL ? json_object_get(e, f[i]) : path;
    out_table_add_json(t, row);
    json_decref(path);
}

static struct out_table *entries_table(const json_t *entries)
{
    struct out_table *t =
        out_table_new(11, (const char *[]){"TIME", "SERVICE", "SITE", "CLIENT", "USER", "METHOD",
                                           "PATH", "STATUS", "SENT", "RECEIVED", "MS"});
    const json_t *e;
    size_t i;

    for (size_t c = 7; c < 11; c++)
        out_table_right(t, c);
    json_array_foreach (entries, i, e)
        entry_row(t, e);
    return t;
}

int cli_cmd_log(struct cli_run *r)
{
    struct buf url = {0};
    json_t *resp;
    int rc;

    buf_puts(&url, "/api/v1/log");
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        cli_query_add(&url, filters[i], cli_opt(r->args, filters[i]));
    if (cli_flag(r->args, "oldest-first"))
        cli_query_add(&url, "order", "oldest");
    rc = cli_fetch_view(r, &url, &resp);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    cli_emit_table(r, entries_table(json_object_get(resp, "entries")));
    if (!r->aggregate && json_is_true(json_object_get(resp, "truncated")))
        fprintf(r->out, "(more entries match; narrow the filters or raise --limit, at most "
                        "10000)\n");
    json_decref(resp);
    return 0;
}
