#include "runtime/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "www/dirlist.h"
#include "www/mime.h"

static struct gen *_Atomic current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t next_serial = 1;
static atomic_uint_fast64_t next_vdir_uid = 1;

static void site_free(struct site *s)
{
    for (size_t i = 0; i < s->nvdirs; i++) {
        if (s->vdirs[i].dirfd >= 0)
            close(s->vdirs[i].dirfd);
        free(s->vdirs[i].prefix);
        free(s->vdirs[i].path);
    }
    free(s->vdirs);
    for (size_t i = 0; i < s->ndefault_docs; i++)
        free(s->default_docs[i]);
    free(s->default_docs);
    free(s->bindings);
    if (s->mime)
        mime_free(s->mime);
    free(s->name);
}

void gen_ref(struct gen *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void gen_unref(struct gen *g)
{
    if (g == NULL || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < g->nsites; i++)
        site_free(&g->sites[i]);
    free(g->sites);
    free(g);
}

struct gen *gen_new(void)
{
    struct gen *g = xcalloc(1, sizeof(*g));

    atomic_init(&g->refs, 1);
    g->serial = atomic_fetch_add(&next_serial, 1);
    return g;
}

void gen_publish(struct gen *g)
{
    struct gen *old;

    pthread_mutex_lock(&current_lock);
    old = atomic_exchange(&current, g);
    pthread_mutex_unlock(&current_lock);
    gen_unref(old);
}

struct gen *gen_current_ref(void)
{
    struct gen *g;

    /* The lock orders this reference against gen_publish dropping the old
     * generation's last reference. Workers only come here when the pointer
     * changed, so it is never contended on the request path. */
    pthread_mutex_lock(&current_lock);
    g = atomic_load(&current);
    if (g)
        gen_ref(g);
    pthread_mutex_unlock(&current_lock);
    return g;
}

struct gen *gen_current_peek(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

void gen_shutdown(void)
{
    gen_publish(NULL);
}

int gen_site_add_vdir(struct site *s, const char *prefix, const char *path, unsigned access,
                      enum path_symlinks symlinks, bool browse, char *err, size_t errlen)
{
    struct vdir *v;
    size_t plen = strlen(prefix);
    int fd;

    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (prefix[0] != '/' && plen > 0) {
        snprintf(err, errlen, "virtual directory prefix \"%s\" must start with '/'", prefix);
        return -1;
    }
    for (size_t i = 0; i < s->nvdirs; i++) {
        if (s->vdirs[i].prefix_len == plen && memcmp(s->vdirs[i].prefix, prefix, plen) == 0) {
            snprintf(err, errlen, "virtual directory \"%.*s/\" is defined twice", (int)plen, prefix);
            return -1;
        }
    }
    fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "directory \"%s\" of virtual directory \"%.*s/\": %s", path, (int)plen,
                 prefix, strerror(errno));
        return -1;
    }
    s->vdirs = xrealloc(s->vdirs, (s->nvdirs + 1) * sizeof(*s->vdirs));
    v = &s->vdirs[s->nvdirs++];
    memset(v, 0, sizeof(*v));
    v->prefix = xstrndup(prefix, plen);
    v->prefix_len = plen;
    v->path = xstrdup(path);
    v->dirfd = fd;
    v->uid = atomic_fetch_add(&next_vdir_uid, 1);
    v->access = access;
    v->symlinks = symlinks;
    v->browse = browse;
    v->browse_flags = DIRLIST_DATE | DIRLIST_TIME | DIRLIST_SIZE | DIRLIST_EXTENSION;
    return 0;
}

static int vdir_cmp(const void *a, const void *b)
{
    const struct vdir *x = a, *y = b;

    return (x->prefix_len < y->prefix_len) - (x->prefix_len > y->prefix_len);
}

void gen_site_finish(struct site *s)
{
    qsort(s->vdirs, s->nvdirs, sizeof(*s->vdirs), vdir_cmp);
}

const struct vdir *gen_find_vdir(const struct site *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nvdirs; i++) {
        const struct vdir *v = &s->vdirs[i];
        if (v->prefix_len > len || memcmp(v->prefix, path, v->prefix_len) != 0)
            continue;
        if (len == v->prefix_len || path[v->prefix_len] == '/')
            return v;
    }
    return NULL;
}
