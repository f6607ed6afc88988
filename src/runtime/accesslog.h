/*
 * accesslog: the access log in W3C Extended or NCSA combined format, or in
 * SQLite databases (logdb.h), with hourly/daily/weekly/monthly or size
 * rollover. Workers format lines (or encode records) into their own buffer
 * (alog_write, alog_flush) and never touch the file; a writer thread owned
 * by the struct alog writes and rolls files. alog_reopen and alog_set_keep
 * may be called from any thread (SIGUSR1 handling in the main thread).
 */
#ifndef RUNTIME_ACCESSLOG_H
#define RUNTIME_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum alog_format { ALOG_W3C = 0, ALOG_NCSA, ALOG_SQLITE };
enum alog_period { ALOG_PERIOD_NONE = 0, ALOG_HOURLY, ALOG_DAILY, ALOG_WEEKLY, ALOG_MONTHLY,
                   ALOG_SIZE };

struct alog_config {
    const char *dir;       /* directory for the log files; created if missing */
    enum alog_format format;
    enum alog_period period;
    uint64_t max_size;     /* bytes, for ALOG_SIZE: roll when a file would exceed it */
    unsigned nworkers;     /* number of per-worker buffers */
    /* Whose log it is: the SQLite rows name them, and entries dropped are
       counted in their statistics (log_entries_dropped). NULL: nobody's. */
    const char *service, *site;
    unsigned keep_periods; /* ALOG_SQLITE: old periods kept beside the current one */
};

struct alog_entry {
    time_t time;           /* request completion, wall clock */
    const char *client_ip;
    const char *user;      /* NULL or "" for anonymous: "-" */
    const char *method;
    const char *uri_stem;  /* path, as sent (encoded) */
    size_t uri_stem_len;
    const char *query;     /* NULL or "" when none: "-" */
    size_t query_len;
    const char *protocol;  /* "HTTP/1.1" */
    int status;
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t time_taken_ms;
    const char *host;      /* may be NULL */
    size_t host_len;
    const char *user_agent;/* may be NULL */
    size_t user_agent_len;
    const char *referer;   /* may be NULL */
    size_t referer_len;
    const char *server_ip;
    unsigned server_port;
    const char *site;      /* site name */
};

struct alog;

/**
 * Start a log: creates the directory, opens the current file and the writer
 * thread. Returns NULL with *err (static text) on failure.
 */
struct alog *alog_open(const struct alog_config *cfg, const char **err);
/** Format one entry into worker W's buffer (worker thread W only). */
void alog_write(struct alog *l, unsigned w, const struct alog_entry *e);
/** A worker's lines reach the writer within about this long. */
#define ALOG_HANDOVER_MS 200
/**
 * Hand worker W's buffered lines to the writer (worker thread W, before it
 * sleeps). Young lines may be held back to batch hand-overs; returns true
 * if some are, and the caller must call again within ALOG_HANDOVER_MS.
 */
bool alog_flush(struct alog *l, unsigned w);
/** Ask the writer to reopen its file (after an external rotation). */
void alog_reopen(struct alog *l);
/** Flush everything, stop the writer thread and free the log. */
void alog_close(struct alog *l);
/** Name of the file currently written (for tests and status); caller frees. */
char *alog_current_path(struct alog *l);
/** Keep N old periods of an ALOG_SQLITE log from now on (log_keep_periods). */
void alog_set_keep(struct alog *l, unsigned n);
/** The log's format, as opened. */
enum alog_format alog_format_of(const struct alog *l);
/** The log's directory, as opened (lives as long as the log). */
const char *alog_dir(const struct alog *l);

/**
 * File name (no directory) used for FORMAT and PERIOD at time T (UTC), or for
 * file number SEQ with ALOG_SIZE; written to OUT. Returns its length, or 0 when
 * OUTLEN is too small. Thread-safe.
 */
size_t alog_file_name(enum alog_format format, enum alog_period period, unsigned seq, time_t t,
                      char *out, size_t outlen);

#endif
