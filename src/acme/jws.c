/* jws: ES256 account keys and flattened JWS for ACME. */
#include "acme/jws.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "runtime/tlscert.h"

char *jws_b64url(const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = xmalloc(cap);

    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static int jws_key_write(EVP_PKEY *k, const char *path)
{
    char *pem = tls_key_pem(k);
    int rc = pem ? fs_write_atomic(path, pem, strlen(pem), 0600) : -1;

    if (pem)
        OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    return rc;
}

static bool jws_key_is_p256(EVP_PKEY *k)
{
    char group[32];

    return EVP_PKEY_is_a(k, "EC") &&
           EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

EVP_PKEY *jws_key_load_or_create(const char *path, char *err, size_t errlen)
{
    EVP_PKEY *k;

    if (access(path, F_OK) == 0) {
        if ((k = tls_key_load(path)) != NULL && jws_key_is_p256(k))
            return k;
        EVP_PKEY_free(k);
        ERR_clear_error();
        snprintf(err, errlen, "%s holds no EC P-256 private key", path);
        return NULL;
    }
    if ((k = EVP_EC_gen("P-256")) == NULL) {
        ERR_clear_error();
        snprintf(err, errlen, "cannot generate an EC P-256 key");
        return NULL;
    }
    if (jws_key_write(k, path) == -1) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* The uncompressed point 04 || X || Y of a P-256 key. */
static int jws_point(EVP_PKEY *key, unsigned char pt[65])
{
    size_t n = 0;

    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, 65, &n) != 1 ||
        n != 65 || pt[0] != 0x04) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

char *jws_jwk(EVP_PKEY *key)
{
    unsigned char pt[65];
    char *x, *y, *out;
    size_t cap;

    if (jws_point(key, pt) == -1)
        return NULL;
    x = jws_b64url(pt + 1, 32);
    y = jws_b64url(pt + 33, 32);
    cap = strlen(x) + strlen(y) + 64;
    out = xmalloc(cap);
    snprintf(out, cap, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    free(x);
    free(y);
    return out;
}

char *jws_thumbprint(EVP_PKEY *key)
{
    unsigned char digest[32];
    char *jwk = jws_jwk(key);
    unsigned int n = 0;

    if (jwk == NULL)
        return NULL;
    if (EVP_Digest(jwk, strlen(jwk), digest, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        free(jwk);
        return NULL;
    }
    free(jwk);
    return jws_b64url(digest, sizeof(digest));
}

/* ES256 is the raw R || S of the ECDSA signature (RFC 7518 §3.4), not its DER. */
static int jws_es256(EVP_PKEY *key, const char *input, unsigned char sig[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    const unsigned char *p = der;
    size_t n = sizeof(der);
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;
    int rc = -1;

    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, der, &n, (const unsigned char *)input, strlen(input)) == 1 &&
        (es = d2i_ECDSA_SIG(NULL, &p, (long)n)) != NULL) {
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32)
            rc = 0;
    }
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return rc;
}

static char *jws_protected(EVP_PKEY *key, const char *kid, const char *nonce, const char *url)
{
    json_t *h = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "nonce", nonce, "url", url);
    char *jwk, *text;

    if (kid) {
        json_object_set_new(h, "kid", json_string(kid));
    } else {
        if ((jwk = jws_jwk(key)) == NULL) {
            json_decref(h);
            return NULL;
        }
        json_object_set_new(h, "jwk", json_loads(jwk, 0, NULL));
        free(jwk);
    }
    text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return text;
}

char *jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const char *payload)
{
    char *prot = jws_protected(key, kid, nonce, url), *p64, *b64, *input, *s64, *out = NULL;
    unsigned char sig[64];
    size_t cap;

    if (prot == NULL)
        return NULL;
    p64 = jws_b64url(prot, strlen(prot));
    b64 = jws_b64url(payload, strlen(payload));
    cap = strlen(p64) + strlen(b64) + 2;
    input = xmalloc(cap);
    snprintf(input, cap, "%s.%s", p64, b64);
    if (jws_es256(key, input, sig) == 0) {
        s64 = jws_b64url(sig, sizeof(sig));
        cap = strlen(p64) + strlen(b64) + strlen(s64) + 64;
        out = xmalloc(cap);
        snprintf(out, cap, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p64,
                 b64, s64);
        free(s64);
    }
    free(input);
    free(p64);
    free(b64);
    free(prot);
    return out;
}
