/*
 * auth: who may read a WWW directory — anonymous requests and HTTP Basic
 * (RFC 7617) against the metabase users (the same users FTP logs in). A
 * password is checked by argon2id on the auth thread (ftp/auth.h): the
 * request is suspended meanwhile and handed back once the answer is in
 * the worker's cache of verified credentials, so a keep-alive client pays
 * argon2id once, not per request. Failures are rate-limited per client
 * address. Worker threads only; each worker keeps its own cache.
 */
#ifndef WWW_AUTH_H
#define WWW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "www/req.h"

struct vdir;

#define WWW_AUTH_USER_MAX 64
#define WWW_AUTH_PASS_MAX 256

/**
 * Decode the credentials of an Authorization header value "Basic TOKEN"
 * (scheme case-insensitive) into USER and PASS (NUL-terminated). Returns 0,
 * or -1 when it is not Basic, not base64, has no ':' or is too long.
 */
int www_auth_parse_basic(const char *v, size_t n, char user[WWW_AUTH_USER_MAX],
                         char pass[WWW_AUTH_PASS_MAX]);

/**
 * Decide whether REQ may read directory V: 0 when it may (the session's
 * user is set for a logged-in user), WWW_SUSPENDED while a password is
 * being checked, or the status of the refusal written to RES (401 with a
 * challenge, 403, 429, 503).
 */
int www_auth_check(const struct www_req *req, struct www_res *res, const struct vdir *v);

#endif
