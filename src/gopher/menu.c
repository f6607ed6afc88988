/* menu: Gopher menus from directories, tag files and gophermaps. */
#include "gopher/menu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "gopher/gmap.h"
#include "gopher/item.h"

#define MAP_NAME "gophermap"
#define TAG_DIR ".cap"
#define HIDDEN_MAX 256

/* ---- items ---- */

static struct gopher_item *item_add(struct gopher_menu *m)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->items = xrealloc(m->items, m->cap * sizeof(*m->items));
    }
    memset(&m->items[m->n], 0, sizeof(m->items[0]));
    return &m->items[m->n++];
}

static void item_free(struct gopher_item *it)
{
    free(it->display);
    free(it->selector);
    free(it->host);
    free(it->abstract);
}

void gopher_menu_free(struct gopher_menu *m)
{
    for (size_t i = 0; i < m->n; i++)
        item_free(&m->items[i]);
    free(m->items);
    m->items = NULL;
    m->n = m->cap = 0;
}

/* DIR's selector, "/" and NAME (percent signs escaped) as a new string. */
static char *child_selector(const struct gopher_dir *d, const char *name, size_t len)
{
    struct buf b = {0};

    buf_append(&b, d->sel, d->sel_len);
    buf_append(&b, "/", 1);
    gopher_put_selector(&b, name, len);
    buf_append(&b, "", 1);
    return b.data;
}

/* ---- tag files: .cap/NAME with Name=, Type=, Numb= and Abstract= lines ---- */

static void tag_line(struct gopher_item *item, const char *line, size_t n, long *numb)
{
    if (n > 5 && memcmp(line, "Name=", 5) == 0 && gopher_name_ok(line + 5, n - 5)) {
        free(item->display);
        item->display = xstrndup(line + 5, n - 5);
    } else if (n == 6 && memcmp(line, "Type=", 5) == 0 && gmap_type_ok(line[5])) {
        item->type = line[5];
    } else if (n > 5 && memcmp(line, "Numb=", 5) == 0 && numb) {
        *numb = strtol(line + 5, NULL, 10);
    } else if (n > 9 && memcmp(line, "Abstract=", 9) == 0) {
        struct buf b = {0};
        if (item->abstract)
            buf_printf(&b, "%s\n", item->abstract);
        buf_append(&b, line + 9, n - 9);
        buf_append(&b, "", 1);
        free(item->abstract);
        item->abstract = b.data;
    }
}

