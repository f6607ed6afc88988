#include "www/dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

#define DIRLIST_W_LONGDATE 29 /* "Wednesday, September 30, 2026" */
#define DIRLIST_W_DATE 10     /* "11/25/2026" */
#define DIRLIST_W_TIME 8      /* "11:05 PM" */
#define DIRLIST_W_SIZE 12
#define DIRLIST_W_EXT 6

enum dirlist_kind { DIRLIST_K_DIR, DIRLIST_K_FILE, DIRLIST_K_LINK };

struct dirlist_entry {
    char *name;
    size_t len;
    enum dirlist_kind kind;
    uint64_t size;
    time_t mtime;
};

struct dirlist_set {
    struct dirlist_entry *v;
    size_t n, cap;
    bool truncated;
};

static const char *const dirlist_wday[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
static const char *const dirlist_month[12] = {"January",   "February", "March",    "April",
                                              "May",       "June",     "July",     "August",
                                              "September", "October",  "November", "December"};

static void dirlist_set_free(struct dirlist_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i].name);
    free(set->v);
}

/* Stat NAME without following it; false for entries we do not list. */
static bool dirlist_stat(int dirfd, const char *name, struct dirlist_entry *e)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return false; /* vanished since readdir: not worth failing the page */
    if (S_ISDIR(st.st_mode))
        e->kind = DIRLIST_K_DIR;
    else if (S_ISREG(st.st_mode))
        e->kind = DIRLIST_K_FILE;
    else if (S_ISLNK(st.st_mode))
        e->kind = DIRLIST_K_LINK;
    else
        return false; /* fifos, sockets, devices are never served */
    e->size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    e->mtime = st.st_mtim.tv_sec;
    return true;
}

static void dirlist_add(struct dirlist_set *set, const struct dirlist_entry *e, const char *name)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 32;
        set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
    }
    set->v[set->n] = *e;
    set->v[set->n].len = strlen(name);
    set->v[set->n].name = xstrndup(name, set->v[set->n].len);
    set->n++;
}

/* Read at most MAX listable entries; -1 with errno on a read error. */
static int dirlist_read(DIR *d, int dirfd, size_t max, struct dirlist_set *set)
{
    struct dirent *de;
    struct dirlist_entry e;

    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL)
            return errno ? -1 : 0;
        if (de->d_name[0] == '.' || !dirlist_stat(dirfd, de->d_name, &e))
            continue;
        if (set->n >= max) {
            set->truncated = true;
            return 0;
        }
        dirlist_add(set, &e, de->d_name);
    }
}

static int dirlist_cmp(const void *a, const void *b)
{
    const struct dirlist_entry *x = a, *y = b;
    bool xd = x->kind == DIRLIST_K_DIR, yd = y->kind == DIRLIST_K_DIR;

    if (xd != yd)
        return xd ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Open our own stream on a duplicate so the caller's descriptor survives closedir. */
static DIR *dirlist_open(int dirfd)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d;
    int saved;

    if (fd < 0)
        return NULL;
    d = fdopendir(fd);
    if (d == NULL) {
        saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    /* The duplicate shares the file offset with the caller's descriptor. */
    rewinddir(d);
    return d;
}

/* HTML text: escape the five significant characters, replace control bytes. */
static void dirlist_html(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            buf_puts(out, "&amp;");
            break;
        case '<':
            buf_puts(out, "&lt;");
            break;
        case '>':
            buf_puts(out, "&gt;");
            break;
        case '"':
            buf_puts(out, "&quot;");
            break;
        case '\'':
            buf_puts(out, "&#39;");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                c = '?'; /* a newline or escape would break the <pre> layout */
            buf_append(out, &c, 1);
        }
    }
}

static bool dirlist_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* A relative href: every byte but the unreserved set is percent-encoded. */
static void dirlist_href(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (dirlist_unreserved(c)) {
            buf_append(out, &c, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 0xf]};
            buf_append(out, esc, 3);
        }
    }
}

static void dirlist_date(struct buf *out, const struct tm *tm, unsigned flags)
{
    if (flags & DIRLIST_LONGDATE) {
        char s[64];
        snprintf(s, sizeof(s), "%s, %s %02d, %04d", dirlist_wday[tm->tm_wday % 7],
                 dirlist_month[tm->tm_mon % 12], tm->tm_mday, tm->tm_year + 1900);
        buf_printf(out, " %*s", DIRLIST_W_LONGDATE, s);
    } else {
        buf_printf(out, " %02d/%02d/%04d", tm->tm_mon + 1, tm->tm_mday, tm->tm_year + 1900);
    }
}

