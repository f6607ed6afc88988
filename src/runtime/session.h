/*
 * session: the header every protocol connection embeds — identity, client,
 * counters, the request in progress, and the generation that request runs
 * on — kept in its worker's table for the session list and disconnect. Owned
 * and touched only by the worker thread that accepted it; other threads reach
 * it through worker_post.
 */
#ifndef RUNTIME_SESSION_H
#define RUNTIME_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "runtime/stats.h"

struct gen;
struct listener;
struct service;
struct site;
struct worker;

#define SESSION_REQUEST_MAX 160
#define SESSION_USER_MAX 64

struct session {
    const struct service *svc;
    struct worker *w;
    struct listener *li;
    struct session *next, *prev; /* the worker's table, most recent first */
    uint64_t id;
    time_t since;
    struct gen *gen;             /* a reference: the generation the current request started on */
    const struct site *site;     /* in gen; NULL while no site is chosen */
    int site_slot;               /* stats slot the connection was opened on */
    char peer_ip[48];
    unsigned peer_port;
    unsigned char peer_addr[16]; /* as net_addr16 gives: for address restrictions */
    bool tls;
    bool dead;
    bool pause_exempt;           /* open when its site was paused: it is still served */
    uint64_t bytes_in, bytes_out, requests;
    char user[SESSION_USER_MAX];
    char request[SESSION_REQUEST_MAX];
};

/** Enter S (embedded in a protocol connection) into W's table and count the connection. */
void session_open(struct session *s, const struct service *svc, struct worker *w,
                  struct listener *li, const struct sockaddr *peer);
/** Take the worker's current generation if S is on an older one; true when it changed. */
bool session_adopt_gen(struct session *s);
/** S now serves SITE (chosen by SNI or Host): its connection counts there from now on. */
void session_set_site(struct session *s, const struct site *site);
/** Leave the table, drop the generation and the listener, queue S for svc->free. */
void session_close(struct session *s);
/** Count N bytes received on S (session, service and site counters). */
void session_count_in(struct session *s, size_t n);
/** Count N bytes sent on S. */
void session_count_out(struct session *s, size_t n);
/** Add one to counter ID of S's service and of its site (when one is chosen). */
void session_stat(const struct session *s, enum stat_id id);
/** Record the request in progress as "WORD REST" (cut to fit), and count it. */
void session_note_request(struct session *s, const char *word, size_t wlen, const char *rest,
                          size_t rlen);
/** S as the API shows it (new reference). */
json_t *session_json(const struct session *s);

#endif
