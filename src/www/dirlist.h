/*
 * dirlist: renders an HTML directory listing in the style the original
 * server offered (date, time, size, extension columns). Called on a worker
 * thread; the caller owns the output buffer.
 */
#ifndef WWW_DIRLIST_H
#define WWW_DIRLIST_H

#include <stddef.h>

#include "core/buf.h"

enum dirlist_flags {
    DIRLIST_DATE = 1 << 0,
    DIRLIST_TIME = 1 << 1,
    DIRLIST_SIZE = 1 << 2,
    DIRLIST_EXTENSION = 1 << 3,
    DIRLIST_LONGDATE = 1 << 4, /* weekday and full month name */
};

/**
 * Append to OUT an HTML page listing the directory DIRFD (the descriptor is
 * not closed; entries starting with '.' are left out) for URL_PATH (the
 * decoded path, ending in '/'), sorted by name with directories first.
 * Names are HTML-escaped in text and percent-encoded in links. At most
 * MAX_ENTRIES entries are listed (a note says when the list was cut).
 * Returns 0, or -1 with errno when the directory cannot be read.
 */
int dirlist_render(int dirfd, const char *url_path, unsigned flags, size_t max_entries,
                   struct buf *out);

#endif
