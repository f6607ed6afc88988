#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

char *fs_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p;

    while (dl > 0 && dir[dl - 1] == '/')
        dl--;
    p = xmalloc(dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

int fs_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096];
    int fd, rc, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return errno = ENAMETOOLONG, -1;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd == -1)
        return -1;
    rc = (fchmod(fd, mode) == 0 && fs_write_all(fd, data, len) == 0 && fsync(fd) == 0) ? 0 : -1;
    saved = errno;
    if (close(fd) == -1 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) == -1) {
        rc = -1;
        saved = errno;
    }
    if (rc == -1)
        unlink(tmp);
    errno = saved;
    return rc;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return errno = ENAMETOOLONG, -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) == -1 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

char *fs_read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), saved;
    struct stat st;
    char *buf = NULL;
    ssize_t n;

    if (fd == -1)
        return NULL;
    if (fstat(fd, &st) == -1) {
        saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    n = read(fd, buf, (size_t)st.st_size);
    saved = errno;
    close(fd);
    if (n != st.st_size) {
        free(buf);
        errno = n < 0 ? saved : EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}
