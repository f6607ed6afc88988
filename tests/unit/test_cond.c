#include <criterion/criterion.h>

#include <string.h>

#include "www/cond.h"

/* Sun, 06 Nov 1994 08:49:37 GMT */
#define T0 ((time_t)784111777)

static const char ETAG[] = "\"abc-1\"";

static struct www_req req;

static struct http_str hs(const char *s)
{
    struct http_str r = {s, s ? strlen(s) : 0};
    return r;
}

static void reset(void)
{
    memset(&req, 0, sizeof(req));
    req.method = HTTP_M_GET;
}

static int eval(time_t mtime)
{
    return cond_evaluate(&req, ETAG, strlen(ETAG), mtime);
}

TestSuite(cond, .init = reset);

Test(cond, make_etag_format)
{
    char buf[ETAG_MAX];
    size_t n = cond_make_etag(buf, sizeof(buf), 0x1234, 0x5f5e100, 0xabc);

    cr_expect_str_eq(buf, "\"5f5e100-abc-1234\"");
    cr_expect_eq(n, strlen(buf));
}

Test(cond, make_etag_fits_etag_max)
{
    char buf[ETAG_MAX];
    size_t n = cond_make_etag(buf, sizeof(buf), UINT64_MAX, INT64_MIN, 999999999L);

    cr_assert_gt(n, 0);
    cr_expect_lt(n, ETAG_MAX);
    cr_expect_str_eq(buf, "\"8000000000000000-3b9ac9ff-ffffffffffffffff\"");
}

Test(cond, make_etag_differs_by_nsec_and_size)
{
    char a[ETAG_MAX], b[ETAG_MAX], c[ETAG_MAX];

    cond_make_etag(a, sizeof(a), 10, 100, 1);
    cond_make_etag(b, sizeof(b), 10, 100, 2);
    cond_make_etag(c, sizeof(c), 11, 100, 1);
    cr_expect_str_neq(a, b);
    cr_expect_str_neq(a, c);
}

Test(cond, make_etag_cap_too_small)
{
    char buf[8];
    cr_expect_eq(cond_make_etag(buf, sizeof(buf), 1, 1, 1), 7); /* "1-1-1" quoted */
    cr_expect_eq(cond_make_etag(buf, 7, 1, 1, 1), 0);
}

Test(cond, no_preconditions)
{
    cr_expect_eq(eval(T0), 0);
}

Test(cond, if_match_star)
{
    req.if_match = hs("*");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, if_match_strong_hit_and_miss)
{
    req.if_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0), 0);
    req.if_match = hs("\"abc-2\"");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_list)
{
    req.if_match = hs("\"x\", \"abc-1\" ,\"y\"");
    cr_expect_eq(eval(T0), 0);
    req.if_match = hs(" , \"x\",,\"y\" ");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_weak_never_matches)
{
    req.if_match = hs("W/\"abc-1\"");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_malformed_fails)
{
    req.if_match = hs("abc-1");
    cr_expect_eq(eval(T0), 412);
    req.if_match = hs("\"abc-1\" junk");
    cr_expect_eq(eval(T0), 412);
    req.if_match = hs("\"abc-1");
    cr_expect_eq(eval(T0), 412);
    req.if_match = hs("*, \"abc-1\"");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_malformed_tail_poisons_list)
{
    req.if_match = hs("\"abc-1\", bogus");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_unmodified_since)
{
    req.if_unmodified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    cr_expect_eq(eval(T0), 0);
    cr_expect_eq(eval(T0 - 1), 0);
    cr_expect_eq(eval(T0 + 1), 412);
}

Test(cond, if_unmodified_since_invalid_ignored)
{
    req.if_unmodified_since = hs("yesterday");
    cr_expect_eq(eval(T0 + 100000), 0);
    req.if_unmodified_since = hs("Sun, 06 Nov 1994 08:49:37 UTC");
    cr_expect_eq(eval(T0 + 100000), 0);
}

Test(cond, if_match_takes_precedence_over_ius)
{
    req.if_match = hs("\"abc-1\"");
    req.if_unmodified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    /* IUS would fail, but it is only evaluated when If-Match is absent. */
    cr_expect_eq(eval(T0 + 100), 0);
}

Test(cond, if_none_match_hit_is_304)
{
    req.if_none_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0), 304);
    req.method = HTTP_M_HEAD;
    cr_expect_eq(eval(T0), 304);
}

