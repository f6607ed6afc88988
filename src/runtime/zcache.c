/* zcache: the directory of gzip copies, its index, and the thread for big files. */
#include "runtime/zcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"

#define ZC_BUCKETS 4096
#define ZC_MAX_JOBS 64
#define ZC_CHUNK 65536
#define ZC_NAME_MAX 96
#define ZC_NAME_FMT "z1-%016llx-%016llx-%016llx-%016llx-%08lx.gz"

enum zc_state { ZC_READY, ZC_PENDING, ZC_USELESS };

struct zc_entry {
    struct zc_entry *hnext, *lprev, *lnext;
    struct zcache_key key;
    uint64_t bytes; /* of the copy on disk (0 unless ZC_READY) */
    enum zc_state state;
};

struct zc_job {
    struct zc_job *next;
    struct zcache_key key;
    int fd; /* a duplicate of the caller's */
    uint64_t budget;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int dirfd; /* -1 while closed */
    struct zc_entry *buckets[ZC_BUCKETS];
    struct zc_entry lru; /* sentinel: lru.lnext is the most recent */
    size_t nentries;
    uint64_t bytes;
    struct zc_job *jobs, **jobs_tail;
    size_t njobs;
    pthread_t thread;
    bool thread_on, stopping;
} zc = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .dirfd = -1};

static atomic_uint_fast64_t tmp_seq, compressions;

/* ---- the index (zc.lock held) ---- */

static uint64_t key_hash(const struct zcache_key *k)
{
    uint64_t v[5] = {k->dev, k->ino, k->size, (uint64_t)k->mtime, (uint64_t)k->mtime_nsec};
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < 5; i++)
        h = (h ^ v[i]) * 1099511628211ULL;
    return h;
}

static bool key_eq(const struct zcache_key *a, const struct zcache_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime == b->mtime &&
           a->mtime_nsec == b->mtime_nsec;
}

static void key_name(const struct zcache_key *k, char name[ZC_NAME_MAX])
{
    snprintf(name, ZC_NAME_MAX, ZC_NAME_FMT, (unsigned long long)k->dev, (unsigned long long)k->ino,
             (unsigned long long)k->size, (unsigned long long)k->mtime,
             (unsigned long)k->mtime_nsec);
}

static struct zc_entry **bucket_of(const struct zcache_key *k)
{
    return &zc.buckets[key_hash(k) % ZC_BUCKETS];
}

static struct zc_entry *find(const struct zcache_key *k)
{
    for (struct zc_entry *e = *bucket_of(k); e; e = e->hnext)
        if (key_eq(&e->key, k))
            return e;
    return NULL;
}

static void lru_unlink(struct zc_entry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
}

static void lru_front(struct zc_entry *e)
{
    e->lnext = zc.lru.lnext;
    e->lprev = &zc.lru;
    zc.lru.lnext->lprev = e;
    zc.lru.lnext = e;
}

static struct zc_entry *insert(const struct zcache_key *k, enum zc_state state)
{
    struct zc_entry *e = xcalloc(1, sizeof(*e)), **b = bucket_of(k);

    e->key = *k;
    e->state = state;
    e->hnext = *b;
    *b = e;
    lru_front(e);
    zc.nentries++;
    return e;
}

/* Forget E, and remove its copy from the directory. */
static void drop(struct zc_entry *e)
{
    struct zc_entry **pp = bucket_of(&e->key);
    char name[ZC_NAME_MAX];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    zc.nentries--;
    zc.bytes -= e->bytes;
    if (e->state == ZC_READY && zc.dirfd >= 0) {
        key_name(&e->key, name);
        if (unlinkat(zc.dirfd, name, 0) == -1 && errno != ENOENT)
            log_warn("zcache: removing %s", name);
    }
    free(e);
}

/* Least recently used first, never one being made nor KEEP. */
static void evict(uint64_t budget, const struct zc_entry *keep)
{
    struct zc_entry *e = zc.lru.lprev, *prev;

    for (; e != &zc.lru && (zc.bytes > budget || zc.nentries > ZCACHE_MAX_ENTRIES); e = prev) {
        prev = e->lprev;
        if (e != keep && e->state != ZC_PENDING)
            drop(e);
    }
}

/* Record what became of K: a copy of LEN bytes (READY) or none worth keeping. */
static void settle(const struct zcache_key *k, enum zc_state state, uint64_t len, uint64_t budget)
{
    struct zc_entry *e = find(k);

    if (e == NULL)
        e = insert(k, state);
    zc.bytes -= e->bytes;
    e->state = state;
    e->bytes = state == ZC_READY ? len : 0;
    zc.bytes += e->bytes;
    lru_unlink(e);
    lru_front(e);
    if (e->bytes > budget) { /* alone beyond the budget: not kept, and not made again */
        drop(e);
        e = insert(k, ZC_USELESS);
    }
    evict(budget, e);
}

/* ---- compressing ---- */

