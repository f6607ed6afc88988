/* client: one ACME order over libcurl (RFC 8555 §7). */
#include "acme/client.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/jws.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "runtime/challenge.h"
#include "runtime/gen.h"
#include "runtime/tlscert.h"
#include "version.h"

#define ACME_BODY_MAX (1u << 20)  /* the largest answer read (a chain is a few KB) */
#define ACME_NONCE_TRIES 5        /* badNonce answers retried before giving up */
#define ACME_POLL_S 90            /* how long an authorization or order may stay pending */
#define ACME_POLL_MAX_WAIT_S 10   /* the longest pause between two polls */
#define ACME_CONNECT_TIMEOUT_S 10
#define ACME_REQUEST_TIMEOUT_S 30

struct client {
    const struct acme_order_req *rq;
    struct acme_result *res;
    CURL *curl;
    json_t *dir;
    EVP_PKEY *key;
    char *thumb;
    char kid[ACME_URL_MAX];
    char nonce[ACME_NONCE_MAX];
};

struct answer {
    long status;
    struct acme_headers h;
    struct buf_sink body; /* at most ACME_BODY_MAX */
};

static int fail(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->res->error, sizeof(c->res->error), fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- HTTP ---- */

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;

    acme_header_line(&a->h, p, size * n, time(NULL));
    return size * n;
}

/* A request in flight is abandoned when the server stops. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const atomic_bool *stop = arg;

    (void)dt, (void)dn, (void)ut, (void)un;
    return stop && atomic_load(stop) ? 1 : 0;
}

static void answer_reset(struct answer *a)
{
    a->status = 0;
    a->body.too_big = false;
    a->body.max = ACME_BODY_MAX;
    acme_headers_reset(&a->h);
    buf_reset(&a->body.b);
}

/* One request; the answer's status, headers and body in A. -1 when no answer came. */
static int http(struct client *c, const char *method, const char *url, const char *body,
                const char *accept, struct answer *a)
{
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", acc[160];
    CURLcode rc;

    answer_reset(a);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "infosrv/" INFOSRV_VERSION " acme");
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, (long)ACME_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)ACME_REQUEST_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, buf_sink_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, (void *)(uintptr_t)c->rq->stop);
    if (c->rq->ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->rq->ca_file);
    snprintf(acc, sizeof(acc), "Accept: %s", accept ? accept : "application/json");
    hdrs = curl_slist_append(hdrs, acc);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    } else if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(c->curl);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK)
        return fail(c, "%s %s: %s", method, url,
                    a->body.too_big ? "the answer is larger than 1 MiB"
                               : (*errbuf ? errbuf : curl_easy_strerror(rc)));
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
    return 0;
}

/* An error answer: its problem document in the result, and what it said in the error. */
static int problem(struct client *c, const char *what, const struct answer *a)
{
    struct acme_problem *pr = &c->res->problem;

    c->res->retry_after = a->h.retry_after;
    if (acme_problem_parse(buf_head(&a->body.b), buf_unread(&a->body.b), (int)a->status, pr) == -1)
        return fail(c, "%s: the CA answered %ld without a problem document", what, a->status);
    return fail(c, "%s: the CA answered %ld %s: %s", what, a->status, pr->type, pr->detail);
}

static const char *dir_url(struct client *c, const char *name)
{
    return json_string_value(json_object_get(c->dir, name));
}

static int new_nonce(struct client *c, struct answer *a)
{
    const char *url = dir_url(c, "newNonce");

    if (url == NULL)
        return fail(c, "the directory %s has no newNonce", c->rq->directory);
    if (http(c, "HEAD", url, NULL, NULL, a) == -1)
        return -1;
    if (a->h.nonce[0] == '\0')
        return fail(c, "HEAD %s: %ld without a Replay-Nonce", url, a->status);
    memcpy(c->nonce, a->h.nonce, sizeof(c->nonce));
    return 0;
}

