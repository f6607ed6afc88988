/*
 * ftp: the FTP service's table of operations, its per-site settings and
 * the named users of the generation (both compiled from the metabase,
 * read-only afterwards, read by every worker).
 */
#ifndef FTP_FTP_H
#define FTP_FTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftp/list.h"
#include "runtime/gen.h"
#include "runtime/service.h"

enum ftp_tls_mode { FTP_TLS_OFF, FTP_TLS_ALLOW, FTP_TLS_REQUIRE };

struct ftp_site {
    bool allow_anonymous, anonymous_only;
    char **greeting, **welcome, **exit_msg, **busy_msg; /* NULL-terminated line lists */
    enum ftp_list_style listing;
    unsigned pasv_min, pasv_max;
    uint32_t data_timeout_ms;
    uint32_t max_per_address;
    enum ftp_tls_mode tls;
};

struct ftp_user {
    char *name;
    char *hash;   /* argon2id string; NULL: no password set, no login */
    char *home;   /* absolute within the site, no trailing '/' ("" for the whole site) */
    bool enabled;
};

struct ftp_users {
    struct ftp_user *u; /* sorted by name */
    size_t n;
};

extern const struct service ftp_service;

/** The FTP settings of S, or NULL while no site is chosen. */
static inline const struct ftp_site *ftp_site_of(const struct site *s)
{
    return s ? s->svc_data : NULL;
}

/** The named user NAME of generation G, or NULL. */
const struct ftp_user *ftp_user_find(const struct gen *g, const char *name);

#endif
