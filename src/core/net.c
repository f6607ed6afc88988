#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *s, int *port)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int net_parse_addr(const char *s, struct net_addr *out, const char **why)
{
    char host[64];
    const char *colon;
    size_t hlen;
    int port;

    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return *why = "expected [IPv6]:PORT", -1;
        hlen = (size_t)(close - s - 1);
        colon = close + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return *why = "expected ADDR:PORT", -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return *why = "missing or overlong address", -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (parse_port(colon + 1, &port) == -1)
        return *why = "port must be a number from 0 to 65535", -1;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
    } else {
        return *why = "not a numeric IPv4 or IPv6 address", -1;
    }
    return 0;
}

static int (*privileged)(const struct net_addr *a, int backlog, bool probe);

#define INHERITED_MAX 64
static struct inherited {
    struct net_addr addr;
    int fd;
} inherited[INHERITED_MAX];
static size_t ninherited;

int net_inherit_listeners(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    long n = fds ? strtol(fds, NULL, 10) : 0;
    struct inherited *in;
    int type;
    socklen_t len;

    if (pid == NULL || strtol(pid, NULL, 10) != (long)getpid() || n <= 0)
        return 0;
    for (int fd = 3; fd < 3 + n && ninherited < INHERITED_MAX; fd++) {
        in = &inherited[ninherited];
        len = sizeof(type);
        in->addr.len = sizeof(in->addr.ss);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 || type != SOCK_STREAM ||
            getsockname(fd, (struct sockaddr *)&in->addr.ss, &in->addr.len) == -1)
            continue; /* not a TCP listener: not ours to use */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        in->fd = fd;
        ninherited++;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)ninherited;
}

/* The socket systemd passed for A, or -1. */
static int inherited_for(const struct net_addr *a)
{
    for (size_t i = 0; i < ninherited; i++)
        if (net_addr_eq(&inherited[i].addr, a))
            return inherited[i].fd;
    return -1;
}

void net_set_privileged(int (*fn)(const struct net_addr *a, int backlog, bool probe))
{
    privileged = fn;
}

static bool needs_privilege(const struct net_addr *a)
{
    int port = net_port((const struct sockaddr *)&a->ss);

    return privileged != NULL && port > 0 && port < 1024 && geteuid() != 0;
}

/* SO_REUSEPORT would let us share a port another process listens on; probe
 * with a socket without it first so "address in use" is reported instead.
 * SO_REUSEADDR lets the probe past our own connections on that port (open or
 * in TIME_WAIT after a stop), which are no conflict. */
int net_probe_free(const struct net_addr *a)
{
    int fd, rc, saved, one = 1;

    if (net_port((const struct sockaddr *)&a->ss) == 0 || inherited_for(a) >= 0)
        return 0;
    if (needs_privilege(a))
        return privileged(a, 0, true);
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int net_listen(const struct net_addr *a, int backlog)
{
    int fd, one = 1, saved;

    if ((fd = inherited_for(a)) >= 0)
        return fcntl(fd, F_DUPFD_CLOEXEC, 3); /* each worker its descriptor of the one socket */
    if (needs_privilege(a))
        return privileged(a, backlog, false);

    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
        goto fail;
    if (a->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 || listen(fd, backlog) == -1)
        goto fail;
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    return (int)net_port((struct sockaddr *)&ss);
}

void net_set_port(struct net_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

unsigned net_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

void net_host_str(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *src = NULL;

    if (sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (src == NULL || inet_ntop(sa->sa_family, src, out, (socklen_t)cap) == NULL)
        snprintf(out, cap, "?");
}

void net_addr_str(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN];

    net_host_str(sa, host, sizeof(host));
    if (sa->sa_family == AF_INET6)
        snprintf(out, cap, "[%s]:%u", host, net_port(sa));
    else
        snprintf(out, cap, "%s:%u", host, net_port(sa));
}

int net_discard(int fd)
{
    char drop[4096];
    ssize_t n;

    while ((n = recv(fd, drop, sizeof(drop), MSG_DONTWAIT)) > 0)
        ;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* The TLS schemes of the three services; which one fits a site is the
 * service's to say (config checks it). */
static const char *const tls_schemes[] = {"https://", "ftps://", "gophers://"};

size_t net_binding_scheme_len(const char *s)
{
    for (size_t i = 0; i < sizeof(tls_schemes) / sizeof(tls_schemes[0]); i++)
        if (strncmp(s, tls_schemes[i], strlen(tls_schemes[i])) == 0)
            return strlen(tls_schemes[i]);
    return 0;
}

int net_parse_binding(const char *s, struct net_addr *out, bool *tls, const char **why)
{
    size_t scheme = net_binding_scheme_len(s);

    *tls = scheme > 0;
    if (strstr(s + scheme, "://") != NULL)
        return *why = "the only schemes a binding may name are https://, ftps:// and gophers://",
               -1;
    return net_parse_addr(s + scheme, out, why);
}

void net_addr16(const struct sockaddr *sa, unsigned char out[16])
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

int net_parse_cidr(const char *s, unsigned char addr[16], unsigned *bits, const char **why)
{
    char host[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    unsigned max, v = 0;
    struct in_addr a4;

    if (n == 0 || n >= sizeof(host))
        return *why = "an address, or ADDR/BITS", -1;
    memcpy(host, s, n);
    host[n] = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, host, &a4) == 1) {
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &a4, 4);
        max = 32;
    } else if (inet_pton(AF_INET6, host, addr) == 1) {
        max = 128;
    } else {
        return *why = "a numeric IPv4 or IPv6 address, or ADDR/BITS", -1;
    }
    if (slash) {
        const char *p = slash + 1;
        if (*p == '\0' || strlen(p) > 3)
            return *why = "a prefix length after the '/'", -1;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return *why = "a prefix length after the '/'", -1;
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > max)
            return *why = max == 32 ? "a prefix length of at most 32 for IPv4"
                                    : "a prefix length of at most 128 for IPv6", -1;
    } else {
        v = max;
    }
    *bits = max == 32 ? v + 96 : v;
    for (unsigned b = *bits; b < 128; b++)
        if (addr[b / 8] & (0x80 >> (b % 8)))
            return *why = "an address whose bits after the prefix are zero (a network, like "
                          "10.0.0.0/8)", -1;
    return 0;
}

bool net_prefix_match(const unsigned char a[16], const unsigned char prefix[16], unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (bits > 128 || memcmp(a, prefix, whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ prefix[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}
