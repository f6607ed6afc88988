/*
 * client: infoadm's side of the admin API — requests over the local unix
 * socket or HTTPS with a pinned key (or a CA), JSON in and out, every failure
 * a struct cli_err. A cli_conn owns its copy of the server record, one curl
 * handle (reused, so requests share a connection) and the cached GET /api
 * answer; cli_conn_free releases them. Single-threaded.
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/err.h"
#include "core/buf.h"

struct inv;

#define CLI_DEFAULT_SERVER "unix:var/admin.sock"
#define CLI_DEFAULT_PORT "8172"
#define CLI_CONNECT_TIMEOUT 5
#define CLI_TOTAL_TIMEOUT 30
#define CLI_MAX_RESPONSE (64 << 20)

/** Where and how to reach one server; every string is owned. */
struct cli_server {
    char *name;        /* how messages name it: the inventory name, else the URL */
    char *url;         /* normalised "unix:PATH" or "https://HOST:PORT" */
    char *token;       /* bearer token for HTTPS, or NULL */
    char *pin;         /* "sha256//...", or NULL until first contact */
    char *cacert;      /* verify against this CA file instead of pinning, or NULL */
    bool in_inventory; /* a pin learned on first contact is saved under name */
};

struct cli_conn {
    struct cli_server srv;
    struct inv *inv; /* where a learned pin is saved, or NULL */
    bool quiet_tofu; /* learn the pin without a word (server add stores it itself) */
    bool ready;      /* the pin question is settled for this invocation */
    void *curl;      /* CURL *, created on first use */
    json_t *api;     /* GET /api, fetched once */
};

/** One request: METHOD PATH (with its query), an optional body and If-Match revision. */
struct cli_req {
    const char *method;
    const char *path;
    const json_t *body;   /* NULL: none ("{}" is sent for POST, PUT and PATCH) */
    const char *if_match; /* revision number as text, or NULL */
};

/** Release the strings of S. */
void cli_server_free(struct cli_server *s);
/** Normalise a server URL ("unix:PATH", "https://HOST[:PORT][/]") into *OUT (new string). */
int cli_url_norm(const char *in, char **out, struct cli_err *err);
/** Whether URL (normalised) is an HTTPS one. */
bool cli_url_is_https(const char *url);
/** Set up C for SRV (taken over: C frees its strings); INV may be NULL. No I/O. */
void cli_conn_init(struct cli_conn *c, struct cli_server *srv, struct inv *inv);
/** Release C. */
void cli_conn_free(struct cli_conn *c);
/** Perform REQ; on 2xx *OUT gets the parsed answer ({} when empty), else -1 with ERR. */
int cli_call(struct cli_conn *c, const struct cli_req *req, json_t **out, struct cli_err *err);
/** GET PATH. */
int cli_get(struct cli_conn *c, const char *path, json_t **out, struct cli_err *err);
/** GET /api once per connection, checking that API v1 is served; borrowed, NULL on error. */
const json_t *cli_api(struct cli_conn *c, struct cli_err *err);
/** Whether the server (cli_api already fetched) lists capability CAP. */
bool cli_has_cap(const struct cli_conn *c, const char *cap);
/** 0 when the server has CAP; else -1 with "does not support 'WHAT' (capability CAP)". */
int cli_need_cap(struct cli_conn *c, const char *cap, const char *what, struct cli_err *err);
/** "infosrv 0.1.0" from the cached /api answer, into OUT. */
void cli_server_product(const struct cli_conn *c, char *out, size_t cap);
/** The pin of the HTTPS server S, by a TLS handshake only (no request, no token). */
int cli_fetch_pin(const struct cli_server *s, char *out, size_t cap, struct cli_err *err);
/** Read a token from the first line of FILE into *OUT (new string). */
int cli_token_from_file(const char *file, char **out, struct cli_err *err);

/** Append S percent-encoded (everything but RFC 3986 unreserved characters). */
void cli_pct_encode(struct buf *b, const char *s);
/** Append "?NAME=VALUE" or "&NAME=VALUE" (VALUE encoded); nothing when VALUE is NULL. */
void cli_query_add(struct buf *b, const char *name, const char *value);
/** Normalise a metabase key ("www/sites/x/" → "/www/sites/x") into *OUT (new string). */
int cli_key_norm(const char *in, char **out, struct cli_err *err);
/** Append PREFIX and the normalised KEY, each segment encoded: "/api/v1/config/www/sites/x". */
void cli_key_path(struct buf *b, const char *prefix, const char *key);
/** B's content as a C string (a NUL is kept after the data, not counted). */
const char *cli_buf_str(struct buf *b);

#endif
