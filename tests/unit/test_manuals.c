/*
 * Unit tests for the generated manuals and bash completion: the committed
 * man/infosrv-properties.5, man/infoadm.1 and contrib/bash-completion/infoadm
 * are what their generators write from today's tables (else: `make man`);
 * what the generators know besides the tables (infoadm's global options, the
 * services, the fixed keys) agrees with infoadm and the metabase; and the
 * pieces — roff escaping, synopses, templates, positional arguments — do
 * what they say. The generators are included, their main() left out.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GEN_NO_MAIN
#include "cli/gen_completion.c"
#include "cli/gen_infoadm_man.c"
#include "core/gen_util.c"
#include "metabase/gen_props_man.c"
#include "metabase/mb_int.h"

/* ---- helpers ---- */

static char *run_writer(int (*write)(FILE *f, void *arg), void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert_not_null(f);
    cr_assert_eq(write(f, arg), 0);
    fclose(f);
    return text;
}

/* What a roff or text writer prints for S. */
static char *run_text(void (*fn)(FILE *f, const char *s), const char *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    fn(f, s);
    fclose(f);
    return text;
}

/* The tests read the tree: skip when not run from the repository root. */
static void need_repo(void)
{
    if (access("src/cli/cmdtab.c", R_OK) != 0 || access("Makefile", R_OK) != 0)
        cr_skip_test("not run from the repository root");
}

static char *repo_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0;

    cr_assert_not_null(f, "%s is missing (run 'make man')", path);
    cr_assert_gt(getdelim(&text, &cap, '\0', f), 0, "%s is empty", path);
    fclose(f);
    return text;
}

/* Compare the committed OUT with what the generator writes now, pointing at the first change. */
static void expect_current(const char *out, const char *generated)
{
    char *file = repo_file(out);
    size_t i = 0, line = 1;

    while (file[i] && file[i] == generated[i])
        line += file[i++] == '\n';
    cr_assert(file[i] == '\0' && generated[i] == '\0',
              "%s is stale from line %zu on: regenerate it with 'make man'", out, line);
    free(file);
}

/* ---- the committed files are current ---- */

Test(manuals, properties_page_is_current)
{
    need_repo();
    char *text = run_writer(props_man_write, NULL);
    expect_current("man/infosrv-properties.5", text);
    free(text);
}

Test(manuals, infoadm_page_is_current)
{
    need_repo();
    char *tmpl = repo_file("man/infoadm.1.in");
    char *text = run_writer(infoadm_man_write, tmpl);
    expect_current("man/infoadm.1", text);
    free(text);
    free(tmpl);
}

Test(manuals, completion_is_current)
{
    need_repo();
    char *tmpl = repo_file("contrib/bash-completion/infoadm.in");
    char *text = run_writer(completion_write, tmpl);
    expect_current("contrib/bash-completion/infoadm", text);
    free(text);
    free(tmpl);
}

/* ---- every table entry is in its output ---- */

Test(manuals, properties_page_has_every_property)
{
    char *text = run_writer(props_man_write, NULL), needle[160];

    cr_assert_not_null(strstr(text, ".TH INFOSRV\\-PROPERTIES 5 \"\" \"infosrv " INFOSRV_VERSION));
    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        snprintf(needle, sizeof(needle), ".TP\n\\fB\\%%%s\\fR (%s)\n", p->name,
                 props_type_name(p->type));
        cr_assert_not_null(strstr(text, needle), "no entry %s", needle);
    }
    /* one entry spelled out: bounds, default, where, inheritance, restart */
    cr_assert_not_null(strstr(text, ".IP\nFrom 0 to 64.\nDefault: \\fB\\%0\\fR.\n"
                                    "Set on the machine key.\nNot inherited.\n"
                                    "Applies at the next start.\n"));
    cr_assert_not_null(
        strstr(text, "Set on sites and virtual directories of \\fB\\%www\\fR only.\n"));
    cr_assert_not_null(strstr(text, "One of \\fB\\%started\\fR, \\fB\\%stopped\\fR or "
                                    "\\fB\\%paused\\fR.\nDefault: \\fB\\%started\\fR.\n"));
    free(text);
}

