/*
 * req: what a WWW request handler sees and writes, whatever carries the
 * request — HTTP/1.1 today (www/conn.c), HTTP/2 next. A handler reads a
 * struct www_req and answers through a struct www_res, whose encoder (the
 * protocol) turns the status, header lines and body into bytes on the wire.
 * Both live for one call of the handler on the worker's thread; every
 * string points into the connection's buffers.
 */
#ifndef WWW_REQ_H
#define WWW_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "www/http1.h"

struct fc_entry;
struct session;
struct www_res;

struct www_req {
    enum http_method method;
    struct http_str method_str;
    struct http_str target;    /* as sent */
    struct http_str path;      /* still encoded */
    struct http_str query;     /* without the '?'; n == 0 when absent */
    struct http_str host;      /* as sent (Host or :authority) */
    struct http_str host_name; /* host without its port */
    bool asterisk;             /* target was "*" */
    const char *protocol;      /* "HTTP/1.1", "HTTP/1.0": for the access log */
    struct http_str if_match, if_none_match, if_modified_since, if_unmodified_since;
    struct http_str if_range, range, user_agent, referer;
    struct http_str authorization, content_type;
    const struct http_header *headers; /* every header field as sent (CGI's HTTP_ variables) */
    size_t nheaders;
    bool has_body;             /* a body follows (Content-Length > 0 or chunked) */
    bool length_known;         /* content_length is its size (not chunked) */
    uint64_t content_length;
    struct http_str accept_encoding; /* p == NULL when absent */
    uint64_t bytes_in;         /* bytes of the request, for the access log */
    struct session *s;         /* the connection: client, site, worker */
};

/*
 * Handlers that cannot answer at once. A handler returns a status it sent,
 * or one of these:
 *  - WWW_SUSPENDED after ops->suspend: it waits for something (a password
 *    check); once www_wake is called the protocol hands the same request to
 *    the handler again, which then answers from what it learnt (a cache).
 *  - WWW_DETACHED after ops->detach: the response goes on after the call
 *    (an upload being written, a CGI program's output) through the long-lived
 *    struct www_res detach returned, until ops->finish.
 */
#define WWW_SUSPENDED (-1)
#define WWW_DETACHED (-2)

/* What a suspended request waits on; the protocol embeds it per request. */
struct www_wait {
    void (*wake)(struct www_wait *w);
};

/** Hand the suspended request back to its handler (on the worker's thread; once per suspend). */
static inline void www_wake(struct www_wait *w)
{
    w->wake(w);
}

/* An encoder: how a protocol writes a response. */
struct www_res_ops {
    /** The status line (or pseudo-header) with Date and Server. */
    void (*status)(struct www_res *res, int status);
    /** Header lines, each "Name: value\r\n" (a block built once may hold several). */
    void (*header)(struct www_res *res, const char *lines, size_t n);
    /** The end of the header section; the encoder adds what its framing needs. */
    void (*end_head)(struct www_res *res);
    /** Body bytes. */
    void (*body)(struct www_res *res, const void *p, size_t n);
    /** Body bytes from a cached file (the encoder takes its own reference). */
    void (*file)(struct www_res *res, struct fc_entry *fe, off_t off, size_t len);
    /** Bytes queued so far, for the access log. */
    uint64_t (*queued)(const struct www_res *res);
    /** Suspend the request (see WWW_SUSPENDED); the protocol keeps it and stops reading. */
    struct www_wait *(*suspend)(struct www_res *res);
    /** Keep answering after the call (see WWW_DETACHED): the response to use from now on. */
    struct www_res *(*detach)(struct www_res *res);
    /** The end of a detached response: STATUS is logged; RES is gone after the call. */
    void (*finish)(struct www_res *res, int status);
    /** Whether the protocol takes more body now (else wait for on_drain). */
    bool (*room)(const struct www_res *res);
    /** Deliver request-body bytes again after on_body returned WWW_BODY_PAUSE. */
    void (*resume_body)(struct www_res *res);
};

/* on_body's answers. */
#define WWW_BODY_OK 0
#define WWW_BODY_PAUSE 1

struct www_res {
    const struct www_res_ops *ops;
    void *enc;      /* the encoder's connection */
    bool head_only; /* HEAD: headers as for GET, no body */
    bool close;     /* the handler (or the encoder) closes the connection after this response */
    bool file_sent; /* set by the handler: counts as a file sent */
    const char *extra; /* header lines the encoder adds to the head (the vdir's http_headers) */
    size_t extra_len;
    const char *allow; /* the Allow header's methods for 405 and OPTIONS; NULL: GET, HEAD, OPTIONS */
    bool stream;       /* set before end_head: the body's length is unknown, the encoder frames it */
    bool broken;       /* set before finish: the body was cut off; the connection ends unframed */
    /* Set by the handler on a detached response; ARG is theirs. */
    void *arg;
    /** Request-body bytes (N == 0: the end); WWW_BODY_OK or WWW_BODY_PAUSE. */
    int (*on_body)(void *arg, const char *p, size_t n);
    /** The protocol takes output again (after room() said no). */
    void (*on_drain)(void *arg);
    /** The connection is gone: RES must not be used again, nor finished. */
    void (*on_abort)(void *arg);
};

/** A handler: answer REQ through RES completely; returns the status sent. */
typedef int (*www_handler_fn)(const struct www_req *req, struct www_res *res);

/** Reason phrase of a status. */
const char *www_status_text(int status);
/** A header line "NAME" (with ": ") and the decimal V. */
void www_res_header_u64(struct www_res *res, const char *name, size_t nlen, uint64_t v);
struct buf;
/** A copy of IN for the access log once the request's buffers are gone (its strings in STORE). */
void www_req_keep(const struct www_req *in, struct www_req *out, struct buf *store);
/** The Allow header line (res->allow, or the static methods). */
void www_res_allow(struct www_res *res);
/** An error response with header LINES (N bytes, "Name: value\r\n" each) in its head. */
void www_res_error_with(struct www_res *res, int status, const char *reason, const char *lines,
                        size_t n);
/** A complete error response with an HTML body saying REASON. */
void www_res_error(struct www_res *res, int status, const char *reason);

#endif
