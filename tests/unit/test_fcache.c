/* The open-file cache: hits, revalidation after a change, failure entries,
 * eviction and references that outlive a flush. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "runtime/gen.h"
#include "runtime/fcache.h"

static char root[64];
static struct vdir vd;

static void put_file(const char *name, const char *content)
{
    char p[256];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", root, name);
    f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/fcache-test-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    memset(&vd, 0, sizeof(vd));
    vd.dirfd = open(root, O_PATH | O_DIRECTORY);
    vd.uid = 7;
    vd.symlinks = PATH_SYMLINKS_INSIDE;
    clock_update();
}

static void teardown(void)
{
    char cmd[128];

    close(vd.dirfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(fcache, .init = setup, .fini = teardown);

Test(fcache, hit_after_miss_keeps_small_body_and_metadata)
{
    struct fcache *c = fcache_new(16, 1 << 20, 1000);
    struct fc_entry *e, *e2;
    struct fcache_stats st;

    put_file("a.html", "hello");
    e = fcache_get(c, &vd, "a.html", 6);
    cr_assert_geq(e->fd, 0);
    cr_assert_eq(e->size, 5);
    cr_assert_not_null(e->body);
    cr_assert_eq(memcmp(e->body, "hello", 5), 0);
    cr_assert_null(e->ext, "what a service derives is its own business");
    e2 = fcache_get(c, &vd, "a.html", 6);
    cr_assert_eq(e, e2, "a second lookup is served from the cache");
    fcache_get_stats(c, &st);
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.misses, 1);
    cr_assert_eq(st.open_handles, 1);
    fcache_put(e);
    fcache_put(e2);
    fcache_free(c);
}

Test(fcache, missing_file_is_a_failure_entry)
{
    struct fcache *c = fcache_new(16, 1 << 20, 1000);
    struct fc_entry *e = fcache_get(c, &vd, "nope.txt", 8);

    cr_assert_eq(e->fd, -1);
    cr_assert_eq(e->err, ENOENT);
    fcache_put(e);
    fcache_free(c);
}

Test(fcache, changed_file_is_noticed_after_validity)
{
    struct fcache *c = fcache_new(16, 1 << 20, 0); /* always revalidate */
    struct fc_entry *e, *e2;

    put_file("b.txt", "one");
    e = fcache_get(c, &vd, "b.txt", 5);
    cr_assert_eq(e->size, 3);
    put_file("b.txt", "second");
    e2 = fcache_get(c, &vd, "b.txt", 5);
    cr_assert_neq(e, e2);
    cr_assert_eq(e2->size, 6);
    cr_assert_eq(memcmp(e2->body, "second", 6), 0);
    /* The old entry stays usable for an in-flight response. */
    cr_assert_eq(memcmp(e->body, "one", 3), 0);
    fcache_put(e);
    fcache_put(e2);
    fcache_free(c);
}

Test(fcache, unchanged_file_within_validity_is_not_reopened)
{
    struct fcache *c = fcache_new(16, 1 << 20, 60000);
    struct fc_entry *e, *e2;

    put_file("c.txt", "abc");
    e = fcache_get(c, &vd, "c.txt", 5);
    put_file("c.txt", "abcdef");
    e2 = fcache_get(c, &vd, "c.txt", 5);
    cr_assert_eq(e, e2, "within the validity window the cached entry is trusted");
    fcache_put(e);
    fcache_put(e2);
    fcache_flush(c);
    e = fcache_get(c, &vd, "c.txt", 5);
    cr_assert_eq(e->size, 6, "a flush forgets everything");
    fcache_put(e);
    fcache_free(c);
}

Test(fcache, eviction_bounds_entries_and_keeps_referenced_ones_alive)
{
    struct fcache *c = fcache_new(2, 1 << 20, 1000);
    struct fc_entry *a, *b, *d;
    struct fcache_stats st;

    put_file("1", "x");
    put_file("2", "yy");
    put_file("3", "zzz");
    a = fcache_get(c, &vd, "1", 1);
    b = fcache_get(c, &vd, "2", 1);
    d = fcache_get(c, &vd, "3", 1);
    fcache_get_stats(c, &st);
    cr_assert_eq(st.entries, 2);
    cr_assert_eq(st.open_handles, 2);
    cr_assert_geq(a->fd, 0, "an evicted entry keeps its descriptor while referenced");
    cr_assert_eq(memcmp(a->body, "x", 1), 0);
    fcache_put(a);
    fcache_put(b);
    fcache_put(d);
    fcache_free(c);
}

Test(fcache, large_files_are_not_kept_in_memory)
{
    struct fcache *c = fcache_new(16, 1 << 20, 1000);
    char *big = malloc(FC_BODY_MAX + 2);
    struct fc_entry *e;

    memset(big, 'q', FC_BODY_MAX + 1);
    big[FC_BODY_MAX + 1] = '\0';
    put_file("big.bin", big);
    e = fcache_get(c, &vd, "big.bin", 7);
    cr_assert_eq(e->size, FC_BODY_MAX + 1);
    cr_assert_null(e->body);
    cr_assert_geq(e->fd, 0);
    fcache_put(e);
    fcache_free(c);
    free(big);
}

Test(fcache, memory_budget_is_respected)
{
    struct fcache *c = fcache_new(16, 8, 1000); /* 8 bytes of bodies at most */
    struct fc_entry *a, *b;

    put_file("five", "12345");
    put_file("six", "123456");
    a = fcache_get(c, &vd, "five", 4);
    b = fcache_get(c, &vd, "six", 3);
    cr_assert_not_null(a->body);
    cr_assert_null(b->body, "over the budget the body is sent from the descriptor");
    fcache_put(a);
    fcache_put(b);
    fcache_free(c);
}

Test(fcache, directories_and_escaping_symlinks)
{
    struct fcache *c = fcache_new(16, 1 << 20, 1000);
    char p[256];
    struct fc_entry *e;

    snprintf(p, sizeof(p), "%s/sub", root);
    cr_assert_eq(mkdir(p, 0755), 0);
    e = fcache_get(c, &vd, "sub", 3);
    cr_assert(e->is_dir);
    fcache_put(e);
    snprintf(p, sizeof(p), "%s/out", root);
    cr_assert_eq(symlink("/etc", p), 0);
    e = fcache_get(c, &vd, "out/hostname", 12);
    cr_assert_eq(e->fd, -1);
    cr_assert_eq(e->err, EXDEV);
    fcache_put(e);
    fcache_free(c);
}
