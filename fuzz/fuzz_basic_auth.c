/*
 * libFuzzer driver for www_auth_parse_basic: any Authorization value. On
 * success the user is non-empty, without ':' or control characters, and
 * both strings are NUL-terminated inside their buffers; re-encoding them
 * must parse back to the same pair.
 */
#include <sodium.h>
#include <string.h>

#include "fuzz.h"
#include "www/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char user[WWW_AUTH_USER_MAX], pass[WWW_AUTH_PASS_MAX], u2[WWW_AUTH_USER_MAX],
        p2[WWW_AUTH_PASS_MAX], plain[WWW_AUTH_USER_MAX + WWW_AUTH_PASS_MAX + 1],
        again[6 + 2 * sizeof(plain)];
    size_t ul, pl;

    if (www_auth_parse_basic((const char *)data, size, user, pass) != 0)
        return 0;
    ul = strnlen(user, sizeof(user));
    pl = strnlen(pass, sizeof(pass));
    CHECK(ul > 0 && ul < sizeof(user) && pl < sizeof(pass));
    CHECK(strchr(user, ':') == NULL);
    for (size_t i = 0; i < ul; i++)
        CHECK((unsigned char)user[i] >= 0x20 && user[i] != 0x7f);
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, pass, pl);
    memcpy(again, "Basic ", 6);
    sodium_bin2base64(again + 6, sizeof(again) - 6, (const unsigned char *)plain, ul + 1 + pl,
                      sodium_base64_VARIANT_ORIGINAL);
    CHECK(www_auth_parse_basic(again, strlen(again), u2, p2) == 0);
    CHECK(strcmp(u2, user) == 0 && strcmp(p2, pass) == 0);
    return 0;
}
