/*
 * Unit tests for cli/client against a fake admin server: a thread in the test
 * answering canned HTTP responses on a unix socket in a temporary directory.
 * Checks what infoadm sends (method, path, headers, body), how answers and
 * API errors become results or one-line errors, the capability and API
 * version refusals, /api fetched once, and connection failures.
 */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/client.h"
#include "core/alloc.h"
#include "version.h"

#define MAX_EXCHANGES 4

struct fake {
    char dir[64];
    char sock[100];
    int fd;
    pthread_t thread;
    const char *replies[MAX_EXCHANGES]; /* one whole HTTP response per connection */
    size_t nreplies;
    char requests[MAX_EXCHANGES][8192];
};

static struct fake fk;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    memset(&fk, 0, sizeof(fk));
    snprintf(fk.dir, sizeof(fk.dir), "/tmp/test_cli_client.XXXXXX");
    cr_assert_not_null(mkdtemp(fk.dir));
    snprintf(fk.sock, sizeof(fk.sock), "%s/admin.sock", fk.dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    curl_global_cleanup();
    nftw(fk.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(client, .init = setup, .fini = teardown);

/* Read one request: the head, then Content-Length bytes of body. */
static void read_request(int c, char *out, size_t cap)
{
    size_t n = 0, want = 0;
    char *end = NULL;

    while (n + 1 < cap) {
        ssize_t r = read(c, out + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = '\0';
        if (end == NULL && (end = strstr(out, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(out, "Content-Length:");
            want = (size_t)(end + 4 - out) + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
        }
        if (end != NULL && n >= want)
            break;
    }
    out[n] = '\0';
}

static void *serve(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < fk.nreplies; i++) {
        int c = accept(fk.fd, NULL, NULL);
        if (c < 0)
            break;
        read_request(c, fk.requests[i], sizeof(fk.requests[i]));
        if (write(c, fk.replies[i], strlen(fk.replies[i])) < 0)
            perror("fake write");
        close(c);
    }
    return NULL;
}

static void start(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    fk.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk.sock);
    cr_assert_eq(bind(fk.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fk.fd, 4), 0);
    pthread_create(&fk.thread, NULL, serve, NULL);
}

static void stop(void)
{
    pthread_join(fk.thread, NULL);
    close(fk.fd);
}

static char *reply(int status, const char *body)
{
    size_t n = strlen(body) + 200;
    char *r = xmalloc(n);
    snprintf(r, n,
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             status, strlen(body), body);
    return r;
}

static void conn(struct cli_conn *c, const char *url)
{
    struct cli_server s = {.name = xstrdup(url), .url = xstrdup(url)};
    cli_conn_init(c, &s, NULL);
}

static char *unix_url(void)
{
    size_t n = strlen(fk.sock) + 6;
    char *u = xmalloc(n);
    snprintf(u, n, "unix:%s", fk.sock);
    return u;
}

Test(client, connect_failure_is_one_clear_line)
{
    struct cli_conn c;
    struct cli_err err = {0};
    json_t *out;
    char *url = unix_url(), want[256];

    conn(&c, url);
    cr_assert_eq(cli_get(&c, "/api", &out, &err), -1);
    cr_assert_eq(err.exit, CLI_EXIT_CONN);
    cr_assert_str_eq(err.code, "connection_failed");
    snprintf(want, sizeof(want), "cannot connect to %s: No such file or directory", url);
    cr_assert_str_eq(err.msg, want);
    cli_conn_free(&c);
    free(url);
}

Test(client, request_shape_and_answer)
{
    struct cli_conn c;
    struct cli_err err = {0};
    json_t *out, *body = json_pack("{s:{s:i}}", "set", "max_connections", 5);
    struct cli_req req = {
        .method = "PATCH", .path = "/api/v1/config/www", .body = body, .if_match = "3"};
    char *url = unix_url(), *r = reply(200, "{\"revision\": 4}");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_eq(cli_call(&c, &req, &out, &err), 0, "%s", err.msg);
    stop();
    cr_assert_eq(json_integer_value(json_object_get(out, "revision")), 4);
    cr_assert(strncmp(fk.requests[0], "PATCH /api/v1/config/www HTTP/1.1\r\n", 35) == 0, "%s",
              fk.requests[0]);
    cr_assert(strstr(fk.requests[0], "\r\nUser-Agent: infoadm/" INFOSRV_VERSION "\r\n"));
    cr_assert(strstr(fk.requests[0], "\r\nAccept: application/json\r\n"));
    cr_assert(strstr(fk.requests[0], "\r\nContent-Type: application/json\r\n"));
    cr_assert(strstr(fk.requests[0], "\r\nIf-Match: \"3\"\r\n"));
    cr_assert(strstr(fk.requests[0], "Authorization") == NULL, "no token over the socket");
    cr_assert(strstr(fk.requests[0], "\r\n\r\n{\"set\":{\"max_connections\":5}}"), "%s",
              fk.requests[0]);
    json_decref(out);
    json_decref(body);
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, post_without_body_sends_empty_object_and_empty_answer_is_object)
{
    struct cli_conn c;
    struct cli_err err = {0};
    struct cli_req req = {.method = "POST", .path = "/api/v1/cache/flush?service=www"};
    json_t *out;
    char *url = unix_url(), *r = reply(200, "");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_eq(cli_call(&c, &req, &out, &err), 0, "%s", err.msg);
    stop();
    cr_assert(json_is_object(out) && json_object_size(out) == 0);
    cr_assert(strncmp(fk.requests[0], "POST /api/v1/cache/flush?service=www HTTP/1.1", 45) == 0);
    cr_assert(strstr(fk.requests[0], "\r\n\r\n{}"), "%s", fk.requests[0]);
    json_decref(out);
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, api_error_becomes_message)
{
    struct cli_conn c;
    struct cli_err err = {0};
    json_t *out = NULL;
    char *url = unix_url();
    char *r =
        reply(400, "{\"error\": {\"code\": \"unknown_property\", \"message\": "
                   "\"unknown property 'colour'\", \"details\": {\"property\": \"colour\"}}}");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_eq(cli_get(&c, "/api/v1/config/www", &out, &err), -1);
    stop();
    cr_assert_null(out);
    cr_assert_eq(err.exit, CLI_EXIT_API);
    cr_assert_eq(err.http, 400);
    cr_assert_str_eq(err.code, "unknown_property");
    cr_assert_str_eq(err.msg, "unknown property 'colour'");
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, garbled_answer)
{
    struct cli_conn c;
    struct cli_err err = {0};
    json_t *out;
    char *url = unix_url(), *r = reply(200, "<html>hello</html>");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_eq(cli_get(&c, "/api", &out, &err), -1);
    stop();
    cr_assert_eq(err.exit, CLI_EXIT_CONN);
    cr_assert_str_eq(err.code, "bad_response");
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, missing_capability_is_refused_before_any_request)
{
    struct cli_conn c;
    struct cli_err err = {0};
    char *url = unix_url(), want[512];
    char *r = reply(200, "{\"product\": \"infosrv\", \"version\": \"0.1.0\", \"api_versions\": "
                         "[\"v1\"], \"capabilities\": [\"config\", \"sessions\"], \"new\": 1}");

    fk.replies[0] = r;
    fk.nreplies = 1; /* a second GET /api would find no server: the answer must be cached */
    start();
    conn(&c, url);
    cr_assert_eq(cli_need_cap(&c, "sessions", "sessions", &err), 0, "%s", err.msg);
    cr_assert_eq(cli_need_cap(&c, "sessions.disconnect", "disconnect", &err), -1);
    stop();
    snprintf(want, sizeof(want),
             "server %s (infosrv 0.1.0) does not support 'disconnect' (capability "
             "sessions.disconnect)",
             url);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(err.exit, CLI_EXIT_API);
    cr_assert(err.named);
    cr_assert(strncmp(fk.requests[0], "GET /api HTTP/1.1", 17) == 0);
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, api_version_set_without_v1)
{
    struct cli_conn c;
    struct cli_err err = {0};
    char *url = unix_url(), want[512];
    char *r = reply(200, "{\"product\": \"infosrv\", \"version\": \"3.0.0\", \"api_versions\": "
                         "[\"v2\", \"v3\"], \"capabilities\": [\"config\"]}");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_null(cli_api(&c, &err));
    stop();
    snprintf(want, sizeof(want),
             "server %s (infosrv 3.0.0) does not serve admin API v1 (it serves: v2, v3); this "
             "infoadm " INFOSRV_VERSION " speaks v1",
             url);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(err.exit, CLI_EXIT_API);
    cli_conn_free(&c);
    free(url);
    free(r);
}

Test(client, not_an_admin_api)
{
    struct cli_conn c;
    struct cli_err err = {0};
    char *url = unix_url(), *r = reply(200, "{\"hello\": \"world\"}");

    fk.replies[0] = r;
    fk.nreplies = 1;
    start();
    conn(&c, url);
    cr_assert_null(cli_api(&c, &err));
    stop();
    cr_assert(strstr(err.msg, "did not answer GET /api like an infosrv admin API") != NULL, "%s",
              err.msg);
    cli_conn_free(&c);
    free(url);
    free(r);
}
