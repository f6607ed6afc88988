#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "www/range.h"

#define MAXR 8

static struct byte_range rr[MAXR];
static size_t rn;

static enum range_result parse_max(const char *s, uint64_t size, size_t max)
{
    rn = 12345;
    memset(rr, 0xaa, sizeof(rr));
    return range_parse(s, strlen(s), size, rr, max, &rn);
}

static enum range_result parse(const char *s, uint64_t size)
{
    return parse_max(s, size, MAXR);
}

static void expect_ok1(const char *s, uint64_t size, uint64_t first, uint64_t last)
{
    cr_assert_eq(parse(s, size), RANGE_OK, "%s", s);
    cr_assert_eq(rn, 1, "%s: count %zu", s, rn);
    cr_expect_eq(rr[0].first, first, "%s: first %llu", s, (unsigned long long)rr[0].first);
    cr_expect_eq(rr[0].last, last, "%s: last %llu", s, (unsigned long long)rr[0].last);
}

static void expect_result(const char *s, uint64_t size, enum range_result want)
{
    cr_expect_eq(parse(s, size), want, "%s", s);
    if (want != RANGE_OK)
        cr_expect_eq(rn, 0, "%s: count must be 0 unless OK", s);
}

Test(range, simple_first_last)
{
    expect_ok1("bytes=0-499", 10000, 0, 499);
    expect_ok1("bytes=500-999", 10000, 500, 999);
}

Test(range, single_byte)
{
    expect_ok1("bytes=0-0", 1, 0, 0);
    expect_ok1("bytes=9999-9999", 10000, 9999, 9999);
}

Test(range, open_ended)
{
    expect_ok1("bytes=9500-", 10000, 9500, 9999);
    expect_ok1("bytes=0-", 10000, 0, 9999);
}

Test(range, suffix)
{
    expect_ok1("bytes=-500", 10000, 9500, 9999);
    expect_ok1("bytes=-1", 10000, 9999, 9999);
}

Test(range, suffix_longer_than_size_is_whole)
{
    expect_ok1("bytes=-20000", 10000, 0, 9999);
    expect_ok1("bytes=-10000", 10000, 0, 9999);
}

Test(range, suffix_zero_unsatisfiable)
{
    expect_result("bytes=-0", 10000, RANGE_UNSATISFIABLE);
}

Test(range, last_clamped)
{
    expect_ok1("bytes=100-99999999", 1000, 100, 999);
    expect_ok1("bytes=0-18446744073709551615", 10, 0, 9);
}

Test(range, unit_case_insensitive)
{
    expect_ok1("BYTES=1-2", 10, 1, 2);
    expect_ok1("Bytes=1-2", 10, 1, 2);
}

Test(range, ows_and_empty_elements)
{
    cr_assert_eq(parse("bytes=0-1 ,\t5-6, ,,  9-9 ", 100), RANGE_OK);
    cr_assert_eq(rn, 3);
    cr_expect_eq(rr[1].first, 5);
    cr_expect_eq(rr[2].last, 9);
    expect_ok1("bytes=,0-1", 100, 0, 1);
    expect_ok1("bytes=0-1,", 100, 0, 1);
}

Test(range, multiple_disjoint_kept_in_order)
{
    cr_assert_eq(parse("bytes=0-499, 600-999, -100", 10000), RANGE_OK);
    cr_assert_eq(rn, 3);
    cr_expect_eq(rr[0].first, 0);
    cr_expect_eq(rr[0].last, 499);
    cr_expect_eq(rr[1].first, 600);
    cr_expect_eq(rr[1].last, 999);
    cr_expect_eq(rr[2].first, 9900);
    cr_expect_eq(rr[2].last, 9999);
}

Test(range, unsorted_input_sorted)
{
    cr_assert_eq(parse("bytes=90-99,0-9,50-59", 100), RANGE_OK);
    cr_assert_eq(rn, 3);
    cr_expect_eq(rr[0].first, 0);
    cr_expect_eq(rr[1].first, 50);
    cr_expect_eq(rr[2].first, 90);
}

Test(range, overlap_merged)
{
    expect_ok1("bytes=0-500,200-999", 10000, 0, 999);
    expect_ok1("bytes=200-300,0-1000", 10000, 0, 1000);
}

Test(range, adjacent_merged)
{
    expect_ok1("bytes=0-499,500-999", 10000, 0, 999);
    expect_ok1("bytes=500-999,0-499", 10000, 0, 999);
}

Test(range, nearly_adjacent_not_merged)
{
    cr_assert_eq(parse("bytes=0-498,500-999", 10000), RANGE_OK);
    cr_expect_eq(rn, 2);
}

