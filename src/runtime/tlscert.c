/* tlscert: self-signed certificates (generated once, then kept) and the admin server context. */
#include "runtime/tlscert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/fsutil.h"
#include "core/log.h"

#define TLS_SUBJECT_CN "infosrv admin"
#define TLS_SAN "DNS:localhost,IP:127.0.0.1,IP:::1"
#define TLS_VALID_DAYS 3652 /* ten years, leap days included */
#define TLS_SERIAL_BYTES 16
/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 keeps OpenSSL's defaults. */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20"

/* Fill ERR with the message and, when there is one, OpenSSL's latest error; return -1. */
static int tls_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tls_fail(char *err, size_t errlen, const char *fmt, ...)
{
    unsigned long e = ERR_peek_last_error();
    char ossl[256];
    size_t n;
    va_list ap;

    if (err == NULL || errlen == 0) {
        ERR_clear_error();
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (e != 0) {
        ERR_error_string_n(e, ossl, sizeof(ossl));
        n = strlen(err);
        if (n < errlen)
            snprintf(err + n, errlen - n, ": %s", ossl);
    }
    ERR_clear_error();
    return -1;
}

/* A passphrase callback that refuses: an encrypted key must not prompt on a terminal. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

static X509 *tls_read_cert(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x;

    if (bio == NULL)
        return NULL;
    x = PEM_read_bio_X509(bio, NULL, tls_no_passphrase, NULL);
    BIO_free(bio);
    return x;
}

EVP_PKEY *tls_key_load(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *k;

    if (bio == NULL)
        return NULL;
    k = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL);
    BIO_free(bio);
    return k;
}

int tls_check_pair(const char *cert_path, const char *key_path, enum tls_pair_fault *fault,
                   char *err, size_t errlen)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;

    if (access(cert_path, R_OK) == -1) {
        *fault = TLS_PAIR_CERT;
        tls_fail(err, errlen, "%s cannot be read: %s", cert_path, strerror(errno));
    } else if ((x = tls_read_cert(cert_path)) == NULL) {
        *fault = TLS_PAIR_CERT;
        tls_fail(err, errlen, "%s holds no PEM certificate", cert_path);
    } else if (access(key_path, R_OK) == -1) {
        *fault = TLS_PAIR_KEY;
        tls_fail(err, errlen, "%s cannot be read: %s", key_path, strerror(errno));
    } else if ((k = tls_key_load(key_path)) == NULL) {
        *fault = TLS_PAIR_KEY;
        tls_fail(err, errlen, "%s holds no unencrypted PEM private key", key_path);
    } else if (X509_check_private_key(x, k) != 1) {
        *fault = TLS_PAIR_MISMATCH;
        tls_fail(err, errlen, "the key in %s does not match the certificate in %s", key_path,
                 cert_path);
    } else {
        rc = 0;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

char *tls_key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *data, *out = NULL;
    long n;

    if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 &&
        (n = BIO_get_mem_data(b, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(b);
    ERR_clear_error();
    return out;
}

/* Write the PEM held by memory BIO B to PATH. */
static int tls_write_bio(BIO *b, const char *path, mode_t mode, char *err, size_t errlen)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);

    if (n <= 0)
        return tls_fail(err, errlen, "tls: cannot encode %s", path);
    if (fs_write_atomic(path, data, (size_t)n, mode) == -1)
        return tls_fail(err, errlen, "tls: cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int tls_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int rc;

    if (ex == NULL)
        return -1;
    rc = X509_add_ext(x, ex, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

/* A random positive serial (RFC 5280: at most 20 octets, unpredictable). */
static int tls_set_serial(X509 *x)
{
    unsigned char buf[TLS_SERIAL_BYTES];
    BIGNUM *bn;
    int rc;

    if (RAND_bytes(buf, sizeof(buf)) != 1)
        return -1;
    buf[0] = (unsigned char)((buf[0] & 0x7f) | 0x40); /* positive, full length, never zero */
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    if (bn == NULL)
        return -1;
    rc = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL ? 0 : -1;
    BN_free(bn);
    return rc;
}

/* X.509 allows a common name of 64 bytes; longer host names live in the subjectAltName only. */
#define TLS_CN_MAX 64

static int tls_set_name_and_validity(X509 *x, const char *cn)
{
    X509_NAME *name = X509_get_subject_name(x);

    if (strlen(cn) > TLS_CN_MAX)
        cn = "infosrv";
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1)
        return -1;
    if (X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), TLS_VALID_DAYS, 0, NULL) == NULL)
        return -1;
    return 0;
}