/* A signed POST (PAYLOAD "" is POST-as-GET); a bad nonce is retried with the fresh one. */
static int post(struct client *c, const char *what, const char *url, const char *payload,
                const char *accept, struct answer *a)
{
    struct acme_problem pr;

    for (int tries = 0;; tries++) {
        char *jws;
        if (c->nonce[0] == '\0' && new_nonce(c, a) == -1)
            return -1;
        jws = jws_sign(c->key, c->kid[0] ? c->kid : NULL, c->nonce, url, payload);
        if (jws == NULL)
            return fail(c, "%s: cannot sign the request", what);
        c->nonce[0] = '\0';
        if (http(c, "POST", url, jws, accept, a) == -1) {
            free(jws);
            return -1;
        }
        free(jws);
        if (a->h.nonce[0])
            memcpy(c->nonce, a->h.nonce, sizeof(c->nonce));
        if (a->status < 400)
            return 0;
        if (tries + 1 < ACME_NONCE_TRIES &&
            acme_problem_parse(buf_head(&a->body.b), buf_unread(&a->body.b), (int)a->status, &pr) == 0 &&
            acme_problem_is(&pr, "badNonce")) {
            log_info("acme: %s: %s: the CA refused the nonce; retrying with a fresh one",
                     c->rq->log_name, what);
            continue;
        }
        return problem(c, what, a);
    }
}

static json_t *body_json(struct client *c, const char *what, const struct answer *a)
{
    json_t *j = json_loadb(buf_head(&a->body.b), buf_unread(&a->body.b), 0, NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        fail(c, "%s: the CA's answer is not a JSON object", what);
        return NULL;
    }
    return j;
}

/* ---- the steps ---- */

static int get_directory(struct client *c, struct answer *a)
{
    if (http(c, "GET", c->rq->directory, NULL, NULL, a) == -1)
        return -1;
    if (a->status != 200)
        return problem(c, "the directory", a);
    if ((c->dir = body_json(c, "the directory", a)) == NULL)
        return -1;
    if (!dir_url(c, "newAccount") || !dir_url(c, "newOrder") || !dir_url(c, "newNonce"))
        return fail(c, "the directory %s lacks newNonce, newAccount or newOrder",
                    c->rq->directory);
    return 0;
}

static int account(struct client *c, struct answer *a)
{
    json_t *req = json_pack("{s:b}", "termsOfServiceAgreed", 1);
    char *payload, contact[400];
    int rc;

    if (c->rq->email && *c->rq->email) {
        snprintf(contact, sizeof(contact), "mailto:%s", c->rq->email);
        json_object_set_new(req, "contact", json_pack("[s]", contact));
    }
    payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rc = post(c, "new account", dir_url(c, "newAccount"), payload, NULL, a);
    free(payload);
    if (rc == -1)
        return -1;
    if (a->h.location[0] == '\0')
        return fail(c, "new account: %ld without a Location", a->status);
    memcpy(c->kid, a->h.location, sizeof(c->kid));
    memcpy(c->res->account_url, c->kid, sizeof(c->kid));
    c->res->account_created = a->status == 201;
    if (c->res->account_created)
        log_info("acme: %s: the CA created account %s", c->rq->log_name, c->kid);
    return 0;
}

