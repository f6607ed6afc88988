/*
 * stats: counters kept by the workers. Each slot (a service, or a service's
 * site) has one cache-line-aligned block of counters per worker, written only
 * by that worker with relaxed atomics and summed on read. Connection gauges
 * (current, max) are shared atomics touched once per connection. Slots are
 * registered by the main thread when it builds a generation; reads and
 * clears may come from any thread.
 */
#ifndef RUNTIME_STATS_H
#define RUNTIME_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

enum stat_id {
    STAT_BYTES_SENT,
    STAT_BYTES_RECEIVED,
    STAT_FILES_SENT,
    STAT_TOTAL_CONNECTIONS,
    STAT_CONNECTION_ATTEMPTS,
    STAT_GET_REQUESTS,
    STAT_HEAD_REQUESTS,
    STAT_OTHER_REQUESTS,
    STAT_TOTAL_REQUESTS,
    STAT_NOT_FOUND_ERRORS,
    STAT_MENUS_SENT,       /* gopher: menus (directory listings) sent */
    STAT_FILES_RECEIVED,   /* ftp: uploads completed */
    STAT_LOGON_ATTEMPTS,   /* ftp: PASS commands */
    STAT_CERTS_ISSUED,     /* TLS sites: certificates the ACME CA issued */
    STAT_CERT_FAILURES,    /* TLS sites: ACME orders and renewals that failed */
    STAT_ACCESS_DENIED,    /* www: requests refused by ip_default/ip_exceptions (403) */
    STAT_LOG_DROPPED,      /* access log entries lost: the writer behind, the disk failing */
    STAT_FILES_COMPRESSED, /* www: file versions compressed for the compressed-file cache */
    STAT_COUNTERS, /* number of per-worker counters */
    STAT_CURRENT_CONNECTIONS = STAT_COUNTERS,
    STAT_MAX_CONNECTIONS,
    STAT_CURRENT_ANONYMOUS, /* ftp: anonymous users logged in */
    STAT_MAX_ANONYMOUS,
    STAT_CURRENT_NONANONYMOUS, /* ftp: named users logged in */
    STAT_MAX_NONANONYMOUS,
    STAT_ALL,
};

/* Gauges: a current value and its maximum since the last clear. */
enum stat_gauge { GAUGE_CONNECTIONS, GAUGE_ANONYMOUS, GAUGE_NONANONYMOUS, GAUGES };

#define STATS_ALL_COUNTERS ((1ull << STAT_ALL) - 1)
#define STAT_BIT(id) (1ull << (id))
/* The ACME counters every service with TLS sites keeps. */
#define STATS_CERT_COUNTERS (STAT_BIT(STAT_CERTS_ISSUED) | STAT_BIT(STAT_CERT_FAILURES))
/* The access log's counters, which every service keeps. */
#define STATS_LOG_COUNTERS STAT_BIT(STAT_LOG_DROPPED)

#define STATS_MAX_SLOTS 256
#define STATS_MAX_WORKERS 64

/** Prepare the counter storage for NWORKERS workers (main thread, once). */
void stats_init(unsigned nworkers);
/** The slot of SERVICE ("www") or SERVICE/SITE; created on first use. -1 when full. */
int stats_slot(const char *service, const char *site);
/** Add N to counter ID of SLOT for worker W (worker thread W only). */
void stats_add(unsigned w, int slot, enum stat_id id, uint64_t n);
/**
 * Add N to counter ID of SLOT from a thread that is not a worker (the ACME
 * thread). Only for counters no worker writes: it shares worker 0's block.
 */
void stats_add_shared(int slot, enum stat_id id, uint64_t n);
/** A connection opened on SLOT: bumps current and max. */
void stats_conn_open(int slot);
/** Connections open on SLOT right now. */
uint64_t stats_current(int slot);
/** A connection of SLOT closed. */
void stats_conn_close(int slot);
/** Gauge G of SLOT goes up by one (and its maximum with it). */
void stats_gauge_inc(int slot, enum stat_gauge g);
/** Gauge G of SLOT goes down by one. */
void stats_gauge_dec(int slot, enum stat_gauge g);
/** Read SLOT's counters since the last clear into out[STAT_ALL]. */
void stats_read(int slot, uint64_t out[STAT_ALL]);
/** Clear SLOT (counters restart from zero; current connections stay). */
void stats_clear(int slot);
/** Time of SLOT's last clear (start-up if never cleared). */
time_t stats_cleared_at(int slot);
/** Name of the counter as used in JSON ("bytes_sent"). */
const char *stats_name(enum stat_id id);
/** True when SLOT's service keeps counter ID (its service table says which). */
bool stats_has(int slot, enum stat_id id);
/** SLOT's counters as a new JSON object {name: value}, those its service keeps. */
json_t *stats_counters_json(int slot);
/** Name of SLOT's site, or NULL for a service slot; *service gets the service. */
const char *stats_slot_site(int slot, const char **service);
/** Number of slots registered so far. */
int stats_nslots(void);

#endif
