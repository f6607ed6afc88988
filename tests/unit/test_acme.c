/* Unit tests for the pure parts of the ACME client: the headers and problem
 * documents of a CA's answers (acme/proto.c), base64url, the account key and
 * JWS signing (acme/jws.c), the challenge answer store (runtime/challenge.c)
 * and the certificates the client reads and makes (runtime/tlscert.c).
 * Signatures and certificates are checked with OpenSSL, not with the code
 * under test. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "acme/jws.h"
#include "acme/proto.h"
#include "runtime/challenge.h"
#include "runtime/tlscert.h"

/* Tue, 14 Nov 2023 22:13:20 GMT: the "now" of every Retry-After test. */
#define NOW ((time_t)1700000000)
#define ACME_NS "urn:ietf:params:acme:error:"

/* A heap block of exactly N bytes holding S[0..N), so ASan sees any read past the end. */
static char *exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);

    cr_assert_not_null(p);
    memcpy(p, s, n);
    return p;
}

/* A string of N copies of C. */
static char *repeat(char c, size_t n)
{
    char *p = malloc(n + 1);

    cr_assert_not_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

/* ---- acme/proto: headers ---- */

static struct acme_headers h;

static void headers_setup(void)
{
    memset(&h, 0xaa, sizeof(h));
    acme_headers_reset(&h);
}

static void header_n(const char *line, size_t n)
{
    char *p = exact(line, n);

    acme_header_line(&h, p, n, NOW);
    free(p);
}

static void header(const char *line)
{
    header_n(line, strlen(line));
}

/* The value of a "NAME: VALUE\r\n" line built from parts. */
static void header_with(const char *name, const char *value)
{
    char *line;
    size_t cap = strlen(name) + strlen(value) + 5;

    line = malloc(cap);
    cr_assert_not_null(line);
    snprintf(line, cap, "%s: %s\r\n", name, value);
    header(line);
    free(line);
}

static long retry_after(const char *s)
{
    char *p = exact(s, strlen(s));
    long v = acme_retry_after(p, strlen(s), NOW);

    free(p);
    return v;
}

TestSuite(headers, .init = headers_setup);

Test(headers, reset_empties_every_field)
{
    cr_expect_str_empty(h.nonce);
    cr_expect_str_empty(h.location);
    cr_expect_str_empty(h.link_up);
    cr_expect_str_empty(h.content_type);
    cr_expect_eq(h.retry_after, -1);
}

Test(headers, replay_nonce_is_kept)
{
    header("Replay-Nonce: oFvnlFP1wIhRlYS2jTaXbA-_\r\n");
    cr_expect_str_eq(h.nonce, "oFvnlFP1wIhRlYS2jTaXbA-_");
}

Test(headers, replay_nonce_is_trimmed_of_spaces_tabs_and_line_end)
{
    header("Replay-Nonce: \t  abc123 \t\r\n");
    cr_expect_str_eq(h.nonce, "abc123");
    header("Replay-Nonce:xyz");
    cr_expect_str_eq(h.nonce, "xyz");
    header("Replay-Nonce: lf-only\n");
    cr_expect_str_eq(h.nonce, "lf-only");
}

Test(headers, replay_nonce_with_control_or_inner_space_is_dropped)
{
    static const char *const bad[] = {
        "Replay-Nonce: ab\001cd\r\n",
        "Replay-Nonce: ab cd\r\n",
        "Replay-Nonce: ab\tcd\r\n",
        "Replay-Nonce: ab\177cd\r\n",
        "Replay-Nonce: ab\303\251cd\r\n",
        "Replay-Nonce: ab\r\ncd\r\n",
        "Replay-Nonce:\r\n",
        "Replay-Nonce:   \r\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        header("Replay-Nonce: good\r\n");
        cr_assert_str_eq(h.nonce, "good");
        header(bad[i]);
        cr_expect_str_empty(h.nonce, "a malformed nonce replaces the last one with \"\": %s",
                            bad[i]);
    }
}

Test(headers, replay_nonce_with_nul_byte_is_dropped)
{
    static const char line[] = "Replay-Nonce: ab\0cd\r\n";

    header_n(line, sizeof(line) - 1);
    cr_expect_str_empty(h.nonce);
}

Test(headers, replay_nonce_longest_kept_one_more_dropped)
{
    char *fits = repeat('n', ACME_NONCE_MAX - 1), *over = repeat('n', ACME_NONCE_MAX);

    header_with("Replay-Nonce", fits);
    cr_expect_str_eq(h.nonce, fits);
    header_with("Replay-Nonce", over);
    cr_expect_str_empty(h.nonce);
    free(fits);
    free(over);
}

Test(headers, names_match_in_any_case)
{
    header("replay-nonce: lower\r\n");
    cr_expect_str_eq(h.nonce, "lower");
    header("REPLAY-NONCE: upper\r\n");
    cr_expect_str_eq(h.nonce, "upper");
    header("lOcAtIoN: https://ca.test/acme/order/7\r\n");
    cr_expect_str_eq(h.location, "https://ca.test/acme/order/7");
    header("RETRY-AFTER: 5\r\n");
    cr_expect_eq(h.retry_after, 5);
    header("link: <https://ca.test/issuer>;rel=\"up\"\r\n");
    cr_expect_str_eq(h.link_up, "https://ca.test/issuer");
    header("content-TYPE: application/json\r\n");
    cr_expect_str_eq(h.content_type, "application/json");
}

Test(headers, other_names_and_lines_without_colon_change_nothing)
{
    static const char *const ignored[] = {
        "HTTP/2 201\r\n",
        "\r\n",
        "",
        "Replay-Nonce abc\r\n",
        "Replay-Nonces: abc\r\n",
        "X-Replay-Nonce: abc\r\n",
        "Replay-Nonce : abc\r\n",
        "Replay: abc\r\n",
        "Locations: https://other.test/\r\n",
        "Retry-After-Ms: 1\r\n",
        "Content-Type-Options: nosniff\r\n",
        "Links: <https://other.test/>;rel=\"up\"\r\n",
        ": abc\r\n",
    };

    header("Replay-Nonce: keep\r\n");
    header("Location: https://ca.test/keep\r\n");
    header("Retry-After: 3\r\n");
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        header(ignored[i]);
        cr_expect_str_eq(h.nonce, "keep", "after %s", ignored[i]);
        cr_expect_str_eq(h.location, "https://ca.test/keep", "after %s", ignored[i]);
        cr_expect_eq(h.retry_after, 3, "after %s", ignored[i]);
        cr_expect_str_empty(h.link_up, "after %s", ignored[i]);
        cr_expect_str_empty(h.content_type, "after %s", ignored[i]);
    }
}

Test(headers, location_kept_and_bounded)
{
    char *fits = repeat('l', ACME_URL_MAX - 1), *over = repeat('l', ACME_URL_MAX);

    header("Location: https://ca.test/acme/acct/1 \r\n");
    cr_expect_str_eq(h.location, "https://ca.test/acme/acct/1");
    header_with("Location", fits);
    cr_expect_str_eq(h.location, fits);
    header_with("Location", over);
    cr_expect_str_empty(h.location);
    header("Location: https://ca.test/a b\r\n");
    cr_expect_str_empty(h.location);
    free(fits);
    free(over);
}

Test(headers, link_up_is_taken)
{
    header("Link: <https://ca.test/cert/1/1>;rel=\"up\"\r\n");
    cr_expect_str_eq(h.link_up, "https://ca.test/cert/1/1");
}

Test(headers, link_up_with_spaces_and_unquoted)
{
    header("Link: <https://ca.test/up1> ; rel=\"up\"\r\n");
    cr_expect_str_eq(h.link_up, "https://ca.test/up1");
    header("Link: <https://ca.test/up2>;rel=up\r\n");
    cr_expect_str_eq(h.link_up, "https://ca.test/up2");
}

