/*
 * fsutil: small file-system helpers shared by the daemon and the admin code.
 * Thread-safe; no global state.
 */
#ifndef CORE_FSUTIL_H
#define CORE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/**
 * Replace PATH with DATA atomically: a temporary file beside it (created 0600,
 * so never readable by others, then set to MODE), fsync, rename. After a
 * crash PATH is either the old or the new file. Returns 0 or -1 with errno.
 */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/**
 * The whole regular file PATH in a new buffer (NUL-terminated, *LEN bytes) when
 * it holds at most MAX bytes; NULL with errno (EFBIG when larger) otherwise.
 */
char *fs_read_file(const char *path, size_t max, size_t *len);

/** "DIR/NAME" in a new string (trailing slashes of DIR dropped). */
char *fs_path_join(const char *dir, const char *name);

/** Write all N bytes of P to FD (retrying short writes and EINTR); 0, or -1 with errno. */
int fs_write_all(int fd, const void *p, size_t n);

/** mkdir -p: create PATH and its missing parents with MODE. Returns 0 or -1 with errno. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
