#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "www/dirlist.h"

#define ALL (DIRLIST_DATE | DIRLIST_TIME | DIRLIST_SIZE | DIRLIST_EXTENSION)
#define WEIRD "x<&\"'>y z \xc3\xa9.txt"

static char root[64];
static int dfd = -1;
static struct buf out;
static char *page;

/* Wednesday, 25 November 2026, 16:05:00 UTC */
static time_t fixed_time(void)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 25, .tm_hour = 16, .tm_min = 5};
    return timegm(&tm);
}

static void stamp(const char *name)
{
    struct timespec ts[2] = {{fixed_time(), 0}, {fixed_time(), 0}};
    cr_assert_eq(utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW), 0, "%s", name);
}

static void make_file(const char *name, const char *content)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t n = strlen(content);

    cr_assert_geq(fd, 0, "%s", name);
    cr_assert_eq(write(fd, content, n), (ssize_t)n);
    close(fd);
    stamp(name);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/test_dirlist_XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    dfd = open(root, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    make_file("b.txt", "hello");
    make_file("a.html", "<p>hi</p>\n");
    make_file("README", "");
    make_file(WEIRD, "12345678");
    make_file(".hidden", "secret");
    cr_assert_eq(mkdirat(dfd, "sub", 0755), 0);
    stamp("sub");
    cr_assert_eq(mkdirat(dfd, "Zdir", 0755), 0);
    stamp("Zdir");
    cr_assert_eq(mkdirat(dfd, ".git", 0755), 0);
    cr_assert_eq(symlinkat("b.txt", dfd, "link"), 0);
    stamp("link");
    memset(&out, 0, sizeof(out));
    page = NULL;
}

