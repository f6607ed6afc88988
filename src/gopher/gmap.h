/*
 * gmap: one line of a gophermap, the hand-made menu format of Gophernicus
 * and Bucktooth — "TYPE DISPLAY<TAB>SELECTOR<TAB>HOST<TAB>PORT" links, plain
 * text as info lines, "*" to append the generated listing, "." to end,
 * "#" comments, "!" a title, "-NAME" to hide an entry. Pure and zero-copy.
 */
#ifndef GOPHER_GMAP_H
#define GOPHER_GMAP_H

#include <stddef.h>

#define GMAP_LINE_MAX 1024

enum gmap_kind {
    GMAP_ITEM,    /* a link */
    GMAP_INFO,    /* text shown as an 'i' line */
    GMAP_TITLE,   /* "!Title": shown as an 'i' line at its place */
    GMAP_COMMENT, /* "#..." */
    GMAP_LISTING, /* "*": the generated menu follows, and the map ends */
    GMAP_END,     /* ".": the map ends here */
    GMAP_HIDE,    /* "-NAME": the generated listing leaves NAME out */
};

struct gmap_line {
    enum gmap_kind kind;
    char type;            /* GMAP_ITEM: the item type */
    const char *display;  /* the text (ITEM, INFO, TITLE) or the name (HIDE) */
    size_t display_len;
    const char *selector; /* ITEM: may be empty (then the display text, relative) */
    size_t selector_len;
    const char *host;     /* ITEM: empty for this server */
    size_t host_len;
    unsigned port;        /* ITEM: 0 for this server's port */
};

/**
 * Parse line P[0..N) (without its LF; a trailing CR is ignored). 0 with
 * *OUT filled, or -1 with *WHY saying why the line cannot be served.
 */
int gmap_parse_line(const char *p, size_t n, struct gmap_line *out, const char **why);

/** True when T is an item type infosrv accepts in a gophermap. */
int gmap_type_ok(char t);

#endif
