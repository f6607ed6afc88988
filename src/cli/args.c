/*
 * args: the command line — global options (anywhere), the command words, and
 * the command's own options and positional arguments. After the command, an
 * option the command defines wins over a global of the same name
 * (`disconnect --all` vs `--all`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"

#define GLOBAL_OPTS "server=,json,all,token=,token-file=,cacert=,pin=,help,version"

const char *cli_opt(const struct cli_args *a, const char *name)
{
    const char *v = NULL;

    for (size_t i = 0; i < a->nopt; i++)
        if (strcmp(a->name[i], name) == 0)
            v = a->value[i] != NULL ? a->value[i] : "";
    return v;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    return cli_opt(a, name) != NULL;
}

size_t cli_opt_all(const struct cli_args *a, const char *name, const char **out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < a->nopt && n < cap; i++)
        if (strcmp(a->name[i], name) == 0)
            out[n++] = a->value[i];
    return n;
}

static void set_global(struct cli_globals *g, const char *name, const char *value)
{
    if (strcmp(name, "server") == 0)
        g->server = value;
    else if (strcmp(name, "json") == 0)
        g->json = true;
    else if (strcmp(name, "all") == 0)
        g->all = true;
    else if (strcmp(name, "token") == 0)
        g->token = value;
    else if (strcmp(name, "token-file") == 0)
        g->token_file = value;
    else if (strcmp(name, "cacert") == 0)
        g->cacert = value;
    else if (strcmp(name, "pin") == 0)
        g->pin = value;
    else if (strcmp(name, "help") == 0)
        g->help = true;
    else if (strcmp(name, "version") == 0)
        g->version = true;
}

/* "-s" → "server", "-h" → "help", "-V" → "version", "-j" → "json"; NULL otherwise. */
static const char *short_global(const char *arg)
{
    static const char *const map[][2] = {
        {"-s", "server"}, {"-h", "help"}, {"-V", "version"}, {"-j", "json"}};

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(arg, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

struct argv_cursor {
    int argc;
    char **argv;
    int i;
};

/* The value of an option: after "=", else the next argument. */
static int opt_value(struct argv_cursor *c, const char *eq, const char *shown, const char **val,
                     struct cli_err *err)
{
    if (eq != NULL) {
        *val = eq + 1;
        return 0;
    }
    if (c->i + 1 >= c->argc) {
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "option %s needs a value", shown);
        return -1;
    }
    *val = c->argv[++c->i];
    return 0;
}

/*
 * One option at c->argv[c->i]: the command's (SPEC) first, then a global.
 * CMDNAME names the command in messages (NULL before the command).
 */
static int one_option(struct argv_cursor *c, const char *spec, const char *cmdname,
                      struct cli_globals *g, struct cli_args *a, struct cli_err *err)
{
    const char *arg = c->argv[c->i], *shortg = short_global(arg);
    const char *name = shortg != NULL ? shortg : arg + 2;
    const char *eq = shortg != NULL ? NULL : strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const char *val = NULL;
    bool has_arg;

    if (shortg == NULL && strncmp(arg, "--", 2) == 0 && spec != NULL &&
        cli_opt_in(spec, name, len, &has_arg)) {
        if (a->nopt >= CLI_MAX_OPTS) {
            cli_err_set(err, CLI_EXIT_USAGE, "usage", "too many options");
            return -1;
        }
        if (has_arg && opt_value(c, eq, arg, &val, err) < 0)
            return -1;
        if (!has_arg && eq != NULL)
            goto no_value;
        a->name[a->nopt] = xstrndup(name, len);
        a->value[a->nopt++] = val;
        return 0;
    }
    if ((shortg != NULL || strncmp(arg, "--", 2) == 0) &&
        cli_opt_in(GLOBAL_OPTS, name, len, &has_arg)) {
        if (has_arg && opt_value(c, eq, arg, &val, err) < 0)
            return -1;
        if (!has_arg && eq != NULL)
            goto no_value;
        char *n = xstrndup(name, len);
        set_global(g, n, val);
        free(n);
        return 0;
    }
    if (cmdname != NULL)
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "%s: unknown option '%s' (see 'infoadm help %s')",
                    cmdname, arg, cmdname);
    else
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "unknown option '%s' (run 'infoadm help')", arg);
    return -1;
