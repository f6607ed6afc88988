/*
 * libFuzzer target for src/gopher/gmap.c and the dot-stuffing of
 * src/gopher/item.c. The input is a gophermap: each LF-separated line goes to
 * gmap_parse_line; the whole input is also sent as a text item, whole and in
 * two pieces, and un-stuffing the output must give the input back. Every
 * invariant of the contract is checked; a violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "gopher/gmap.h"
#include "gopher/item.h"
#include "fuzz.h"

/* S[0..N) lies inside BUF[0..LEN); an absent field is {NULL, 0}. */
static bool inside(const char *s, size_t n, const char *buf, size_t len)
{
    if (s == NULL)
        return n == 0;
    return s >= buf && s <= buf + len && n <= (size_t)(buf + len - s);
}

static bool has_tab(const char *s, size_t n)
{
    return s != NULL && memchr(s, '\t', n) != NULL;
}

static void check_item(const struct gmap_line *g, const char *p, size_t n)
{
    CHECK(gmap_type_ok(g->type) && g->type == p[0]);
    CHECK(memchr(p, '\t', n) != NULL);
    CHECK(g->display == p + 1);
    CHECK(inside(g->display, g->display_len, p, n));
    CHECK(inside(g->selector, g->selector_len, p, n));
    CHECK(inside(g->host, g->host_len, p, n));
    CHECK(!has_tab(g->display, g->display_len) && !has_tab(g->selector, g->selector_len) &&
          !has_tab(g->host, g->host_len));
    CHECK(g->host == NULL || memchr(g->host, ' ', g->host_len) == NULL);
    CHECK(g->display_len > 0 || g->selector_len > 0);
    CHECK(g->port <= 65535);
}

static void check_line(const char *p, size_t n)
{
    struct gmap_line g;
    const char *why = NULL;
    size_t len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;

    if (gmap_parse_line(p, n, &g, &why) == -1) {
        CHECK(why != NULL && why[0] != '\0');
        return;
    }
    CHECK(len <= GMAP_LINE_MAX);
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)p[i] >= 0x20 ? p[i] != 0x7f : p[i] == '\t');
    switch (g.kind) {
    case GMAP_ITEM:
        check_item(&g, p, len);
        break;
    case GMAP_LISTING:
    case GMAP_END:
        CHECK(len == 1 && p[0] == (g.kind == GMAP_LISTING ? '*' : '.'));
        break;
    case GMAP_HIDE:
        CHECK(g.display_len > 0 && p[0] == '-');
        CHECK(inside(g.display, g.display_len, p, len));
        break;
    case GMAP_INFO:
    case GMAP_TITLE:
    case GMAP_COMMENT:
        CHECK(inside(g.display, g.display_len, p, len));
        CHECK(!has_tab(p, len));
        break;
    default:
        CHECK(0);
    }
}

/* Each line in its own heap block of exactly its size, so ASan sees over-reads. */
static void check_lines(const char *p, size_t n)
{
    while (n > 0) {
        const char *lf = memchr(p, '\n', n);
        size_t len = lf ? (size_t)(lf - p) : n;
        char *line = malloc(len ? len : 1);

        CHECK(line != NULL);
        memcpy(line, p, len);
        check_line(line, len);
        free(line);
        if (lf == NULL)
            break;
        n -= len + 1;
        p = lf + 1;
    }
}

/* Turn line-initial ".." back into "."; every line-initial dot must be doubled. */
static size_t unstuff(const char *p, size_t n, char *out)
{
    size_t o = 0;
    bool start = true;

    for (size_t i = 0; i < n; i++) {
        if (start && p[i] == '.') {
            CHECK(i + 1 < n && p[i + 1] == '.');
            i++;
        }
        out[o++] = p[i];
        start = p[i] == '\n';
    }
    return o;
}

static void check_dotstuff(const char *p, size_t n, size_t cut)
{
    char *whole = malloc(2 * n + 1), *split = malloc(2 * n + 1), *back = malloc(n + 1);
    bool ls1 = true, ls2 = true;
    size_t w, s;
    struct buf end = {0};

    CHECK(whole != NULL && split != NULL && back != NULL);
    w = gopher_dotstuff(p, n, &ls1, whole);
    CHECK(w >= n && w <= 2 * n);
    s = gopher_dotstuff(p, cut, &ls2, split);
    s += gopher_dotstuff(p + cut, n - cut, &ls2, split + s);
    CHECK(s == w && ls1 == ls2 && memcmp(whole, split, w) == 0);
    CHECK(ls1 == (n == 0 || p[n - 1] == '\n'));
    CHECK(unstuff(whole, w, back) == n && memcmp(back, p, n) == 0);
    gopher_put_text_end(&end, ls1);
    CHECK(end.len == (ls1 ? 3 : 5) && memcmp(end.data + end.len - 3, ".\r\n", 3) == 0);
    buf_free(&end);
    free(whole);
    free(split);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);

    CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    check_lines(p, size);
    check_dotstuff(p, size, size ? (size_t)data[0] % (size + 1) : 0);
    free(p);
    return 0;
}
