/*
 * api_int: helpers shared by the admin API handler files (api.c, api_ops.c).
 * Internal to src/admin; same threading rules as api.h.
 */
#ifndef ADMIN_API_INT_H
#define ADMIN_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "admin/api.h"
#include "metabase/mb.h"

/** Answer STATUS with J (reference stolen). */
void api_reply_json(struct api_response *rs, int status, json_t *j);
/** Answer with a metabase error, mapped to its HTTP status. */
void api_reply_mb_error(struct api_response *rs, const struct mb_error *e);
/** Answer {"revision": REV} or the error. */
void api_reply_new_rev(struct api_response *rs, int rc, uint64_t rev, const struct mb_error *e);
/** Raw value of NAME in the query string. */
bool api_query_get(const char *q, const char *name, char *out, size_t cap);
/** True when NAME is present as 1/true (or bare). */
bool api_query_flag(const char *q, const char *name);
/** Decimal NAME from the query. */
bool api_query_u64(const char *q, const char *name, uint64_t *out);
/** Strict decimal. */
bool api_parse_u64(const char *s, uint64_t *out);
/** The body as a JSON object, or NULL after answering 400. */
json_t *api_body_object(const struct api_request *rq, struct api_response *rs);
/** False (after answering 400) when BODY has a field not in KNOWN. */
bool api_body_known(json_t *body, const char *const *known, struct api_response *rs);
/** The body's "comment" or "". */
const char *api_body_comment(json_t *body);
/** Commit OPS as one revision and answer. */
void api_commit(const struct api_request *rq, struct api_response *rs, json_t *ops, int64_t base,
                const char *comment, bool dry, int ok_status);
/** {"op": OP, "key": KEY} */
json_t *api_op_new(const char *op, const char *key);
/** Handlers in api.c, routed from api_ops.c. */
void api_route_config(const struct api_request *rq, struct api_response *rs);
void api_route_commits(const struct api_request *rq, struct api_response *rs);
void api_route_revisions(const struct api_request *rq, struct api_response *rs);
void api_route_diff(const struct api_request *rq, struct api_response *rs);
void api_route_rollback(const struct api_request *rq, struct api_response *rs);
void api_route_import(const struct api_request *rq, struct api_response *rs);
void api_route_backups(const struct api_request *rq, struct api_response *rs);
/** FTP users (api_ftp.c). */
void api_route_ftp_users(const struct api_request *rq, struct api_response *rs);
/** Certificates of TLS sites (api_certs.c). */
void api_route_certificates(const struct api_request *rq, struct api_response *rs);
/** The access log of sites logging to SQLite (api_log.c). */
void api_route_log(const struct api_request *rq, struct api_response *rs);
/** The services and their sites with state and bindings, as GET /api/v1/services lists them. */
json_t *api_services_json(void);
/** The statistics of the slots matching SERVICE and SITE ("" = any), cleared after reading when CLEAR. */
json_t *api_stats_json(const char *service, const char *site, bool clear);
/** The property table as GET /api/v1/schema answers it (api_schema.c). */
json_t *api_schema_json(void);
/** When api_init ran: the daemon's start. */
time_t api_started(void);
/** The metabase handle given to api_init. */
struct mb *api_metabase(void);

#endif
