/*
 * apply: makes a metabase state live in two steps. PREPARE compiles a
 * generation (config.c) and binds the new listening sockets (server.c)
 * inside the commit transaction; PUBLISH, once the COMMIT is stored, hands
 * the generation and sockets to the workers; ABORT closes what PREPARE made.
 * Used as the metabase's commit callback by the admin API and directly at
 * start-up and on SIGHUP. Callers serialise (the API lock).
 */
#ifndef RUNTIME_APPLY_H
#define RUNTIME_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "metabase/mb.h"
#include "runtime/config.h"

/** Remember the environment compiles run in (workers, access logs, TLS state). */
void apply_init(const struct config_env *env);
/** mb_apply_fn: check, prepare, publish or abort (see enum mb_apply_phase). */
int apply_commit(struct mb *mb, void *arg, enum mb_apply_phase phase, struct mb_error *err);
/** Prepare and publish the metabase's current state outside a commit (start-up, SIGHUP). */
int apply_current(struct mb *mb, struct mb_error *err);

#endif