static void teardown(void)
{
    static const char *const files[] = {"b.txt", "a.html", "README", WEIRD, ".hidden", "link"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlinkat(dfd, files[i], 0);
    unlinkat(dfd, "sub", AT_REMOVEDIR);
    unlinkat(dfd, "Zdir", AT_REMOVEDIR);
    unlinkat(dfd, ".git", AT_REMOVEDIR);
    close(dfd);
    rmdir(root);
    buf_free(&out);
    free(page);
}

/* Render and keep a NUL-terminated copy of the page. */
static void render(const char *url, unsigned flags, size_t max)
{
    buf_reset(&out);
    cr_assert_eq(dirlist_render(dfd, url, flags, max, &out), 0, "errno %d", errno);
    free(page);
    page = strndup(buf_head(&out), buf_unread(&out));
}

static const char *find(const char *needle)
{
    const char *p = strstr(page, needle);
    cr_assert_not_null(p, "missing <%s> in:\n%s", needle, page);
    return p;
}

static size_t count(const char *needle)
{
    size_t n = 0;
    for (const char *p = page; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

TestSuite(dirlist, .init = setup, .fini = teardown);

Test(dirlist, page_skeleton)
{
    render("/docs/", ALL, 100);
    cr_expect_eq(strncmp(page, "<!DOCTYPE html>\n", 16), 0);
    find("<meta charset=\"utf-8\">");
    find("<title>Index of /docs/</title>");
    find("<pre>");
    find("</pre>");
    find("UTC");
    cr_expect_eq(strcmp(page + strlen(page) - 8, "</html>\n"), 0);
}

Test(dirlist, parent_link_unless_root)
{
    render("/docs/", 0, 100);
    find("<a href=\"../\">[To Parent Directory]</a>");
    render("/", 0, 100);
    cr_expect_null(strstr(page, "[To Parent Directory]"));
}

Test(dirlist, dotfiles_hidden)
{
    render("/", ALL, 100);
    cr_expect_null(strstr(page, "hidden"));
    cr_expect_null(strstr(page, ".git"));
    cr_expect_null(strstr(page, "secret"));
    cr_expect_null(strstr(page, "href=\"./\""));
    cr_expect_eq(count("<a href="), 7);
}

Test(dirlist, directories_first_then_strcmp_order)
{
    const char *zdir, *sub, *readme, *a, *b, *link, *weird;

    render("/", 0, 100);
    zdir = find(">Zdir</a>");
    sub = find(">sub</a>");
    readme = find(">README</a>");
    a = find(">a.html</a>");
    b = find(">b.txt</a>");
    link = find(">link</a>");
    weird = find("y z \xc3\xa9.txt</a>");
    cr_expect(zdir < sub);
    cr_expect(sub < readme, "directories before files");
    cr_expect(readme < a, "strcmp: uppercase first");
    cr_expect(a < b);
    cr_expect(b < link);
    cr_expect(link < weird);
}

Test(dirlist, escaping_in_text_and_href)
{
    render("/", 0, 100);
    find(" <a href=\"x%3C%26%22%27%3Ey%20z%20%C3%A9.txt\">"
         "x&lt;&amp;&quot;&#39;&gt;y z \xc3\xa9.txt</a>\n");
    cr_expect_null(strstr(page, "<&"));
}

Test(dirlist, directory_links_end_in_slash)
{
    render("/", 0, 100);
    find("<a href=\"sub/\">sub</a>");
    find("<a href=\"Zdir/\">Zdir</a>");
    find("<a href=\"b.txt\">b.txt</a>");
}

Test(dirlist, url_path_escaped)
{
    render("/a&b/<x>/", 0, 100);
    find("<title>Index of /a&amp;b/&lt;x&gt;/</title>");
    find("<h1>Index of /a&amp;b/&lt;x&gt;/</h1>");
    cr_expect_null(strstr(page, "<x>"));
}

Test(dirlist, full_line_long_date)
{
    render("/", ALL | DIRLIST_LONGDATE, 100);
    find("\n  Wednesday, November 25, 2026  4:05 PM            5 txt    "
         "<a href=\"b.txt\">b.txt</a>\n");
    find("\n  Wednesday, November 25, 2026  4:05 PM        &lt;dir&gt;        "
         "<a href=\"sub/\">sub</a>\n");
    find("\n  Wednesday, November 25, 2026  4:05 PM            0        "
         "<a href=\"README\">README</a>\n");
    find("\n  Wednesday, November 25, 2026  4:05 PM       &lt;link&gt;        "
         "<a href=\"link\">link</a>\n");
}

Test(dirlist, full_line_short_date)
{
    render("/", DIRLIST_DATE | DIRLIST_TIME | DIRLIST_SIZE, 100);
    find("\n 11/25/2026  4:05 PM           10 <a href=\"a.html\">a.html</a>\n");
}

Test(dirlist, columns_selectable)
{
    render("/", DIRLIST_SIZE, 100);
    find("\n            8 <a href=\"x%3C");
    cr_expect_null(strstr(page, "2026"));
    cr_expect_null(strstr(page, "PM"));
    render("/", DIRLIST_TIME, 100);
    find("\n  4:05 PM <a href=\"b.txt\">");
    render("/", DIRLIST_EXTENSION, 100);
    find("\n html   <a href=\"a.html\">");
    find("\n        <a href=\"README\">");
    render("/", 0, 100);
    find("\n <a href=\"b.txt\">b.txt</a>\n");
}

Test(dirlist, truncation_note)
{
    render("/", 0, 2);
    cr_expect_eq(count("<a href=") - count("[To Parent"), 2);
    find("\xe2\x80\xa6 listing truncated after 2 entries");
}

Test(dirlist, no_note_when_everything_fits)
{
    render("/", 0, 7);
    cr_expect_eq(count("<a href="), 7);
    cr_expect_null(strstr(page, "truncated"));
}

Test(dirlist, caller_fd_survives_and_rerender_is_identical)
{
    char *first;

    render("/", ALL, 100);
    first = strdup(page);
    cr_expect_neq(fcntl(dfd, F_GETFD), -1, "caller's fd must stay open");
    render("/", ALL, 100);
    cr_expect_str_eq(page, first);
    free(first);
}

Test(dirlist, appends_to_existing_buffer)
{
    buf_puts(&out, "HEAD");
    cr_assert_eq(dirlist_render(dfd, "/", 0, 100, &out), 0);
    cr_expect_eq(memcmp(buf_head(&out), "HEAD<!DOCTYPE html>", 19), 0);
}

Test(dirlist, not_a_directory)
{
    int fd = openat(dfd, "b.txt", O_RDONLY);

    cr_assert_geq(fd, 0);
    cr_expect_eq(dirlist_render(fd, "/", 0, 100, &out), -1);
    cr_expect_eq(errno, ENOTDIR);
    cr_expect_eq(buf_unread(&out), 0);
    close(fd);
    cr_expect_eq(dirlist_render(-1, "/", 0, 100, &out), -1);
    cr_expect_eq(errno, EBADF);
}

Test(dirlist, empty_directory)
{
    int sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);

    cr_assert_geq(sub, 0);
    cr_assert_eq(dirlist_render(sub, "/sub/", ALL, 100, &out), 0);
    page = strndup(buf_head(&out), buf_unread(&out));
    cr_expect_eq(count("<a href="), 1); /* only the parent link */
    close(sub);
}
