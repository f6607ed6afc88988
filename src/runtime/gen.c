#include "runtime/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/alloc.h"
#include "runtime/service.h"
#include "runtime/tbucket.h"

static struct gen *_Atomic current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t next_serial = 1;
static atomic_uint_fast64_t next_vdir_uid = 1;

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void site_free(struct site *s)
{
    for (size_t i = 0; i < s->nvdirs; i++) {
        if (s->vdirs[i].dirfd >= 0)
            close(s->vdirs[i].dirfd);
        free(s->vdirs[i].prefix);
        free(s->vdirs[i].path);
        free(s->vdirs[i].ipacl.nets);
        free(s->vdirs[i].headers);
        for (size_t k = 0; k < s->vdirs[i].nerror_pages; k++)
            free(s->vdirs[i].error_pages[k].body);
        free(s->vdirs[i].error_pages);
        for (size_t k = 0; k < s->vdirs[i].nscripts; k++) {
            free(s->vdirs[i].scripts[k].ext);
            free(s->vdirs[i].scripts[k].interpreter);
        }
        free(s->vdirs[i].scripts);
        strv_free(s->vdirs[i].compression_types, s->vdirs[i].ncompression_types);
    }
    free(s->vdirs);
    strv_free(s->host_names, s->nhost_names);
    free(s->bindings);
    free(s->tls.cert_file);
    free(s->tls.key_file);
    SSL_CTX_free(s->tls.ctx);
    if (s->tls.acme) {
        free(s->tls.acme->directory);
        free(s->tls.acme->email);
        free(s->tls.acme->ca_file);
        free(s->tls.acme->cert_file);
        free(s->tls.acme->key_file);
        free(s->tls.acme);
    }
    if (s->svc && s->svc->free_site && s->svc_data)
        s->svc->free_site(s);
    tbucket_unref(s->bw);
    free(s->name);
}

void *gen_service_data(const struct gen *g, const struct service *svc)
{
    int i = service_index(svc);

    return g && i >= 0 && i < (int)(sizeof(g->svc_data) / sizeof(g->svc_data[0])) ? g->svc_data[i]
                                                                                   : NULL;
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
    for (size_t i = 0; i < sizeof(g->svc_data) / sizeof(g->svc_data[0]); i++)
        if (g->svc_data[i] && service_at(i) && service_at(i)->free_service)
            service_at(i)->free_service(g->svc_data[i]);
    for (size_t i = 0; i < g->nbindings; i++)
        free(g->bindings[i].sites);
    free(g->bindings);
    tbucket_unref(g->bw);
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
     * generation's last reference. */
    pthread_mutex_lock(&current_lock);
    g = atomic_load(&current);
    if (g)
        gen_ref(g);
    pthread_mutex_unlock(&current_lock);
    return g;
}

void gen_shutdown(void)
{
    gen_publish(NULL);
}

int gen_site_add_vdir(struct site *s, const char *prefix, const char *path, unsigned access,
                      enum path_symlinks symlinks, char *err, size_t errlen)
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

/* ---- bindings ---- */

static struct binding *binding_get(struct gen *g, const struct site *s, const struct site_binding *sb)
{
    struct binding *b;

    for (size_t i = 0; i < g->nbindings; i++)
        if (net_addr_eq(&g->bindings[i].addr, &sb->addr))
            return &g->bindings[i];
    g->bindings = xrealloc(g->bindings, (g->nbindings + 1) * sizeof(*g->bindings));
    b = &g->bindings[g->nbindings++];
    memset(b, 0, sizeof(*b));
    b->addr = sb->addr;
    b->svc = s->svc;
    b->tls = sb->tls;
    return b;
}

/* The default site of a binding is the one without host names; failing
 * that, the first site (sites are compiled in name order), as nginx does. */
static void binding_add_site(struct binding *b, struct site *s)
{
    b->sites = xrealloc(b->sites, (b->nsites + 1) * sizeof(*b->sites));
    b->sites[b->nsites++] = s;
    if (b->default_site == NULL || (s->nhost_names == 0 && b->default_site->nhost_names > 0))
        b->default_site = s;
}

void gen_build_bindings(struct gen *g)
{
    for (size_t i = 0; i < g->nsites; i++) {
        struct site *s = &g->sites[i];
        if (s->state == SITE_STOPPED)
            continue;
        for (size_t j = 0; j < s->nbindings; j++)
            binding_add_site(binding_get(g, s, &s->bindings[j]), s);
    }
}

const struct binding *gen_find_binding(const struct gen *g, const struct net_addr *a)
{
    for (size_t i = 0; g && i < g->nbindings; i++)
        if (net_addr_eq(&g->bindings[i].addr, a))
            return &g->bindings[i];
    return NULL;
}

const struct site *binding_site_for_host(const struct binding *b, const char *name, size_t len)
{
    if (b == NULL)
        return NULL;
    if (len > 0 && name[len - 1] == '.') /* "example.com." names the same host */
        len--;
    for (size_t i = 0; len > 0 && i < b->nsites; i++) {
        const struct site *s = b->sites[i];
        for (size_t h = 0; h < s->nhost_names; h++)
            if (strlen(s->host_names[h]) == len && strncasecmp(s->host_names[h], name, len) == 0)
                return s;
    }
    return b->default_site;
}

const struct site *binding_site_named(const struct binding *b, const char *name)
{
    for (size_t i = 0; b && i < b->nsites; i++)
        if (strcmp(b->sites[i]->name, name) == 0)
            return b->sites[i];
    return NULL;
}

bool vdir_allows(const struct vdir *v, const unsigned char addr[16])
{
    for (size_t i = 0; i < v->ipacl.nnets; i++)
        if (net_prefix_match(addr, v->ipacl.nets[i].addr, v->ipacl.nets[i].bits))
            return v->ipacl.deny;
    return !v->ipacl.deny;
}

const struct vdir_error_page *vdir_error_page(const struct vdir *v, int status)
{
    for (size_t i = 0; v && i < v->nerror_pages; i++)
        if (v->error_pages[i].status == status)
            return &v->error_pages[i];
    return NULL;
}
