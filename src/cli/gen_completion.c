/*
 * gen_completion: writes infoadm's bash completion
 * (contrib/bash-completion/infoadm) from the template
 * contrib/bash-completion/infoadm.in, whose line "@DATA@" becomes bash arrays
 * and functions built from infoadm's command table (words, options, the
 * positional arguments of each synopsis) and the property table (names by the
 * kind of key and service they may be set on, enum values). Usage:
 * gen_completion TEMPLATE [OUTPUT]. A build tool kept out of the library;
 * tests/unit/test_manuals.c includes it with GEN_NO_MAIN defined and checks
 * that the committed script is what it writes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/accounts.h"
#include "cli/cli.h"
#include "core/gen_util.h"
#include "ftp/ftp.h"
#include "gopher/gopher.h"
#include "metabase/props.h"
#include "runtime/service.h"
#include "www/www.h"

#define BC_KINDS_MAX 8

/* The services keys may name, in the daemon's order (src/daemon/main.c registers them). */
static const struct service *const bc_services[] = {&www_service, &ftp_service, &gopher_service};
#define BC_NSERVICES (sizeof(bc_services) / sizeof(bc_services[0]))

/* infoadm's global options (src/cli/args.c GLOBAL_OPTS and its short forms) and what
 * their values complete to: "" nothing, "file" a file name. */
static const struct bc_global {
    const char *name;
    char short_name;
    bool arg;
    const char *kind;
} bc_globals[] = {
    {"server", 's', true, ""}, {"json", 'j', false, ""},        {"all", 0, false, ""},
    {"token", 0, true, ""},    {"token-file", 0, true, "file"}, {"cacert", 0, true, "file"},
    {"pin", 0, true, ""},      {"help", 'h', false, ""},        {"version", 'V', false, ""},
};
#define BC_NGLOBALS (sizeof(bc_globals) / sizeof(bc_globals[0]))

/* The key kinds properties are set on, as the completion names them. */
static const struct {
    unsigned kind;
    const char *name;
} bc_key_kinds[] = {{MB_KIND_MACHINE, "machine"},
                    {MB_KIND_SERVICE, "service"},
                    {MB_KIND_SITE, "site"},
                    {MB_KIND_VDIR, "vdir"},
                    {MB_KIND_USER, "user"}};

/* ---- reading a synopsis ---- */

/* TOKEN without the brackets and parentheses around it. */
static void bc_strip(const char *token, size_t len, char *out, size_t cap)
{
    while (len > 0 && (*token == '[' || *token == '('))
        token++, len--;
    while (len > 0 && (token[len - 1] == ']' || token[len - 1] == ')'))
        len--;
    snprintf(out, cap, "%.*s", (int)len, token);
}

/* What a positional metavariable completes to ("-": nothing we can know). */
static const char *bc_meta_kind(const char *meta, const char *prev)
{
    static const struct {
        const char *meta, *kind;
    } kinds[] = {{"KEY", "key"}, {"NAME=VALUE", "assign"}, {"FILE", "file"},
                 {"DIR", "dir"}, {"SERVICE", "service"},   {"COMMAND", "command"}};

    if (strcmp(meta, "NAME") == 0 && strcmp(prev, "KEY") == 0)
        return "prop"; /* property names after a key */
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(meta, kinds[i].meta) == 0)
            return kinds[i].kind;
    return "-";
}

/*
 * The completion kinds of C's positional arguments, from its synopsis, into OUT
 * (space-separated, the last with "..." when it repeats): "key assign...".
 */
static void bc_positionals(const struct cli_cmd *c, char *out, size_t cap)
{
    const char *p = c->args;
    char tok[64], prev[64] = "";
    bool skip = false, has_arg, repeat = false;
    size_t used = 0;

    out[0] = '\0';
    while (*p) {
        size_t len = strcspn(p, " ");
        bc_strip(p, len, tok, sizeof(tok));
        p += len + (p[len] == ' ');
        if (tok[0] == '\0' || strcmp(tok, "|") == 0)
            continue;
        if (strncmp(tok, "--", 2) == 0) {
            skip = cli_opt_in(c->opts, tok + 2, strlen(tok + 2), &has_arg) && has_arg;
            continue;
        }
        if (skip) { /* the option's value */
            skip = false;
            continue;
        }
        size_t n = strlen(tok);
        repeat = n > 3 && strcmp(tok + n - 3, "...") == 0;
        if (repeat)
            tok[n - 3] = '\0';
        used += (size_t)snprintf(out + used, cap - used, "%s%s%s", used ? " " : "",
                                 bc_meta_kind(tok, prev), repeat ? "..." : "");
        snprintf(prev, sizeof(prev), "%s", tok);
    }
    if (c->max_pos == -1 && used > 0 && !repeat)
        snprintf(out + used, cap - used, "...");
}

