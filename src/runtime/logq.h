/*
 * logq: the filters of an access-log query (GET /api/v1/log, infoadm log) —
 * parsed from a raw query string, checked, and turned into the SQL that
 * logdb runs on each database file. Pure functions on caller-owned structs:
 * no I/O, no allocation but the SQL buffer; safe from any thread.
 */
#ifndef RUNTIME_LOGQ_H
#define RUNTIME_LOGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

#define LOGQ_LIMIT_DEFAULT 100
#define LOGQ_LIMIT_MAX 10000
#define LOGQ_PATH_MAX 1024  /* bytes of a path prefix */
#define LOGQ_CLIENT_MAX 64  /* an IPv6 address in text, with room */
#define LOGQ_NAME_MAX 128   /* a service or site name */
#define LOGQ_QUERY_MAX 4096 /* bytes of a whole query string */
#define LOGQ_BINDS_MAX 8

/* Open ends of the time interval. */
#define LOGQ_TIME_MIN INT64_MIN
#define LOGQ_TIME_MAX INT64_MAX

struct logq {
    char service[LOGQ_NAME_MAX];  /* "" = every service */
    char site[LOGQ_NAME_MAX];     /* "" = every site */
    int status_min, status_max;   /* 0, 0: any status */
    char client[LOGQ_CLIENT_MAX]; /* canonical address text; "" = any */
    char path[LOGQ_PATH_MAX + 1]; /* prefix of the path (uri stem); path_len 0 = any */
    size_t path_len;
    char path_end[LOGQ_PATH_MAX + 1]; /* the first string after all those with the prefix */
    size_t path_end_len;              /* 0: there is none (the prefix is all 0xff bytes) */
    int64_t since, until;             /* entries with since <= time < until */
    unsigned limit;                   /* 1..LOGQ_LIMIT_MAX */
    bool oldest_first;                /* default: newest first */
    time_t now;                       /* what relative times count from */
    unsigned seen;                    /* bit per parameter given, to refuse repeats */
};

/* What was wrong: the parameter (for the API's details) and a sentence. */
struct logq_error {
    char param[16];
    char message[256];
};

/* A value the SQL of logq_sql binds, in order. */
struct logq_bind {
    bool text;
    int64_t i;
    const char *s; /* borrowed from the struct logq */
    size_t n;
};

/** Every filter open (any entry, newest first, LOGQ_LIMIT_DEFAULT of them), as of NOW. */
void logq_init(struct logq *q, time_t now);
/**
 * Parse the time S into the interval [*start, *end) it names, NOW being the
 * current time: "now", "today", "yesterday", "-30s", "-15m", "-2h", "-1d",
 * "-1w", "@EPOCH", or ISO 8601 "2026-11", "2026-11-30", "2026-11-30T12",
 * "2026-11-30T12:00", "2026-11-30T12:00:05", with a space allowed for the
 * "T" and an optional "Z" or "+HH:MM"/"-HH:MM" (no zone: UTC). A day names
 * the whole day, a minute the whole minute. 0, or -1 with *WHY static text.
 */
int logq_parse_time(const char *s, time_t now, int64_t *start, int64_t *end, const char **why);
/** Parse a status filter "404", "4xx" or "400-499" into [*min, *max]; -1 with *WHY. */
int logq_parse_status(const char *s, int *min, int *max, const char **why);
/** Set the parameter NAME to VALUE (decoded); -1 with ERR naming it. */
int logq_set(struct logq *q, const char *name, const char *value, struct logq_error *err);
/**
 * Parse a raw query string ("status=4xx&since=yesterday"): percent-decoded,
 * '+' as a space, every parameter known and given once, then checked as a
 * whole (since before until). 0, or -1 with ERR.
 */
int logq_parse_query(struct logq *q, const char *raw, size_t len, struct logq_error *err);
/**
 * The SELECT for one database file into SQL (appended, NUL-terminated) and
 * the values it binds into BINDS (LOGQ_BINDS_MAX); returns how many. The
 * columns are LOGQ_COLUMNS, in that order; one row more than the limit is
 * asked for, so that the caller knows whether the answer was cut.
 */
size_t logq_sql(const struct logq *q, struct buf *sql, struct logq_bind *binds);

/** The columns logq_sql selects, in order. */
#define LOGQ_COLUMNS                                                                               \
    "time, service, site, client, user, method, path, query, protocol, status, bytes_sent, "       \
    "bytes_received, time_taken_ms, host, user_agent, referer, server_ip, server_port, id"
enum logq_column {
    LOGQ_C_TIME,
    LOGQ_C_SERVICE,
    LOGQ_C_SITE,
    LOGQ_C_CLIENT,
    LOGQ_C_USER,
    LOGQ_C_METHOD,
    LOGQ_C_PATH,
    LOGQ_C_QUERY,
    LOGQ_C_PROTOCOL,
    LOGQ_C_STATUS,
    LOGQ_C_BYTES_SENT,
    LOGQ_C_BYTES_RECEIVED,
    LOGQ_C_TIME_TAKEN,
    LOGQ_C_HOST,
    LOGQ_C_USER_AGENT,
    LOGQ_C_REFERER,
    LOGQ_C_SERVER_IP,
    LOGQ_C_SERVER_PORT,
    LOGQ_C_ID,
    LOGQ_NCOLUMNS
};

#endif
