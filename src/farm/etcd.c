/* etcd: the gateway client — unary calls with endpoint failover, and watch
 * streams. */
#include "farm/etcd.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "version.h"

#define POOL_MAX 4 /* idle easy handles kept (with their connections) */
#define CONNECT_TIMEOUT_MS 1000
#define ATTEMPT_MAX_MS 1000 /* one try at one endpoint: an election takes about as long */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 500
#define QUEUE_MAX (64u << 20) /* watch bytes received in one poll, not yet handed over */
#define TOKEN_MAX 512

/* gRPC codes the gateway answers with */
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_UNAVAILABLE 14
#define GRPC_UNAUTHENTICATED 16

struct etcd {
    char *endpoints[ETCD_MAX_ENDPOINTS];
    size_t n;
    char *ca_file, *cert_file, *key_file, *user, *password;
    pthread_mutex_t mu; /* current, token, pool */
    size_t current;
    char token[TOKEN_MAX];
    CURL *pool[POOL_MAX];
    size_t npool;
};

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

struct etcd *etcd_new(const struct etcd_conf *conf)
{
    struct etcd *e = xcalloc(1, sizeof(*e));

    for (size_t i = 0; i < conf->nendpoints && i < ETCD_MAX_ENDPOINTS; i++)
        e->endpoints[e->n++] = xstrdup(conf->endpoints[i]);
    e->ca_file = dup_or_null(conf->ca_file);
    e->cert_file = dup_or_null(conf->cert_file);
    e->key_file = dup_or_null(conf->key_file);
    e->user = dup_or_null(conf->user);
    e->password = dup_or_null(conf->password);
    pthread_mutex_init(&e->mu, NULL);
    return e;
}

void etcd_free(struct etcd *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->endpoints[i]);
    for (size_t i = 0; i < e->npool; i++)
        curl_easy_cleanup(e->pool[i]);
    if (e->password)
        memset(e->password, 0, strlen(e->password));
    free(e->ca_file);
    free(e->cert_file);
    free(e->key_file);
    free(e->user);
    free(e->password);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

const char *etcd_endpoint(struct etcd *e)
{
    const char *s;

    pthread_mutex_lock(&e->mu);
    s = e->n ? e->endpoints[e->current % e->n] : "(none)";
    pthread_mutex_unlock(&e->mu);
    return s;
}

static int fail(struct etcd_err *err, bool unreachable, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct etcd_err *err, bool unreachable, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->unreachable = unreachable;
    err->code = code;
    return -1;
}

/* ---- easy handles ---- */

static CURL *handle_take(struct etcd *e)
{
    CURL *c = NULL;

    pthread_mutex_lock(&e->mu);
    if (e->npool > 0)
        c = e->pool[--e->npool];
    pthread_mutex_unlock(&e->mu);
    return c ? c : curl_easy_init();
}

static void handle_give(struct etcd *e, CURL *c)
{
    pthread_mutex_lock(&e->mu);
    if (e->npool < POOL_MAX) {
        e->pool[e->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    if (c)
        curl_easy_cleanup(c);
}

/* Options every request of E shares: TLS, time limits, no signals. */
static void common_opts(struct etcd *e, CURL *c, const char *url, char *errbuf)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "infosrv/" INFOSRV_VERSION " farm");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (e->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
    if (e->cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert_file);
    if (e->key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, e->key_file);
}

static struct curl_slist *headers(struct etcd *e)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[TOKEN_MAX + 32];

    pthread_mutex_lock(&e->mu);
    if (e->token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
        h = curl_slist_append(h, auth);
    }
    pthread_mutex_unlock(&e->mu);
    return curl_slist_append(h, "Expect:");
}

/* ---- one try at one endpoint ---- */

enum outcome { OK, RETRY, FAILED };

/* An answer's status and body into *RESP or ERR. */
static enum outcome read_answer(long status, struct buf_sink *s, const char *ep, json_t **resp,
                                struct etcd_err *err)
{
    json_t *j = json_loadb(s->b.data ? s->b.data : "", s->b.len, 0, NULL);
    char msg[256];
    int code = 0;

