/*
 * libFuzzer driver for cgi_head_parse: any bytes a CGI program may write.
 * On DONE every string lies inside the input, names are tokens, values hold
 * no CR, LF or NUL, the status is 100-599 and the section ends in a blank
 * line within CGI_HEAD_MAX; AGAIN only below the bound.
 */
#include <string.h>

#include "fuzz.h"
#include "www/cgi_head.h"

static void check_in(const uint8_t *data, size_t size, struct http_str s)
{
    CHECK(s.n == 0 || ((const uint8_t *)s.p >= data && (const uint8_t *)s.p + s.n <= data + size));
    for (size_t i = 0; i < s.n; i++)
        CHECK(s.p[i] != '\r' && s.p[i] != '\n' && s.p[i] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cgi_head h;
    const char *why = NULL;

    switch (cgi_head_parse((const char *)data, size, &h, &why)) {
    case CGI_HEAD_AGAIN:
        CHECK(size < CGI_HEAD_MAX);
        break;
    case CGI_HEAD_BAD:
        CHECK(why != NULL);
        break;
    case CGI_HEAD_DONE:
        CHECK(h.head_len >= 1 && h.head_len <= size && h.head_len <= CGI_HEAD_MAX);
        CHECK(data[h.head_len - 1] == '\n');
        CHECK(h.status >= 100 && h.status <= 599);
        CHECK(h.nfields <= CGI_MAX_FIELDS);
        check_in(data, h.head_len, h.type);
        check_in(data, h.head_len, h.location);
        for (size_t i = 0; i < h.nfields; i++) {
            check_in(data, h.head_len, h.fields[i].name);
            check_in(data, h.head_len, h.fields[i].value);
            CHECK(h.fields[i].name.n > 0 && memchr(h.fields[i].name.p, ':', h.fields[i].name.n) == NULL);
        }
        break;
    }
    return 0;
}
