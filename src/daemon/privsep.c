/* privsep: the root helper that binds privileged ports, and the drop to an unprivileged user. */
#include "daemon/privsep.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/net.h"

/* One request: bind ADDR (a port below 1024) and listen, or only probe that it is free. */
struct bind_req {
    int probe;
    int backlog;
    socklen_t len;
    struct sockaddr_storage ss;
};

static int helper_fd = -1;
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;

int privsep_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    struct passwd pw, *found = NULL;
    char buf[4096];

    if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL) {
        snprintf(err, errlen, "there is no user \"%s\"", user);
        return -1;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

/* ---- the helper (root; async-signal-safe calls only: it is a fork) ---- */

static int port_of(const struct bind_req *r)
{
    if (r->ss.ss_family == AF_INET && r->len == sizeof(struct sockaddr_in))
        return ntohs(((const struct sockaddr_in *)&r->ss)->sin_port);
    if (r->ss.ss_family == AF_INET6 && r->len == sizeof(struct sockaddr_in6))
        return ntohs(((const struct sockaddr_in6 *)&r->ss)->sin6_port);
    return -1;
}

/* The socket for R (as net_listen makes it), or -errno. */
static int helper_bind(const struct bind_req *r)
{
    int fd, one = 1, port = port_of(r);

    if (port < 1 || port > 1023)
        return -EPERM; /* only what the unprivileged server cannot do itself */
    fd = socket(r->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!r->probe)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (r->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&r->ss, r->len) == -1 ||
        (!r->probe && listen(fd, r->backlog) == -1)) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (r->probe) {
        close(fd);
        return 0;
    }
    return fd;
}

static void helper_reply(int sock, int result)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    int err = result < 0 ? -result : 0;
    struct iovec iov = {.iov_base = &err, .iov_len = sizeof(err)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;

    if (result > 0) {
        memset(&u, 0, sizeof(u));
        m.msg_control = u.buf;
        m.msg_controllen = sizeof(u.buf);
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &result, sizeof(int));
    }
    while (sendmsg(sock, &m, MSG_NOSIGNAL) == -1 && errno == EINTR)
        ;
    if (result > 0)
        close(result);
}

static void helper_main(int sock)
{
    struct bind_req r;
    ssize_t n;

    prctl(PR_SET_NAME, "infosrv-priv");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    for (;;) {
        n = recv(sock, &r, sizeof(r), 0);
        if (n == 0 || (n == -1 && errno != EINTR))
            _exit(0); /* the server is gone */
        if (n == (ssize_t)sizeof(r))
            helper_reply(sock, helper_bind(&r));
        else if (n > 0)
            helper_reply(sock, -EINVAL);
    }
}

int privsep_start(char *err, size_t errlen)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid == -1) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        for (int fd = 3; fd < 1024; fd++) /* nothing of the server's stays with root */
            if (fd != sv[1])
                close(fd);
        helper_main(sv[1]);
    }
    close(sv[1]);
    helper_fd = sv[0];
    net_set_privileged(privsep_listen);
    return 0;
}

/* ---- the server's side ---- */

int privsep_listen(const struct net_addr *a, int backlog, bool probe)
{
    struct bind_req r = {.probe = probe, .backlog = backlog, .len = a->len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    int e = EIO, fd = -1;
    struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c;

    memcpy(&r.ss, &a->ss, a->len);
    pthread_mutex_lock(&helper_lock);
    if (helper_fd < 0 || send(helper_fd, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r) ||
        recvmsg(helper_fd, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(e))
        e = EIO;
    pthread_mutex_unlock(&helper_lock);
    c = CMSG_FIRSTHDR(&m);
    if (e == 0 && c && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    if (e != 0 || (!probe && fd < 0)) {
        errno = e ? e : EIO;
        return -1;
    }
    return probe ? 0 : fd;
}

int privsep_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    if (uid == 0) {
        snprintf(err, errlen, "--user %s is root: nothing to drop to", user);
        return -1;
    }
    if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1) {
        snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
        snprintf(err, errlen, "root could be regained after becoming %s", user);
        return -1;
    }
    return 0;
}
