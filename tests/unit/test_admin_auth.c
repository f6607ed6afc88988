/* Unit tests for the admin listener's certificate, accounts and failed-login limiter. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "admin/accounts.h"
#include "runtime/ratelimit.h"
#include "runtime/tlscert.h"
#include "metabase/mb.h"

static char dir[64];
static char cert[512], key[512];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_admin_auth_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/admin.crt", dir);
    snprintf(key, sizeof(key), "%s/admin.key", dir);
}

static void rm_tmp(void)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The whole file at PATH as a NUL-terminated string (caller frees), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = calloc(1, 65536);
    n = fread(buf, 1, 65535, f);
    fclose(f);
    if (len != NULL)
        *len = n;
    return buf;
}

/* Output of shell command CMD (first 64 KiB), trailing newline removed; caller frees. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    char *buf = calloc(1, 65536);
    size_t n;

    cr_assert_not_null(p, "popen %s", cmd);
    n = fread(buf, 1, 65535, p);
    cr_assert_eq(pclose(p), 0, "command failed: %s", cmd);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return buf;
}

static mode_t file_mode(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st.st_mode & 07777;
}

static void ensure_ok(void)
{
    char err[256] = "";

    cr_assert_eq(tls_ensure_cert(cert, key, err, sizeof(err)), 0, "%s", err);
}

/* ---- tls ---- */

TestSuite(tls, .init = mkdir_tmp, .fini = rm_tmp);

Test(tls, generates_key_and_certificate_with_modes)
{
    ensure_ok();
    cr_assert_eq(file_mode(key), 0600);
    cr_assert_eq(file_mode(cert), 0644);
}

Test(tls, certificate_fields)
{
    char cmd[700];
    char *text;

    ensure_ok();
    snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -noout -text", cert);
    text = run(cmd);
    cr_expect_not_null(strstr(text, "Version: 3 (0x2)"), "%s", text);
    cr_expect_not_null(strstr(text, "Subject: CN = infosrv admin"), "%s", text);
    cr_expect_not_null(strstr(text, "Issuer: CN = infosrv admin"), "%s", text);
    cr_expect_not_null(strstr(text, "NIST CURVE: P-256"), "%s", text);
    cr_expect_not_null(strstr(text, "DNS:localhost"), "%s", text);
    cr_expect_not_null(strstr(text, "IP Address:127.0.0.1"), "%s", text);
    cr_expect_not_null(strstr(text, "IP Address:0:0:0:0:0:0:0:1"), "%s", text);
    cr_expect_not_null(strstr(text, "CA:FALSE"), "%s", text);
    cr_expect_not_null(strstr(text, "TLS Web Server Authentication"), "%s", text);
    free(text);
}

Test(tls, valid_ten_years_and_random_serial)
{
    char cert2[600], key2[600];
    int days = 0, secs = 0;
    FILE *f;
    X509 *a, *b;

    ensure_ok();
    snprintf(cert2, sizeof(cert2), "%s/b.crt", dir);
    snprintf(key2, sizeof(key2), "%s/b.key", dir);
    cr_assert_eq(tls_ensure_cert(cert2, key2, NULL, 0), 0);
    f = fopen(cert, "r");
    a = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(cert2, "r");
    b = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert(a != NULL && b != NULL);
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(a), X509_get0_notAfter(a)), 1);
    cr_expect(days >= 3650 && days <= 3653, "validity %d days", days);
    cr_expect_leq(X509_cmp_current_time(X509_get0_notBefore(a)), 0);
    cr_expect_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    cr_expect_gt(ASN1_STRING_length(X509_get0_serialNumber(a)), 8);
    X509_free(a);
    X509_free(b);
}

Test(tls, second_call_keeps_the_files)
{
    char *c1, *k1, *c2, *k2;

    ensure_ok();
    c1 = slurp(cert, NULL);
    k1 = slurp(key, NULL);
    ensure_ok();
    c2 = slurp(cert, NULL);
    k2 = slurp(key, NULL);
    cr_assert_str_eq(c1, c2);
    cr_assert_str_eq(k1, k2);
    cr_assert_not_null(strstr(k1, "-----BEGIN PRIVATE KEY-----"));
    free(c1), free(k1), free(c2), free(k2);
}

