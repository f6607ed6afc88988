/*
 * libFuzzer driver for h2_fields_add_lines (src/www/h2.c): header lines as a
 * handler writes them become HTTP/2 fields. Aborts when a field breaks the
 * contract: inside the buffer, a non-empty name with no upper-case letter,
 * colon, CR or LF, a value with no CR or LF and no surrounding blanks, no
 * connection-specific name, and never more than H2_FIELDS_MAX fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "www/h2.h"
#include "fuzz.h"

static const char *const forbidden[] = {"connection", "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade"};

static void fuzz_check_name(const char *n, size_t len)
{
    CHECK(len > 0);
    for (size_t i = 0; i < len; i++)
        CHECK(!(n[i] >= 'A' && n[i] <= 'Z') && n[i] != ':' && n[i] != '\r' && n[i] != '\n');
    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
        CHECK(strlen(forbidden[i]) != len || memcmp(forbidden[i], n, len) != 0);
}

static void fuzz_check_value(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        CHECK(v[i] != '\r' && v[i] != '\n');
    if (len > 0)
        CHECK(v[0] != ' ' && v[0] != '\t' && v[len - 1] != ' ' && v[len - 1] != '\t');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h2_fields fs;

    memset(&fs, 0, sizeof(fs));
    h2_fields_add_lines(&fs, (const char *)data, size);
    CHECK(fs.n <= H2_FIELDS_MAX);
    for (unsigned i = 0; i < fs.n; i++) {
        CHECK((size_t)fs.f[i].name + fs.f[i].nlen <= fs.b.len);
        CHECK((size_t)fs.f[i].value + fs.f[i].vlen <= fs.b.len);
        fuzz_check_name(fs.b.data + fs.f[i].name, fs.f[i].nlen);
        fuzz_check_value(fs.b.data + fs.f[i].value, fs.f[i].vlen);
    }
    buf_free(&fs.b);
    return 0;
}
