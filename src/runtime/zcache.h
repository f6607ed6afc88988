/*
 * zcache: gzip copies of files, kept in one directory of the state directory
 * so that a file version is compressed once for every worker and for the
 * next start. A copy is named by what identifies a version of its file
 * (device, inode, size, modification time): a changed file gets a new copy
 * and the old one ages out, since the directory is bounded by a byte budget
 * (least recently used copies go first) and by ZCACHE_MAX_ENTRIES. Files of
 * at most ZCACHE_INLINE_MAX bytes are compressed on the calling thread (a
 * few milliseconds); bigger ones, up to ZCACHE_FILE_MAX, by the cache's own
 * thread while callers go on without a copy. Any thread: one mutex guards
 * the index, taken when a worker first meets a file version, not per
 * request. Descriptors handed out belong to the caller.
 */
#ifndef RUNTIME_ZCACHE_H
#define RUNTIME_ZCACHE_H

#include <stdint.h>

#define ZCACHE_INLINE_MAX (128 * 1024)
#define ZCACHE_FILE_MAX (64 * 1024 * 1024)
#define ZCACHE_MAX_ENTRIES 65536
#define ZCACHE_LEVEL 6

/* What identifies one version of a file. */
struct zcache_key {
    uint64_t dev, ino, size;
    int64_t mtime;
    long mtime_nsec;
};

enum zcache_result {
    ZCACHE_HIT,     /* *out is the copy */
    ZCACHE_MADE,    /* compressed just now; *out is the copy */
    ZCACHE_QUEUED,  /* handed to the cache's thread now: ask again later */
    ZCACHE_PENDING, /* the cache's thread is on it: ask again later */
    ZCACHE_NONE,    /* no copy: cache closed, file too big, or gzip would not make it smaller */
};

/**
 * Keep copies in DIR (created 0750 when missing), indexing those a previous
 * run left. Main thread, before any worker asks; -1 with errno when DIR
 * cannot be used (zcache_get then answers ZCACHE_NONE).
 */
int zcache_open(const char *dir);
/** Stop the cache's thread and forget the index (the copies stay on disk). After the workers. */
void zcache_close(void);
/**
 * The gzip copy of version K of the file open as FD: on ZCACHE_HIT and
 * ZCACHE_MADE a new descriptor in *OUT and its size in *LEN. BUDGET bounds
 * the bytes of every copy together (0: keep none).
 */
enum zcache_result zcache_get(const struct zcache_key *k, int fd, uint64_t budget, int *out,
                              uint64_t *len);
/** Compressions started since zcache_open (files compressed, kept or not). */
uint64_t zcache_compressions(void);

#endif
