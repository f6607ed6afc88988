/*
 * cli: what infoadm's runner and its commands share — command table entries,
 * parsed arguments, and the per-server run context through which a command
 * talks to its server and hands over output (tables, text, JSON). A command
 * keeps nothing past its return except what it gives to cli_emit_*; the
 * runner owns the connection, the inventory and the collected output.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/client.h"
#include "cli/err.h"
#include "cli/inventory.h"
#include "cli/output.h"

#define CLI_MAX_OPTS 32
#define CLI_MAX_TABLES 4
#define CLI_NUM_MAX (1LL << 53) /* revisions, limits: exact in a JSON number */

/** The command line after the command words. */
struct cli_args {
    char **pos; /* positional arguments, borrowed from argv */
    size_t npos;
    const char *name[CLI_MAX_OPTS];  /* option names without "--" */
    const char *value[CLI_MAX_OPTS]; /* NULL for flags */
    size_t nopt;
};

/** Options that apply to every command. */
struct cli_globals {
    const char *server, *token, *token_file, *cacert, *pin;
    bool json, all, help, version;
};

enum cli_cmd_flag {
    CMD_LOCAL = 1, /* runs without a server */
    CMD_TABLE = 2, /* output is tables only: --all merges them with a SERVER column */
    CMD_INV = 4,   /* needs the inventory */
};

struct cli_run;

/** One command: its words, handler, requirements and help. */
struct cli_cmd {
    const char *words[3];
    int (*fn)(struct cli_run *r);
    const char *cap;      /* capability checked before the handler runs, or NULL */
    unsigned flags;       /* enum cli_cmd_flag */
    int min_pos, max_pos; /* positional arguments; max -1: unbounded */
    const char *opts;     /* "comment=,if-match=,recursive": "=" takes a value */
    const char *args;     /* synopsis after the words */
    const char *help;     /* one paragraph */
};

/** One command run against one server (or none, for local commands). */
struct cli_run {
    const struct cli_cmd *cmd;
    const struct cli_args *args;
    const struct cli_globals *g;
    struct cli_conn *conn; /* NULL for local commands */
    struct inv *inv;       /* the inventory when loaded, else NULL */
    FILE *out;
    bool aggregate; /* --all table command: tables are collected, not printed */
    size_t index;   /* this server's position under --all */
    size_t ntables; /* tables emitted so far */
    struct out_table *tables[CLI_MAX_TABLES];
    json_t *result; /* --json: what the runner prints or collects */
    struct cli_err err;
};

/* cmdtab.c */
/** The command table and its size. */
extern const struct cli_cmd cli_cmds[];
extern const size_t cli_ncmds;
/** Match command words W[0..N) by unique prefix; *USED gets how many were words. */
const struct cli_cmd *cli_cmd_match(char *const *w, size_t n, size_t *used, struct cli_err *err);
/** Whether option NAME (length LEN) is in SPEC; *HAS_ARG tells whether it takes a value. */
bool cli_opt_in(const char *spec, const char *name, size_t len, bool *has_arg);
/** The command's words joined by spaces into BUF. */
const char *cli_cmd_name(const struct cli_cmd *c, char *buf, size_t cap);
/** Print help: the command list, or the commands matching W[0..N). -1 when none match. */
int cli_help(FILE *f, char *const *w, size_t n, struct cli_err *err);

/* args.c */
/** Parse argv: globals, the command and its arguments; -1 with a usage error. */
int cli_parse_argv(int argc, char **argv, struct cli_globals *g, const struct cli_cmd **cmd,
                   struct cli_args *a, struct cli_err *err);
/** Release what cli_parse_argv allocated in A. */
void cli_args_free(struct cli_args *a);
/** The last value of option NAME ("" for a flag), or NULL. */
const char *cli_opt(const struct cli_args *a, const char *name);
/** Whether flag NAME was given. */
bool cli_flag(const struct cli_args *a, const char *name);
/** Every value of option NAME, in order, into OUT (at most CAP); returns the count. */
size_t cli_opt_all(const struct cli_args *a, const char *name, const char **out, size_t cap);

