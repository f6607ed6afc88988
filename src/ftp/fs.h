/*
 * fs: FTP paths — the client's view (its current directory, relative and
 * absolute arguments, ".." that stops at the user's home) turned into a
 * virtual directory of the site and a path beneath it, opened with the
 * runtime's confinement (nothing outside the site's directories is ever
 * reached, symbolic links as the site's policy says). Worker thread.
 */
#ifndef FTP_FS_H
#define FTP_FS_H

#include <stdbool.h>
#include <stddef.h>

struct site;
struct vdir;

#define FTP_PATH_MAX 4096

/* A client path resolved against a site. */
struct ftp_target {
    const struct vdir *v;
    char rel[FTP_PATH_MAX]; /* beneath v->path, without a leading '/'; "" for its top */
    size_t rlen;
};

/**
 * The client path ARG[0..LEN) seen from CWD ("/", "/pub") as a normalised
 * absolute client path in OUT: "." and empty segments dropped, ".." stops at
 * "/". 0, or -1 with *WHY (a backslash or a name too long).
 */
int ftp_path_join(const char *cwd, const char *arg, size_t len, char *out, size_t cap,
                  const char **why);

/** Resolve client path VPATH of a user whose home is HOME ("" = the site) on site S; 0 or -1. */
int ftp_resolve(const struct site *s, const char *home, const char *vpath, struct ftp_target *t);

/** Open T (OFLAGS as for openat); -1 with errno as path_open_beneath gives it. */
int ftp_open(const struct ftp_target *t, int oflags);

/**
 * Open the directory holding T's last name and point *NAME at that name
 * (inside T->rel). -1 with errno (EPERM when T is the top of its virtual
 * directory, which cannot be created, removed or renamed).
 */
int ftp_open_parent(const struct ftp_target *t, const char **name);

/** The last segment of VPATH ("/pub/a.txt" gives "a.txt", "/" gives "/"). */
const char *ftp_basename(const char *vpath);

#endif
