/*
 * cond: conditional requests (RFC 9110 section 13) against a representation's
 * ETag and modification time. Pure functions, callable from any thread.
 */
#ifndef WWW_COND_H
#define WWW_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "www/req.h"

#define ETAG_MAX 48

/** Write a strong ETag ("\"<mtime s hex>-<mtime ns hex>-<size hex>\"") into out; returns its length (0 if cap is too small). */
size_t cond_make_etag(char *out, size_t cap, uint64_t size, int64_t mtime_sec, long mtime_nsec);

/**
 * Evaluate the preconditions of REQ (If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since, in the RFC 9110 13.2.2 order) for a
 * representation with ETAG and MTIME. Returns 0 to proceed, 304 or 412.
 */
int cond_evaluate(const struct www_req *req, const char *etag, size_t etag_len, time_t mtime);

/** True when an If-Range value (an ETag or a date) still matches. */
bool cond_if_range(struct http_str if_range, const char *etag, size_t etag_len, time_t mtime);

#endif
