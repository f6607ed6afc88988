/*
 * webfiles: the web console's files (web/ in the source tree), served by the
 * admin listener to anyone: they hold no data, every view reads the API.
 * Found beside the binary (EXE/../share/infosrv/web when installed,
 * EXE/../web and EXE/../../web in a build tree) or where --web-dir says.
 * Read-only after webfiles_init; safe from any thread.
 */
#ifndef ADMIN_WEBFILES_H
#define ADMIN_WEBFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/** Find the console's directory (DIR when not NULL). False, with WHY, when there is none. */
bool webfiles_init(const char *dir, char *why, size_t whylen);
/** The directory found, or NULL. */
const char *webfiles_dir(void);
#define WEBFILES_TYPE_MAX 128

/**
 * The file for normalised request path PATH: 200 with BODY and its media type
 * in TYPE (from the WWW service's built-in types, text in UTF-8), or 404 (403
 * for a non-file), with a message in BODY.
 */
int webfiles_get(const char *path, struct buf *body, char type[WEBFILES_TYPE_MAX]);

#endif
