#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/mime.h"

#define OCTET "application/octet-stream"

static struct mime_map *m;

static void setup(void)
{
    m = mime_new();
}

static void teardown(void)
{
    mime_free(m);
}

static const char *look(const char *name)
{
    return mime_lookup(m, name, strlen(name));
}

/* Write a mime.types file into a fresh temporary path (freed by the caller). */
static char *write_types(const char *text)
{
    char *path = strdup("/tmp/test_mime_XXXXXX");
    int fd = mkstemp(path);
    size_t n = strlen(text);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

TestSuite(mime, .init = setup, .fini = teardown);

Test(mime, builtins)
{
    static const char *const pairs[][2] = {
        {"a.html", "text/html"},        {"a.htm", "text/html"},
        {"a.css", "text/css"},          {"a.js", "text/javascript"},
        {"a.mjs", "text/javascript"},   {"a.json", "application/json"},
        {"a.txt", "text/plain"},        {"a.xml", "application/xml"},
        {"a.svg", "image/svg+xml"},     {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},         {"a.webp", "image/webp"},
        {"a.ico", "image/x-icon"},      {"a.avif", "image/avif"},
        {"a.woff", "font/woff"},        {"a.woff2", "font/woff2"},
        {"a.pdf", "application/pdf"},   {"a.wasm", "application/wasm"},
        {"a.mp4", "video/mp4"},         {"a.webm", "video/webm"},
        {"a.mp3", "audio/mpeg"},        {"a.ogg", "audio/ogg"},
        {"a.zip", "application/zip"},   {"a.gz", "application/gzip"},
        {"a.tar", "application/x-tar"}, {"a.csv", "text/csv"},
        {"a.md", "text/markdown"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        cr_expect_str_eq(look(pairs[i][0]), pairs[i][1], "%s", pairs[i][0]);
}

Test(mime, case_insensitive)
{
    cr_expect_str_eq(look("INDEX.HTML"), "text/html");
    cr_expect_str_eq(look("photo.JpEg"), "image/jpeg");
    mime_set(m, "FooBar", "application/x-foobar");
    cr_expect_str_eq(look("x.foobar"), "application/x-foobar");
    cr_expect_str_eq(look("x.FOOBAR"), "application/x-foobar");
}

Test(mime, unknown_and_no_extension)
{
    cr_expect_str_eq(look("README"), OCTET);
    cr_expect_str_eq(look("file.unknownext"), OCTET);
    cr_expect_str_eq(look("trailingdot."), OCTET);
    cr_expect_str_eq(look(""), OCTET);
    cr_expect_str_eq(look("."), OCTET);
}

Test(mime, last_extension_wins)
{
    cr_expect_str_eq(look("archive.tar.gz"), "application/gzip");
    cr_expect_str_eq(look("page.html.txt"), "text/plain");
}

Test(mime, only_final_path_segment)
{
    cr_expect_str_eq(look("/dir.html/README"), OCTET);
    cr_expect_str_eq(look("/a.b/c.d/page.css"), "text/css");
    cr_expect_str_eq(look("/dir.png/"), OCTET);
}

/* Decision: a single leading dot marks a hidden file, not an extension. */
Test(mime, dotfiles_have_no_extension)
{
    mime_set(m, "bashrc", "text/x-shellscript");
    cr_expect_str_eq(look(".bashrc"), OCTET);
    cr_expect_str_eq(look("/home/u/.bashrc"), OCTET);
    cr_expect_str_eq(look("x.bashrc"), "text/x-shellscript");
    cr_expect_str_eq(look(".config.json"), "application/json");
}

Test(mime, length_is_respected)
{
    /* Only "page.ht" is the name; the bytes after len must not be read. */
    cr_expect_str_eq(mime_lookup(m, "page.html", 7), OCTET);
    cr_expect_str_eq(mime_lookup(m, "page.css.gz", 8), "text/css");
}

Test(mime, long_extension_unknown)
{
    char ext[40], name[64];

    memset(ext, 'a', 33);
    ext[33] = '\0';
    mime_set(m, ext, "application/x-long"); /* refused: longer than 32 */
    snprintf(name, sizeof(name), "f.%s", ext);
    cr_expect_str_eq(look(name), OCTET);
    ext[32] = '\0';
    mime_set(m, ext, "application/x-long32");
    snprintf(name, sizeof(name), "f.%s", ext);
    cr_expect_str_eq(look(name), "application/x-long32");
}

Test(mime, set_overrides_builtin)
{
    mime_set(m, "html", "text/html; charset=utf-8");
    cr_expect_str_eq(look("index.html"), "text/html; charset=utf-8");
    mime_set(m, ".js", "application/javascript");
    cr_expect_str_eq(look("app.js"), "application/javascript");
}

Test(mime, old_pointer_survives_override)
{
    const char *before = look("a.css");
    mime_set(m, "css", "text/x-css");
    cr_expect_str_eq(before, "text/css");
    cr_expect_str_eq(look("a.css"), "text/x-css");
}

Test(mime, set_copies_type_string)
{
    char type[32];

    snprintf(type, sizeof(type), "%s", "application/x-one");
    mime_set(m, "one", type);
    snprintf(type, sizeof(type), "%s", "clobbered");
    cr_expect_str_eq(look("a.one"), "application/x-one");
}

Test(mime, load_file)
{
    char *path = write_types("# comment line\n"
                             "application/x-foo\tfoo  fo2\n"
                             "text/x-bar bar # trailing comment baz\n"
                             "application/no-extensions\n"
                             "\n"
                             "   \t  \n"
                             "text/x-upper UPPER\r\n"
                             "image/x-last last");

    cr_assert_eq(mime_load_file(m, path), 0);
    cr_expect_str_eq(look("a.foo"), "application/x-foo");
    cr_expect_str_eq(look("a.fo2"), "application/x-foo");
    cr_expect_str_eq(look("a.bar"), "text/x-bar");
    cr_expect_str_eq(look("a.baz"), OCTET);
    cr_expect_str_eq(look("a.upper"), "text/x-upper");
    cr_expect_str_eq(look("a.last"), "image/x-last");
    cr_expect_str_eq(look("a.html"), "text/html");
    unlink(path);
    free(path);
}

Test(mime, file_does_not_override_builtin_or_set)
{
    char *path = write_types("text/x-weird html css\napplication/x-mine mine\n"
                             "text/x-later foo\n");

    mime_set(m, "mine", "application/x-set-first");
    cr_assert_eq(mime_load_file(m, path), 0);
    cr_expect_str_eq(look("a.html"), "text/html");
    cr_expect_str_eq(look("a.css"), "text/css");
    cr_expect_str_eq(look("a.mine"), "application/x-set-first");
    cr_expect_str_eq(look("a.foo"), "text/x-later");
    mime_set(m, "foo", "text/x-set-after");
    cr_expect_str_eq(look("a.foo"), "text/x-set-after");
    unlink(path);
    free(path);
}

Test(mime, file_first_entry_wins)
{
    char *path = write_types("text/x-one dup\ntext/x-two dup\n");

    cr_assert_eq(mime_load_file(m, path), 0);
    cr_expect_str_eq(look("a.dup"), "text/x-one");
    unlink(path);
    free(path);
}

Test(mime, file_bad_type_lines_skipped)
{
    char *path = write_types("notatype ext1\n/x ext2\ntext/ ext3\ngood/type ext4\n");

    cr_assert_eq(mime_load_file(m, path), 0);
    cr_expect_str_eq(look("a.ext1"), OCTET);
    cr_expect_str_eq(look("a.ext2"), OCTET);
    cr_expect_str_eq(look("a.ext3"), OCTET);
    cr_expect_str_eq(look("a.ext4"), "good/type");
    unlink(path);
    free(path);
}

Test(mime, missing_file)
{
    cr_expect_eq(mime_load_file(m, "/nonexistent/mime.types"), -1);
    cr_expect_str_eq(look("a.html"), "text/html");
}

Test(mime, many_entries_grow_table)
{
    char ext[16], name[32], type[32];

    for (int i = 0; i < 3000; i++) {
        snprintf(ext, sizeof(ext), "e%d", i);
        snprintf(type, sizeof(type), "x/t%d", i);
        mime_set(m, ext, type);
    }
    for (int i = 0; i < 3000; i += 7) {
        snprintf(name, sizeof(name), "f.E%d", i);
        snprintf(type, sizeof(type), "x/t%d", i);
        cr_expect_str_eq(look(name), type);
    }
    cr_expect_str_eq(look("a.png"), "image/png");
}

Test(mime, system_mime_types_if_present)
{
    if (access("/etc/mime.types", R_OK) != 0)
        cr_skip_test("no /etc/mime.types");
    cr_assert_eq(mime_load_file(m, "/etc/mime.types"), 0);
    cr_expect_str_eq(look("a.html"), "text/html"); /* built-in kept */
}
