/* fs: FTP paths and their confinement. */
#include "ftp/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "runtime/gen.h"
#include "runtime/path.h"

/* Drop the last segment of OUT[0..*N) ("/a/b" -> "/a", "/a" -> "/"). */
static void pop_segment(char *out, size_t *n)
{
    while (*n > 1 && out[*n - 1] != '/')
        (*n)--;
    if (*n > 1)
        (*n)--;
    out[*n] = '\0';
}

static int push_segment(char *out, size_t *n, size_t cap, const char *s, size_t len)
{
    size_t need = (*n > 1 ? 1 : 0) + len;

    if (*n + need + 1 > cap)
        return -1;
    if (*n > 1)
        out[(*n)++] = '/';
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = '\0';
    return 0;
}

static int walk(const char *p, size_t len, char *out, size_t *n, size_t cap, const char **why)
{
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        size_t seg = j - i;
        if (memchr(p + i, '\\', seg) != NULL)
            return *why = "a backslash is not allowed in a name", -1;
        if (seg == 2 && p[i] == '.' && p[i + 1] == '.')
            pop_segment(out, n);
        else if (seg > 0 && !(seg == 1 && p[i] == '.') &&
                 push_segment(out, n, cap, p + i, seg) == -1)
            return *why = "the path is too long", -1;
        i = j + 1;
    }
    return 0;
}

int ftp_path_join(const char *cwd, const char *arg, size_t len, char *out, size_t cap,
                  const char **why)
{
    size_t n = 1;

    if (cap < 2)
        return *why = "the path is too long", -1;
    out[0] = '/';
    out[1] = '\0';
    if ((len == 0 || arg[0] != '/') && walk(cwd, strlen(cwd), out, &n, cap, why) == -1)
        return -1;
    return walk(arg, len, out, &n, cap, why);
}

int ftp_resolve(const struct site *s, const char *home, const char *vpath, struct ftp_target *t)
{
    char full[FTP_PATH_MAX * 2];
    int n = snprintf(full, sizeof(full), "%s%s", home, strcmp(vpath, "/") == 0 && *home ? "" : vpath);
    const char *rel;

    if (n < 0 || (size_t)n >= sizeof(full))
        return -1;
    t->v = gen_find_vdir(s, full, (size_t)n);
    if (t->v == NULL)
        return -1;
    rel = full + t->v->prefix_len;
    while (*rel == '/')
        rel++;
    t->rlen = strlen(rel);
    if (t->rlen >= sizeof(t->rel))
        return -1;
    memcpy(t->rel, rel, t->rlen + 1);
    return 0;
}

int ftp_open(const struct ftp_target *t, int oflags)
{
    return path_open_beneath(t->v->dirfd, t->rel, t->v->symlinks, oflags);
}

int ftp_open_parent(const struct ftp_target *t, const char **name)
{
    char dir[FTP_PATH_MAX];
    const char *slash = memrchr(t->rel, '/', t->rlen);
    size_t dlen = slash ? (size_t)(slash - t->rel) : 0;

    if (t->rlen == 0)
        return errno = EPERM, -1;
    *name = slash ? slash + 1 : t->rel;
    memcpy(dir, t->rel, dlen);
    dir[dlen] = '\0';
    return path_open_beneath(t->v->dirfd, dir, t->v->symlinks, O_RDONLY | O_DIRECTORY);
}

const char *ftp_basename(const char *vpath)
{
    const char *slash = strrchr(vpath, '/');

    return slash && slash[1] ? slash + 1 : vpath;
}
