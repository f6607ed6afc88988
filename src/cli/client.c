/* client: admin API requests with libcurl, pinning, capabilities. */
#include "cli/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/inventory.h"
#include "cli/pin.h"
#include "core/alloc.h"
#include "version.h"

#define UNIX_PATH_MAX 107

/* ---- URLs, keys and query strings ---- */

bool cli_url_is_https(const char *url)
{
    return strncmp(url, "https://", 8) == 0;
}

static int bad_url(const char *in, struct cli_err *err)
{
    cli_err_set(err, CLI_EXIT_USAGE, "invalid_url",
                "invalid server '%s': expected unix:PATH, https://HOST:PORT or an inventory name",
                in);
    return -1;
}

static bool port_ok(const char *p, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* HOST[:PORT] after "https://", with an optional "/" at the end. */
static int norm_https(const char *in, char **out, struct cli_err *err)
{
    const char *h = in + 8, *end = h + strlen(h), *colon = NULL;
    char *s;
    size_t n;

    if (end > h && end[-1] == '/')
        end--;
    if (end == h || memchr(h, '/', (size_t)(end - h)) || memchr(h, '@', (size_t)(end - h)) ||
        memchr(h, '?', (size_t)(end - h)) || memchr(h, '#', (size_t)(end - h)))
        return bad_url(in, err);
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL || rb == h + 1 || (rb + 1 < end && rb[1] != ':'))
            return bad_url(in, err);
        colon = rb + 1 < end ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon == h)
            return bad_url(in, err);
    }
    if (colon != NULL && !port_ok(colon + 1, (size_t)(end - colon - 1)))
        return bad_url(in, err);
    n = (size_t)(end - in) + sizeof(":" CLI_DEFAULT_PORT);
    s = xmalloc(n);
    snprintf(s, n, "%.*s%s", (int)(end - in), in, colon != NULL ? "" : ":" CLI_DEFAULT_PORT);
    *out = s;
    return 0;
}

int cli_url_norm(const char *in, char **out, struct cli_err *err)
{
    *out = NULL;
    if (in == NULL)
        return bad_url("", err);
    if (strncmp(in, "unix:", 5) == 0) {
        if (in[5] == '\0' || strlen(in + 5) > UNIX_PATH_MAX)
            return bad_url(in, err);
        *out = xstrdup(in);
        return 0;
    }
    if (strncmp(in, "http://", 7) == 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "invalid_url",
                    "'%s': the admin API over TCP is HTTPS only (use https://HOST:PORT)", in);
        return -1;
    }
    if (cli_url_is_https(in))
        return norm_https(in, out, err);
    return bad_url(in, err);
}

void cli_pct_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
}

const char *cli_buf_str(struct buf *b)
{
    buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data + b->off;
}

void cli_query_add(struct buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    buf_puts(b, buf_unread(b) > 0 && memchr(buf_head(b), '?', buf_unread(b)) != NULL ? "&" : "?");
    buf_puts(b, name);
    buf_puts(b, "=");
    cli_pct_encode(b, value);
}

int cli_key_norm(const char *in, char **out, struct cli_err *err)
{
    struct buf b = {0};
    const char *p = in;

    while (*p == '/')
        p++;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            buf_free(&b);
            cli_err_set(err, CLI_EXIT_USAGE, "invalid_key",
                        "invalid key '%s': '.' and '..' are not key names", in);
            return -1;
        }
        buf_puts(&b, "/");
        buf_append(&b, p, n);
        p += n;
        while (*p == '/')
            p++;
    }
    if (b.len == 0)
        buf_puts(&b, "/");
    *out = xstrdup(cli_buf_str(&b));
    buf_free(&b);
    return 0;
}

void cli_key_path(struct buf *b, const char *prefix, const char *key)
{
    const char *p = key;

    buf_puts(b, prefix);
    if (strcmp(key, "/") == 0) {
        buf_puts(b, "/");
        return;
    }
    while (*p == '/') {
        size_t n = strcspn(p + 1, "/");
        char *seg = xstrndup(p + 1, n);
        buf_puts(b, "/");
        cli_pct_encode(b, seg);
        free(seg);
        p += n + 1;
    }
}

/* ---- connections ---- */

void cli_server_free(struct cli_server *s)
{
    free(s->name);
    free(s->url);
    free(s->token);
    free(s->pin);
    free(s->cacert);
    memset(s, 0, sizeof(*s));
}

