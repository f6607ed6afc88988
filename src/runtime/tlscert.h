/*
 * tlscert: certificates kept in the state directory — the admin listener's
 * and those of TLS sites configured without one. Generates a self-signed EC
 * P-256 certificate on first use and keeps it afterwards; builds the admin
 * listener's server context.
 * The caller owns (SSL_CTX_free) the context returned. Called by the main
 * thread at start-up or the admin thread; no state is kept between calls.
 */
#ifndef RUNTIME_TLSCERT_H
#define RUNTIME_TLSCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

/** Room for a fingerprint from tls_cert_fingerprint ("sha256//" + 44 base64 + NUL). */
#define TLS_FINGERPRINT_MAX 64

/**
 * Keep CERT_PATH and KEY_PATH when both load and match; otherwise write a new
 * key (0600) and self-signed certificate (0644) atomically. Returns 0 or -1 (ERR filled).
 */
int tls_ensure_cert(const char *cert_path, const char *key_path, char *err, size_t errlen);
/**
 * tls_ensure_cert for a certificate with subject CN and subjectAltName SAN
 * ("DNS:a.test,IP:127.0.0.1"). Returns 1 when it generated a new pair, 0 when
 * it kept the existing one, -1 on failure (ERR filled).
 */
int tls_ensure_cert_named(const char *cert_path, const char *key_path, const char *cn,
                          const char *san, char *err, size_t errlen);

enum tls_pair_fault { TLS_PAIR_CERT, TLS_PAIR_KEY, TLS_PAIR_MISMATCH };

/**
 * 0 when CERT_PATH holds a PEM certificate and KEY_PATH an unencrypted PEM
 * private key belonging to it; else -1 with ERR saying why and *FAULT naming
 * the culprit.
 */
int tls_check_pair(const char *cert_path, const char *key_path, enum tls_pair_fault *fault,
                   char *err, size_t errlen);

/** A TLS 1.2+ server context serving CERT_PATH/KEY_PATH, or NULL (ERR filled). */
SSL_CTX *tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen);

/**
 * Write "sha256//BASE64" of the certificate's DER SubjectPublicKeyInfo (the
 * form curl's CURLOPT_PINNEDPUBLICKEY takes) into OUT. Returns 0 or -1.
 */
int tls_cert_fingerprint(const char *cert_path, char *out, size_t cap);


/** The unencrypted PEM private key in PATH, or NULL (never prompts for a passphrase). */
EVP_PKEY *tls_key_load(const char *path);
/** Private key K as PEM in a new string (free it), or NULL. */
char *tls_key_pem(EVP_PKEY *k);

/* What a certificate says about itself (tls_cert_info). */
struct tls_cert_info {
    time_t not_before, not_after;
    char subject[256], issuer[256]; /* one-line distinguished names */
    char names[1024];               /* its DNS subjectAltNames, comma-separated */
    bool self_signed;               /* issuer and subject are the same */
};

/** Read the first certificate of PEM file PATH into OUT: 0, or -1 (ERR filled). */
int tls_cert_info(const char *path, struct tls_cert_info *out, char *err, size_t errlen);
/** True when NAMES (comma-separated, as tls_cert_info gives) holds NAME, any case. */
bool tls_names_cover(const char *names, const char *name);
/**
 * A context answering a TLS-ALPN-01 validation (RFC 8737) of NAME: a
 * self-signed certificate for NAME with the critical acmeIdentifier extension
 * holding DIGEST (SHA-256 of the key authorization), and ALPN acme-tls/1 only.
 * NULL with ERR filled.
 */
SSL_CTX *tls_alpn_challenge_ctx(const char *name, const unsigned char digest[32], char *err,
                                size_t errlen);

#endif
