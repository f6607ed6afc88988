/*
 * Unit tests for infoadm's command line: command words by unique prefix,
 * subcommands, global options before and after the command, command options
 * winning over globals of the same name, argument counts; and the URL, key
 * and query-string helpers commands build requests with.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_cmd *match(const char *a, const char *b, size_t *used, struct cli_err *err)
{
    char *w[3] = {(char *)(uintptr_t)a, (char *)(uintptr_t)b, NULL};
    return cli_cmd_match(w, b != NULL ? 2 : 1, used, err);
}

static void expect_cmd(const char *a, const char *b, const char *want, size_t want_used)
{
    struct cli_err err = {0};
    size_t used = 99;
    char name[64];
    const struct cli_cmd *c = match(a, b, &used, &err);

    cr_assert_not_null(c, "%s %s: %s", a, b ? b : "", err.msg);
    cr_assert_str_eq(cli_cmd_name(c, name, sizeof(name)), want);
    cr_assert_eq(used, want_used, "%s %s used %zu", a, b ? b : "", used);
}

static void expect_no_cmd(const char *a, const char *b, const char *msg)
{
    struct cli_err err = {0};
    size_t used;

    cr_assert_null(match(a, b, &used, &err), "%s %s matched", a, b ? b : "");
    cr_assert_eq(err.exit, CLI_EXIT_USAGE);
    cr_assert_str_eq(err.msg, msg);
}

Test(args, exact_and_prefix)
{
    expect_cmd("status", NULL, "status", 1);
    expect_cmd("stats", NULL, "stats", 1);
    expect_cmd("stats", "clear", "stats clear", 2);
    expect_cmd("stats", "c", "stats clear", 2);
    expect_cmd("fl", NULL, "flush-cache", 1);
    expect_cmd("disc", "17", "disconnect", 1);
    expect_cmd("backup", NULL, "backup", 1);
    expect_cmd("backup", "li", "backup list", 2);
    expect_cmd("vd", "a", "vdir add", 2);
    expect_cmd("acc", "t", "account token", 2);
    expect_cmd("ser", "a", "server add", 2);
    expect_cmd("account", "r", "account remove", 2);
}

Test(args, ambiguity_and_unknowns)
{
    expect_no_cmd("st", NULL, "ambiguous command 'st': status, stats, start, stop");
    expect_no_cmd("stat", NULL, "ambiguous command 'stat': status, stats");
    expect_no_cmd("a", NULL, "ambiguous command 'a': account, audit");
    expect_no_cmd("frobnicate", NULL, "unknown command 'frobnicate' (run 'infoadm help')");
    expect_no_cmd("site", NULL, "site: expected one of add, remove, list");
    expect_no_cmd("site", "x", "site: unknown subcommand 'x' (expected add, remove, list)");
    expect_no_cmd("account", "x",
                  "account: unknown subcommand 'x' (expected add, remove, list, token)");
    /* Words are matched level by level: a later word does not settle an earlier ambiguity. */
    expect_no_cmd("se", "a", "ambiguous command 'se': set, sessions, server");
}

struct parsed {
    struct cli_globals g;
    struct cli_args a;
    const struct cli_cmd *cmd;
    struct cli_err err;
    int rc;
};

static void parse(struct parsed *p, int argc, const char **argv)
{
    memset(p, 0, sizeof(*p));
    p->rc = cli_parse_argv(argc, (char **)(uintptr_t)argv, &p->g, &p->cmd, &p->a, &p->err);
}

#define PARSE(p, ...)                                                                              \
    do {                                                                                           \
        const char *argv_[] = {"infoadm", __VA_ARGS__, NULL};                                      \
        parse(p, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);                              \
    } while (0)

Test(args, globals_and_command_options)
{
    struct parsed p;

    PARSE(&p, "-s", "web1", "--json", "set", "/www", "a=1", "--comment", "why", "b=2");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert_str_eq(p.g.server, "web1");
    cr_assert(p.g.json);
    cr_assert_eq(p.a.npos, 3);
    cr_assert_str_eq(p.a.pos[0], "/www");
    cr_assert_str_eq(p.a.pos[2], "b=2");
    cr_assert_str_eq(cli_opt(&p.a, "comment"), "why");
    cr_assert_null(cli_opt(&p.a, "if-match"));
    cli_args_free(&p.a);

    PARSE(&p, "status", "--all", "--server=x");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert(p.g.all, "a global after the command");
    cr_assert_str_eq(p.g.server, "x");
    cli_args_free(&p.a);
}

