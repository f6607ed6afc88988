/* tls: site contexts, ticket keys, SNI and the non-blocking TLS transport. */
#include "runtime/tls.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "runtime/challenge.h"
#include "runtime/gen.h"
#include "runtime/service.h"
#include "runtime/session.h"
#include "runtime/worker.h"

/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 keeps OpenSSL's defaults. */
#define CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20"
#define SESSION_ID_CONTEXT "infosrv"
#define SESSION_TIMEOUT_S 3600
#define TICKET_ROTATE_S 3600
#define TICKET_KEYS 3 /* the current one and two predecessors still accepted */

static void out_method_init(void);

/* ---- session-ticket keys ---- */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    time_t created;
};

static struct ticket_key keys[TICKET_KEYS]; /* keys[0] encrypts */
static size_t nkeys;
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

static void ticket_key_new(struct ticket_key *k)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        fatalx("tls: no randomness for session-ticket keys");
    k->created = clock_wall();
}

/* With keys_lock held: start a new current key once the old one is due. */
static void ticket_rotate(void)
{
    time_t now = clock_wall();

    if (nkeys > 0 && now - keys[0].created < TICKET_ROTATE_S && now >= keys[0].created)
        return;
    memmove(&keys[1], &keys[0], sizeof(keys[0]) * (TICKET_KEYS - 1));
    ticket_key_new(&keys[0]);
    if (nkeys < TICKET_KEYS)
        nkeys++;
}

void tls_init(void)
{
    out_method_init();
    pthread_mutex_lock(&keys_lock);
    ticket_rotate();
    pthread_mutex_unlock(&keys_lock);
}

static int ticket_mac_init(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)k->hmac,
                                          sizeof(k->hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t) "sha256", 0),
        OSSL_PARAM_construct_end(),
    };

    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: 1 = use this key, 2 = use it and renew the
 * ticket (an older key), 0 = unknown key (full handshake), -1 = failure. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    struct ticket_key k;
    int rc = 0;

    (void)ssl;
    pthread_mutex_lock(&keys_lock);
    if (enc) {
        ticket_rotate();
        k = keys[0];
        rc = 1;
    } else {
        for (size_t i = 0; i < nkeys; i++)
            if (memcmp(keys[i].name, name, sizeof(keys[i].name)) == 0) {
                k = keys[i];
                rc = i == 0 ? 1 : 2;
            }
    }
    pthread_mutex_unlock(&keys_lock);
    if (rc == 0)
        return 0;
    if (enc) {
        memcpy(name, k.name, sizeof(k.name));
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            rc = -1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1) {
        rc = -1;
    }
    if (rc > 0 && ticket_mac_init(hctx, &k) == -1)
        rc = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/* ---- choosing the site: SNI, before the version is negotiated ---- */

int tls_sni_parse(const unsigned char *p, size_t len, const char **name, size_t *nlen)
{
    size_t list, at = 2;

    if (len < 2)
        return -1;
    list = (size_t)p[0] << 8 | p[1];
    if (list + 2 != len)
        return -1;
    while (at + 3 <= len) {
        unsigned type = p[at];
        size_t n = (size_t)p[at + 1] << 8 | p[at + 2];
        if (at + 3 + n > len)
            return -1;
        if (type == 0 /* host_name */) {
            if (n == 0 || n > 255 || memchr(p + at + 3, '\0', n) != NULL)
                return -1;
            *name = (const char *)p + at + 3;
            *nlen = n;
            return 0;
        }
        at += 3 + n;
    }
    return -1;
}