static void tag_read(int capfd, const char *name, struct gopher_item *item, long *numb)
{
    char text[GOPHER_TAG_MAX + 1];
    int fd = openat(capfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return;
    n = read(fd, text, GOPHER_TAG_MAX);
    close(fd);
    for (ssize_t i = 0, start = 0; n > 0 && i <= n; i++) {
        if (i < n && text[i] != '\n')
            continue;
        size_t len = (size_t)(i - start);
        if (len > 0 && text[start + (ssize_t)len - 1] == '\r')
            len--;
        tag_line(item, text + start, len, numb);
        start = i + 1;
    }
}

static int tag_dir_open(int dirfd)
{
    return openat(dirfd, TAG_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void gopher_tag_apply(int dirfd, const char *name, struct gopher_item *item)
{
    int capfd = tag_dir_open(dirfd);

    if (capfd >= 0) {
        tag_read(capfd, name, item, NULL);
        close(capfd);
    }
}

/* ---- the generated listing ---- */

struct entry {
    struct gopher_item item;
    char *name;
    long numb; /* from the tag file; 0 = unnumbered */
};

/* Numbered entries first in their order, then the rest by name. */
static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if ((x->numb != 0) != (y->numb != 0))
        return x->numb != 0 ? -1 : 1;
    if (x->numb != y->numb)
        return x->numb < y->numb ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool listed(const char *name, char *const *hidden, size_t nhidden)
{
    if (name[0] == '.' || strcmp(name, MAP_NAME) == 0)
        return false;
    for (size_t i = 0; i < nhidden; i++)
        if (strcmp(hidden[i], name) == 0)
            return false;
    return gopher_name_ok(name, strlen(name));
}

/* What NAME is as the site's symlink policy lets it be seen: 'd', 'f', or 0
 * to leave it out (a device, a dangling link, a link the policy refuses).
 * Plain files and directories cost no system call unless ST is wanted. */
static char entry_kind(const struct gopher_dir *d, const char *name, unsigned char dtype,
                       struct stat *st)
{
    int fd;
    bool ok;

    if (dtype == DT_REG || dtype == DT_DIR) {
        if (d->need_stat && fstatat(d->fd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
            return 0;
        return dtype == DT_DIR ? 'd' : 'f';
    }
    if (dtype != DT_LNK && dtype != DT_UNKNOWN)
        return 0;
    /* A link is judged from the virtual directory's root, as a request for it would be. */
    char rel[4096];
    int n = snprintf(rel, sizeof(rel), "%.*s%s%s", (int)d->rel_len, d->rel, d->rel_len ? "/" : "",
                     name);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return 0;
    fd = path_open_beneath(d->root_fd, rel, d->symlinks, O_PATH);
    if (fd < 0)
        return 0;
    ok = fstat(fd, st) == 0;
    close(fd);
    if (!ok || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
        return 0;
    return S_ISDIR(st->st_mode) ? 'd' : 'f';
}

static bool entry_fill(const struct gopher_dir *d, int capfd, const struct dirent *de,
                       struct entry *e)
{
    struct stat st = {0};
    const char *name = de->d_name;
    size_t len = strlen(name);
    char kind = entry_kind(d, name, de->d_type, &st);

    if (kind == 0)
        return false;
    memset(e, 0, sizeof(*e));
    e->name = xstrdup(name);
    e->item.type = gopher_item_type(name, len, kind == 'd', d->mime);
    e->item.display = xstrdup(name);
    e->item.selector = child_selector(d, name, len);
    e->item.size = (uint64_t)st.st_size;
    e->item.mtime = st.st_mtim.tv_sec;
    e->item.local = true;
    if (capfd >= 0)
        tag_read(capfd, name, &e->item, &e->numb);
    return true;
}

static DIR *dir_stream(int dirfd)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

    if (dir == NULL && fd >= 0)
        close(fd);
    if (dir)
        rewinddir(dir); /* the duplicate shares the offset with the cached descriptor */
    return dir;
}

/* Read and sort the entries of D; -1 with errno when it cannot be read. */
static int listing_read(const struct gopher_dir *d, char *const *hidden, size_t nhidden,
                        struct entry **out, size_t *nout)
{
    DIR *dir = dir_stream(d->fd);
    int capfd = tag_dir_open(d->fd);
    struct entry *es = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    if (dir == NULL) {
        if (capfd >= 0)
            close(capfd);
        return -1;
    }
    while ((de = readdir(dir)) != NULL && n < GOPHER_MENU_MAX) {
        if (!listed(de->d_name, hidden, nhidden))
            continue;
        if (n == cap)
            es = xrealloc(es, (cap = cap ? cap * 2 : 64) * sizeof(*es));
        n += entry_fill(d, capfd, de, &es[n]);
    }
    closedir(dir);
    if (capfd >= 0)
        close(capfd);
    if (n > 1)
        qsort(es, n, sizeof(*es), entry_cmp);
    *out = es;
    *nout = n;
    return 0;
}

static int listing_add(struct gopher_menu *m, const struct gopher_dir *d, char *const *hidden,
                       size_t nhidden)
{
    struct entry *es;
    size_t n;

    if (listing_read(d, hidden, nhidden, &es, &n) == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        *item_add(m) = es[i].item;
        free(es[i].name);
    }
    free(es);
    return 0;
}

/* ---- gophermap ---- */

/* A bad line is logged once per version of the file, not on every request. */
static bool warn_first_time(const struct stat *st)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct { dev_t dev; ino_t ino; time_t mtime; } seen[64];
    static size_t next;
    bool first = true;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]) && first; i++)
        first = !(seen[i].dev == st->st_dev && seen[i].ino == st->st_ino &&
                  seen[i].mtime == st->st_mtim.tv_sec);
    if (first) {
        seen[next].dev = st->st_dev;
        seen[next].ino = st->st_ino;
        seen[next].mtime = st->st_mtim.tv_sec;
        next = (next + 1) % (sizeof(seen) / sizeof(seen[0]));
    }
    pthread_mutex_unlock(&lock);
    return first;
}

static void map_item_selector(struct gopher_item *it, const struct gopher_dir *d,
                              const struct gmap_line *g)
{
    const char *s = g->selector_len ? g->selector : g->display;
    size_t n = g->selector_len ? g->selector_len : g->display_len;
    bool remote = g->host_len > 0;

    if (remote || (n > 0 && s[0] == '/') || (n >= 4 && memcmp(s, "URL:", 4) == 0))
        it->selector = xstrndup(s, n);
    else
        it->selector = child_selector(d, s, n); /* relative to the map's directory */
    it->local = !remote && !(n >= 4 && memcmp(s, "URL:", 4) == 0);
}

static void map_add_line(struct gopher_menu *m, const struct gopher_dir *d,
                         const struct gmap_line *g)
{
    struct gopher_item *it = item_add(m);

    if (g->kind != GMAP_ITEM) {
        it->type = 'i';
        it->display = xstrndup(g->display, g->display_len);
        it->selector = xstrdup("");
        return;
    }
    it->type = g->type;
    it->display = xstrndup(g->display_len ? g->display : g->selector,
                           g->display_len ? g->display_len : g->selector_len);
    map_item_selector(it, d, g);
    if (g->host_len > 0) {
        it->host = xstrndup(g->host, g->host_len);
        it->port = g->port ? g->port : 70;
    } else {
        it->port = g->port;
    }
}

struct map_state {
    char *hidden[HIDDEN_MAX];
    size_t nhidden;
    bool listing;  /* "*" seen */
    bool warn;
    unsigned line;
};

/* One line of the map; false once the map ends. */
static bool map_line(struct gopher_menu *m, const struct gopher_dir *d, struct map_state *ms,
                     const char *p, size_t n)
{
    struct gmap_line g;
    const char *why;

    ms->line++;
    if (gmap_parse_line(p, n, &g, &why) == -1) {
        if (ms->warn)
            log_warnx("gopher: %s/" MAP_NAME ":%u: %s; the line is left out", d->label, ms->line,
                      why);
        return true;
    }
    switch (g.kind) {
    case GMAP_LISTING:
        ms->listing = true;
        return false;
    case GMAP_END:
        return false;
    case GMAP_COMMENT:
        return true;
    case GMAP_HIDE:
        if (ms->nhidden < HIDDEN_MAX)
            ms->hidden[ms->nhidden++] = xstrndup(g.display, g.display_len);
        return true;
    default:
        if (m->n < GOPHER_MENU_MAX)
            map_add_line(m, d, &g);
        return true;
    }
}

static int map_read(int fd, struct buf *text, struct stat *st)
{
    ssize_t n;

    if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode))
        return -1;
    buf_reserve(text, GOPHER_MAP_MAX);
    while (text->len < GOPHER_MAP_MAX &&
           (n = read(fd, text->data + text->len, GOPHER_MAP_MAX - text->len)) > 0)
        text->len += (size_t)n;
    return 0;
}

