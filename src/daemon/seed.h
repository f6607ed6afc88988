/*
 * seed: what the command line puts into an empty metabase on the first
 * start — the default WWW site with its bindings, home directory, virtual
 * directories, timeouts and logging, and the default Gopher site. Main
 * thread, at start-up.
 */
#ifndef DAEMON_SEED_H
#define DAEMON_SEED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_flags { /* what main.c parsed from the command line */
    bool www;         /* seed the default WWW site */
    const char *root; /* home directory of the default site */
    const char *http; /* "ADDR:PORT" of the default site's binding (port already resolved, or 0) */
    const char *https; /* "ADDR:PORT" of its TLS binding, or NULL */
    bool browse;
    unsigned header_timeout, keepalive_timeout; /* seconds */
    const char *log_format;                     /* "w3c" | "ncsa" | "sqlite" */
    const char *log_period;                     /* "hourly" ... "none" */
    uint64_t log_size;
    struct config_vdir {
        const char *prefix; /* "/docs", "/a/b" */
        const char *path;
        bool read;
        const char *symlinks; /* "inside" | "never" | "any", or NULL for the inherited value */
        bool browse;
    } * vdirs;
    size_t nvdirs;
    const char *gopher;      /* "ADDR:PORT" of the default Gopher site, or NULL for none */
    const char *gopher_root; /* its home directory */
    const char *ftp;         /* "ADDR:PORT" of the default FTP site, or NULL for none */
    const char *ftp_root;    /* its home directory */
};

/**
 * Operations (a jansson array for mb_commit/mb_seed; the caller decrefs) that
 * create the default site from the flags. NULL or zero fields are left out.
 */
json_t *config_seed_ops(const struct config_flags *f);

#endif
