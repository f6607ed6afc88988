/*
 * gen_props_man: writes the manual page infosrv-properties(5)
 * (man/infosrv-properties.5) from the property table, to stdout or to the file
 * named by the only argument. A build tool with its own main(), kept out of the
 * library; tests/unit/test_manuals.c includes it with GEN_NO_MAIN defined and
 * checks that the committed page is what it writes.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/gen_util.h"
#include "metabase/props.h"
#include "version.h"

/* The page reads best as the roff it is. */
/* clang-format off */
static const char pm_head[] =
    ".\\\" Generated from the property table (src/metabase/props.c) by\n"
    ".\\\" src/metabase/gen_props_man.c; do not edit: run \"make man\".\n"
    ".TH INFOSRV\\-PROPERTIES 5 \"\" \"infosrv " INFOSRV_VERSION "\" \"File Formats Manual\"\n"
    ".SH NAME\n"
    "infosrv\\-properties \\- configuration properties of the infosrv metabase\n"
    ".SH SYNOPSIS\n"
    ".B infoadm get\n"
    ".I KEY\n"
    ".br\n"
    ".B infoadm set\n"
    ".I KEY NAME\\fB=\\fPVALUE\\fR.\\|.\\|.\n"
    ".br\n"
    ".B infoadm unset\n"
    ".I KEY NAME\\fR.\\|.\\|.\n"
    ".SH DESCRIPTION\n"
    "The configuration of\n"
    ".BR infosrv (8)\n"
    "lives in its metabase,\n"
    ".IR STATE_DIR /metabase.db:\n"
    "a tree of keys, each holding named properties.\n"
    "It is seeded from the command line on the first start and changed live with\n"
    ".BR infoadm (1)\n"
    "(or the admin API) afterwards; every change is a revision that can be listed,\n"
    "compared and rolled back.\n"
    "This page lists every property the server knows.\n"
    ".SS Keys\n"
    ".TP\n"
    ".B /\n"
    "The machine: settings of the whole server.\n"
    ".TP\n"
    ".BR /www \", \" /ftp \", \" /gopher\n"
    "The services (these keys always exist).\n"
    ".TP\n"
    ".BI / SERVICE /sites\n"
    "The container of a service's sites (always exists, holds no properties).\n"
    ".TP\n"
    ".BI / SERVICE /sites/ NAME\n"
    "A site.\n"
    ".I NAME\n"
    "is 1 to 63 of\n"
    ".BR a\\-z ,\n"
    ".BR 0\\-9 ,\n"
    ".B _\n"
    "and\n"
    ".BR \\- ,\n"
    "starting with a letter or digit.\n"
    ".TP\n"
    ".BI / SERVICE /sites/ NAME /root\n"
    "A virtual directory: the site's home directory.\n"
    ".TP\n"
    ".BI / SERVICE /sites/ NAME /root/ ALIAS\\fR[\\fB/\\fIALIAS\\fR.\\|.\\|.]\n"
    "A virtual directory at URL path\n"
    ".IR /ALIAS .\n"
    ".TP\n"
    ".B /ftp/users\n"
    "The container of named FTP users (always exists, holds no properties).\n"
    ".TP\n"
    ".BI /ftp/users/ NAME\n"
    "A named FTP user.\n"
    ".I NAME\n"
    "is 1 to 64 of\n"
    ".BR A\\-Za\\-z0\\-9._@\\- ,\n"
    "starting with a letter or digit.\n"
    ".SS Rules\n"
    "A property may only be set on the kinds of key its entry names, and on\n"
    "service, site and directory keys only of the services it names.\n"
    "An\n"
    ".I inherited\n"
    "property set on a key applies to every key below it that does not set it\n"
    "itself; otherwise the default applies.\n"
    ".I Secret\n"
    "properties are write-only: reads, history, diffs and exports show them blank.\n"
    "A change takes effect at once, except where the entry says it applies at the\n"
    "next start.\n"
    ".SS Values\n"
    ".B infoadm set\n"
    "sends a value as JSON when it parses as JSON, else as a string; a list also\n"
    "takes\n"
    ".BR a,b,c\n"
    "and a map\n"
    ".BR k=v,k2=v2 .\n"
    "The types are:\n"
    ".TP\n"
    ".B string\n"
    "UTF-8 text without control characters, at most 1024 bytes.\n"
    ".TP\n"
    ".B integer\n"
    "A whole number within the bounds given.\n"
    ".TP\n"
    ".B boolean\n"
    ".B true\n"
    "or\n"
    ".BR false .\n"
    ".TP\n"
    ".B enum\n"
    "One of the words listed.\n"
    ".TP\n"
    ".B string list\n"
    "A list of non-empty strings.\n"
    ".TP\n"
    ".B map\n"
    "An object of non-empty strings by name.\n"
    ".TP\n"
    ".B address list\n"
    "A list of\n"
    ".IB ADDR : PORT\n"
    "or\n"
    ".BI [ IPv6 ]: PORT\n"
    "bindings, a TLS one written with its scheme\n"
    "(\\fBhttps://\\fP, \\fBftps://\\fP, \\fBgophers://\\fP).\n"
    ".TP\n"
    ".B path\n"
    "An absolute path.\n"
    ".SH PROPERTIES\n";

