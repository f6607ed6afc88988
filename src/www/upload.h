/*
 * upload: PUT and DELETE in access_write directories. A PUT body is written
 * to a temporary file beside the target, synced, then renamed over it, so
 * a cut-off upload never replaces the old file and a crash leaves either
 * the old or the new one. Worker threads; the body arrives through a
 * detached response (www/req.h).
 */
#ifndef WWW_UPLOAD_H
#define WWW_UPLOAD_H

#include <stddef.h>

#include "www/req.h"

struct vdir;

/** Answer PUT of REL (normalised, no leading '/') beneath V: 201, 204, or an error status. */
int www_upload_put(const struct www_req *req, struct www_res *res, const struct vdir *v,
                   const char *rel, size_t rlen);
/** Answer DELETE of REL beneath V: 204, or an error status. */
int www_upload_delete(const struct www_req *req, struct www_res *res, const struct vdir *v,
                      const char *rel, size_t rlen);

#endif
