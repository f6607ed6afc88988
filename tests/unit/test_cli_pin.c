/*
 * Unit tests for cli/pin: the pin of a certificate generated here with
 * `openssl req -x509` equals the one from the openssl command line pipeline
 * (x509 -pubkey | pkey -pubin -outform der | dgst -sha256 -binary | base64),
 * for RSA and EC keys; garbage is refused; the pin shape check.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pin.h"

static char dir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cli_pin.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(pin, .init = setup, .fini = teardown);

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);

    cr_assert_not_null(f, "%s", path);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static void make_cert(const char *keyopt, const char *name)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 %s -nodes -days 1 -subj /CN=test -keyout %s/%s.key "
             "-out %s/%s.pem >/dev/null 2>&1",
             keyopt, dir, name, dir, name);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void reference_pin(const char *name, char *out, size_t cap)
{
    char cmd[1024];
    FILE *p;
    size_t n;

    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in %s/%s.pem -pubkey -noout | openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | base64",
             dir, name);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, cap - 1, p);
    pclose(p);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    cr_assert_eq(strlen(out), 44, "reference pin '%s'", out);
}

static void check(const char *keyopt, const char *name)
{
    char path[128], want[64], got[PIN_LEN + 1];
    struct cli_err err = {0};
    size_t len;
    char *pem;

    make_cert(keyopt, name);
    reference_pin(name, want, sizeof(want));
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    pem = slurp(path, &len);
    cr_assert_eq(pin_from_pem(pem, len, got, sizeof(got), &err), 0, "%s", err.msg);
    cr_assert_eq(strncmp(got, "sha256//", 8), 0);
    cr_assert_str_eq(got + 8, want);
    cr_assert(pin_valid(got));
    free(pem);
}

Test(pin, rsa_matches_openssl)
{
    check("-newkey rsa:2048", "rsa");
}

Test(pin, ec_matches_openssl)
{
    check("-newkey ec -pkeyopt ec_paramgen_curve:P-256", "ec");
}

Test(pin, two_keys_two_pins)
{
    char a[PIN_LEN + 1], b[PIN_LEN + 1], path[128];
    struct cli_err err = {0};
    size_t len;
    char *pem;

    make_cert("-newkey ec -pkeyopt ec_paramgen_curve:P-256", "one");
    make_cert("-newkey ec -pkeyopt ec_paramgen_curve:P-256", "two");
    snprintf(path, sizeof(path), "%s/one.pem", dir);
    pem = slurp(path, &len);
    cr_assert_eq(pin_from_pem(pem, len, a, sizeof(a), &err), 0);
    free(pem);
    snprintf(path, sizeof(path), "%s/two.pem", dir);
    pem = slurp(path, &len);
    cr_assert_eq(pin_from_pem(pem, len, b, sizeof(b), &err), 0);
    free(pem);
    cr_assert_str_neq(a, b);
}

Test(pin, garbage_refused)
{
    char out[PIN_LEN + 1];
    struct cli_err err = {0};
    const char *junk = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";

    cr_assert_eq(pin_from_pem(junk, strlen(junk), out, sizeof(out), &err), -1);
    cr_assert_eq(err.exit, CLI_EXIT_CONN);
    cr_assert(strstr(err.msg, "certificate") != NULL, "%s", err.msg);
    cr_assert_eq(pin_from_pem("", 0, out, sizeof(out), &err), -1);
    cr_assert_eq(pin_from_pem(junk, strlen(junk), out, 10, &err), -1, "small buffer refused");
}

Test(pin, shape)
{
    cr_assert(pin_valid("sha256//M1tEiPc3ISYjb85DhciNiEj4j0f0hMJRjP+rOQwUa+c="));
    cr_assert_not(pin_valid("sha256//M1tEiPc3ISYjb85DhciNiEj4j0f0hMJRjP+rOQwUa+c"));
    cr_assert_not(pin_valid("sha1//M1tEiPc3ISYjb85DhciNiEj4j0f0hMJRjP+rOQwUa+c="));
    cr_assert_not(pin_valid("sha256//M1tEiPc3ISYjb85DhciNiEj4j0f0hMJRjP+rOQw!a+c="));
    cr_assert_not(pin_valid(NULL));
}