Test(headers, link_with_other_rels_is_ignored)
{
    header("Link: <https://ca.test/directory>;rel=\"index\"\r\n");
    cr_expect_str_empty(h.link_up);
    header("Link: <https://ca.test/alt>;rel=\"alternate\"\r\n");
    cr_expect_str_empty(h.link_up);
    header("Link: <https://ca.test/tos>;rel=\"terms-of-service\"\r\n");
    cr_expect_str_empty(h.link_up);
    header("Link: <https://ca.test/x>\r\n");
    cr_expect_str_empty(h.link_up);
}

Test(headers, link_rel_inside_the_url_does_not_count)
{
    header("Link: <https://ca.test/rel=\"up\">;rel=\"index\"\r\n");
    cr_expect_str_empty(h.link_up);
}

Test(headers, link_malformed_is_ignored)
{
    header("Link: https://ca.test/x;rel=\"up\"\r\n");
    cr_expect_str_empty(h.link_up, "no <");
    header("Link: <https://ca.test/x;rel=\"up\"\r\n");
    cr_expect_str_empty(h.link_up, "no >");
    header("Link: <https://ca.test/a b>;rel=\"up\"\r\n");
    cr_expect_str_empty(h.link_up, "space in the URL");
    header("Link: <>;rel=\"up\"\r\n");
    cr_expect_str_empty(h.link_up, "empty URL");
}

/* RFC 8288 §3: several link-values may share one field, separated by commas,
 * and a header joined by a proxy looks the same. Only the "up" one counts. */
Test(headers, link_up_among_several_values_in_one_field)
{
    header("Link: <https://ca.test/directory>;rel=\"index\", <https://ca.test/cert/1/1>;"
           "rel=\"up\"\r\n");
    cr_expect_str_eq(h.link_up, "https://ca.test/cert/1/1",
                     "the \"up\" URL is the second link-value, not the index");
}

/* "rel=up" is a parameter of its own, not a prefix of another relation name. */
Test(headers, link_rel_starting_with_up_is_not_up)
{
    header("Link: <https://ca.test/upgrade>;rel=upgrade\r\n");
    cr_expect_str_empty(h.link_up, "rel=upgrade is not rel=up");
    header("Link: <https://ca.test/t>;title=\"rel=up\";rel=\"index\"\r\n");
    cr_expect_str_empty(h.link_up, "rel=up inside another parameter's value");
}

Test(headers, content_type_lowercased_without_parameters)
{
    header("Content-Type: application/problem+json; charset=utf-8\r\n");
    cr_expect_str_eq(h.content_type, "application/problem+json");
    header("Content-Type: Application/PEM-Certificate-Chain\r\n");
    cr_expect_str_eq(h.content_type, "application/pem-certificate-chain");
    header("Content-Type:  application/json ;charset=UTF-8\r\n");
    cr_expect_str_eq(h.content_type, "application/json");
}

Test(headers, content_type_malformed_or_too_long_is_empty)
{
    char *fits = repeat('c', sizeof(h.content_type) - 1),
         *over = repeat('c', sizeof(h.content_type));

    header("Content-Type: text/ html\r\n");
    cr_expect_str_empty(h.content_type);
    header("Content-Type: ; charset=utf-8\r\n");
    cr_expect_str_empty(h.content_type);
    header_with("Content-Type", fits);
    cr_expect_str_eq(h.content_type, fits);
    header_with("Content-Type", over);
    cr_expect_str_empty(h.content_type);
    free(fits);
    free(over);
}

Test(headers, retry_after_delta_seconds)
{
    header("Retry-After: 120\r\n");
    cr_expect_eq(h.retry_after, 120);
    header("Retry-After: 0\r\n");
    cr_expect_eq(h.retry_after, 0);
    header("Retry-After:  86400 \r\n");
    cr_expect_eq(h.retry_after, 86400);
}

Test(headers, retry_after_garbage_replaces_with_minus_one)
{
    header("Retry-After: 30\r\n");
    header("Retry-After: soon\r\n");
    cr_expect_eq(h.retry_after, -1);
}

Test(retry_after, delta_seconds)
{
    cr_expect_eq(retry_after("120"), 120);
    cr_expect_eq(retry_after("007"), 7);
    cr_expect_eq(retry_after(" 15\r\n"), 15);
    cr_expect_eq(retry_after("86400"), 86400);
    cr_expect_eq(retry_after("86401"), ACME_RETRY_AFTER_MAX, "longer than a day is a day");
    cr_expect_eq(retry_after("123456789012345"), ACME_RETRY_AFTER_MAX);
}

Test(retry_after, only_the_given_bytes_are_read)
{
    cr_expect_eq(acme_retry_after("120abc", 3, NOW), 120);
    cr_expect_eq(acme_retry_after("120", 0, NOW), -1);
}

Test(retry_after, http_date_in_the_future_is_seconds_from_now)
{
    cr_expect_eq(retry_after("Tue, 14 Nov 2023 22:14:50 GMT"), 90);
    cr_expect_eq(retry_after("Tuesday, 14-Nov-23 22:14:50 GMT"), 90, "RFC 850 form");
    cr_expect_eq(retry_after("Tue Nov 14 22:14:50 2023"), 90, "asctime form");
    cr_expect_eq(retry_after("Wed, 15 Nov 2023 22:13:20 GMT"), 86400);
}

Test(retry_after, http_date_now_or_past_is_zero)
{
    cr_expect_eq(retry_after("Tue, 14 Nov 2023 22:13:20 GMT"), 0);
    cr_expect_eq(retry_after("Tue, 14 Nov 2023 22:13:19 GMT"), 0);
    cr_expect_eq(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), 0);
}

Test(retry_after, garbage_is_minus_one)
{
    static const char *const bad[] = {
        "",
        " ",
        "soon",
        "12s",
        "-5",
        "+5",
        "1 2",
        "1.5",
        "0x10",
        "Tue, 14 Nov 2023 22:14:50",
        "Tue, 14 Nov 2023 22:14:50 UTC",
        "Tue, 32 Nov 2023 22:14:50 GMT",
        "Tue, 14 Foo 2023 22:14:50 GMT",
        "Tue, 14 Nov 2023 25:14:50 GMT",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(retry_after(bad[i]), -1, "\"%s\"", bad[i]);
}

Test(retry_after, overflowing_digits_are_a_day)
{
    cr_expect_eq(retry_after("99999999999999999999"), ACME_RETRY_AFTER_MAX);
    cr_expect_eq(retry_after("9223372036854775808"), ACME_RETRY_AFTER_MAX, "LONG_MAX + 1");
    cr_expect_eq(retry_after("00000000000000000000000000000000000000000099999999999999999999"),
                 ACME_RETRY_AFTER_MAX);
    cr_expect_eq(retry_after("Tue, 14 Nov 2073 22:14:50 GMT"), ACME_RETRY_AFTER_MAX,
                 "a date decades ahead");
}

/* ---- acme/proto: problem documents ---- */

static struct acme_problem pr;

static int problem(const char *body, int status)
{
    char *p = exact(body, strlen(body));
    int rc;

    memset(&pr, 0xaa, sizeof(pr));
    rc = acme_problem_parse(p, strlen(body), status, &pr);
    free(p);
    return rc;
}

static void expect_rejected(const char *body)
{
    cr_expect_eq(problem(body, 403), -1, "%s", body);
    cr_expect_eq(pr.status, 403, "the HTTP status is kept: %s", body);
    cr_expect_str_empty(pr.type, "%s", body);
    cr_expect_str_empty(pr.detail, "%s", body);
}

Test(problem, full_document)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "rateLimited\",\"detail\":\"too many "
                         "certificates already issued\",\"status\":429}",
                         400),
                 0);
    cr_expect_str_eq(pr.type, ACME_NS "rateLimited");
    cr_expect_str_eq(pr.detail, "too many certificates already issued");
    cr_expect_eq(pr.status, 429, "the document's status wins over the HTTP one");
    cr_expect(acme_problem_is(&pr, "rateLimited"));
    cr_expect_not(acme_problem_is(&pr, "badNonce"));
}