    if (j != NULL && etcd_msg_error(j, msg, sizeof(msg), &code)) {
        json_decref(j);
        fail(err, false, code, "etcd at %s: %s", ep, msg);
        return code == GRPC_UNAVAILABLE || code == GRPC_DEADLINE_EXCEEDED ? RETRY : FAILED;
    }
    if (status != 200 || !json_is_object(j)) {
        json_decref(j);
        fail(err, false, 0, "etcd at %s answered HTTP %ld%s", ep, status,
             status == 200 ? " with something that is not a JSON object" : "");
        return status >= 500 ? RETRY : FAILED;
    }
    *resp = j;
    return OK;
}

static enum outcome attempt(struct etcd *e, size_t idx, const char *path, const char *body,
                            long timeout_ms, json_t **resp, struct etcd_err *err)
{
    char url[600], errbuf[CURL_ERROR_SIZE] = "";
    struct buf_sink s = {.max = ETCD_MSG_MAX};
    struct curl_slist *h = headers(e);
    CURL *c = handle_take(e);
    long status = 0;
    CURLcode rc;
    enum outcome out;

    snprintf(url, sizeof(url), "%s%s", e->endpoints[idx], path);
    common_opts(e, c, url, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !s.too_big) {
        fail(err, true, 0, "etcd at %s: %s", e->endpoints[idx],
             errbuf[0] ? errbuf : curl_easy_strerror(rc));
        out = RETRY;
    } else if (s.too_big) {
        fail(err, false, 0, "etcd at %s: the answer is larger than %u bytes", e->endpoints[idx],
             ETCD_MSG_MAX);
        out = FAILED;
    } else {
        out = read_answer(status, &s, e->endpoints[idx], resp, err);
    }
    curl_slist_free_all(h);
    buf_free(&s.b);
    handle_give(e, c);
    return out;
}

/* Log in as the configured user at endpoint IDX (etcd's simple or JWT tokens). */
static enum outcome authenticate(struct etcd *e, size_t idx, long timeout_ms, struct etcd_err *err)
{
    json_t *body = json_pack("{s:s, s:s}", "name", e->user, "password", e->password), *resp = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    enum outcome out = attempt(e, idx, "/v3/auth/authenticate", text, timeout_ms, &resp, err);
    const char *token = json_string_value(json_object_get(resp, "token"));

    if (out == OK && (token == NULL || strlen(token) >= TOKEN_MAX)) {
        fail(err, false, 0, "etcd at %s: the login answer holds no token", e->endpoints[idx]);
        out = FAILED;
    }
    if (out == OK) {
        pthread_mutex_lock(&e->mu);
        snprintf(e->token, sizeof(e->token), "%s", token);
        pthread_mutex_unlock(&e->mu);
    }
    memset(text, 0, strlen(text));
    free(text);
    json_decref(body);
    json_decref(resp);
    return out;
}

static bool need_login(struct etcd *e)
{
    bool need;

    pthread_mutex_lock(&e->mu);
    need = e->user != NULL && e->token[0] == '\0';
    pthread_mutex_unlock(&e->mu);
    return need;
}

static void forget_token(struct etcd *e)
{
    pthread_mutex_lock(&e->mu);
    e->token[0] = '\0';
    pthread_mutex_unlock(&e->mu);
}

static enum outcome try_endpoint(struct etcd *e, size_t idx, const char *path, const char *body,
                                 long timeout_ms, json_t **resp, struct etcd_err *err)
{
    enum outcome out;

    if (need_login(e) && (out = authenticate(e, idx, timeout_ms, err)) != OK)
        return out;
    out = attempt(e, idx, path, body, timeout_ms, resp, err);
    if (out == FAILED && err->code == GRPC_UNAUTHENTICATED && e->user != NULL) {
        forget_token(e); /* expired: log in again, once */
        if ((out = authenticate(e, idx, timeout_ms, err)) == OK)
            out = attempt(e, idx, path, body, timeout_ms, resp, err);
    }
    return out;
}

static size_t current(struct etcd *e)
{
    size_t i;

    pthread_mutex_lock(&e->mu);
    i = e->current % e->n;
    pthread_mutex_unlock(&e->mu);
    return i;
}

/* Calls go to IDX from now on (moving on from a failed one only once). */
static void set_current(struct etcd *e, size_t from, size_t to)
{
    pthread_mutex_lock(&e->mu);
    if (e->current % e->n == from)
        e->current = to;
    pthread_mutex_unlock(&e->mu);
}

