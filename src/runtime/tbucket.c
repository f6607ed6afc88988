/* tbucket: the token bucket as one atomic instant. */
#include "runtime/tbucket.h"

#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"

#define NS 1000000000ull

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Time to fill N bytes, rounded up so that rounding never adds bandwidth. */
static uint64_t ns_for(const struct tbucket *b, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)n * NS + b->rate - 1) / b->rate);
}

/* A full bucket holds no more than cap: an older empty instant counts as cap ago. */
static uint64_t clamp_empty_at(const struct tbucket *b, uint64_t z, uint64_t now)
{
    return now > b->cap_ns && z < now - b->cap_ns ? now - b->cap_ns : z;
}

uint64_t tbucket_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

struct tbucket *tbucket_new(uint64_t rate, uint64_t now)
{
    struct tbucket *b = xcalloc(1, sizeof(*b));

    b->rate = rate ? rate : 1;
    b->quantum = min_u64(TBUCKET_QUANTUM_MAX, b->rate / 64);
    if (b->quantum < TBUCKET_QUANTUM_MIN)
        b->quantum = TBUCKET_QUANTUM_MIN;
    b->cap = b->rate / 16 > 2 * b->quantum ? b->rate / 16 : 2 * b->quantum;
    b->cap_ns = ns_for(b, b->cap);
    atomic_init(&b->empty_at, now);
    atomic_init(&b->refs, 1);
    return b;
}

void tbucket_ref(struct tbucket *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void tbucket_unref(struct tbucket *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

uint64_t tbucket_reserve(struct tbucket *b, uint64_t n, uint64_t now)
{
    uint64_t z = atomic_load_explicit(&b->empty_at, memory_order_relaxed), ready;

    do
        ready = clamp_empty_at(b, z, now) + ns_for(b, n);
    while (!atomic_compare_exchange_weak_explicit(&b->empty_at, &z, ready, memory_order_relaxed,
                                                  memory_order_relaxed));
    return ready;
}

void tbucket_give_back(struct tbucket *b, uint64_t n)
{
    /* Rounded down: what comes back is never more than what was reserved. */
    atomic_fetch_sub_explicit(&b->empty_at, (uint64_t)((unsigned __int128)n * NS / b->rate),
                              memory_order_relaxed);
}
