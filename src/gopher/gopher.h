/*
 * gopher: the Gopher service's table of operations and its per-site
 * settings (compiled into the generation; read-only afterwards, read by
 * every worker).
 */
#ifndef GOPHER_GOPHER_H
#define GOPHER_GOPHER_H

#include "runtime/gen.h"
#include "runtime/service.h"

struct mime_map;

struct gopher_site {
    struct mime_map *mime;
    const char *host;          /* host name menus advertise (host_names[0]); NULL: the local address */
    char *admin_name, *admin_email;
    char *site_name, *organization, *location, *geography, *language;
};

extern const struct service gopher_service;

/** The Gopher settings of S, or NULL while no site is chosen. */
static inline const struct gopher_site *gopher_site_of(const struct site *s)
{
    return s ? s->svc_data : NULL;
}

#endif