Test(problem, without_status_keeps_http_status)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "badNonce\",\"detail\":\"JWS has no nonce\"}", 400),
                 0);
    cr_expect_eq(pr.status, 400);
    cr_expect_str_eq(pr.detail, "JWS has no nonce");
}

Test(problem, non_integer_status_is_ignored)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "malformed\",\"status\":\"429\"}", 400), 0);
    cr_expect_eq(pr.status, 400);
}

Test(problem, without_detail_has_empty_detail)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "unauthorized\"}", 403), 0);
    cr_expect_str_eq(pr.type, ACME_NS "unauthorized");
    cr_expect_str_empty(pr.detail);
}

Test(problem, missing_or_non_string_type_is_rejected_with_status_kept)
{
    expect_rejected("{\"detail\":\"no type here\",\"status\":500}");
    expect_rejected("{\"type\":5,\"detail\":\"x\"}");
    expect_rejected("{\"type\":null}");
    expect_rejected("{\"type\":[\"" ACME_NS "badNonce\"]}");
    expect_rejected("{\"type\":\"a\",\"type\":\"b\"}");
}

Test(problem, non_json_is_rejected_with_status_kept)
{
    expect_rejected("");
    expect_rejected("<html><body>502 Bad Gateway</body></html>");
    expect_rejected("{\"type\":\"" ACME_NS "badNonce\"");
    expect_rejected("[\"type\"]");
    expect_rejected("\"" ACME_NS "badNonce\"");
    expect_rejected("{\"type\":\"" ACME_NS "badNonce\"} trailing");
}

Test(problem, only_the_given_bytes_are_parsed)
{
    static const char body[] = "{\"type\":\"" ACME_NS "badNonce\"}{\"type\":\"x\"}";
    size_t n = strlen("{\"type\":\"" ACME_NS "badNonce\"}");
    char *p = exact(body, n);

    cr_expect_eq(acme_problem_parse(p, n, 400, &pr), 0);
    cr_expect(acme_problem_is(&pr, "badNonce"));
    free(p);
}

Test(problem, control_characters_become_spaces)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "bad\\nNonce\",\"detail\":\"line1\\nline2\\r"
                         "\\u001b[31mred\\ttab\\u007f\"}",
                         400),
                 0);
    cr_expect_str_eq(pr.detail, "line1 line2  [31mred tab ");
    cr_expect_str_eq(pr.type, ACME_NS "bad Nonce");
}

Test(problem, utf8_detail_is_kept)
{
    cr_assert_eq(problem("{\"type\":\"" ACME_NS "caa\",\"detail\":\"caf\\u00e9\"}", 403), 0);
    cr_expect_str_eq(pr.detail, "caf\xc3\xa9");
}

Test(problem, long_detail_is_truncated_and_terminated)
{
    char *d = repeat('d', 2 * ACME_PROBLEM_MAX), *body;
    size_t cap = strlen(d) + 64;

    body = malloc(cap);
    cr_assert_not_null(body);
    snprintf(body, cap, "{\"type\":\"t\",\"detail\":\"%s\"}", d);
    cr_assert_eq(problem(body, 400), 0);
    cr_expect_eq(strlen(pr.detail), ACME_PROBLEM_MAX - 1);
    cr_expect_eq(strspn(pr.detail, "d"), ACME_PROBLEM_MAX - 1);
    free(body);
    free(d);
}

Test(problem, is_needs_the_acme_namespace_and_the_whole_name)
{
    struct acme_problem p = {.type = ACME_NS "badNonce"};

    cr_expect(acme_problem_is(&p, "badNonce"));
    cr_expect_not(acme_problem_is(&p, "badNonc"));
    cr_expect_not(acme_problem_is(&p, "badNonceX"));
    cr_expect_not(acme_problem_is(&p, "badnonce"));
    snprintf(p.type, sizeof(p.type), "badNonce");
    cr_expect_not(acme_problem_is(&p, "badNonce"));
    snprintf(p.type, sizeof(p.type), "urn:ietf:params:acme:errors:badNonce");
    cr_expect_not(acme_problem_is(&p, "badNonce"));
    snprintf(p.type, sizeof(p.type), "about:blank");
    cr_expect_not(acme_problem_is(&p, "badNonce"));
}

/* ---- acme/jws ---- */

static char dir[64];

static void dir_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/acme-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void dir_teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* The whole of file PATH, NUL-terminated. */
static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *p = malloc(65536);

    cr_assert_not_null(f);
    cr_assert_not_null(p);
    *n = fread(p, 1, 65535, f);
    p[*n] = '\0';
    fclose(f);
    return p;
}

static int entries_in_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_key_pem(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    cr_assert_eq(fclose(f), 0);
}

