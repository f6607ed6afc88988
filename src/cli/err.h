/*
 * err: infoadm's one error record. Modules fill a struct cli_err (exit
 * status, error code, one-line message) instead of printing; the command
 * runner prints it as the single "infoadm: REASON" line. Plain data: nothing
 * to free. Single-threaded, like all of infoadm.
 */
#ifndef CLI_ERR_H
#define CLI_ERR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** Exit statuses of infoadm (docs/infoadm.md lists them). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_API = 1,   /* the server refused or failed the request */
    CLI_EXIT_USAGE = 2, /* bad command line or inventory */
    CLI_EXIT_CONN = 3,  /* cannot connect, TLS failure, timeout, garbled answer */
    CLI_EXIT_PIN = 4,   /* the server's certificate key does not match the pin */
};

struct cli_err {
    int exit;       /* enum cli_exit; 0 when no error */
    long http;      /* HTTP status of an API error, else 0 */
    bool named;     /* msg already names the server (no "SERVER: " prefix under --all) */
    char code[48];  /* API error code, or a client code such as "connection_failed" */
    char msg[1024]; /* one line without control characters */
};

/** Reset E to "no error". */
void cli_err_clear(struct cli_err *e);
/** Set E: exit status EXIT, CODE, and a printf-formatted message made one line. */
void cli_err_set(struct cli_err *e, int exit, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Copy S into DST (CAP bytes) as one line: control characters become spaces. */
void cli_err_oneline(char *dst, size_t cap, const char *s);
/** Fill E from a non-2xx answer: HTTP status and body (NULL or not JSON is fine). */
void cli_err_from_api(struct cli_err *e, long http, const char *body, size_t len);
/** Print "infoadm: [SERVER: ]MSG" and a newline to F; SERVER may be NULL. */
void cli_err_print(FILE *f, const struct cli_err *e, const char *server);
/** E as {"error": {"code", "message"}} (a new reference), for --json --all. */
json_t *cli_err_json(const struct cli_err *e);

#endif
