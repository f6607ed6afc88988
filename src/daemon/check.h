/*
 * check: `infosrv --check` — what is wrong with a state directory, said in
 * one line per finding: the metabase (opens, passes SQLite's integrity check,
 * compiles into a configuration), every TLS site's certificate (readable,
 * matching its key, not expired, not expiring within CHECK_EXPIRY_DAYS) and
 * the admin listener's. Nothing is written. Main thread, before anything
 * else runs.
 */
#ifndef DAEMON_CHECK_H
#define DAEMON_CHECK_H

#define CHECK_EXPIRY_DAYS 14

/** Check STATE_DIR with NWORKERS workers; prints the findings. The exit status: 0 or 1. */
int check_state_dir(const char *state_dir, unsigned nworkers);

#endif