/* base64url without padding, by OpenSSL's encoder, for checking jws_b64url's output. */
static char *b64url_ref(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    size_t len;

    cr_assert_not_null(out);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    len = strlen(out);
    while (len && out[len - 1] == '=')
        out[--len] = '\0';
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

/* Decode unpadded base64url S (strictly: no padding, no other alphabet) into a new block. */
static unsigned char *b64url_decode(const char *s, size_t *n)
{
    size_t cap = strlen(s) + 1;
    unsigned char *out = malloc(cap);
    const char *end;

    cr_assert_not_null(out);
    cr_assert_eq(sodium_base642bin(out, cap, s, strlen(s), NULL, n, &end,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                 0, "not unpadded base64url: %s", s);
    cr_assert_eq(*end, '\0', "trailing bytes after base64url: %s", s);
    out[*n < cap ? *n : cap - 1] = '\0';
    return out;
}

/* The RFC 7515 appendix A.3 ES256 key. */
static const char rfc7515_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff\n"
    "H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp\n"
    "7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt\n"
    "-----END PRIVATE KEY-----\n";
static const char rfc7515_jwk[] = "{\"crv\":\"P-256\",\"kty\":\"EC\","
                                  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
/* base64url(SHA-256(rfc7515_jwk)), computed outside this code base. */
static const char rfc7515_thumbprint[] = "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";

static EVP_PKEY *load_rfc7515_key(void)
{
    char path[128], err[256] = "";
    EVP_PKEY *k;

    path_in_dir(path, sizeof(path), "rfc7515.key");
    write_file(path, rfc7515_key_pem, strlen(rfc7515_key_pem));
    k = jws_key_load_or_create(path, err, sizeof(err));
    cr_assert_not_null(k, "%s", err);
    return k;
}

static void expect_b64url(const char *in, size_t n, const char *want)
{
    char *got = jws_b64url(in, n);

    cr_expect_str_eq(got, want, "base64url of \"%.*s\"", (int)n, in);
    free(got);
}

Test(b64url, rfc4648_vectors_unpadded)
{
    expect_b64url("", 0, "");
    expect_b64url("f", 1, "Zg");
    expect_b64url("fo", 2, "Zm8");
    expect_b64url("foo", 3, "Zm9v");
    expect_b64url("foob", 4, "Zm9vYg");
    expect_b64url("fooba", 5, "Zm9vYmE");
    expect_b64url("foobar", 6, "Zm9vYmFy");
}

Test(b64url, url_safe_alphabet)
{
    expect_b64url("\xfb\xff", 2, "-_8");
    expect_b64url("\xfb\xef\xbe", 3, "----");
    expect_b64url("\xff\xff\xff", 3, "____");
    expect_b64url("\0\0\0", 3, "AAAA");
}

Test(b64url, every_byte_agrees_with_openssl)
{
    unsigned char all[256];
    char *got, *want;

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n <= sizeof(all); n += 37) {
        got = jws_b64url(all + sizeof(all) - n, n);
        want = b64url_ref(all + sizeof(all) - n, n);
        cr_expect_str_eq(got, want, "%zu bytes", n);
        free(got);
        free(want);
    }
}

TestSuite(jws_key, .init = dir_setup, .fini = dir_teardown);

Test(jws_key, created_0600_then_loaded_again)
{
    char path[128], err[256] = "", *t1, *t2;
    EVP_PKEY *k1, *k2;
    struct stat st;

    path_in_dir(path, sizeof(path), "account.key");
    k1 = jws_key_load_or_create(path, err, sizeof(err));
    cr_assert_not_null(k1, "%s", err);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect(S_ISREG(st.st_mode));
    cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", (unsigned)(st.st_mode & 07777));
    cr_expect_eq(entries_in_dir(), 1, "no temporary file is left behind");
    cr_expect(EVP_PKEY_is_a(k1, "EC"));
    cr_expect_eq(EVP_PKEY_get_bits(k1), 256);

    k2 = jws_key_load_or_create(path, err, sizeof(err));
    cr_assert_not_null(k2, "%s", err);
    cr_expect_eq(EVP_PKEY_eq(k1, k2), 1, "the second call loads the same key");
    t1 = jws_thumbprint(k1);
    t2 = jws_thumbprint(k2);
    cr_assert_not_null(t1);
    cr_assert_not_null(t2);
    cr_expect_str_eq(t1, t2);
    free(t1);
    free(t2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

Test(jws_key, two_new_keys_differ)
{
    char p1[128], p2[128], err[256] = "";
    EVP_PKEY *k1, *k2;

    path_in_dir(p1, sizeof(p1), "a.key");
    path_in_dir(p2, sizeof(p2), "b.key");
    k1 = jws_key_load_or_create(p1, err, sizeof(err));
    k2 = jws_key_load_or_create(p2, err, sizeof(err));
    cr_assert(k1 != NULL && k2 != NULL, "%s", err);
    cr_expect_neq(EVP_PKEY_eq(k1, k2), 1);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* A file that does not hold a P-256 key is refused and left as it was. */
static void expect_refused(const char *path)
{
    char err[256] = "", *before, *after;
    size_t n1, n2;
    EVP_PKEY *k;

    before = read_file(path, &n1);
    k = jws_key_load_or_create(path, err, sizeof(err));
    cr_expect_null(k);
    cr_expect(strstr(err, path) != NULL, "the error names the file: %s", err);
    cr_expect(strstr(err, "no EC P-256 private key") != NULL, "the error says why: %s", err);
    after = read_file(path, &n2);
    cr_expect(n1 == n2 && memcmp(before, after, n1) == 0, "the file is not replaced");
    cr_expect_eq(ERR_peek_error(), 0, "no OpenSSL error is left queued");
    EVP_PKEY_free(k);
    free(before);
    free(after);
}

Test(jws_key, rsa_key_file_is_refused)
{
    char path[128];
    EVP_PKEY *rsa = EVP_RSA_gen(1024);

    cr_assert_not_null(rsa);
    path_in_dir(path, sizeof(path), "rsa.key");
    write_key_pem(path, rsa);
    EVP_PKEY_free(rsa);
    expect_refused(path);
}

Test(jws_key, other_curve_is_refused)
{
    char path[128];
    EVP_PKEY *p384 = EVP_EC_gen("P-384");

    cr_assert_not_null(p384);
    path_in_dir(path, sizeof(path), "p384.key");
    write_key_pem(path, p384);
    EVP_PKEY_free(p384);
    expect_refused(path);
}

Test(jws_key, garbage_and_empty_files_are_refused)
{
    char path[128];

    path_in_dir(path, sizeof(path), "garbage.key");
    write_file(path, "not a key at all\n", strlen("not a key at all\n"));
    expect_refused(path);
    path_in_dir(path, sizeof(path), "empty.key");
    write_file(path, "", 0);
    expect_refused(path);
}

Test(jws_key, unwritable_place_is_an_error)
{
    char path[128], err[256] = "";
    EVP_PKEY *k;

    path_in_dir(path, sizeof(path), "missing/account.key");
    k = jws_key_load_or_create(path, err, sizeof(err));
    cr_expect_null(k);
    cr_expect(strstr(err, "cannot write") != NULL && strstr(err, path) != NULL, "%s", err);
    EVP_PKEY_free(k);
}

TestSuite(jws, .init = dir_setup, .fini = dir_teardown);

Test(jws, jwk_of_the_rfc7515_key)
{
    EVP_PKEY *k = load_rfc7515_key();
    char *jwk = jws_jwk(k);

    cr_expect_str_eq(jwk, rfc7515_jwk);
    free(jwk);
    EVP_PKEY_free(k);
}

Test(jws, thumbprint_of_the_rfc7515_key)
{
    EVP_PKEY *k = load_rfc7515_key();
    char *t = jws_thumbprint(k);

    cr_expect_str_eq(t, rfc7515_thumbprint);
    free(t);
    EVP_PKEY_free(k);
}

/* The public point of K as OpenSSL gives it: X and Y, 32 bytes each. */
static void point_of(EVP_PKEY *k, unsigned char x[32], unsigned char y[32])
{
    BIGNUM *bx = NULL, *by = NULL;

    cr_assert_eq(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
    cr_assert_eq(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by), 1);
    cr_assert_eq(BN_bn2binpad(bx, x, 32), 32);
    cr_assert_eq(BN_bn2binpad(by, y, 32), 32);
    BN_free(bx);
    BN_free(by);
}

Test(jws, jwk_members_in_thumbprint_order_with_the_key_point)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    unsigned char x[32], y[32];
    char *jwk, *x64, *y64, want[256];

    cr_assert_not_null(k);
    point_of(k, x, y);
    x64 = b64url_ref(x, 32);
    y64 = b64url_ref(y, 32);
    snprintf(want, sizeof(want), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             x64, y64);
    jwk = jws_jwk(k);
    cr_expect_str_eq(jwk, want);
    free(jwk);
    free(x64);
    free(y64);
    EVP_PKEY_free(k);
}

Test(jws, thumbprint_is_b64url_sha256_of_the_jwk)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    unsigned char md[32];
    unsigned int mdlen = 0;
    char *jwk, *t, *want;

    cr_assert_not_null(k);
    jwk = jws_jwk(k);
    cr_assert_not_null(jwk);
    cr_assert_eq(EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL), 1);
    want = b64url_ref(md, mdlen);
    t = jws_thumbprint(k);
    cr_expect_str_eq(t, want);
    cr_expect_eq(strlen(t), 43);
    free(t);
    free(want);
    free(jwk);
    EVP_PKEY_free(k);
}

Test(jws, jwk_of_a_non_p256_key_is_null)
{
    EVP_PKEY *rsa = EVP_RSA_gen(1024);

    cr_assert_not_null(rsa);
    cr_expect_null(jws_jwk(rsa));
    cr_expect_null(jws_thumbprint(rsa));
    EVP_PKEY_free(rsa);
}

/* A flattened JWS taken apart: the three members as sent and the decoded header. */
struct jws_parts {
    json_t *doc, *header;
    const char *protected64, *payload64, *signature64;
    unsigned char *payload, *sig;
    size_t payload_len, sig_len;
};

static void jws_split(const char *text, struct jws_parts *j)
{
    json_error_t e;
    unsigned char *prot;
    size_t n;

    j->doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(j->doc, "not JSON (%s): %s", e.text, text);
    cr_assert_eq(json_object_size(j->doc), 3, "protected, payload, signature: %s", text);
    j->protected64 = json_string_value(json_object_get(j->doc, "protected"));
    j->payload64 = json_string_value(json_object_get(j->doc, "payload"));
    j->signature64 = json_string_value(json_object_get(j->doc, "signature"));
    cr_assert(j->protected64 && j->payload64 && j->signature64, "%s", text);
    prot = b64url_decode(j->protected64, &n);
    j->header = json_loadb((const char *)prot, n, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(j->header, "the protected header is not JSON: %s", prot);
    free(prot);
    j->payload = b64url_decode(j->payload64, &j->payload_len);
    j->sig = b64url_decode(j->signature64, &j->sig_len);
}

static void jws_parts_free(struct jws_parts *j)
{
    json_decref(j->doc);
    json_decref(j->header);
    free(j->payload);
    free(j->sig);
}

/* Verify the R || S signature of "protected.payload" with OpenSSL, through its DER form. */
static bool es256_verifies(EVP_PKEY *k, const struct jws_parts *j)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    char input[4096];
    int dlen, n;
    bool ok;

    cr_assert(es != NULL && md != NULL);
    cr_assert_eq(j->sig_len, 64, "ES256 signatures are 64 bytes, got %zu", j->sig_len);
    cr_assert_eq(ECDSA_SIG_set0(es, BN_bin2bn(j->sig, 32, NULL), BN_bin2bn(j->sig + 32, 32, NULL)),
                 1);
    dlen = i2d_ECDSA_SIG(es, &der);
    cr_assert_gt(dlen, 0);
    n = snprintf(input, sizeof(input), "%s.%s", j->protected64, j->payload64);
    cr_assert(n > 0 && (size_t)n < sizeof(input));
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
         EVP_DigestVerify(md, der, (size_t)dlen, (const unsigned char *)input, (size_t)n) == 1;
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

static const char *header_str(const struct jws_parts *j, const char *name)
{
    return json_string_value(json_object_get(j->header, name));
}

Test(jws, sign_with_kid)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    const char *payload = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}]}";
    char *s;
    struct jws_parts j;

    cr_assert_not_null(k);
    s = jws_sign(k, "https://ca.test/acme/acct/42", "nonce-1", "https://ca.test/acme/new-order",
                 payload);
    cr_assert_not_null(s);
    jws_split(s, &j);
    cr_expect_eq(json_object_size(j.header), 4, "alg, nonce, url, kid");
    cr_expect_str_eq(header_str(&j, "alg"), "ES256");
    cr_expect_str_eq(header_str(&j, "nonce"), "nonce-1");
    cr_expect_str_eq(header_str(&j, "url"), "https://ca.test/acme/new-order");
    cr_expect_str_eq(header_str(&j, "kid"), "https://ca.test/acme/acct/42");
    cr_expect_null(json_object_get(j.header, "jwk"), "kid and jwk are exclusive");
    cr_expect(j.payload_len == strlen(payload) && memcmp(j.payload, payload, j.payload_len) == 0);
    cr_expect(es256_verifies(k, &j), "the signature verifies with OpenSSL");
    jws_parts_free(&j);
    free(s);
    EVP_PKEY_free(k);
}

