/*
 * jws: the ACME account key (EC P-256, kept 0600 in the state directory) and
 * the JSON Web Signatures (RFC 7515, flattened JSON, ES256) every ACME
 * request is sent as; base64url (RFC 4648 §5, unpadded). The caller frees
 * what it is given (free, EVP_PKEY_free). No shared state: any thread.
 */
#ifndef ACME_JWS_H
#define ACME_JWS_H

#include <stddef.h>

#include <openssl/evp.h>

/** base64url of P[0..N), unpadded, in a new string. */
char *jws_b64url(const void *p, size_t n);
/** The EC P-256 key in PEM file PATH, generated (0600, atomically) when absent. NULL with ERR. */
EVP_PKEY *jws_key_load_or_create(const char *path, char *err, size_t errlen);
/** The public JWK of KEY: {"crv":"P-256","kty":"EC","x":…,"y":…} (members in thumbprint order). */
char *jws_jwk(EVP_PKEY *key);
/** The RFC 7638 thumbprint of KEY (base64url of SHA-256 of its JWK), or NULL. */
char *jws_thumbprint(EVP_PKEY *key);
/**
 * The flattened JWS of PAYLOAD ("" for POST-as-GET) for URL with NONCE,
 * signed by KEY; the protected header names KID when given, else embeds the
 * JWK. NULL when signing fails.
 */
char *jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const char *payload);

#endif