Test(manuals, infoadm_page_has_every_command)
{
    char *text = run_writer(infoadm_man_write, "a\n@COMMANDS@\nb @VERSION@\n"), name[64],
         needle[128];

    cr_assert_eq(strncmp(text, "a\n.SH COMMANDS\n", 15), 0);
    cr_assert_not_null(strstr(text, "\nb " INFOSRV_VERSION "\n"));
    for (size_t i = 0; i < cli_ncmds; i++) {
        char *lit = run_text(roff_lit, cli_cmd_name(&cli_cmds[i], name, sizeof(name)));
        snprintf(needle, sizeof(needle), ".TP\n\\fB\\%%%s\\fR", lit);
        free(lit);
        char *hit = strstr(text, needle);
        cr_assert_not_null(hit, "no entry for %s", name);
        if (cli_cmds[i].cap != NULL) {
            snprintf(needle, sizeof(needle), "Needs the capability \\fB\\%%%s\\fR.",
                     cli_cmds[i].cap);
            cr_assert_not_null(strstr(hit, needle), "%s: no capability line", name);
        }
    }
    cr_assert_not_null(strstr(text, "\\fB\\%set\\fR \\%\\fIKEY\\fR \\%\\fINAME\\fR=\\fIVALUE\\fR..."
                                    " \\%[\\fB\\-\\-comment\\fR \\%\\fIC\\fR]"));
    cr_assert_not_null(strstr(text, ".BR \\%infosrv\\-properties (5)."));
    free(text);
}

Test(manuals, completion_has_every_command_and_property)
{
    char *text = run_writer(completion_write, "@DATA@\n"), name[64], needle[96];

    for (size_t i = 0; i < cli_ncmds; i++) {
        snprintf(needle, sizeof(needle), "\n    '%s'\n",
                 cli_cmd_name(&cli_cmds[i], name, sizeof(name)));
        cr_assert_not_null(strstr(text, needle), "no command %s", name);
    }
    const char *all = strstr(text, "    *)\n        REPLY='");
    cr_assert_not_null(all);
    for (size_t i = 0; i < props_count(); i++) {
        snprintf(needle, sizeof(needle), "%s", props_at(i)->name);
        cr_assert_not_null(strstr(all, needle), "property %s not offered", needle);
    }
    cr_assert_not_null(strstr(text, "    tls_acme) REPLY='off on' ;;\n"));
    cr_assert_not_null(strstr(text, "    require_tls) REPLY='true false' ;;\n"));
    cr_assert_not_null(strstr(text, "_infoadm_roles='reader operator admin'\n"));
    free(text);
}

/* ---- what the generators know besides the tables ---- */

/* The global options listed for completion are GLOBAL_OPTS of src/cli/args.c, in order. */
Test(manuals, completion_globals_are_infoadms)
{
    need_repo();
    char *args = repo_file("src/cli/args.c"), want[256] = "";
    const char *def = strstr(args, "#define GLOBAL_OPTS \"");
    size_t n = 0;

    cr_assert_not_null(def, "src/cli/args.c no longer defines GLOBAL_OPTS");
    def += strlen("#define GLOBAL_OPTS \"");
    for (size_t i = 0; i < BC_NGLOBALS; i++)
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s%s", i ? "," : "",
                              bc_globals[i].name, bc_globals[i].arg ? "=" : "");
    cr_assert(strncmp(def, want, n) == 0 && def[n] == '"',
              "gen_completion's globals (%s) differ from GLOBAL_OPTS in src/cli/args.c", want);
    free(args);
}

