/* props_doc: docs/properties.md, generated from the property table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "metabase/mb_int.h"

static const char intro[] =
    "# infosrv configuration properties\n"
    "\n"
    "Generated from the property table in `src/metabase/props.c` by\n"
    "`src/metabase/gen_props_doc.c`; do not edit by hand.\n"
    "\n"
    "The metabase is a tree of keys:\n"
    "\n"
    "| key | kind |\n"
    "|---|---|\n"
    "| `/` | machine |\n"
    "| `/www`, `/ftp`, `/gopher` | service (always exist) |\n"
    "| `/SERVICE/sites` | container of sites (always exists, holds no properties) |\n"
    "| `/SERVICE/sites/NAME` | site (`NAME`: `[a-z0-9][a-z0-9_-]{0,62}`) |\n"
    "| `/SERVICE/sites/NAME/root` | virtual directory: the site's home directory |\n"
    "| `/SERVICE/sites/NAME/root/ALIAS[/ALIAS...]` | virtual directory at URL path "
    "`/ALIAS[/ALIAS...]` |\n"
    "| `/ftp/users` | container of FTP users (always exists, holds no properties) |\n"
    "| `/ftp/users/NAME` | user: a named FTP user (`NAME`: 1-64 of `A-Za-z0-9._@-`, starting "
    "with a letter or digit) |\n"
    "\n"
    "A property may only be set on the kinds of key listed under *where*, and on\n"
    "service, site and directory keys only for the services named there. An\n"
    "*inheritable* property set on a key applies to every key below it that does\n"
    "not set it itself; otherwise the default applies. *Secret* properties are\n"
    "write-only: reads, history, diffs and exports show them blank. *Apply*\n"
    "says whether a change takes effect at once (`live`) or at the next start\n"
    "(`restart`).\n"
    "\n"
    "| name | type | default | bounds / values | where | inheritable | secret | apply | "
    "description |\n"
    "|---|---|---|---|---|---|---|---|---|\n";

/* Write S with the characters Markdown tables care about escaped. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s, f);
    }
}

static void bounds(FILE *f, const struct prop *p)
{
    if (p->type == PROP_INT) {
        fprintf(f, "%" PRId64 " .. %" PRId64, p->min, p->max);
    } else if (p->type == PROP_ENUM) {
        for (size_t i = 0; p->values[i]; i++)
            fprintf(f, "%s`%s`", i ? ", " : "", p->values[i]);
    } else if (p->type == PROP_PATH) {
        fputs("absolute", f);
    } else if (p->type == PROP_ADDRLIST) {
        fputs("`ADDR:PORT`, `[IPv6]:PORT`", f);
    }
}

static void services(FILE *f, unsigned mask)
{
    static const char *const names[] = {"www", "ftp", "gopher"};
    bool first = true;

    fputs(" (", f);
    for (unsigned i = 0; i < 3; i++) {
        if (mask & (1u << i)) {
            fprintf(f, "%s%s", first ? "" : ", ", names[i]);
            first = false;
        }
    }
    fputs(" only)", f);
}

static void where(FILE *f, const struct prop *p)
{
    /* by bit of enum mb_kind; bit 4 (the sites container) never holds properties */
    static const char *const words[] = {"machine", "service", "site", "vdir", NULL, NULL, "user"};
    bool first = true;

    for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (words[i] && (p->where & (1u << i))) {
            fprintf(f, "%s%s", first ? "" : ", ", words[i]);
            first = false;
        }
    }
    if ((p->where & ~(unsigned)MB_KIND_MACHINE) && (p->services & MB_SVC_ALL) != MB_SVC_ALL)
        services(f, p->services);
    if (p->required == PROP_REQUIRED_ON_ROOT)
        fputs("; required on root", f);
}

static void row(FILE *f, const struct prop *p)
{
    fprintf(f, "| `%s` | %s | ", p->name, props_type_name(p->type));
    if (p->def) {
        fputc('`', f);
        cell(f, p->def);
        fputc('`', f);
    }
    fputs(" | ", f);
    bounds(f, p);
    fputs(" | ", f);
    where(f, p);
    fprintf(f, " | %s | %s | %s | ", p->inherit ? "yes" : "no", p->secret ? "yes" : "no",
            p->apply == PROP_RESTART ? "restart" : "live");
    cell(f, p->doc);
    fputs(" |\n", f);
}

void props_doc_markdown(FILE *f)
{
    fputs(intro, f);
    for (size_t i = 0; i < props_count(); i++)
        row(f, props_at(i));
}
