/* xport: the plain transport — recv, send and sendfile on the socket. */
#include "runtime/xport.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net.h"

static int plain_handshake(struct xport *x)
{
    (void)x;
    return 0;
}

static ssize_t plain_result(struct xport *x, ssize_t n, bool writing)
{
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR) {
        x->want_write = writing;
        return XP_AGAIN;
    }
    return XP_ERROR;
}

static ssize_t plain_read(struct xport *x, char **data)
{
    ssize_t n = net_recv(x->fd, x->rbuf, x->rbuf_cap, 0);

    *data = x->rbuf;
    x->drained = n >= 0 && (size_t)n < x->rbuf_cap;
    return plain_result(x, n, false);
}

static ssize_t plain_write(struct xport *x, const void *p, size_t n, bool more)
{
    return plain_result(x, net_send(x->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0)), true);
}

static ssize_t plain_sendfile(struct xport *x, int fd, off_t *off, size_t n)
{
    return plain_result(x, sendfile(x->fd, fd, off, n), true);
}

static int plain_flush(struct xport *x)
{
    (void)x;
    return 0;
}

static void plain_release(struct xport *x)
{
    (void)x;
}

static void plain_close(struct xport *x)
{
    close(x->fd);
    x->fd = -1;
}

static const struct xport_ops plain_ops = {
    .handshake = plain_handshake,
    .read = plain_read,
    .write = plain_write,
    .sendfile = plain_sendfile,
    .flush = plain_flush,
    .release = plain_release,
    .close = plain_close,
};

void xport_plain_init(struct xport *x, int fd, char *rbuf, size_t rbuf_cap)
{
    *x = (struct xport){.ops = &plain_ops, .fd = fd, .ready = true, .rbuf = rbuf,
                        .rbuf_cap = rbuf_cap};
}