/* "-s X" and "--server X" (and every short form) parse to the same globals. */
Test(manuals, completion_short_globals_are_infoadms)
{
    for (size_t i = 0; i < BC_NGLOBALS; i++) {
        const struct bc_global *g = &bc_globals[i];
        char shortopt[3] = {'-', g->short_name, '\0'}, longopt[32];
        const char *argv_s[] = {"infoadm", shortopt, "v", "version", NULL};
        const char *argv_l[] = {"infoadm", longopt, "v", "version", NULL};
        struct cli_globals gs = {0}, gl = {0};
        struct cli_args as = {0}, al = {0};
        const struct cli_cmd *cs, *cl;
        struct cli_err err = {0};
        int argc = g->arg ? 4 : 3;

        if (!g->short_name)
            continue;
        snprintf(longopt, sizeof(longopt), "--%s", g->name);
        if (!g->arg)
            argv_s[2] = argv_l[2] = "version";
        cr_assert_eq(cli_parse_argv(argc, (char **)(uintptr_t)argv_s, &gs, &cs, &as, &err), 0,
                     "%s: %s", shortopt, err.msg);
        cr_assert_eq(cli_parse_argv(argc, (char **)(uintptr_t)argv_l, &gl, &cl, &al, &err), 0,
                     "%s: %s", longopt, err.msg);
        cr_assert((gs.server == NULL) == (gl.server == NULL) &&
                      (gs.server == NULL || strcmp(gs.server, gl.server) == 0) &&
                      gs.json == gl.json && gs.help == gl.help && gs.version == gl.version,
                  "%s is not %s", shortopt, longopt);
        cli_args_free(&as);
        cli_args_free(&al);
    }
}

/* The services are the metabase's, and together all of them. */
Test(manuals, completion_services_are_the_metabases)
{
    unsigned all = 0;
    struct mb_key k;
    struct mb_error err = {0};
    char key[32];

    for (size_t i = 0; i < BC_NSERVICES; i++) {
        snprintf(key, sizeof(key), "/%s", bc_services[i]->name);
        cr_assert_eq(mb_key_parse(key, &k, &err), 0, "%s: %s", key, err.message);
        cr_assert_eq(k.kind, MB_KIND_SERVICE);
        cr_assert_eq(k.service, bc_services[i]->mb_service, "%s", key);
        all |= k.service;
    }
    cr_assert_eq(all, (unsigned)MB_SVC_ALL, "a service is missing from gen_completion.c");
}

/* Every key offered is a key of the metabase ("/www/sites/" a sites container). */
Test(manuals, completion_keys_parse)
{
    char *text = run_writer(completion_write, "@DATA@\n"), key[64];
    const char *p = strstr(text, "_infoadm_keys='");
    struct mb_key k;
    struct mb_error err = {0};
    size_t n = 0;

    cr_assert_not_null(p);
    for (p += strlen("_infoadm_keys='"); *p != '\''; p += n + (p[n] == ' ')) {
        n = strcspn(p, " '");
        snprintf(key, sizeof(key), "%.*s", (int)(n > 1 && p[n - 1] == '/' ? n - 1 : n), p);
        cr_assert_eq(mb_key_parse(key, &k, &err), 0, "%s: %s", key, err.message);
        if (p[n - 1] == '/' && n > 1)
            cr_assert(k.kind == MB_KIND_SITES || k.kind == MB_KIND_USERS, "%s", key);
    }
    free(text);
}

/* ---- the pieces ---- */

static void expect_positionals(const char *opts, const char *args, int max_pos, const char *want)
{
    struct cli_cmd c = {.opts = opts, .args = args, .max_pos = max_pos};
    char out[128];

    bc_positionals(&c, out, sizeof(out));
    cr_assert_str_eq(out, want, "synopsis \"%s\"", args);
}

Test(manuals, positional_kinds_from_synopses)
{
    expect_positionals("comment=,if-match=", "KEY NAME=VALUE... [--comment C] [--if-match REV]", -1,
                       "key assign...");
    expect_positionals("recursive", "KEY [--recursive | NAME...]", -1, "key prop...");
    expect_positionals("comment=", "KEY NAME... [--comment C]", -1, "key prop...");
    expect_positionals("binding=,path=,host=,certificate=,key=",
                       "NAME --binding [https://]ADDR:PORT... --path DIR [--host NAME...] "
                       "[--certificate FILE --key FILE]",
                       1, "-");
    expect_positionals("browse,service=", "SITE /ALIAS DIR [--browse] [--service S]", 3, "- - dir");
    expect_positionals("all,service=", "ID | --all [--service S]", 1, "-");
    expect_positionals("password-file=,password-stdin",
                       "NAME (--password-file FILE | --password-stdin)", 1, "-");
    expect_positionals("", "SERVICE [SITE]", 2, "service -");
    expect_positionals("", "[COMMAND]", -1, "command...");
    expect_positionals("", "[FILE]", 1, "file");
    expect_positionals("limit=", "[--limit N]", 0, "");
    expect_positionals("", "", 0, "");
}

