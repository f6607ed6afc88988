/*
 * ratelimit: a fixed pool of entries, found through a keyed hash (SipHash, so
 * a client choosing addresses cannot build long chains) and kept on a list in
 * order of last failure, whose tail is evicted when the pool is full.
 */
#include "runtime/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/log.h"

#define RL_NIL UINT32_MAX

struct rl_entry {
    char addr[RL_ADDR_MAX];
    uint32_t hnext;      /* next in the hash chain */
    uint32_t prev, next; /* order of last failure (head = newest), or the free list */
    unsigned failures;   /* in the window that started at window_start */
    time_t window_start;
    time_t blocked_until; /* 0 = not blocked */
};

struct ratelimit {
    pthread_mutex_t lock;
    unsigned max_failures, window_s, block_s;
    size_t cap, used, nbuckets; /* nbuckets: a power of two */
    struct rl_entry *e;
    uint32_t *buckets;
    uint32_t head, tail, free_head;
    unsigned char key[crypto_shorthash_KEYBYTES];
};

static size_t rl_keylen(const char *addr)
{
    return strnlen(addr, RL_ADDR_MAX - 1);
}

static size_t rl_bucket(const struct ratelimit *rl, const char *addr)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;

    crypto_shorthash(h, (const unsigned char *)addr, rl_keylen(addr), rl->key);
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (rl->nbuckets - 1));
}

static uint32_t rl_find(const struct ratelimit *rl, const char *addr)
{
    size_t n = rl_keylen(addr);

    for (uint32_t i = rl->buckets[rl_bucket(rl, addr)]; i != RL_NIL; i = rl->e[i].hnext) {
        if (strncmp(rl->e[i].addr, addr, n) == 0 && rl->e[i].addr[n] == '\0')
            return i;
    }
    return RL_NIL;
}

static void rl_list_unlink(struct ratelimit *rl, uint32_t i)
{
    struct rl_entry *x = &rl->e[i];

    if (x->prev != RL_NIL)
        rl->e[x->prev].next = x->next;
    else
        rl->head = x->next;
    if (x->next != RL_NIL)
        rl->e[x->next].prev = x->prev;
    else
        rl->tail = x->prev;
}

static void rl_list_push(struct ratelimit *rl, uint32_t i)
{
    rl->e[i].prev = RL_NIL;
    rl->e[i].next = rl->head;
    if (rl->head != RL_NIL)
        rl->e[rl->head].prev = i;
    rl->head = i;
    if (rl->tail == RL_NIL)
        rl->tail = i;
}

static void rl_hash_unlink(struct ratelimit *rl, uint32_t i)
{
    uint32_t *p = &rl->buckets[rl_bucket(rl, rl->e[i].addr)];

    while (*p != i)
        p = &rl->e[*p].hnext;
    *p = rl->e[i].hnext;
}

/* Forget entry I: back to the free list. */
static void rl_remove(struct ratelimit *rl, uint32_t i)
{
    rl_hash_unlink(rl, i);
    rl_list_unlink(rl, i);
    rl->e[i].next = rl->free_head;
    rl->free_head = i;
    rl->used--;
}

/* A fresh entry for ADDR, evicting the least recently failing one when the pool is full. */
static uint32_t rl_add(struct ratelimit *rl, const char *addr)
{
    size_t b;
    uint32_t i;

    if (rl->free_head == RL_NIL)
        rl_remove(rl, rl->tail);
    i = rl->free_head;
    rl->free_head = rl->e[i].next;
    memset(&rl->e[i], 0, sizeof(rl->e[i]));
    memcpy(rl->e[i].addr, addr, rl_keylen(addr));
    b = rl_bucket(rl, addr);
    rl->e[i].hnext = rl->buckets[b];
    rl->buckets[b] = i;
    rl_list_push(rl, i);
    rl->used++;
    return i;
}

struct ratelimit *rl_new(unsigned max_failures, unsigned window_s, unsigned block_s,
                         size_t max_entries)
{
    struct ratelimit *rl;

    if (max_failures == 0 || window_s == 0 || max_entries == 0 || max_entries >= RL_NIL)
        return NULL;
    if (sodium_init() < 0)
        fatalx("ratelimit: libsodium cannot be initialised");
    rl = xcalloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->lock, NULL);
    rl->max_failures = max_failures;
    rl->window_s = window_s;
    rl->block_s = block_s;
    rl->cap = max_entries;
    for (rl->nbuckets = 1; rl->nbuckets < max_entries; rl->nbuckets <<= 1)
        ;
    rl->e = xcalloc(max_entries, sizeof(*rl->e));
    rl->buckets = xmalloc(rl->nbuckets * sizeof(*rl->buckets));
    memset(rl->buckets, 0xff, rl->nbuckets * sizeof(*rl->buckets)); /* all RL_NIL */
    rl->head = rl->tail = RL_NIL;
    for (size_t i = 0; i < max_entries; i++)
        rl->e[i].next = i + 1 < max_entries ? (uint32_t)(i + 1) : RL_NIL;
    rl->free_head = 0;
    crypto_shorthash_keygen(rl->key);
    return rl;
}

void rl_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->e);
    free(rl->buckets);
    free(rl);
}

/* True when entry X no longer says anything at NOW: its block or its window is over. */
static bool rl_stale(const struct ratelimit *rl, const struct rl_entry *x, time_t now)
{
    if (x->blocked_until != 0)
        return now >= x->blocked_until;
    return now - x->window_start >= (time_t)rl->window_s;
}

bool rl_blocked(struct ratelimit *rl, const char *addr, time_t now, unsigned *retry_after)
{
    bool blocked = false;
    uint32_t i;

    pthread_mutex_lock(&rl->lock);
    i = rl_find(rl, addr);
    if (i != RL_NIL && rl->e[i].blocked_until > now) {
        blocked = true;
        if (retry_after != NULL)
            *retry_after = (unsigned)(rl->e[i].blocked_until - now);
    } else if (i != RL_NIL && rl_stale(rl, &rl->e[i], now)) {
        rl_remove(rl, i);
    }
    pthread_mutex_unlock(&rl->lock);
    return blocked;
}

void rl_fail(struct ratelimit *rl, const char *addr, time_t now)
{
    struct rl_entry *x;
    uint32_t i;

    pthread_mutex_lock(&rl->lock);
    i = rl_find(rl, addr);
    if (i == RL_NIL) {
        i = rl_add(rl, addr);
        rl->e[i].window_start = now;
    } else {
        rl_list_unlink(rl, i);
        rl_list_push(rl, i);
    }
    x = &rl->e[i];
    if (x->blocked_until <= now) {
        if (rl_stale(rl, x, now)) {
            x->failures = 0;
            x->window_start = now;
            x->blocked_until = 0;
        }
        if (++x->failures >= rl->max_failures) {
            x->blocked_until = now + (time_t)rl->block_s;
            x->failures = 0;
        }
    }
    pthread_mutex_unlock(&rl->lock);
}

void rl_success(struct ratelimit *rl, const char *addr)
{
    uint32_t i;

    pthread_mutex_lock(&rl->lock);
    i = rl_find(rl, addr);
    if (i != RL_NIL)
        rl_remove(rl, i);
    pthread_mutex_unlock(&rl->lock);
}

size_t rl_count(struct ratelimit *rl)
{
    size_t n;

    pthread_mutex_lock(&rl->lock);
    n = rl->used;
    pthread_mutex_unlock(&rl->lock);
    return n;
}
