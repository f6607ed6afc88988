/*
 * item: what a Gopher menu line is made of — the item type a file gets from
 * its name, selectors written so that the path normaliser reads them back,
 * menu lines, and the dot-stuffing of text items (RFC 1436: a line starting
 * with "." is sent as "..", and the item ends with a "." line). Pure; any
 * thread.
 */
#ifndef GOPHER_ITEM_H
#define GOPHER_ITEM_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct mime_map;

/** The item type of a file called NAME (a directory when IS_DIR), by its media type. */
char gopher_item_type(const char *name, size_t len, bool is_dir, const struct mime_map *m);

/** True when NAME can appear in a menu line (no TAB, CR, LF or other control byte). */
bool gopher_name_ok(const char *name, size_t len);

/** Append S[0..N) to B as a selector: '%' becomes "%25" (the selector is percent-decoded). */
void gopher_put_selector(struct buf *b, const char *s, size_t n);

/**
 * Append one menu line: TYPE DISPLAY <TAB> SELECTOR <TAB> HOST <TAB> PORT
 * [<TAB> +] CRLF. SELECTOR is written as given.
 */
void gopher_put_line(struct buf *b, char type, const char *display, size_t dlen,
                     const char *selector, size_t slen, const char *host, unsigned port, bool plus);

/** Append an 'i' (information) line showing TEXT. */
void gopher_put_info(struct buf *b, const char *text, size_t len);

/**
 * Dot-stuff IN[0..N) into OUT (room for 2 * N bytes): a "." at the start of
 * a line is doubled. *LINE_START carries whether the next byte starts a
 * line across calls (true before the first). Returns the bytes written.
 */
size_t gopher_dotstuff(const char *in, size_t n, bool *line_start, char *out);

/** Append the end of a text item to B: a line end when the text lacks one, then ".\r\n". */
void gopher_put_text_end(struct buf *b, bool line_start);

#endif