/* run.c */
/** Run infoadm; returns the exit status. */
int cli_main(int argc, char **argv);
/** Hand V over as the --json result (stolen). Returns 0. */
int cli_emit_json(struct cli_run *r, json_t *v);
/** Print T, or collect it under --all (stolen). */
void cli_emit_table(struct cli_run *r, struct out_table *t);
/** Fail with a usage error naming the command and its synopsis. Returns -1. */
int cli_usage(struct cli_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Fail with EXIT, CODE and a message. Returns -1. */
int cli_fail(struct cli_run *r, int exit, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Require capability CAP for WHAT (a command name) on this server. */
int cli_need(struct cli_run *r, const char *cap, const char *what);
/** GET PATH from this server. */
int cli_fetch(struct cli_run *r, const char *path, json_t **out);
/**
 * GET URL (freed here) for a listing command: -1 on failure; 1 when --json
 * already took the answer as the command's result; 0 when *out is for the
 * caller to render (and decref).
 */
int cli_fetch_view(struct cli_run *r, struct buf *url, json_t **out);
/** METHOD URL (freed here) without a body, for an action: returns as cli_fetch_view. */
int cli_send_view(struct cli_run *r, const char *method, struct buf *url, json_t **out);
/** METHOD PATH with BODY (stolen, may be NULL) and an optional If-Match revision. */
int cli_send(struct cli_run *r, const char *method, const char *path, json_t *body,
             const char *if_match, json_t **out);
/** Parse S as a whole number in [MIN, MAX] naming WHAT in the usage error. */
int cli_number(struct cli_run *r, const char *what, const char *s, long long min, long long max,
               long long *out);

/** Normalise key argument ARG into *KEY (new string); usage error when malformed. */
int cli_key_arg(struct cli_run *r, const char *arg, char **key);
/** Add --comment, when given, to BODY as "comment". */
void cli_add_comment(struct cli_run *r, json_t *body);
/** Print "WHAT (revision N)" (or "nothing changed"), or under --json hand RESP over (stolen). */
int cli_report_revision(struct cli_run *r, json_t *resp, const char *what);
/** POST /api/v1/commits with OPS (stolen) and --comment, then report as WHAT. */
int cli_commit(struct cli_run *r, json_t *ops, const char *what);
/** The value of property NAME in a GET /api/v1/config answer KEY (borrowed), or NULL. */
const json_t *cli_prop_value(const json_t *key, const char *name);

/* commands_*.c: the handlers named by the table */
int cli_cmd_version(struct cli_run *r);
int cli_cmd_status(struct cli_run *r);
int cli_cmd_get(struct cli_run *r);
int cli_cmd_set(struct cli_run *r);
int cli_cmd_unset(struct cli_run *r);
int cli_cmd_history(struct cli_run *r);
/**
 * One line for a revision's "summary" (GET /api/v1/revisions: its first changes
 * without values) of TOTAL changes: "set KEY a,b; +KEY; -KEY", as many parts as
 * fit in WIDTH characters, then "; +N more"; a first part too long is cut with
 * "…". A new string, or NULL when SUMMARY names no change.
 */
char *cli_history_summary(const json_t *summary, long long total, size_t width);
int cli_cmd_show(struct cli_run *r);
int cli_cmd_diff(struct cli_run *r);
int cli_cmd_rollback(struct cli_run *r);
int cli_cmd_export(struct cli_run *r);
int cli_cmd_import(struct cli_run *r);
int cli_cmd_backup(struct cli_run *r);
int cli_cmd_backup_list(struct cli_run *r);
int cli_cmd_restore(struct cli_run *r);
int cli_cmd_stats(struct cli_run *r);
int cli_cmd_stats_clear(struct cli_run *r);
int cli_cmd_sessions(struct cli_run *r);
int cli_cmd_disconnect(struct cli_run *r);
int cli_cmd_control(struct cli_run *r);
int cli_cmd_flush_cache(struct cli_run *r);
int cli_cmd_site_add(struct cli_run *r);
int cli_cmd_site_remove(struct cli_run *r);
int cli_cmd_site_list(struct cli_run *r);
int cli_cmd_vdir_add(struct cli_run *r);
int cli_cmd_vdir_remove(struct cli_run *r);
int cli_cmd_vdir_list(struct cli_run *r);
int cli_cmd_account_add(struct cli_run *r);
int cli_cmd_account_remove(struct cli_run *r);
int cli_cmd_account_list(struct cli_run *r);
int cli_cmd_account_token(struct cli_run *r);
int cli_cmd_user_add(struct cli_run *r);
int cli_cmd_user_passwd(struct cli_run *r);
int cli_cmd_user_remove(struct cli_run *r);
int cli_cmd_user_list(struct cli_run *r);
int cli_cmd_audit(struct cli_run *r);
int cli_cmd_log(struct cli_run *r);
int cli_cmd_cert_list(struct cli_run *r);
int cli_cmd_cert_renew(struct cli_run *r);
/** Print a "warning:" line for each certificate in CERTS (GET /api/v1/certificates) in trouble. */
void cli_cert_warnings(struct cli_run *r, const json_t *certs);
int cli_cmd_farm_status(struct cli_run *r);
int cli_cmd_farm_leave(struct cli_run *r);
int cli_cmd_server_add(struct cli_run *r);
int cli_cmd_server_list(struct cli_run *r);
int cli_cmd_server_remove(struct cli_run *r);
int cli_cmd_help(struct cli_run *r);

#endif
