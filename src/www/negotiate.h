/*
 * negotiate: content-coding negotiation (RFC 9110 12.5.3) — what an
 * Accept-Encoding value allows of the codings a static file can be sent
 * with (identity, gzip, br), and which one to send. Pure functions, no
 * allocation, callable from any thread.
 */
#ifndef WWW_NEGOTIATE_H
#define WWW_NEGOTIATE_H

#include <stddef.h>
#include <stdint.h>

enum coding { CODING_IDENTITY, CODING_GZIP, CODING_BR, CODINGS };

#define CODING_BIT(c) (1u << (c))
#define QVALUE_MAX 1000 /* weights are kept in thousandths: q=1 is 1000 */

/* The weight each coding gets from an Accept-Encoding value, 0 (not acceptable) to 1000. */
struct accept_codings {
    uint16_t q[CODINGS];
};

/**
 * The weights the Accept-Encoding value S[0..N) gives identity, gzip (also
 * spelled x-gzip) and br: an explicit entry first, else "*", else 0 for
 * gzip and br and 1000 for identity. Malformed elements are ignored; the
 * first of several entries for one coding counts.
 */
void negotiate_accept_encoding(const char *s, size_t n, struct accept_codings *out);

/**
 * The coding to send among AVAILABLE (CODING_BIT set; identity is always
 * available): the highest weight, ties going to br, then gzip, then
 * identity. Identity when nothing available is acceptable.
 */
enum coding negotiate_choose(const struct accept_codings *a, unsigned available);

/** The coding's name as Content-Encoding writes it ("gzip", "br"; "identity"). */
const char *negotiate_coding_name(enum coding c);

#endif
