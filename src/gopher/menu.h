/*
 * menu: the items of a Gopher directory — generated from the directory
 * (entries sorted, types from names, described by tag files in .cap/) or
 * hand-made by its gophermap — and their rendering as an RFC 1436 menu. A
 * menu is built per request and freed by the caller; worker thread.
 */
#ifndef GOPHER_MENU_H
#define GOPHER_MENU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "runtime/path.h"

struct buf;
struct mime_map;

#define GOPHER_MENU_MAX 100000  /* entries listed from one directory */
#define GOPHER_MAP_MAX (256 * 1024) /* bytes of a gophermap that are read */
#define GOPHER_TAG_MAX 4096      /* bytes of a tag file that are read */

struct gopher_item {
    char type;
    char *display;
    char *selector;  /* as sent in the menu */
    char *host;      /* NULL: this server */
    unsigned port;   /* 0: this server's port */
    char *abstract;  /* from the tag file, or NULL */
    uint64_t size;   /* local files */
    time_t mtime;
    bool local;      /* a file or directory of this server (Gopher+ attributes apply) */
};

struct gopher_menu {
    struct gopher_item *items;
    size_t n, cap;
};

/* Where a directory is, for building its menu. */
struct gopher_dir {
    int fd;                     /* the directory (readable) */
    int root_fd;                /* its virtual directory's root, for the symlink policy */
    const char *rel;            /* the directory below that root ("" for the root itself) */
    size_t rel_len;
    const char *sel;            /* its selector path without the trailing '/': "" for the root */
    size_t sel_len;
    enum path_symlinks symlinks;
    const struct mime_map *mime;
    const char *label;          /* for error-log lines: "site default: /docs" ("" for the root) */
    bool need_stat;             /* sizes and dates are wanted (Gopher+ attributes) */
};

/**
 * Fill M with the items of directory D: its gophermap when it has one
 * (bad lines logged and left out), else its entries. 0, or -1 with errno.
 */
int gopher_menu_build(struct gopher_menu *m, const struct gopher_dir *d);
/** Write M as a menu for HOST:PORT, each item marked as Gopher+ when PLUS, ended by ".". */
void gopher_menu_render(struct buf *out, const struct gopher_menu *m, const char *host,
                        unsigned port, bool plus);
/** Free the items of M (M itself is the caller's). */
void gopher_menu_free(struct gopher_menu *m);
/** Read the tag file of entry NAME in directory DIRFD into *ITEM (display, type, abstract). */
void gopher_tag_apply(int dirfd, const char *name, struct gopher_item *item);

#endif