Test(args, command_option_wins_over_global)
{
    struct parsed p;

    PARSE(&p, "disconnect", "--all", "--site", "default");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert_not(p.g.all, "--all after disconnect is disconnect's");
    cr_assert(cli_flag(&p.a, "all"));
    cr_assert_str_eq(cli_opt(&p.a, "site"), "default");
    cli_args_free(&p.a);

    PARSE(&p, "--all", "disconnect", "--all");
    cr_assert_eq(p.rc, 0);
    cr_assert(p.g.all);
    cr_assert(cli_flag(&p.a, "all"));
    cli_args_free(&p.a);
}

Test(args, repeated_options_and_values)
{
    struct parsed p;
    const char *b[4];

    PARSE(&p, "site", "add", "blog", "--binding", "127.0.0.1:81", "--binding=[::1]:81", "--path",
          "/srv/blog");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert_eq(cli_opt_all(&p.a, "binding", b, 4), 2);
    cr_assert_str_eq(b[0], "127.0.0.1:81");
    cr_assert_str_eq(b[1], "[::1]:81");
    cli_args_free(&p.a);
}

Test(args, usage_errors)
{
    struct parsed p;

    PARSE(&p, "get", "/www", "--recursive=1");
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.err.msg, "option --recursive takes no value");
    cli_args_free(&p.a);

    PARSE(&p, "history", "--limit");
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.err.msg, "option --limit needs a value");
    cli_args_free(&p.a);

    PARSE(&p, "status", "--frob");
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.err.msg, "status: unknown option '--frob' (see 'infoadm help status')");
    cli_args_free(&p.a);

    PARSE(&p, "set", "/www");
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.err.msg, "set: missing arguments (usage: infoadm set KEY NAME=VALUE... "
                                "[--comment C] [--if-match REV])");
    cli_args_free(&p.a);

    PARSE(&p, "stop", "www", "a", "b");
    cr_assert_eq(p.rc, -1);
    cr_assert(strstr(p.err.msg, "too many arguments") != NULL, "%s", p.err.msg);
    cli_args_free(&p.a);

    PARSE(&p, "--bogus");
    cr_assert_eq(p.rc, -1);
    cr_assert_eq(p.err.exit, CLI_EXIT_USAGE);
    cli_args_free(&p.a);
}

Test(args, no_command)
{
    struct parsed p;
    const char *only[] = {"infoadm", NULL};

    parse(&p, 1, only);
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.err.msg, "no command given (run 'infoadm help')");
    PARSE(&p, "--version");
    cr_assert_eq(p.rc, 0);
    cr_assert_null(p.cmd);
    cr_assert(p.g.version);
}

Test(args, dashes_and_negative_numbers_are_arguments)
{
    struct parsed p;

    PARSE(&p, "get", "--", "--odd");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert_str_eq(p.a.pos[0], "--odd");
    cli_args_free(&p.a);
    PARSE(&p, "show", "-1");
    cr_assert_eq(p.rc, 0, "%s", p.err.msg);
    cr_assert_str_eq(p.a.pos[0], "-1");
    cli_args_free(&p.a);
}

/* ---- URLs, keys, query strings ---- */

static void expect_url(const char *in, const char *want)
{
    struct cli_err err = {0};
    char *out = NULL;
    int rc = cli_url_norm(in, &out, &err);

    if (want == NULL) {
        cr_assert_eq(rc, -1, "%s accepted as %s", in, out);
        cr_assert_eq(err.exit, CLI_EXIT_USAGE);
        return;
    }
    cr_assert_eq(rc, 0, "%s: %s", in, err.msg);
    cr_assert_str_eq(out, want);
    free(out);
}