no_value:
    cli_err_set(err, CLI_EXIT_USAGE, "usage", "option --%.*s takes no value", (int)len, name);
    return -1;
}

/* A negative number is an argument, not an option. */
static bool is_option(const char *s)
{
    return s[0] == '-' && s[1] != '\0' && !(s[1] >= '0' && s[1] <= '9');
}

static int command_args(struct argv_cursor *c, const struct cli_cmd *cmd, struct cli_globals *g,
                        struct cli_args *a, struct cli_err *err)
{
    char name[64];
    bool rest = false;

    cli_cmd_name(cmd, name, sizeof(name));
    a->pos = xcalloc((size_t)c->argc + 1, sizeof(char *));
    for (; c->i < c->argc; c->i++) {
        char *arg = c->argv[c->i];
        if (!rest && strcmp(arg, "--") == 0)
            rest = true;
        else if (!rest && is_option(arg)) {
            if (one_option(c, cmd->opts, name, g, a, err) < 0)
                return -1;
        } else
            a->pos[a->npos++] = arg;
    }
    return 0;
}

static int check_counts(const struct cli_cmd *cmd, const struct cli_args *a, struct cli_err *err)
{
    char name[64];

    if ((int)a->npos >= cmd->min_pos && (cmd->max_pos < 0 || (int)a->npos <= cmd->max_pos))
        return 0;
    cli_cmd_name(cmd, name, sizeof(name));
    cli_err_set(err, CLI_EXIT_USAGE, "usage", "%s: %s (usage: infoadm %s%s%s)", name,
                (int)a->npos < cmd->min_pos ? "missing arguments" : "too many arguments", name,
                cmd->args[0] ? " " : "", cmd->args);
    return -1;
}

/* Everything infoadm sends is JSON, which is UTF-8: refuse other bytes up front. */
static int check_utf8(int argc, char **argv, struct cli_err *err)
{
    for (int i = 1; i < argc; i++) {
        json_t *probe = json_string(argv[i]);
        if (probe == NULL) {
            cli_err_set(err, CLI_EXIT_USAGE, "usage", "argument %d is not valid UTF-8", i);
            return -1;
        }
        json_decref(probe);
    }
    return 0;
}

int cli_parse_argv(int argc, char **argv, struct cli_globals *g, const struct cli_cmd **cmd,
                   struct cli_args *a, struct cli_err *err)
{
    struct argv_cursor c = {argc, argv, 1};
    size_t used = 0;

    *cmd = NULL;
    if (check_utf8(argc, argv, err) < 0)
        return -1;
    for (; c.i < argc && is_option(argv[c.i]); c.i++) {
        if (strcmp(argv[c.i], "--") == 0) {
            c.i++;
            break;
        }
        if (one_option(&c, NULL, NULL, g, a, err) < 0)
            return -1;
    }
    if (c.i >= argc) {
        if (g->help || g->version)
            return 0;
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "no command given (run 'infoadm help')");
        return -1;
    }
    *cmd = cli_cmd_match(argv + c.i, (size_t)(argc - c.i), &used, err);
    if (*cmd == NULL)
        return -1;
    c.i += (int)used;
    if (command_args(&c, *cmd, g, a, err) < 0)
        return -1;
    return g->help ? 0 : check_counts(*cmd, a, err);
}

void cli_args_free(struct cli_args *a)
{
    for (size_t i = 0; i < a->nopt; i++)
        free((void *)(uintptr_t)a->name[i]);
    free(a->pos);
    memset(a, 0, sizeof(*a));
}
