/* Unit tests for the pure parts of src/gopher: the request line
 * (selector.c), gophermap lines (gmap.c), item types, menu lines and the
 * dot-stuffing of text items (item.c). */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "gopher/gmap.h"
#include "gopher/item.h"
#include "gopher/selector.h"
#include "runtime/mime.h"

static bool mem_is(const char *p, size_t n, const char *lit)
{
    return n == strlen(lit) && (n == 0 || memcmp(p, lit, n) == 0);
}

static const char *or_empty(const char *p)
{
    return p ? p : "";
}

#define cr_assert_mem_is(p, n, lit)                                                                \
    cr_assert(mem_is((p), (n), (lit)), "expected \"%s\", got \"%.*s\"", (lit), (int)(n),           \
              or_empty(p))

/* ---- the request line ---- */

static struct gopher_req req;
static const char *why;

static enum gopher_parse parse_n(const char *s, size_t n)
{
    memset(&req, 0xaa, sizeof(req));
    why = NULL;
    return gopher_parse_request(s, n, &req, &why);
}

static enum gopher_parse parse(const char *s)
{
    return parse_n(s, strlen(s));
}

static void expect_error_n(const char *s, size_t n)
{
    cr_assert_eq(parse_n(s, n), GOPHER_ERROR, "%.*s", (int)n, s);
    cr_assert(why != NULL && why[0] != '\0', "an error says why");
}

static void expect_error(const char *s)
{
    expect_error_n(s, strlen(s));
}

/* A line of LEN bytes of 'a' followed by END, in a heap block of exactly that size. */
static char *long_line(size_t len, const char *end, size_t *total)
{
    size_t el = strlen(end);
    char *p = malloc(len + el);

    cr_assert(p != NULL);
    memset(p, 'a', len);
    memcpy(p + len, end, el);
    *total = len + el;
    return p;
}

