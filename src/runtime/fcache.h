/*
 * fcache: the open-file cache of one worker — descriptor, size, mtime, the
 * bytes of small files, and what the service derives from an entry once
 * (ext: WWW keeps the media type, validators and header block there). Keyed
 * by (virtual directory, relative path); also remembers recent failures so a
 * burst of 404s costs no system calls. An entry is trusted for valid_ms and
 * then revalidated against the file system, so changed files are noticed.
 * Single-threaded: each worker owns its cache. Entries are reference-counted
 * so an in-flight sendfile keeps its descriptor after eviction or flush.
 */
#ifndef RUNTIME_FCACHE_H
#define RUNTIME_FCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>


struct vdir;

#define FC_BODY_MAX (16 * 1024) /* files up to this size are kept in memory */

struct fc_entry {
    struct fc_entry *hnext;
    struct fc_entry *lprev, *lnext;
    uint64_t hash;
    uint64_t vdir_uid;
    char *rel;
    size_t rel_len;
    int refs;
    int fd;       /* -1 for a failure entry */
    int err;      /* errno of the failure */
    bool is_dir;
    off_t size;
    time_t mtime;
    long mtime_nsec;
    dev_t dev;
    ino_t ino;
    char *body;   /* the whole file when size <= FC_BODY_MAX */
    void *ext;    /* the service's own data about the file, freed with ext_free */
    void (*ext_free)(void *ext);
    uint64_t checked_ms;
};

struct fcache_stats {
    uint64_t hits, misses, open_handles, entries, bytes;
};

/** A cache bounded by MAX_ENTRIES and MAX_BYTES of file bodies. */
struct fcache *fcache_new(size_t max_entries, size_t max_bytes, uint32_t valid_ms);
/** Free the cache; entries still referenced live until their last fcache_put. */
void fcache_free(struct fcache *c);
/**
 * The entry for REL (normalised, without leading '/') beneath V, opened or
 * revalidated as needed. Always returns an entry holding one reference for
 * the caller; check fd == -1 for a failure (err says why).
 */
struct fc_entry *fcache_get(struct fcache *c, const struct vdir *v, const char *rel, size_t len);
/**
 * An entry outside any cache for the regular file open as FD (taken over),
 * e.g. a compressed copy: one reference for the caller, released with
 * fcache_put; a file of at most FC_BODY_MAX bytes is read into memory as a
 * cached one is. NULL (FD closed) when FD cannot be examined.
 */
struct fc_entry *fcache_detached(int fd);
/** Drop a reference taken by fcache_get or fcache_detached. */
void fcache_put(struct fc_entry *e);
/** Forget the entry of REL beneath the vdir VDIR_UID, if any (the file was replaced or removed). */
void fcache_forget(struct fcache *c, uint64_t vdir_uid, const char *rel, size_t len);
/** Forget every entry (descriptors close once no response uses them). */
void fcache_flush(struct fcache *c);
/** Counters for statistics. */
void fcache_get_stats(const struct fcache *c, struct fcache_stats *out);

#endif
