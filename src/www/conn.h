/*
 * conn: one HTTP/1.x connection of the WWW service — an explicit state
 * machine (TLS handshake, head, body, closing) over a transport (plain or
 * TLS), the output queue (bytes plus file segments), timeouts, and the
 * runtime's session header; the HTTP/1.1 encoder of struct www_res, so
 * handlers (www/static.c) never see HTTP/1 framing. A connection that opens
 * with the HTTP/2 preface, or whose TLS handshake chose "h2", is handed to
 * www/h2.c, which keeps using the transport, timer and output queue below.
 * Owned by one worker thread; freed by it (deferred to the loop's idle hook).
 */
#ifndef WWW_CONN_H
#define WWW_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/loop.h"
#include "runtime/session.h"
#include "runtime/throttle.h"
#include "runtime/xport.h"
#include "www/http1.h"
#include "www/req.h"

struct listener;
struct worker;
struct fc_entry;
struct h2_conn;

#define CONN_MAX_SEGS 40
#define WWW_WRITE_TIMEOUT_MS 60000 /* a send that makes no progress for this long closes */

enum conn_state { CS_HANDSHAKE, CS_HEAD, CS_BODY, CS_DEAD };

struct conn_seg {
    size_t at;           /* position in out where the file bytes go */
    struct fc_entry *fe; /* holds a reference */
    off_t off;
    size_t len;
};

struct www_conn {
    struct session s;     /* the runtime's header: first, so sessions and conns convert */
    struct loop_io io;
    struct loop_timer timer;
    struct xport x;
    enum conn_state state;
    struct buf *in;       /* unparsed input, pooled; NULL when empty */
    struct buf *out;      /* pending output, pooled; NULL when empty */
    size_t out_sent;      /* bytes of out already written */
    struct buf *segbuf;   /* pooled storage of segs while file segments are queued */
    struct conn_seg *segs; /* CONN_MAX_SEGS slots in segbuf, or NULL */
    unsigned nsegs, seg_first;
    /* request body being skipped */
    uint64_t body_left;
    struct http1_chunked chunked;
    bool body_chunked;
    size_t resp_mark;     /* out length before the response that waits for the body */
    unsigned segs_mark;
    /* flags */
    bool close_after;     /* close once the output is flushed */
    bool stop_reading;    /* framing is lost: never parse another request */
    bool read_blocked;    /* input left unprocessed for backpressure */
    bool head_timer;      /* the timer is the header timeout */
    bool watch_out;       /* EPOLLOUT is registered */
    bool tls_peeked;      /* the first byte on a TLS port was looked at */
    bool lingering;       /* the plain answer on a TLS port is out: the request is drained */
    uint64_t req_bytes;   /* bytes of the request being answered, for the access log */
    int minor;            /* HTTP/1.x minor version of the request being answered */
    int limit_slot;       /* stats slot whose max_connections this connection was checked against */
    /* a request whose handler does not answer at once (www/req.h) */
    struct www_wait wait;  /* suspended: what the handler wakes */
    struct www_res dres;   /* detached: the response the handler goes on writing */
    struct www_req dreq;   /* detached: the request, for the access log (strings in dstore) */
    struct buf dstore;
    const struct www_req *cur_req; /* during the handler's call */
    uint64_t resp_before;  /* queued bytes before the handler's call */
    uint64_t dres_base;    /* bytes out (sent + queued) when the response began */
    struct loop_timer kick; /* a detached handler's output is flushed from the loop */
    unsigned waiting;      /* wakes still to come: the memory is freed after the last */
    bool suspended, retrying, detached, body_paused, chunk_out, drain_wanted, orphan;
    bool continue_sent;    /* 100 Continue went out for the request being answered */
    bool body_ends_conn;   /* during the handler's call: a body it does not take closes */
    struct bw_waiter bw;  /* its place in the worker's queue for bandwidth (runtime/throttle) */
    bool h2c_maybe;       /* plain and nothing answered yet: the HTTP/2 preface may come */
    struct h2_conn *h2;   /* the HTTP/2 connection once switched (www/h2.c), else NULL */
};

/** The connection whose session header is S. */
static inline struct www_conn *www_conn_of(struct session *s)
{
    return (struct www_conn *)(void *)s;
}

/** Adopt an accepted socket on worker W (the service's accept operation). */
void www_conn_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer);
/** Close a connection now (disconnect, forced stop). */
void www_conn_close(struct www_conn *c);
/** Close if idle (no partial request, nothing to send); else close after the response. */
void www_conn_drain(struct www_conn *c);
/** The site no longer exists here: close, or (HTTP/2) announce it and finish the streams. */
void www_conn_retire(struct www_conn *c);

/* For the HTTP/2 connection (www/h2.c): the output queue, the site choice. */

/** Queue N bytes at P for sending. */
void www_conn_out(struct www_conn *c, const void *p, size_t n);
/** Queue LEN bytes of cached file FE from OFF, sent with sendfile (takes a reference). */
void www_conn_out_file(struct www_conn *c, struct fc_entry *fe, off_t off, size_t len);
/** The queue's byte buffer (taken from the worker's pool if absent), to append to in place. */
struct buf *www_conn_out_buf(struct www_conn *c);
/** True while queued bytes, file segments or transport records wait for the socket. */
bool www_conn_out_pending(const struct www_conn *c);
/** Send what the socket takes, watching for EPOLLOUT when it blocks; -1 once C is closed. */
int www_conn_flush(struct www_conn *c);
/** Watch for the socket becoming writable; -1 once C is closed. */
int www_conn_watch_out(struct www_conn *c);
/** Run the next request on the newest generation and on the site for HOST (plain) or SNI. */
void www_conn_choose_site(struct www_conn *c, struct http_str host);
/** True when the site just chosen is over its max_connections with this connection. */
bool www_conn_site_full(struct www_conn *c);
/** The length of HOST without its port ("a.test:8080", "[::1]:80"). */
size_t www_host_name_len(const struct http_str *host);

#endif
