/* serve: answers to Gopher requests. */
#include "gopher/serve.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "gopher/conn.h"
#include "gopher/gopher.h"
#include "gopher/item.h"
#include "gopher/menu.h"
#include "gopher/plus.h"
#include "gopher/selector.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/mime.h"
#include "runtime/path.h"
#include "runtime/worker.h"

#define PATH_CAP (GOPHER_LINE_MAX + 8)

/* What the request resolved to beneath a virtual directory. */
struct target {
    const struct vdir *v;
    char path[PATH_CAP]; /* normalised, starting with '/' */
    size_t plen;
    const char *rel;     /* path below the vdir, without its leading '/' */
    size_t rlen;
};

static bool plus_kind(const struct gopher_req *q)
{
    return q->kind == GOPHER_REQ_PLUS || q->kind == GOPHER_REQ_ATTR ||
           q->kind == GOPHER_REQ_DIR_ATTR;
}

static const char *method_of(const struct gopher_req *q)
{
    static const char *const names[] = {"GET", "GET+", "!", "$", "HTTP"};

    return names[q->kind];
}

/* Text for a menu line: tabs, CR and LF would break it. */
static void put_clean(struct buf *b, const char *s)
{
    for (; *s; s++) {
        char ch = (unsigned char)*s < 0x20 ? ' ' : *s;
        buf_append(b, &ch, 1);
    }
}

void gopher_serve_error(struct gopher_conn *c, const struct gopher_req *q, int status,
                        const char *msg)
{
    const struct gopher_site *gs = gopher_site_of(c->s.site);

    c->status = status;
    if (c->method[0] == '-')
        c->method = method_of(q);
    if (status == 404)
        session_stat(&c->s, STAT_NOT_FOUND_ERRORS);
    if (plus_kind(q)) { /* Gopher+: "--1", then the error code and whom to ask */
        buf_printf(c->out, "--1\r\n%d %s <%s>\r\n", status == 503 ? 2 : 1,
                   gs && gs->admin_name ? gs->admin_name : "administrator",
                   gs && gs->admin_email ? gs->admin_email : "");
        put_clean(c->out, msg);
        buf_puts(c->out, "\r\n.\r\n");
        return;
    }
    buf_append(c->out, "3", 1);
    put_clean(c->out, msg);
    buf_puts(c->out, "\terror.host\t1\r\n.\r\n");
}

/* ---- pages for web browsers ---- */

static void put_html(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_append(b, &s[i], 1);
        }
    }
}

/* Schemes a link page may lead to: never javascript: or data:. */
static bool url_linkable(const char *u, size_t n)
{
    static const char *const schemes[] = {"http://", "https://", "ftp://", "ftps://",
                                          "gopher://", "gophers://", "mailto:", "telnet://",
                                          "news:", "nntp://", "irc://", "ircs://"};

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (n > strlen(schemes[i]) && strncasecmp(u, schemes[i], strlen(schemes[i])) == 0)
            return true;
    return false;
}

