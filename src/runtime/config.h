/*
 * config: the bridge between the metabase and the runtime. config_compile
 * turns the metabase's current tree into a new generation
 * (the caller owns its one reference): the sites of every registered service
 * on the shared core (a stopped or paused service holding its sites), each
 * service adding its own settings through its compile hooks. Main or admin thread, one at a time per struct mb. Access
 * logs are never owned here: env->alog_for owns them.
 */
#ifndef RUNTIME_CONFIG_H
#define RUNTIME_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/net.h"
#include "metabase/mb.h"
#include "runtime/gen.h"
#include "runtime/accesslog.h"

struct config_env {
    unsigned nworkers;
    /* Returns the access log for SITE configured as CFG, creating or reusing it (logs live
       across generations; the callback owns them). NULL with *err when it cannot be opened.
       CFG->dir is NULL: the callback decides where logs go. A NULL alog_for opens no logs. */
    struct alog *(*alog_for)(void *arg, const char *service, const char *site,
                             const struct alog_config *cfg, const char **err);
    void *alog_arg;
    const char *tls_dir; /* where certificates of TLS sites without one are generated; NULL: refuse */
    void (*published)(void); /* told after each generation is published (may be NULL) */
    bool read_only;          /* infosrv --check: generate nothing, build no TLS context */
};

/* A name and what it stands for: an enum property's value, or the bit a
 * boolean property sets (services' compile hooks read such tables too). */
struct config_name {
    const char *name;
    unsigned value;
};

/** The integer NAME of effective properties EFF (0 when absent). */
int64_t config_int(const json_t *eff, const char *name);
/** The string NAME of EFF ("" when absent). */
const char *config_str(const json_t *eff, const char *name);
/** The value T gives property NAME of EFF (checked by the property table), or 0. */
unsigned config_value(const json_t *eff, const char *name, const struct config_name *t);
/** The OR of the flags of table T (ended by a NULL name) whose property is true in EFF. */
unsigned config_flags_of(const json_t *eff, const struct config_name *t);

/**
 * Replace *ADDR by this machine's own address for it when OVERRIDES (the
 * binding_overrides map, may be NULL) lists it: 1 when it did, 0 when ADDR is
 * not listed, -1 when the address it maps to does not parse.
 */
int config_binding_override(const json_t *overrides, struct net_addr *addr);

/**
 * Compile the metabase's current state (inside or outside a transaction) into
 * a new generation. NULL with err filled (code "apply_failed" and a clear
 * message naming the key) when the tree cannot be served.
 */
struct gen *config_compile(struct mb *mb, const struct config_env *env, struct mb_error *err);

#endif
