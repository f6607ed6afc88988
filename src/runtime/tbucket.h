/*
 * tbucket: a token bucket of bytes shared by threads through one atomic
 * word. RATE bytes a second flow in, up to CAP; the word is the instant the
 * bucket was (virtually) empty, so there is no refill step. A sender
 * reserves bytes and learns when it may send them: at once while the bucket
 * holds them, else at a later instant, the word moving past it (the bucket
 * runs into debt). Reservations are served in the order they were made,
 * whatever thread made them, so senders that each reserve a quantum (about
 * 1/64 s of the rate) at a time take turns. A new bucket starts empty. Time
 * is passed in (monotonic nanoseconds) so tests choose it.
 * Reference-counted: a generation keeps a bucket, and the next generation
 * takes it over when the rate is unchanged. Any thread.
 */
#ifndef RUNTIME_TBUCKET_H
#define RUNTIME_TBUCKET_H

#include <stdatomic.h>
#include <stdint.h>

#define TBUCKET_QUANTUM_MIN 1024
#define TBUCKET_QUANTUM_MAX (256 * 1024)

struct tbucket {
    _Atomic uint64_t empty_at; /* ns; holds (now - empty_at) * rate, at most cap; later: debt */
    atomic_int refs;
    uint64_t rate;    /* bytes per second, > 0 */
    uint64_t cap;     /* bytes: about 1/16 s of the rate, at least two quanta */
    uint64_t cap_ns;  /* time to fill cap from empty */
    uint64_t quantum; /* most bytes one take grants */
};

/** A new, empty bucket of RATE (> 0) bytes a second at time NOW; one reference. */
struct tbucket *tbucket_new(uint64_t rate, uint64_t now);
/** Take a reference. */
void tbucket_ref(struct tbucket *b);
/** Drop a reference (NULL is ignored); the last one frees the bucket. */
void tbucket_unref(struct tbucket *b);
/** Reserve N bytes at NOW; the instant they may be sent (at most NOW: at once). */
uint64_t tbucket_reserve(struct tbucket *b, uint64_t n, uint64_t now);
/** Put back N bytes reserved but not sent. */
void tbucket_give_back(struct tbucket *b, uint64_t n);
/** Monotonic time in nanoseconds, as the bucket functions take it. */
uint64_t tbucket_now(void);

#endif
