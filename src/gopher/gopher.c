/* gopher: the Gopher service's table of operations and its per-site settings. */
#include "gopher/gopher.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "gopher/conn.h"
#include "metabase/props.h"
#include "runtime/config.h"
#include "runtime/mime.h"
#include "runtime/stats.h"

static void gopher_close(struct session *s)
{
    gopher_conn_close(gopher_conn_of(s));
}

static void gopher_drain(struct session *s)
{
    gopher_conn_drain(gopher_conn_of(s));
}

static void gopher_free(struct session *s)
{
    free(gopher_conn_of(s));
}

static char *opt_str(const json_t *eff, const char *name)
{
    const char *v = json_string_value(json_object_get(eff, name));

    return v && *v ? xstrdup(v) : NULL;
}

static int gopher_compile_site(struct site *s, const json_t *eff, const json_t *root,
                               const char *key, struct mb_error *err)
{
    struct gopher_site *gs = xcalloc(1, sizeof(*gs));

    (void)root;
    (void)key;
    (void)err;
    s->svc_data = gs;
    gs->mime = mime_new();
    mime_load_file(gs->mime, "/etc/mime.types");
    gs->host = s->nhost_names ? s->host_names[0] : NULL;
    gs->admin_name = opt_str(eff, "admin_name");
    gs->admin_email = opt_str(eff, "admin_email");
    gs->site_name = opt_str(eff, "gopher_site");
    gs->organization = opt_str(eff, "gopher_organization");
    gs->location = opt_str(eff, "gopher_location");
    gs->geography = opt_str(eff, "gopher_geography");
    gs->language = opt_str(eff, "gopher_language");
    return 0;
}

static void gopher_free_site(struct site *s)
{
    struct gopher_site *gs = s->svc_data;

    if (gs == NULL)
        return;
    mime_free(gs->mime);
    free(gs->admin_name);
    free(gs->admin_email);
    free(gs->site_name);
    free(gs->organization);
    free(gs->location);
    free(gs->geography);
    free(gs->language);
    free(gs);
    s->svc_data = NULL;
}

const struct service gopher_service = {
    .name = "gopher",
    .mb_service = MB_SVC_GOPHER,
    .accept = gopher_conn_accept,
    .close = gopher_close,
    .drain = gopher_drain,
    .free = gopher_free,
    .counters = STAT_BIT(STAT_BYTES_SENT) | STAT_BIT(STAT_BYTES_RECEIVED) |
                STAT_BIT(STAT_FILES_SENT) | STAT_BIT(STAT_MENUS_SENT) |
                STAT_BIT(STAT_TOTAL_CONNECTIONS) | STAT_BIT(STAT_CONNECTION_ATTEMPTS) |
                STAT_BIT(STAT_TOTAL_REQUESTS) | STAT_BIT(STAT_NOT_FOUND_ERRORS) |
                STAT_BIT(STAT_CURRENT_CONNECTIONS) | STAT_BIT(STAT_MAX_CONNECTIONS) |
                STATS_CERT_COUNTERS | STATS_LOG_COUNTERS,
    .busy_reply = "3The site has too many connections right now; try again later.\t"
                  "error.host\t1\r\n.\r\n",
    .tls_scheme = "gophers://",
    .compile_site = gopher_compile_site,
    .free_site = gopher_free_site,
};