static void apply_protocols(SSL *ssl, unsigned protocols)
{
    SSL_set_min_proto_version(ssl, (protocols & TLS_PROTO_12) ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_set_max_proto_version(ssl, (protocols & TLS_PROTO_13) ? TLS1_3_VERSION : TLS1_2_VERSION);
}

/* A CA validating TLS-ALPN-01 (RFC 8737) gets the challenge certificate of
 * the name it asks for; the connection ends once the handshake is done. */
static int acme_hello(SSL *ssl, const char *name, size_t nlen, int *alert)
{
    SSL_CTX *ctx = name ? challenge_tls_get(name, nlen) : NULL;

    if (ctx == NULL) {
        *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_SSL_CTX(ssl, ctx);
    SSL_CTX_free(ctx); /* the connection holds its own reference */
    return SSL_CLIENT_HELLO_SUCCESS;
}

static bool acme_handshake(SSL *ssl)
{
    const unsigned char *p;
    unsigned n;

    SSL_get0_alpn_selected(ssl, &p, &n);
    return n == 10 && memcmp(p, "acme-tls/1", 10) == 0;
}

static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
    struct xport *x = SSL_get_app_data(ssl);
    const unsigned char *ext;
    const char *name = NULL;
    size_t len, nlen = 0;
    const struct site *site;

    (void)arg;
    if (x == NULL || x->sess == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    session_adopt_gen(x->sess); /* the binding is read from the newest generation */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
        tls_sni_parse(ext, len, &name, &nlen) == -1) {
        *alert = SSL_AD_DECODE_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                  &len) == 1 &&
        challenge_alpn_offered(ext, len))
        return acme_hello(ssl, name, nlen, alert);
    site = binding_site_for_host(x->sess->li->bind, name, nlen);
    if (site == NULL || site->tls.ctx == NULL) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (SSL_get_SSL_CTX(ssl) != site->tls.ctx)
        SSL_set_SSL_CTX(ssl, site->tls.ctx);
    apply_protocols(ssl, site->tls.protocols);
    session_set_site(x->sess, site);
    return SSL_CLIENT_HELLO_SUCCESS;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    const struct service *svc = arg;
    unsigned char *sel;

    (void)ssl;
    if (svc->alpn == NULL ||
        SSL_select_next_proto(&sel, outlen, svc->alpn, (unsigned)svc->alpn_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* carry on without ALPN: the service's protocol is implied */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- contexts ---- */

static void ctx_fail(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    char ossl[200] = "";

    if (e != 0)
        ERR_error_string_n(e, ossl, sizeof(ossl));
    snprintf(err, errlen, "%s %s%s%s", what, path, e ? ": " : "", ossl);
    ERR_clear_error();
}

static int ctx_setup(SSL_CTX *ctx, unsigned protocols, const struct service *svc)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_min_proto_version(ctx, (protocols & TLS_PROTO_12) ? TLS1_2_VERSION
                                                                      : TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, (protocols & TLS_PROTO_13) ? TLS1_3_VERSION
                                                                      : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, CIPHERS_12) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SESSION_ID_CONTEXT,
                                       sizeof(SESSION_ID_CONTEXT) - 1) != 1)
        return -1;
    /* Tickets carry the session state; no server-side cache grows with clients. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT_S);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, (void *)(uintptr_t)svc);
    return 0;
}

/* A passphrase callback that refuses: an encrypted key must not prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file, unsigned protocols,
                     const struct service *svc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        ctx_fail(err, errlen, "cannot create a TLS context for", cert_file);
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (ctx_setup(ctx, protocols, svc) == -1)
        ctx_fail(err, errlen, "cannot set the TLS versions and ciphers for", cert_file);
    else if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        ctx_fail(err, errlen, "cannot load the certificate chain", cert_file);
    else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1)
        ctx_fail(err, errlen, "cannot load the private key", key_file);
    else
        return ctx;
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- the transport ---- */

/* The write side is a BIO of ours: OpenSSL appends its records to the
 * transport's buffer and the transport sends them, many at a time. */
static BIO_METHOD *out_method;

static int out_write(BIO *b, const char *data, int len)
{
    struct xport *x = BIO_get_data(b);

    if (len <= 0)
        return 0;
    if (x->wsent == x->wlen)
        x->wsent = x->wlen = 0;
    if (x->wcap - x->wlen < (size_t)len) {
        size_t cap = x->wcap ? x->wcap : 4096;
        while (cap - x->wlen < (size_t)len)
            cap *= 2;
        x->wbuf = xrealloc(x->wbuf, cap);
        x->wcap = cap;
    }
    memcpy(x->wbuf + x->wlen, data, (size_t)len);
    x->wlen += (size_t)len;
    return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct xport *x = BIO_get_data(b);

    (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_WPENDING:
        return x ? (long)(x->wlen - x->wsent) : 0;
    default:
        return 0;
    }
}

static int out_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void out_method_init(void)
{
    out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "infosrv records");
    if (out_method == NULL || BIO_meth_set_write(out_method, out_write) != 1 ||
        BIO_meth_set_ctrl(out_method, out_ctrl) != 1 ||
        BIO_meth_set_create(out_method, out_create) != 1)
        fatalx("tls: cannot make the output BIO method");
}