/* The menu from D's gophermap; 1 when D has none. */
static int map_build(struct gopher_menu *m, const struct gopher_dir *d)
{
    int fd = path_open_beneath(d->fd, MAP_NAME, d->symlinks, O_RDONLY);
    struct map_state ms = {0};
    struct buf text = {0};
    struct stat st;
    int rc = 0;

    if (fd < 0)
        return 1;
    if (map_read(fd, &text, &st) == -1) {
        close(fd);
        buf_free(&text);
        return 1;
    }
    close(fd);
    ms.warn = warn_first_time(&st);
    if (ms.warn && text.len == GOPHER_MAP_MAX)
        log_warnx("gopher: %s/" MAP_NAME " is larger than %d bytes; the rest is ignored",
                  d->label, GOPHER_MAP_MAX);
    for (size_t start = 0, i = 0; i < text.len; start = ++i) {
        const char *lf = memchr(text.data + start, '\n', text.len - start);
        i = lf ? (size_t)(lf - text.data) : text.len;
        if (!map_line(m, d, &ms, text.data + start, i - start))
            break;
    }
    if (ms.listing)
        rc = listing_add(m, d, ms.hidden, ms.nhidden);
    for (size_t i = 0; i < ms.nhidden; i++)
        free(ms.hidden[i]);
    buf_free(&text);
    return rc;
}

int gopher_menu_build(struct gopher_menu *m, const struct gopher_dir *d)
{
    int rc = map_build(m, d);

    return rc == 1 ? listing_add(m, d, NULL, 0) : rc;
}

void gopher_menu_render(struct buf *out, const struct gopher_menu *m, const char *host,
                        unsigned port, bool plus)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct gopher_item *it = &m->items[i];
        if (it->type == 'i') {
            gopher_put_info(out, it->display, strlen(it->display));
            continue;
        }
        gopher_put_line(out, it->type, it->display, strlen(it->display), it->selector,
                        strlen(it->selector), it->host ? it->host : host,
                        it->port ? it->port : port, plus && it->local);
    }
    buf_append(out, ".\r\n", 3);
}