void cli_conn_init(struct cli_conn *c, struct cli_server *srv, struct inv *inv)
{
    memset(c, 0, sizeof(*c));
    c->srv = *srv;
    memset(srv, 0, sizeof(*srv));
    c->inv = inv;
}

void cli_conn_free(struct cli_conn *c)
{
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    json_decref(c->api);
    cli_server_free(&c->srv);
    memset(c, 0, sizeof(*c));
}

static void describe(const struct cli_server *s, char *out, size_t cap)
{
    if (s->name == NULL || strcmp(s->name, s->url) == 0)
        snprintf(out, cap, "%s", s->url);
    else
        snprintf(out, cap, "%s (%s)", s->name, s->url);
}

static bool tls_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

static void transport_error(const struct cli_server *s, CURLcode rc, const char *errbuf,
                            long os_errno, bool too_big, struct cli_err *err)
{
    char who[600];
    const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

    describe(s, who, sizeof(who));
    if (rc == CURLE_COULDNT_CONNECT)
        cli_err_set(err, CLI_EXIT_CONN, "connection_failed", "cannot connect to %s: %s", who,
                    os_errno != 0 ? strerror((int)os_errno) : detail);
    else if (rc == CURLE_COULDNT_RESOLVE_HOST)
        cli_err_set(err, CLI_EXIT_CONN, "connection_failed", "cannot resolve %s: %s", who, detail);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        cli_err_set(err, CLI_EXIT_CONN, "timeout", "%s did not answer in time: %s", who, detail);
    else if (rc == CURLE_WRITE_ERROR && too_big)
        cli_err_set(err, CLI_EXIT_CONN, "bad_response", "the answer from %s exceeds %d MiB", who,
                    CLI_MAX_RESPONSE >> 20);
    else if (tls_code(rc))
        cli_err_set(err, CLI_EXIT_CONN, "tls_failed", "TLS with %s failed: %s", who, detail);
    else
        cli_err_set(err, CLI_EXIT_CONN, "connection_failed", "talking to %s failed: %s", who,
                    detail);
    err->named = true; /* WHO is in every message above */
}

static void base_options(CURL *h, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_USERAGENT, "infoadm/" INFOSRV_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CLI_CONNECT_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)CLI_TOTAL_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = '\0';
}

int cli_fetch_pin(const struct cli_server *s, char *out, size_t cap, struct cli_err *err)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_certinfo *ci = NULL;
    CURL *h = curl_easy_init();
    CURLcode rc;
    long os_errno = 0;
    int result = -1;

    if (h == NULL)
        abort();
    base_options(h, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    /* Only to read the key: no request is sent and no token leaves. */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        transport_error(s, rc, errbuf, os_errno, false, err);
        goto done;
    }
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci != NULL &&
        ci->num_of_certs > 0)
        for (struct curl_slist *l = ci->certinfo[0]; l != NULL; l = l->next)
            if (strncmp(l->data, "Cert:", 5) == 0) {
                result = pin_from_pem(l->data + 5, strlen(l->data + 5), out, cap, err);
                goto done;
            }
    cli_err_set(err, CLI_EXIT_CONN, "tls_failed", "%s sent no certificate", s->url);
done:
    curl_easy_cleanup(h);
    return result;
}

/* First contact with an HTTPS server that has neither pin nor CA: learn the pin. */
static int settle_pin(struct cli_conn *c, struct cli_err *err)
{
    char pin[PIN_LEN + 1];

    if (c->ready || !cli_url_is_https(c->srv.url) || c->srv.pin != NULL || c->srv.cacert != NULL) {
        c->ready = true;
        return 0;
    }
    if (cli_fetch_pin(&c->srv, pin, sizeof(pin), err) < 0)
        return -1;
    c->srv.pin = xstrdup(pin);
    if (c->srv.in_inventory && c->inv != NULL) {
        if (inv_set_pin(c->inv, c->srv.name, pin) < 0 || inv_save(c->inv, err) < 0)
            return -1;
        fprintf(stderr, "infoadm: %s: first contact, pinned the server's certificate key %s\n",
                c->srv.name, pin);
    } else if (!c->quiet_tofu) {
        fprintf(stderr,
                "infoadm: warning: %s is not in the inventory; its certificate key %s was "
                "accepted without verification (pin it with 'infoadm server add NAME %s')\n",
                c->srv.url, pin, c->srv.url);
    }
    c->ready = true;
    return 0;
}

