/*
 * static: answers a parsed request from the site's virtual directories —
 * method checks, path normalisation, the open-file cache, default documents,
 * directory listings, conditionals and ranges — into the connection's output
 * queue, and records statistics and the access log line. Worker thread only.
 */
#ifndef WWW_STATIC_H
#define WWW_STATIC_H

#include "www/conn.h"
#include "www/http1.h"

/** True for the methods a static directory serves (GET, HEAD, OPTIONS). */
bool www_static_accepts(enum http_method m);
/** Queue the complete response to REQ on C (c->close_after already decided). */
void www_static_handle(struct www_conn *c, const struct http1_req *req);
/** Queue an error response and account for it like any request (stats, access log). */
void www_static_error(struct www_conn *c, const struct http1_req *req, int status,
                      const char *reason);

#endif