static json_t *new_order(struct client *c, struct answer *a, char *order_url, size_t cap)
{
    json_t *ids = json_array(), *req, *order;
    char *payload;
    int rc;

    for (size_t i = 0; i < c->rq->nnames; i++)
        json_array_append_new(ids, json_pack("{s:s,s:s}", "type", "dns", "value",
                                             c->rq->names[i]));
    req = json_pack("{s:o}", "identifiers", ids);
    payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rc = post(c, "new order", dir_url(c, "newOrder"), payload, NULL, a);
    free(payload);
    if (rc == -1 || (order = body_json(c, "new order", a)) == NULL)
        return NULL;
    snprintf(order_url, cap, "%s", a->h.location);
    return order;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* POST-as-GET URL until its status leaves "pending"/"processing"; the final object. */
static json_t *poll(struct client *c, const char *what, const char *url, struct answer *a)
{
    time_t deadline = time(NULL) + ACME_POLL_S;

    for (long polls = 0;; polls++) {
        json_t *j;
        const char *st;
        long wait;
        if (post(c, what, url, "", NULL, a) == -1 || (j = body_json(c, what, a)) == NULL)
            return NULL;
        st = json_string_value(json_object_get(j, "status"));
        if (st == NULL || (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0))
            return j;
        json_decref(j);
        if (time(NULL) >= deadline)
            return fail(c, "%s: still %s after %d s", what, st, ACME_POLL_S), NULL;
        if (c->rq->stop && atomic_load(c->rq->stop))
            return fail(c, "%s: abandoned: the server is stopping", what), NULL;
        /* Quick first looks (a CA validates in milliseconds on a LAN), then the CA's pace. */
        wait = a->h.retry_after >= 0 ? a->h.retry_after * 1000 : 100L << (polls < 4 ? polls : 4);
        pause_ms(wait < 100 ? 100 : wait > ACME_POLL_MAX_WAIT_S * 1000 ? ACME_POLL_MAX_WAIT_S * 1000
                                                                         : wait);
    }
}

/* ---- authorizations ---- */

struct answered {
    unsigned type; /* enum acme_challenge */
    char token[CHALLENGE_TOKEN_MAX + 1];
    char name[256];
};

static const char *challenge_type_name(unsigned t)
{
    return t == ACME_HTTP_01 ? "http-01" : "tls-alpn-01";
}

/* The challenge of AUTHZ to answer: the most preferred type the CA offers. */
static const json_t *pick_challenge(struct client *c, const json_t *authz, unsigned *type)
{
    const json_t *list = json_object_get(authz, "challenges"), *ch;
    size_t i;

    for (size_t k = 0; k < c->rq->nchallenges; k++) {
        json_array_foreach (list, i, ch) {
            const char *t = json_string_value(json_object_get(ch, "type"));
            if (t && strcmp(t, challenge_type_name(c->rq->challenges[k])) == 0) {
                *type = c->rq->challenges[k];
                return ch;
            }
        }
    }
    return NULL;
}

static int publish(struct client *c, struct answered *an, const char *token)
{
    char keyauth[CHALLENGE_ANSWER_MAX + 1], why[300];
    unsigned char digest[32];
    unsigned int n;
    SSL_CTX *ctx;
    int rc;

    if (strlen(token) > CHALLENGE_TOKEN_MAX || strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                                             "klmnopqrstuvwxyz0123456789-_") !=
                                                   strlen(token) || *token == '\0')
        return fail(c, "%s: the CA's challenge token is not base64url", an->name);
    snprintf(keyauth, sizeof(keyauth), "%s.%s", token, c->thumb);
    memcpy(an->token, token, strlen(token) + 1);
    if (an->type == ACME_HTTP_01)
        return challenge_http_put(token, keyauth) == 0 ? 0 : fail(c, "too many challenges");
    if (EVP_Digest(keyauth, strlen(keyauth), digest, &n, EVP_sha256(), NULL) != 1 ||
        (ctx = tls_alpn_challenge_ctx(an->name, digest, why, sizeof(why))) == NULL)
        return fail(c, "%s: %s", an->name, why);
    rc = challenge_tls_put(an->name, ctx);
    SSL_CTX_free(ctx);
    return rc == 0 ? 0 : fail(c, "too many challenges");
}

static void withdraw(const struct answered *an)
{
    if (an->type == ACME_HTTP_01 && an->token[0])
        challenge_http_remove(an->token);
    else if (an->type == ACME_TLS_ALPN_01 && an->name[0])
        challenge_tls_remove(an->name);
}