int etcd_call(struct etcd *e, const char *path, const json_t *body, int timeout_ms, json_t **resp,
              struct etcd_err *err)
{
    int64_t deadline = clock_mono_ms() + timeout_ms, left;
    char *text = json_dumps(body, JSON_COMPACT);
    unsigned backoff = BACKOFF_MIN_MS;
    enum outcome out = FAILED;

    *resp = NULL;
    memset(err, 0, sizeof(*err));
    if (e->n == 0) {
        free(text);
        return fail(err, true, 0, "no etcd endpoint is configured");
    }
    for (size_t tries = 0;; tries++) {
        size_t idx = current(e);
        left = deadline - clock_mono_ms();
        out = try_endpoint(e, idx, path, text,
                           left < ATTEMPT_MAX_MS ? (left > 50 ? left : 50) : ATTEMPT_MAX_MS, resp,
                           err);
        if (out != RETRY)
            break;
        set_current(e, idx, (idx + 1) % e->n);
        if (clock_mono_ms() + (int64_t)backoff >= deadline)
            break;
        if ((tries + 1) % e->n == 0) { /* every endpoint tried: wait a little */
            struct timespec ts = {0, (long)backoff * 1000000L};
            nanosleep(&ts, NULL);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
    }
    free(text);
    return out == OK ? 0 : -1;
}

int etcd_get(struct etcd *e, const char *key, const char *end, bool keys_only, int timeout_ms,
             struct etcd_range *out, struct etcd_err *err)
{
    json_t *req = etcd_msg_range_req(key, end, 0, keys_only), *resp;
    const char *why;
    int rc = etcd_call(e, "/v3/kv/range", req, timeout_ms, &resp, err);

    json_decref(req);
    if (rc == 0 && etcd_msg_range(resp, out, &why) == -1)
        rc = fail(err, false, 0, "etcd at %s: %s", etcd_endpoint(e), why);
    json_decref(resp);
    return rc;
}

int etcd_txn(struct etcd *e, const json_t *req, int timeout_ms, bool *succeeded, json_t **resp,
             struct etcd_err *err)
{
    json_t *r;
    const json_t *responses;
    const char *why;
    int64_t rev;
    int rc = etcd_call(e, "/v3/kv/txn", req, timeout_ms, &r, err);

    if (rc == 0 && etcd_msg_txn(r, succeeded, &rev, &responses, &why) == -1)
        rc = fail(err, false, 0, "etcd at %s: %s", etcd_endpoint(e), why);
    if (rc == 0 && resp)
        *resp = json_incref(r);
    json_decref(r);
    return rc;
}

int etcd_lease_grant(struct etcd *e, int ttl, int timeout_ms, int64_t *id, struct etcd_err *err)
{
    json_t *req = json_pack("{s:i}", "TTL", ttl), *resp;
    int rc = etcd_call(e, "/v3/lease/grant", req, timeout_ms, &resp, err);

    json_decref(req);
    if (rc == 0 && (etcd_msg_int(json_object_get(resp, "ID"), id) == -1 || *id == 0))
        rc = fail(err, false, 0, "etcd at %s: the lease answer holds no ID", etcd_endpoint(e));
    json_decref(resp);
    return rc;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int timeout_ms, int64_t *ttl,
                         struct etcd_err *err)
{
    char ids[24];
    json_t *req, *resp;
    int rc;

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    req = json_pack("{s:s}", "ID", ids);
    rc = etcd_call(e, "/v3/lease/keepalive", req, timeout_ms, &resp, err);
    json_decref(req);
    /* A stream of one answer: {"result": {"ID", "TTL"}}; no TTL once the lease is gone. */
    if (rc == 0 && etcd_msg_int(json_object_get(json_object_get(resp, "result"), "TTL"), ttl) == -1)
        rc =
            fail(err, false, 0, "etcd at %s: the keep-alive answer is malformed", etcd_endpoint(e));
    json_decref(resp);
    return rc;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, int timeout_ms, struct etcd_err *err)
{
    char ids[24];
    json_t *req, *resp;
    int rc;

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    req = json_pack("{s:s}", "ID", ids);
    rc = etcd_call(e, "/v3/lease/revoke", req, timeout_ms, &resp, err);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* ---- watches ---- */

struct etcd_watch {
    struct etcd *e;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    char url[600], errbuf[CURL_ERROR_SIZE];
    struct etcd_stream stream;
    json_t *queue;      /* message texts received, not handed over yet */
    size_t queued;      /* their bytes */
    struct buf errbody; /* the body of a non-200 answer */
    bool broken;        /* the stream could not be split or queued */
    bool ended;
};

static int on_message(void *arg, const char *msg, size_t len)
{
    struct etcd_watch *w = arg;

    if (w->queued + len > QUEUE_MAX)
        return -1;
    json_array_append_new(w->queue, json_stringn(msg, len));
    w->queued += len;
    return 0;
}

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
    struct etcd_watch *w = arg;
    long status = 0;

    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        if (w->errbody.len < 4096)
            buf_append(&w->errbody, p, size * n);
        return size * n;
    }
    if (etcd_stream_feed(&w->stream, p, size * n, on_message, w) == -1) {
        w->broken = true;
        return 0;
    }
    return size * n;
}

