/* plus: Gopher+ attributes and caps.txt. */
#include "gopher/plus.h"

#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "gopher/gopher.h"
#include "gopher/item.h"
#include "gopher/menu.h"
#include "gopher/selector.h"
#include "runtime/mime.h"
#include "version.h"

static void admin_line(struct buf *out, const char *tag, const char *value)
{
    if (value && *value)
        buf_printf(out, " %s: %s\r\n", tag, value);
}

static void block_admin(struct buf *out, const struct gopher_item *it,
                        const struct gopher_site *gs)
{
    char human[64], stamp[16];
    struct tm tm;
    time_t t = it->mtime ? it->mtime : time(NULL);

    gmtime_r(&t, &tm);
    strftime(human, sizeof(human), "%a %b %d %H:%M:%S %Y", &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    buf_puts(out, "+ADMIN:\r\n");
    buf_printf(out, " Admin: %s <%s>\r\n", gs->admin_name ? gs->admin_name : "Administrator",
               gs->admin_email ? gs->admin_email : "");
    buf_printf(out, " Mod-Date: %s <%s>\r\n", human, stamp);
    admin_line(out, "Site", gs->site_name);
    admin_line(out, "Org", gs->organization);
    admin_line(out, "Loc", gs->location);
    admin_line(out, "Geog", gs->geography);
    admin_line(out, "Language", gs->language);
    admin_line(out, "Version", "infosrv " INFOSRV_VERSION);
}

static void block_abstract(struct buf *out, const struct gopher_item *it)
{
    const char *p = it->abstract, *nl;

    if (p == NULL)
        return;
    buf_puts(out, "+ABSTRACT:\r\n");
    for (; p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        buf_append(out, " ", 1);
        buf_append(out, p, nl ? (size_t)(nl - p) : strlen(p));
        buf_append(out, "\r\n", 2);
    }
}

static const char *view_type(const struct gopher_item *it, const struct gopher_site *gs)
{
    switch (it->type) {
    case '1':
        return "application/gopher+-menu";
    case '0':
        return "text/plain";
    default:
        return mime_lookup(gs->mime, it->display, strlen(it->display));
    }
}

static void block_views(struct buf *out, const struct gopher_item *it,
                        const struct gopher_site *gs)
{
    buf_puts(out, "+VIEWS:\r\n");
    if (it->type == '1')
        buf_printf(out, " %s: <0k>\r\n", view_type(it, gs));
    else
        buf_printf(out, " %s: <%lluk>\r\n", view_type(it, gs),
                   (unsigned long long)((it->size + 1023) / 1024));
}

void gopher_plus_attrs(struct buf *out, const struct gopher_item *it, const struct gopher_site *gs,
                       const char *host, unsigned port, const char *extra, size_t extra_len)
{
    if (gopher_attr_wanted(extra, extra_len, "+INFO")) {
        buf_puts(out, "+INFO: ");
        gopher_put_line(out, it->type, it->display, strlen(it->display), it->selector,
                        strlen(it->selector), it->host ? it->host : host,
                        it->port ? it->port : port, true);
    }
    if (!it->local)
        return;
    if (gopher_attr_wanted(extra, extra_len, "+ADMIN"))
        block_admin(out, it, gs);
    if (gopher_attr_wanted(extra, extra_len, "+ABSTRACT"))
        block_abstract(out, it);
    if (gopher_attr_wanted(extra, extra_len, "+VIEWS"))
        block_views(out, it, gs);
}

void gopher_plus_caps(struct buf *out, const struct gopher_site *gs)
{
    buf_puts(out, "CAPS\n\n"
                  "CapsVersion=1\n"
                  "ExpireCapsAfter=3600\n\n"
                  "PathDelimeter=/\n"
                  "PathIdentity=.\n"
                  "PathParent=..\n"
                  "PathParentDouble=FALSE\n"
                  "PathEscapeCharacter=%\n"
                  "PathKeepPreDelimeter=FALSE\n\n"
                  "ServerSoftware=infosrv\n"
                  "ServerSoftwareVersion=" INFOSRV_VERSION "\n");
    if (gs->site_name && *gs->site_name)
        buf_printf(out, "ServerDescription=%s\n", gs->site_name);
    if (gs->location && *gs->location)
        buf_printf(out, "ServerGeolocationString=%s\n", gs->location);
    if (gs->admin_email && *gs->admin_email)
        buf_printf(out, "ServerAdmin=%s\n", gs->admin_email);
    if (gs->language && *gs->language)
        buf_printf(out, "ServerDefaultEncoding=UTF-8\nServerLanguage=%s\n", gs->language);
}