/* The CA's reason for an invalid authorization: its challenge's error. */
static int authz_failed(struct client *c, const json_t *authz, const struct answered *an)
{
    const json_t *list = json_object_get(authz, "challenges"), *ch, *err;
    struct acme_problem *pr = &c->res->problem;
    size_t i;

    json_array_foreach (list, i, ch) {
        if ((err = json_object_get(ch, "error")) != NULL) {
            char *text = json_dumps(err, JSON_COMPACT);
            acme_problem_parse(text, strlen(text), 0, pr);
            free(text);
            return fail(c, "%s: %s validation failed: %s: %s", an->name,
                        challenge_type_name(an->type), pr->type, pr->detail);
        }
    }
    return fail(c, "%s: the authorization is %s", an->name,
                json_string_value(json_object_get(authz, "status")));
}

static int authorize(struct client *c, const char *url, struct answer *a)
{
    struct answered an = {0};
    json_t *authz, *done = NULL;
    const json_t *ch;
    const char *st, *name;
    int rc = -1;

    if (post(c, "authorization", url, "", NULL, a) == -1 ||
        (authz = body_json(c, "authorization", a)) == NULL)
        return -1;
    st = json_string_value(json_object_get(authz, "status"));
    name = json_string_value(json_object_get(json_object_get(authz, "identifier"), "value"));
    if (st && strcmp(st, "valid") == 0) {
        json_decref(authz);
        return 0;
    }
    snprintf(an.name, sizeof(an.name), "%s", name ? name : "?");
    if ((ch = pick_challenge(c, authz, &an.type)) == NULL) {
        fail(c, "%s: the CA offers none of the allowed challenge types", an.name);
    } else if (publish(c, &an, json_string_value(json_object_get(ch, "token"))
                                   ? json_string_value(json_object_get(ch, "token"))
                                   : "") == 0 &&
               post(c, "challenge", json_string_value(json_object_get(ch, "url")), "{}", NULL,
                    a) == 0) {
        log_info("acme: %s: answering %s for %s", c->rq->log_name, challenge_type_name(an.type),
                 an.name);
        if ((done = poll(c, "authorization", url, a)) != NULL) {
            st = json_string_value(json_object_get(done, "status"));
            rc = st && strcmp(st, "valid") == 0 ? 0 : authz_failed(c, done, &an);
        }
    }
    withdraw(&an);
    json_decref(done);
    json_decref(authz);
    return rc;
}

/* ---- finalize ---- */

/* A CSR for NAMES signed by KEY, as base64url DER; NULL on failure. */
static char *csr_b64(EVP_PKEY *key, const char *const *names, size_t n)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ex = NULL;
    struct buf san = {0};
    unsigned char *der = NULL;
    char *out = NULL;
    int len;

    for (size_t i = 0; i < n; i++)
        buf_printf(&san, "%sDNS:%s", i ? "," : "", names[i]);
    buf_append(&san, "", 1);
    /* The subject is the first name when it fits a common name (64 bytes); the CA
     * certifies the subjectAltNames either way. */
    if (req && exts && X509_REQ_set_version(req, 0) == 1 &&
        (strlen(names[0]) > 64 ||
         X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)names[0], -1, -1, 0) == 1) &&
        X509_REQ_set_pubkey(req, key) == 1 &&
        (ex = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, buf_head(&san))) != NULL &&
        sk_X509_EXTENSION_push(exts, ex) > 0 && X509_REQ_add_extensions(req, exts) == 1 &&
        X509_REQ_sign(req, key, EVP_sha256()) > 0 && (len = i2d_X509_REQ(req, &der)) > 0)
        out = jws_b64url(der, (size_t)len);
    else
        X509_EXTENSION_free(ex);
    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    buf_free(&san);
    ERR_clear_error();
    return out;
}