/* "URL:http://..." selectors (type h) get a page that links to the URL. */
static void serve_url(struct gopher_conn *c, const struct gopher_req *q)
{
    const char *u = q->selector + 4;
    size_t n = q->selector_len - 4;
    bool link = url_linkable(u, n);

    c->status = 200;
    buf_puts(c->out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    if (link) {
        buf_puts(c->out, "<meta http-equiv=\"refresh\" content=\"2;URL=");
        put_html(c->out, u, n);
        buf_puts(c->out, "\">");
    }
    buf_puts(c->out, "<title>Gopher link</title></head>\n<body><p>This Gopher item points to ");
    if (link) {
        buf_puts(c->out, "<a href=\"");
        put_html(c->out, u, n);
        buf_puts(c->out, "\">");
    }
    put_html(c->out, u, n);
    buf_puts(c->out, link ? "</a>.</p></body></html>\n" : ".</p></body></html>\n");
}

static void serve_http(struct gopher_conn *c)
{
    struct buf body = {0};

    buf_puts(&body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>A Gopher "
                    "server</title></head>\n<body><h1>This is a Gopher server</h1>\n<p>It "
                    "speaks the Gopher protocol (RFC 1436), not HTTP. Open <a href=\"gopher://");
    put_html(&body, c->host, strlen(c->host));
    buf_printf(&body, ":%u/\">gopher://", c->port);
    put_html(&body, c->host, strlen(c->host));
    buf_printf(&body, ":%u/</a> with a Gopher client (lynx, sacc, curl).</p></body></html>\n",
               c->port);
    c->status = 400;
    buf_printf(c->out, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/html; charset=utf-8\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
    buf_append(c->out, body.data, body.len);
    buf_free(&body);
}

/* ---- text made here ---- */

/* TEXT as a text item: dot-stuffed and ended by ".". */
static void put_text_item(struct buf *out, const struct buf *text)
{
    bool line_start = true;

    buf_reserve(out, 2 * text->len + 8);
    out->len += gopher_dotstuff(text->data, text->len, &line_start, out->data + out->len);
    gopher_put_text_end(out, line_start);
}

static void serve_caps(struct gopher_conn *c, const struct gopher_req *q)
{
    struct buf text = {0};

    gopher_plus_caps(&text, gopher_site_of(c->s.site));
    c->status = 200;
    if (q->kind == GOPHER_REQ_PLUS)
        buf_puts(c->out, "+-1\r\n");
    put_text_item(c->out, &text);
    buf_free(&text);
    session_stat(&c->s, STAT_FILES_SENT);
}

/* ---- menus ---- */

static void item_of_target(struct gopher_item *it, const struct target *t, char type,
                           const struct fc_entry *fe)
{
    const char *slash = memrchr(t->path, '/', t->plen);
    const char *name = slash ? slash + 1 : t->path;
    struct buf sel = {0};

    it->type = type;
    it->display = xstrdup(*name ? name : "/");
    gopher_put_selector(&sel, t->path, t->plen);
    buf_append(&sel, "", 1);
    it->selector = sel.data;
    it->size = (uint64_t)fe->size;
    it->mtime = fe->mtime;
    it->local = true;
}

static void serve_menu(struct gopher_conn *c, const struct gopher_req *q, const struct target *t,
                       struct fc_entry *fe)
{
    const struct gopher_site *gs = gopher_site_of(c->s.site);
    struct gopher_menu m = {0};
    char label[128];
    size_t sel_len = t->plen;
    struct buf sel = {0};

    while (sel_len > 0 && t->path[sel_len - 1] == '/')
        sel_len--;
    gopher_put_selector(&sel, t->path, sel_len);
    snprintf(label, sizeof(label), "site %s: %.*s", c->s.site->name, (int)sel_len, t->path);
    struct gopher_dir d = {.fd = fe->fd, .root_fd = t->v->dirfd, .rel = t->rel, .rel_len = t->rlen,
                           .sel = sel.data ? sel.data : "", .sel_len = sel.len,
                           .symlinks = t->v->symlinks, .mime = gs->mime, .label = label,
                           .need_stat = q->kind == GOPHER_REQ_DIR_ATTR};
    if (gopher_menu_build(&m, &d) == -1) {
        buf_free(&sel);
        gopher_serve_error(c, q, 403, "This directory cannot be read.");
        return;
    }
    c->status = 200;
    if (q->kind == GOPHER_REQ_DIR_ATTR) {
        buf_puts(c->out, "+-1\r\n");
        for (size_t i = 0; i < m.n; i++)
            if (m.items[i].type != 'i')
                gopher_plus_attrs(c->out, &m.items[i], gs, c->host, c->port, q->extra,
                                  q->extra_len);
        buf_puts(c->out, ".\r\n");
    } else {
        if (q->kind == GOPHER_REQ_PLUS)
            buf_puts(c->out, "+-1\r\n");
        gopher_menu_render(c->out, &m, c->host, c->port, q->kind == GOPHER_REQ_PLUS);
    }
    gopher_menu_free(&m);
    buf_free(&sel);
    session_stat(&c->s, STAT_MENUS_SENT);
}

/* ---- files and attributes ---- */

/* The attributes of one item, its abstract from the tag file of its directory. */
static void serve_attrs(struct gopher_conn *c, const struct gopher_req *q, const struct target *t,
                        const struct fc_entry *fe, char type)
{
    struct gopher_item it = {0};
    const char *slash = memrchr(t->rel, '/', t->rlen);
    size_t dlen = slash ? (size_t)(slash - t->rel) : 0;
    struct fc_entry *dir;

    item_of_target(&it, t, type, fe);
    dir = fcache_get(c->s.w->fcache, t->v, t->rel, dlen);
    if (dir->fd >= 0 && dir->is_dir && t->rlen > 0)
        gopher_tag_apply(dir->fd, slash ? slash + 1 : t->rel, &it);
    fcache_put(dir);
    c->status = 200;
    buf_puts(c->out, "+-1\r\n");
    gopher_plus_attrs(c->out, &it, gopher_site_of(c->s.site), c->host, c->port, q->extra,
                      q->extra_len);
    buf_puts(c->out, ".\r\n");
    free(it.display);
    free(it.selector);
    free(it.abstract);
}

static void serve_file(struct gopher_conn *c, const struct gopher_req *q, struct fc_entry *fe,
                       char type)
{
    c->status = 200;
    c->text = type == '0';
    c->line_start = true;
    c->fe = fe; /* the connection's reference now */
    c->off = 0;
    c->end = fe->size;
    if (q->kind == GOPHER_REQ_PLUS)
        buf_printf(c->out, c->text ? "+-1\r\n" : "+%lld\r\n", (long long)fe->size);
    session_stat(&c->s, STAT_FILES_SENT);
}

/* ---- resolving the selector ---- */

static int resolve(struct gopher_conn *c, const struct gopher_req *q, struct target *t)
{
    char raw[PATH_CAP];
    size_t n = 0;
    int status;
    const char *reason;

    if (q->selector_len == 0 || q->selector[0] != '/')
        raw[n++] = '/';
    memcpy(raw + n, q->selector, q->selector_len);
    n += q->selector_len;
    if (path_normalize(raw, n, t->path, sizeof(t->path), &t->plen, &status, &reason) == -1) {
        gopher_serve_error(c, q, 400, reason);
        return -1;
    }
    t->v = gen_find_vdir(c->s.site, t->path, t->plen);
    if (t->v == NULL) {
        gopher_serve_error(c, q, 404, "No virtual directory serves this selector.");
        return -1;
    }
    if (!(t->v->access & VDIR_READ)) {
        gopher_serve_error(c, q, 403, "Read access is not allowed here.");
        return -1;
    }
    t->rel = t->path + t->v->prefix_len;
    if (*t->rel == '/')
        t->rel++;
    t->rlen = t->plen - (size_t)(t->rel - t->path);
    while (t->rlen > 0 && t->rel[t->rlen - 1] == '/')
        t->rlen--;
    return 0;
}

static void serve_missing(struct gopher_conn *c, const struct gopher_req *q, int err)
{
    char msg[320];
    int status = path_errno_status(err);

    snprintf(msg, sizeof(msg), status == 404 ? "'%s' does not exist." :
             status == 403 ? "'%s' may not be read." : "'%s' cannot be read right now.",
             c->selector);
    gopher_serve_error(c, q, status, msg);
}

static bool is_caps(const struct target *t)
{
    return t->v->prefix_len == 0 && t->plen == 9 && memcmp(t->path, "/caps.txt", 9) == 0;
}

static void serve_target(struct gopher_conn *c, const struct gopher_req *q, const struct target *t)
{
    const struct gopher_site *gs = gopher_site_of(c->s.site);
    struct fc_entry *fe = fcache_get(c->s.w->fcache, t->v, t->rel, t->rlen);
    const char *name = memrchr(t->rel, '/', t->rlen);
    char type;

    name = name ? name + 1 : t->rel;
    if (fe->fd < 0 && is_caps(t) && q->kind != GOPHER_REQ_ATTR) {
        fcache_put(fe);
        serve_caps(c, q);
        return;
    }
    if (fe->fd < 0) {
        serve_missing(c, q, fe->err);
        fcache_put(fe);
        return;
    }
    type = gopher_item_type(name, t->rlen - (size_t)(name - t->rel), fe->is_dir, gs->mime);
    if (q->kind == GOPHER_REQ_ATTR) {
        serve_attrs(c, q, t, fe, type);
    } else if (fe->is_dir) {
        serve_menu(c, q, t, fe);
    } else {
        serve_file(c, q, fe, type);
        return;
    }
    fcache_put(fe);
}

void gopher_serve(struct gopher_conn *c, const struct gopher_req *q)
{
    struct target t;

    c->method = method_of(q);
    if (c->s.site == NULL) {
        gopher_serve_error(c, q, 503, "No site serves this address right now.");
        return;
    }
    if (q->kind == GOPHER_REQ_HTTP) {
        serve_http(c);
        return;
    }
    if (q->selector_len >= 4 && memcmp(q->selector, "URL:", 4) == 0) {
        serve_url(c, q);
        return;
    }
    if (resolve(c, q, &t) == 0)
        serve_target(c, q, &t);
}