Test(range, suffix_merges_with_open_ended)
{
    expect_ok1("bytes=9000-,-500", 10000, 9000, 9999);
    expect_ok1("bytes=-500,0-", 10000, 0, 9999);
}

Test(range, chain_merge)
{
    expect_ok1("bytes=0-9,10-19,20-29,5-25,30-30", 100, 0, 30);
}

Test(range, reversed_is_invalid)
{
    expect_result("bytes=500-499", 10000, RANGE_NONE);
    /* One bad element spoils the whole header. */
    expect_result("bytes=0-10,500-499", 10000, RANGE_NONE);
}

Test(range, invalid_syntax_is_none)
{
    static const char *bad[] = {
        "bytes=",        "bytes=,",    "bytes=,,  ,",   "bytes=abc",  "bytes=1",
        "bytes=-",       "bytes=--5",  "bytes=1-2-3",   "bytes=1 -2", "bytes=1- 2",
        "bytes=0x1-2",   "bytes=+1-2", "bytes=1-2;3-4", "bytes 0-1",  "bytes =0-1",
        "bytes= 0-1x",   "byte=0-1",   "items=0-1",     "",           "=0-1",
        "bytes=1-2 3-4", "bytes=-1-2", "bytes=1.5-2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_result(bad[i], 1000, RANGE_NONE);
}

Test(range, ows_after_unit_equals_is_allowed_for_list)
{
    /* "bytes= 0-1": OWS before the first element is list OWS. */
    expect_ok1("bytes= 0-1", 10, 0, 1);
}

Test(range, overflow_is_none)
{
    expect_result("bytes=18446744073709551616-", 10, RANGE_NONE);
    expect_result("bytes=0-18446744073709551616", 10, RANGE_NONE);
    expect_result("bytes=-99999999999999999999", 10, RANGE_NONE);
}

Test(range, first_beyond_size_dropped)
{
    expect_ok1("bytes=2000-3000,0-9", 1000, 0, 9);
    expect_result("bytes=1000-", 1000, RANGE_UNSATISFIABLE);
    expect_result("bytes=1000-2000,5000-", 1000, RANGE_UNSATISFIABLE);
}

Test(range, size_zero_unsatisfiable)
{
    expect_result("bytes=0-", 0, RANGE_UNSATISFIABLE);
    expect_result("bytes=-5", 0, RANGE_UNSATISFIABLE);
    expect_result("bytes=0-0", 0, RANGE_UNSATISFIABLE);
}

Test(range, huge_size)
{
    expect_ok1("bytes=-1", UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 1);
    expect_ok1("bytes=18446744073709551614-", UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 1);
}

Test(range, too_many_after_coalescing)
{
    cr_expect_eq(parse_max("bytes=0-0,2-2,4-4", 100, 2), RANGE_TOO_MANY);
    cr_expect_eq(rn, 0);
    /* The same count is fine once merging brings it under max. */
    cr_expect_eq(parse_max("bytes=0-0,1-1,4-4", 100, 2), RANGE_OK);
    cr_expect_eq(rn, 2);
}

Test(range, max_exactly_reached)
{
    cr_expect_eq(parse_max("bytes=0-0,2-2,4-4", 100, 3), RANGE_OK);
    cr_expect_eq(rn, 3);
}

Test(range, too_many_elements_bounded)
{
    char s[4096];
    size_t n = 0;

    /* 2*max+50 = 54 elements pass the bound; 55 do not, even though all merge. */
    n += (size_t)snprintf(s + n, sizeof(s) - n, "bytes=0-0");
    for (int i = 1; i < 54; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, ",0-0");
    cr_expect_eq(parse_max(s, 100, 2), RANGE_OK);
    cr_expect_eq(rn, 1);
    n += (size_t)snprintf(s + n, sizeof(s) - n, ",0-0");
    cr_expect_eq(parse_max(s, 100, 2), RANGE_TOO_MANY);
}

Test(range, raw_array_bound_with_large_max)
{
    char *s = malloc(8192);
    size_t n = 0;

    n += (size_t)snprintf(s + n, 8192 - n, "bytes=1-1");
    for (int i = 1; i < 256; i++)
        n += (size_t)snprintf(s + n, 8192 - n, ",1-1");
    cr_expect_eq(parse_max(s, 100, 100000), RANGE_OK);
    n += (size_t)snprintf(s + n, 8192 - n, ",1-1");
    cr_expect_eq(parse_max(s, 100, 100000), RANGE_TOO_MANY);
    free(s);
}

Test(range, syntax_error_beats_too_many)
{
    char s[4096];
    size_t n = 0;

    n += (size_t)snprintf(s + n, sizeof(s) - n, "bytes=0-0");
    for (int i = 1; i < 100; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, ",0-0");
    snprintf(s + n, sizeof(s) - n, ",x");
    cr_expect_eq(parse_max(s, 100, 2), RANGE_NONE);
}

Test(range, not_nul_terminated)
{
    const char buf[] = "bytes=0-4999999";
    size_t count = 0;
    struct byte_range out[2];

    /* Only the first 9 bytes ("bytes=0-4") are the header. */
    cr_assert_eq(range_parse(buf, 9, 100, out, 2, &count), RANGE_OK);
    cr_expect_eq(out[0].last, 4);
}

Test(range, null_header_is_none)
{
    size_t count = 7;
    cr_expect_eq(range_parse(NULL, 0, 100, rr, MAXR, &count), RANGE_NONE);
    cr_expect_eq(count, 0);
}

Test(range, boundary_format)
{
    char a[21], b[21], c[21];

    memset(a, 'X', sizeof(a));
    range_boundary(1, a);
    range_boundary(2, b);
    range_boundary(1, c);
    cr_expect_eq(strlen(a), 20);
    for (int i = 0; i < 20; i++)
        cr_expect((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'), "%s", a);
    cr_expect_str_neq(a, b);
    cr_expect_str_eq(a, c);
}

Test(range, part_header_exact_bytes)
{
    struct byte_range r = {10, 19};
    char buf[256];
    size_t n;

    n = range_part_header(buf, sizeof(buf), "B0UND", "text/plain", &r, 100, 1);
    cr_assert_eq(n, strlen("--B0UND\r\nContent-Type: text/plain\r\n"
                           "Content-Range: bytes 10-19/100\r\n\r\n"));
    cr_expect_str_eq(buf, "--B0UND\r\nContent-Type: text/plain\r\n"
                          "Content-Range: bytes 10-19/100\r\n\r\n");
    n = range_part_header(buf, sizeof(buf), "B0UND", "text/plain", &r, 100, 0);
    cr_expect_str_eq(buf, "\r\n--B0UND\r\nContent-Type: text/plain\r\n"
                          "Content-Range: bytes 10-19/100\r\n\r\n");
    cr_expect_eq(n, strlen(buf));
}

Test(range, part_header_cap_too_small)
{
    struct byte_range r = {0, 0};
    char buf[64];
    size_t full = range_part_header(buf, sizeof(buf), "b", "t/x", &r, 1, 1);

    cr_assert_gt(full, 0);
    cr_expect_eq(range_part_header(buf, full, "b", "t/x", &r, 1, 1), 0);
    cr_expect_eq(range_part_header(buf, full + 1, "b", "t/x", &r, 1, 1), full);
    cr_expect_eq(range_part_trailer(buf, 8, "bnd"), 0);
}

Test(range, trailer_exact_bytes)
{
    char buf[64];

    cr_expect_eq(range_part_trailer(buf, sizeof(buf), "abc"), 11);
    cr_expect_str_eq(buf, "\r\n--abc--\r\n");
}

/* Build the whole multipart body the way the server would and compare sizes. */
Test(range, multipart_length_equals_built_body)
{
    char data[1000], boundary[21], hdr[256], *body;
    size_t blen = 0, n;
    uint64_t want;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(parse("bytes=-5,0-0,100-199,900-", sizeof(data)), RANGE_OK);
    cr_assert_eq(rn, 3);
    range_boundary(0x1234, boundary);
    want = range_multipart_length(boundary, "text/html", rr, rn, sizeof(data));
    body = malloc(4096);
    for (size_t i = 0; i < rn; i++) {
        n = range_part_header(hdr, sizeof(hdr), boundary, "text/html", &rr[i], sizeof(data),
                              i == 0);
        cr_assert_gt(n, 0);
        memcpy(body + blen, hdr, n);
        blen += n;
        memcpy(body + blen, data + rr[i].first, rr[i].last - rr[i].first + 1);
        blen += rr[i].last - rr[i].first + 1;
    }
    n = range_part_trailer(hdr, sizeof(hdr), boundary);
    memcpy(body + blen, hdr, n);
    blen += n;
    cr_expect_eq(want, blen, "length %llu, body %zu", (unsigned long long)want, blen);
    cr_expect_eq(memcmp(body, "--", 2), 0);
    cr_expect_eq(memcmp(body + blen - 4, "--\r\n", 4), 0);
    free(body);
}

Test(range, multipart_length_hand_counted)
{
    struct byte_range r[2] = {{0, 1}, {5, 9}};
    /* "--b\r\n" 5 + "Content-Type: t\r\n" 17 + "Content-Range: bytes 0-1/10\r\n" 29
     * + "\r\n" 2 = 53, data 2; second part +2 leading CRLF = 55, data 5;
     * trailer "\r\n--b--\r\n" 9. */
    cr_expect_eq(range_multipart_length("b", "t", r, 2, 10), 53 + 2 + 55 + 5 + 9);
}