Test(cond, if_none_match_miss_proceeds)
{
    req.if_none_match = hs("\"other\"");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, if_none_match_weak_comparison)
{
    req.if_none_match = hs("W/\"abc-1\"");
    cr_expect_eq(eval(T0), 304);
    req.if_none_match = hs("\"zz\", W/\"abc-1\"");
    cr_expect_eq(eval(T0), 304);
    req.if_none_match = hs("W/\"abc-2\"");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, if_none_match_star)
{
    req.if_none_match = hs("*");
    cr_expect_eq(eval(T0), 304);
}

Test(cond, if_none_match_malformed_proceeds)
{
    req.if_none_match = hs("abc-1");
    cr_expect_eq(eval(T0), 0);
    req.if_none_match = hs("\"abc-1\" \"x\"");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, if_none_match_other_method_is_412)
{
    req.method = HTTP_M_POST;
    req.if_none_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_fail_beats_if_none_match)
{
    req.if_match = hs("\"nope\"");
    req.if_none_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0), 412);
}

Test(cond, if_match_pass_then_if_none_match)
{
    req.if_match = hs("\"abc-1\"");
    req.if_none_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0), 304);
}

Test(cond, ims_imf_fixdate)
{
    req.if_modified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    cr_expect_eq(eval(T0), 304);
    cr_expect_eq(eval(T0 - 3600), 304);
    cr_expect_eq(eval(T0 + 1), 0);
}

Test(cond, ims_rfc850)
{
    req.if_modified_since = hs("Sunday, 06-Nov-94 08:49:37 GMT");
    cr_expect_eq(eval(T0), 304);
    cr_expect_eq(eval(T0 + 1), 0);
}

Test(cond, ims_asctime)
{
    req.if_modified_since = hs("Sun Nov  6 08:49:37 1994");
    cr_expect_eq(eval(T0), 304);
    cr_expect_eq(eval(T0 + 1), 0);
}

Test(cond, ims_invalid_ignored)
{
    req.if_modified_since = hs("Sun, 06 Nov 1994 08:49:37");
    cr_expect_eq(eval(T0), 0);
    req.if_modified_since = hs("-1");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, ims_future_date_still_compared)
{
    req.if_modified_since = hs("Fri, 01 Jan 2100 00:00:00 GMT");
    cr_expect_eq(eval(T0), 304);
}

Test(cond, ims_ignored_when_inm_present)
{
    req.if_none_match = hs("\"other\"");
    req.if_modified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, ims_ignored_for_other_methods)
{
    req.method = HTTP_M_POST;
    req.if_modified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, ius_fail_beats_inm)
{
    req.if_unmodified_since = hs("Sun, 06 Nov 1994 08:49:37 GMT");
    req.if_none_match = hs("\"abc-1\"");
    cr_expect_eq(eval(T0 + 1), 412);
}

Test(cond, empty_values_are_absent)
{
    req.if_match = hs("");
    req.if_none_match = hs("  ");
    cr_expect_eq(eval(T0), 0);
}

Test(cond, etagc_obs_text_and_bang)
{
    static const char weird[] = "\"!\xc3\xa9#~\"";

    req.if_match = hs("\"a\", \"!\xc3\xa9#~\"");
    cr_expect_eq(cond_evaluate(&req, weird, strlen(weird), T0), 0);
    req.if_match = hs("\"a b\"");
    cr_expect_eq(cond_evaluate(&req, "\"a b\"", 5, T0), 412); /* SP is not etagc */
}

Test(cond, if_range_etag)
{
    cr_expect(cond_if_range(hs("\"abc-1\""), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs("\"abc-2\""), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs("W/\"abc-1\""), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs("\"abc-1\", \"x\""), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs("\"abc-1"), ETAG, strlen(ETAG), T0));
}

Test(cond, if_range_weak_own_etag_never_matches)
{
    static const char weak[] = "W/\"abc-1\"";
    cr_expect_not(cond_if_range(hs("W/\"abc-1\""), weak, strlen(weak), T0));
    cr_expect_not(cond_if_range(hs("\"abc-1\""), weak, strlen(weak), T0));
}

Test(cond, if_range_date)
{
    cr_expect(cond_if_range(hs("Sun, 06 Nov 1994 08:49:37 GMT"), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs("Sun, 06 Nov 1994 08:49:37 GMT"), ETAG, strlen(ETAG), T0 + 1));
    cr_expect_not(cond_if_range(hs("Sun, 06 Nov 1994 08:49:37 GMT"), ETAG, strlen(ETAG), T0 - 1));
    cr_expect(cond_if_range(hs("Sun Nov  6 08:49:37 1994"), ETAG, strlen(ETAG), T0));
}

Test(cond, if_range_invalid)
{
    cr_expect_not(cond_if_range(hs("garbage"), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs(""), ETAG, strlen(ETAG), T0));
    cr_expect_not(cond_if_range(hs(NULL), ETAG, strlen(ETAG), T0));
}
