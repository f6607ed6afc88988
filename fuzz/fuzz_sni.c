/*
 * libFuzzer driver for tls_sni_parse, the server_name extension parser that
 * chooses a TLS site, and binding_site_for_host, which matches the name.
 * Input: the extension body. Aborts when a result breaks the contract: the
 * name lies inside the input, is 1 to 255 bytes without NUL, is the first
 * host_name entry of a well-formed list, and matching it is case-blind.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/gen.h"
#include "runtime/tls.h"
#include "fuzz.h"

/* A slow restatement of RFC 6066 3: the list length covers the rest, every
 * entry fits, the first entry of type 0 is the name. */
static bool reference(const uint8_t *p, size_t len, size_t *at, size_t *n)
{
    size_t i = 2;

    if (len < 2 || (size_t)(p[0] << 8 | p[1]) != len - 2)
        return false;
    while (len - i >= 3) {
        size_t l = (size_t)(p[i + 1] << 8 | p[i + 2]);
        if (l > len - i - 3)
            return false;
        if (p[i] == 0) {
            *at = i + 3;
            *n = l;
            return l > 0 && l <= 255 && memchr(p + i + 3, 0, l) == NULL;
        }
        i += 3 + l;
    }
    return false;
}

static void check_match(const char *name, size_t nlen)
{
    static char host[] = "a.test";
    char *names[] = {host};
    struct site a = {.name = host, .host_names = names, .nhost_names = 1};
    struct site dflt = {.name = host};
    struct site *sites[] = {&a, &dflt};
    struct binding b = {.sites = sites, .nsites = 2, .default_site = &dflt};
    const struct site *got = binding_site_for_host(&b, name, nlen);
    size_t n = nlen > 0 && name[nlen - 1] == '.' ? nlen - 1 : nlen;
    bool same = n == 6;

    for (size_t i = 0; same && i < n; i++)
        same = tolower((unsigned char)name[i]) == host[i];
    CHECK(got == (same ? &a : &dflt));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name = NULL;
    size_t nlen = 0, at = 0, n = 0;
    int rc = tls_sni_parse(data, size, &name, &nlen);
    bool ok = reference(data, size, &at, &n);

    CHECK((rc == 0) == ok);
    if (rc != 0)
        return 0;
    CHECK((const uint8_t *)name == data + at && nlen == n);
    CHECK(nlen >= 1 && nlen <= 255 && memchr(name, 0, nlen) == NULL);
    check_match(name, nlen);
    return 0;
}
