/* Unit tests for the response-head half of src/www/h2.c: header lines as
 * the handlers write them become HTTP/2 fields (lower-cased, trimmed, the
 * connection-specific ones dropped, bounded). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "www/h2.h"

static struct h2_fields fs;

static void reset(void)
{
    buf_free(&fs.b);
    memset(&fs, 0, sizeof(fs));
}

static void expect_field(unsigned i, const char *name, const char *value)
{
    cr_assert_lt(i, fs.n, "field %u of %u", i, fs.n);
    cr_expect_eq(fs.f[i].nlen, strlen(name), "name length of field %u", i);
    cr_expect(memcmp(fs.b.data + fs.f[i].name, name, fs.f[i].nlen) == 0, "name of field %u: %.*s",
              i, (int)fs.f[i].nlen, fs.b.data + fs.f[i].name);
    cr_expect_eq(fs.f[i].vlen, strlen(value), "value length of field %u", i);
    cr_expect(memcmp(fs.b.data + fs.f[i].value, value, fs.f[i].vlen) == 0,
              "value of field %u: %.*s", i, (int)fs.f[i].vlen, fs.b.data + fs.f[i].value);
}

static bool add(const char *lines)
{
    return h2_fields_add_lines(&fs, lines, strlen(lines));
}

Test(h2_fields, one_line_lower_cased, .init = reset, .fini = reset)
{
    cr_assert(add("Content-Type: text/html; charset=utf-8\r\n"));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "content-type", "text/html; charset=utf-8");
}

Test(h2_fields, several_lines_in_one_block, .init = reset, .fini = reset)
{
    cr_assert(add("Content-Type: text/plain\r\nContent-Length: 16\r\nLast-Modified: Mon, 01 Jun "
                  "2020 12:00:00 GMT\r\nETag: \"x\"\r\nAccept-Ranges: bytes\r\n"));
    cr_assert_eq(fs.n, 5);
    expect_field(0, "content-type", "text/plain");
    expect_field(1, "content-length", "16");
    expect_field(2, "last-modified", "Mon, 01 Jun 2020 12:00:00 GMT");
    expect_field(3, "etag", "\"x\"");
    expect_field(4, "accept-ranges", "bytes");
}

Test(h2_fields, whitespace_around_values_and_bare_lf, .init = reset, .fini = reset)
{
    cr_assert(add("X-A:   spaced \t\r\nX-B:tight\nX-C: last without a line end"));
    cr_assert_eq(fs.n, 3);
    expect_field(0, "x-a", "spaced");
    expect_field(1, "x-b", "tight");
    expect_field(2, "x-c", "last without a line end");
}

Test(h2_fields, empty_value_kept, .init = reset, .fini = reset)
{
    cr_assert(add("X-Empty:\r\n"));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "x-empty", "");
}

Test(h2_fields, connection_specific_fields_dropped, .init = reset, .fini = reset)
{
    cr_assert(add("Connection: close\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n"
                  "Upgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n"));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "x-kept", "yes");
    /* Not a prefix match: these are ordinary fields. */
    cr_assert(add("Connection-Id: 7\r\nUpgraded: no\r\n"));
    cr_assert_eq(fs.n, 3);
    expect_field(1, "connection-id", "7");
    expect_field(2, "upgraded", "no");
}

Test(h2_fields, lines_without_a_name_are_skipped, .init = reset, .fini = reset)
{
    cr_assert(add("no colon here\r\n: no name\r\n\r\nX-Real: 1\r\n"));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "x-real", "1");
}

Test(h2_fields, bounded, .init = reset, .fini = reset)
{
    char line[32];
    int n;

    for (unsigned i = 0; i < H2_FIELDS_MAX; i++) {
        n = snprintf(line, sizeof(line), "X-N%u: %u\r\n", i, i);
        cr_assert(h2_fields_add_lines(&fs, line, (size_t)n), "field %u", i);
    }
    cr_assert_eq(fs.n, H2_FIELDS_MAX);
    cr_expect_not(add("X-One-Too-Many: 1\r\n"));
    cr_assert_eq(fs.n, H2_FIELDS_MAX);
    expect_field(H2_FIELDS_MAX - 1, "x-n63", "63");
}

Test(h2_fields, direct_add_lower_cases_and_filters, .init = reset, .fini = reset)
{
    cr_assert(h2_fields_add(&fs, "Server", 6, "infosrv/x", 9));
    cr_assert(h2_fields_add(&fs, "TRANSFER-ENCODING", 17, "chunked", 7));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "server", "infosrv/x");
}

Test(h2_fields, invalid_fields_are_dropped, .init = reset, .fini = reset)
{
    cr_assert(add("X-Bad: a\rb\r\nBad Name: v\r\nX-Ok: fine\r\nX(Paren): v\r\n"));
    cr_assert_eq(fs.n, 1);
    expect_field(0, "x-ok", "fine");
    cr_assert(h2_fields_add(&fs, "x-nul", 5, "a\0b", 3));
    cr_assert(h2_fields_add(&fs, "", 0, "v", 1));
    cr_assert_eq(fs.n, 1);
}
