/*
 * proto: the parts of ACME's HTTP answers a CA controls, parsed strictly —
 * the headers the client reads (Replay-Nonce, Location, Retry-After, Link
 * rel="up", Content-Type) and RFC 7807 problem documents. Pure functions on
 * caller-owned memory; fuzzed (fuzz/fuzz_acme_proto.c). Any thread.
 */
#ifndef ACME_PROTO_H
#define ACME_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ACME_NONCE_MAX 256
#define ACME_URL_MAX 1024
#define ACME_PROBLEM_MAX 512
#define ACME_RETRY_AFTER_MAX 86400 /* a longer Retry-After is taken as a day */

/* What the client keeps of one answer's headers. */
struct acme_headers {
    char nonce[ACME_NONCE_MAX];     /* Replay-Nonce, "" when absent or malformed */
    char location[ACME_URL_MAX];    /* Location */
    char link_up[ACME_URL_MAX];     /* Link: <URL>;rel="up" (the issuer chain) */
    char content_type[128];         /* media type, lower case, without parameters */
    long retry_after;               /* Retry-After in seconds from now; -1 when absent */
};

/* An RFC 7807 problem document, as much of it as the logs need. */
struct acme_problem {
    char type[160];                 /* "urn:ietf:params:acme:error:badNonce" */
    char detail[ACME_PROBLEM_MAX];  /* the CA's words, control characters replaced */
    int status;
};

/** Reset H before an answer's headers arrive. */
void acme_headers_reset(struct acme_headers *h);
/**
 * Take one header line P[0..N) (as libcurl hands them, CRLF included) into H,
 * NOW being the current time (for an HTTP-date Retry-After). Unknown or
 * malformed headers are ignored.
 */
void acme_header_line(struct acme_headers *h, const char *p, size_t n, time_t now);
/**
 * Seconds of a Retry-After value P[0..N) at NOW: delta-seconds or an
 * HTTP-date, at most ACME_RETRY_AFTER_MAX; -1 if neither.
 */
long acme_retry_after(const char *p, size_t n, time_t now);
/**
 * Parse a problem document BODY[0..N) into PR. -1 (PR with the HTTP status
 * only) when it is not a JSON object with a string "type".
 */
int acme_problem_parse(const char *body, size_t n, int status, struct acme_problem *pr);
/** True when PR's type is the ACME error NAME ("badNonce", "rateLimited"). */
bool acme_problem_is(const struct acme_problem *pr, const char *name);

#endif