struct etcd_watch *etcd_watch_open(struct etcd *e, const char *prefix, int64_t revision,
                                   struct etcd_err *err)
{
    struct etcd_watch *w = xcalloc(1, sizeof(*w));
    json_t *req = etcd_msg_watch_req(prefix, revision);
    struct etcd_err lerr;

    memset(err, 0, sizeof(*err));
    if (need_login(e) && authenticate(e, current(e), ATTEMPT_MAX_MS, &lerr) != OK) {
        *err = lerr;
        json_decref(req);
        free(w);
        return NULL;
    }
    w->e = e;
    w->body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    w->queue = json_array();
    w->multi = curl_multi_init();
    w->easy = curl_easy_init();
    w->hdrs = headers(e);
    snprintf(w->url, sizeof(w->url), "%s/v3/watch", e->endpoints[current(e)]);
    common_opts(e, w->easy, w->url, w->errbuf);
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->hdrs);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_multi_add_handle(w->multi, w->easy);
    return w;
}

/* Hand over the queued messages; -1 when one ends the watch. */
static int deliver(struct etcd_watch *w, etcd_watch_fn fn, void *arg, struct etcd_err *err)
{
    size_t i;
    json_t *text;
    int rc = 0;

    json_array_foreach (w->queue, i, text) {
        struct etcd_watch_msg m;
        const char *why;
        if (rc == 0 &&
            etcd_msg_watch(json_string_value(text), json_string_length(text), &m, &why) == -1)
            rc = fail(err, false, 0, "etcd at %s: %s", w->url, why);
        else if (rc == 0) {
            if (fn(arg, &m) == -1)
                rc = fail(err, false, 0, "the watch was ended by its reader");
            else if (m.canceled)
                rc = fail(err, false, 0, "etcd at %s canceled the watch%s%s", w->url,
                          m.error[0] ? ": " : "", m.error);
            etcd_watch_msg_free(&m);
        }
    }
    json_array_clear(w->queue);
    w->queued = 0;
    return rc;
}

static int finished(struct etcd_watch *w, struct etcd_err *err)
{
    CURLMsg *msg;
    int left;
    long status = 0;

    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        w->ended = true;
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
        if (w->broken)
            return fail(err, false, 0, "etcd at %s: the watch stream is malformed or too large",
                        w->url);
        if (msg->data.result != CURLE_OK)
            return fail(err, true, 0, "etcd at %s: %s", w->url,
                        w->errbuf[0] ? w->errbuf : curl_easy_strerror(msg->data.result));
        return fail(err, status != 200, 0, "etcd at %s ended the watch (HTTP %ld)", w->url, status);
    }
    return 0;
}

int etcd_watch_poll(struct etcd_watch *w, int timeout_ms, etcd_watch_fn fn, void *arg,
                    struct etcd_err *err)
{
    int running = 0;

    memset(err, 0, sizeof(*err));
    if (w->ended)
        return fail(err, false, 0, "the watch has ended");
    curl_multi_poll(w->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(w->multi, &running);
    if (deliver(w, fn, arg, err) == -1) {
        w->ended = true;
        return -1;
    }
    return finished(w, err);
}

void etcd_watch_wakeup(struct etcd_watch *w)
{
    curl_multi_wakeup(w->multi);
}

void etcd_watch_close(struct etcd_watch *w)
{
    if (w == NULL)
        return;
    curl_multi_remove_handle(w->multi, w->easy);
    curl_easy_cleanup(w->easy);
    curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->hdrs);
    free(w->body);
    json_decref(w->queue);
    buf_free(&w->errbody);
    etcd_stream_free(&w->stream);
    free(w);
}
