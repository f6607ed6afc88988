#include "www/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/path.h"
#include "runtime/server.h"
#include "runtime/session.h"
#include "runtime/stats.h"
#include "runtime/worker.h"

#define NAME_MAX_BYTES 255
#define TMP_PREFIX ".infosrv-put-"

/* An upload in progress: the body goes to TMP in the directory DIRFD. */
struct put {
    struct www_res *res;
    struct session *s;
    const struct vdir *v;
    int dirfd, fd;
    char name[NAME_MAX_BYTES + 1];
    char tmp[sizeof(TMP_PREFIX) + 16];
    char *rel;          /* for the file cache */
    bool existed;
    int err;            /* the first write error */
};

static int answer(struct www_res *res, int status)
{
    res->ops->status(res, status);
    res->ops->header(res, "Content-Length: 0\r\n", 19);
    res->ops->end_head(res);
    return status;
}

/* The directory holding REL, opened beneath V, and REL's last component. */
static int open_parent(const struct vdir *v, const char *rel, size_t rlen, char *name,
                       int *status, const char **why)
{
    const char *slash = memrchr(rel, '/', rlen);
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    const char *base = slash ? slash + 1 : rel;
    size_t blen = rlen - (size_t)(base - rel);
    char parent[8192];
    int fd;

    if (blen == 0) {
        *status = 405, *why = "A directory cannot be uploaded or deleted; name a file.";
        return -1;
    }
    if (blen > NAME_MAX_BYTES || plen >= sizeof(parent)) {
        *status = 414, *why = "The file name is too long.";
        return -1;
    }
    memcpy(name, base, blen);
    name[blen] = '\0';
    memcpy(parent, rel, plen);
    parent[plen] = '\0';
    fd = path_open_beneath(v->dirfd, parent, v->symlinks, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        *status = errno == ENOENT || errno == ENOTDIR ? 409 : path_errno_status(errno);
        *why = *status == 409 ? "The directory the file would go in does not exist."
                              : "The directory the file would go in cannot be opened.";
        return -1;
    }
    return fd;
}

static void put_free(struct put *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        unlinkat(p->dirfd, p->tmp, 0); /* cut off or failed: the old file stays */
    }
    if (p->dirfd >= 0)
        close(p->dirfd);
    free(p->rel);
    free(p);
}

static void put_abort(void *arg)
{
    put_free(arg);
}

static int put_end(struct put *p)
{
    if (p->err == 0 && fsync(p->fd) == -1)
        p->err = errno;
    if (p->err != 0) {
        log_warnx("www: upload of %s failed: %s", p->rel, strerror(p->err));
        www_res_error(p->res, p->err == ENOSPC || p->err == EDQUOT ? 507 : 500,
                      p->err == ENOSPC || p->err == EDQUOT ? "The disk is full."
                                                           : "The file could not be written.");
        return p->err == ENOSPC || p->err == EDQUOT ? 507 : 500;
    }
    close(p->fd);
    p->fd = -1;
    if (renameat(p->dirfd, p->tmp, p->dirfd, p->name) == -1) {
        int e = errno;
        unlinkat(p->dirfd, p->tmp, 0);
        log_warnx("www: upload of %s: rename: %s", p->rel, strerror(e));
        www_res_error(p->res, e == EISDIR ? 409 : 500,
                      e == EISDIR ? "A directory has that name." : "The file could not be saved.");
        return e == EISDIR ? 409 : 500;
    }
    fsync(p->dirfd); /* the new name survives a crash too */
    server_forget_file(p->s->w, p->v->uid, p->rel, strlen(p->rel));
    session_stat(p->s, STAT_FILES_RECEIVED);
    return answer(p->res, p->existed ? 204 : 201);
}

static int put_body(void *arg, const char *data, size_t n)
{
    struct put *p = arg;
    struct www_res *res = p->res;
    int status;

    if (n == 0) { /* the end */
        status = put_end(p);
        res->ops->finish(res, status);
        put_free(p);
        return WWW_BODY_OK;
    }
    if (p->err == 0 && fs_write_all(p->fd, data, n) == -1)
        p->err = errno; /* the rest is read and dropped; the answer says why */
    return WWW_BODY_OK;
}

int www_upload_put(const struct www_req *req, struct www_res *res, const struct vdir *v,
                   const char *rel, size_t rlen)
{
    struct put *p;
    struct stat st;
    const char *why;
    int status, dirfd;
    char name[NAME_MAX_BYTES + 1];

    dirfd = open_parent(v, rel, rlen, name, &status, &why);
    if (dirfd < 0) {
        www_res_error(res, status, why);
        return status;
    }
    if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0) {
        close(dirfd);
        www_res_error(res, 403, "That name is kept for uploads in progress.");
        return 403;
    }
    p = xcalloc(1, sizeof(*p));
    p->dirfd = dirfd;
    p->fd = -1;
    p->s = req->s;
    p->v = v;
    memcpy(p->name, name, sizeof(name));
    p->rel = xstrndup(rel, rlen);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        p->existed = true;
        if (S_ISDIR(st.st_mode)) {
            put_free(p);
            www_res_error(res, 409, "A directory has that name.");
            return 409;
        }
    }
    if (p->existed && req->if_none_match.n == 1 && req->if_none_match.p[0] == '*') {
        put_free(p);
        www_res_error(res, 412, "The file exists (If-None-Match: *).");
        return 412;
    }
    snprintf(p->tmp, sizeof(p->tmp), TMP_PREFIX "%08x%08x", randombytes_random(),
             randombytes_random());
    p->fd = openat(dirfd, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        status = errno == EACCES || errno == EROFS ? 403 : 500;
        log_warnx("www: upload of %s: creating %s: %s", p->rel, p->tmp, strerror(errno));
        put_free(p);
        www_res_error(res, status, "The file cannot be created here.");
        return status;
    }
    p->res = res->ops->detach(res);
    p->res->arg = p;
    p->res->on_body = put_body;
    p->res->on_abort = put_abort;
    return WWW_DETACHED;
}

int www_upload_delete(const struct www_req *req, struct www_res *res, const struct vdir *v,
                      const char *rel, size_t rlen)
{
    char name[NAME_MAX_BYTES + 1];
    struct stat st;
    const char *why;
    int status, dirfd = open_parent(v, rel, rlen, name, &status, &why);

    if (dirfd < 0) {
        www_res_error(res, status == 409 ? 404 : status,
                      status == 409 ? "The file was not found." : why);
        return status == 409 ? 404 : status;
    }
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        close(dirfd);
        www_res_error(res, 404, "The file was not found.");
        return 404;
    }
    if (S_ISDIR(st.st_mode)) {
        close(dirfd);
        www_res_error(res, 409, "Directories are not deleted over HTTP; name a file.");
        return 409;
    }
    if (unlinkat(dirfd, name, 0) == -1) {
        status = errno == EACCES || errno == EPERM || errno == EROFS ? 403 : 500;
        close(dirfd);
        www_res_error(res, status, "The file could not be deleted.");
        return status;
    }
    fsync(dirfd);
    close(dirfd);
    server_forget_file(req->s->w, v->uid, rel, rlen);
    return answer(res, 204);
}