Test(tls, fingerprint_matches_openssl_cli)
{
    char fp[TLS_FINGERPRINT_MAX], want[200], cmd[1200];
    char *b64;

    ensure_ok();
    cr_assert_eq(tls_cert_fingerprint(cert, fp, sizeof(fp)), 0);
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform der"
             " | openssl dgst -sha256 -binary | base64",
             cert);
    b64 = run(cmd);
    cr_assert_eq(strlen(b64), 44, "%s", b64);
    snprintf(want, sizeof(want), "sha256//%s", b64);
    cr_assert_str_eq(fp, want);
    free(b64);
}

Test(tls, fingerprint_errors)
{
    char fp[TLS_FINGERPRINT_MAX], small[20];

    cr_assert_eq(tls_cert_fingerprint(cert, fp, sizeof(fp)), -1); /* no file yet */
    ensure_ok();
    cr_assert_eq(tls_cert_fingerprint(cert, small, sizeof(small)), -1);
}

static void fingerprint(char *fp)
{
    cr_assert_eq(tls_cert_fingerprint(cert, fp, TLS_FINGERPRINT_MAX), 0);
}

Test(tls, regenerates_when_key_missing_or_broken)
{
    char fp1[TLS_FINGERPRINT_MAX], fp2[TLS_FINGERPRINT_MAX], fp3[TLS_FINGERPRINT_MAX];
    FILE *f;

    ensure_ok();
    fingerprint(fp1);
    cr_assert_eq(unlink(key), 0);
    ensure_ok();
    fingerprint(fp2);
    cr_assert_str_neq(fp1, fp2);
    f = fopen(key, "w");
    fputs("not a key\n", f);
    fclose(f);
    ensure_ok();
    fingerprint(fp3);
    cr_assert_str_neq(fp2, fp3);
    cr_assert_eq(file_mode(key), 0600);
}