static int pin_mismatch(struct cli_conn *c, struct cli_err *err)
{
    char got[PIN_LEN + 1];
    struct cli_err ignored;

    if (cli_fetch_pin(&c->srv, got, sizeof(got), &ignored) < 0)
        snprintf(got, sizeof(got), "an unreadable key");
    if (c->srv.in_inventory)
        cli_err_set(err, CLI_EXIT_PIN, "pin_mismatch",
                    "%s: the server's certificate key changed (pinned %s, got %s); if this is "
                    "expected run 'infoadm server remove %s' and add it again",
                    c->srv.name, c->srv.pin, got, c->srv.name);
    else
        cli_err_set(err, CLI_EXIT_PIN, "pin_mismatch",
                    "%s: the server's certificate key does not match the pin (pinned %s, got %s)",
                    c->srv.name, c->srv.pin, got);
    err->named = true;
    return -1;
}

struct body_sink {
    struct buf b;
    bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct body_sink *s = ud;
    size_t len = size * n;

    if (s->b.len + len > CLI_MAX_RESPONSE) {
        s->too_big = true;
        return 0;
    }
    buf_append(&s->b, p, len);
    return len;
}

static struct curl_slist *make_headers(const struct cli_conn *c, const struct cli_req *req)
{
    struct curl_slist *h = NULL;
    char line[4200];

    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "DELETE") != 0)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (req->if_match != NULL) {
        snprintf(line, sizeof(line), "If-Match: \"%s\"", req->if_match);
        h = curl_slist_append(h, line);
    }
    if (cli_url_is_https(c->srv.url) && c->srv.token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", c->srv.token);
        h = curl_slist_append(h, line);
    }
    return h;
}

static void tls_options(CURL *h, const struct cli_server *s)
{
    if (s->cacert != NULL) {
        curl_easy_setopt(h, CURLOPT_CAINFO, s->cacert);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    } else {
        /* The pin replaces the CA check, as SSH's known_hosts does. */
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, s->pin);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static void request_options(struct cli_conn *c, const struct cli_req *req, const char *url,
                            const char *body)
{
    CURL *h = c->curl;

    curl_easy_setopt(h, CURLOPT_URL, url);
    if (cli_url_is_https(c->srv.url)) {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        tls_options(h, &c->srv);
    } else {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->srv.url + 5);
    }
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
}

static char *request_body(const struct cli_req *req)
{
    if (req->body != NULL)
        return json_dumps(req->body, JSON_COMPACT);
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "DELETE") == 0)
        return NULL;
    return xstrdup("{}");
}

static int answer(struct cli_conn *c, long status, struct buf *b, json_t **out, struct cli_err *err)
{
    char who[600];

    if (status < 200 || status > 299) {
        cli_err_from_api(err, status, buf_head(b), buf_unread(b));
        if (status == 401 && c->srv.token == NULL)
            snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
                     " (no token given: use --token, --token-file or INFOADM_TOKEN)");
        return -1;
    }
    *out = buf_unread(b) == 0 ? json_object()
                              : json_loadb(buf_head(b), buf_unread(b), JSON_DECODE_ANY, NULL);
    if (*out == NULL) {
        describe(&c->srv, who, sizeof(who));
        cli_err_set(err, CLI_EXIT_CONN, "bad_response", "%s answered with something not JSON", who);
        err->named = true;
        return -1;
    }
    return 0;
}

/* A token goes into a header line: visible ASCII only. */
static int check_token(const struct cli_conn *c, struct cli_err *err)
{
    for (const char *p = c->srv.token; p != NULL && *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            cli_err_set(err, CLI_EXIT_USAGE, "bad_token",
                        "the token for %s contains spaces or control characters", c->srv.name);
            return -1;
        }
    return 0;
}

