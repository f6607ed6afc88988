/* Unit tests for src/www/h2mem.c: blocks are recycled by size class, sizes
 * and contents survive realloc, large blocks and overflowing products pass,
 * and the lists stay within their bound. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "www/h2mem.h"

Test(h2mem, a_freed_block_is_reused_for_its_class)
{
    char *a = h2mem_alloc(100), *b;
    size_t kept;

    memset(a, 'a', 100);
    h2mem_free(a);
    kept = h2mem_kept();
    cr_assert_geq(kept, 128);
    b = h2mem_alloc(120); /* the same class (65..128 bytes) */
    cr_expect_eq(b, a);
    cr_expect_eq(h2mem_kept(), kept - 128);
    h2mem_free(b);
}

Test(h2mem, another_class_is_not_taken)
{
    char *a = h2mem_alloc(100), *b;

    h2mem_free(a);
    b = h2mem_alloc(300);
    cr_expect_neq(b, a);
    h2mem_free(b);
}

Test(h2mem, calloc_zeroes_and_refuses_overflow)
{
    unsigned char *p = h2mem_alloc(200);

    memset(p, 0xff, 200);
    h2mem_free(p);
    p = h2mem_calloc(10, 20); /* likely the same block */
    for (size_t i = 0; i < 200; i++)
        cr_assert_eq(p[i], 0, "byte %zu", i);
    h2mem_free(p);
    cr_expect_null(h2mem_calloc(SIZE_MAX / 2, 4));
}

Test(h2mem, realloc_keeps_the_bytes)
{
    char *p = h2mem_realloc(NULL, 10);

    memcpy(p, "0123456789", 10);
    p = h2mem_realloc(p, 40); /* within its 64-byte class: in place */
    cr_expect(memcmp(p, "0123456789", 10) == 0);
    p = h2mem_realloc(p, 5000); /* beyond every class */
    cr_expect(memcmp(p, "0123456789", 10) == 0);
    memset(p + 10, 'x', 4990);
    p = h2mem_realloc(p, 300);
    cr_expect(memcmp(p, "0123456789xx", 12) == 0);
    cr_expect_null(h2mem_realloc(p, 0));
}

Test(h2mem, large_blocks_are_not_kept)
{
    size_t kept = h2mem_kept();
    char *p = h2mem_alloc(H2MEM_MAX + 1);

    memset(p, 1, H2MEM_MAX + 1);
    h2mem_free(p);
    cr_expect_eq(h2mem_kept(), kept);
    h2mem_free(NULL);
}

Test(h2mem, the_lists_are_bounded)
{
    enum { N = H2MEM_KEEP / 2048 + 64 };
    static void *p[N];

    for (size_t i = 0; i < N; i++)
        p[i] = h2mem_alloc(2000);
    for (size_t i = 0; i < N; i++)
        h2mem_free(p[i]);
    cr_expect_leq(h2mem_kept(), H2MEM_KEEP);
    cr_expect_geq(h2mem_kept(), H2MEM_KEEP - 2048);
}

static void *churn(void *arg)
{
    void *p[16];

    (void)arg;
    for (size_t i = 0; i < 16; i++)
        p[i] = h2mem_alloc(32 << (i % 6));
    for (size_t i = 0; i < 16; i++)
        h2mem_free(p[i]);
    return (void *)(uintptr_t)h2mem_kept();
}

/* The lists of a thread that ends are freed (ASan checks the walk, LSan the rest). */
Test(h2mem, a_thread_leaves_nothing_behind)
{
    pthread_t t;
    void *kept;

    cr_assert_eq(pthread_create(&t, NULL, churn, NULL), 0);
    cr_assert_eq(pthread_join(t, &kept), 0);
    cr_expect_gt((uintptr_t)kept, 0);
}