/* The downloaded chain must begin with a certificate for the new key. */
static int check_chain(struct client *c, const char *pem, EVP_PKEY *k)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = x && X509_check_private_key(x, k) == 1 ? 0 : -1;

    X509_free(x);
    BIO_free(b);
    ERR_clear_error();
    return rc == 0 ? 0 : fail(c, "the certificate the CA sent is not for the key of the CSR");
}

static int finalize(struct client *c, const json_t *order, const char *order_url,
                    struct answer *a)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    char *csr = k ? csr_b64(k, c->rq->names, c->rq->nnames) : NULL, *payload = NULL;
    json_t *done = NULL;
    const char *st, *cert;
    int rc = -1;

    if (csr == NULL) {
        fail(c, "cannot make the key and certificate request");
        goto out;
    }
    payload = xmalloc(strlen(csr) + 16);
    snprintf(payload, strlen(csr) + 16, "{\"csr\":\"%s\"}", csr);
    if (post(c, "finalize", json_string_value(json_object_get(order, "finalize")), payload, NULL,
             a) == -1 ||
        (done = poll(c, "order", order_url, a)) == NULL)
        goto out;
    st = json_string_value(json_object_get(done, "status"));
    cert = json_string_value(json_object_get(done, "certificate"));
    if (st == NULL || strcmp(st, "valid") != 0 || cert == NULL) {
        fail(c, "the order is %s after finalize", st ? st : "without a status");
        goto out;
    }
    if (post(c, "certificate", cert, "", "application/pem-certificate-chain", a) == -1)
        goto out;
    buf_append(&a->body.b, "", 1);
    if (check_chain(c, buf_head(&a->body.b), k) == 0) {
        c->res->chain_pem = xstrdup(buf_head(&a->body.b));
        c->res->key_pem = tls_key_pem(k);
        rc = c->res->key_pem ? 0 : fail(c, "cannot encode the new key");
    }
out:
    json_decref(done);
    free(payload);
    free(csr);
    EVP_PKEY_free(k);
    return rc;
}

/* ---- the order ---- */

static int run(struct client *c, struct answer *a)
{
    char err[300], order_url[ACME_URL_MAX];
    const json_t *authzs, *u;
    json_t *order;
    size_t i;
    int rc = -1;

    if ((c->key = jws_key_load_or_create(c->rq->account_key, err, sizeof(err))) == NULL)
        return fail(c, "the account key: %s", err);
    if ((c->thumb = jws_thumbprint(c->key)) == NULL)
        return fail(c, "cannot compute the account key's thumbprint");
    if (get_directory(c, a) == -1 || account(c, a) == -1 ||
        (order = new_order(c, a, order_url, sizeof(order_url))) == NULL)
        return -1;
    authzs = json_object_get(order, "authorizations");
    if (order_url[0] == '\0' || !json_is_array(authzs))
        fail(c, "new order: no Location or authorizations in the CA's answer");
    else {
        rc = 0;
        json_array_foreach (authzs, i, u)
            if (rc == 0 && (!json_is_string(u) || authorize(c, json_string_value(u), a) == -1))
                rc = json_is_string(u) ? -1 : fail(c, "new order: an authorization is not a URL");
        if (rc == 0)
            rc = finalize(c, order, order_url, a);
    }
    json_decref(order);
    return rc;
}

int acme_order(const struct acme_order_req *rq, struct acme_result *res)
{
    struct client c = {.rq = rq, .res = res};
    struct answer a = {0};
    int rc;

    memset(res, 0, sizeof(*res));
    res->retry_after = -1;
    if ((c.curl = curl_easy_init()) == NULL)
        return fail(&c, "cannot start libcurl");
    rc = run(&c, &a);
    curl_easy_cleanup(c.curl);
    buf_free(&a.body.b);
    json_decref(c.dir);
    EVP_PKEY_free(c.key);
    free(c.thumb);
    return rc;
}
