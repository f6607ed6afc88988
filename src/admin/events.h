/*
 * events: what GET /api/v1/events streams — commits, service and site state
 * changes, a statistics tick each second — kept in a ring of the last
 * EVENTS_KEEP events so that a client reconnecting with Last-Event-ID gets
 * what it missed. The producers run with the API lock held (events_poll,
 * events_tick); the ring has its own lock and may be read from any thread.
 * Event ids are "BOOT.SEQ": BOOT is the daemon's start time, so an id from a
 * previous run is recognised and answered with a reset.
 */
#ifndef ADMIN_EVENTS_H
#define ADMIN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

#define EVENTS_KEEP 1024

struct mb;

/** Start the ring; NOTIFY(ARG) is called (from any thread) after events were added. */
void events_init(struct mb *mb, void (*notify)(void *), void *arg);
/** Free the ring. */
void events_fini(void);
/** Add event TYPE with DATA (reference stolen) to the ring and tell the streams. */
void events_publish(const char *type, json_t *data);
/** Publish commit and state events for what changed since the last call (API lock held). */
void events_poll(void);
/** events_poll, then the statistics tick (API lock held; once a second while streams listen). */
void events_tick(void);
/** The sequence number of the newest event (0: none yet). */
uint64_t events_last(void);
/**
 * Where a stream resuming from LAST_EVENT_ID (NULL or "": a new stream) starts:
 * the sequence after which to send, or -1 when that id is unknown or too old
 * (the client must start over: a reset event).
 */
int64_t events_resume_point(const char *last_event_id);
/**
 * Append to OUT the events after sequence *AFTER, at most MAX_BYTES of them
 * (whole events), and move *AFTER on. Returns false when *AFTER fell out of the
 * ring (the stream lost events and must be reset).
 */
bool events_copy(uint64_t *after, struct buf *out, size_t max_bytes);
/** The "hello" event a new stream starts with (no id). */
void events_hello(struct buf *out);
/** The "reset" event. */
void events_reset(struct buf *out);

#endif