/* What the value of option NAME of C completes to: "service", "role", "file", "dir" or "". */
static const char *bc_option_kind(const struct cli_cmd *c, const char *name, size_t len)
{
    char want[64], meta[64];
    const char *at;

    if (len == 7 && strncmp(name, "service", len) == 0)
        return "service";
    if (len == 4 && strncmp(name, "role", len) == 0)
        return "role";
    snprintf(want, sizeof(want), "--%.*s ", (int)len, name);
    if ((at = strstr(c->args, want)) == NULL)
        return "";
    at += strlen(want);
    bc_strip(at, strcspn(at, " "), meta, sizeof(meta));
    if (strcmp(meta, "FILE") == 0 || strcmp(meta, "F") == 0)
        return "file";
    if (strcmp(meta, "DIR") == 0)
        return "dir";
    return "";
}

/* ---- the data block ---- */

static void bc_commands(FILE *f)
{
    char name[64];

    fputs("# Every command's words, in table order.\n_infoadm_cmds=(\n", f);
    for (size_t i = 0; i < cli_ncmds; i++)
        fprintf(f, "    '%s'\n", cli_cmd_name(&cli_cmds[i], name, sizeof(name)));
    fputs(")\n", f);
}

/* C's options: "--name" for a flag, "--name=KIND" for one taking a value. */
static void bc_command_options(FILE *f, const struct cli_cmd *c)
{
    const char *p = c->opts;
    bool first = true;

    fputs("    '", f);
    while (*p) {
        size_t n = strcspn(p, ",");
        bool arg = n > 0 && p[n - 1] == '=';
        size_t len = arg ? n - 1 : n;
        fprintf(f, "%s--%.*s", first ? "" : " ", (int)len, p);
        if (arg)
            fprintf(f, "=%s", bc_option_kind(c, p, len));
        first = false;
        p += n + (p[n] == ',');
    }
    fputs("'\n", f);
}

static void bc_options(FILE *f)
{
    fputs("# Each command's options (\"--name=KIND\": takes a value completed as KIND).\n"
          "_infoadm_opts=(\n",
          f);
    for (size_t i = 0; i < cli_ncmds; i++)
        bc_command_options(f, &cli_cmds[i]);
    fputs(")\n", f);
}

static void bc_args(FILE *f)
{
    char kinds[128];

    fputs("# Each command's positional arguments as completion kinds (\"-\": none; \"...\": "
          "repeats).\n_infoadm_args=(\n",
          f);
    for (size_t i = 0; i < cli_ncmds; i++) {
        bc_positionals(&cli_cmds[i], kinds, sizeof(kinds));
        fprintf(f, "    '%s'\n", kinds);
    }
    fputs(")\n", f);
}

static void bc_global_options(FILE *f)
{
    fputs("# The global options, valid before and after the command.\n_infoadm_globals='", f);
    for (size_t i = 0; i < BC_NGLOBALS; i++) {
        const struct bc_global *g = &bc_globals[i];
        if (g->short_name)
            fprintf(f, "-%c%s%s ", g->short_name, g->arg ? "=" : "", g->arg ? g->kind : "");
        fprintf(f, "--%s%s%s%s", g->name, g->arg ? "=" : "", g->arg ? g->kind : "",
                i + 1 < BC_NGLOBALS ? " " : "'\n");
    }
}

/* The services with named users: those of the properties that only users hold (FTP's). */
static unsigned bc_user_services(void)
{
    unsigned services = 0;

    for (size_t i = 0; i < props_count(); i++)
        if (props_at(i)->where == MB_KIND_USER)
            services |= props_at(i)->services;
    return services;
}