/* Deflate SIZE bytes of SRC into DST as one gzip member; *LEN its length. */
static int deflate_fd(int src, uint64_t size, int dst, uint64_t *len)
{
    unsigned char *in = xmalloc(ZC_CHUNK), *out = xmalloc(ZC_CHUNK);
    z_stream z = {0};
    uint64_t off = 0;
    int rc = -1, flush;

    if (deflateInit2(&z, ZCACHE_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        goto fail;
    do {
        size_t want = size - off < ZC_CHUNK ? (size_t)(size - off) : ZC_CHUNK;
        ssize_t n = want ? pread(src, in, want, (off_t)off) : 0;
        if (n < 0 || (size_t)n != want) /* shrank or failed: this version is gone */
            goto end;
        off += (uint64_t)n;
        flush = off == size ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            z.next_out = out;
            z.avail_out = ZC_CHUNK;
            deflate(&z, flush); /* cannot fail with valid arguments */
            if (fs_write_all(dst, out, ZC_CHUNK - z.avail_out) == -1)
                goto end;
        } while (z.avail_out == 0);
    } while (flush != Z_FINISH);
    *len = z.total_out;
    rc = 0;
end:
    deflateEnd(&z);
fail:
    free(in);
    free(out);
    return rc;
}

/* SRC still is version K (it did not change while it was read). */
static bool still_version(int src, const struct zcache_key *k)
{
    struct stat st;

    return fstat(src, &st) == 0 && (uint64_t)st.st_size == k->size &&
           st.st_mtim.tv_sec == k->mtime && st.st_mtim.tv_nsec == k->mtime_nsec;
}

/* Compress version K of SRC into the directory; the copy's descriptor, or -1 when there is
 * none worth keeping (gzip saves less than a twentieth, or the file changed). */
static int make_copy(const struct zcache_key *k, int src, uint64_t *len)
{
    char tmp[64], name[ZC_NAME_MAX];
    int dst;

    atomic_fetch_add(&compressions, 1);
    snprintf(tmp, sizeof(tmp), "tmp-%ld-%llu", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&tmp_seq, 1));
    dst = openat(zc.dirfd, tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640);
    if (dst == -1) {
        log_warn("zcache: creating a copy");
        return -1;
    }
    key_name(k, name);
    if (deflate_fd(src, k->size, dst, len) == -1 || *len >= k->size - k->size / 20 ||
        !still_version(src, k) || renameat(zc.dirfd, tmp, zc.dirfd, name) == -1) {
        unlinkat(zc.dirfd, tmp, 0);
        close(dst);
        return -1;
    }
    return dst;
}

/* ---- the thread for big files ---- */

static void *zc_main(void *arg)
{
    struct zc_job *j;
    uint64_t len = 0;
    int fd;

    (void)arg;
    pthread_mutex_lock(&zc.lock);
    while (!zc.stopping) {
        if ((j = zc.jobs) == NULL) {
            pthread_cond_wait(&zc.cond, &zc.lock);
            continue;
        }
        if ((zc.jobs = j->next) == NULL)
            zc.jobs_tail = &zc.jobs;
        zc.njobs--;
        pthread_mutex_unlock(&zc.lock);
        fd = make_copy(&j->key, j->fd, &len);
        if (fd >= 0)
            close(fd);
        close(j->fd);
        pthread_mutex_lock(&zc.lock);
        settle(&j->key, fd >= 0 ? ZC_READY : ZC_USELESS, len, j->budget);
        free(j);
    }
    pthread_mutex_unlock(&zc.lock);
    return NULL;
}

