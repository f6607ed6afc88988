/*
 * challenge: the answers the servers give to an ACME CA while an order is in
 * progress — HTTP-01 key authorizations by token (the WWW service answers
 * /.well-known/acme-challenge/TOKEN) and TLS-ALPN-01 contexts by host name
 * (the TLS transport serves them to a client offering only "acme-tls/1").
 * The ACME thread puts and removes answers; workers read them. Bounded
 * (CHALLENGE_MAX of each kind); safe from any thread (one mutex).
 */
#ifndef RUNTIME_CHALLENGE_H
#define RUNTIME_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st;

#define CHALLENGE_MAX 64
#define CHALLENGE_TOKEN_MAX 128  /* base64url token bytes */
#define CHALLENGE_ANSWER_MAX 256 /* key authorization bytes */
#define CHALLENGE_HTTP_PREFIX "/.well-known/acme-challenge/"

/** Answer TOKEN with KEYAUTH until removed. -1 when full or either is too long. */
int challenge_http_put(const char *token, const char *keyauth);
/** Copy the answer to TOKEN[0..LEN) into OUT (NUL-terminated): its length, or -1 when none. */
int challenge_http_get(const char *token, size_t len, char *out, size_t cap);
/** Stop answering TOKEN. */
void challenge_http_remove(const char *token);
/** Serve CTX (a reference is taken) to acme-tls/1 clients naming NAME. -1 when full. */
int challenge_tls_put(const char *name, struct ssl_ctx_st *ctx);
/** A new reference to the context for NAME[0..LEN) (any case), or NULL. */
struct ssl_ctx_st *challenge_tls_get(const char *name, size_t len);
/** Stop serving NAME and drop the store's reference. */
void challenge_tls_remove(const char *name);
/** True when the ALPN list P[0..LEN) (a ClientHello extension body) offers acme-tls/1. */
bool challenge_alpn_offered(const unsigned char *p, size_t len);

#endif
