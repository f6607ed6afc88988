#include "runtime/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture since Linux 5.6 */
#endif

/* openat2 never needs more than one retry without RESOLVE_CACHED; bound it anyway. */
#define PATH_OPEN_RETRIES 8

static const char R_START[] = "path must start with '/'";
static const char R_PCT[] = "malformed percent escape";
static const char R_PCTU[] = "%u escapes are not allowed";
static const char R_NUL[] = "NUL byte in path";
static const char R_CTL[] = "control character in path";
static const char R_BSL[] = "backslash in path";
static const char R_UTF8[] = "invalid UTF-8 in path";
static const char R_CLIMB[] = "path climbs above the root";
static const char R_LONG[] = "path too long";

/* Output being built: out[0] is always '/', seg is where the current segment starts. */
struct norm {
    char *out;
    size_t cap;
    size_t w;
    size_t seg;
    unsigned need;        /* UTF-8 continuation bytes still expected */
    unsigned char lo, hi; /* range allowed for the next continuation byte */
};

static int norm_fail(char *out, size_t outcap, size_t *outlen, int *status, const char **reason,
                     const char *why)
{
    if (outcap > 0)
        out[0] = '\0';
    *outlen = 0;
    *status = 400;
    *reason = why;
    return -1;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode the escape at in[*i] == '%' into *c and step past it. */
static const char *pct_decode(const char *in, size_t inlen, size_t *i, unsigned char *c)
{
    size_t k = *i;
    int hi, lo;

    if (k + 1 < inlen && (in[k + 1] == 'u' || in[k + 1] == 'U'))
        return R_PCTU;
    if (k + 2 >= inlen)
        return R_PCT;
    hi = hexval(in[k + 1]);
    lo = hexval(in[k + 2]);
    if (hi < 0 || lo < 0)
        return R_PCT;
    *c = (unsigned char)(hi << 4 | lo);
    *i = k + 3;
    return NULL;
}

static const char *ascii_check(unsigned char c)
{
    if (c == 0)
        return R_NUL;
    if (c < 0x20 || c == 0x7f)
        return R_CTL;
    if (c == '\\')
        return R_BSL;
    return NULL;
}

/* Lead byte of a multi-byte sequence; the narrowed first-continuation ranges
 * exclude overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4). */
static const char *utf8_lead(struct norm *n, unsigned char c)
{
    n->lo = 0x80;
    n->hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n->need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        n->need = 2;
        if (c == 0xe0)
            n->lo = 0xa0;
        else if (c == 0xed)
            n->hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n->need = 3;
        if (c == 0xf0)
            n->lo = 0x90;
        else if (c == 0xf4)
            n->hi = 0x8f;
    } else {
        return R_UTF8;
    }
    return NULL;
}

static const char *byte_check(struct norm *n, unsigned char c)
{
    if (n->need > 0) {
        if (c < n->lo || c > n->hi)
            return R_UTF8;
        n->lo = 0x80;
        n->hi = 0xbf;
        n->need--;
        return NULL;
    }
    if (c < 0x80)
        return ascii_check(c);
    return utf8_lead(n, c);
}

/* Resolve the segment out[seg..w): drop "." and empty ones, pop on "..". */
static const char *norm_end_segment(struct norm *n)
{
    size_t len = n->w - n->seg;
    const char *s = n->out + n->seg;

    if (len == 1 && s[0] == '.') {
        n->w = n->seg;
    } else if (len == 2 && s[0] == '.' && s[1] == '.') {
        if (n->seg == 1)
            return R_CLIMB;
        n->w = n->seg - 1;
        while (n->out[n->w - 1] != '/')
            n->w--;
        n->seg = n->w;
    }
    return NULL;
}

static const char *norm_put(struct norm *n, unsigned char c)
{
    const char *r;

    if (c == '/') {
        if ((r = norm_end_segment(n)) != NULL)
            return r;
        if (n->out[n->w - 1] == '/')
            return NULL;
    }
    if (n->w + 1 >= n->cap)
        return R_LONG;
    n->out[n->w++] = (char)c;
    if (c == '/')
        n->seg = n->w;
    return NULL;
}

/* Printable ASCII other than '%', '/', '.', '\\' and what sorts before '0'
 * (space, '-', ...) needs no decoding, checking or segment work. */
static int is_plain(unsigned char c)
{
    return c >= '0' && c <= '~' && c != '\\';
}

/* The fast path for runs of plain bytes between UTF-8 sequences; stops one
 * short of the capacity so the slow path reports "path too long". */
static size_t norm_copy_plain(struct norm *n, const char *in, size_t inlen, size_t i)
{
    size_t w = n->w, lim = n->cap - 1;

    if (n->need > 0)
        return i;
    while (i < inlen && w < lim && is_plain((unsigned char)in[i]))
        n->out[w++] = in[i++];
    n->w = w;
    return i;
}

/* One pass and no allocation: each decoded byte is checked, then appended, and a
 * segment is resolved when its '/' or the end arrives, so out never holds more
 * bytes than were read from in. */
int path_normalize(const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen,
                   int *status, const char **reason)
{
    struct norm n = {.out = out, .cap = outcap, .w = 1, .seg = 1};
    const char *r;
    size_t i = 1;
    unsigned char c;

    if (inlen == 0 || in[0] != '/')
        return norm_fail(out, outcap, outlen, status, reason, R_START);
    if (outcap < 2)
        return norm_fail(out, outcap, outlen, status, reason, R_LONG);
    out[0] = '/';
    while (i < inlen) {
        i = norm_copy_plain(&n, in, inlen, i);
        if (i == inlen)
            break;
        c = (unsigned char)in[i];
        if (c != '%')
            i++;
        else if ((r = pct_decode(in, inlen, &i, &c)) != NULL)
            return norm_fail(out, outcap, outlen, status, reason, r);
        if ((r = byte_check(&n, c)) != NULL || (r = norm_put(&n, c)) != NULL)
            return norm_fail(out, outcap, outlen, status, reason, r);
    }
    if (n.need > 0)
        return norm_fail(out, outcap, outlen, status, reason, R_UTF8);
    if ((r = norm_end_segment(&n)) != NULL)
        return norm_fail(out, outcap, outlen, status, reason, r);
    out[n.w] = '\0';
    *outlen = n.w;
    return 0;
}