static void bc_lists(FILE *f)
{
    fputs("_infoadm_services='", f);
    for (size_t i = 0; i < BC_NSERVICES; i++)
        fprintf(f, "%s%s", i ? " " : "", bc_services[i]->name);
    fputs("'\n_infoadm_roles='", f);
    for (int r = ROLE_READER; r <= ROLE_ADMIN; r++)
        fprintf(f, "%s%s", r != ROLE_READER ? " " : "", role_to_string((enum role)r));
    fputs("'\n# The keys whose names are known without asking a server.\n_infoadm_keys='/", f);
    for (size_t i = 0; i < BC_NSERVICES; i++)
        fprintf(f, " /%s /%s/sites/", bc_services[i]->name, bc_services[i]->name);
    for (size_t i = 0; i < BC_NSERVICES; i++)
        if (bc_services[i]->mb_service & bc_user_services())
            fprintf(f, " /%s/users/", bc_services[i]->name);
    fputs("'\n", f);
}

static bool bc_valid(const struct prop *p, unsigned kind, const struct service *svc)
{
    return kind == 0 || props_valid_on(p, (enum mb_kind)kind, svc != NULL ? svc->mb_service : 0);
}

/* The names of the properties valid on KIND of SVC (kind 0: all of them), as one quoted
 * word list when PRINT; returns how many there are. */
static size_t bc_prop_list(FILE *f, unsigned kind, const struct service *svc, bool print)
{
    size_t n = 0;

    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        if (!bc_valid(p, kind, svc))
            continue;
        if (print) {
            fputs(n == 0 ? "'" : n % 4 == 0 ? "\n        " : " ", f);
            fputs(p->name, f);
        }
        n++;
    }
    if (print && n > 0)
        fputc('\'', f);
    return n;
}

static void bc_props_case(FILE *f, unsigned kind, const char *kname, const struct service *svc)
{
    if (bc_prop_list(f, kind, svc, false) == 0)
        return;
    fprintf(f, "    %s%s%s)\n        REPLY=", kname, svc ? "/" : "", svc ? svc->name : "");
    bc_prop_list(f, kind, svc, true);
    fputs(" ;;\n", f);
}

static void bc_props(FILE *f)
{
    fputs("# _infoadm_props_on KIND[/SERVICE]: the properties that may be set on such a key, in "
          "REPLY.\n_infoadm_props_on()\n{\n    case $1 in\n",
          f);
    for (size_t k = 0; k < sizeof(bc_key_kinds) / sizeof(bc_key_kinds[0]); k++) {
        if (bc_key_kinds[k].kind == MB_KIND_MACHINE) {
            bc_props_case(f, MB_KIND_MACHINE, "machine", NULL);
            continue;
        }
        for (size_t s = 0; s < BC_NSERVICES; s++)
            if (bc_key_kinds[k].kind != MB_KIND_USER ||
                (bc_services[s]->mb_service & bc_user_services()))
                bc_props_case(f, bc_key_kinds[k].kind, bc_key_kinds[k].name, bc_services[s]);
    }
    fputs("    *)\n        REPLY=", f);
    bc_prop_list(f, 0, NULL, true);
    fputs(" ;;\n    esac\n}\n", f);
}

static void bc_values(FILE *f)
{
    fputs("# _infoadm_values NAME: the values property NAME takes, when they are few, in REPLY.\n"
          "_infoadm_values()\n{\n    case $1 in\n",
          f);
    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        if (p->type == PROP_BOOL) {
            fprintf(f, "    %s) REPLY='true false' ;;\n", p->name);
        } else if (p->type == PROP_ENUM) {
            fprintf(f, "    %s) REPLY='", p->name);
            for (size_t v = 0; p->values[v] != NULL; v++)
                fprintf(f, "%s%s", v ? " " : "", p->values[v]);
            fputs("' ;;\n", f);
        }
    }
    fputs("    *) REPLY='' ;;\n    esac\n}\n", f);
}

static void bc_data(FILE *f)
{
    bc_commands(f);
    bc_options(f);
    bc_args(f);
    bc_global_options(f);
    bc_lists(f);
    bc_props(f);
    bc_values(f);
}

/** Expand template TMPL (a char *) into F. */
static int completion_write(FILE *f, void *tmpl)
{
    static const struct gen_block blocks[] = {{"@DATA@", bc_data}};

    return gen_expand(f, tmpl, blocks, sizeof(blocks) / sizeof(blocks[0]));
}

#ifndef GEN_NO_MAIN
int main(int argc, char **argv)
{
    return gen_template_main("gen_completion", "OUTPUT", argc, argv, completion_write);
}
#endif
