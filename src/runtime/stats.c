#include "runtime/stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "runtime/service.h"

struct block {
    _Atomic uint64_t c[STAT_COUNTERS];
} __attribute__((aligned(64)));

struct slot {
    char *service;
    char *site;            /* NULL for the service itself */
    struct block *workers; /* nworkers blocks */
    uint64_t base[STAT_COUNTERS]; /* values at the last clear */
    _Atomic uint64_t current[GAUGES], max[GAUGES];
    time_t cleared_at;
    pthread_mutex_t lock;  /* serialises clear against read of base */
};

static struct slot slots[STATS_MAX_SLOTS];
static _Atomic int nslots;
static unsigned nworkers = 1;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *names[STAT_ALL] = {
    "bytes_sent",        "bytes_received",      "files_sent",   "total_connections",
    "connection_attempts", "get_requests",      "head_requests", "other_requests",
    "total_requests",    "not_found_errors",    "menus_sent",   "files_received",
    "logon_attempts",    "certificates_issued", "certificate_failures", "access_denied",
    "log_entries_dropped", "files_compressed",  "current_connections", "max_connections",
    "current_anonymous_users",
    "max_anonymous_users", "current_nonanonymous_users", "max_nonanonymous_users",
};

void stats_init(unsigned n)
{
    nworkers = n ? n : 1;
}

static int slot_find(const char *service, const char *site)
{
    int n = atomic_load(&nslots);

    for (int i = 0; i < n; i++) {
        if (strcmp(slots[i].service, service) != 0)
            continue;
        if ((site == NULL && slots[i].site == NULL) ||
            (site && slots[i].site && strcmp(slots[i].site, site) == 0))
            return i;
    }
    return -1;
}

int stats_slot(const char *service, const char *site)
{
    int i;

    pthread_mutex_lock(&reg_lock);
    i = slot_find(service, site);
    if (i < 0 && atomic_load(&nslots) < STATS_MAX_SLOTS) {
        i = atomic_load(&nslots);
        struct slot *s = &slots[i];
        s->service = xstrdup(service);
        s->site = site ? xstrdup(site) : NULL;
        s->workers = aligned_alloc(64, sizeof(struct block) * nworkers);
        if (s->workers == NULL)
            abort();
        memset(s->workers, 0, sizeof(struct block) * nworkers);
        s->cleared_at = time(NULL);
        pthread_mutex_init(&s->lock, NULL);
        atomic_store(&nslots, i + 1);
    }
    pthread_mutex_unlock(&reg_lock);
    return i;
}

void stats_add(unsigned w, int slot, enum stat_id id, uint64_t n)
{
    _Atomic uint64_t *c;

    if (slot < 0)
        return;
    /* Single writer per block: a relaxed load and store is enough and
     * compiles to plain moves, with no locked instruction. */
    c = &slots[slot].workers[w].c[id];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void stats_add_shared(int slot, enum stat_id id, uint64_t n)
{
    if (slot >= 0)
        atomic_fetch_add(&slots[slot].workers[0].c[id], n);
}

void stats_gauge_inc(int slot, enum stat_gauge g)
{
    uint64_t cur, max;

    if (slot < 0)
        return;
    cur = atomic_fetch_add(&slots[slot].current[g], 1) + 1;
    max = atomic_load(&slots[slot].max[g]);
    while (cur > max && !atomic_compare_exchange_weak(&slots[slot].max[g], &max, cur))
        ;
}

void stats_gauge_dec(int slot, enum stat_gauge g)
{
    if (slot >= 0)
        atomic_fetch_sub(&slots[slot].current[g], 1);
}

void stats_conn_open(int slot)
{
    stats_gauge_inc(slot, GAUGE_CONNECTIONS);
}

uint64_t stats_current(int slot)
{
    return slot < 0 ? 0
                    : atomic_load_explicit(&slots[slot].current[GAUGE_CONNECTIONS],
                                           memory_order_relaxed);
}

void stats_conn_close(int slot)
{
    stats_gauge_dec(slot, GAUGE_CONNECTIONS);
}

static void sum_counters(const struct slot *s, uint64_t out[STAT_COUNTERS])
{
    memset(out, 0, sizeof(uint64_t) * STAT_COUNTERS);
    for (unsigned w = 0; w < nworkers; w++)
        for (int i = 0; i < STAT_COUNTERS; i++)
            out[i] += atomic_load_explicit(&s->workers[w].c[i], memory_order_relaxed);
}

void stats_read(int slot, uint64_t out[STAT_ALL])
{
    struct slot *s = &slots[slot];

    sum_counters(s, out);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < STAT_COUNTERS; i++)
        out[i] -= s->base[i];
    pthread_mutex_unlock(&s->lock);
    for (int g = 0; g < GAUGES; g++) {
        out[STAT_CURRENT_CONNECTIONS + 2 * g] = atomic_load(&s->current[g]);
        out[STAT_MAX_CONNECTIONS + 2 * g] = atomic_load(&s->max[g]);
    }
}

void stats_clear(int slot)
{
    struct slot *s = &slots[slot];
    uint64_t now[STAT_COUNTERS];

    sum_counters(s, now);
    pthread_mutex_lock(&s->lock);
    memcpy(s->base, now, sizeof(now));
    s->cleared_at = time(NULL);
    pthread_mutex_unlock(&s->lock);
    for (int g = 0; g < GAUGES; g++)
        atomic_store(&s->max[g], atomic_load(&s->current[g]));
}

time_t stats_cleared_at(int slot)
{
    time_t t;

    pthread_mutex_lock(&slots[slot].lock);
    t = slots[slot].cleared_at;
    pthread_mutex_unlock(&slots[slot].lock);
    return t;
}

const char *stats_name(enum stat_id id)
{
    return (id >= 0 && id < STAT_ALL) ? names[id] : "?";
}

const char *stats_slot_site(int slot, const char **service)
{
    *service = slots[slot].service;
    return slots[slot].site;
}

int stats_nslots(void)
{
    return atomic_load(&nslots);
}

bool stats_has(int slot, enum stat_id id)
{
    const struct service *svc = service_find(slots[slot].service);

    return svc == NULL || (svc->counters & (1ull << id)) != 0;
}

json_t *stats_counters_json(int slot)
{
    uint64_t v[STAT_ALL];
    json_t *c = json_object();

    stats_read(slot, v);
    for (int i = 0; i < STAT_ALL; i++)
        if (stats_has(slot, (enum stat_id)i))
            json_object_set_new(c, stats_name((enum stat_id)i), json_integer((json_int_t)v[i]));
    return c;
}