Test(jws, sign_without_kid_embeds_the_jwk)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    char *s, *jwk, *embedded;
    struct jws_parts j;

    cr_assert_not_null(k);
    s = jws_sign(k, NULL, "nonce-2", "https://ca.test/acme/new-account",
                 "{\"termsOfServiceAgreed\":true}");
    cr_assert_not_null(s);
    jws_split(s, &j);
    cr_expect_eq(json_object_size(j.header), 4, "alg, nonce, url, jwk");
    cr_expect_str_eq(header_str(&j, "alg"), "ES256");
    cr_expect_str_eq(header_str(&j, "nonce"), "nonce-2");
    cr_expect_str_eq(header_str(&j, "url"), "https://ca.test/acme/new-account");
    cr_expect_null(json_object_get(j.header, "kid"));
    cr_assert(json_is_object(json_object_get(j.header, "jwk")));
    embedded = json_dumps(json_object_get(j.header, "jwk"), JSON_COMPACT | JSON_SORT_KEYS);
    jwk = jws_jwk(k);
    cr_expect_str_eq(embedded, jwk, "the embedded JWK is the key's");
    cr_expect(es256_verifies(k, &j));
    free(embedded);
    free(jwk);
    jws_parts_free(&j);
    free(s);
    EVP_PKEY_free(k);
}

Test(jws, post_as_get_has_empty_payload)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    char *s;
    struct jws_parts j;

    cr_assert_not_null(k);
    s = jws_sign(k, "https://ca.test/acme/acct/42", "n", "https://ca.test/acme/order/1", "");
    cr_assert_not_null(s);
    cr_expect(strstr(s, "\"payload\":\"\"") != NULL, "%s", s);
    jws_split(s, &j);
    cr_expect_str_empty(j.payload64);
    cr_expect_eq(j.payload_len, 0);
    cr_expect(es256_verifies(k, &j));
    jws_parts_free(&j);
    free(s);
    EVP_PKEY_free(k);
}

Test(jws, signature_fails_for_other_key_or_changed_payload)
{
    EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    char *s, *changed;
    struct jws_parts j;

    cr_assert(k != NULL && other != NULL);
    s = jws_sign(k, "kid", "n", "https://ca.test/x", "{\"a\":1}");
    cr_assert_not_null(s);
    jws_split(s, &j);
    cr_assert(es256_verifies(k, &j));
    cr_expect_not(es256_verifies(other, &j), "another key does not verify it");
    changed = b64url_ref((const unsigned char *)"{\"a\":2}", 7);
    j.payload64 = changed;
    cr_expect_not(es256_verifies(k, &j), "a changed payload does not verify");
    free(changed);
    jws_parts_free(&j);
    free(s);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

Test(jws, header_strings_are_json_escaped)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    char *s;
    struct jws_parts j;

    cr_assert_not_null(k);
    s = jws_sign(k, "a\"b\\c", "n\"1", "https://ca.test/\"q\"", "");
    cr_assert_not_null(s);
    jws_split(s, &j);
    cr_expect_str_eq(header_str(&j, "kid"), "a\"b\\c");
    cr_expect_str_eq(header_str(&j, "nonce"), "n\"1");
    cr_expect_str_eq(header_str(&j, "url"), "https://ca.test/\"q\"");
    jws_parts_free(&j);
    free(s);
    EVP_PKEY_free(k);
}

/* ---- runtime/challenge: HTTP-01 ---- */

static int http_get(const char *token, char *out, size_t cap)
{
    char *p = exact(token, strlen(token));
    int n = challenge_http_get(p, strlen(token), out, cap);

    free(p);
    return n;
}

Test(challenge_http, put_then_get_by_token_and_length)
{
    char out[CHALLENGE_ANSWER_MAX + 1];

    cr_assert_eq(challenge_http_put("tok1", "tok1.thumb"), 0);
    cr_expect_eq(http_get("tok1", out, sizeof(out)), 10);
    cr_expect_str_eq(out, "tok1.thumb");
    cr_expect_eq(challenge_http_get("tok1/extra", 4, out, sizeof(out)), 10,
                 "only LEN bytes of the token are compared");
    cr_expect_eq(http_get("tok", out, sizeof(out)), -1, "a prefix is not the token");
    cr_expect_eq(http_get("tok12", out, sizeof(out)), -1);
    cr_expect_eq(http_get("TOK1", out, sizeof(out)), -1, "tokens are case-sensitive");
    cr_expect_eq(http_get("", out, sizeof(out)), -1);
}

