/*
 * api: the admin API v1 router and handlers (docs/admin-api.md). Called with
 * the API lock held, from admin connection threads; it reads and commits the
 * metabase and asks the workers (sessions, caches) through server.h.
 */
#ifndef ADMIN_API_H
#define ADMIN_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "admin/accounts.h"
#include "core/buf.h"

struct mb;

struct api_request {
    const char *method;
    const char *path;        /* decoded path, without the query */
    const char *query;       /* raw query string or "" */
    const char *if_match;    /* header value or NULL */
    const char *body;        /* NULL when none */
    size_t body_len;
    const char *identity;    /* "local:0", "token:admin" */
    const char *address;     /* client address */
    enum role role;
};

struct api_response {
    int status;
    const char *content_type; /* static */
    struct buf body;
    char etag[32];            /* "" when none */
    unsigned retry_after;
};

/** Initialise the API with the daemon's metabase. */
void api_init(struct mb *mb, const char *state_dir);
/** Answer one request. */
void api_handle(const struct api_request *rq, struct api_response *rs);
/** The capabilities this build serves in GET /api (a new array). */
json_t *api_capabilities(void);
/** Fill RS with a JSON error. */
void api_error(struct api_response *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
