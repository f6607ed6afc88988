/*
 * mime: maps file name extensions to media types, loaded from a mime.types
 * file plus built-in defaults and per-site overrides. A map is immutable
 * once built and may be read from any thread; the builder owns and frees it.
 */
#ifndef RUNTIME_MIME_H
#define RUNTIME_MIME_H

#include <stddef.h>

struct mime_map;

/** A new map holding built-in types for the common web extensions. */
struct mime_map *mime_new(void);
/** Add the entries of a mime.types file (missing file: returns -1, map unchanged). */
int mime_load_file(struct mime_map *m, const char *path);
/** Set or override one extension (without the dot, case-insensitive). */
void mime_set(struct mime_map *m, const char *ext, const char *type);
/** Media type for a file name (by its last extension); "application/octet-stream" if unknown. */
const char *mime_lookup(const struct mime_map *m, const char *name, size_t len);
/** Free the map. */
void mime_free(struct mime_map *m);

#endif
