/*
 * range: byte-range requests (RFC 9110 section 14) and the multipart/byteranges
 * framing around them. Pure functions, callable from any thread.
 */
#ifndef WWW_RANGE_H
#define WWW_RANGE_H

#include <stddef.h>
#include <stdint.h>

struct byte_range {
    uint64_t first, last; /* inclusive */
};

enum range_result {
    RANGE_NONE = 0,          /* no usable Range header (absent or invalid syntax): send 200 */
    RANGE_OK = 1,            /* *count satisfiable ranges, sorted and coalesced */
    RANGE_UNSATISFIABLE = 2, /* 416, with Content-Range: bytes * / size */
    RANGE_TOO_MANY = 3,      /* more than max ranges after coalescing: 416 */
};

/**
 * Parse a Range header value against a representation of SIZE bytes. Ranges
 * are sorted and overlapping or adjacent ones merged; at most MAX are kept.
 */
enum range_result range_parse(const char *s, size_t n, uint64_t size, struct byte_range *out,
                              size_t max, size_t *count);

/** Build a 20-hex-digit boundary from a seed; out needs 21 bytes. */
void range_boundary(uint64_t seed, char *out);

/**
 * Write the part header preceding one range of a multipart/byteranges body
 * ("\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes a-b/size\r\n\r\n"; the
 * first part has no leading CRLF) into out; returns its length, or 0 if cap
 * is too small.
 */
size_t range_part_header(char *out, size_t cap, const char *boundary, const char *type,
                         const struct byte_range *r, uint64_t size, int first);

/** Write the closing delimiter "\r\n--B--\r\n"; returns its length or 0. */
size_t range_part_trailer(char *out, size_t cap, const char *boundary);

/** Exact Content-Length of the multipart body for these ranges. */
uint64_t range_multipart_length(const char *boundary, const char *type,
                                const struct byte_range *r, size_t count, uint64_t size);

#endif