Test(args, urls)
{
    expect_url("unix:var/admin.sock", "unix:var/admin.sock");
    expect_url("https://h.example", "https://h.example:8172");
    expect_url("https://h.example:9443/", "https://h.example:9443");
    expect_url("https://[::1]", "https://[::1]:8172");
    expect_url("https://[::1]:8443", "https://[::1]:8443");
    expect_url("https://10.0.0.1:65535", "https://10.0.0.1:65535");
    expect_url("https://10.0.0.1:65536", NULL);
    expect_url("https://10.0.0.1:0", NULL);
    expect_url("https://h:80x", NULL);
    expect_url("https://user@h:80", NULL);
    expect_url("https://h/path", NULL);
    expect_url("https://", NULL);
    expect_url("https://[::1", NULL);
    expect_url("http://h:80", NULL);
    expect_url("unix:", NULL);
    expect_url("web1", NULL);
}

static void expect_key(const char *in, const char *key, const char *path)
{
    struct cli_err err = {0};
    struct buf b = {0};
    char *out;

    cr_assert_eq(cli_key_norm(in, &out, &err), 0, "%s: %s", in, err.msg);
    cr_assert_str_eq(out, key);
    cli_key_path(&b, "/api/v1/config", out);
    cr_assert_str_eq(cli_buf_str(&b), path);
    buf_free(&b);
    free(out);
}

Test(args, keys)
{
    struct cli_err err = {0};
    char *out;

    expect_key("/", "/", "/api/v1/config/");
    expect_key("", "/", "/api/v1/config/");
    expect_key("www/sites/default/", "/www/sites/default", "/api/v1/config/www/sites/default");
    expect_key("//www//sites", "/www/sites", "/api/v1/config/www/sites");
    expect_key("/www/sites/a b/root/ü", "/www/sites/a b/root/ü",
               "/api/v1/config/www/sites/a%20b/root/%C3%BC");
    expect_key("/x/a?b#c", "/x/a?b#c", "/api/v1/config/x/a%3Fb%23c");
    cr_assert_eq(cli_key_norm("/www/../etc", &out, &err), -1);
    cr_assert_eq(cli_key_norm("/www/./x", &out, &err), -1);
}

Test(args, query_strings)
{
    struct buf b = {0};

    buf_puts(&b, "/api/v1/sessions");
    cli_query_add(&b, "service", NULL);
    cli_query_add(&b, "site", "my site");
    cli_query_add(&b, "user", "a&b=c");
    cr_assert_str_eq(cli_buf_str(&b), "/api/v1/sessions?site=my%20site&user=a%26b%3Dc");
    buf_free(&b);
    cli_query_add(&b, "x", "1");
    cr_assert_str_eq(cli_buf_str(&b), "?x=1");
    buf_free(&b);
}

/* ---- help ---- */

static char *help_text(const char *a, const char *b, int *rc)
{
    char *w[2] = {(char *)(uintptr_t)a, (char *)(uintptr_t)b}, *text = NULL;
    size_t n = 0;
    struct cli_err err = {0};
    FILE *f = open_memstream(&text, &n);

    *rc = cli_help(f, w, a == NULL ? 0 : b == NULL ? 1 : 2, &err);
    fclose(f);
    return text;
}

Test(args, help)
{
    int rc;
    char *all = help_text(NULL, NULL, &rc), *set = help_text("set", NULL, &rc);
    char *server = help_text("server", NULL, &rc), *none = help_text("zzz", NULL, &rc);

    cr_assert(strstr(all, "usage: infoadm [-s SERVER] [--json] [--all] COMMAND") == all);
    cr_assert(strstr(all, "  vdir add SITE /ALIAS DIR") != NULL);
    cr_assert(strstr(set, "usage: infoadm set KEY NAME=VALUE...") == set, "%s", set);
    cr_assert(strstr(set, "docs/properties.md") != NULL, "help set lists the properties");
#ifndef INFOADM_NO_PROPS
    cr_assert(strstr(set, "\n  cache_size  (integer, default 67108864)\n") != NULL, "%s", set);
#endif
    cr_assert(strstr(set, "usage: infoadm server") == NULL, "'set' is exact: no 'server'");
    cr_assert(strstr(server, "usage: infoadm server add") != NULL);
    cr_assert(strstr(server, "usage: infoadm server remove") != NULL);
    cr_assert_eq(rc, -1, "help for an unknown command fails");
    free(all);
    free(set);
    free(server);
    free(none);
}
