/*
 * net: socket addresses and listeners. "ADDR:PORT" parsing (IPv4, or [IPv6]
 * in brackets), listening sockets with SO_REUSEPORT so each worker has its
 * own, and address formatting. Thread-safe, no global state.
 */
#ifndef CORE_NET_H
#define CORE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/** Parse "1.2.3.4:80" or "[::1]:80" (numeric only). Returns 0, or -1 with *why set. */
int net_parse_addr(const char *s, struct net_addr *out, const char **why);
/**
 * Parse a binding: "ADDR:PORT" (plain) or "SCHEME://ADDR:PORT" with a TLS
 * scheme (https, ftps, gophers: *tls set). As net_parse_addr.
 */
int net_parse_binding(const char *s, struct net_addr *out, bool *tls, const char **why);
/** Length of the TLS scheme S starts with ("https://" gives 8), 0 when none. */
size_t net_binding_scheme_len(const char *s);
/** Read and drop what FD holds now; 0 while it stays open, -1 at its end or on an error. */
int net_discard(int fd);
/** A non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT; -1 with errno. */
int net_listen(const struct net_addr *a, int backlog);
/**
 * 0 when nothing else listens on A's port (a bind without SO_REUSEPORT
 * succeeds; port 0 always does), else -1 with errno.
 */
int net_probe_free(const struct net_addr *a);
/**
 * Who binds ports below 1024 once the process is not root: FN makes the
 * listening socket (or, with PROBE, only checks that A is free).
 */
void net_set_privileged(int (*fn)(const struct net_addr *a, int backlog, bool probe));
/**
 * Take the listening sockets systemd passed (socket activation: $LISTEN_PID
 * is this process, $LISTEN_FDS sockets from descriptor 3): net_listen on
 * their addresses hands them out instead of binding. Returns how many were
 * taken. Main thread, before any listener is opened.
 */
int net_inherit_listeners(void);
/** The port a socket is bound to, or -1. */
int net_local_port(int fd);
/** Set the port of an address. */
void net_set_port(struct net_addr *a, int port);
/** Format the address without the port ("127.0.0.1", "::1") into out. */
void net_host_str(const struct sockaddr *sa, char *out, size_t cap);
/** Format "host:port" ("[::1]:80" for IPv6) into out. */
void net_addr_str(const struct sockaddr *sa, char *out, size_t cap);
/** True when A and B are the same address and port. */
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);
/** ADDR (IPv4 or IPv6) as 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d). */
void net_addr16(const struct sockaddr *sa, unsigned char out[16]);
/**
 * Parse "ADDR" or "ADDR/BITS" (IPv4 or IPv6, numeric) into 16 bytes as
 * net_addr16 gives and the prefix length over them (IPv4 prefixes gain 96).
 * 0, or -1 with *WHY saying what is wrong.
 */
int net_parse_cidr(const char *s, unsigned char addr[16], unsigned *bits, const char **why);
/** True when the first BITS bits of A and PREFIX agree. */
bool net_prefix_match(const unsigned char a[16], const unsigned char prefix[16], unsigned bits);
/** The port of a socket address. */
unsigned net_port(const struct sockaddr *sa);

/*
 * recv and send without glibc's cancellation-point wrappers: in a
 * multithreaded process those add two atomic updates of the thread's cancel
 * state around every call, on the path of every request. infosrv never
 * cancels a thread. Same results and errno as recv(2) and send(2).
 */
static inline ssize_t net_recv(int fd, void *buf, size_t n, int flags)
{
    return syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

static inline ssize_t net_send(int fd, const void *buf, size_t n, int flags)
{
    return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

#endif