/* Hand version K of FD to the thread (zc.lock held); false when it cannot take more. */
static bool enqueue(const struct zcache_key *k, int fd, uint64_t budget)
{
    struct zc_job *j;
    int dup_fd;

    if (zc.njobs >= ZC_MAX_JOBS || (dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
        return false;
    if (!zc.thread_on) {
        if (pthread_create(&zc.thread, NULL, zc_main, NULL) != 0) {
            close(dup_fd);
            return false;
        }
        zc.thread_on = true;
    }
    j = xcalloc(1, sizeof(*j));
    j->key = *k;
    j->fd = dup_fd;
    j->budget = budget;
    *zc.jobs_tail = j;
    zc.jobs_tail = &j->next;
    zc.njobs++;
    insert(k, ZC_PENDING);
    pthread_cond_signal(&zc.cond);
    return true;
}

/* ---- the interface ---- */

static int open_ready(const struct zcache_key *k, uint64_t *len)
{
    char name[ZC_NAME_MAX];
    struct stat st;
    int fd;

    key_name(k, name);
    fd = openat(zc.dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0) {
        *len = (uint64_t)st.st_size;
        return fd;
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Ask the index (zc.lock held): HIT with *out, PENDING, NONE, or -1 for a miss. */
static int lookup(const struct zcache_key *k, int *out, uint64_t *len)
{
    struct zc_entry *e = find(k);

    if (e == NULL)
        return -1;
    lru_unlink(e);
    lru_front(e);
    if (e->state == ZC_PENDING)
        return ZCACHE_PENDING;
    if (e->state == ZC_USELESS)
        return ZCACHE_NONE;
    if ((*out = open_ready(k, len)) >= 0)
        return ZCACHE_HIT;
    drop(e); /* removed behind our back: made again */
    return -1;
}

enum zcache_result zcache_get(const struct zcache_key *k, int fd, uint64_t budget, int *out,
                              uint64_t *len)
{
    int rc, copy;

    if (k->size == 0 || k->size > ZCACHE_FILE_MAX || budget == 0)
        return ZCACHE_NONE;
    pthread_mutex_lock(&zc.lock);
    rc = zc.dirfd < 0 ? ZCACHE_NONE : lookup(k, out, len);
    if (rc == -1 && k->size > ZCACHE_INLINE_MAX)
        rc = enqueue(k, fd, budget) ? ZCACHE_QUEUED : ZCACHE_NONE;
    pthread_mutex_unlock(&zc.lock);
    if (rc != -1)
        return (enum zcache_result)rc;
    copy = make_copy(k, fd, len);
    pthread_mutex_lock(&zc.lock);
    settle(k, copy >= 0 ? ZC_READY : ZC_USELESS, *len, budget);
    pthread_mutex_unlock(&zc.lock);
    *out = copy;
    return copy >= 0 ? ZCACHE_MADE : ZCACHE_NONE;
}

uint64_t zcache_compressions(void)
{
    return atomic_load(&compressions);
}

/* ---- opening: what a previous run left ---- */

struct found {
    struct zcache_key key;
    uint64_t bytes;
    time_t made;
};

static int by_age(const void *a, const void *b)
{
    const struct found *x = a, *y = b;

    return x->made < y->made ? -1 : x->made > y->made;
}

/* NAME as a copy's name; false for anything else (a temporary file of a crashed run). */
static bool parse_name(const char *name, struct zcache_key *k)
{
    unsigned long long dev, ino, size, mtime;
    unsigned long nsec;
    char again[ZC_NAME_MAX];
    int n = 0;

    if (sscanf(name, "z1-%16llx-%16llx-%16llx-%16llx-%8lx.gz%n", &dev, &ino, &size, &mtime, &nsec,
               &n) != 5 ||
        name[n] != '\0')
        return false;
    *k = (struct zcache_key){dev, ino, size, (int64_t)mtime, (long)nsec};
    key_name(k, again);
    return strcmp(again, name) == 0;
}

/* Index the copies in the directory, oldest least recently used; remove anything else. */
static void index_dir(void)
{
    int fd = dup(zc.dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct found *f = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    struct stat st;

    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap)
            f = xrealloc(f, (cap = cap ? 2 * cap : 64) * sizeof(*f));
        if (!parse_name(de->d_name, &f[n].key) || fstatat(zc.dirfd, de->d_name, &st, 0) == -1 ||
            !S_ISREG(st.st_mode)) {
            unlinkat(zc.dirfd, de->d_name, 0);
            continue;
        }
        f[n].bytes = (uint64_t)st.st_size;
        f[n++].made = st.st_mtime;
    }
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    if (n > 1)
        qsort(f, n, sizeof(*f), by_age);
    for (size_t i = 0; i < n; i++) {
        struct zc_entry *e = insert(&f[i].key, ZC_READY);
        e->bytes = f[i].bytes;
        zc.bytes += e->bytes;
    }
    free(f);
}

int zcache_open(const char *dir)
{
    int fd;

    if (fs_mkdir_p(dir, 0750) == -1 || (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
        return -1;
    pthread_mutex_lock(&zc.lock);
    zc.lru.lnext = zc.lru.lprev = &zc.lru;
    zc.jobs_tail = &zc.jobs;
    zc.dirfd = fd;
    zc.stopping = false;
    index_dir();
    pthread_mutex_unlock(&zc.lock);
    return 0;
}

void zcache_close(void)
{
    struct zc_job *j;

    pthread_mutex_lock(&zc.lock);
    zc.stopping = true;
    pthread_cond_signal(&zc.cond);
    pthread_mutex_unlock(&zc.lock);
    if (zc.thread_on)
        pthread_join(zc.thread, NULL);
    zc.thread_on = false;
    pthread_mutex_lock(&zc.lock);
    while ((j = zc.jobs) != NULL) {
        zc.jobs = j->next;
        close(j->fd);
        free(j);
    }
    zc.jobs_tail = &zc.jobs;
    zc.njobs = 0;
    while (zc.dirfd >= 0 && zc.lru.lnext != &zc.lru) {
        struct zc_entry *e = zc.lru.lnext;
        e->state = ZC_USELESS; /* forgotten, not removed: the next start finds the copy */
        drop(e);
    }
    if (zc.dirfd >= 0)
        close(zc.dirfd);
    zc.dirfd = -1;
    pthread_mutex_unlock(&zc.lock);
}
