/*
 * libFuzzer driver for range_parse. Input: 8 bytes little-endian size, one
 * byte for MAX, then the Range header value. Aborts when a result breaks the
 * contract: sorted, disjoint, non-adjacent ranges inside the representation,
 * no more than MAX of them, and a multipart length that matches the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "www/range.h"
#include "fuzz.h"

#define FUZZ_MAX_CAP 64

static uint64_t fuzz_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fuzz_check_ok(const struct byte_range *r, size_t count, size_t max, uint64_t size)
{
    if (count == 0 || count > max)
        abort();
    for (size_t i = 0; i < count; i++) {
        if (r[i].first > r[i].last || r[i].last >= size)
            abort();
        if (i > 0 && r[i].first <= r[i - 1].last + 1)
            abort(); /* unsorted, overlapping or adjacent */
    }
}

/* The advertised Content-Length must equal the bytes the helpers produce. */
static void fuzz_check_length(const struct byte_range *r, size_t count, uint64_t size)
{
    char b[21], hdr[256];
    uint64_t total = 0;
    size_t n;

    range_boundary(size, b);
    if (strlen(b) != 20)
        abort();
    for (size_t i = 0; i < count; i++) {
        n = range_part_header(hdr, sizeof(hdr), b, "text/plain", &r[i], size, i == 0);
        if (n == 0)
            abort();
        total += n + (r[i].last - r[i].first + 1);
    }
    n = range_part_trailer(hdr, sizeof(hdr), b);
    if (n == 0)
        abort();
    if (total + n != range_multipart_length(b, "text/plain", r, count, size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct byte_range out[FUZZ_MAX_CAP + 1];
    enum range_result res;
    uint64_t size;
    size_t max, count = 99;
    char *s;

    if (len < 9)
        return 0;
    size = fuzz_le64(data);
    max = data[8] % (FUZZ_MAX_CAP + 1);
    s = malloc(len - 9 + 1); /* exact size: ASan catches reads past the header */
    memcpy(s, data + 9, len - 9);
    memset(out, 0x5a, sizeof(out));
    res = range_parse(s, len - 9, size, out, max, &count);
    if (res == RANGE_OK) {
        fuzz_check_ok(out, count, max, size);
        fuzz_check_length(out, count, size);
    } else if (count != 0 ||
               (res != RANGE_NONE && res != RANGE_UNSATISFIABLE && res != RANGE_TOO_MANY)) {
        abort();
    }
    /* Nothing may be written beyond MAX entries. */
    for (size_t i = max * sizeof(out[0]); i < sizeof(out); i++) {
        if (((const unsigned char *)out)[i] != 0x5a)
            abort();
    }
    free(s);
    return 0;
}
