/*
 * gen: the configuration generation — an immutable, reference-counted
 * snapshot of every setting the services read: the sites of every service on
 * a shared core (bindings, state, limits, logging, virtual directories, TLS),
 * and the bindings table (one per listening address, with the sites it
 * serves). The main or admin thread builds one (config_compile) and the
 * runtime publishes it to every worker with an explicit message
 * (server_publish); a session keeps a reference to the generation its current
 * request started on. Never modified after publication.
 */
#ifndef RUNTIME_GEN_H
#define RUNTIME_GEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "runtime/path.h"
#include "runtime/service.h"

struct alog;
struct service;
struct ssl_ctx_st;
struct tbucket;

enum vdir_access {
    VDIR_READ = 1 << 0,
    VDIR_WRITE = 1 << 1,
    VDIR_EXECUTE = 1 << 2,
    VDIR_SCRIPT = 1 << 3,
};

/* Values of the "state" property of services and sites. */
enum site_state {
    SITE_STARTED = 0,
    SITE_STOPPED = 1,
    SITE_PAUSED = 2,
};

/* Who may use a directory: ip_default, and the networks that get the opposite. */
struct vdir_ipacl {
    bool deny;                    /* ip_default "deny" */
    struct vdir_ipnet {
        unsigned char addr[16];   /* as net_addr16 gives */
        unsigned bits;
    } *nets;
    size_t nnets;
};

struct vdir {
    char *prefix;        /* URL prefix without trailing slash; "" for the home directory */
    size_t prefix_len;
    char *path;          /* directory on disk */
    int dirfd;           /* O_PATH|O_DIRECTORY descriptor of path, owned by the generation */
    uint64_t uid;        /* unique across generations: keys the file cache */
    unsigned access;     /* enum vdir_access */
    enum path_symlinks symlinks;
    bool require_tls;
    struct vdir_ipacl ipacl;
    char *headers;       /* the service's extra response header lines (WWW: http_headers) */
    size_t headers_len;
    enum vdir_expires { EXPIRES_OFF, EXPIRES_IMMEDIATE, EXPIRES_AFTER, EXPIRES_ON } expires;
    uint32_t expires_after_s;  /* EXPIRES_AFTER */
    char expires_on[32];       /* EXPIRES_ON: the HTTP-date */
    struct vdir_error_page {   /* the service's own error pages (WWW: error_pages) */
        int status;
        char *body;
        size_t len;
        const char *type;      /* Content-Type */
    } *error_pages;
    size_t nerror_pages;
    bool browse;         /* the service's listing flag (WWW: directory_browsing) */
    unsigned browse_flags; /* the service's listing options (WWW: enum dirlist_flags) */
    /* WWW: who may read here (auth_*), and how programs run (script_map, cgi_*) */
    unsigned auth;       /* enum vdir_auth bits */
    char realm[128];     /* auth_realm, or the site's name */
    struct vdir_script {
        char *ext;         /* with its dot, lower case: ".py" */
        char *interpreter; /* absolute path */
    } *scripts;
    size_t nscripts;
    uint32_t cgi_timeout_ms;
    uint32_t cgi_max;    /* CGI processes of the whole server at once */
    /* The service's content codings (WWW: compression, compression_min_size, compression_types) */
    enum vdir_compression { COMPRESSION_OFF, COMPRESSION_STATIC, COMPRESSION_ON } compression;
    uint64_t compression_min;  /* smaller files are not compressed on the fly */
    char **compression_types;  /* lower case; "text/" then a star takes every subtype */
    size_t ncompression_types;
};

enum vdir_auth {
    VDIR_AUTH_ANONYMOUS = 1 << 0, /* auth_anonymous */
    VDIR_AUTH_BASIC = 1 << 1,     /* auth_basic */
    VDIR_AUTH_INSECURE = 1 << 2,  /* auth_basic_insecure: Basic over plain HTTP */
};

/* ACME challenge types (acme_challenges). */
enum acme_challenge { ACME_HTTP_01 = 1, ACME_TLS_ALPN_01 = 2 };

/* A site's ACME settings: tls_acme on, no certificate file of its own. */
struct site_acme {
    char *directory;            /* acme_directory */
    char *email, *ca_file;      /* acme_email, acme_ca_certificate; NULL when unset */
    char *cert_file, *key_file; /* where the CA's certificate for the site is kept */
    unsigned char challenges[2]; /* enum acme_challenge, most preferred first */
    size_t nchallenges;
    bool issued;                /* the site is served the CA's certificate, not the placeholder */
};

