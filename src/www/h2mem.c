/* h2mem: size-class free lists per thread for nghttp2's allocations. */
#include "www/h2mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CLASSES 6    /* 64, 128, 256, 512, 1024, 2048 */
#define MIN_SIZE 64

/* Before every block, keeping the payload aligned as malloc's. */
struct head {
    size_t size;           /* usable bytes: the class's, or what malloc was asked for */
    union {
        size_t used;       /* bytes asked for, while allocated */
        struct head *next; /* on a free list */
    };
};

struct lists {
    struct head *free[CLASSES];
    size_t kept;
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread struct lists *mine;

static void lists_free(void *arg)
{
    struct lists *l = arg;
    struct head *h;

    for (unsigned c = 0; c < CLASSES; c++) {
        while ((h = l->free[c]) != NULL) {
            UNPOISON(h, sizeof(*h));
            UNPOISON(h + 1, h->size);
            l->free[c] = h->next;
            free(h);
        }
    }
    free(l);
}

static void key_make(void)
{
    if (pthread_key_create(&key, lists_free) != 0)
        fatalx("h2mem: no thread key");
}

static struct lists *lists_get(void)
{
    if (mine == NULL) {
        pthread_once(&once, key_make);
        mine = xcalloc(1, sizeof(*mine));
        pthread_setspecific(key, mine);
    }
    return mine;
}

static unsigned size_class(size_t n)
{
    unsigned c = 0;

    for (size_t cap = MIN_SIZE; cap < n && c < CLASSES; cap <<= 1)
        c++;
    return c; /* CLASSES: too big for any */
}

void *h2mem_alloc(size_t n)
{
    unsigned c = size_class(n);
    struct lists *l = lists_get();
    struct head *h = c < CLASSES ? l->free[c] : NULL;

    if (h != NULL) {
        UNPOISON(h, sizeof(*h));
        l->free[c] = h->next;
        l->kept -= h->size;
    } else {
        size_t size = c < CLASSES ? (size_t)MIN_SIZE << c : n;
        h = xmalloc(sizeof(*h) + size);
        h->size = size;
    }
    h->used = n;
    POISON(h + 1, h->size);
    UNPOISON(h + 1, n);
    return h + 1;
}

void h2mem_free(void *p)
{
    struct head *h;
    struct lists *l;
    unsigned c;

    if (p == NULL)
        return;
    h = (struct head *)p - 1;
    l = lists_get();
    c = size_class(h->size);
    if (c >= CLASSES || l->kept + h->size > H2MEM_KEEP) {
        UNPOISON(h + 1, h->size);
        free(h);
        return;
    }
    h->next = l->free[c];
    l->free[c] = h;
    l->kept += h->size;
    POISON(h, sizeof(*h) + h->size);
}

void *h2mem_calloc(size_t n, size_t size)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = h2mem_alloc(n * size);
    memset(p, 0, n * size);
    return p;
}

void *h2mem_realloc(void *p, size_t n)
{
    struct head *h;
    void *np;

    if (p == NULL)
        return h2mem_alloc(n);
    if (n == 0) {
        h2mem_free(p);
        return NULL;
    }
    h = (struct head *)p - 1;
    if (n <= h->size) {
        POISON(p, h->size);
        UNPOISON(p, n);
        h->used = n;
        return p;
    }
    np = h2mem_alloc(n);
    memcpy(np, p, h->used);
    h2mem_free(p);
    return np;
}

size_t h2mem_kept(void)
{
    return lists_get()->kept;
}
