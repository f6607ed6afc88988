/* pin: SHA-256 of a certificate's SubjectPublicKeyInfo. */
#include "cli/pin.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

static int spki_sha256(X509 *cert, unsigned char md[SHA256_DIGEST_LENGTH])
{
    unsigned char *der = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);

    if (n <= 0)
        return -1;
    SHA256(der, (size_t)n, md);
    OPENSSL_free(der);
    return 0;
}

int pin_from_pem(const char *pem, size_t len, char *out, size_t cap, struct cli_err *err)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    BIO *bio;
    X509 *cert;
    int rc = -1;

    if (cap < PIN_LEN + 1 || len > (size_t)1 << 20) {
        cli_err_set(err, CLI_EXIT_CONN, "tls_failed", "cannot compute the certificate pin");
        return -1;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (cert == NULL || spki_sha256(cert, md) < 0) {
        cli_err_set(err, CLI_EXIT_CONN, "tls_failed",
                    "the server's certificate could not be read to compute its key pin");
        goto done;
    }
    memcpy(out, "sha256//", 8);
    EVP_EncodeBlock((unsigned char *)out + 8, md, SHA256_DIGEST_LENGTH);
    rc = 0;
done:
    X509_free(cert);
    BIO_free(bio);
    return rc;
}

bool pin_valid(const char *s)
{
    if (s == NULL || strncmp(s, "sha256//", 8) != 0 || strlen(s) != PIN_LEN)
        return false;
    for (const char *p = s + 8; *p != '\0'; p++) {
        bool b64 = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '+' || *p == '/';
        if (!b64 && !(*p == '=' && p[1] == '\0'))
            return false;
    }
    return true;
}