Test(challenge_http, cap_too_small_is_minus_one)
{
    char out[16];

    cr_assert_eq(challenge_http_put("t", "0123456789"), 0);
    cr_expect_eq(http_get("t", out, 10), -1, "no room for the NUL");
    cr_expect_eq(http_get("t", out, 11), 10);
    cr_expect_str_eq(out, "0123456789");
}

Test(challenge_http, put_replaces_the_same_token)
{
    char out[64];

    cr_assert_eq(challenge_http_put("t", "first"), 0);
    cr_assert_eq(challenge_http_put("t", "second"), 0);
    cr_expect_eq(http_get("t", out, sizeof(out)), 6);
    cr_expect_str_eq(out, "second");
    challenge_http_remove("t");
    cr_expect_eq(http_get("t", out, sizeof(out)), -1, "one entry, not two");
}

Test(challenge_http, remove_keeps_the_others)
{
    char out[64];

    cr_assert_eq(challenge_http_put("a", "A"), 0);
    cr_assert_eq(challenge_http_put("b", "B"), 0);
    cr_assert_eq(challenge_http_put("c", "C"), 0);
    challenge_http_remove("a");
    challenge_http_remove("nope");
    cr_expect_eq(http_get("a", out, sizeof(out)), -1);
    cr_expect_eq(http_get("b", out, sizeof(out)), 1);
    cr_expect_str_eq(out, "B");
    cr_expect_eq(http_get("c", out, sizeof(out)), 1);
    cr_expect_str_eq(out, "C");
}

Test(challenge_http, bounded_by_challenge_max)
{
    char tok[32], out[64];

    for (int i = 0; i < CHALLENGE_MAX; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        cr_assert_eq(challenge_http_put(tok, tok), 0, "%s", tok);
    }
    cr_expect_eq(challenge_http_put("one-more", "x"), -1);
    cr_expect_eq(http_get("one-more", out, sizeof(out)), -1);
    cr_expect_eq(challenge_http_put("t7", "replaced"), 0, "replacing works when full");
    cr_expect_eq(http_get("t7", out, sizeof(out)), 8);
    challenge_http_remove("t0");
    cr_expect_eq(challenge_http_put("one-more", "x"), 0, "a removal makes room");
    cr_expect_eq(http_get(tok, out, sizeof(out)), (int)strlen(tok), "the last one is still there");
}

Test(challenge_http, too_long_or_empty_token_and_too_long_answer)
{
    char *tok_fits = repeat('t', CHALLENGE_TOKEN_MAX),
         *tok_over = repeat('t', CHALLENGE_TOKEN_MAX + 1);
    char *ans_fits = repeat('a', CHALLENGE_ANSWER_MAX),
         *ans_over = repeat('a', CHALLENGE_ANSWER_MAX + 1);
    char out[CHALLENGE_ANSWER_MAX + 1];

    cr_expect_eq(challenge_http_put(tok_over, "x"), -1);
    cr_expect_eq(challenge_http_put("t", ans_over), -1);
    cr_expect_eq(challenge_http_put("", "x"), -1);
    cr_expect_eq(http_get("t", out, sizeof(out)), -1, "a refused put stores nothing");
    cr_assert_eq(challenge_http_put(tok_fits, ans_fits), 0);
    cr_expect_eq(http_get(tok_fits, out, sizeof(out)), CHALLENGE_ANSWER_MAX);
    cr_expect_str_eq(out, ans_fits);
    free(tok_fits);
    free(tok_over);
    free(ans_fits);
    free(ans_over);
}

/* ---- runtime/challenge: TLS-ALPN-01 ---- */

static bool alpn(const unsigned char *p, size_t n)
{
    unsigned char *copy = (unsigned char *)exact((const char *)p, n);
    bool offered = challenge_alpn_offered(copy, n);

    free(copy);
    return offered;
}

#define ALPN(lit) alpn((const unsigned char *)(lit), sizeof(lit) - 1)
/* Octal escapes where a hex digit follows. */
#define ACME_TLS "\012acme-tls/1"

Test(alpn, acme_tls_alone_or_among_others)
{
    cr_expect(ALPN("\x00\x0b" ACME_TLS));
    cr_expect(ALPN("\x00\x0e\x02h2" ACME_TLS));
    cr_expect(ALPN("\x00\x17" ACME_TLS "\x08http/1.1\x02h2"));
}

Test(alpn, without_acme_tls)
{
    cr_expect_not(ALPN("\x00\x0c\x02h2\x08http/1.1"));
    cr_expect_not(ALPN("\x00\x0c\013acme-tls/10"));
    cr_expect_not(ALPN("\x00\x0a\011acme-tls/"));
    cr_expect_not(ALPN("\x00\x0b\012ACME-TLS/1"));
}

Test(alpn, too_short)
{
    cr_expect_not(challenge_alpn_offered(NULL, 0));
    cr_expect_not(ALPN("\x00"));
    cr_expect_not(ALPN("\x00\x00"), "an empty list");
}

Test(alpn, list_length_mismatch)
{
    cr_expect_not(ALPN("\x00\x0c" ACME_TLS), "list longer than the data");
    cr_expect_not(ALPN("\x00\x0a" ACME_TLS), "list shorter than the data");
    cr_expect_not(ALPN("\x01\x0b" ACME_TLS), "high byte counts");
}

Test(alpn, zero_length_name)
{
    cr_expect_not(ALPN("\x00\x0c\x00" ACME_TLS));
}

Test(alpn, name_running_past_the_end)
{
    cr_expect_not(ALPN("\x00\x0b\013acme-tls/1"));
    cr_expect_not(ALPN("\x00\x0e\x02h2\013acme-tls/1"));
}

/* RFC 7301 §3.1: names are 1..255 bytes and fill the list exactly; a list
 * broken after acme-tls/1 is as malformed as one broken before it. */
Test(alpn, malformed_after_acme_tls_is_still_malformed)
{
    cr_expect_not(ALPN("\x00\x0e" ACME_TLS "\x05h2"), "a name running past the end");
    cr_expect_not(ALPN("\x00\x0c" ACME_TLS "\x00"), "a zero-length name");
}

/* Counts the real frees of the contexts it is attached to (SSL_CTX ex_data). */
static int ex_index = -1;

static void on_ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr)
        (*(int *)ptr)++;
}

static SSL_CTX *counted_ctx(int *freed)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ex_index < 0)
        ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, on_ctx_free);
    cr_assert(ctx != NULL && ex_index >= 0);
    *freed = 0;
    cr_assert_eq(SSL_CTX_set_ex_data(ctx, ex_index, freed), 1);
    return ctx;
}

/* CTX can still make a connection object: it has not been freed underneath us. */
static void expect_usable(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);

    cr_expect_not_null(ssl);
    SSL_free(ssl);
}

static SSL_CTX *tls_get(const char *name)
{
    char *p = exact(name, strlen(name));
    SSL_CTX *ctx = challenge_tls_get(p, strlen(name));

    free(p);
    return ctx;
}

Test(challenge_tls, names_match_in_any_case_and_by_length)
{
    int freed;
    SSL_CTX *ctx = counted_ctx(&freed), *got;

    cr_assert_eq(challenge_tls_put("A.Test", ctx), 0);
    got = tls_get("a.TEST");
    cr_expect_eq(got, ctx);
    SSL_CTX_free(got);
    got = challenge_tls_get("a.test.other", 6);
    cr_expect_eq(got, ctx, "only LEN bytes of the name are compared");
    SSL_CTX_free(got);
    cr_expect_null(tls_get("a.tes"));
    cr_expect_null(tls_get("a.test2"));
    cr_expect_null(tls_get("b.test"));
    challenge_tls_remove("a.test");
    cr_expect_null(tls_get("A.Test"));
    SSL_CTX_free(ctx);
    cr_expect_eq(freed, 1);
}

