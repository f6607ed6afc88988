/*
 * libFuzzer driver for path_normalize. Checks the output invariants (a
 * single leading '/', no dot segments, no "//", no NUL, backslash or control
 * byte, valid UTF-8, outlen == strlen), idempotence after re-encoding '%',
 * the same result or "path too long" from a short buffer, and agreement
 * with a slow reference written independently below.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/path.h"
#include "fuzz.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Decodes code points one by one: minimal length, no surrogates, <= U+10FFFF. */
static int ref_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp, min;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            len = 2, cp = s[i] & 0x1f, min = 0x80;
        } else if ((s[i] & 0xf0) == 0xe0) {
            len = 3, cp = s[i] & 0x0f, min = 0x800;
        } else if ((s[i] & 0xf8) == 0xf0) {
            len = 4, cp = s[i] & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int ref_hex(unsigned char c)
{
    const char *digits = "0123456789abcdef";
    const char *p;

    if (c >= 'A' && c <= 'F')
        c = (unsigned char)(c - 'A' + 'a');
    p = c != '\0' ? strchr(digits, c) : NULL;
    return p ? (int)(p - digits) : -1;
}

/* Decode everything first; returns the decoded length or -1. */
static long ref_decode(const uint8_t *in, size_t n, unsigned char *dec)
{
    size_t i = 0, dl = 0;

    while (i < n) {
        if (in[i] != '%') {
            dec[dl++] = in[i++];
            continue;
        }
        if (i + 2 >= n || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0)
            return -1;
        dec[dl++] = (unsigned char)(ref_hex(in[i + 1]) * 16 + ref_hex(in[i + 2]));
        i += 3;
    }
    for (i = 0; i < dl; i++)
        if (dec[i] < 0x20 || dec[i] == 0x7f || dec[i] == '\\')
            return -1;
    return ref_utf8_valid(dec, dl) ? (long)dl : -1;
}

/* Split into segments, keep a stack of kept ones, then join. */
static int ref_normalize(const uint8_t *in, size_t n, char *out, size_t *outlen)
{
    unsigned char *dec = malloc(n + 1);
    size_t *start = malloc((n + 1) * sizeof *start), *len = malloc((n + 1) * sizeof *len);
    size_t depth = 0, i, s, e, w = 0, dl;
    long r;
    int trailing = 0, rc = -1;

    if (n == 0 || in[0] != '/' || (r = ref_decode(in, n, dec)) < 0)
        goto done;
    dl = (size_t)r;
    for (s = 1; s <= dl; s = e + 1) {
        for (e = s; e < dl && dec[e] != '/'; e++)
            ;
        trailing = e - s == 0 || (e - s == 1 && dec[s] == '.') ||
                   (e - s == 2 && dec[s] == '.' && dec[s + 1] == '.');
        if (e - s == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            if (depth == 0)
                goto done;
            depth--;
        } else if (!trailing) {
            start[depth] = s;
            len[depth++] = e - s;
        }
    }
    for (i = 0; i < depth; i++) {
        out[w++] = '/';
        memcpy(out + w, dec + start[i], len[i]);
        w += len[i];
    }
    if (w == 0 || trailing)
        out[w++] = '/';
    out[w] = '\0';
    *outlen = w;
    rc = 0;
done:
    free(dec);
    free(start);
    free(len);
    return rc;
}

static void check_output(const char *out, size_t outlen)
{
    size_t i;

    check(outlen == strlen(out));
    check(out[0] == '/');
    check(strstr(out, "//") == NULL);
    check(strstr(out, "/./") == NULL && strstr(out, "/../") == NULL);
    check(!(outlen >= 2 && memcmp(out + outlen - 2, "/.", 2) == 0));
    check(!(outlen >= 3 && memcmp(out + outlen - 3, "/..", 3) == 0));
    for (i = 0; i < outlen; i++) {
        unsigned char c = (unsigned char)out[i];
        check(c >= 0x20 && c != 0x7f && c != '\\');
    }
    check(ref_utf8_valid((const unsigned char *)out, outlen));
}

/* Encode '%' as "%25" and normalise again: the path must not change. */
static void check_idempotent(const char *out, size_t outlen)
{
    char *enc = malloc(outlen * 3 + 1), *again;
    size_t i, n = 0, len2;
    int status;
    const char *reason;

    for (i = 0; i < outlen; i++) {
        if (out[i] == '%') {
            memcpy(enc + n, "%25", 3);
            n += 3;
        } else {
            enc[n++] = out[i];
        }
    }
    again = malloc(n + 2);
    check(path_normalize(enc, n, again, n + 2, &len2, &status, &reason) == 0);
    check(len2 == outlen && memcmp(again, out, outlen + 1) == 0);
    free(again);
    free(enc);
}

/* With a short buffer the result is either the same path or "path too long"
 * (dot segments may need more room than the final path), never a write past cap. */
static void check_short_buffer(const char *in, size_t size, const char *full, size_t fulllen)
{
    size_t cap = size > 0 ? (unsigned char)in[size - 1] % (size + 2) : 0;
    char *out = malloc(cap ? cap : 1);
    size_t outlen;
    int status;
    const char *reason;

    if (path_normalize(in, size, out, cap, &outlen, &status, &reason) == 0)
        check(outlen == fulllen && outlen < cap && memcmp(out, full, fulllen + 1) == 0);
    else
        check(status == 400 && strcmp(reason, "path too long") == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copies so ASan sees any read past inlen or write past outcap. */
    char *in = malloc(size ? size : 1), *out = malloc(size + 2), *ref = malloc(size + 2);
    size_t outlen = 0, reflen = 0;
    int status = 0, rc, refrc;
    const char *reason = NULL;

    memcpy(in, data, size);
    rc = path_normalize(in, size, out, size + 2, &outlen, &status, &reason);
    refrc = ref_normalize(data, size, ref, &reflen);
    check(rc == refrc);
    if (rc == 0) {
        check(outlen <= size);
        check(outlen == reflen && memcmp(out, ref, reflen + 1) == 0);
        check_output(out, outlen);
        check_idempotent(out, outlen);
        check_short_buffer(in, size, out, outlen);
    } else {
        check(rc == -1 && status == 400 && reason != NULL && reason[0] != '\0');
    }
    free(in);
    free(out);
    free(ref);
    return 0;
}
