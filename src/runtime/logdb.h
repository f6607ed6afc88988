/*
 * logdb: the SQLite backend of the access log (log_format "sqlite") and the
 * queries over it. A site's log is one database file per period in its log
 * directory (access-2026-11-30.sqlite, …; access-3.sqlite for size
 * rollover), WAL mode, table "access" (docs/logdb.md). Workers only encode
 * entries into their own buffer (logdb_encode); the access log's writer
 * thread owns the struct logdb and inserts each batch in one transaction.
 * logdb_search opens the files read-only from any thread (the admin thread).
 * Everything else about a struct logdb belongs to the writer thread, but
 * logdb_set_keep.
 */
#ifndef RUNTIME_LOGDB_H
#define RUNTIME_LOGDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "runtime/accesslog.h"
#include "runtime/logq.h"

#define LOGDB_SCHEMA_VERSION 1 /* PRAGMA user_version of the files written */
#define LOGDB_FIELD_MAX 4096   /* bytes kept of one text field */
#define LOGDB_TXN_ROWS 4096    /* entries in one transaction at most */
#define LOGDB_NAME_MAX 40

struct logdb;

struct logdb_config {
    const char *dir; /* exists; the caller created it */
    const char *service, *site;
    enum alog_period period;
    uint64_t max_size; /* ALOG_SIZE: bytes of a file before the next one starts */
    unsigned keep;     /* old periods kept beside the current one */
};

/** Append entry E to B as a record for logdb_write (worker threads, their own B). */
void logdb_encode(struct buf *b, const struct alog_entry *e);

/**
 * Open the log: the file of the current period (or size sequence) at NOW,
 * created with its schema when new, and the old periods beyond the kept
 * ones removed. NULL with *err (static text) when the file cannot be opened.
 */
struct logdb *logdb_open(const struct logdb_config *cfg, time_t now, const char **err);
/**
 * Insert the records P[0..N) (from logdb_encode) at wall-clock time NOW:
 * rolls to a new file first when the period or size says so. Returns how
 * many entries could not be stored (the file cannot be opened or written).
 */
uint64_t logdb_write(struct logdb *db, const char *p, size_t n, time_t now);
/** Close the current file; the next logdb_write opens it again (SIGUSR1). */
void logdb_reopen(struct logdb *db);
/** Keep N old periods from now on (applied at the next write). Any thread. */
void logdb_set_keep(struct logdb *db, unsigned n);
/** Path of the file written now, or NULL (a new string). */
char *logdb_path(const struct logdb *db);
/** Close the file and free DB (NULL is fine). */
void logdb_close(struct logdb *db);

/**
 * File name (no directory) of PERIOD at T (UTC), or of file SEQ with
 * ALOG_SIZE, into OUT; its length, or 0 when OUTLEN is too small.
 */
size_t logdb_file_name(enum alog_period period, unsigned seq, time_t t, char *out, size_t outlen);
/** Whether NAME is a log file of PERIOD; *SEQ gets the number of an ALOG_SIZE one. */
bool logdb_file_of(const char *name, enum alog_period period, unsigned *seq);
/** Whether NAME is a log file of any period. */
bool logdb_is_log_file(const char *name);

/** A log to search: a site's log directory. */
struct logdb_source {
    const char *service, *site, *dir;
};

/**
 * Run Q over every database file of the NSRC sources (logdb_search.c):
 * {"entries": [...], "truncated": bool} with at most Q->limit entries, newest
 * (or oldest) first, "truncated" true when more matched; and "skipped_files"
 * naming the files that could not be read, when there are any. Read-only;
 * any thread.
 */
json_t *logdb_search(const struct logdb_source *src, size_t nsrc, const struct logq *q);

#endif