static const char pm_tail[] =
    ".SH FILES\n"
    ".TP\n"
    ".IR STATE_DIR /metabase.db\n"
    "The metabase (SQLite); its location is\n"
    ".BR infosrv 's\n"
    ".B \\-\\-state\\-dir\n"
    "option.\n"
    ".SH SEE ALSO\n"
    ".BR infoadm (1),\n"
    ".BR infosrv (8)\n";
/* clang-format on */

/* Which services a property is limited to: "www", "ftp and gopher". */
static void pm_services(FILE *f, unsigned mask)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{MB_SVC_WWW, "www"}, {MB_SVC_FTP, "ftp"}, {MB_SVC_GOPHER, "gopher"}};
    size_t total = 0, n = 0;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        total += (mask & names[i].bit) != 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((mask & names[i].bit) == 0)
            continue;
        const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
        fprintf(f, "%s\\fB\\%%%s\\fR", sep, names[i].name);
        n++;
    }
}

/* The default: a JSON string's text, anything else as JSON. */
static void pm_default(FILE *f, const struct prop *p)
{
    json_t *v = props_default(p);

    fputs("Default: \\fB\\%", f);
    roff_lit(f, json_is_string(v) ? json_string_value(v) : p->def);
    fputs("\\fR.\n", f);
    json_decref(v);
}

static void pm_words(FILE *f, const char *const *values)
{
    for (size_t i = 0; values[i] != NULL; i++) {
        fputs(i == 0 ? "" : values[i + 1] == NULL ? " or " : ", ", f);
        fputs("\\fB\\%", f);
        roff_lit(f, values[i]);
        fputs("\\fR", f);
    }
}

static void pm_values(FILE *f, const struct prop *p)
{
    if (p->type == PROP_INT) {
        fprintf(f, "From %" PRId64 " to %" PRId64 ".\n", p->min, p->max);
    } else if (p->type == PROP_ENUM) {
        fputs("One of ", f);
        pm_words(f, p->values);
        fputs(".\n", f);
    } else if (p->type == PROP_STRLIST && p->values != NULL) {
        fputs("Each item is one of ", f);
        pm_words(f, p->values);
        fputs(".\n", f);
    }
}

static void pm_where(FILE *f, const struct prop *p)
{
    char where[128];

    props_where_text(p->where, where, sizeof(where));
    fprintf(f, "Set on %s", where);
    if ((p->where & ~(unsigned)(MB_KIND_MACHINE | MB_KIND_USER)) &&
        (p->services & MB_SVC_ALL) != MB_SVC_ALL) {
        fputs(" of ", f);
        pm_services(f, p->services);
        fputs(" only", f);
    }
    if (p->required == PROP_REQUIRED_ON_ROOT)
        fputs("; required on every site's home directory", f);
    fputs(".\n", f);
}

static void pm_entry(FILE *f, const struct prop *p)
{
    fputs(".TP\n\\fB\\%", f);
    roff_lit(f, p->name);
    fprintf(f, "\\fR (%s)\n", props_type_name(p->type));
    roff_line(f, p->doc);
    fputs(".IP\n", f);
    pm_values(f, p);
    if (p->def != NULL)
        pm_default(f, p);
    pm_where(f, p);
    fputs(p->inherit ? "Inherited by the keys below.\n" : "Not inherited.\n", f);
    if (p->secret)
        fputs("Secret (write-only).\n", f);
    if (p->apply == PROP_RESTART)
        fputs("Applies at the next start.\n", f);
}

/** Write the whole page to F. */
static int props_man_write(FILE *f, void *arg)
{
    (void)arg;
    fputs(pm_head, f);
    for (size_t i = 0; i < props_count(); i++)
        pm_entry(f, props_at(i));
    fputs(pm_tail, f);
    return 0;
}

#ifndef GEN_NO_MAIN
int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: gen_props_man [OUTPUT.5]\n");
        return 2;
    }
    return gen_output("gen_props_man", argc == 2 ? argv[1] : NULL, props_man_write, NULL);
}
#endif