Test(challenge_tls, the_store_holds_its_own_reference)
{
    int freed;
    SSL_CTX *ctx = counted_ctx(&freed), *got;

    cr_assert_eq(challenge_tls_put("a.test", ctx), 0);
    SSL_CTX_free(ctx);
    cr_expect_eq(freed, 0, "the store keeps the context alive");
    got = tls_get("a.test");
    cr_assert_eq(got, ctx);
    expect_usable(got);
    SSL_CTX_free(got);
    cr_expect_eq(freed, 0, "get gave a reference of its own");
    challenge_tls_remove("A.TEST");
    cr_expect_eq(freed, 1, "remove dropped the last reference");
}

Test(challenge_tls, a_reference_taken_by_get_outlives_remove)
{
    int freed;
    SSL_CTX *ctx = counted_ctx(&freed), *got;

    cr_assert_eq(challenge_tls_put("a.test", ctx), 0);
    SSL_CTX_free(ctx);
    got = tls_get("a.test");
    cr_assert_eq(got, ctx);
    challenge_tls_remove("a.test");
    cr_expect_eq(freed, 0);
    expect_usable(got);
    SSL_CTX_free(got);
    cr_expect_eq(freed, 1);
}

Test(challenge_tls, the_callers_context_stays_usable_after_remove)
{
    int freed;
    SSL_CTX *ctx = counted_ctx(&freed);

    cr_assert_eq(challenge_tls_put("a.test", ctx), 0);
    challenge_tls_remove("a.test");
    cr_expect_eq(freed, 0);
    expect_usable(ctx);
    SSL_CTX_free(ctx);
    cr_expect_eq(freed, 1);
}

Test(challenge_tls, put_replaces_the_same_name_and_drops_the_old_context)
{
    int freed1, freed2;
    SSL_CTX *c1 = counted_ctx(&freed1), *c2 = counted_ctx(&freed2), *got;

    cr_assert_eq(challenge_tls_put("a.test", c1), 0);
    SSL_CTX_free(c1);
    cr_assert_eq(challenge_tls_put("A.TEST", c2), 0);
    cr_expect_eq(freed1, 1, "the replaced context is released");
    got = tls_get("a.test");
    cr_expect_eq(got, c2);
    SSL_CTX_free(got);
    challenge_tls_remove("a.test");
    cr_expect_null(tls_get("a.test"), "one entry, not two");
    cr_expect_eq(freed2, 0);
    SSL_CTX_free(c2);
    cr_expect_eq(freed2, 1);
}

Test(challenge_tls, put_of_the_stored_context_again)
{
    int freed;
    SSL_CTX *ctx = counted_ctx(&freed);

    cr_assert_eq(challenge_tls_put("a.test", ctx), 0);
    cr_assert_eq(challenge_tls_put("a.test", ctx), 0);
    challenge_tls_remove("a.test");
    cr_expect_eq(freed, 0);
    expect_usable(ctx);
    SSL_CTX_free(ctx);
    cr_expect_eq(freed, 1);
}

Test(challenge_tls, remove_keeps_the_others)
{
    int fa, fb, fc;
    SSL_CTX *a = counted_ctx(&fa), *b = counted_ctx(&fb), *c = counted_ctx(&fc), *got;

    cr_assert_eq(challenge_tls_put("a.test", a), 0);
    cr_assert_eq(challenge_tls_put("b.test", b), 0);
    cr_assert_eq(challenge_tls_put("c.test", c), 0);
    challenge_tls_remove("a.test");
    challenge_tls_remove("nope.test");
    cr_expect_null(tls_get("a.test"));
    got = tls_get("b.test");
    cr_expect_eq(got, b);
    SSL_CTX_free(got);
    got = tls_get("c.test");
    cr_expect_eq(got, c);
    SSL_CTX_free(got);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    cr_expect(fa == 1 && fb == 0 && fc == 0);
}

Test(challenge_tls, bounded_by_challenge_max_and_name_length)
{
    static int freed[CHALLENGE_MAX + 1];
    char name[32], *long_name = repeat('n', 256);
    SSL_CTX *ctx;

    for (int i = 0; i < CHALLENGE_MAX; i++) {
        snprintf(name, sizeof(name), "h%d.test", i);
        ctx = counted_ctx(&freed[i]);
        cr_assert_eq(challenge_tls_put(name, ctx), 0, "%s", name);
        SSL_CTX_free(ctx);
    }
    ctx = counted_ctx(&freed[CHALLENGE_MAX]);
    cr_expect_eq(challenge_tls_put("one-more.test", ctx), -1);
    cr_expect_null(tls_get("one-more.test"));
    cr_expect_eq(challenge_tls_put(long_name, ctx), -1);
    cr_expect_eq(challenge_tls_put("", ctx), -1);
    SSL_CTX_free(ctx);
    cr_expect_eq(freed[CHALLENGE_MAX], 1, "a refused put takes no reference");
    free(long_name);
}

/* ---- runtime/tlscert ---- */

Test(names_cover, whole_names_in_any_case)
{
    cr_expect(tls_names_cover("a.test,b.test", "B.TEST"));
    cr_expect(tls_names_cover("a.test,b.test", "a.test"));
    cr_expect(tls_names_cover("A.Test", "a.test"));
    cr_expect_not(tls_names_cover("a.test,b.test", "test"));
    cr_expect_not(tls_names_cover("a.test,b.test", "a.tes"));
    cr_expect_not(tls_names_cover("a.test,b.test", "b.tes"));
    cr_expect_not(tls_names_cover("a.test,b.test", "b.testx"));
    cr_expect_not(tls_names_cover("a.test,b.test", "a.test,b.test"));
    cr_expect_not(tls_names_cover("", "a.test"));
}

static const unsigned char digest32[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0xff,
};

static SSL_CTX *alpn_ctx(const char *name)
{
    char err[256] = "";
    SSL_CTX *ctx = tls_alpn_challenge_ctx(name, digest32, err, sizeof(err));

    cr_assert_not_null(ctx, "%s", err);
    return ctx;
}

/* The DNS subjectAltNames of X, comma-separated, read with OpenSSL. */
static void san_dns(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;

    out[0] = '\0';
    cr_assert_not_null(gens);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        cr_assert_eq(g->type, GEN_DNS, "only DNS names");
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "",
                                 ASN1_STRING_length(g->d.dNSName),
                                 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
    }
    GENERAL_NAMES_free(gens);
}

Test(alpn_cert, san_is_the_name)
{
    SSL_CTX *ctx = alpn_ctx("acme.test");
    char names[512];

    san_dns(SSL_CTX_get0_certificate(ctx), names, sizeof(names));
    cr_expect_str_eq(names, "acme.test");
    cr_expect_eq(SSL_CTX_check_private_key(ctx), 1, "the key is the certificate's");
    SSL_CTX_free(ctx);
}

Test(alpn_cert, critical_acme_identifier_holds_the_digest)
{
    SSL_CTX *ctx = alpn_ctx("acme.test");
    X509 *x = SSL_CTX_get0_certificate(ctx);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    unsigned char want[34] = {0x04, 0x20};
    const ASN1_OCTET_STRING *v;
    X509_EXTENSION *ex;
    int at;

    cr_assert_not_null(oid);
    memcpy(want + 2, digest32, sizeof(digest32));
    at = X509_get_ext_by_OBJ(x, oid, -1);
    cr_assert_geq(at, 0, "the acmeIdentifier extension is there");
    cr_expect_lt(X509_get_ext_by_OBJ(x, oid, at), 0, "once");
    ex = X509_get_ext(x, at);
    cr_expect_eq(X509_EXTENSION_get_critical(ex), 1);
    v = X509_EXTENSION_get_data(ex);
    cr_assert_eq(ASN1_STRING_length(v), 34);
    cr_expect_eq(memcmp(ASN1_STRING_get0_data(v), want, sizeof(want)), 0,
                 "extnValue is the DER OCTET STRING 04 20 || digest");
    ASN1_OBJECT_free(oid);
    SSL_CTX_free(ctx);
}