Test(manuals, option_kinds_from_synopses)
{
    struct cli_cmd c = {.opts = "service=,role=,certificate=,path=,home=,token-file=,comment=",
                        .args = "NAME --role ROLE --certificate FILE --path DIR [--home /DIR] "
                                "[--token-file F] [--comment C] [--service S]"};

    cr_assert_str_eq(bc_option_kind(&c, "service", 7), "service");
    cr_assert_str_eq(bc_option_kind(&c, "role", 4), "role");
    cr_assert_str_eq(bc_option_kind(&c, "certificate", 11), "file");
    cr_assert_str_eq(bc_option_kind(&c, "token-file", 10), "file");
    cr_assert_str_eq(bc_option_kind(&c, "path", 4), "dir");
    cr_assert_str_eq(bc_option_kind(&c, "home", 4), "", "a directory on the server");
    cr_assert_str_eq(bc_option_kind(&c, "comment", 7), "");
}

Test(manuals, roff_literals)
{
    char *t = run_text(roff_lit, "a-b\\c'd`e");

    cr_assert_str_eq(t, "a\\-b\\ec\\(aqd\\(gae");
    free(t);
    t = run_text(roff_lit, "caf\xc3\xa9 \xe2\x80\x94");
    cr_assert_str_eq(t, "caf\\[u00E9] \\[u2014]");
    free(t);
}

Test(manuals, roff_prose_marks_code)
{
    char *t = run_text(roff_prose, "Use --if-match (--no-read) on \"tls-alpn-01\": write-only, "
                                   "-1 and \\n, it's 1-2.");

    cr_assert_str_eq(t, "Use \\%\\fB\\-\\-if\\-match\\fR (\\fB\\-\\-no\\-read\\fR) on "
                        "\"tls\\-alpn\\-01\": write-only, \\%\\-1 and \\en, it's 1-2.");
    free(t);
    t = run_text(roff_prose, "set tls_acme=on for /www/sites/x");
    cr_assert_str_eq(t, "set \\%tls_acme=on for \\%/www/sites/x");
    free(t);
    t = run_text(roff_line, ".hidden 'quote");
    cr_assert_str_eq(t, "\\&.hidden 'quote\n");
    free(t);
}

static void synopsis_text(FILE *f, const char *s)
{
    im_synopsis(f, s);
}

Test(manuals, synopsis_fonts)
{
    char *t = run_text(synopsis_text, "NAME --binding [https://]ADDR:PORT... [--host NAME...]");

    cr_assert_str_eq(t, "\\%\\fINAME\\fR \\%\\fB\\-\\-binding\\fR "
                        "\\%[\\fBhttps://\\fR]\\fIADDR\\fR:\\fIPORT\\fR... "
                        "\\%[\\fB\\-\\-host\\fR \\%\\fINAME\\fR...]");
    free(t);
}

static void block_x(FILE *f)
{
    fputs("<x>\n", f);
}

Test(manuals, templates)
{
    static const struct gen_block blocks[] = {{"@X@", block_x}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert_eq(gen_expand(f, "v@VERSION@\n@X@\n @X@\nend", blocks, 1), 0);
    fclose(f);
    cr_assert_str_eq(text, "v" INFOSRV_VERSION "\n<x>\n @X@\nend");
    free(text);
    f = open_memstream(&text, &len);
    cr_assert_eq(gen_expand(f, "no placeholder\n", blocks, 1), -1);
    fclose(f);
    free(text);
}
