/*
 * www: the WWW service as the runtime sees it — its operations table
 * (accept, close, drain, describe, compile) and the settings it keeps per
 * site on top of the shared site core. Registered once by the composition
 * root; the table is read by every thread.
 */
#ifndef WWW_WWW_H
#define WWW_WWW_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/gen.h"
#include "runtime/service.h"

struct mime_map;

/* What a WWW site adds to struct site (s->svc_data). */
struct www_site {
    char **default_docs;
    size_t ndefault_docs;
    struct mime_map *mime;
    uint32_t header_timeout_ms;
    uint64_t max_body;
};

/** The WWW service's operations. */
extern const struct service www_service;

/** The WWW settings of site S (NULL for NULL). */
static inline const struct www_site *www_site_of(const struct site *s)
{
    return s ? (const struct www_site *)s->svc_data : NULL;
}

#endif
