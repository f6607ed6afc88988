/*
 * Unit tests for www/path: the normalisation table, the buffer and reason
 * contract, and opening beneath a root in a temporary tree (openat2 policies,
 * the component walk used when openat2 is missing, and errno → status).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#include "runtime/path.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* ---- normalisation table ---- */

/* Criterion may hand parameters to a re-executed worker, so the strings live
 * inside the struct rather than behind pointers. */
struct ncase {
    char in[40];
    int ok;          /* 0: refused with 400 */
    char out[40];    /* expected output when ok */
    char reason[40]; /* expected reason when refused */
};

/* clang-format off */
#define OK(i, o) {i, 1, o, ""}
#define BAD(i, r) {i, 0, "", r}
/* clang-format on */

#define CLIMB "path climbs above the root"
#define UTF8 "invalid UTF-8 in path"
#define PCT "malformed percent escape"
#define PCTU "%u escapes are not allowed"
#define CTL "control character in path"
#define BSL "backslash in path"
#define START "path must start with '/'"

static struct ncase ncases[] = {
    OK("/", "/"),
    OK("/index.html", "/index.html"),
    OK("/a%20b/../c.html", "/c.html"),
    OK("/a%20b", "/a b"),
    OK("/a/./b", "/a/b"),
    OK("/a/b/../c", "/a/c"),
    OK("//a///b", "/a/b"),
    OK("/a/..", "/"),
    OK("/a/.", "/a/"),
    OK("/a/b/", "/a/b/"),
    OK("/a/b/..", "/a/"),
    OK("/a/b/../", "/a/"),
    OK("/a/b/c/../../d", "/a/d"),
    OK("/a//../b", "/b"),
    OK("/.", "/"),
    OK("/./", "/"),
    OK("/a/%2e/b", "/a/b"),
    OK("/a/.%2e", "/"),
    OK("/a/.%2e/b", "/b"),
    OK("/a/%2e.", "/"),
    OK("/a/%2E%2e/b", "/b"),
    OK("/%4a%4A%4b", "/JJK"),
    OK("/%252e%252e", "/%2e%2e"),
    OK("/%252e", "/%2e"),
    OK("/%25", "/%"),
    OK("/caf%c3%a9", "/caf\xc3\xa9"),
    OK("/caf\xc3\xa9", "/caf\xc3\xa9"),
    OK("/%e2%82%ac", "/\xe2\x82\xac"),
    OK("/%F0%9F%98%80.txt", "/\xf0\x9f\x98\x80.txt"),
    OK("/%ef%bf%bf", "/\xef\xbf\xbf"),
    OK("/%f4%8f%bf%bf", "/\xf4\x8f\xbf\xbf"),
    OK("/a%2fb", "/a/b"),
    OK("/a%2Fb%2F", "/a/b/"),
    OK("/...", "/..."),
    OK("/..a", "/..a"),
    OK("/a..", "/a.."),
    OK("/.hidden", "/.hidden"),
    OK("/a/.../b", "/a/.../b"),
    OK("/a?b#c", "/a?b#c"),
    BAD("/..", CLIMB),
    BAD("/../", CLIMB),
    BAD("/../etc/passwd", CLIMB),
    BAD("/a/../../b", CLIMB),
    BAD("/..%2f..%2fetc/passwd", CLIMB),
    BAD("/%2e%2e", CLIMB),
    BAD("/%2e%2e/x", CLIMB),
    BAD("/.%2e", CLIMB),
    BAD("/%2e.", CLIMB),
    BAD("/a%2f..%2f..", CLIMB),
    BAD("/./..", CLIMB),
    BAD("/%c0%af", UTF8),
    BAD("/%c0%ae", UTF8),
    BAD("/%c1%bf", UTF8),
    BAD("/%e0%80%af", UTF8),
    BAD("/%e0%9f%bf", UTF8),
    BAD("/%f0%8f%bf%bf", UTF8),
    BAD("/%ed%a0%80", UTF8),
    BAD("/%ed%bf%bf", UTF8),
    BAD("/%f4%90%80%80", UTF8),
    BAD("/%f5%80%80%80", UTF8),
    BAD("/%ff", UTF8),
    BAD("/%fe", UTF8),
    BAD("/%80", UTF8),
    BAD("/a%bf", UTF8),
    BAD("/%c3", UTF8),
    BAD("/%c3/", UTF8),
    BAD("/%e2%82", UTF8),
    BAD("/%f0%9f%98", UTF8),
    BAD("/%c3%c3", UTF8),
    BAD("/\xff", UTF8),
    BAD("/\xc0\xaf", UTF8),
    BAD("/%00", "NUL byte in path"),
    BAD("/a%0ab", CTL),
    BAD("/a%0d%0a", CTL),
    BAD("/a%09b", CTL),
    BAD("/a%1f", CTL),
    BAD("/a%7f", CTL),
    BAD("/a\x01", CTL),
    BAD("/a\\b", BSL),
    BAD("/a%5cb", BSL),
    BAD("/a%5C..%5Cb", BSL),
    BAD("/..\\..\\x", BSL),
    BAD("/%", PCT),
    BAD("/%2", PCT),
    BAD("/a%", PCT),
    BAD("/%zz", PCT),
    BAD("/%2g", PCT),
    BAD("/%g2", PCT),
    BAD("/% 2", PCT),
    BAD("/%u002e", PCTU),
    BAD("/%U002E", PCTU),
    BAD("/%u", PCTU),
    BAD("a/b", START),
    BAD("", START),
    BAD("%2fa", START),
    BAD("\\a", START),
};

