/* Unit tests for runtime/zcache: copies made once, found again, bounded, kept across opens. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/zcache.h"

static char dir[64], cache[96];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zcache-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cache, sizeof(cache), "%s/cache/gzip", dir);
    cr_assert_eq(zcache_open(cache), 0);
}

static void teardown(void)
{
    char cmd[128];

    zcache_close();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A file of N compressible bytes (or random ones); its descriptor and key. */
static int make_file(const char *name, size_t n, bool random_bytes, struct zcache_key *k)
{
    char path[128];
    char *data = malloc(n);
    struct stat st;
    int fd;

    for (size_t i = 0; i < n; i++)
        data[i] = random_bytes ? (char)(rand() & 0xff) : "abcdefgh <p>"[i % 12];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    free(data);
    cr_assert_eq(fstat(fd, &st), 0);
    *k = (struct zcache_key){st.st_dev, st.st_ino, (uint64_t)st.st_size, st.st_mtim.tv_sec,
                             st.st_mtim.tv_nsec};
    return fd;
}

static size_t copies_on_disk(void)
{
    DIR *d = opendir(cache);
    struct dirent *de;
    size_t n = 0;

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "z1-", 3) == 0;
    closedir(d);
    return n;
}

/* The copy at FD inflates to N bytes equal to those of SRC. */
static void expect_inflates_to(int fd, uint64_t len, int src, size_t n)
{
    unsigned char *in = malloc(len), *out = malloc(n + 1), *want = malloc(n);
    z_stream z = {0};

    cr_assert_eq(pread(fd, in, len, 0), (ssize_t)len);
    cr_assert_eq(pread(src, want, n, 0), (ssize_t)n);
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = in, z.avail_in = (uInt)len, z.next_out = out, z.avail_out = (uInt)n + 1;
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(z.total_out, n);
    cr_assert_eq(memcmp(out, want, n), 0);
    inflateEnd(&z);
    free(in), free(out), free(want);
}

TestSuite(zcache, .init = setup, .fini = teardown);

Test(zcache, made_once_then_found)
{
    struct zcache_key k;
    int src = make_file("a.html", 50000, false, &k), fd = -1;
    uint64_t len = 0, before = zcache_compressions();

    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_MADE);
    cr_assert(len > 0 && len < 50000 / 4, "len %llu", (unsigned long long)len);
    expect_inflates_to(fd, len, src, 50000);
    close(fd);
    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_HIT);
    expect_inflates_to(fd, len, src, 50000);
    close(fd);
    cr_assert_eq(zcache_compressions() - before, 1);
    cr_assert_eq(copies_on_disk(), 1);
    close(src);
}

Test(zcache, incompressible_and_oversized_files_get_none_and_are_not_retried)
{
    struct zcache_key k;
    int src = make_file("r.bin", 40000, true, &k), fd = -1;
    uint64_t len = 0, before = zcache_compressions();

    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_NONE);
    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_NONE);
    cr_assert_eq(zcache_compressions() - before, 1, "the verdict is remembered");
    cr_assert_eq(copies_on_disk(), 0);
    close(src);
    src = make_file("b.html", 50000, false, &k);
    /* A copy larger than the whole budget is sent once, not kept, and not made again. */
    cr_assert_eq(zcache_get(&k, src, 20, &fd, &len), ZCACHE_MADE);
    cr_assert(len > 20);
    close(fd);
    cr_assert_eq(copies_on_disk(), 0);
    cr_assert_eq(zcache_get(&k, src, 20, &fd, &len), ZCACHE_NONE);
    cr_assert_eq(zcache_get(&k, src, 0, &fd, &len), ZCACHE_NONE);
    close(src);
}

Test(zcache, the_budget_evicts_the_least_recently_used)
{
    struct zcache_key k1, k2, k3;
    int f1 = make_file("1.html", 60000, false, &k1), f2 = make_file("2.html", 61000, false, &k2);
    int f3 = make_file("3.html", 62000, false, &k3), fd;
    uint64_t len1, len, budget;

    cr_assert_eq(zcache_get(&k1, f1, 1 << 20, &fd, &len1), ZCACHE_MADE);
    close(fd);
    budget = 2 * len1 + len1 / 2; /* room for two copies */
    cr_assert_eq(zcache_get(&k2, f2, budget, &fd, &len), ZCACHE_MADE);
    close(fd);
    cr_assert_eq(zcache_get(&k1, f1, budget, &fd, &len), ZCACHE_HIT); /* 1 is now the newest */
    close(fd);
    cr_assert_eq(zcache_get(&k3, f3, budget, &fd, &len), ZCACHE_MADE); /* 2 goes */
    close(fd);
    cr_assert_eq(copies_on_disk(), 2);
    cr_assert_eq(zcache_get(&k1, f1, budget, &fd, &len), ZCACHE_HIT);
    close(fd);
    cr_assert_eq(zcache_get(&k2, f2, budget, &fd, &len), ZCACHE_MADE, "evicted, so made again");
    close(fd);
    close(f1), close(f2), close(f3);
}

Test(zcache, copies_survive_a_reopen_and_strays_are_removed)
{
    struct zcache_key k;
    char stray[160];
    int src = make_file("a.css", 30000, false, &k), fd;
    uint64_t len;

    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_MADE);
    close(fd);
    snprintf(stray, sizeof(stray), "%s/tmp-1-1", cache);
    close(open(stray, O_CREAT | O_WRONLY, 0600));
    zcache_close();
    cr_assert_eq(zcache_open(cache), 0);
    cr_assert_eq(access(stray, F_OK), -1, "a crashed run's temporary file is removed");
    cr_assert_eq(zcache_get(&k, src, 1 << 20, &fd, &len), ZCACHE_HIT);
    expect_inflates_to(fd, len, src, 30000);
    close(fd);
    close(src);
}

Test(zcache, big_files_go_to_the_thread)
{
    struct zcache_key k;
    int src = make_file("big.html", ZCACHE_INLINE_MAX + 1000, false, &k), fd = -1;
    uint64_t len = 0;
    enum zcache_result r;

    cr_assert_eq(zcache_get(&k, src, 64 << 20, &fd, &len), ZCACHE_QUEUED);
    for (int i = 0; i < 500 && (r = zcache_get(&k, src, 64 << 20, &fd, &len)) == ZCACHE_PENDING;
         i++)
        usleep(10000);
    cr_assert_eq(r, ZCACHE_HIT);
    expect_inflates_to(fd, len, src, ZCACHE_INLINE_MAX + 1000);
    close(fd);
    close(src);
}
