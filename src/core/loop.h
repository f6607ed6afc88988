/*
 * loop: the event loop — edge-triggered epoll, a hashed timer wheel, a cached
 * clock, a mailbox other threads post work into, and an idle hook that runs
 * before the loop sleeps (to batch writes and log flushes). One loop per
 * thread; every function except loop_post must be called on the loop's own
 * thread. The caller owns the io and timer structures it registers.
 */
#ifndef CORE_LOOP_H
#define CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#define LOOP_IN EPOLLIN
#define LOOP_OUT EPOLLOUT

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_cb)(struct loop *l, struct loop_io *io, uint32_t events);
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t);
typedef void (*loop_fn)(void *arg);

/** A descriptor watched by a loop; embed it and recover the owner with container_of. */
struct loop_io {
    int fd;
    loop_io_cb cb;
};

/** A one-shot timer; embed it. Zero-initialised means disarmed. */
struct loop_timer {
    struct loop_timer *next, **pprev;
    uint64_t deadline;
    loop_timer_cb cb;
};

/** Create a loop for the calling thread. Returns NULL (errno set) on failure. */
struct loop *loop_new(void);
/** Free a loop that is no longer running; registered descriptors are not closed. */
void loop_free(struct loop *l);
/** Watch io->fd for EVENTS (edge-triggered). Returns 0 or -1. */
int loop_add(struct loop *l, struct loop_io *io, uint32_t events);
/** Change the events watched for io->fd. Returns 0 or -1. */
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
/**
 * Watch io->fd for writing as well as reading (ON) or for reading only;
 * *WATCHING remembers which, so that the mask is changed only when it must
 * be (every ACK would otherwise wake the loop). Returns 0 or -1.
 */
int loop_watch_out(struct loop *l, struct loop_io *io, bool *watching, bool on);
/** Stop watching io->fd (call before closing it if it stays open). */
void loop_del(struct loop *l, struct loop_io *io);
/** Arm (or re-arm) T to fire after DELAY_MS, calling CB. */
void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_timer_cb cb);
/** Disarm T if armed. */
void loop_timer_clear(struct loop *l, struct loop_timer *t);
/** True while T is armed. */
static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->pprev != NULL;
}
/** Run until loop_stop is called. */
void loop_run(struct loop *l);
/** Make loop_run return after the current iteration (loop thread only). */
void loop_stop(struct loop *l);
/** Run FN(ARG) on the loop's thread soon; callable from any thread. */
void loop_post(struct loop *l, loop_fn fn, void *arg);
/** Call FN(ARG) each time the loop is about to wait for events. */
void loop_set_idle(struct loop *l, loop_fn fn, void *arg);
/** Call FN(ARG) at the start of each iteration, after the clock update. */
void loop_set_wake(struct loop *l, loop_fn fn, void *arg);

#endif
