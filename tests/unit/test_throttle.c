/* Unit tests for runtime/tbucket: the shared token bucket behind bandwidth throttling. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>

#include "runtime/tbucket.h"

#define NS 1000000000ull
#define T0 (1000 * NS) /* an arbitrary start instant */

static uint64_t ns_for(uint64_t rate, uint64_t n)
{
    return (n * NS + rate - 1) / rate;
}

Test(tbucket, sizes_follow_the_rate)
{
    struct tbucket *b = tbucket_new(1000000, T0);

    cr_expect_eq(b->quantum, 15625, "1/64 s");
    cr_expect_eq(b->cap, 62500, "1/16 s");
    tbucket_unref(b);
    b = tbucket_new(1000, T0);
    cr_expect_eq(b->quantum, TBUCKET_QUANTUM_MIN);
    cr_expect_eq(b->cap, 2 * TBUCKET_QUANTUM_MIN);
    tbucket_unref(b);
    b = tbucket_new(1000 * 1000 * 1000, T0);
    cr_expect_eq(b->quantum, TBUCKET_QUANTUM_MAX);
    cr_expect_eq(b->cap, 1000 * 1000 * 1000 / 16);
    tbucket_unref(b);
}

Test(tbucket, a_new_bucket_starts_empty_and_serves_in_order)
{
    struct tbucket *b = tbucket_new(1000000, T0);
    uint64_t r1 = tbucket_reserve(b, 10000, T0);
    uint64_t r2 = tbucket_reserve(b, 10000, T0);
    uint64_t r3 = tbucket_reserve(b, 5000, T0 + 1000);

    cr_expect_eq(r1, T0 + ns_for(1000000, 10000), "nothing is there at first: 10 ms");
    cr_expect_eq(r2, r1 + ns_for(1000000, 10000), "the second waits behind the first");
    cr_expect_eq(r3, r2 + ns_for(1000000, 5000));
    tbucket_unref(b);
}

Test(tbucket, an_idle_bucket_holds_at_most_its_cap)
{
    struct tbucket *b = tbucket_new(1000000, T0);
    uint64_t now = T0 + 60 * NS, sent = 0, ready;

    /* After a minute of nothing, the cap (62500 bytes) goes at once, and no more. */
    while ((ready = tbucket_reserve(b, 1000, now)) <= now)
        sent += 1000;
    cr_expect_eq(sent, 62000, "%llu bytes at once", (unsigned long long)sent);
    cr_expect(ready > now && ready - now <= ns_for(1000000, 1000));
    tbucket_unref(b);
}

Test(tbucket, given_back_bytes_serve_the_next_reservation)
{
    struct tbucket *b = tbucket_new(1000000, T0);
    uint64_t r1 = tbucket_reserve(b, 20000, T0), r2;

    tbucket_give_back(b, 20000);
    r2 = tbucket_reserve(b, 20000, T0);
    cr_expect_eq(r2, r1, "the same instant as if the first had never been made");
    tbucket_give_back(b, 1); /* a microsecond at this rate */
    cr_expect_eq(tbucket_reserve(b, 0, T0), r2 - 1000);
    tbucket_unref(b);
}

Test(tbucket, ten_seconds_carry_the_rate)
{
    uint64_t rate = 1234567, sent = 0;
    struct tbucket *b = tbucket_new(rate, T0);

    /* A sender that always reserves a quantum and sends it when told. */
    for (uint64_t now = T0; now < T0 + 10 * NS;) {
        uint64_t ready = tbucket_reserve(b, b->quantum, now);
        if (ready > T0 + 10 * NS)
            break;
        now = ready > now ? ready : now;
        sent += b->quantum;
    }
    cr_expect(sent <= 10 * rate && sent > 10 * rate - b->quantum, "%llu bytes in 10 s",
              (unsigned long long)sent);
    tbucket_unref(b);
}

struct racer {
    struct tbucket *b;
    pthread_barrier_t *start;
    uint64_t sent;
};

static void *race(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->start);
    while (tbucket_reserve(r->b, 1000, T0) <= T0 + NS)
        r->sent += 1000;
    return NULL;
}

Test(tbucket, threads_sharing_a_bucket_never_get_more_than_the_rate)
{
    struct tbucket *b = tbucket_new(1000000000, T0);
    pthread_barrier_t start;
    struct racer r[4] = {{b, &start, 0}, {b, &start, 0}, {b, &start, 0}, {b, &start, 0}};
    pthread_t t[4];
    uint64_t total = 0;

    pthread_barrier_init(&start, NULL, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += r[i].sent;
    }
    /* One second of 1 GB/s, reserved 1000 bytes at a time by four threads at once: a lost
     * update would let more through. */
    cr_expect_eq(total, 1000000000, "%llu bytes", (unsigned long long)total);
    pthread_barrier_destroy(&start);
    tbucket_unref(b);
}

Test(tbucket, references)
{
    struct tbucket *b = tbucket_new(1000, T0);

    tbucket_ref(b);
    tbucket_unref(b);
    cr_expect_eq(atomic_load(&b->refs), 1);
    tbucket_unref(b);
    tbucket_unref(NULL);
}
