/*
 * tls: TLS on the worker loops — the server context of each TLS site (built
 * when a generation is compiled, owned by it), the session-ticket keys every
 * context shares (rotated hourly, so a ticket outlives neither its key nor
 * three hours), the choice of site and certificate by SNI before the version
 * is negotiated, ALPN from the service, and the non-blocking TLS transport:
 * it reads through a socket BIO with read-ahead and writes records into its
 * own buffer, sent in large writes, so that a response's header and body
 * records leave in as few system calls as the socket takes.
 * Contexts are built on the main or admin thread; transports live on one
 * worker thread each.
 */
#ifndef RUNTIME_TLS_H
#define RUNTIME_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/xport.h"

struct binding;
struct service;
struct session;
struct site;
struct ssl_ctx_st;

#define TLS_PROTO_12 (1u << 0)
#define TLS_PROTO_13 (1u << 1)
#define TLS_HANDSHAKE_TIMEOUT_MS 10000
#define TLS_OUT_MAX 65536 /* TLS records made ahead of the socket, per connection */

/** Process-wide set-up (the ticket keys); call once before any context is built. */
void tls_init(void);
/**
 * A server context for CERT_FILE (PEM chain) and KEY_FILE accepting PROTOCOLS
 * (TLS_PROTO_* bits), offering SVC's ALPN protocols; NULL with ERR filled.
 */
struct ssl_ctx_st *tls_ctx_new(const char *cert_file, const char *key_file, unsigned protocols,
                               const struct service *svc, char *err, size_t errlen);
/**
 * A TLS transport over accepted socket FD on binding B (its default site's
 * context until SNI chooses another), reading into RBUF. -1 when OpenSSL
 * cannot make the connection object.
 */
int xport_tls_init(struct xport *x, int fd, const struct binding *b, struct session *sess,
                   char *rbuf, size_t rbuf_cap);
/**
 * A TLS transport with site S's context over socket FD: a plain connection
 * upgraded in place (FTP's AUTH TLS) or an FTP data connection. -1 when S
 * has no context or OpenSSL cannot make the connection object.
 */
int xport_tls_start(struct xport *x, int fd, const struct site *s, struct session *sess,
                    char *rbuf, size_t rbuf_cap);
/**
 * The transport of connection FD accepted on binding B for session SESS: TLS
 * when B is, else plain. When TLS cannot start, the failure is logged, X is
 * left plain (so that it can be closed) and -1 is returned.
 */
int xport_accept_init(struct xport *x, int fd, const struct binding *b, struct session *sess,
                      char *rbuf, size_t rbuf_cap);
/** True when the handshake of X chose the ALPN protocol NAME (a TLS transport only). */
bool xport_tls_alpn_is(const struct xport *x, const char *name);
/** True when the handshake of X resumed an earlier session (FTPS data connections must). */
bool xport_tls_resumed(const struct xport *x);
/**
 * The host name in a TLS server_name extension body P[0..LEN): 0 with
 * *NAME and *NLEN pointing into P, or -1 when malformed or without a host name.
 */
int tls_sni_parse(const unsigned char *p, size_t len, const char **name, size_t *nlen);

#endif
