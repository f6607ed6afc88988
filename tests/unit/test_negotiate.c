/* Unit tests for www/negotiate: Accept-Encoding weights and the choice of a coding. */
#include <criterion/criterion.h>

#include <string.h>

#include "www/negotiate.h"

#define ALL (CODING_BIT(CODING_GZIP) | CODING_BIT(CODING_BR))

static struct accept_codings parse(const char *s)
{
    struct accept_codings a;

    memset(&a, 0xee, sizeof(a));
    negotiate_accept_encoding(s, strlen(s), &a);
    return a;
}

static void expect_q(const char *s, int identity, int gzip, int br)
{
    struct accept_codings a = parse(s);

    cr_expect_eq(a.q[CODING_IDENTITY], identity, "%s: identity %d", s, a.q[CODING_IDENTITY]);
    cr_expect_eq(a.q[CODING_GZIP], gzip, "%s: gzip %d", s, a.q[CODING_GZIP]);
    cr_expect_eq(a.q[CODING_BR], br, "%s: br %d", s, a.q[CODING_BR]);
}

static enum coding choose(const char *s, unsigned available)
{
    struct accept_codings a = parse(s);

    return negotiate_choose(&a, available);
}

Test(negotiate, plain_lists)
{
    expect_q("gzip", 1000, 1000, 0);
    expect_q("gzip, deflate, br", 1000, 1000, 1000);
    expect_q("br", 1000, 0, 1000);
    expect_q("deflate", 1000, 0, 0);
    expect_q("GZIP, Br", 1000, 1000, 1000);
    expect_q("x-gzip", 1000, 1000, 0);
}

Test(negotiate, empty_value_means_identity_only)
{
    expect_q("", 1000, 0, 0);
    expect_q("  ,  , ", 1000, 0, 0);
}

Test(negotiate, qvalues)
{
    expect_q("gzip;q=0.5", 1000, 500, 0);
    expect_q("gzip; q=0.001, br ;Q=1", 1000, 1, 1000);
    expect_q("gzip;q=1.000", 1000, 1000, 0);
    expect_q("gzip;q=0.", 1000, 0, 0);
    expect_q("gzip;q=0", 1000, 0, 0);
    expect_q("gzip;q=0.000", 1000, 0, 0);
    expect_q("br;q=0.25, gzip;q=0.75", 1000, 750, 250);
}

Test(negotiate, malformed_weights_drop_the_element)
{
    expect_q("gzip;q=1.5", 1000, 0, 0);
    expect_q("gzip;q=1.001", 1000, 0, 0);
    expect_q("gzip;q=0.1234", 1000, 0, 0);
    expect_q("gzip;q=", 1000, 0, 0);
    expect_q("gzip;q=.5", 1000, 0, 0);
    expect_q("gzip;q=-1", 1000, 0, 0);
    expect_q("gzip;q=0.5 junk, br", 1000, 0, 1000);
    expect_q("gzip;=1, br", 1000, 0, 1000);
    expect_q("gz ip, br", 1000, 0, 1000);
    expect_q("\"gzip\", br", 1000, 0, 1000);
    /* Another parameter is passed over; the weight still counts. */
    expect_q("gzip;level=9;q=0.5", 1000, 500, 0);
}

Test(negotiate, star_and_identity)
{
    expect_q("*", 1000, 1000, 1000);
    expect_q("*;q=0", 0, 0, 0);
    expect_q("*;q=0, identity", 1000, 0, 0);
    expect_q("*;q=0, gzip", 0, 1000, 0);
    expect_q("identity;q=0", 0, 0, 0);
    expect_q("gzip, identity;q=0", 0, 1000, 0);
    expect_q("br;q=0.9, *;q=0.1", 100, 100, 900);
}

Test(negotiate, first_entry_of_a_coding_counts)
{
    expect_q("gzip;q=0, gzip", 1000, 0, 0);
    expect_q("gzip, gzip;q=0", 1000, 1000, 0);
}

Test(negotiate, choice_follows_the_weights)
{
    cr_expect_eq(choose("gzip", ALL), CODING_GZIP);
    cr_expect_eq(choose("gzip;q=0", ALL), CODING_IDENTITY);
    cr_expect_eq(choose("gzip;q=0.5", ALL), CODING_IDENTITY, "identity keeps q=1");
    cr_expect_eq(choose("gzip;q=0.5, identity;q=0.1", ALL), CODING_GZIP);
    cr_expect_eq(choose("br;q=0.1, gzip", ALL), CODING_GZIP);
    cr_expect_eq(choose("deflate", ALL), CODING_IDENTITY);
}

Test(negotiate, ties_prefer_br_then_gzip)
{
    cr_expect_eq(choose("gzip, deflate, br", ALL), CODING_BR);
    cr_expect_eq(choose("gzip, br", CODING_BIT(CODING_GZIP)), CODING_GZIP);
    cr_expect_eq(choose("*", ALL), CODING_BR);
    cr_expect_eq(choose("*", 0), CODING_IDENTITY);
}

Test(negotiate, unavailable_or_refused_falls_back_to_identity)
{
    cr_expect_eq(choose("br", CODING_BIT(CODING_GZIP)), CODING_IDENTITY);
    cr_expect_eq(choose("identity;q=0", ALL), CODING_IDENTITY, "nothing acceptable");
    cr_expect_eq(choose("*;q=0", ALL), CODING_IDENTITY);
    cr_expect_eq(choose("gzip, identity;q=0", ALL), CODING_GZIP);
}

Test(negotiate, names)
{
    cr_expect_str_eq(negotiate_coding_name(CODING_GZIP), "gzip");
    cr_expect_str_eq(negotiate_coding_name(CODING_BR), "br");
    cr_expect_str_eq(negotiate_coding_name(CODING_IDENTITY), "identity");
}
