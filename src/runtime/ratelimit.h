/*
 * ratelimit: failed-login limiter keyed by client address. After MAX_FAILURES
 * failures within WINDOW_S seconds an address is blocked for BLOCK_S seconds.
 * Memory is fixed at rl_new (MAX_ENTRIES addresses; the least recently failing
 * one is forgotten when full). Safe from any thread: calls take an internal mutex.
 */
#ifndef RUNTIME_RATELIMIT_H
#define RUNTIME_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/** Addresses are keyed on at most this many bytes (an IPv6 text with scope fits). */
#define RL_ADDR_MAX 64

struct ratelimit;

/** A new limiter, or NULL when MAX_FAILURES, WINDOW_S or MAX_ENTRIES is 0. Free with rl_free. */
struct ratelimit *rl_new(unsigned max_failures, unsigned window_s, unsigned block_s,
                         size_t max_entries);
/** Free a limiter (NULL is fine). */
void rl_free(struct ratelimit *rl);
/** True while ADDR is blocked at NOW; *RETRY_AFTER (may be NULL) gets the seconds left (>= 1). */
bool rl_blocked(struct ratelimit *rl, const char *addr, time_t now, unsigned *retry_after);
/** Count a failed login from ADDR at NOW, blocking it when the limit is reached. */
void rl_fail(struct ratelimit *rl, const char *addr, time_t now);
/** A successful login from ADDR: forget its failures. */
void rl_success(struct ratelimit *rl, const char *addr);
/** How many addresses are tracked (for tests and metrics). */
size_t rl_count(struct ratelimit *rl);

#endif
