/*
 * config: the bridge between the metabase and the runtime. config_seed_ops
 * turns the command line into the first revision of an empty metabase;
 * config_compile turns the metabase's current tree into a new generation
 * (the caller owns its one reference). Main or admin thread, one at a time
 * per struct mb. Access logs are never owned here: env->alog_for owns them.
 */
#ifndef RUNTIME_CONFIG_H
#define RUNTIME_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metabase/mb.h"
#include "runtime/gen.h"
#include "runtime/accesslog.h"

/* Values of struct site.state (the "state" property). */
enum config_site_state {
    CONFIG_SITE_STARTED = 0,
    CONFIG_SITE_STOPPED = 1,
    CONFIG_SITE_PAUSED = 2,
};

struct config_flags { /* what main.c parsed from the command line */
    const char *root; /* home directory of the default site */
    const char *http; /* "ADDR:PORT" of the default site's binding (port already resolved, or 0) */
    bool browse;
    unsigned header_timeout, keepalive_timeout; /* seconds */
    const char *log_format;                     /* "w3c" | "ncsa" */
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
};

/**
 * Operations (a jansson array for mb_commit/mb_seed; the caller decrefs) that
 * create the default site from the flags. NULL or zero fields are left out.
 */
json_t *config_seed_ops(const struct config_flags *f);

struct config_env {
    unsigned nworkers;
    /* Returns the access log for SITE configured as CFG, creating or reusing it (logs live
       across generations; the callback owns them). NULL with *err when it cannot be opened.
       CFG->dir is NULL: the callback decides where logs go. A NULL alog_for opens no logs. */
    struct alog *(*alog_for)(void *arg, const char *site, const struct alog_config *cfg,
                             const char **err);
    void *alog_arg;
};

/**
 * Compile the metabase's current state (inside or outside a transaction) into
 * a new generation. NULL with err filled (code "apply_failed" and a clear
 * message naming the key) when the tree cannot be served.
 */
struct gen *config_compile(struct mb *mb, const struct config_env *env, struct mb_error *err);

#endif