static int tls_set_extensions(X509 *x, const char *san)
{
    X509V3_CTX ctx;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (tls_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
        tls_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") == -1 ||
        tls_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") == -1 ||
        tls_add_ext(x, &ctx, NID_subject_alt_name, san) == -1 ||
        tls_add_ext(x, &ctx, NID_subject_key_identifier, "hash") == -1)
        return -1;
    return 0;
}

/* A self-signed v3 certificate for KEY, or NULL. */
static X509 *tls_make_cert(EVP_PKEY *key, const char *cn, const char *san)
{
    X509 *x = X509_new();

    if (x == NULL)
        return NULL;
    if (X509_set_version(x, 2) != 1 || tls_set_serial(x) == -1 ||
        tls_set_name_and_validity(x, cn) == -1 || X509_set_pubkey(x, key) != 1 ||
        tls_set_extensions(x, san) == -1 || X509_sign(x, key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Generate a key and certificate; the key is written first so a crash in between leaves a
 * pair that does not match, which the next start replaces. */
static int tls_generate(const char *cert_path, const char *key_path, const char *cn,
                        const char *san, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    BIO *kb = NULL, *cb = NULL;
    int rc = -1;

    key = EVP_EC_gen("P-256");
    if (key == NULL) {
        tls_fail(err, errlen, "tls: cannot generate an EC P-256 key");
        goto fail;
    }
    x = tls_make_cert(key, cn, san);
    if (x == NULL) {
        tls_fail(err, errlen, "tls: cannot build the certificate");
        goto fail;
    }
    kb = BIO_new(BIO_s_secmem());
    cb = BIO_new(BIO_s_mem());
    if (kb == NULL || cb == NULL ||
        PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cb, x) != 1) {
        tls_fail(err, errlen, "tls: cannot encode the key and certificate");
        goto fail;
    }
    if (tls_write_bio(kb, key_path, 0600, err, errlen) == -1 ||
        tls_write_bio(cb, cert_path, 0644, err, errlen) == -1)
        goto fail;
    rc = 0;
fail:
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int tls_ensure_cert_named(const char *cert_path, const char *key_path, const char *cn,
                          const char *san, char *err, size_t errlen)
{
    bool cert_exists = access(cert_path, F_OK) == 0;
    bool key_exists = access(key_path, F_OK) == 0;
    enum tls_pair_fault fault;

    if (cert_exists && key_exists && tls_check_pair(cert_path, key_path, &fault, NULL, 0) == 0)
        return 0;
    if (cert_exists || key_exists)
        log_warnx("tls: %s and %s do not form a usable pair; generating new ones", cert_path,
                  key_path);
    if (tls_generate(cert_path, key_path, cn, san, err, errlen) == -1)
        return -1;
    log_info("tls: generated a self-signed certificate in %s", cert_path);
    return 1;
}

int tls_ensure_cert(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    return tls_ensure_cert_named(cert_path, key_path, TLS_SUBJECT_CN, TLS_SAN, err, errlen) < 0
               ? -1
               : 0;
}

SSL_CTX *tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        tls_fail(err, errlen, "tls: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        tls_fail(err, errlen, "tls: cannot set the protocol versions and ciphers");
        goto fail;
    }
    SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        tls_fail(err, errlen, "tls: cannot load %s", cert_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_fail(err, errlen, "tls: cannot load %s", key_path);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_cert_fingerprint(const char *cert_path, char *out, size_t cap)
{
    static const char prefix[] = "sha256//";
    X509 *x = tls_read_cert(cert_path);
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len, rc = -1;

    if (x == NULL || cap < TLS_FINGERPRINT_MAX)
        goto fail;
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (len <= 0 || EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1)
        goto fail;
    memcpy(out, prefix, sizeof(prefix) - 1);
    EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, md, (int)mdlen);
    rc = 0;
fail:
    OPENSSL_free(der);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* ---- what a certificate says ---- */

static time_t tls_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void tls_dns_names(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const unsigned char *p;
        int n;
        if (g->type != GEN_DNS)
            continue;
        p = ASN1_STRING_get0_data(g->d.dNSName);
        n = ASN1_STRING_length(g->d.dNSName);
        if (n <= 0 || memchr(p, ',', (size_t)n) || used + (size_t)n + 2 > cap)
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "", n,
                                 (const char *)p);
    }
    GENERAL_NAMES_free(gens);
}

int tls_cert_info(const char *path, struct tls_cert_info *out, char *err, size_t errlen)
{
    X509 *x = tls_read_cert(path);

    memset(out, 0, sizeof(*out));
    if (x == NULL)
        return tls_fail(err, errlen, "%s holds no PEM certificate", path);
    out->not_before = tls_asn1_time(X509_get0_notBefore(x));
    out->not_after = tls_asn1_time(X509_get0_notAfter(x));
    X509_NAME_oneline(X509_get_subject_name(x), out->subject, sizeof(out->subject));
    X509_NAME_oneline(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
    out->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    tls_dns_names(x, out->names, sizeof(out->names));
    X509_free(x);
    return 0;
}

bool tls_names_cover(const char *names, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = names; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p += len + (end != NULL);
    }
    return false;
}

/* ---- TLS-ALPN-01 ---- */

#define TLS_ACME_ALPN "acme-tls/1"
#define TLS_OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

/* The critical id-pe-acmeIdentifier extension: an OCTET STRING holding the digest. */
static int tls_add_acme_identifier(X509 *x, const unsigned char digest[32])
{
    unsigned char der[34] = {0x04, 0x20};
    ASN1_OBJECT *obj = OBJ_txt2obj(TLS_OID_ACME_IDENTIFIER, 1);
    ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ex = NULL;
    int rc = -1;

    memcpy(der + 2, digest, 32);
    if (obj && val && ASN1_OCTET_STRING_set(val, der, sizeof(der)) == 1 &&
        (ex = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, val)) != NULL &&
        X509_add_ext(x, ex, -1) == 1)
        rc = 0;
    X509_EXTENSION_free(ex);
    ASN1_OCTET_STRING_free(val);
    ASN1_OBJECT_free(obj);
    return rc;
}

static int tls_alpn_only_acme(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned inlen, void *arg)
{
    static const unsigned char proto[] = "\x0a" TLS_ACME_ALPN;
    unsigned char *sel;

    (void)ssl, (void)arg;
    if (SSL_select_next_proto(&sel, outlen, proto, sizeof(proto) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *tls_alpn_challenge_ctx(const char *name, const unsigned char digest[32], char *err,
                                size_t errlen)
{
    char san[300];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = NULL;
    SSL_CTX *ctx = NULL;

    snprintf(san, sizeof(san), "DNS:%s", name);
    if (key == NULL || (x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
        tls_set_serial(x) == -1 || tls_set_name_and_validity(x, name) == -1 ||
        X509_set_pubkey(x, key) != 1 || tls_set_extensions(x, san) == -1 ||
        tls_add_acme_identifier(x, digest) == -1 || X509_sign(x, key, EVP_sha256()) <= 0) {
        tls_fail(err, errlen, "tls: cannot build the TLS-ALPN-01 certificate for %s", name);
    } else if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
               SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
               SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        tls_fail(err, errlen, "tls: cannot make the TLS-ALPN-01 context for %s", name);
        SSL_CTX_free(ctx);
        ctx = NULL;
    } else {
        SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_only_acme, NULL);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}
