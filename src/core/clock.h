/*
 * clock: a per-thread cached clock, refreshed by the event loop once per
 * wake-up, and HTTP date formatting and parsing (RFC 9110 section 5.6.7).
 * The cached values are thread-local; every function is thread-safe.
 */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/** English abbreviation of month MON (0-11: "Jan"), whatever the locale. */
const char *clock_month_name(int mon);
/** Refresh this thread's cached clock. */
void clock_update(void);
/** Cached monotonic milliseconds. */
uint64_t clock_ms(void);
/** Monotonic milliseconds read now (threads without an event loop: farm, ACME). */
int64_t clock_mono_ms(void);
/** Cached wall-clock seconds. */
time_t clock_wall(void);
/** Cached IMF-fixdate of the current second (HTTP_DATE_LEN chars, NUL-terminated). */
const char *clock_http_date(void);
/** Format T as an IMF-fixdate into OUT (at least HTTP_DATE_LEN + 1 bytes). */
void clock_http_format(time_t t, char *out);
/** Length of an ISO 8601 UTC time from clock_iso_format ("2026-12-01T10:00:00Z"). */
#define CLOCK_ISO_LEN 20
/** Format T as ISO 8601 UTC into OUT[CAP] (CAP > CLOCK_ISO_LEN); false if T cannot be. */
bool clock_iso_format(time_t t, char *out, size_t cap);
/** Parse an HTTP-date in any of the three RFC 9110 forms; false if malformed. */
bool clock_http_parse(const char *s, size_t n, time_t *out);

#endif
