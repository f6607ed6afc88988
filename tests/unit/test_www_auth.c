/* www_auth_parse_basic: the credentials of an Authorization header (RFC 7617). */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "www/auth.h"

static int parse(const char *v, char user[WWW_AUTH_USER_MAX], char pass[WWW_AUTH_PASS_MAX])
{
    return www_auth_parse_basic(v, strlen(v), user, pass);
}

Test(www_auth, decodes_user_and_password)
{
    char u[WWW_AUTH_USER_MAX], p[WWW_AUTH_PASS_MAX];

    cr_assert_eq(parse("Basic YWxpY2U6czNjcmV0IHBhc3M=", u, p), 0); /* alice:s3cret pass */
    cr_assert_str_eq(u, "alice");
    cr_assert_str_eq(p, "s3cret pass");
    cr_assert_eq(parse("basic\tYWxpY2U6OmE6Yg==  ", u, p), 0); /* alice::a:b */
    cr_assert_str_eq(u, "alice");
    cr_assert_str_eq(p, ":a:b");
    cr_assert_eq(parse("BASIC Ym9iOg==", u, p), 0); /* bob: (empty password) */
    cr_assert_str_eq(u, "bob");
    cr_assert_str_eq(p, "");
}

Test(www_auth, refuses_what_is_not_basic_credentials)
{
    char u[WWW_AUTH_USER_MAX], p[WWW_AUTH_PASS_MAX];
    static const char *const bad[] = {
        "",                       /* nothing */
        "Basic",                  /* no credentials */
        "Basic ",                 /* empty */
        "Bearer YWxpY2U6cHc=",    /* another scheme */
        "BasicYWxpY2U6cHc=",      /* no space after the scheme */
        "Basic YWxpY2U6cHc",      /* base64 without its padding */
        "Basic !!!!",             /* not base64 */
        "Basic YWxpY2U=",         /* alice: no colon */
        "Basic OnB3",             /* :pw: empty user */
        "Basic YWwAaWNlOnB3",     /* a NUL in the user */
        "Basic YWxpY2U6cAp3",     /* a line feed in the password */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(parse(bad[i], u, p), -1, "accepted \"%s\"", bad[i]);
}

Test(www_auth, refuses_overlong_names_and_passwords)
{
    char u[WWW_AUTH_USER_MAX], p[WWW_AUTH_PASS_MAX];
    char plain[1024], enc[2048], hdr[2100];

    memset(plain, 'a', WWW_AUTH_USER_MAX);
    strcpy(plain + WWW_AUTH_USER_MAX, ":pw");
    sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)plain, strlen(plain),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(hdr, sizeof(hdr), "Basic %s", enc);
    cr_assert_eq(parse(hdr, u, p), -1);
    memset(plain, 'b', WWW_AUTH_USER_MAX - 1); /* the longest user that fits */
    strcpy(plain + WWW_AUTH_USER_MAX - 1, ":pw");
    sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)plain, strlen(plain),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(hdr, sizeof(hdr), "Basic %s", enc);
    cr_assert_eq(parse(hdr, u, p), 0);
    cr_assert_eq(strlen(u), WWW_AUTH_USER_MAX - 1);
}
