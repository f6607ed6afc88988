/* www: the WWW service's table of operations and its per-site settings. */
#include "www/www.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "metabase/props.h"
#include "runtime/config.h"
#include "runtime/stats.h"
#include "www/conn.h"
#include "www/dirlist.h"
#include "www/h2.h"
#include "runtime/mime.h"

static const struct config_name browse_props[] = {
    {"browse_show_date", DIRLIST_DATE},     {"browse_show_time", DIRLIST_TIME},
    {"browse_show_size", DIRLIST_SIZE},     {"browse_show_extension", DIRLIST_EXTENSION},
    {"browse_long_date", DIRLIST_LONGDATE}, {NULL, 0}};

static void www_close(struct session *s)
{
    www_conn_close(www_conn_of(s));
}

static void www_drain(struct session *s)
{
    www_conn_drain(www_conn_of(s));
}

static void www_retire(struct session *s)
{
    www_conn_retire(www_conn_of(s));
}

/* Sessions say which protocol they speak; HTTP/2 ones how many streams are open. */
static void www_describe(const struct session *s, json_t *out)
{
    const struct www_conn *c = (const struct www_conn *)(const void *)s;

    json_object_set_new(out, "protocol", json_string(c->h2 ? "HTTP/2" : "HTTP/1.1"));
    if (c->h2)
        json_object_set_new(out, "streams", json_integer((json_int_t)h2_streams(c)));
}

static void www_free(struct session *s)
{
    free(www_conn_of(s));
}

/* Default documents and MIME overrides, as the home directory sees them. */
static int www_compile_site(struct site *s, const json_t *eff, const json_t *root,
                            const char *key, struct mb_error *err)
{
    struct www_site *ws = xcalloc(1, sizeof(*ws));
    const json_t *docs = json_object_get(root, "default_documents"), *v;
    const char *ext;
    size_t i;

    (void)key;
    (void)err;
    s->svc_data = ws;
    ws->header_timeout_ms = (uint32_t)config_int(eff, "header_timeout") * 1000;
    ws->max_body = (uint64_t)config_int(eff, "max_body");
    ws->default_docs = xcalloc(json_array_size(docs) + 1, sizeof(char *));
    json_array_foreach (docs, i, v)
        ws->default_docs[ws->ndefault_docs++] = xstrdup(json_string_value(v));
    ws->mime = mime_new();
    mime_load_file(ws->mime, "/etc/mime.types");
    json_object_foreach (json_object_get(root, "mime_map"), ext, v)
        mime_set(ws->mime, ext, json_string_value(v));
    return 0;
}

static void www_compile_vdir(struct vdir *v, const json_t *eff)
{
    v->browse = json_is_true(json_object_get(eff, "directory_browsing"));
    v->browse_flags = config_flags_of(eff, browse_props);
}

static void www_free_site(struct site *s)
{
    struct www_site *ws = s->svc_data;

    for (size_t i = 0; i < ws->ndefault_docs; i++)
        free(ws->default_docs[i]);
    free(ws->default_docs);
    if (ws->mime)
        mime_free(ws->mime);
    free(ws);
    s->svc_data = NULL;
}

/* HTTP/2 first; a client offering neither, or no ALPN, gets HTTP/1.1. */
static const unsigned char www_alpn[] = "\x02h2\x08http/1.1";

const struct service www_service = {
    .name = "www",
    .mb_service = MB_SVC_WWW,
    .accept = www_conn_accept,
    .close = www_close,
    .drain = www_drain,
    .retire = www_retire,
    .describe = www_describe,
    .free = www_free,
    /* the counters were the WWW service's first */
    .counters = STAT_BIT(STAT_BYTES_SENT) | STAT_BIT(STAT_BYTES_RECEIVED) |
                STAT_BIT(STAT_FILES_SENT) | STAT_BIT(STAT_TOTAL_CONNECTIONS) |
                STAT_BIT(STAT_CONNECTION_ATTEMPTS) | STAT_BIT(STAT_GET_REQUESTS) |
                STAT_BIT(STAT_HEAD_REQUESTS) | STAT_BIT(STAT_OTHER_REQUESTS) |
                STAT_BIT(STAT_TOTAL_REQUESTS) | STAT_BIT(STAT_NOT_FOUND_ERRORS) |
                STAT_BIT(STAT_ACCESS_DENIED) |
                STAT_BIT(STAT_CURRENT_CONNECTIONS) | STAT_BIT(STAT_MAX_CONNECTIONS) |
                STATS_CERT_COUNTERS,
    .busy_reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 45\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
                  "The site has too many connections right now.\n",
    .tls_scheme = "https://",
    .alpn = www_alpn,
    .alpn_len = sizeof(www_alpn) - 1,
    .compile_site = www_compile_site,
    .compile_vdir = www_compile_vdir,
    .free_site = www_free_site,
};
