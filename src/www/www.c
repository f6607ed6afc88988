/* www: the WWW service's table of operations and its per-site settings. */
#include "www/www.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "metabase/mb.h"
#include "metabase/props.h"
#include "runtime/config.h"
#include "runtime/stats.h"
#include "www/conn.h"
#include "www/dirlist.h"
#include "www/h2.h"
#include "runtime/mime.h"

static const struct config_name compression_names[] = {{"off", COMPRESSION_OFF},
                                                      {"static", COMPRESSION_STATIC},
                                                      {"on", COMPRESSION_ON},
                                                      {NULL, 0}};

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
    struct www_conn *c = www_conn_of(s);

    if (c->waiting > 0) { /* a handler's check still has to answer: its wake frees */
        c->orphan = true;
        return;
    }
    free(c);
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

/* compression_types, checked by the property table, in lower case. */
static void www_compression_types(struct vdir *v, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "compression_types"), *it;
    size_t i;

    v->compression_types = xcalloc(json_array_size(list) + 1, sizeof(char *));
    json_array_foreach (list, i, it) {
        char *t = xstrdup(json_string_value(it) ? json_string_value(it) : "");
        for (char *p = t; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        v->compression_types[v->ncompression_types++] = t;
    }
}

static const struct config_name auth_props[] = {
    {"auth_anonymous", VDIR_AUTH_ANONYMOUS}, {"auth_basic", VDIR_AUTH_BASIC},
    {"auth_basic_insecure", VDIR_AUTH_INSECURE}, {NULL, 0}};

/* script_map: ".ext" (or "ext") -> an absolute interpreter path. */
static int www_script_map(struct vdir *v, const json_t *eff, const char *key, struct mb_error *err)
{
    const json_t *map = json_object_get(eff, "script_map"), *val;
    const char *ext;

    v->scripts = xcalloc(json_object_size(map) + 1, sizeof(*v->scripts));
    json_object_foreach ((json_t *)(uintptr_t)map, ext, val) {
        const char *interp = json_string_value(val);
        struct vdir_script *sc = &v->scripts[v->nscripts];
        if (interp == NULL || interp[0] != '/' || access(interp, X_OK) == -1)
            return mb_fail(err, MB_E_APPLY_FAILED, key, "script_map",
                           "%s: script_map \"%s\": %s is not an executable file given by its "
                           "absolute path",
                           key, ext, interp ? interp : "?");
        sc->ext = xmalloc(strlen(ext) + 2);
        sc->ext[0] = '.';
        strcpy(sc->ext + 1, ext[0] == '.' ? ext + 1 : ext);
        for (char *p = sc->ext; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        sc->interpreter = xstrdup(interp);
        v->nscripts++;
    }
    return 0;
}

static int www_compile_vdir(struct vdir *v, const json_t *eff, const char *key,
                            struct mb_error *err)
{
    const char *realm = config_str(eff, "auth_realm");

    v->browse = json_is_true(json_object_get(eff, "directory_browsing"));
    v->browse_flags = config_flags_of(eff, browse_props);
    v->auth = config_flags_of(eff, auth_props);
    snprintf(v->realm, sizeof(v->realm), "%s", realm);
    v->cgi_timeout_ms = (uint32_t)json_integer_value(json_object_get(eff, "cgi_timeout")) * 1000;
    v->cgi_max = (uint32_t)json_integer_value(json_object_get(eff, "cgi_max_processes"));
    v->compression = (enum vdir_compression)config_value(eff, "compression", compression_names);
    v->compression_min = (uint64_t)config_int(eff, "compression_min_size");
    www_compression_types(v, eff);
    return www_script_map(v, eff, key, err);
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
                STAT_BIT(STAT_ACCESS_DENIED) | STAT_BIT(STAT_LOGON_ATTEMPTS) |
                STAT_BIT(STAT_FILES_RECEIVED) |
                STAT_BIT(STAT_FILES_COMPRESSED) |
                STAT_BIT(STAT_CURRENT_CONNECTIONS) | STAT_BIT(STAT_MAX_CONNECTIONS) |
                STATS_CERT_COUNTERS | STATS_LOG_COUNTERS,
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
