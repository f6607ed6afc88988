/*
 * privsep: running as an unprivileged user after starting as root (the
 * OpenBSD privsep model). Before any thread exists, privsep_start forks a
 * small helper that keeps root and does one thing: bind and listen on a TCP
 * port below 1024 when the server asks over a socketpair, sending the socket
 * back (SCM_RIGHTS). The server then gives up root for good
 * (privsep_drop: supplementary groups, gid, uid, no capabilities left), and
 * net_listen asks the helper for privileged ports from then on. Main thread,
 * once each; the bind request is safe from any thread (one mutex).
 */
#ifndef DAEMON_PRIVSEP_H
#define DAEMON_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** Look USER up; *UID and *GID get its ids. -1 with ERR when there is no such user. */
int privsep_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/** Fork the bind helper (root only, before any thread). -1 with ERR on failure. */
int privsep_start(char *err, size_t errlen);
struct net_addr;
/** Ask the helper for a socket on A (listening with BACKLOG), or only whether A is free (PROBE). */
int privsep_listen(const struct net_addr *a, int backlog, bool probe);
/** Become UID/GID with no supplementary groups and no capabilities. -1 with ERR. */
int privsep_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
