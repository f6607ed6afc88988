/*
 * tls: the admin listener's certificate and server context. Generates a
 * self-signed EC P-256 certificate on first start and keeps it afterwards.
 * The caller owns (SSL_CTX_free) the context returned. Called by the main
 * thread at start-up or the admin thread; no state is kept between calls.
 */
#ifndef ADMIN_TLS_H
#define ADMIN_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/** Room for a fingerprint from tls_cert_fingerprint ("sha256//" + 44 base64 + NUL). */
#define TLS_FINGERPRINT_MAX 64

/**
 * Keep CERT_PATH and KEY_PATH when both load and match; otherwise write a new
 * key (0600) and self-signed certificate (0644) atomically. Returns 0 or -1 (ERR filled).
 */
int tls_ensure_cert(const char *cert_path, const char *key_path, char *err, size_t errlen);

/** A TLS 1.2+ server context serving CERT_PATH/KEY_PATH, or NULL (ERR filled). */
SSL_CTX *tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen);

/**
 * Write "sha256//BASE64" of the certificate's DER SubjectPublicKeyInfo (the
 * form curl's CURLOPT_PINNEDPUBLICKEY takes) into OUT. Returns 0 or -1.
 */
int tls_cert_fingerprint(const char *cert_path, char *out, size_t cap);

#endif