/* A normalised REL never has these; refuse them so no policy (not even ANY,
 * which uses plain openat) can be talked into leaving the root by a caller bug. */
static int rel_escapes(const char *rel)
{
    const char *s = rel;

    if (rel[0] == '/')
        return 1;
    while (*s != '\0') {
        if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
            return 1;
        while (*s != '\0' && *s != '/')
            s++;
        while (*s == '/')
            s++;
    }
    return 0;
}

static int plain_openat(int dirfd, const char *name, int flags)
{
    int fd, tries = 0;

    do
        fd = openat(dirfd, name, flags | O_CLOEXEC);
    while (fd < 0 && errno == EINTR && ++tries < PATH_OPEN_RETRIES);
    return fd;
}

static int openat2_beneath(int rootfd, const char *rel, uint64_t resolve, int oflags)
{
    struct open_how how;
    int fd, tries = 0;

    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned int)(oflags | O_CLOEXEC);
    how.resolve = resolve;
    do
        fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
    while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < PATH_OPEN_RETRIES);
    return fd;
}

/* Cleared once openat2 reports ENOSYS so later opens go straight to the walk. */
static atomic_int have_openat2 = 1;

int path_open_beneath(int rootfd, const char *rel, enum path_symlinks policy, int oflags)
{
    uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    int fd;

    if (rel_escapes(rel)) {
        errno = EXDEV;
        return -1;
    }
    if (policy == PATH_SYMLINKS_ANY)
        return plain_openat(rootfd, rel[0] != '\0' ? rel : ".", oflags);
    if (!atomic_load_explicit(&have_openat2, memory_order_relaxed))
        return path_open_walk(rootfd, rel, policy, oflags);
    if (policy == PATH_SYMLINKS_INSIDE)
        resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    fd = openat2_beneath(rootfd, rel[0] != '\0' ? rel : ".", resolve, oflags);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    atomic_store_explicit(&have_openat2, 0, memory_order_relaxed);
    return path_open_walk(rootfd, rel, policy, oflags);
}

/* One component of REL: a pointer into it and a length, never NUL-terminated. */
struct walk_comp {
    const char *p;
    size_t len;
};

/* The next component other than "." (len 0 at the end), advancing *pos past it. */
static struct walk_comp walk_next(const char **pos)
{
    const char *s = *pos;
    struct walk_comp c;

    do {
        while (*s == '/')
            s++;
        c.p = s;
        while (*s != '\0' && *s != '/')
            s++;
        c.len = (size_t)(s - c.p);
    } while (c.len == 1 && c.p[0] == '.');
    *pos = s;
    return c;
}

/* "dir/" and "dir/." name a directory, as they do for the kernel's own walk. */
static int walk_wants_dir(const char *rel)
{
    size_t len = strlen(rel);

    if (len == 0)
        return 0;
    if (rel[len - 1] == '/')
        return 1;
    return rel[len - 1] == '.' && (len == 1 || rel[len - 2] == '/');
}

static int fd_is_symlink(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
}

static int name_is_symlink(int dirfd, const char *name)
{
    struct stat st;

    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* openat with O_NOFOLLOW, reporting every symlink as ELOOP: with O_DIRECTORY
 * the kernel says ENOTDIR, and with O_PATH it returns the link itself. */
static int walk_openat(int dirfd, struct walk_comp c, int flags)
{
    char name[NAME_MAX + 1];
    int fd;

    if (c.len > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, c.p, c.len);
    name[c.len] = '\0';
    fd = plain_openat(dirfd, name, flags | O_NOFOLLOW);
    if (fd < 0 && errno == ENOTDIR && name_is_symlink(dirfd, name))
        errno = ELOOP;
    if (fd >= 0 && (flags & O_PATH) && fd_is_symlink(fd)) {
        close(fd);
        errno = ELOOP;
        fd = -1;
    }
    return fd;
}

int path_open_walk(int rootfd, const char *rel, enum path_symlinks policy, int oflags)
{
    const char *pos = rel;
    struct walk_comp cur, next;
    int dirfd = rootfd, fd, err;

    if (rel_escapes(rel)) {
        errno = EXDEV;
        return -1;
    }
    if (policy == PATH_SYMLINKS_ANY)
        return plain_openat(rootfd, rel[0] != '\0' ? rel : ".", oflags);
    cur = walk_next(&pos);
    if (cur.len == 0)
        return plain_openat(rootfd, ".", oflags);
    for (next = walk_next(&pos); next.len > 0; next = walk_next(&pos)) {
        fd = walk_openat(dirfd, cur, O_PATH | O_DIRECTORY);
        err = errno;
        if (dirfd != rootfd)
            close(dirfd);
        errno = err;
        if (fd < 0)
            return -1;
        dirfd = fd;
        cur = next;
    }
    fd = walk_openat(dirfd, cur, oflags | (walk_wants_dir(rel) ? O_DIRECTORY : 0));
    err = errno;
    if (dirfd != rootfd)
        close(dirfd);
    errno = err;
    return fd;
}

int path_errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
        return 403;
    default:
        return 500;
    }
}