/* The handshake of CLIENT and SERVER over a BIO pair: true when both finish. */
static bool handshake(SSL *client, SSL *server)
{
    BIO *cb, *sb;

    cr_assert_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (int i = 0; i < 50; i++) {
        int c = SSL_do_handshake(client), s = SSL_do_handshake(server);
        if (c == 1 && s == 1)
            return true;
        if ((c <= 0 && SSL_get_error(client, c) != SSL_ERROR_WANT_READ) ||
            (s <= 0 && SSL_get_error(server, s) != SSL_ERROR_WANT_READ))
            break;
    }
    ERR_clear_error();
    return false;
}

/* Connect to SERVER_CTX offering the ALPN list PROTOS; the protocol chosen, "" if none. */
static bool connect_with_alpn(SSL_CTX *server_ctx, const char *protos, size_t n, char *chosen,
                              X509 **peer)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *client, *server;
    const unsigned char *sel;
    unsigned len = 0;
    bool ok;

    cr_assert_not_null(cctx);
    client = SSL_new(cctx);
    server = SSL_new(server_ctx);
    cr_assert(client && server);
    cr_assert_eq(SSL_set_alpn_protos(client, (const unsigned char *)protos, (unsigned)n), 0);
    SSL_set_tlsext_host_name(client, "acme.test");
    ok = handshake(client, server);
    SSL_get0_alpn_selected(client, &sel, &len);
    snprintf(chosen, 32, "%.*s", (int)len, (const char *)sel);
    *peer = ok ? SSL_get1_peer_certificate(client) : NULL;
    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(cctx);
    return ok;
}

Test(alpn_cert, serves_acme_tls_1_only)
{
    SSL_CTX *ctx = alpn_ctx("acme.test");
    char chosen[32];
    X509 *peer;

    cr_expect(connect_with_alpn(ctx, ACME_TLS, 11, chosen, &peer));
    cr_expect_str_eq(chosen, "acme-tls/1");
    cr_assert_not_null(peer);
    cr_expect_eq(X509_cmp(peer, SSL_CTX_get0_certificate(ctx)), 0, "the challenge certificate");
    X509_free(peer);
    cr_expect_not(connect_with_alpn(ctx, "\x02h2\x08http/1.1", 12, chosen, &peer),
                  "a client not offering acme-tls/1 is refused");
    SSL_CTX_free(ctx);
}

/* RFC 8737 needs only the subjectAltName; any DNS name (up to 253 bytes) must do. */
Test(alpn_cert, long_dns_name)
{
    char name[128];
    SSL_CTX *ctx;
    char names[512];

    snprintf(name, sizeof(name), "%s.%s.test", "a123456789012345678901234567890123456789",
             "b123456789012345678901234567890123456789");
    cr_assert_gt(strlen(name), 64);
    ctx = alpn_ctx(name);
    san_dns(SSL_CTX_get0_certificate(ctx), names, sizeof(names));
    cr_expect_str_eq(names, name);
    SSL_CTX_free(ctx);
}

static void write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(PEM_write_X509(f, x), 1);
    cr_assert_eq(fclose(f), 0);
}

TestSuite(cert_info, .init = dir_setup, .fini = dir_teardown);

Test(cert_info, of_the_alpn_certificate)
{
    SSL_CTX *ctx = alpn_ctx("acme.test");
    struct tls_cert_info info;
    char path[128], err[256] = "";
    time_t now = time(NULL);

    path_in_dir(path, sizeof(path), "alpn.pem");
    write_cert(path, SSL_CTX_get0_certificate(ctx));
    cr_assert_eq(tls_cert_info(path, &info, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(info.names, "acme.test");
    cr_expect(info.self_signed);
    cr_expect(strstr(info.subject, "CN=acme.test") != NULL, "%s", info.subject);
    cr_expect_str_eq(info.subject, info.issuer);
    cr_expect(info.not_before >= now - 60 && info.not_before <= now + 60, "not_before is now");
    cr_expect_gt(info.not_after, info.not_before);
    SSL_CTX_free(ctx);
}

Test(cert_info, several_names_and_no_ip_addresses)
{
    struct tls_cert_info info;
    char cert[128], key[128], err[256] = "";

    path_in_dir(cert, sizeof(cert), "c.pem");
    path_in_dir(key, sizeof(key), "c.key");
    cr_assert_eq(tls_ensure_cert_named(cert, key, "a.test", "DNS:a.test,IP:127.0.0.1,DNS:B.test",
                                       err, sizeof(err)),
                 1, "%s", err);
    cr_assert_eq(tls_cert_info(cert, &info, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(info.names, "a.test,B.test");
    cr_expect(tls_names_cover(info.names, "b.test"));
    cr_expect_not(tls_names_cover(info.names, "127.0.0.1"));
}

/* A certificate for CN=leaf whose issuer is CN=ca (signed by its own key: only names matter). */
static X509 *issued_cert(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new(), *issuer = X509_NAME_new();

    cr_assert(k && x && subject && issuer);
    cr_assert_eq(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                            (const unsigned char *)"leaf", -1, -1, 0),
                 1);
    cr_assert_eq(X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC, (const unsigned char *)"ca",
                                            -1, -1, 0),
                 1);
    cr_assert(X509_set_version(x, 2) == 1 && X509_set_subject_name(x, subject) == 1 &&
              X509_set_issuer_name(x, issuer) == 1 && X509_set_pubkey(x, k) == 1);
    cr_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
              X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL);
    cr_assert_gt(X509_sign(x, k, EVP_sha256()), 0);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    EVP_PKEY_free(k);
    return x;
}

Test(cert_info, issued_by_another_is_not_self_signed)
{
    X509 *x = issued_cert();
    struct tls_cert_info info;
    char path[128], err[256] = "";

    path_in_dir(path, sizeof(path), "leaf.pem");
    write_cert(path, x);
    cr_assert_eq(tls_cert_info(path, &info, err, sizeof(err)), 0, "%s", err);
    cr_expect_not(info.self_signed);
    cr_expect_str_eq(info.subject, "/CN=leaf");
    cr_expect_str_eq(info.issuer, "/CN=ca");
    cr_expect_str_empty(info.names);
    cr_expect_eq(info.not_after - info.not_before, 3600);
    X509_free(x);
}

Test(cert_info, missing_or_garbage_file_is_an_error)
{
    static const char garbage[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    struct tls_cert_info info;
    char path[128], err[256] = "";

    path_in_dir(path, sizeof(path), "missing.pem");
    memset(&info, 0xaa, sizeof(info));
    cr_expect_eq(tls_cert_info(path, &info, err, sizeof(err)), -1);
    cr_expect(strstr(err, path) != NULL, "the error names the file: %s", err);
    cr_expect_str_empty(info.names);
    cr_expect_not(info.self_signed);

    err[0] = '\0';
    path_in_dir(path, sizeof(path), "garbage.pem");
    write_file(path, garbage, strlen(garbage));
    cr_expect_eq(tls_cert_info(path, &info, err, sizeof(err)), -1);
    cr_expect(strstr(err, path) != NULL, "%s", err);
    cr_expect_eq(ERR_peek_error(), 0, "no OpenSSL error is left queued");
}