ParameterizedTestParameters(path_normalize, table)
{
    return cr_make_param_array(struct ncase, ncases, sizeof ncases / sizeof ncases[0]);
}

ParameterizedTest(struct ncase *c, path_normalize, table)
{
    char out[256];
    size_t inlen = strlen(c->in), outlen = 12345;
    int status = 0;
    const char *reason = NULL;
    int rc = path_normalize(c->in, inlen, out, sizeof out, &outlen, &status, &reason);

    if (c->ok) {
        cr_assert_eq(rc, 0, "%s: refused (%s)", c->in, reason ? reason : "?");
        cr_assert_str_eq(out, c->out, "%s", c->in);
        cr_assert_eq(outlen, strlen(c->out), "%s", c->in);
        return;
    }
    cr_assert_eq(rc, -1, "%s: accepted as %s", c->in, out);
    cr_assert_eq(status, 400, "%s", c->in);
    cr_assert_not_null(reason, "%s", c->in);
    cr_assert_str_eq(reason, c->reason, "%s", c->in);
}

static int norm(const char *in, size_t inlen, char *out, size_t cap, const char **reason)
{
    size_t outlen;
    int status = 0, rc;

    rc = path_normalize(in, inlen, out, cap, &outlen, &status, reason);
    if (rc == 0)
        cr_assert_eq(outlen, strlen(out));
    else
        cr_assert_eq(status, 400);
    return rc;
}

Test(path_normalize, raw_nul_refused)
{
    char out[16];
    const char *reason = NULL;

    cr_assert_eq(norm("/a\0b", 4, out, sizeof out, &reason), -1);
    cr_assert_str_eq(reason, "NUL byte in path");
}

Test(path_normalize, length_is_respected)
{
    char out[16];
    const char *reason = NULL;

    /* Only the first 2 bytes are the path; the rest must not be read. */
    cr_assert_eq(norm("/a/../../x", 2, out, sizeof out, &reason), 0);
    cr_assert_str_eq(out, "/a");
    /* A truncated escape at the length boundary is malformed. */
    cr_assert_eq(norm("/%2e", 3, out, sizeof out, &reason), -1);
    cr_assert_str_eq(reason, PCT);
}

Test(path_normalize, outcap_inlen_plus_two_is_enough)
{
    static const char *ins[] = {"/a/.", "/abc", "/a/b/", "/", "/x/..", "//////"};
    char out[32];
    const char *reason;
    size_t i;

    for (i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        size_t len = strlen(ins[i]);
        cr_assert_eq(norm(ins[i], len, out, len + 2, &reason), 0, "%s", ins[i]);
    }
}

Test(path_normalize, outcap_too_small)
{
    char out[8];
    const char *reason = NULL;

    cr_assert_eq(norm("/abcdefghij", 11, out, sizeof out, &reason), -1);
    cr_assert_str_eq(reason, "path too long");
    cr_assert_eq(norm("/", 1, out, 1, &reason), -1);
    cr_assert_str_eq(reason, "path too long");
    /* Exactly fits: 7 bytes plus the NUL. */
    cr_assert_eq(norm("/abcdef", 7, out, sizeof out, &reason), 0);
    cr_assert_str_eq(out, "/abcdef");
}