/* A site's TLS settings; ctx is built when any of its bindings is https. */
struct site_tls {
    char *cert_file, *key_file; /* as configured, the CA's, or the generated pair */
    unsigned protocols;         /* TLS_PROTO_* bits */
    struct ssl_ctx_st *ctx;     /* owned by the generation */
    struct site_acme *acme;     /* NULL unless the certificate comes from an ACME CA */
    bool generated;             /* cert_file is the self-signed pair made in the state directory */
};

struct site_binding {
    struct net_addr addr;
    bool tls;
};

struct site {
    char *name;
    const struct service *svc;
    int stats_slot;               /* stats_slot(svc->name, name) */
    struct site_binding *bindings;
    size_t nbindings;
    char **host_names;            /* lower case; empty: the default site of its bindings */
    size_t nhost_names;
    struct vdir *vdirs;           /* sorted longest prefix first */
    size_t nvdirs;
    uint32_t idle_timeout_ms;     /* connection_timeout */
    uint32_t max_connections;     /* simultaneous connections; 0 = unlimited */
    enum site_state state;
    bool require_tls;
    bool tls_wanted;              /* the service upgrades plain connections (FTP's AUTH TLS) */
    struct site_tls tls;
    struct alog *alog;            /* not owned: lives across generations */
    struct tbucket *bw;           /* max_bandwidth's bucket (a reference), or NULL */
    void *svc_data;               /* the service's own settings (svc->compile_site) */
};

/* One listening address and the sites that share it (all of one service). */
struct binding {
    struct net_addr addr;
    const struct service *svc;
    bool tls;
    struct site **sites;          /* started and paused sites; stopped ones are left out */
    size_t nsites;
    struct site *default_site;    /* serves names no site claims; NULL when none listens */
};

struct gen {
    atomic_int refs;
    uint64_t serial;
    struct site *sites;
    size_t nsites;
    struct binding *bindings;     /* one per address with a listening site */
    size_t nbindings;
    unsigned nworkers;
    uint64_t cache_bytes;         /* open-file cache budget across workers */
    uint32_t cache_valid_ms;      /* how long a cached file's metadata is trusted */
    uint64_t zcache_bytes;        /* budget of the compressed-file cache (compression_cache_size) */
    struct tbucket *bw;           /* bandwidth_limit's bucket (a reference), or NULL */
    bool bw_any;                  /* bw or a site's: writers go through runtime/throttle */
    void *svc_data[SERVICES_MAX]; /* per service (by service_index): what compile_service made */
};

/** Take a reference. */
void gen_ref(struct gen *g);
/** Drop a reference; the last one frees the generation. */
void gen_unref(struct gen *g);
/** Make G the current generation (takes over the caller's reference). */
void gen_publish(struct gen *g);
/** A new reference to the current generation, or NULL before the first publish. */
struct gen *gen_current_ref(void);
/** Release the current generation at shutdown. */
void gen_shutdown(void);

/** Allocate an empty generation with a fresh serial and one reference. */
struct gen *gen_new(void);
/** Add a vdir to a site, opening its directory; -1 with *err on failure. */
int gen_site_add_vdir(struct site *s, const char *prefix, const char *path, unsigned access,
                      enum path_symlinks symlinks, char *err, size_t errlen);
/** Sort vdirs longest prefix first; call once a site is complete. */
void gen_site_finish(struct site *s);
/** V's own page for STATUS, or NULL. */
const struct vdir_error_page *vdir_error_page(const struct vdir *v, int status);
/** True when V lets a client at ADDR (16 bytes, as net_addr16) in. */
bool vdir_allows(const struct vdir *v, const unsigned char addr[16]);
/** The vdir serving decoded PATH (longest prefix at a segment boundary), or NULL. */
const struct vdir *gen_find_vdir(const struct site *s, const char *path, size_t len);
/** What SVC's compile_service made for G, or NULL. */
void *gen_service_data(const struct gen *g, const struct service *svc);
/** Build g->bindings from the sites (after every site is compiled). */
void gen_build_bindings(struct gen *g);
/** The binding listening on A in G, or NULL. */
const struct binding *gen_find_binding(const struct gen *g, const struct net_addr *a);
/** The site of B answering host NAME (any case, no port), else B's default site. */
const struct site *binding_site_for_host(const struct binding *b, const char *name, size_t len);
/** The site of B named NAME (a session moving to a new generation), or NULL. */
const struct site *binding_site_named(const struct binding *b, const char *name);

#endif
