/*
 * gen: the configuration generation — an immutable, reference-counted
 * snapshot of every setting the services read. The main thread builds one
 * (gen_build), publishes it (gen_publish); workers pick up the current one
 * at the start of each loop iteration (gen_current_ref) and drop it when a
 * newer one appears. A generation is never modified after publication.
 */
#ifndef RUNTIME_GEN_H
#define RUNTIME_GEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "runtime/accesslog.h"
#include "runtime/path.h"

enum vdir_access {
    VDIR_READ = 1 << 0,
    VDIR_WRITE = 1 << 1,
    VDIR_EXECUTE = 1 << 2,
    VDIR_SCRIPT = 1 << 3,
};

struct vdir {
    char *prefix;        /* URL prefix without trailing slash; "" for the home directory */
    size_t prefix_len;
    char *path;          /* directory on disk */
    int dirfd;           /* O_PATH|O_DIRECTORY descriptor of path, owned by the generation */
    uint64_t uid;        /* unique across generations: keys the file cache */
    unsigned access;     /* enum vdir_access */
    enum path_symlinks symlinks;
    bool browse;
    unsigned browse_flags; /* enum dirlist_flags */
};

struct site {
    char *name;
    int stats_slot;              /* stats_slot("www", name) */
    struct net_addr *bindings;   /* listeners serving this site */
    size_t nbindings;
    struct vdir *vdirs;          /* sorted longest prefix first */
    size_t nvdirs;
    char **default_docs;
    size_t ndefault_docs;
    struct mime_map *mime;
    uint32_t header_timeout_ms;
    uint32_t keepalive_timeout_ms;
    uint64_t max_body;
    struct alog *alog;           /* not owned: lives across generations */
    int state;                   /* enum config_site_state: 0 started, 1 stopped, 2 paused */
    uint32_t max_connections;    /* simultaneous connections; 0 = unlimited */
};

struct gen {
    atomic_int refs;
    uint64_t serial;
    struct site *sites;
    size_t nsites;
    unsigned nworkers;
    uint64_t cache_bytes;        /* open-file cache budget across workers */
    uint32_t cache_valid_ms;     /* how long a cached file's metadata is trusted */
};

/** Take a reference. */
void gen_ref(struct gen *g);
/** Drop a reference; the last one frees the generation. */
void gen_unref(struct gen *g);
/** Make G the current generation (takes over the caller's reference). */
void gen_publish(struct gen *g);
/** A new reference to the current generation, or NULL before the first publish. */
struct gen *gen_current_ref(void);
/** The current generation pointer without a reference, for cheap change checks. */
struct gen *gen_current_peek(void);
/** Release the current generation at shutdown. */
void gen_shutdown(void);

/** Allocate an empty generation with a fresh serial and one reference. */
struct gen *gen_new(void);
/** Add a vdir to a site, opening its directory; -1 with *err on failure. */
int gen_site_add_vdir(struct site *s, const char *prefix, const char *path, unsigned access,
                      enum path_symlinks symlinks, bool browse, char *err, size_t errlen);
/** Sort vdirs longest prefix first; call once a site is complete. */
void gen_site_finish(struct site *s);
/** The vdir serving decoded PATH (longest prefix at a segment boundary), or NULL. */
const struct vdir *gen_find_vdir(const struct site *s, const char *path, size_t len);

#endif
