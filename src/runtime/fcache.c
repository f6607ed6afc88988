#include "runtime/fcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "runtime/gen.h"
#include "core/clock.h"
#include "runtime/path.h"

#define NBUCKETS 4096

struct fcache {
    struct fc_entry *buckets[NBUCKETS];
    struct fc_entry lru; /* sentinel: lru.lnext is the most recent */
    size_t nentries, max_entries;
    size_t bytes, max_bytes;
    uint32_t valid_ms;
    uint64_t hits, misses, open_handles;
};

static uint64_t fc_hash(uint64_t uid, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ uid;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

struct fcache *fcache_new(size_t max_entries, size_t max_bytes, uint32_t valid_ms)
{
    struct fcache *c = xcalloc(1, sizeof(*c));

    c->lru.lnext = c->lru.lprev = &c->lru;
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->valid_ms = valid_ms;
    return c;
}

static void entry_destroy(struct fc_entry *e)
{
    if (e->fd >= 0)
        close(e->fd);
    free(e->body);
    if (e->ext_free)
        e->ext_free(e->ext);
    free(e->rel);
    free(e);
}

void fcache_put(struct fc_entry *e)
{
    if (--e->refs == 0)
        entry_destroy(e);
}

static void lru_unlink(struct fc_entry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
}

static void lru_push(struct fcache *c, struct fc_entry *e)
{
    e->lnext = c->lru.lnext;
    e->lprev = &c->lru;
    c->lru.lnext->lprev = e;
    c->lru.lnext = e;
}

static void entry_remove(struct fcache *c, struct fc_entry *e)
{
    struct fc_entry **pp = &c->buckets[e->hash % NBUCKETS];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    c->nentries--;
    if (e->fd >= 0)
        c->open_handles--;
    if (e->body)
        c->bytes -= (size_t)e->size;
    fcache_put(e);
}

void fcache_flush(struct fcache *c)
{
    while (c->lru.lnext != &c->lru)
        entry_remove(c, c->lru.lnext);
}

void fcache_free(struct fcache *c)
{
    if (c == NULL)
        return;
    fcache_flush(c);
    free(c);
}

static void entry_load_body(struct fcache *c, struct fc_entry *e)
{
    ssize_t n;

    if (e->is_dir || e->size > FC_BODY_MAX || c->bytes + (size_t)e->size > c->max_bytes)
        return;
    e->body = xmalloc((size_t)e->size + 1);
    n = pread(e->fd, e->body, (size_t)e->size, 0);
    if (n != (ssize_t)e->size) { /* changed under us: serve it from the descriptor */
        free(e->body);
        e->body = NULL;
        return;
    }
    c->bytes += (size_t)e->size;
}

/* Open the file and fill the metadata; failures become failure entries. */
static void entry_open(struct fcache *c, struct fc_entry *e, const struct vdir *v)
{
    struct stat st;

    e->fd = path_open_beneath(v->dirfd, e->rel, v->symlinks, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (e->fd == -1) {
        e->err = errno;
        return;
    }
    if (fstat(e->fd, &st) == -1 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        e->err = EACCES; /* FIFOs, devices, unreadable metadata: refused */
        close(e->fd);
        e->fd = -1;
        return;
    }
    c->open_handles++;
    e->is_dir = S_ISDIR(st.st_mode);
    e->size = st.st_size;
    e->mtime = st.st_mtim.tv_sec;
    e->mtime_nsec = st.st_mtim.tv_nsec;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    entry_load_body(c, e);
}

/* Still the same file? Compares identity, size and mtime without re-reading. */
static bool entry_still_valid(const struct fc_entry *e, const struct vdir *v)
{
    struct stat st;
    int fd = path_open_beneath(v->dirfd, e->rel, v->symlinks, O_PATH);
    bool same;

    if (fd == -1)
        return e->fd == -1 && errno == e->err;
    same = e->fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino &&
           st.st_size == e->size && st.st_mtim.tv_sec == e->mtime &&
           st.st_mtim.tv_nsec == e->mtime_nsec;
    close(fd);
    return same;
}

static void evict_to_fit(struct fcache *c)
{
    while (c->nentries >= c->max_entries && c->lru.lprev != &c->lru)
        entry_remove(c, c->lru.lprev);
}

static struct fc_entry *entry_create(struct fcache *c, const struct vdir *v, const char *rel,
                                     size_t len, uint64_t h)
{
    struct fc_entry *e = xcalloc(1, sizeof(*e));

    e->hash = h;
    e->vdir_uid = v->uid;
    e->rel = xstrndup(rel, len);
    e->rel_len = len;
    e->refs = 1; /* the cache's own */
    e->checked_ms = clock_ms();
    entry_open(c, e, v);
    evict_to_fit(c);
    e->hnext = c->buckets[h % NBUCKETS];
    c->buckets[h % NBUCKETS] = e;
    lru_push(c, e);
    c->nentries++;
    return e;
}

static struct fc_entry *entry_lookup(struct fcache *c, const struct vdir *v, const char *rel,
                                     size_t len, uint64_t h)
{
    for (struct fc_entry *e = c->buckets[h % NBUCKETS]; e != NULL; e = e->hnext) {
        if (e->hash == h && e->vdir_uid == v->uid && e->rel_len == len &&
            memcmp(e->rel, rel, len) == 0)
            return e;
    }
    return NULL;
}

void fcache_forget(struct fcache *c, uint64_t vdir_uid, const char *rel, size_t len)
{
    uint64_t h = fc_hash(vdir_uid, rel, len);

    for (struct fc_entry *e = c->buckets[h % NBUCKETS]; e != NULL; e = e->hnext) {
        if (e->hash == h && e->vdir_uid == vdir_uid && e->rel_len == len &&
            memcmp(e->rel, rel, len) == 0) {
            entry_remove(c, e);
            return;
        }
    }
}

struct fc_entry *fcache_get(struct fcache *c, const struct vdir *v, const char *rel, size_t len)
{
    uint64_t h = fc_hash(v->uid, rel, len);
    struct fc_entry *e = entry_lookup(c, v, rel, len, h);

    if (e != NULL && clock_ms() - e->checked_ms >= c->valid_ms) {
        if (entry_still_valid(e, v)) {
            e->checked_ms = clock_ms();
        } else {
            entry_remove(c, e);
            e = NULL;
        }
    }
    if (e != NULL) {
        c->hits++;
        if (c->lru.lnext != e) {
            lru_unlink(e);
            lru_push(c, e);
        }
    } else {
        c->misses++;
        e = entry_create(c, v, rel, len, h);
    }
    e->refs++;
    return e;
}

struct fc_entry *fcache_detached(int fd)
{
    struct fc_entry *e;
    struct stat st;

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    e = xcalloc(1, sizeof(*e));
    e->refs = 1;
    e->fd = fd;
    e->size = st.st_size;
    e->mtime = st.st_mtim.tv_sec;
    e->mtime_nsec = st.st_mtim.tv_nsec;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    if (e->size <= FC_BODY_MAX) {
        e->body = xmalloc((size_t)e->size + 1);
        if (pread(fd, e->body, (size_t)e->size, 0) != (ssize_t)e->size) {
            free(e->body);
            e->body = NULL;
        }
    }
    return e;
}

void fcache_get_stats(const struct fcache *c, struct fcache_stats *out)
{
    out->hits = c->hits;
    out->misses = c->misses;
    out->open_handles = c->open_handles;
    out->entries = c->nentries;
    out->bytes = c->bytes;
}
