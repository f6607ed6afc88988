/*
 * gen_infoadm_man: writes the manual page infoadm(1) from the hand-written
 * template man/infoadm.1.in, whose line "@COMMANDS@" becomes the COMMANDS
 * section built from infoadm's command table (cli_cmds: words, synopsis, help,
 * capability). Usage: gen_infoadm_man TEMPLATE [OUTPUT]. A build tool kept out
 * of the library; tests/unit/test_manuals.c includes it with GEN_NO_MAIN
 * defined and checks that the committed page is what it writes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/gen_util.h"

static bool im_upper(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool im_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '/' || c == '-';
}

/* The run of S in which every character passes IN, in FONT; returns its length. */
static size_t im_run(FILE *f, const char *s, bool (*in)(char), const char *font)
{
    size_t n = 0;
    char word[128];

    while (s[n] && in(s[n]) && n + 1 < sizeof(word))
        n++;
    memcpy(word, s, n);
    word[n] = '\0';
    fprintf(f, "\\f%s", font);
    roff_lit(f, word);
    fputs("\\fR", f);
    return n;
}

/*
 * A synopsis ("KEY NAME=VALUE... [--comment C]") in the man(7) way: options and
 * literal words in bold, metavariables in italics, brackets and the rest in roman.
 */
static void im_synopsis(FILE *f, const char *s)
{
    const char *p = s;

    while (*p) {
        bool start = p == s || strchr(" [(|", p[-1]) != NULL;
        if (p == s || p[-1] == ' ')
            fputs("\\%", f); /* no hyphenation inside a synopsis word */
        if (p[0] == '-' && p[1] == '-' && start)
            p += im_run(f, p, im_lower, "B");
        else if (p[0] >= 'A' && p[0] <= 'Z')
            p += im_run(f, p, im_upper, "I");
        else if (p[0] >= 'a' && p[0] <= 'z')
            p += im_run(f, p, im_lower, "B");
        else
            roff_lit(f, (char[2]){*p++, '\0'});
    }
}

/* What the table says beyond the help text: capability, where it runs, --all, properties. */
static void im_notes(FILE *f, const struct cli_cmd *c)
{
    fputs(".IP\n", f);
    if (c->cap != NULL) {
        fputs("Needs the capability \\fB\\%", f);
        roff_lit(f, c->cap);
        fputs("\\fR.\n", f);
    }
    if (c->flags & CMD_LOCAL)
        fputs("Runs here, without a server.\n", f);
    if (c->flags & CMD_TABLE)
        fputs("With \\fB\\%\\-\\-all\\fR, one table with a leading SERVER column.\n", f);
    if (c->fn == cli_cmd_set)
        fputs("The properties are listed in\n.BR \\%infosrv\\-properties (5).\n", f);
}

static void im_command(FILE *f, const struct cli_cmd *c)
{
    char name[64];

    fputs(".TP\n\\fB\\%", f);
    roff_lit(f, cli_cmd_name(c, name, sizeof(name)));
    fputs("\\fR", f);
    if (c->args[0] != '\0') {
        fputc(' ', f);
        im_synopsis(f, c->args);
    }
    fputc('\n', f);
    roff_line(f, c->help);
    if (c->cap != NULL || (c->flags & (CMD_LOCAL | CMD_TABLE)) || c->fn == cli_cmd_set)
        im_notes(f, c);
}

/** The COMMANDS section: every command of the table, in table order. */
static void im_commands(FILE *f)
{
    fputs(".SH COMMANDS\n"
          "Each command names the capability it needs; a server without it is told so\n"
          "(exit status 1) before anything is changed.\n",
          f);
    for (size_t i = 0; i < cli_ncmds; i++)
        im_command(f, &cli_cmds[i]);
}

/** Expand template TMPL (a char *) into F. */
static int infoadm_man_write(FILE *f, void *tmpl)
{
    static const struct gen_block blocks[] = {{"@COMMANDS@", im_commands}};

    return gen_expand(f, tmpl, blocks, sizeof(blocks) / sizeof(blocks[0]));
}

#ifndef GEN_NO_MAIN
int main(int argc, char **argv)
{
    return gen_template_main("gen_infoadm_man", "OUTPUT.1", argc, argv, infoadm_man_write);
}
#endif