Test(selector, empty_line_crlf_is_root)
{
    cr_assert_eq(parse("\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_expect_eq(req.selector_len, 0);
    cr_expect_null(req.search);
    cr_expect_eq(req.extra_len, 0);
    cr_expect_eq(req.line_len, 2);
}

Test(selector, empty_line_lf_is_root)
{
    cr_assert_eq(parse("\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_expect_eq(req.selector_len, 0);
    cr_expect_null(req.search);
    cr_expect_eq(req.line_len, 1);
}

Test(selector, plain_path)
{
    const char *in = "/a/b\r\n";

    cr_assert_eq(parse(in), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_assert_mem_is(req.selector, req.selector_len, "/a/b");
    cr_expect_eq(req.selector, in, "zero-copy: the selector points into the input");
    cr_expect_null(req.search);
    cr_expect_null(req.extra);
    cr_expect_eq(req.line_len, 6);
}

Test(selector, search_field)
{
    cr_assert_eq(parse("/s\tquery words\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_assert_mem_is(req.selector, req.selector_len, "/s");
    cr_assert_not_null(req.search);
    cr_assert_mem_is(req.search, req.search_len, "query words");
    cr_expect_null(req.extra);
}

Test(selector, empty_search_field_is_present)
{
    cr_assert_eq(parse("/s\t\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_assert_mem_is(req.selector, req.selector_len, "/s");
    cr_assert_not_null(req.search);
    cr_expect_eq(req.search_len, 0);
}

Test(selector, plus_marker)
{
    cr_assert_eq(parse("sel\t+\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLUS);
    cr_assert_mem_is(req.selector, req.selector_len, "sel");
    cr_expect_null(req.search, "a marker is not a search");
    cr_expect_eq(req.extra_len, 0);
}

Test(selector, plus_marker_with_view)
{
    cr_assert_eq(parse("sel\t+text/plain\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLUS);
    cr_assert_mem_is(req.extra, req.extra_len, "text/plain");
}

Test(selector, attr_marker)
{
    cr_assert_eq(parse("sel\t!\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_ATTR);
    cr_assert_mem_is(req.selector, req.selector_len, "sel");
    cr_expect_eq(req.extra_len, 0);
    cr_expect_null(req.search);
}

Test(selector, dir_attr_marker)
{
    cr_assert_eq(parse("sel\t$\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_DIR_ATTR);
    cr_assert_mem_is(req.selector, req.selector_len, "sel");
    cr_expect_eq(req.extra_len, 0);
}

Test(selector, attr_marker_with_block_list)
{
    cr_assert_eq(parse("sel\t!+ADMIN+ABSTRACT\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_ATTR);
    cr_assert_mem_is(req.selector, req.selector_len, "sel");
    cr_assert_mem_is(req.extra, req.extra_len, "+ADMIN+ABSTRACT");
}

Test(selector, search_then_plus_marker)
{
    cr_assert_eq(parse("sel\tsearch\t+\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLUS);
    cr_assert_mem_is(req.selector, req.selector_len, "sel");
    cr_assert_mem_is(req.search, req.search_len, "search");
    cr_expect_eq(req.extra_len, 0);
}

Test(selector, search_then_attr_marker_with_blocks)
{
    cr_assert_eq(parse("sel\tq\t$+INFO\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_DIR_ATTR);
    cr_assert_mem_is(req.search, req.search_len, "q");
    cr_assert_mem_is(req.extra, req.extra_len, "+INFO");
}

Test(selector, third_field_must_be_a_marker)
{
    expect_error("sel\tsearch\tjunk\r\n");
    expect_error("sel\tsearch\t\r\n");
    expect_error("sel\tsearch\t?\r\n");
}

Test(selector, four_fields_rejected)
{
    expect_error("sel\tsearch\t+\t+\r\n");
    expect_error("a\tb\tc\td\r\n");
    expect_error("\t\t\t\r\n");
}

Test(selector, nul_byte_rejected)
{
    static const char in[] = "/a\0b\r\n";

    expect_error_n(in, sizeof(in) - 1);
    cr_expect(strstr(why, "NUL") != NULL, "why names the NUL: %s", why);
}

Test(selector, control_bytes_rejected)
{
    expect_error("/a\001b\r\n");
    expect_error("/a\x1b[0m\r\n");
    expect_error("/a\x7f\r\n");
    expect_error("/a\rb\r\n");
    expect_error("/a\r\r\n");
    expect_error("/s\tq\x02\r\n");
}

Test(selector, high_bytes_allowed)
{
    cr_assert_eq(parse("/caf\xc3\xa9\r\n"), GOPHER_DONE);
    cr_assert_mem_is(req.selector, req.selector_len, "/caf\xc3\xa9");
}

Test(selector, line_of_1024_bytes_ok)
{
    size_t n;
    char *p = long_line(GOPHER_LINE_MAX, "\r\n", &n);

    cr_assert_eq(parse_n(p, n), GOPHER_DONE);
    cr_expect_eq(req.selector_len, GOPHER_LINE_MAX);
    cr_expect_eq(req.line_len, GOPHER_LINE_MAX + 2);
    free(p);
    p = long_line(GOPHER_LINE_MAX, "\n", &n);
    cr_assert_eq(parse_n(p, n), GOPHER_DONE);
    cr_expect_eq(req.selector_len, GOPHER_LINE_MAX);
    cr_expect_eq(req.line_len, GOPHER_LINE_MAX + 1);
    free(p);
}

Test(selector, line_of_1025_bytes_rejected)
{
    size_t n;
    char *p = long_line(GOPHER_LINE_MAX + 1, "\r\n", &n);

    expect_error_n(p, n);
    free(p);
    p = long_line(GOPHER_LINE_MAX + 1, "\n", &n);
    expect_error_n(p, n);
    free(p);
}

Test(selector, no_line_end_yet_is_again)
{
    size_t n;
    char *p;

    cr_expect_eq(parse_n("", 0), GOPHER_AGAIN);
    cr_expect_eq(parse("/a/b"), GOPHER_AGAIN);
    cr_expect_eq(parse("/a/b\r"), GOPHER_AGAIN);
    cr_expect_eq(parse("sel\tsearch\tjunk"), GOPHER_AGAIN, "errors wait for the line end");
    p = long_line(GOPHER_LINE_MAX, "", &n);
    cr_expect_eq(parse_n(p, n), GOPHER_AGAIN);
    free(p);
    /* 1024 bytes and a CR: the LF may still come. */
    p = long_line(GOPHER_LINE_MAX, "\r", &n);
    cr_expect_eq(parse_n(p, n), GOPHER_AGAIN);
    free(p);
    p = long_line(GOPHER_LINE_MAX + 1, "", &n);
    cr_expect_eq(parse_n(p, n), GOPHER_AGAIN);
    free(p);
}

Test(selector, too_long_without_line_end_rejected)
{
    size_t n;
    char *p = long_line(GOPHER_LINE_MAX + 2, "", &n);

    expect_error_n(p, n);
    free(p);
    p = long_line(100000, "", &n);
    expect_error_n(p, n);
    free(p);
    /* The LF is there but past the longest line. */
    p = long_line(GOPHER_LINE_MAX + 10, "\r\n", &n);
    expect_error_n(p, n);
    free(p);
}

Test(selector, line_len_counts_line_end_and_stops_there)
{
    const char *in = "/first\r\n/second\r\n";

    cr_assert_eq(parse(in), GOPHER_DONE);
    cr_assert_mem_is(req.selector, req.selector_len, "/first");
    cr_expect_eq(req.line_len, 8);
    cr_assert_eq(parse(in + req.line_len), GOPHER_DONE);
    cr_assert_mem_is(req.selector, req.selector_len, "/second");
    cr_assert_eq(parse("/x\nrest"), GOPHER_DONE);
    cr_expect_eq(req.line_len, 3);
}

Test(selector, bytes_arriving_one_by_one)
{
    const char *in = "/s\tq\t+\r\n";
    size_t n = strlen(in);

    for (size_t i = 0; i < n; i++)
        cr_expect_eq(parse_n(in, i), GOPHER_AGAIN, "prefix of %zu bytes", i);
    cr_assert_eq(parse_n(in, n), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLUS);
    cr_expect_eq(req.line_len, n);
}

Test(selector, http_request_line)
{
    const char *in = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    cr_assert_eq(parse(in), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_HTTP);
    cr_assert_mem_is(req.selector, req.selector_len, "GET / HTTP/1.1");
    cr_expect_eq(req.line_len, 16);
    cr_assert_eq(parse("HEAD /x HTTP/1.0\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_HTTP);
    cr_assert_eq(parse("POST /form HTTP/1.1\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_HTTP);
}

Test(selector, get_without_http_version_is_a_selector)
{
    cr_assert_eq(parse("GET /x\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_assert_mem_is(req.selector, req.selector_len, "GET /x");
    cr_assert_eq(parse("GET / HTTP/2\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN);
    cr_assert_eq(parse("/docs HTTP/1.1\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN, "no method, no HTTP");
    cr_assert_eq(parse("get / HTTP/1.1\r\n"), GOPHER_DONE);
    cr_expect_eq(req.kind, GOPHER_REQ_PLAIN, "methods are case-sensitive");
}

Test(selector, http_line_is_checked_for_control_bytes)
{
    expect_error("GET /\x01 HTTP/1.1\r\n");
}

/* ---- Gopher+ attribute lists ---- */

#define WANTED(list, name) gopher_attr_wanted((list), strlen(list), (name))

Test(attr, empty_list_wants_everything)
{
    cr_expect(gopher_attr_wanted("", 0, "+INFO"));
    cr_expect(gopher_attr_wanted(NULL, 0, "+ADMIN"));
    cr_expect(gopher_attr_wanted("+ADMIN", 0, "+VIEWS"), "only extra_len counts");
}

Test(attr, named_blocks_wanted)
{
    cr_expect(WANTED("+ADMIN+VIEWS", "+ADMIN"));
    cr_expect(WANTED("+ADMIN+VIEWS", "+VIEWS"));
    cr_expect(WANTED("+ABSTRACT", "+ABSTRACT"));
    cr_expect(WANTED("+INFO+ADMIN+VIEWS", "+ADMIN"));
}

Test(attr, other_blocks_not_wanted)
{
    cr_expect_not(WANTED("+ADMIN+VIEWS", "+INFO"));
    cr_expect_not(WANTED("+ADMIN+VIEWS", "+ABSTRACT"));
}

Test(attr, no_prefix_matches)
{
    cr_expect_not(WANTED("+ADMINX", "+ADMIN"));
    cr_expect_not(WANTED("+ADMINX+VIEWSY", "+VIEWS"));
    cr_expect_not(WANTED("+ADMI", "+ADMIN"));
    cr_expect_not(WANTED("+VIEW", "+VIEWS"));
    cr_expect(WANTED("+ADMINX+ADMIN", "+ADMIN"));
}

/* ---- gophermap lines ---- */

static struct gmap_line gl;

static int gmap_n(const char *s, size_t n)
{
    memset(&gl, 0xaa, sizeof(gl));
    why = NULL;
    return gmap_parse_line(s, n, &gl, &why);
}

static int gmap(const char *s)
{
    return gmap_n(s, strlen(s));
}

static void expect_gmap_error(const char *s)
{
    cr_assert_eq(gmap(s), -1, "\"%s\" must be rejected", s);
    cr_assert(why != NULL && why[0] != '\0', "an error says why");
}

static void expect_info(const char *s, const char *text)
{
    cr_assert_eq(gmap(s), 0, "%s: %s", s, why ? why : "");
    cr_expect_eq(gl.kind, GMAP_INFO, "%s", s);
    cr_assert_mem_is(gl.display, gl.display_len, text);
}

static void expect_link(const char *s, char type, const char *display, const char *sel,
                        const char *host, unsigned port)
{
    cr_assert_eq(gmap(s), 0, "%s: %s", s, why ? why : "");
    cr_expect_eq(gl.kind, GMAP_ITEM, "%s", s);
    cr_expect_eq(gl.type, type, "%s: type %c", s, gl.type);
    cr_assert_mem_is(gl.display, gl.display_len, display);
    cr_assert_mem_is(gl.selector, gl.selector_len, sel);
    cr_assert_mem_is(gl.host, gl.host_len, host);
    cr_expect_eq(gl.port, port, "%s: port %u", s, gl.port);
}

Test(gmap, info_text)
{
    expect_info("Welcome to the hole", "Welcome to the hole");
    expect_info("  indented text", "  indented text");
}

Test(gmap, empty_line_is_info)
{
    cr_assert_eq(gmap_n("", 0), 0);
    cr_expect_eq(gl.kind, GMAP_INFO);
    cr_expect_eq(gl.display_len, 0);
    cr_assert_eq(gmap("\r"), 0);
    cr_expect_eq(gl.kind, GMAP_INFO);
    cr_expect_eq(gl.display_len, 0);
}

Test(gmap, listing_and_end)
{
    cr_assert_eq(gmap("*"), 0);
    cr_expect_eq(gl.kind, GMAP_LISTING);
    cr_assert_eq(gmap("."), 0);
    cr_expect_eq(gl.kind, GMAP_END);
    cr_assert_eq(gmap("*\r"), 0);
    cr_expect_eq(gl.kind, GMAP_LISTING);
    expect_info("**", "**");
    expect_info("...", "...");
}

Test(gmap, comment_title_hide)
{
    cr_assert_eq(gmap("#comment"), 0);
    cr_expect_eq(gl.kind, GMAP_COMMENT);
    cr_assert_eq(gmap("!Title"), 0);
    cr_expect_eq(gl.kind, GMAP_TITLE);
    cr_assert_mem_is(gl.display, gl.display_len, "Title");
    cr_assert_eq(gmap("-hidden"), 0);
    cr_expect_eq(gl.kind, GMAP_HIDE);
    cr_assert_mem_is(gl.display, gl.display_len, "hidden");
    cr_assert_eq(gmap("-secret.txt\r"), 0);
    cr_expect_eq(gl.kind, GMAP_HIDE);
    cr_assert_mem_is(gl.display, gl.display_len, "secret.txt");
}

Test(gmap, hide_needs_a_name)
{
    expect_gmap_error("-");
    expect_gmap_error("-\r");
}

Test(gmap, link_with_all_fields)
{
    expect_link("0Display\tsel\thost\t70", '0', "Display", "sel", "host", 70);
    expect_link("1Floodgap\t/\tgopher.floodgap.com\t70", '1', "Floodgap", "/",
                "gopher.floodgap.com", 70);
    expect_link("hWeb\tURL:https://example.org/\t\t", 'h', "Web", "URL:https://example.org/", "",
                0);
    expect_link("7Search\t/s\tx\t65535", '7', "Search", "/s", "x", 65535);
    expect_link("9Bin\t/b\tx\t1", '9', "Bin", "/b", "x", 1);
}

Test(gmap, link_extra_fields_ignored)
{
    expect_link("1Plus\t/p\thost\t7070\t+", '1', "Plus", "/p", "host", 7070);
}

Test(gmap, link_with_display_and_tab_only)
{
    cr_assert_eq(gmap("1Docs\t"), 0, "%s", why ? why : "");
    cr_expect_eq(gl.kind, GMAP_ITEM);
    cr_expect_eq(gl.type, '1');
    cr_assert_mem_is(gl.display, gl.display_len, "Docs");
    cr_expect_eq(gl.selector_len, 0);
    cr_expect_eq(gl.host_len, 0);
    cr_expect_eq(gl.port, 0);
}

Test(gmap, link_with_display_and_selector)
{
    cr_assert_eq(gmap("0About\tabout.txt"), 0);
    cr_assert_mem_is(gl.selector, gl.selector_len, "about.txt");
    cr_expect_eq(gl.host_len, 0);
    cr_expect_eq(gl.port, 0);
}

Test(gmap, link_selector_without_display)
{
    cr_assert_eq(gmap("0\tabout.txt"), 0);
    cr_expect_eq(gl.display_len, 0);
    cr_assert_mem_is(gl.selector, gl.selector_len, "about.txt");
}

Test(gmap, link_needs_display_or_selector)
{
    expect_gmap_error("0\t");
    expect_gmap_error("0\t\thost\t70");
}

Test(gmap, empty_port_is_this_server)
{
    expect_link("0D\tsel\thost\t", '0', "D", "sel", "host", 0);
    expect_link("0D\tsel\thost", '0', "D", "sel", "host", 0);
}

Test(gmap, bad_ports_rejected)
{
    expect_gmap_error("0Display\tsel\thost\t0");
    expect_gmap_error("0Display\tsel\thost\t70000");
    expect_gmap_error("0Display\tsel\thost\t65536");
    expect_gmap_error("0Display\tsel\thost\tabc");
    expect_gmap_error("0Display\tsel\thost\t-70");
    expect_gmap_error("0Display\tsel\thost\t70x");
    expect_gmap_error("0Display\tsel\thost\t 70");
    expect_gmap_error("0Display\tsel\thost\t0000070");
    expect_gmap_error("0Display\tsel\thost\t4294967366");
}

Test(gmap, host_with_space_rejected)
{
    expect_gmap_error("0Display\tsel\tbad host\t70");
}

Test(gmap, unknown_type_rejected)
{
    expect_gmap_error("ZDisplay\tsel\thost\t70");
    expect_gmap_error("\tsel\thost\t70");
    expect_gmap_error(" Display\tsel");
    expect_gmap_error("-hidden\tsel");
}

Test(gmap, control_bytes_rejected)
{
    static const char nul[] = "a\0b";

    expect_gmap_error("text with \x1b[1mbold\x1b[0m");
    expect_gmap_error("0Display\tse\x01l\thost\t70");
    expect_gmap_error("del\x7f");
    expect_gmap_error("cr\rinside");
    cr_expect_eq(gmap_n(nul, sizeof(nul) - 1), -1);
}

Test(gmap, overlong_rejected)
{
    char *p = malloc(GMAP_LINE_MAX + 2);

    cr_assert(p != NULL);
    memset(p, 'x', GMAP_LINE_MAX + 1);
    cr_expect_eq(gmap_n(p, GMAP_LINE_MAX), 0);
    cr_expect_eq(gl.kind, GMAP_INFO);
    cr_expect_eq(gl.display_len, GMAP_LINE_MAX);
    cr_expect_eq(gmap_n(p, GMAP_LINE_MAX + 1), -1);
    cr_expect(why != NULL);
    p[GMAP_LINE_MAX] = '\r';
    cr_expect_eq(gmap_n(p, GMAP_LINE_MAX + 1), 0, "the CR does not count");
    free(p);
}

Test(gmap, trailing_cr_ignored)
{
    expect_link("0Display\tsel\thost\t70\r", '0', "Display", "sel", "host", 70);
    expect_info("Hello\r", "Hello");
    cr_assert_eq(gmap(".\r"), 0);
    cr_expect_eq(gl.kind, GMAP_END);
}

Test(gmap, include_rejected_but_banner_is_info)
{
    expect_gmap_error("=include");
    expect_gmap_error("=/usr/bin/fortune");
    expect_gmap_error("=./script");
    expect_info("=====", "=====");
    expect_info("=", "=");
    expect_info("= heading =", "= heading =");
}

Test(gmap, directive_rejected_but_colon_text_is_info)
{
    expect_gmap_error(":ext=type");
    expect_gmap_error(":.txt=0");
    expect_info(": hello there", ": hello there");
    expect_info(":-)", ":-)");
    expect_info(": a = b", ": a = b");
}

Test(gmap, type_ok)
{
    static const char ok[] = "0123456789+TgIhisdp;cM:<w";

    for (size_t i = 0; i < sizeof(ok) - 1; i++)
        cr_expect(gmap_type_ok(ok[i]), "type %c", ok[i]);
    cr_expect_not(gmap_type_ok('\0'));
    cr_expect_not(gmap_type_ok('Z'));
    cr_expect_not(gmap_type_ok(' '));
    cr_expect_not(gmap_type_ok('\t'));
    cr_expect_not(gmap_type_ok('-'));
    cr_expect_not(gmap_type_ok('.'));
}

/* ---- item types ---- */

static struct mime_map *mm;

static void mime_setup(void)
{
    mm = mime_new();
}

static void mime_teardown(void)
{
    mime_free(mm);
}

static char type_of(const char *name, bool is_dir)
{
    return gopher_item_type(name, strlen(name), is_dir, mm);
}

#define EXPECT_TYPE(name, want)                                                                    \
    cr_expect_eq(type_of((name), false), (want), "%s: %c", (name), type_of((name), false))

Test(item_type, directories, .init = mime_setup, .fini = mime_teardown)
{
    cr_expect_eq(type_of("docs", true), '1');
    cr_expect_eq(type_of("pics.gif", true), '1');
}

Test(item_type, no_extension_is_text, .init = mime_setup, .fini = mime_teardown)
{
    EXPECT_TYPE("README", '0');
    EXPECT_TYPE("NEWS", '0');
    EXPECT_TYPE(".profile", '0');
}

Test(item_type, by_media_type, .init = mime_setup, .fini = mime_teardown)
{
    EXPECT_TYPE("notes.txt", '0');
    EXPECT_TYPE("style.css", '0');
    EXPECT_TYPE("index.html", 'h');
    EXPECT_TYPE("index.htm", 'h');
    EXPECT_TYPE("anim.gif", 'g');
    EXPECT_TYPE("photo.png", 'I');
    EXPECT_TYPE("photo.jpg", 'I');
    EXPECT_TYPE("photo.JPEG", 'I');
    EXPECT_TYPE("song.mp3", 's');
    EXPECT_TYPE("stuff.zip", '5');
    EXPECT_TYPE("stuff.tar.gz", '5');
    EXPECT_TYPE("paper.pdf", 'd');
}

Test(item_type, binhex, .init = mime_setup, .fini = mime_teardown)
{
    EXPECT_TYPE("old.hqx", '4');
    EXPECT_TYPE("OLD.HQX", '4');
    EXPECT_TYPE("old.hqxz", '9');
}

Test(item_type, unknown_is_binary, .init = mime_setup, .fini = mime_teardown)
{
    EXPECT_TYPE("blob.qqqunknown", '9');
    EXPECT_TYPE("prog.wasm", '9');
    EXPECT_TYPE("trailing.", '9');
}

Test(item_type, map_overrides, .init = mime_setup, .fini = mime_teardown)
{
    mime_set(mm, "doc", "application/msword");
    mime_set(mm, "xz", "application/x-xz");
    mime_set(mm, "odt", "application/vnd.oasis.opendocument.text");
    mime_set(mm, "gmi", "text/gemini");
    EXPECT_TYPE("letter.doc", 'd');
    EXPECT_TYPE("src.tar.xz", '5');
    EXPECT_TYPE("essay.odt", 'd');
    EXPECT_TYPE("page.gmi", '0');
}

Test(item_type, system_mime_types, .init = mime_setup, .fini = mime_teardown)
{
    if (mime_load_file(mm, "/etc/mime.types") == -1)
        cr_skip_test("no /etc/mime.types");
    EXPECT_TYPE("notes.txt", '0');
    EXPECT_TYPE("index.html", 'h');
    EXPECT_TYPE("anim.gif", 'g');
    EXPECT_TYPE("photo.png", 'I');
    EXPECT_TYPE("old.hqx", '4');
    EXPECT_TYPE("stuff.zip", '5');
    EXPECT_TYPE("paper.pdf", 'd');
}

Test(item, name_ok)
{
    cr_expect(gopher_name_ok("a file.txt", 10));
    cr_expect(gopher_name_ok("caf\xc3\xa9", 5));
    cr_expect_not(gopher_name_ok("", 0));
    cr_expect_not(gopher_name_ok("a\tb", 3));
    cr_expect_not(gopher_name_ok("a\rb", 3));
    cr_expect_not(gopher_name_ok("a\nb", 3));
    cr_expect_not(gopher_name_ok("a\x7f", 2));
}

/* ---- menu lines ---- */

static struct buf ob;

static void buf_setup(void)
{
    memset(&ob, 0, sizeof(ob));
}

static void buf_teardown(void)
{
    buf_free(&ob);
}

#define cr_assert_buf_is(lit) cr_assert_mem_is(ob.data, ob.len, (lit))

static void put_sel(const char *s)
{
    buf_reset(&ob);
    gopher_put_selector(&ob, s, strlen(s));
}

Test(put, selector_escapes_percent, .init = buf_setup, .fini = buf_teardown)
{
    put_sel("/a b/c.txt");
    cr_assert_buf_is("/a b/c.txt");
    put_sel("/100%.txt");
    cr_assert_buf_is("/100%25.txt");
    put_sel("%%");
    cr_assert_buf_is("%25%25");
    put_sel("%41");
    cr_assert_buf_is("%2541");
    put_sel("");
    cr_expect_eq(ob.len, 0);
}

Test(put, menu_line, .init = buf_setup, .fini = buf_teardown)
{
    gopher_put_line(&ob, '0', "About", 5, "/about.txt", 10, "gopher.example", 70, false);
    cr_assert_buf_is("0About\t/about.txt\tgopher.example\t70\r\n");
    buf_reset(&ob);
    gopher_put_line(&ob, '1', "Docs", 4, "/docs", 5, "h", 65535, true);
    cr_assert_buf_is("1Docs\t/docs\th\t65535\t+\r\n");
    buf_reset(&ob);
    gopher_put_line(&ob, '9', "x", 1, "", 0, "h", 4294967295u, true);
    cr_assert_buf_is("9x\t\th\t4294967295\t+\r\n");
}

Test(put, menu_line_lengths_are_honoured, .init = buf_setup, .fini = buf_teardown)
{
    gopher_put_line(&ob, 'I', "Picture of a cat", 7, "/cat.png?x", 8, "h", 70, false);
    cr_assert_buf_is("IPicture\t/cat.png\th\t70\r\n");
}

Test(put, info_line, .init = buf_setup, .fini = buf_teardown)
{
    gopher_put_info(&ob, "hello", 5);
    cr_assert_buf_is("ihello\t\tnull.host\t1\r\n");
}

/* ---- dot-stuffing ---- */

static char *stuff(const char *in, size_t n, bool *line_start, size_t *outn)
{
    char *out = malloc(2 * n + 1);

    cr_assert(out != NULL);
    *outn = gopher_dotstuff(in, n, line_start, out);
    cr_assert(*outn >= n && *outn <= 2 * n, "%zu bytes from %zu", *outn, n);
    return out;
}

static void expect_stuffed(const char *in, bool start, const char *want, bool want_start)
{
    bool ls = start;
    size_t n;
    char *out = stuff(in, strlen(in), &ls, &n);

    cr_assert_mem_is(out, n, want);
    cr_expect_eq(ls, want_start, "\"%s\": line_start after", in);
    free(out);
}

Test(dotstuff, leading_dot_doubles)
{
    expect_stuffed(".", true, "..", false);
    expect_stuffed(".hidden\n", true, "..hidden\n", true);
    expect_stuffed("..\n", true, "...\n", true);
}

Test(dotstuff, dot_after_line_end_doubles)
{
    expect_stuffed("a\n.b", true, "a\n..b", false);
    expect_stuffed("a\r\n.\r\n.", true, "a\r\n..\r\n..", false);
    expect_stuffed("\n\n.\n", true, "\n\n..\n", true);
}

Test(dotstuff, inner_dots_unchanged)
{
    expect_stuffed("a.b\nc. d.\n", true, "a.b\nc. d.\n", true);
    expect_stuffed("plain text\nsecond line", true, "plain text\nsecond line", false);
    expect_stuffed(" .x", true, " .x", false);
}

Test(dotstuff, no_line_start_no_doubling)
{
    expect_stuffed(".x", false, ".x", false);
    expect_stuffed(".x\n.y", false, ".x\n..y", false);
}

Test(dotstuff, empty_input_keeps_state)
{
    bool ls = true;
    char out[1];

    cr_expect_eq(gopher_dotstuff("", 0, &ls, out), 0);
    cr_expect(ls);
    ls = false;
    cr_expect_eq(gopher_dotstuff("", 0, &ls, out), 0);
    cr_expect_not(ls);
}

Test(dotstuff, chunk_boundary_carries_line_start)
{
    bool ls = true;
    char out[16];
    size_t n = gopher_dotstuff("a\n", 2, &ls, out);

    cr_expect(ls, "the next chunk starts a line");
    n += gopher_dotstuff(".b", 2, &ls, out + n);
    cr_assert_mem_is(out, n, "a\n..b");
    cr_expect_not(ls);
    /* Split in the middle of a line: no doubling. */
    ls = true;
    n = gopher_dotstuff("a", 1, &ls, out);
    cr_expect_not(ls);
    n += gopher_dotstuff(".b\n", 3, &ls, out + n);
    cr_assert_mem_is(out, n, "a.b\n");
    cr_expect(ls);
}

Test(dotstuff, text_end, .init = buf_setup, .fini = buf_teardown)
{
    gopher_put_text_end(&ob, true);
    cr_assert_buf_is(".\r\n");
    buf_reset(&ob);
    gopher_put_text_end(&ob, false);
    cr_assert_buf_is("\r\n.\r\n");
}

/* A small deterministic generator, so a failure reproduces. */
static uint32_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Text drawn mostly from '.', '\n', '\r' and letters, ending with '\n'. */
static size_t random_text(char *p, size_t max)
{
    static const char alphabet[] = "...\n\n\r ab";
    size_t n = 1 + rng() % (max - 1);

    for (size_t i = 0; i < n - 1; i++)
        p[i] = (rng() & 7) == 0 ? (char)(rng() & 0xff) : alphabet[rng() % (sizeof(alphabet) - 1)];
    p[n - 1] = '\n';
    return n;
}

/* Undo an item: drop the final ".\r\n" line and turn line-initial ".." into ".". */
static size_t unstuff(const char *p, size_t n, char *out)
{
    size_t o = 0;
    bool start = true;

    cr_assert(n >= 3 && memcmp(p + n - 3, ".\r\n", 3) == 0, "the item ends with .CRLF");
    n -= 3;
    for (size_t i = 0; i < n; i++) {
        if (start && p[i] == '.') {
            cr_assert(i + 1 < n && p[i + 1] == '.', "a line-initial dot is doubled at %zu", i);
            i++;
        }
        out[o++] = p[i];
        start = p[i] == '\n';
    }
    cr_assert(start, "the last line of the text ends before the final dot");
    return o;
}

Test(dotstuff, round_trip_random_text, .init = buf_setup, .fini = buf_teardown)
{
    char in[300], back[300];

    rng_state = 0x9e3779b9u;
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = random_text(in, sizeof(in)), off = 0, got;
        bool ls = true;

        buf_reset(&ob);
        buf_reserve(&ob, 2 * n);
        /* In random pieces, as the connection reads a file. */
        while (off < n) {
            size_t k = 1 + rng() % (n - off);
            ob.len += gopher_dotstuff(in + off, k, &ls, ob.data + ob.len);
            off += k;
        }
        cr_assert(ob.len >= n && ob.len <= 2 * n);
        cr_assert(ls, "text ending in LF leaves line_start set");
        gopher_put_text_end(&ob, ls);
        got = unstuff(ob.data, ob.len, back);
        cr_assert_eq(got, n, "iteration %d: %zu bytes back from %zu", iter, got, n);
        cr_assert(memcmp(back, in, n) == 0, "iteration %d: the text comes back", iter);
    }
}
