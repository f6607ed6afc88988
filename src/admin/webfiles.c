#include "admin/webfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "runtime/mime.h"
#include "runtime/path.h"

#define WEBFILE_MAX (4 << 20)

static char web_dir[PATH_MAX];
static int web_fd = -1;
static struct mime_map *types; /* the WWW service's built-in extensions */

static bool usable(const char *dir)
{
    char index[PATH_MAX];
    struct stat st;

    return snprintf(index, sizeof(index), "%s/index.html", dir) < (int)sizeof(index) &&
           stat(index, &st) == 0 && S_ISREG(st.st_mode);
}

bool webfiles_init(const char *dir, char *why, size_t whylen)
{
    static const char *const beside[] = {"../share/infosrv/web", "../web", "../../web"};
    char exe[PATH_MAX], cand[PATH_MAX], *slash, *real;
    ssize_t n;

    if (dir != NULL) {
        if (!usable(dir))
            return snprintf(why, whylen, "--web-dir %s has no index.html", dir), false;
        snprintf(cand, sizeof(cand), "%s", dir);
    } else {
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            return snprintf(why, whylen, "cannot tell where the binary is"), false;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        cand[0] = '\0';
        for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
            char try[PATH_MAX];
            if (snprintf(try, sizeof(try), "%s/%s", exe, beside[i]) < (int)sizeof(try) &&
                usable(try)) {
                snprintf(cand, sizeof(cand), "%s", try);
                break;
            }
        }
        if (cand[0] == '\0')
            return snprintf(why, whylen,
                            "no web/ directory beside %s (looked in ../share/infosrv/web, "
                            "../web and ../../web; --web-dir names another)",
                            exe),
                   false;
    }
    real = realpath(cand, NULL);
    if (real == NULL)
        return snprintf(why, whylen, "%s: %s", cand, strerror(errno)), false;
    snprintf(web_dir, sizeof(web_dir), "%s", real);
    free(real);
    web_fd = open(web_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (web_fd == -1)
        return snprintf(why, whylen, "%s: %s", web_dir, strerror(errno)), false;
    types = mime_new();
    return true;
}

const char *webfiles_dir(void)
{
    return web_fd >= 0 ? web_dir : NULL;
}

static int fail(struct buf *body, int status, const char *msg, const char *path)
{
    buf_reset(body);
    buf_printf(body, "%s: %s\n", path, msg);
    return status;
}

int webfiles_get(const char *path, struct buf *body, char type[WEBFILES_TYPE_MAX])
{
    char rel[PATH_MAX];
    struct stat st;
    int fd;
    ssize_t n;
    const char *t;

    snprintf(type, WEBFILES_TYPE_MAX, "text/plain; charset=utf-8");
    if (web_fd < 0)
        return fail(body, 404,
                    "the web console's files are not installed with this server "
                    "(see infosrv --help: --web-dir)",
                    path);
    if (snprintf(rel, sizeof(rel), "%s%s", path + 1,
                 path[strlen(path) - 1] == '/' ? "index.html" : "") >= (int)sizeof(rel))
        return fail(body, 404, "no such file", path);
    fd = path_open_beneath(web_fd, rel, PATH_SYMLINKS_INSIDE, O_RDONLY);
    if (fd == -1)
        return fail(body, path_errno_status(errno) == 403 ? 403 : 404, "no such file", path);
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > WEBFILE_MAX) {
        close(fd);
        return fail(body, 404, "no such file", path);
    }
    buf_reset(body);
    buf_reserve(body, (size_t)st.st_size + 1);
    while (body->len < (size_t)st.st_size) {
        n = read(fd, body->data + body->len, (size_t)st.st_size - body->len);
        if (n <= 0)
            break;
        body->len += (size_t)n;
    }
    close(fd);
    t = mime_lookup(types, rel, strlen(rel));
    snprintf(type, WEBFILES_TYPE_MAX, "%s%s", t,
             strncmp(t, "text/", 5) == 0 ? "; charset=utf-8" : "");
    return 200;
}
