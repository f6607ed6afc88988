/*
 * path: turns the encoded path of a request into a safe relative path and
 * opens it beneath a virtual directory's root. Pure functions plus openat2;
 * callable from any thread.
 */
#ifndef RUNTIME_PATH_H
#define RUNTIME_PATH_H

#include <stddef.h>

enum path_symlinks {
    PATH_SYMLINKS_INSIDE = 0, /* default: follow symlinks that stay beneath the root */
    PATH_SYMLINKS_NEVER,      /* refuse every symlink */
    PATH_SYMLINKS_ANY,        /* follow anything (an administrator's explicit choice) */
};

/**
 * Decode an encoded URL path exactly once and normalise it: percent-decoding
 * (a malformed escape, "%u" escapes, NUL, other control bytes, a backslash,
 * invalid or overlong UTF-8 are refused), dot-segment removal (RFC 3986
 * 5.2.4), and merging of repeated slashes. A path that climbs above "/" is
 * refused. On success out holds a NUL-terminated path starting with '/'
 * (ending with '/' when the input did) and *outlen its length; returns 0.
 * On failure returns -1 with *status (400) and *reason set. outcap must be at
 * least inlen + 2.
 */
int path_normalize(const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen,
                   int *status, const char **reason);

/**
 * Open REL (a normalised path without the leading '/', "" for the root
 * itself) beneath the directory ROOTFD with OFLAGS (O_CLOEXEC is added),
 * following the symlink policy. Returns a descriptor, or -1 with errno:
 * ENOENT/ENOTDIR (missing), EACCES (permission), EXDEV (a path or symlink
 * leading outside the root), ELOOP (a symlink refused by the policy).
 */
int path_open_beneath(int rootfd, const char *rel, enum path_symlinks policy, int oflags);

/** Map an errno from path_open_beneath to an HTTP status (404, 403, or 500 for anything else). */
int path_errno_status(int err);

/**
 * The fallback path_open_beneath takes when openat2 is unavailable (ENOSYS),
 * exported so tests can reach it: walks REL one component at a time with
 * O_NOFOLLOW and refuses every symlink with ELOOP under both INSIDE and NEVER
 * (safe but stricter); ANY is a plain openat. Same arguments and errnos.
 */
int path_open_walk(int rootfd, const char *rel, enum path_symlinks policy, int oflags);

#endif
