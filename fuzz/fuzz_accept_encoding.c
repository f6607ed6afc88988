/*
 * libFuzzer driver for negotiate_accept_encoding and negotiate_choose. Input:
 * an Accept-Encoding value. Aborts when a result breaks the contract: weights
 * within 0..1000; the same value parsed twice, or with an empty list element
 * added at either end, gives the same weights; the coding chosen is available
 * (identity always is) and no available coding weighs more than it, and a
 * coding weighing 0 is chosen only as identity's fallback.
 */
#include <stdlib.h>
#include <string.h>

#include "www/negotiate.h"
#include "fuzz.h"

static void check_choice(const struct accept_codings *a, unsigned available)
{
    enum coding c = negotiate_choose(a, available);

    CHECK(c == CODING_IDENTITY || (available & CODING_BIT(c)));
    for (int k = 0; k < CODINGS; k++)
        if (k == CODING_IDENTITY || (available & CODING_BIT(k)))
            CHECK(a->q[k] <= a->q[c] || (c == CODING_IDENTITY && a->q[c] == 0 && a->q[k] == 0));
    CHECK(a->q[c] > 0 || c == CODING_IDENTITY);
}

static void check_same(const char *s, size_t n, const struct accept_codings *want)
{
    struct accept_codings b;

    memset(&b, 0x77, sizeof(b));
    negotiate_accept_encoding(s, n, &b);
    CHECK(memcmp(&b, want, sizeof(b)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct accept_codings a;
    char *s = malloc(len + 1), *padded = malloc(len + 4); /* exact sizes: ASan sees overreads */

    memcpy(s, data, len);
    memset(&a, 0x55, sizeof(a));
    negotiate_accept_encoding(s, len, &a);
    for (int k = 0; k < CODINGS; k++)
        CHECK(a.q[k] <= QVALUE_MAX);
    check_same(s, len, &a);
    /* An empty element before or after changes nothing (RFC 9110 5.6.1). */
    memcpy(padded, ", ", 2);
    memcpy(padded + 2, s, len);
    check_same(padded, len + 2, &a);
    memcpy(padded, s, len);
    memcpy(padded + len, " ,", 2);
    check_same(padded, len + 2, &a);
    for (unsigned avail = 0; avail < (1u << CODINGS); avail++)
        check_choice(&a, avail);
    free(padded);
    free(s);
    return 0;
}