static int tls_flush(struct xport *x)
{
    ssize_t n;

    while (x->wsent < x->wlen) {
        n = send(x->fd, x->wbuf + x->wsent, x->wlen - x->wsent, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                x->want_write = true;
                return XP_AGAIN;
            }
            return XP_ERROR;
        }
        x->wsent += (size_t)n;
    }
    x->wsent = x->wlen = 0;
    return 0;
}

/* Map an SSL_* call's result; sets want_write for XP_AGAIN. */
static ssize_t tls_result(struct xport *x, int rc)
{
    switch (SSL_get_error(x->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        x->want_write = false;
        return XP_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        x->want_write = true;
        return XP_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == EAGAIN || errno == EINTR) {
            x->want_write = false;
            return XP_AGAIN;
        }
        ERR_clear_error();
        return XP_ERROR;
    default:
        ERR_clear_error();
        return XP_ERROR;
    }
}

/* Records the handshake made are sent at once; what the socket cannot take
 * waits for EPOLLOUT. */
static int tls_handshake(struct xport *x)
{
    int rc;

    if (x->ready)
        return 0;
    rc = SSL_do_handshake(x->ssl);
    if (rc == 1) {
        x->ready = true;
        if (acme_handshake(x->ssl)) {
            tls_flush(x);
            return XP_ERROR; /* a validation, not a client: nothing follows */
        }
        return tls_flush(x) == XP_ERROR ? XP_ERROR : 0;
    }
    rc = (int)tls_result(x, rc);
    if (rc != XP_AGAIN) {
        tls_flush(x); /* the alert saying why, best effort */
        return XP_ERROR;
    }
    switch (tls_flush(x)) {
    case XP_ERROR:
        return XP_ERROR;
    case XP_AGAIN:
        return XP_AGAIN; /* want_write */
    default:
        x->want_write = false;
        return XP_AGAIN;
    }
}

static ssize_t tls_read(struct xport *x, char **data)
{
    int n = SSL_read(x->ssl, x->rbuf, (int)(x->rbuf_cap > INT_MAX ? INT_MAX : x->rbuf_cap));

    *data = x->rbuf;
    /* Records may wait decrypted or undecrypted: only WANT_READ says the socket is empty. */
    x->drained = false;
    return n > 0 ? n : tls_result(x, n);
}

/* Room left in the record buffer; flushes first when it is full. */
static ssize_t tls_room(struct xport *x)
{
    int rc;

    if (x->wlen - x->wsent >= TLS_OUT_MAX && (rc = tls_flush(x)) != 0)
        return rc;
    return (ssize_t)(TLS_OUT_MAX - (x->wlen - x->wsent));
}

static ssize_t tls_write(struct xport *x, const void *p, size_t n, bool more)
{
    ssize_t room = tls_room(x);
    int rc;

    (void)more;
    if (room < 0)
        return room;
    if (n == 0)
        return 0;
    rc = SSL_write(x->ssl, p, (int)(n < (size_t)room ? n : (size_t)room));
    if (rc > 0)
        return rc;
    rc = (int)tls_result(x, rc);
    return rc == 0 ? XP_ERROR : rc;
}

/* Kernel TLS is not available: file bytes are read into the worker's read
 * buffer (free between reads) and encrypted at once into records. */
