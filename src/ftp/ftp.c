/* ftp: the FTP service's table, site settings and users. */
#include "ftp/ftp.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"
#include "ftp/ctrl.h"
#include "metabase/mb.h"
#include "metabase/props.h"
#include "runtime/config.h"
#include "runtime/stats.h"

static const struct config_name listing_names[] = {{"unix", FTP_LIST_UNIX},
                                                  {"msdos", FTP_LIST_MSDOS},
                                                  {NULL, 0}};
static const struct config_name tls_names[] = {{"off", FTP_TLS_OFF},
                                              {"allow", FTP_TLS_ALLOW},
                                              {"require", FTP_TLS_REQUIRE},
                                              {NULL, 0}};

static void ftp_close(struct session *s)
{
    ftp_ctrl_close(ftp_conn_of(s));
}

static void ftp_drain(struct session *s)
{
    ftp_ctrl_drain(ftp_conn_of(s));
}

static void ftp_free(struct session *s)
{
    ftp_ctrl_free(ftp_conn_of(s));
}

static char **lines_of(const json_t *eff, const char *name)
{
    const json_t *list = json_object_get(eff, name), *v;
    char **out = xcalloc(json_array_size(list) + 1, sizeof(char *));
    size_t i;

    json_array_foreach (list, i, v)
        out[i] = xstrdup(json_string_value(v));
    return out;
}

static void lines_free(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

static int ftp_compile_site(struct site *s, const json_t *eff, const json_t *root,
                            const char *key, struct mb_error *err)
{
    struct ftp_site *fs = xcalloc(1, sizeof(*fs));

    (void)root;
    s->svc_data = fs;
    fs->allow_anonymous = json_is_true(json_object_get(eff, "allow_anonymous"));
    fs->anonymous_only = json_is_true(json_object_get(eff, "anonymous_only"));
    fs->greeting = lines_of(eff, "ftp_greeting");
    fs->welcome = lines_of(eff, "ftp_welcome");
    fs->exit_msg = lines_of(eff, "ftp_exit_message");
    fs->busy_msg = lines_of(eff, "ftp_max_clients_message");
    fs->listing = (enum ftp_list_style)config_value(eff, "listing_style", listing_names);
    fs->pasv_min = (unsigned)config_int(eff, "passive_port_min");
    fs->pasv_max = (unsigned)config_int(eff, "passive_port_max");
    fs->data_timeout_ms = (uint32_t)config_int(eff, "data_timeout") * 1000;
    fs->max_per_address = (uint32_t)config_int(eff, "max_connections_per_address");
    fs->tls = (enum ftp_tls_mode)config_value(eff, "ftp_tls", tls_names);
    s->tls_wanted = fs->tls != FTP_TLS_OFF;
    if (fs->pasv_min > fs->pasv_max || (fs->pasv_min == 0) != (fs->pasv_max == 0))
        return mb_fail(err, MB_E_APPLY_FAILED, key, "passive_port_min",
                       "%s: passive_port_min %u and passive_port_max %u do not make a range "
                       "(both 0 for any port, or min <= max)", key, fs->pasv_min, fs->pasv_max);
    return 0;
}

static void ftp_free_site(struct site *s)
{
    struct ftp_site *fs = s->svc_data;

    if (fs == NULL)
        return;
    lines_free(fs->greeting);
    lines_free(fs->welcome);
    lines_free(fs->exit_msg);
    lines_free(fs->busy_msg);
    free(fs);
    s->svc_data = NULL;
}

/* ---- users: /ftp/users/NAME ---- */

static void user_fill(struct ftp_user *u, const char *name, const json_t *eff)
{
    const char *hash = json_string_value(json_object_get(eff, "password_hash"));
    const char *home = json_string_value(json_object_get(eff, "home_directory"));
    size_t n = home ? strlen(home) : 0;

    while (n > 0 && home[n - 1] == '/')
        n--;
    u->name = xstrdup(name);
    u->hash = hash && *hash ? xstrdup(hash) : NULL;
    u->home = xstrndup(home ? home : "", n);
    u->enabled = json_is_true(json_object_get(eff, "enabled"));
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ftp_user *)a)->name, ((const struct ftp_user *)b)->name);
}

static void ftp_free_users(void *data)
{
    struct ftp_users *us = data;

    for (size_t i = 0; i < us->n; i++) {
        free(us->u[i].name);
        if (us->u[i].hash)
            sodium_memzero(us->u[i].hash, strlen(us->u[i].hash));
        free(us->u[i].hash);
        free(us->u[i].home);
    }
    free(us->u);
    free(us);
}

static int ftp_compile_users(struct mb *mb, void **out, struct mb_error *err)
{
    struct ftp_users *us = xcalloc(1, sizeof(*us));
    char **names, key[128];
    size_t n;

    *out = us;
    if (mb_keys(mb, "/ftp/users", &names, &n) == -1)
        return 0;
    us->u = xcalloc(n + 1, sizeof(*us->u));
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/ftp/users/%s", names[i]);
        json_t *eff = mb_effective(mb, key);
        if (eff == NULL) {
            mb_keys_free(names, n);
            return mb_fail(err, MB_E_APPLY_FAILED, key, NULL, "%s cannot be read", key);
        }
        user_fill(&us->u[us->n++], names[i], eff);
        json_decref(eff);
    }
    mb_keys_free(names, n);
    qsort(us->u, us->n, sizeof(*us->u), user_cmp);
    return 0;
}

const struct ftp_user *ftp_user_find(const struct gen *g, const char *name)
{
    const struct ftp_users *us = gen_service_data(g, &ftp_service);
    struct ftp_user key = {.name = (char *)(uintptr_t)name};

    if (us == NULL || us->n == 0)
        return NULL;
    return bsearch(&key, us->u, us->n, sizeof(*us->u), user_cmp);
}

static const unsigned char ftp_alpn[] = "\x03" "ftp";

const struct service ftp_service = {
    .name = "ftp",
    .mb_service = MB_SVC_FTP,
    .accept = ftp_ctrl_accept,
    .close = ftp_close,
    .drain = ftp_drain,
    .free = ftp_free,
    .describe = ftp_ctrl_describe,
    .counters = STAT_BIT(STAT_BYTES_SENT) | STAT_BIT(STAT_BYTES_RECEIVED) |
                STAT_BIT(STAT_FILES_SENT) | STAT_BIT(STAT_FILES_RECEIVED) |
                STAT_BIT(STAT_TOTAL_CONNECTIONS) | STAT_BIT(STAT_CONNECTION_ATTEMPTS) |
                STAT_BIT(STAT_LOGON_ATTEMPTS) | STAT_BIT(STAT_NOT_FOUND_ERRORS) |
                STAT_BIT(STAT_CURRENT_CONNECTIONS) | STAT_BIT(STAT_MAX_CONNECTIONS) |
                STAT_BIT(STAT_CURRENT_ANONYMOUS) | STAT_BIT(STAT_MAX_ANONYMOUS) |
                STAT_BIT(STAT_CURRENT_NONANONYMOUS) | STAT_BIT(STAT_MAX_NONANONYMOUS) |
                STATS_CERT_COUNTERS | STATS_LOG_COUNTERS,
    .busy_reply = "421 The site has too many connections right now; try again later.\r\n",
    .tls_scheme = "ftps://",
    .alpn = ftp_alpn,
    .alpn_len = sizeof(ftp_alpn) - 1,
    .compile_site = ftp_compile_site,
    .free_site = ftp_free_site,
    .compile_service = ftp_compile_users,
    .free_service = ftp_free_users,
};