Test(path_normalize, long_dot_dot_run)
{
    char in[4096], out[4096 + 2];
    size_t n = 0, i;
    const char *reason;

    for (i = 0; i < 500; i++) {
        memcpy(in + n, "/d", 2);
        n += 2;
    }
    for (i = 0; i < 500; i++) {
        memcpy(in + n, "/..", 3);
        n += 3;
    }
    cr_assert_eq(norm(in, n, out, sizeof out, &reason), 0);
    cr_assert_str_eq(out, "/");
    memcpy(in + n, "/..", 3);
    cr_assert_eq(norm(in, n + 3, out, sizeof out, &reason), -1);
    cr_assert_str_eq(reason, CLIMB);
}

/* ---- filesystem ---- */

static char tmpdir[64];
static char rootdir[PATH_MAX];
static int rootfd = -1;

static void mkfile(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
}

static void in_root(char *buf, size_t cap, const char *rel)
{
    int n = snprintf(buf, cap, "%s/%s", rootdir, rel);

    cr_assert(n > 0 && (size_t)n < cap);
}

static void mklink(const char *target, const char *rel)
{
    char p[PATH_MAX];

    in_root(p, sizeof p, rel);
    cr_assert_eq(symlink(target, p), 0, "%s: %s", rel, strerror(errno));
}

static void mkroot_file(const char *rel, const char *content)
{
    char p[PATH_MAX];

    in_root(p, sizeof p, rel);
    mkfile(p, content);
}

static void mkroot_dir(const char *rel)
{
    char p[PATH_MAX];

    in_root(p, sizeof p, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "%s: %s", rel, strerror(errno));
}

/*
 * tmp/outside.txt               "outside"
 * tmp/root/file.txt             "hello"
 * tmp/root/sub/inner.txt        "inner"
 * tmp/root/sub/deeper/x.txt     "x"
 * links in root: link_in -> file.txt, link_dir -> sub, chain1 -> chain2 ->
 * sub/../link_in, link_etc -> /etc, link_up -> ../outside.txt,
 * link_abs -> <root>/file.txt (absolute, pointing inside)
 */
