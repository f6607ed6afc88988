/*
 * log: the error log. Lines carry a UTC timestamp, a level and the calling
 * subsystem; log_warn appends strerror(errno), log_warnx does not. Safe from
 * any thread (one write(2) per line); log_reopen is called by the main thread
 * on SIGUSR1.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/** Log to PATH (appending), or to stderr when PATH is NULL. Returns 0 or -1. */
int log_open(const char *path);
/** Reopen the log file after rotation; no-op when logging to stderr. */
int log_reopen(void);
/** Set the most verbose level written. */
void log_set_level(enum log_level level);
/** Warn with strerror(errno) appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Warn without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** An error that does not stop the process, with errno appended. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Informational line. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Debug line, written only when the level allows it. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Log and exit(1): for conditions that make continuing impossible. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/** Like fatal, without errno. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
