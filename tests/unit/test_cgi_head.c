/* cgi_head_parse: a CGI program's header section (RFC 3875 6.2-6.3), strictly. */
#include <criterion/criterion.h>
#include <string.h>

#include "www/cgi_head.h"

static enum cgi_head_result parse(const char *s, struct cgi_head *h, const char **why)
{
    return cgi_head_parse(s, strlen(s), h, why);
}

static bool eq(struct http_str s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

Test(cgi_head, document_response)
{
    struct cgi_head h;
    const char *why = NULL, *in = "Content-Type: text/html\nX-A:  b \n\nbody";

    cr_assert_eq(parse(in, &h, &why), CGI_HEAD_DONE);
    cr_assert_eq(h.status, 200);
    cr_assert(eq(h.type, "text/html"));
    cr_assert_eq(h.nfields, 1);
    cr_assert(eq(h.fields[0].name, "X-A") && eq(h.fields[0].value, "b"));
    cr_assert_str_eq(in + h.head_len, "body");
}

Test(cgi_head, status_location_length_and_crlf)
{
    struct cgi_head h;
    const char *why = NULL;

    cr_assert_eq(parse("Status: 404 Not here\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
                       &h, &why), CGI_HEAD_DONE);
    cr_assert_eq(h.status, 404);
    cr_assert(h.has_length && h.length == 5);
    cr_assert_eq(parse("Location: /x\n\n", &h, &why), CGI_HEAD_DONE);
    cr_assert_eq(h.status, 302);
    cr_assert(eq(h.location, "/x"));
    cr_assert_eq(parse("Status: 201\nLocation: /new\n\n", &h, &why), CGI_HEAD_DONE);
    cr_assert_eq(h.status, 201);
}

Test(cgi_head, framing_fields_are_not_passed_on)
{
    struct cgi_head h;
    const char *why = NULL;

    cr_assert_eq(parse("Content-Type: a/b\nConnection: close\nTransfer-Encoding: chunked\n"
                       "Server: fake\nDate: x\nSet-Cookie: k=v\n\n", &h, &why), CGI_HEAD_DONE);
    cr_assert_eq(h.nfields, 1);
    cr_assert(eq(h.fields[0].name, "Set-Cookie"));
}

Test(cgi_head, incomplete_wants_more)
{
    struct cgi_head h;
    const char *why = NULL;

    cr_assert_eq(parse("Content-Type: text/plain\n", &h, &why), CGI_HEAD_AGAIN);
    cr_assert_eq(parse("Content-Ty", &h, &why), CGI_HEAD_AGAIN);
}

Test(cgi_head, malformed_is_refused)
{
    static const char *const bad[] = {
        "this is not a header\n\n",
        "\n",                                   /* no CGI field at all */
        "X-Only: a\n\n",                        /* no Content-Type, Location or Status */
        "Status: 99 Low\nContent-Type: a/b\n\n",
        "Status: 2000\nContent-Type: a/b\n\n",
        "Status: abc\n\n",
        "Content-Type: a/b\nContent-Type: c/d\n\n",
        "Content-Type: a/b\nContent-Length: -1\n\n",
        "Content-Type: a/b\nX: a\x01b\n\n",
        "Bad Name: v\nContent-Type: a/b\n\n",
        ": v\nContent-Type: a/b\n\n",
        " Content-Type: a/b\n\n",
    };
    struct cgi_head h;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        cr_assert_eq(parse(bad[i], &h, &why), CGI_HEAD_BAD, "accepted %s", bad[i]);
        cr_assert_not_null(why);
    }
}

Test(cgi_head, bounded)
{
    static char big[CGI_HEAD_MAX + 100];
    struct cgi_head h;
    const char *why = NULL;
    size_t n = 0;

    memcpy(big, "Content-Type: a/b\n", 18);
    n = 18;
    while (n + 12 < sizeof(big)) {
        memcpy(big + n, "X-Pad: 12\n", 10);
        n += 10;
    }
    cr_assert_eq(cgi_head_parse(big, n, &h, &why), CGI_HEAD_BAD);
}
