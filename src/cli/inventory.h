/*
 * inventory: the servers infoadm knows, in a JSON file
 * {"servers": {"NAME": {"url", "token", "pin", "cacert"}}} kept 0600 in a
 * 0700 directory. struct inv owns the parsed document; struct inv_server
 * borrows strings from it (valid until the next change). Fields infoadm does
 * not know are kept as they are.
 */
#ifndef CLI_INVENTORY_H
#define CLI_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/err.h"

struct inv {
    char *path;  /* the file */
    json_t *doc; /* the whole document */
};

struct inv_server {
    const char *name;
    const char *url;    /* "unix:PATH" or "https://HOST:PORT" */
    const char *token;  /* NULL: none */
    const char *pin;    /* "sha256//..." or NULL before first contact */
    const char *cacert; /* CA file that replaces pinning, or NULL */
};

/** The inventory path: $INFOADM_CONFIG, $XDG_CONFIG_HOME/infoadm/servers.json or ~/.config/...; a
 * new string. */
char *inv_default_path(struct cli_err *err);
/** Load PATH into INV; a missing file is an empty inventory. */
int inv_load(struct inv *inv, const char *path, struct cli_err *err);
/** Write INV atomically, the file 0600 and created directories 0700. */
int inv_save(const struct inv *inv, struct cli_err *err);
/** Release INV. */
void inv_free(struct inv *inv);
/** 0 and *OUT filled when NAME is in INV, else -1. */
int inv_find(const struct inv *inv, const char *name, struct inv_server *out);
/** 0 and *OUT filled when a server has URL (normalised), else -1. */
int inv_find_url(const struct inv *inv, const char *url, struct inv_server *out);
/** Add S (S->name and S->url required; the URL is normalised); refuses an existing name. */
int inv_add(struct inv *inv, const struct inv_server *s, struct cli_err *err);
/** Remove NAME; -1 when it is not there. */
int inv_remove(struct inv *inv, const char *name, struct cli_err *err);
/** Record PIN for NAME (in memory; inv_save writes it). */
int inv_set_pin(struct inv *inv, const char *name, const char *pin);
/** The server names, sorted, in a new array of borrowed strings (*N entries). */
const char **inv_names(const struct inv *inv, size_t *n);
/** Whether NAME may name a server: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
bool inv_name_valid(const char *name);

#endif
