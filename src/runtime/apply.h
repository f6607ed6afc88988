/*
 * apply: makes a metabase state live — compile a generation (config.c), bind
 * or close listeners (server.c), publish, and disconnect sessions of sites
 * that were stopped. Used as the metabase's commit callback by the admin API
 * and directly at start-up and on SIGHUP. Callers serialise (API lock).
 */
#ifndef RUNTIME_APPLY_H
#define RUNTIME_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "metabase/mb.h"
#include "runtime/config.h"

/** Remember the environment compiles run in (workers, access logs). */
void apply_init(const struct config_env *env);
/** mb_apply_fn: compile, check or bind listeners, publish unless DRY. */
int apply_commit(struct mb *mb, void *arg, bool dry, struct mb_error *err);

#endif
