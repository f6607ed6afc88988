/*
 * static: the static-file handler — answers a request from its site's
 * virtual directories (method checks, path normalisation, the open-file
 * cache, default documents, directory listings, conditionals, ranges,
 * redirects to TLS) through any encoder (www/req.h). Also the accounting
 * every WWW response goes through: statistics and the access log line.
 * Worker thread only.
 */
#ifndef WWW_STATIC_H
#define WWW_STATIC_H

#include <stdbool.h>
#include <stdint.h>

#include "www/req.h"

struct site;

/** True for the methods a static directory serves (GET, HEAD, OPTIONS). */
bool www_static_accepts(enum http_method m);
/** The static-file handler (a www_handler_fn). */
int www_static_handle(const struct www_req *req, struct www_res *res);
/**
 * Count a response of STATUS that queued BYTES on REQ's session (REQ may
 * stand for an unparsable request, with method HTTP_M_UNKNOWN and empty
 * fields) and write its access-log line to SITE's log.
 */
void www_account(const struct www_req *req, const struct site *site, int status, uint64_t bytes,
                 bool file_sent);

#endif
