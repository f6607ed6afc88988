/*
 * conn: one Gopher connection — the request line, its answer (a menu, a
 * file sent raw or dot-stuffed, Gopher+ attributes, an error), then the
 * close, all on the worker loop over the runtime's transport (plain or TLS).
 * Owned by the worker that accepted it; freed through the session table.
 */
#ifndef GOPHER_CONN_H
#define GOPHER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/loop.h"
#include "runtime/session.h"
#include "runtime/throttle.h"
#include "runtime/xport.h"

struct fc_entry;
struct listener;
struct worker;

enum gconn_state { GC_HANDSHAKE, GC_READ, GC_SEND, GC_LINGER, GC_DEAD };

struct gopher_conn {
    struct session s; /* first: the runtime's view */
    struct loop_io io;
    struct loop_timer timer;
    struct xport x;
    enum gconn_state state;
    struct buf *in;         /* a request line still incomplete */
    struct buf *out;        /* the answer, or its next piece */
    size_t out_sent;
    struct fc_entry *fe;    /* a file still being sent */
    off_t off, end;
    bool text;              /* the file goes out dot-stuffed */
    bool line_start;
    bool watch_out, tls_peeked, linger;
    bool raw_linger;        /* lingering below the transport (a plain request on a TLS port) */
    uint64_t started_ms;
    uint64_t bytes_in;
    int status;             /* for the access log: 200, 400, 403, 404, 500 */
    const char *method;     /* for the access log and the session table */
    char selector[256];     /* as logged */
    char host[64];          /* what menus advertise */
    unsigned port;
    struct bw_waiter bw;    /* its place in the worker's queue for bandwidth */
};

/** Adopt connection FD accepted on LI (the service's accept operation). */
void gopher_conn_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer);
/** Close now. */
void gopher_conn_close(struct gopher_conn *c);
/** Close once the answer in progress is sent (now when none is). */
void gopher_conn_drain(struct gopher_conn *c);

/** The connection whose session is S. */
static inline struct gopher_conn *gopher_conn_of(struct session *s)
{
    return (struct gopher_conn *)(void *)s;
}

#endif