int cli_call(struct cli_conn *c, const struct cli_req *req, json_t **out, struct cli_err *err)
{
    char errbuf[CURL_ERROR_SIZE];
    struct buf url = {0};
    struct body_sink sink = {0};
    struct curl_slist *hdrs = NULL;
    char *body = NULL;
    long status = 0, os_errno = 0;
    int rc = -1;
    CURLcode cr;

    *out = NULL;
    if (check_token(c, err) < 0 || settle_pin(c, err) < 0)
        return -1;
    if (c->curl == NULL && (c->curl = curl_easy_init()) == NULL)
        abort();
    curl_easy_reset(c->curl);
    buf_puts(&url, cli_url_is_https(c->srv.url) ? c->srv.url : "http://localhost");
    buf_puts(&url, req->path);
    body = request_body(req);
    hdrs = make_headers(c, req);
    base_options(c->curl, errbuf);
    request_options(c, req, cli_buf_str(&url), body);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
    cr = curl_easy_perform(c->curl);
    if (cr == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
        pin_mismatch(c, err);
    } else if (cr != CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
        transport_error(&c->srv, cr, errbuf, os_errno, sink.too_big, err);
    } else {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        rc = answer(c, status, &sink.b, out, err);
    }
    curl_slist_free_all(hdrs);
    free(body);
    buf_free(&url);
    buf_free(&sink.b);
    return rc;
}

int cli_get(struct cli_conn *c, const char *path, json_t **out, struct cli_err *err)
{
    struct cli_req req = {.method = "GET", .path = path};
    return cli_call(c, &req, out, err);
}

/* ---- discovery and capabilities ---- */

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;

    json_array_foreach (arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

void cli_server_product(const struct cli_conn *c, char *out, size_t cap)
{
    const char *p = json_string_value(json_object_get(c->api, "product"));
    const char *v = json_string_value(json_object_get(c->api, "version"));

    snprintf(out, cap, "%s %s", p != NULL ? p : "unknown product",
             v != NULL ? v : "of unknown version");
}

static void joined(const json_t *arr, char *out, size_t cap)
{
    size_t i, n = 0;
    const json_t *v;

    out[0] = '\0';
    json_array_foreach (arr, i, v) {
        if (json_is_string(v) && n < cap)
            n +=
                (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "", json_string_value(v));
    }
}

const json_t *cli_api(struct cli_conn *c, struct cli_err *err)
{
    json_t *api;
    char prod[200], served[200];

    if (c->api != NULL)
        return c->api;
    if (cli_get(c, "/api", &api, err) < 0)
        return NULL;
    c->api = api;
    if (!json_is_object(api) || !json_is_array(json_object_get(api, "api_versions"))) {
        cli_err_set(err, CLI_EXIT_API, "bad_response",
                    "server %s did not answer GET /api like an infosrv admin API", c->srv.name);
    } else if (!array_has(json_object_get(api, "api_versions"), "v1")) {
        cli_server_product(c, prod, sizeof(prod));
        joined(json_object_get(api, "api_versions"), served, sizeof(served));
        cli_err_set(err, CLI_EXIT_API, "unsupported_api",
                    "server %s (%s) does not serve admin API v1 (it serves: %s); this infoadm "
                    "%s speaks v1",
                    c->srv.name, prod, served[0] ? served : "none", INFOSRV_VERSION);
    } else {
        return api;
    }
    err->named = true;
    json_decref(api);
    c->api = NULL;
    return NULL;
}

bool cli_has_cap(const struct cli_conn *c, const char *cap)
{
    return array_has(json_object_get(c->api, "capabilities"), cap);
}

int cli_need_cap(struct cli_conn *c, const char *cap, const char *what, struct cli_err *err)
{
    char prod[200];

    if (cli_api(c, err) == NULL)
        return -1;
    if (cli_has_cap(c, cap))
        return 0;
    cli_server_product(c, prod, sizeof(prod));
    cli_err_set(err, CLI_EXIT_API, "unsupported",
                "server %s (%s) does not support '%s' (capability %s)", c->srv.name, prod, what,
                cap);
    err->named = true;
    return -1;
}

int cli_token_from_file(const char *file, char **out, struct cli_err *err)
{
    char line[4096];
    FILE *f = fopen(file, "r");
    size_t n;

    if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
        cli_err_set(err, CLI_EXIT_USAGE, "bad_token", "cannot read a token from %s: %s", file,
                    f == NULL ? strerror(errno) : "empty file");
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    n = strcspn(line, "\r\n \t");
    if (n == 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "bad_token", "%s: the first line holds no token", file);
        return -1;
    }
    *out = xstrndup(line, n);
    return 0;
}