static void dirlist_time(struct buf *out, const struct tm *tm)
{
    int h = tm->tm_hour % 12;

    buf_printf(out, " %2d:%02d %s", h ? h : 12, tm->tm_min, tm->tm_hour < 12 ? "AM" : "PM");
}

/* Right-aligned size; the markers are padded by their visible width. */
static void dirlist_size(struct buf *out, const struct dirlist_entry *e)
{
    if (e->kind == DIRLIST_K_DIR)
        buf_printf(out, " %*s&lt;dir&gt;", DIRLIST_W_SIZE - 5, "");
    else if (e->kind == DIRLIST_K_LINK)
        buf_printf(out, " %*s&lt;link&gt;", DIRLIST_W_SIZE - 6, "");
    else
        buf_printf(out, " %*" PRIu64, DIRLIST_W_SIZE, e->size);
}

/* The text after the last dot (not a leading one); empty for directories. */
static void dirlist_ext(struct buf *out, const struct dirlist_entry *e)
{
    const char *dot = e->kind == DIRLIST_K_DIR ? NULL : strrchr(e->name, '.');
    size_t n = 0;

    buf_puts(out, " ");
    if (dot != NULL && dot != e->name) {
        n = e->len - (size_t)(dot + 1 - e->name);
        dirlist_html(out, dot + 1, n);
    }
    if (n < DIRLIST_W_EXT)
        buf_printf(out, "%*s", (int)(DIRLIST_W_EXT - n), "");
}

static void dirlist_line(struct buf *out, const struct dirlist_entry *e, unsigned flags)
{
    struct tm tm;

    if (gmtime_r(&e->mtime, &tm) == NULL) { /* a year beyond int: show the epoch */
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
        tm.tm_wday = 4;
    }
    if (flags & DIRLIST_DATE)
        dirlist_date(out, &tm, flags);
    if (flags & DIRLIST_TIME)
        dirlist_time(out, &tm);
    if (flags & DIRLIST_SIZE)
        dirlist_size(out, e);
    if (flags & DIRLIST_EXTENSION)
        dirlist_ext(out, e);
    buf_puts(out, " <a href=\"");
    dirlist_href(out, e->name, e->len);
    if (e->kind == DIRLIST_K_DIR)
        buf_puts(out, "/");
    buf_puts(out, "\">");
    dirlist_html(out, e->name, e->len);
    buf_puts(out, "</a>\n");
}

static void dirlist_head(struct buf *out, const char *url_path)
{
    buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<title>Index of ");
    dirlist_html(out, url_path, strlen(url_path));
    buf_puts(out, "</title>\n</head>\n<body>\n<h1>Index of ");
    dirlist_html(out, url_path, strlen(url_path));
    buf_puts(out, "</h1>\n<hr>\n<pre>");
    if (strcmp(url_path, "/") != 0)
        buf_puts(out, "<a href=\"../\">[To Parent Directory]</a>\n");
    buf_puts(out, "\n");
}

static void dirlist_page(const struct dirlist_set *set, const char *url_path, unsigned flags,
                         size_t max_entries, struct buf *out)
{
    dirlist_head(out, url_path);
    for (size_t i = 0; i < set->n; i++)
        dirlist_line(out, &set->v[i], flags);
    if (set->truncated)
        buf_printf(out, "\n\xe2\x80\xa6 listing truncated after %zu entries\n", max_entries);
    buf_puts(out, "</pre>\n<hr>\n");
    if (flags & (DIRLIST_DATE | DIRLIST_TIME))
        buf_puts(out, "<p>Times are UTC.</p>\n");
    buf_puts(out, "</body>\n</html>\n");
}

int dirlist_render(int dirfd, const char *url_path, unsigned flags, size_t max_entries,
                   struct buf *out)
{
    struct dirlist_set set = {NULL, 0, 0, false};
    DIR *d = dirlist_open(dirfd);
    int rc, saved;

    if (d == NULL)
        return -1;
    rc = dirlist_read(d, dirfd, max_entries, &set);
    saved = errno;
    closedir(d);
    if (rc == 0) {
        if (set.n > 1)
            qsort(set.v, set.n, sizeof(*set.v), dirlist_cmp);
        dirlist_page(&set, url_path ? url_path : "/", flags, max_entries, out);
    }
    dirlist_set_free(&set);
    errno = saved;
    return rc;
}