Test(tls, regenerates_a_mismatched_pair)
{
    char cert2[600], key2[600], cmd[1400], fp1[TLS_FINGERPRINT_MAX], fp2[TLS_FINGERPRINT_MAX];
    SSL_CTX *ctx;

    ensure_ok();
    fingerprint(fp1);
    snprintf(cert2, sizeof(cert2), "%s/b.crt", dir);
    snprintf(key2, sizeof(key2), "%s/b.key", dir);
    cr_assert_eq(tls_ensure_cert(cert2, key2, NULL, 0), 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", key2, key);
    cr_assert_eq(system(cmd), 0);
    ensure_ok();
    fingerprint(fp2);
    cr_assert_str_neq(fp1, fp2);
    ctx = tls_server_ctx(cert, key, NULL, 0);
    cr_assert_not_null(ctx);
    SSL_CTX_free(ctx);
}

Test(tls, unwritable_directory_fails_with_a_reason)
{
    char err[256] = "";

    cr_assert_eq(
        tls_ensure_cert("/nonexistent/dir/a.crt", "/nonexistent/dir/a.key", err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "/nonexistent/dir/a.key"), "%s", err);
}

Test(tls, server_ctx_errors)
{
    char err[256] = "";

    cr_assert_null(tls_server_ctx(cert, key, err, sizeof(err)));
    cr_assert_not_null(strstr(err, cert), "%s", err);
}

/* Drive a handshake between CLIENT and SERVER over a BIO pair; returns 1 on success. */
static int handshake(SSL *client, SSL *server)
{
    BIO *a, *b;
    int rc_c = 0, rc_s = 0;

    cr_assert_eq(BIO_new_bio_pair(&a, 0, &b, 0), 1);
    SSL_set_bio(client, a, a);
    SSL_set_bio(server, b, b);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (int i = 0; i < 20 && (rc_c != 1 || rc_s != 1); i++) {
        rc_c = SSL_do_handshake(client);
        rc_s = SSL_do_handshake(server);
        if ((rc_c <= 0 && SSL_get_error(client, rc_c) != SSL_ERROR_WANT_READ) ||
            (rc_s <= 0 && SSL_get_error(server, rc_s) != SSL_ERROR_WANT_READ))
            return 0;
    }
    return rc_c == 1 && rc_s == 1;
}

static int try_version(int client_max, unsigned long *server_reason, int *version)
{
    SSL_CTX *sctx = tls_server_ctx(cert, key, NULL, 0);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *c, *s;
    int ok;

    cr_assert(sctx != NULL && cctx != NULL);
    SSL_CTX_set_security_level(cctx, 0); /* let the client offer old versions at all */
    SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(cctx, client_max);
    SSL_CTX_set_cipher_list(cctx, "ALL:@SECLEVEL=0");
    c = SSL_new(cctx);
    s = SSL_new(sctx);
    ERR_clear_error();
    ok = handshake(c, s);
    *server_reason = ERR_GET_REASON(ERR_peek_error());
    *version = SSL_version(s);
    SSL_free(c), SSL_free(s);
    SSL_CTX_free(cctx), SSL_CTX_free(sctx);
    ERR_clear_error();
    return ok;
}

Test(tls, server_ctx_handshakes_tls12_and_13_refuses_11)
{
    unsigned long reason;
    int version;

    ensure_ok();
    cr_assert_eq(try_version(TLS1_3_VERSION, &reason, &version), 1);
    cr_expect_eq(version, TLS1_3_VERSION);
    cr_assert_eq(try_version(TLS1_2_VERSION, &reason, &version), 1);
    cr_expect_eq(version, TLS1_2_VERSION);
    cr_assert_eq(try_version(TLS1_1_VERSION, &reason, &version), 0);
    cr_expect_eq(reason, (unsigned long)SSL_R_UNSUPPORTED_PROTOCOL, "reason %lu", reason);
}

/* ---- accounts ---- */

static struct mb *mb;
static char dbpath[600];

static void acct_setup(void)
{
    struct mb_error err;

    mkdir_tmp();
    snprintf(dbpath, sizeof(dbpath), "%s/metabase.db", dir);
    cr_assert_eq(mb_open(&mb, dbpath, &err), 0, "%s", err.message);
}

static void acct_teardown(void)
{
    mb_close(mb);
    rm_tmp();
}

TestSuite(accounts, .init = acct_setup, .fini = acct_teardown);

static void create_ok(const char *name, enum role r, char token[ACCT_TOKEN_SIZE])
{
    struct mb_error err = {0};

    cr_assert_eq(acct_create(mb, name, r, token, ACCT_TOKEN_SIZE, &err), 0, "%s: %s", err.code,
                 err.message);
}

static void auth_is(const char *token, const char *name, enum role r)
{
    char who[ACCT_NAME_MAX + 1] = "";
    enum role got = r == ROLE_ADMIN ? ROLE_READER : ROLE_ADMIN; /* must be overwritten */

    cr_assert_eq(acct_authenticate(mb, token, who, sizeof(who), &got), 0, "token %s", token);
    cr_assert_str_eq(who, name);
    cr_assert_eq(got, r);
}

static void auth_refused(const char *token)
{
    char who[ACCT_NAME_MAX + 1] = "";
    enum role got;

    cr_assert_eq(acct_authenticate(mb, token, who, sizeof(who), &got), -1, "token %s",
                 token ? token : "(null)");
}

Test(accounts, create_and_authenticate)
{
    char t1[ACCT_TOKEN_SIZE], t2[ACCT_TOKEN_SIZE];

    cr_assert_not(acct_any(mb));
    create_ok("alice", ROLE_OPERATOR, t1);
    create_ok("bob.reader-1_x", ROLE_READER, t2);
    cr_assert(acct_any(mb));
    cr_assert_eq(strlen(t1), 48);
    cr_assert_eq(strncmp(t1, "isv1_", 5), 0);
    cr_assert_eq(strspn(t1 + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                 43, "%s", t1);
    cr_assert_str_neq(t1, t2);
    auth_is(t1, "alice", ROLE_OPERATOR);
    auth_is(t2, "bob.reader-1_x", ROLE_READER);
}

Test(accounts, wrong_tokens_refused)
{
    char t[ACCT_TOKEN_SIZE], bad[ACCT_TOKEN_SIZE + 8];

    create_ok("alice", ROLE_ADMIN, t);
    memcpy(bad, t, sizeof(t));
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    auth_refused(bad);
    auth_refused("");
    auth_refused(NULL);
    auth_refused(t + 5); /* without the prefix */
    snprintf(bad, sizeof(bad), "%sx", t);
    auth_refused(bad);
    bad[strlen(t) - 1] = '\0';
    auth_refused(bad);
    auth_is(t, "alice", ROLE_ADMIN);
}

Test(accounts, stores_only_a_blake2b_hash)
{
    char t[ACCT_TOKEN_SIZE], hex[65];
    unsigned char h[32];
    sqlite3_stmt *st;

    create_ok("alice", ROLE_ADMIN, t);
    crypto_generichash(h, 32, (const unsigned char *)t, strlen(t), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, 32);
    cr_assert_eq(sqlite3_prepare_v2(mb_db(mb), "SELECT token_hash FROM accounts", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), hex);
    sqlite3_finalize(st);
}

Test(accounts, names_validated)
{
    static const char *const bad[] = {"", "Admin", "_x", ".x", "-x", "a b", "a/b", "é", "a\n"};
    char t[ACCT_TOKEN_SIZE], long_name[80];
    struct mb_error err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.code = NULL;
        cr_assert_eq(acct_create(mb, bad[i], ROLE_READER, t, sizeof(t), &err), -1, "%s", bad[i]);
        cr_assert_str_eq(err.code, MB_E_INVALID_REQUEST);
    }
    cr_assert_eq(acct_create(mb, NULL, ROLE_READER, t, sizeof(t), &err), -1);
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    cr_assert_eq(acct_create(mb, long_name, ROLE_READER, t, sizeof(t), &err), -1);
    long_name[64] = '\0';
    create_ok(long_name, ROLE_READER, t);
    create_ok("0", ROLE_READER, t);
    cr_assert_eq(acct_create(mb, "x", (enum role)7, t, sizeof(t), &err), -1);
    cr_assert_str_eq(err.code, MB_E_INVALID_REQUEST);
    cr_assert_eq(acct_create(mb, "x", ROLE_READER, t, ACCT_TOKEN_SIZE - 1, &err), -1);
}

Test(accounts, duplicate_name)
{
    char t[ACCT_TOKEN_SIZE], t2[ACCT_TOKEN_SIZE] = "";
    struct mb_error err;

    create_ok("alice", ROLE_READER, t);
    cr_assert_eq(acct_create(mb, "alice", ROLE_ADMIN, t2, sizeof(t2), &err), -1);
    cr_assert_str_eq(err.code, ACCT_E_EXISTS);
    cr_assert_str_eq(err.code, "account_exists");
    cr_assert_not_null(strstr(err.message, "alice"));
    cr_assert_str_eq(t2, "");
    auth_is(t, "alice", ROLE_READER);
}

Test(accounts, disabled_account_refused)
{
    char t[ACCT_TOKEN_SIZE];

    create_ok("alice", ROLE_ADMIN, t);
    cr_assert_eq(sqlite3_exec(mb_db(mb), "UPDATE accounts SET disabled = 1 WHERE name = 'alice'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    auth_refused(t);
    cr_assert_eq(sqlite3_exec(mb_db(mb), "UPDATE accounts SET disabled = 0", NULL, NULL, NULL),
                 SQLITE_OK);
    auth_is(t, "alice", ROLE_ADMIN);
}

Test(accounts, delete)
{
    char t[ACCT_TOKEN_SIZE], t2[ACCT_TOKEN_SIZE];
    struct mb_error err;

    create_ok("alice", ROLE_ADMIN, t);
    create_ok("bob", ROLE_READER, t2);
    cr_assert_eq(acct_delete(mb, "alice", &err), 0);
    auth_refused(t);
    auth_is(t2, "bob", ROLE_READER);
    cr_assert_eq(acct_delete(mb, "alice", &err), -1);
    cr_assert_str_eq(err.code, ACCT_E_NOT_FOUND);
    cr_assert_str_eq(err.code, "not_found");
}

Test(accounts, rotate_token)
{
    char old[ACCT_TOKEN_SIZE], fresh[ACCT_TOKEN_SIZE];
    struct mb_error err;

    create_ok("alice", ROLE_OPERATOR, old);
    cr_assert_eq(acct_new_token(mb, "alice", fresh, sizeof(fresh), &err), 0, "%s", err.message);
    cr_assert_str_neq(old, fresh);
    auth_refused(old);
    auth_is(fresh, "alice", ROLE_OPERATOR);
    cr_assert_eq(acct_new_token(mb, "nobody", fresh, sizeof(fresh), &err), -1);
    cr_assert_str_eq(err.code, ACCT_E_NOT_FOUND);
    auth_is(fresh, "alice", ROLE_OPERATOR);
}

Test(accounts, list_has_no_secret)
{
    char t1[ACCT_TOKEN_SIZE], t2[ACCT_TOKEN_SIZE], *text;
    json_t *list, *e;
    sqlite3_stmt *st;

    create_ok("zed", ROLE_READER, t1);
    create_ok("alice", ROLE_ADMIN, t2);
    list = acct_list(mb);
    cr_assert(json_is_array(list));
    cr_assert_eq(json_array_size(list), 2);
    e = json_array_get(list, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "name")), "alice");
    cr_assert_str_eq(json_string_value(json_object_get(e, "role")), "admin");
    cr_assert_eq(strlen(json_string_value(json_object_get(e, "created"))), 20); /* ISO 8601 Z */
    cr_assert_eq(json_object_size(e), 3);
    e = json_array_get(list, 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "name")), "zed");
    cr_assert_str_eq(json_string_value(json_object_get(e, "role")), "reader");
    cr_assert_eq(json_object_size(e), 3);
    text = json_dumps(list, 0);
    cr_assert_null(strstr(text, t1));
    cr_assert_null(strstr(text, t2));
    cr_assert_eq(sqlite3_prepare_v2(mb_db(mb), "SELECT token_hash FROM accounts", -1, &st, NULL),
                 SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        cr_assert_null(strstr(text, (const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    free(text);
    json_decref(list);
}

Test(accounts, bootstrap_once)
{
    char path[700], err[256] = "", *tok1, *tok2;
    size_t len;

    snprintf(path, sizeof(path), "%s/admin.token", dir);
    cr_assert_eq(acct_bootstrap(mb, path, err, sizeof(err)), 1, "%s", err);
    cr_assert_eq(file_mode(path), 0600);
    tok1 = slurp(path, &len);
    cr_assert_eq(len, 49, "%s", tok1);
    cr_assert_eq(tok1[48], '\n');
    tok1[48] = '\0';
    auth_is(tok1, "admin", ROLE_ADMIN);
    cr_assert_eq(acct_bootstrap(mb, path, err, sizeof(err)), 0, "%s", err);
    tok2 = slurp(path, NULL);
    tok2[48] = '\0';
    cr_assert_str_eq(tok1, tok2);
    auth_is(tok1, "admin", ROLE_ADMIN);
    free(tok1), free(tok2);
}

Test(accounts, bootstrap_skipped_when_accounts_exist)
{
    char path[700], err[256] = "", t[ACCT_TOKEN_SIZE];

    create_ok("ops", ROLE_READER, t);
    snprintf(path, sizeof(path), "%s/admin.token", dir);
    cr_assert_eq(acct_bootstrap(mb, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(access(path, F_OK), 0);
}

Test(accounts, bootstrap_failure_leaves_no_account)
{
    char err[256] = "", path[700];

    cr_assert_eq(acct_bootstrap(mb, "/nonexistent/dir/admin.token", err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "/nonexistent/dir/admin.token"), "%s", err);
    cr_assert_not(acct_any(mb));
    snprintf(path, sizeof(path), "%s/admin.token", dir);
    cr_assert_eq(acct_bootstrap(mb, path, err, sizeof(err)), 1, "%s", err);
}

Test(accounts, accounts_survive_reopen)
{
    char t[ACCT_TOKEN_SIZE];
    struct mb_error err;

    create_ok("alice", ROLE_READER, t);
    mb_close(mb);
    cr_assert_eq(mb_open(&mb, dbpath, &err), 0, "%s", err.message);
    auth_is(t, "alice", ROLE_READER);
}

/* ---- roles ---- */

Test(roles, names_round_trip)
{
    enum role r;

    cr_assert_str_eq(role_to_string(ROLE_READER), "reader");
    cr_assert_str_eq(role_to_string(ROLE_OPERATOR), "operator");
    cr_assert_str_eq(role_to_string(ROLE_ADMIN), "admin");
    cr_assert_eq(role_from_string("operator", &r), 0);
    cr_assert_eq(r, ROLE_OPERATOR);
    cr_assert_eq(role_from_string("admin", &r), 0);
    cr_assert_eq(r, ROLE_ADMIN);
    cr_assert_eq(role_from_string("reader", &r), 0);
    cr_assert_eq(r, ROLE_READER);
    cr_assert_eq(role_from_string("Admin", &r), -1);
    cr_assert_eq(role_from_string("", &r), -1);
    cr_assert_eq(role_from_string(NULL, &r), -1);
}

struct rule {
    const char *method, *path;
    bool reader, operator, admin;
};

static const struct rule rules[] = {
    {"GET", "/api/v1/config/www", true, true, true},
    {"HEAD", "/api/v1/config/www", true, true, true},
    {"GET", "/api/v1/accounts", true, true, true},
    {"GET", "/metrics", true, true, true},
    {"PATCH", "/api/v1/config/www", false, false, true},
    {"PUT", "/api/v1/config/www/sites/x", false, false, true},
    {"POST", "/api/v1/commits", false, false, true},
    {"POST", "/api/v1/rollback", false, false, true},
    {"POST", "/api/v1/accounts", false, false, true},
    {"DELETE", "/api/v1/accounts/alice", false, false, true},
    {"POST", "/api/v1/backups", false, false, true},
    {"POST", "/api/v1/services/www/stop", false, true, true},
    {"POST", "/api/v1/services/www/sites/default/pause", false, true, true},
    {"POST", "/api/v1/services", false, false, true},
    {"POST", "/api/v1/services/", false, false, true},
    {"POST", "/api/v1/servicesx/www/stop", false, false, true},
    {"POST", "/api/v1/services/../accounts", false, false, true},
    {"POST", "/api/v1/services/www/..", false, false, true},
    {"POST", "/api/v1/services/./x", false, false, true},
    {"POST", "/api/v1/services/www/.hidden", false, true, true},
    {"DELETE", "/api/v1/services/www", false, false, true},
    {"DELETE", "/api/v1/sessions/42", false, true, true},
    {"DELETE", "/api/v1/sessions?site=default", false, true, true},
    {"DELETE", "/api/v1/sessions", false, true, true},
    {"DELETE", "/api/v1/sessionsx", false, false, true},
    {"POST", "/api/v1/sessions/42", false, false, true},
    {"POST", "/api/v1/cache/flush", false, true, true},
    {"POST", "/api/v1/cache/flush?service=www", false, true, true},
    {"POST", "/api/v1/cache/flush/x", false, false, true},
    {"DELETE", "/api/v1/cache/flush", false, false, true},
    {"DELETE", "/api/v1/stats", false, true, true},
    {"DELETE", "/api/v1/stats?service=www&site=default", false, true, true},
    {"DELETE", "/api/v1/stats/www", false, false, true},
    {"DELETE", "/api/v1/statsx", false, false, true},
    {"get", "/api/v1/config/www", false, false, true},
    {"OPTIONS", "/api/v1/config", false, false, true},
};

Test(roles, allows_table)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const struct rule *r = &rules[i];

        cr_expect_eq(role_allows(ROLE_READER, r->method, r->path), r->reader, "reader %s %s",
                     r->method, r->path);
        cr_expect_eq(role_allows(ROLE_OPERATOR, r->method, r->path), r->operator, "operator %s %s",
                     r->method, r->path);
        cr_expect_eq(role_allows(ROLE_ADMIN, r->method, r->path), r->admin, "admin %s %s",
                     r->method, r->path);
    }
    cr_expect_not(role_allows(ROLE_READER, NULL, "/"));
    cr_expect_not(role_allows((enum role)9, "GET", "/api"));
}

/* ---- ratelimit ---- */

static void expect_blocked(struct ratelimit *rl, const char *addr, time_t now, unsigned retry)
{
    unsigned got = 0;

    cr_assert(rl_blocked(rl, addr, now, &got), "%s not blocked at %lld", addr, (long long)now);
    cr_assert_eq(got, retry, "%s at %lld: retry_after %u", addr, (long long)now, got);
}

static void expect_open(struct ratelimit *rl, const char *addr, time_t now)
{
    cr_assert_not(rl_blocked(rl, addr, now, NULL), "%s blocked at %lld", addr, (long long)now);
}

Test(ratelimit, invalid_parameters)
{
    cr_assert_null(rl_new(0, 60, 300, 10));
    cr_assert_null(rl_new(3, 0, 300, 10));
    cr_assert_null(rl_new(3, 60, 300, 0));
    rl_free(NULL);
}

Test(ratelimit, blocks_after_n_failures_then_unblocks)
{
    struct ratelimit *rl = rl_new(3, 60, 300, 16);

    rl_fail(rl, "192.0.2.1", 1000);
    rl_fail(rl, "192.0.2.1", 1010);
    expect_open(rl, "192.0.2.1", 1011);
    rl_fail(rl, "192.0.2.1", 1020);
    expect_blocked(rl, "192.0.2.1", 1020, 300);
    expect_blocked(rl, "192.0.2.1", 1100, 220);
    expect_blocked(rl, "192.0.2.1", 1319, 1);
    expect_open(rl, "192.0.2.2", 1100);
    rl_fail(rl, "192.0.2.1", 1200); /* a failure while blocked does not extend the block */
    expect_blocked(rl, "192.0.2.1", 1200, 120);
    expect_open(rl, "192.0.2.1", 1320);
    /* after the block, counting starts again */
    rl_fail(rl, "192.0.2.1", 1321);
    rl_fail(rl, "192.0.2.1", 1322);
    expect_open(rl, "192.0.2.1", 1323);
    rl_fail(rl, "192.0.2.1", 1324);
    expect_blocked(rl, "192.0.2.1", 1324, 300);
    rl_free(rl);
}

Test(ratelimit, failures_outside_the_window_do_not_add_up)
{
    struct ratelimit *rl = rl_new(3, 60, 300, 16);

    rl_fail(rl, "a", 1000);
    rl_fail(rl, "a", 1050);
    rl_fail(rl, "a", 1060); /* the window of 1000 is over: a new one starts */
    rl_fail(rl, "a", 1070);
    expect_open(rl, "a", 1071);
    rl_fail(rl, "a", 1080);
    expect_blocked(rl, "a", 1080, 300);
    rl_free(rl);
}

Test(ratelimit, success_clears)
{
    struct ratelimit *rl = rl_new(3, 60, 300, 16);

    rl_fail(rl, "a", 1000);
    rl_fail(rl, "a", 1001);
    rl_success(rl, "a");
    cr_assert_eq(rl_count(rl), 0);
    rl_fail(rl, "a", 1002);
    rl_fail(rl, "a", 1003);
    expect_open(rl, "a", 1004);
    rl_fail(rl, "a", 1005);
    expect_blocked(rl, "a", 1005, 300);
    rl_success(rl, "a");
    expect_open(rl, "a", 1006);
    rl_success(rl, "never-seen");
    rl_free(rl);
}

Test(ratelimit, bounded_entries_evict_the_oldest)
{
    struct ratelimit *rl = rl_new(2, 60, 300, 4);
    char addr[32];

    rl_fail(rl, "old", 1000);
    rl_fail(rl, "old", 1000);
    rl_fail(rl, "recent", 1001);
    rl_fail(rl, "recent", 1001);
    expect_blocked(rl, "old", 1002, 298);
    for (int i = 0; i < 3; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d", i);
        rl_fail(rl, addr, 1010 + i);
    }
    cr_assert_eq(rl_count(rl), 4);
    expect_open(rl, "old", 1020); /* evicted: least recently failing */
    expect_blocked(rl, "recent", 1020, 281);
    for (int i = 0; i < 1000; i++) {
        snprintf(addr, sizeof(addr), "2001:db8::%x", i);
        rl_fail(rl, addr, 2000);
        cr_assert_leq(rl_count(rl), 4);
    }
    cr_assert_eq(rl_count(rl), 4);
    rl_free(rl);
}

Test(ratelimit, stale_entries_are_dropped)
{
    struct ratelimit *rl = rl_new(3, 60, 300, 16);

    rl_fail(rl, "a", 1000);
    cr_assert_eq(rl_count(rl), 1);
    expect_open(rl, "a", 1061);
    cr_assert_eq(rl_count(rl), 0);
    rl_free(rl);
}

Test(ratelimit, long_addresses_are_keyed_on_a_prefix)
{
    struct ratelimit *rl = rl_new(2, 60, 300, 16);
    char a[200], b[200];

    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[150] = 'y';
    rl_fail(rl, a, 1000);
    rl_fail(rl, b, 1000);
    expect_blocked(rl, a, 1000, 300);
    rl_free(rl);
}

struct hammer_arg {
    struct ratelimit *rl;
    int id;
};

static void *hammer(void *p)
{
    struct hammer_arg *h = p;
    char addr[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", h->id, i % 97);
        rl_fail(h->rl, addr, 1000 + i / 100);
        (void)rl_blocked(h->rl, addr, 1000 + i / 100, NULL);
        if (i % 7 == 0)
            rl_success(h->rl, addr);
    }
    return NULL;
}

Test(ratelimit, many_threads)
{
    struct ratelimit *rl = rl_new(5, 60, 300, 64);
    struct hammer_arg args[8];
    pthread_t th[8];

    for (int i = 0; i < 8; i++) {
        args[i] = (struct hammer_arg){rl, i};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    cr_assert_leq(rl_count(rl), 64);
    rl_free(rl);
}