static void tree_setup(void)
{
    char p[PATH_MAX];

    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/test_path.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(rootdir, sizeof rootdir, "%s/root", tmpdir);
    cr_assert_eq(mkdir(rootdir, 0755), 0);
    snprintf(p, sizeof p, "%s/outside.txt", tmpdir);
    mkfile(p, "outside");
    mkroot_file("file.txt", "hello");
    mkroot_dir("sub");
    mkroot_dir("sub/deeper");
    mkroot_file("sub/inner.txt", "inner");
    mkroot_file("sub/deeper/x.txt", "x");
    mklink("file.txt", "link_in");
    mklink("sub", "link_dir");
    mklink("chain2", "chain1");
    mklink("sub/../link_in", "chain2");
    mklink("/etc", "link_etc");
    mklink("../outside.txt", "link_up");
    in_root(p, sizeof p, "file.txt");
    mklink(p, "link_abs");
    rootfd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(rootfd, 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void tree_teardown(void)
{
    if (rootfd >= 0)
        close(rootfd);
    rootfd = -1;
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(path_open, .init = tree_setup, .fini = tree_teardown);
TestSuite(path_walk, .init = tree_setup, .fini = tree_teardown);
TestSuite(path_fallback, .init = tree_setup, .fini = tree_teardown);

typedef int (*open_fn)(int, const char *, enum path_symlinks, int);

/* Open, read everything and compare; closes the descriptor. */
static void expect_content(open_fn fn, const char *rel, enum path_symlinks pol, const char *want)
{
    char buf[64];
    ssize_t n;
    int fd = fn(rootfd, rel, pol, O_RDONLY | O_NONBLOCK);

    cr_assert_geq(fd, 0, "%s (policy %d): %s", rel, pol, strerror(errno));
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s: no O_CLOEXEC", rel);
    n = read(fd, buf, sizeof buf - 1);
    cr_assert_geq(n, 0);
    buf[n] = '\0';
    cr_assert_str_eq(buf, want, "%s (policy %d)", rel, pol);
    close(fd);
}

static void expect_errno(open_fn fn, const char *rel, enum path_symlinks pol, int oflags, int err)
{
    int fd;

    errno = 0;
    fd = fn(rootfd, rel, pol, oflags);
    if (fd >= 0)
        close(fd);
    cr_assert_eq(fd, -1, "%s (policy %d) opened", rel, pol);
    cr_assert_eq(errno, err, "%s (policy %d): want %s, got %s", rel, pol, strerror(err),
                 strerror(errno));
}

static void expect_dir(open_fn fn, const char *rel, enum path_symlinks pol, int oflags)
{
    struct stat st;
    int fd = fn(rootfd, rel, pol, oflags);

    cr_assert_geq(fd, 0, "%s (policy %d): %s", rel, pol, strerror(errno));
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert(S_ISDIR(st.st_mode), "%s is not a directory", rel);
    close(fd);
}

/* The lowest free descriptor, to catch descriptors leaked by a walk. */
static int lowest_free_fd(void)
{
    int fd = dup(0);

    cr_assert_geq(fd, 0);
    close(fd);
    return fd;
}

Test(path_open, file_inside_opens)
{
    expect_content(path_open_beneath, "file.txt", PATH_SYMLINKS_INSIDE, "hello");
    expect_content(path_open_beneath, "sub/inner.txt", PATH_SYMLINKS_NEVER, "inner");
    expect_content(path_open_beneath, "sub/deeper/x.txt", PATH_SYMLINKS_ANY, "x");
}

Test(path_open, root_and_directories)
{
    expect_dir(path_open_beneath, "", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY);
    expect_dir(path_open_beneath, "", PATH_SYMLINKS_ANY, O_RDONLY | O_DIRECTORY);
    expect_dir(path_open_beneath, "sub", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY);
    expect_dir(path_open_beneath, "sub/", PATH_SYMLINKS_NEVER, O_RDONLY | O_DIRECTORY);
    expect_errno(path_open_beneath, "file.txt", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY,
                 ENOTDIR);
}

Test(path_open, dot_dot_escape_impossible)
{
    static const char *rels[] = {"../outside.txt", "sub/../../outside.txt", "..", "/etc/passwd"};
    size_t i;
    int p;

    for (i = 0; i < sizeof rels / sizeof rels[0]; i++)
        for (p = PATH_SYMLINKS_INSIDE; p <= PATH_SYMLINKS_ANY; p++)
            expect_errno(path_open_beneath, rels[i], p, O_RDONLY, EXDEV);
    cr_assert_eq(path_errno_status(EXDEV), 403);
}

Test(path_open, symlink_inside)
{
    expect_content(path_open_beneath, "link_in", PATH_SYMLINKS_INSIDE, "hello");
    expect_content(path_open_beneath, "link_dir/inner.txt", PATH_SYMLINKS_INSIDE, "inner");
    expect_content(path_open_beneath, "link_in", PATH_SYMLINKS_ANY, "hello");
    expect_errno(path_open_beneath, "link_in", PATH_SYMLINKS_NEVER, O_RDONLY, ELOOP);
    expect_errno(path_open_beneath, "link_dir/inner.txt", PATH_SYMLINKS_NEVER, O_RDONLY, ELOOP);
    cr_assert_eq(path_errno_status(ELOOP), 403);
}

Test(path_open, symlink_chain)
{
    expect_content(path_open_beneath, "chain1", PATH_SYMLINKS_INSIDE, "hello");
    expect_content(path_open_beneath, "chain1", PATH_SYMLINKS_ANY, "hello");
    expect_errno(path_open_beneath, "chain1", PATH_SYMLINKS_NEVER, O_RDONLY, ELOOP);
}

Test(path_open, symlink_escaping)
{
    expect_errno(path_open_beneath, "link_etc", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY,
                 EXDEV);
    expect_errno(path_open_beneath, "link_etc/passwd", PATH_SYMLINKS_INSIDE, O_RDONLY, EXDEV);
    expect_errno(path_open_beneath, "link_etc", PATH_SYMLINKS_NEVER, O_RDONLY | O_DIRECTORY, ELOOP);
    expect_dir(path_open_beneath, "link_etc", PATH_SYMLINKS_ANY, O_RDONLY | O_DIRECTORY);
    expect_errno(path_open_beneath, "link_up", PATH_SYMLINKS_INSIDE, O_RDONLY, EXDEV);
    expect_content(path_open_beneath, "link_up", PATH_SYMLINKS_ANY, "outside");
}

/* RESOLVE_BENEATH refuses an absolute symlink even when its target lies
 * inside the root: the kernel cannot know where "/" is meant to be. */
Test(path_open, absolute_symlink_to_inside_is_exdev)
{
    expect_errno(path_open_beneath, "link_abs", PATH_SYMLINKS_INSIDE, O_RDONLY, EXDEV);
    expect_errno(path_open_beneath, "link_abs", PATH_SYMLINKS_NEVER, O_RDONLY, ELOOP);
    expect_content(path_open_beneath, "link_abs", PATH_SYMLINKS_ANY, "hello");
}

Test(path_open, missing)
{
    expect_errno(path_open_beneath, "nope.html", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
    expect_errno(path_open_beneath, "nope/x", PATH_SYMLINKS_NEVER, O_RDONLY, ENOENT);
    expect_errno(path_open_beneath, "nope", PATH_SYMLINKS_ANY, O_RDONLY, ENOENT);
    expect_errno(path_open_beneath, "file.txt/x", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOTDIR);
    cr_assert_eq(path_errno_status(ENOENT), 404);
    cr_assert_eq(path_errno_status(ENOTDIR), 404);
}

Test(path_open, normalised_then_opened)
{
    char out[64];
    size_t outlen;
    int status;
    const char *reason;
    static const char in[] = "/sub/deeper/..%2f.%2finner.txt";

    cr_assert_eq(path_normalize(in, sizeof in - 1, out, sizeof out, &outlen, &status, &reason), 0);
    expect_content(path_open_beneath, out + 1, PATH_SYMLINKS_NEVER, "inner");
}

Test(path_errno_status, mapping)
{
    cr_assert_eq(path_errno_status(ENOENT), 404);
    cr_assert_eq(path_errno_status(ENOTDIR), 404);
    cr_assert_eq(path_errno_status(ENAMETOOLONG), 404);
    cr_assert_eq(path_errno_status(EACCES), 403);
    cr_assert_eq(path_errno_status(EPERM), 403);
    cr_assert_eq(path_errno_status(EXDEV), 403);
    cr_assert_eq(path_errno_status(ELOOP), 403);
    cr_assert_eq(path_errno_status(EMFILE), 500);
    cr_assert_eq(path_errno_status(EIO), 500);
    cr_assert_eq(path_errno_status(0), 500);
}

/* ---- the component walk (openat2 missing) ---- */

Test(path_walk, plain_files_and_dirs)
{
    expect_content(path_open_walk, "file.txt", PATH_SYMLINKS_INSIDE, "hello");
    expect_content(path_open_walk, "sub/deeper/x.txt", PATH_SYMLINKS_NEVER, "x");
    expect_content(path_open_walk, "./sub//inner.txt", PATH_SYMLINKS_INSIDE, "inner");
    expect_dir(path_open_walk, "", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY);
    expect_dir(path_open_walk, "sub/deeper", PATH_SYMLINKS_INSIDE, O_RDONLY | O_DIRECTORY);
    expect_dir(path_open_walk, "sub/", PATH_SYMLINKS_INSIDE, O_RDONLY);
    expect_dir(path_open_walk, "sub/.", PATH_SYMLINKS_INSIDE, O_RDONLY);
}

Test(path_walk, refuses_every_symlink)
{
    int p;

    for (p = PATH_SYMLINKS_INSIDE; p <= PATH_SYMLINKS_NEVER; p++) {
        expect_errno(path_open_walk, "link_in", p, O_RDONLY, ELOOP);
        expect_errno(path_open_walk, "link_in", p, O_PATH, ELOOP);
        expect_errno(path_open_walk, "link_dir", p, O_RDONLY | O_DIRECTORY, ELOOP);
        expect_errno(path_open_walk, "link_dir/inner.txt", p, O_RDONLY, ELOOP);
        expect_errno(path_open_walk, "link_dir/", p, O_RDONLY, ELOOP);
        expect_errno(path_open_walk, "chain1", p, O_RDONLY, ELOOP);
        expect_errno(path_open_walk, "link_etc/passwd", p, O_RDONLY, ELOOP);
        expect_errno(path_open_walk, "link_abs", p, O_RDONLY, ELOOP);
    }
}

Test(path_walk, any_follows_everything)
{
    expect_content(path_open_walk, "link_in", PATH_SYMLINKS_ANY, "hello");
    expect_content(path_open_walk, "link_up", PATH_SYMLINKS_ANY, "outside");
    expect_dir(path_open_walk, "link_etc", PATH_SYMLINKS_ANY, O_RDONLY | O_DIRECTORY);
}

Test(path_walk, errors)
{
    char longname[NAME_MAX + 8];

    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    expect_errno(path_open_walk, "nope", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
    expect_errno(path_open_walk, "nope/x", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
    expect_errno(path_open_walk, "file.txt/x", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOTDIR);
    expect_errno(path_open_walk, "file.txt/", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOTDIR);
    expect_errno(path_open_walk, "file.txt", PATH_SYMLINKS_NEVER, O_RDONLY | O_DIRECTORY, ENOTDIR);
    expect_errno(path_open_walk, "../outside.txt", PATH_SYMLINKS_INSIDE, O_RDONLY, EXDEV);
    expect_errno(path_open_walk, "sub/../../outside.txt", PATH_SYMLINKS_ANY, O_RDONLY, EXDEV);
    expect_errno(path_open_walk, "/etc/passwd", PATH_SYMLINKS_NEVER, O_RDONLY, EXDEV);
    expect_errno(path_open_walk, longname, PATH_SYMLINKS_INSIDE, O_RDONLY, ENAMETOOLONG);
}

Test(path_walk, no_descriptor_leaks)
{
    int before = lowest_free_fd();

    expect_errno(path_open_walk, "sub/deeper/nope", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
    expect_errno(path_open_walk, "sub/link/x", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
    expect_errno(path_open_walk, "sub/deeper/x.txt/y", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOTDIR);
    expect_content(path_open_walk, "sub/deeper/x.txt", PATH_SYMLINKS_INSIDE, "x");
    cr_assert_eq(lowest_free_fd(), before);
}

/* ---- path_open_beneath when the kernel (or seccomp) says ENOSYS ---- */

/* Criterion runs each test in its own process, so the filter dies with it. */
static void deny_openat2(void)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {.len = sizeof prog / sizeof prog[0], .filter = prog};
    struct open_how how = {.flags = O_RDONLY};

    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog), 0, "%s", strerror(errno));
    cr_assert_eq(syscall(SYS_openat2, rootfd, "file.txt", &how, sizeof how), -1);
    cr_assert_eq(errno, ENOSYS);
}

Test(path_fallback, enosys_falls_back_to_walk)
{
    deny_openat2();
    /* Twice: once through the ENOSYS probe, once with openat2 remembered as missing. */
    expect_content(path_open_beneath, "sub/inner.txt", PATH_SYMLINKS_INSIDE, "inner");
    expect_content(path_open_beneath, "sub/inner.txt", PATH_SYMLINKS_INSIDE, "inner");
    expect_dir(path_open_beneath, "", PATH_SYMLINKS_NEVER, O_RDONLY | O_DIRECTORY);
    expect_errno(path_open_beneath, "nope", PATH_SYMLINKS_INSIDE, O_RDONLY, ENOENT);
}

Test(path_fallback, enosys_refuses_symlinks)
{
    deny_openat2();
    expect_errno(path_open_beneath, "link_in", PATH_SYMLINKS_INSIDE, O_RDONLY, ELOOP);
    expect_errno(path_open_beneath, "link_dir/inner.txt", PATH_SYMLINKS_INSIDE, O_RDONLY, ELOOP);
    expect_errno(path_open_beneath, "link_etc/passwd", PATH_SYMLINKS_INSIDE, O_RDONLY, ELOOP);
    expect_errno(path_open_beneath, "link_in", PATH_SYMLINKS_NEVER, O_RDONLY, ELOOP);
    expect_content(path_open_beneath, "link_in", PATH_SYMLINKS_ANY, "hello");
}
