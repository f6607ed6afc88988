/*
 * plus: Gopher+ attribute blocks (+INFO, +ADMIN, +ABSTRACT, +VIEWS) of an
 * item, with the administrator and site information of the metabase, and
 * the caps.txt that Gopher clients read to learn a server's conventions.
 * Pure over its arguments; worker thread.
 */
#ifndef GOPHER_PLUS_H
#define GOPHER_PLUS_H

#include <stddef.h>

struct buf;
struct gopher_item;
struct gopher_site;
struct mime_map;

/** Append the blocks of ITEM that EXTRA asks for ("+ADMIN+VIEWS"; empty: all of them). */
void gopher_plus_attrs(struct buf *out, const struct gopher_item *it, const struct gopher_site *gs,
                       const char *host, unsigned port, const char *extra, size_t extra_len);

/** Append the caps.txt of a site (plain text, before dot-stuffing). */
void gopher_plus_caps(struct buf *out, const struct gopher_site *gs);

#endif
