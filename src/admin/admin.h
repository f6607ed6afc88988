/*
 * admin: the admin API listeners — the local unix socket (peer credentials
 * checked, no password) and HTTPS on TCP (bearer tokens or a console
 * session) — the web console's files, the event streams, and the request
 * plumbing around api.c. One event loop thread holds every connection and
 * stream; a parsed request goes to one of a few request threads, which
 * answer API calls one at a time under the API lock (the metabase handle is
 * single-threaded) and the console's files without it.
 */
#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/net.h"

struct mb;

struct admin_config {
    const char *state_dir;   /* admin.sock, admin.crt/.key, admin.token, backups/ live here */
    const struct net_addr *tcp; /* NULL: no TCP listener */
    struct mb *mb;
    const char *web_dir;     /* the console's files; NULL: found beside the binary */
};

/** Open the listeners and start the accept thread. -1 with err on failure. */
int admin_start(const struct admin_config *cfg, char *err, size_t errlen);
/** The TCP port bound (after admin_start), or 0. */
unsigned admin_tcp_port(void);
/** Take the API lock: the metabase and live apply are used by one thread at a time. */
void admin_lock(void);
/** Release the API lock. */
void admin_unlock(void);
/** Stop accepting and wait for requests in progress (bounded). */
void admin_stop(void);

#endif
