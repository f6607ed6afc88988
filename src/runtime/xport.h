/*
 * xport: the transport under every connection — a plain socket or TLS — so
 * that every service reads and writes one way. Reads hand the protocol a
 * filled buffer (the worker's shared read buffer, valid until the next read
 * on that worker) instead of reading into the caller's own, which leaves
 * room for a completion-based backend. Non-blocking throughout: XP_AGAIN
 * means wait for the socket (for writing when want_write is set). Owned by
 * the connection that embeds it, on its worker's thread.
 */
#ifndef RUNTIME_XPORT_H
#define RUNTIME_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct binding;
struct session;
struct ssl_st;

enum { XP_AGAIN = -1, XP_ERROR = -2 };

struct xport;

struct xport_ops {
    int (*handshake)(struct xport *x);
    ssize_t (*read)(struct xport *x, char **data);
    ssize_t (*write)(struct xport *x, const void *p, size_t n, bool more);
    ssize_t (*sendfile)(struct xport *x, int fd, off_t *off, size_t n);
    int (*flush)(struct xport *x);
    void (*release)(struct xport *x);
    void (*close)(struct xport *x);
};

struct xport {
    const struct xport_ops *ops;
    int fd;
    bool want_write;        /* the last XP_AGAIN waits for the socket to become writable */
    bool drained;           /* the last read left nothing behind in the socket */
    bool ready;             /* handshake done */
    char *rbuf;             /* the worker's shared read buffer */
    size_t rbuf_cap;
    struct ssl_st *ssl;     /* TLS only */
    struct session *sess;   /* for choosing the site by SNI */
    char *wbuf;             /* TLS: records made but not yet sent (NULL when none) */
    size_t wlen, wsent, wcap;
};

/** A plain transport over connected socket FD reading into RBUF. */
void xport_plain_init(struct xport *x, int fd, char *rbuf, size_t rbuf_cap);

/** Complete the handshake (TLS); 0 when done, XP_AGAIN or XP_ERROR. */
static inline int xport_handshake(struct xport *x)
{
    return x->ops->handshake(x);
}
/** Read: bytes at *DATA (> 0), 0 at end of stream, XP_AGAIN or XP_ERROR. */
static inline ssize_t xport_read(struct xport *x, char **data)
{
    return x->ops->read(x, data);
}
/** Write up to N bytes of P (MORE: more follows at once); bytes taken, XP_AGAIN or XP_ERROR. */
static inline ssize_t xport_write(struct xport *x, const void *p, size_t n, bool more)
{
    return x->ops->write(x, p, n, more);
}
/** Send up to N bytes of file FD from *OFF (advanced); bytes sent, XP_AGAIN or XP_ERROR; 0 at EOF. */
static inline ssize_t xport_sendfile(struct xport *x, int fd, off_t *off, size_t n)
{
    return x->ops->sendfile(x, fd, off, n);
}
/** Send what the transport holds (TLS records); 0 when nothing is left, XP_AGAIN or XP_ERROR. */
static inline int xport_flush(struct xport *x)
{
    return x->ops->flush(x);
}
/** True while the transport holds bytes not yet sent. */
static inline bool xport_pending(const struct xport *x)
{
    return x->wsent < x->wlen;
}
/** Give back memory held while the connection idles. */
static inline void xport_release(struct xport *x)
{
    x->ops->release(x);
}
/** Shut down (TLS close_notify, best effort) and close the socket. */
static inline void xport_close(struct xport *x)
{
    x->ops->close(x);
}

#endif