static ssize_t tls_sendfile(struct xport *x, int fd, off_t *off, size_t n)
{
    ssize_t room = tls_room(x), got, rc;
    size_t want = n;

    if (room < 0)
        return room;
    if (want > (size_t)room)
        want = (size_t)room;
    if (want > x->rbuf_cap)
        want = x->rbuf_cap;
    got = pread(fd, x->rbuf, want, *off);
    if (got <= 0)
        return got == 0 ? 0 : XP_ERROR;
    /* SSL_write takes one record at a time (partial writes): encrypt all
     * that was read while the record buffer has room, rather than reading
     * the rest of the piece again on the next call. */
    size_t done = 0;
    do {
        rc = tls_write(x, x->rbuf + done, (size_t)got - done, false);
        if (rc > 0)
            done += (size_t)rc;
    } while (rc > 0 && done < (size_t)got);
    if (done == 0)
        return rc;
    *off += (off_t)done;
    return (ssize_t)done;
}

static void tls_release(struct xport *x)
{
    if (x->wsent == x->wlen) {
        free(x->wbuf);
        x->wbuf = NULL;
        x->wlen = x->wsent = x->wcap = 0;
    }
}

static void tls_close(struct xport *x)
{
    if (x->ready && !(SSL_get_shutdown(x->ssl) & SSL_SENT_SHUTDOWN))
        SSL_shutdown(x->ssl); /* one close_notify, never waited for */
    tls_flush(x);                 /* with any alert still held, best effort */
    ERR_clear_error();
    SSL_free(x->ssl);
    x->ssl = NULL;
    free(x->wbuf);
    x->wbuf = NULL;
    x->wlen = x->wsent = x->wcap = 0;
    close(x->fd);
    x->fd = -1;
}

static const struct xport_ops tls_ops = {
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .sendfile = tls_sendfile,
    .flush = tls_flush,
    .release = tls_release,
    .close = tls_close,
};

int xport_tls_init(struct xport *x, int fd, const struct binding *b, struct session *sess,
                   char *rbuf, size_t rbuf_cap)
{
    return xport_tls_start(x, fd, b ? b->default_site : NULL, sess, rbuf, rbuf_cap);
}

int xport_accept_init(struct xport *x, int fd, const struct binding *b, struct session *sess,
                      char *rbuf, size_t rbuf_cap)
{
    if (b != NULL && b->tls && xport_tls_init(x, fd, b, sess, rbuf, rbuf_cap) == 0)
        return 0;
    xport_plain_init(x, fd, rbuf, rbuf_cap);
    if (b == NULL || !b->tls)
        return 0;
    log_warnx("%s: cannot start TLS on a new connection from %s", b->svc->name, sess->peer_ip);
    return -1;
}

bool xport_tls_alpn_is(const struct xport *x, const char *name)
{
    const unsigned char *p;
    unsigned n;
    size_t len = strlen(name);

    if (x->ssl == NULL)
        return false;
    SSL_get0_alpn_selected(x->ssl, &p, &n);
    return n == len && memcmp(p, name, len) == 0;
}

bool xport_tls_resumed(const struct xport *x)
{
    return x->ssl != NULL && SSL_session_reused(x->ssl) == 1;
}

int xport_tls_start(struct xport *x, int fd, const struct site *s, struct session *sess,
                    char *rbuf, size_t rbuf_cap)
{
    BIO *in = NULL, *out = NULL;
    SSL *ssl;

    if (s == NULL || s->tls.ctx == NULL)
        return -1;
    ssl = SSL_new(s->tls.ctx);
    in = BIO_new_socket(fd, BIO_NOCLOSE);
    out = BIO_new(out_method);
    if (ssl == NULL || in == NULL || out == NULL) {
        SSL_free(ssl);
        BIO_free(in);
        BIO_free(out);
        ERR_clear_error();
        return -1;
    }
    *x = (struct xport){.ops = &tls_ops, .fd = fd, .rbuf = rbuf, .rbuf_cap = rbuf_cap,
                        .ssl = ssl, .sess = sess};
    BIO_set_data(out, x);
    SSL_set_bio(ssl, in, out);
    SSL_set_read_ahead(ssl, 1);
    SSL_set_app_data(ssl, x);
    SSL_set_accept_state(ssl);
    return 0;
}
