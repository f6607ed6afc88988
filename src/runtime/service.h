/*
 * service: what a protocol (www, ftp, gopher) plugs into the runtime — a
 * table of operations the runtime calls without knowing the protocol. The
 * composition root registers each service once at start-up, before any
 * generation is compiled; the table is read-only afterwards and read by every
 * thread. A service's connections embed struct session (runtime/session.h).
 */
#ifndef RUNTIME_SERVICE_H
#define RUNTIME_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

struct listener;
struct mb;
struct mb_error;
struct session;
struct site;
struct vdir;
struct worker;

#define SERVICES_MAX 4

struct service {
    const char *name;    /* "www": the metabase key /NAME, stats and sessions */
    unsigned mb_service; /* enum mb_service bit of the property table */
    /** Adopt socket FD accepted on LI; the runtime has counted it and chosen LI's binding. */
    void (*accept)(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer);
    /** Close the session now (disconnect, forced stop). */
    void (*close)(struct session *s);
    /** Close when idle, else once the request or transfer in progress ends. */
    void (*drain)(struct session *s);
    /**
     * A new generation no longer serves the session's site on its listener:
     * end it at once, or say so and finish what is in flight where the
     * protocol can (HTTP/2's GOAWAY). May be NULL: close. May be called again
     * for the same session by a later generation.
     */
    void (*retire)(struct session *s);
    /** Free a session closed earlier (called from the worker's idle hook). */
    void (*free)(struct session *s);
    /** Add protocol fields to a session's JSON description (may be NULL). */
    void (*describe)(const struct session *s, json_t *out);
    /** The counters the service keeps (bits 1 << enum stat_id); its stats show only these. */
    uint64_t counters;
    /** What a client refused because its site is full is sent before the close. */
    const char *busy_reply;
    /** How a TLS binding of the service is written: "https://", "ftps://", "gophers://". */
    const char *tls_scheme;
    /** ALPN protocols offered on TLS bindings, in wire format ("\x08http/1.1"), or NULL. */
    const unsigned char *alpn;
    size_t alpn_len;
    /**
     * Compile the service's own settings of site S (metabase key KEY) from the
     * effective properties of the site (EFF) and of its home directory (ROOT).
     */
    int (*compile_site)(struct site *s, const json_t *eff, const json_t *root, const char *key,
                        struct mb_error *err);
    /** Settings of virtual directory V (metabase key KEY) beyond the shared ones (may be NULL). */
    int (*compile_vdir)(struct vdir *v, const json_t *eff, const char *key, struct mb_error *err);
    /** Free what compile_site stored in s->svc_data. */
    void (*free_site)(struct site *s);
    /**
     * Compile what the service keeps for the whole generation beside its
     * sites (FTP: its users) into *OUT, read with gen_service_data (may be NULL).
     */
    int (*compile_service)(struct mb *mb, void **out, struct mb_error *err);
    /** Free what compile_service made. */
    void (*free_service)(void *data);
};

/** Register SVC (main thread, before the first compile); the table must outlive the process. */
void service_register(const struct service *svc);
/** The service named NAME, or NULL. */
const struct service *service_find(const char *name);
/** The I-th registered service, or NULL past the end. */
const struct service *service_at(size_t i);
/** The registration index of SVC (0 for the first), or -1. */
int service_index(const struct service *svc);

#endif
