/*
 * cmdtab: infoadm's command table, matched word by word with unique prefixes
 * (as OpenBSD's control tools do), and the help built from it.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/help_props.h"

#define SVC_OPTS "service=,site="
#define SESSION_FILTERS "service=,site=,user=,address="

/* clang-format off */
const struct cli_cmd cli_cmds[] = {
    {{"version"}, cli_cmd_version, NULL, CMD_TABLE, 0, 0, "", "",
     "Show infoadm's version and the server's product, version, API versions and "
     "capabilities."},
    {{"status"}, cli_cmd_status, "services", CMD_TABLE, 0, 0, "", "",
     "Show every service and site with its state and bindings, and a summary of the "
     "statistics (current connections, requests, bytes)."},
    {{"get"}, cli_cmd_get, "config", 0, 1, -1, "recursive", "KEY [--recursive | NAME...]",
     "Show the properties of a metabase key (\"/www/sites/default\"): name, value and the "
     "key it is inherited from (\"-\" when set on the key itself). --recursive shows the "
     "keys below it too. With NAMEs, print only their effective values, one line each in "
     "that order: a string as it is, other values as compact JSON ([\"a\",\"b\"]), a secret "
     "as \"(secret, set)\", an empty line for one neither set nor defaulted; --json gives "
     "{\"NAME\": {\"value\", \"inherited\", \"source\"}}. A NAME that is not a property of "
     "KEY fails (exit status 1) and nothing is printed."},
    {{"set"}, cli_cmd_set, "config", 0, 2, -1, "comment=,if-match=",
     "KEY NAME=VALUE... [--comment C] [--if-match REV]",
     "Set properties of KEY in one revision. VALUE is sent as JSON when it parses as JSON "
     "(42, true, [\"a\"], {\"k\": \"v\"}, \"quoted\"), else as a string. A property whose "
     "current value is a list also takes \"a,b,c\"; a map also takes \"k=v,k2=v2\"; a string "
     "property takes VALUE as it is. --if-match refuses the change when the configuration "
     "is no longer at revision REV."},
    {{"unset"}, cli_cmd_unset, "config", 0, 2, -1, "comment=,if-match=",
     "KEY NAME... [--comment C] [--if-match REV]",
     "Remove properties set on KEY, so that the inherited value or the default applies."},
    {{"history"}, cli_cmd_history, "config.history", CMD_TABLE, 0, 0, "limit=,before=",
     "[--limit N] [--before REV]",
     "List configuration revisions, newest first: number, time, who, from where, how many "
     "changes, what they changed and the comment. The SUMMARY names each change (\"set KEY "
     "a,b\", \"unset KEY a\", \"+KEY\" created, \"-KEY\" deleted) up to 60 characters, then "
     "\"+N more\"; a server before 0.5.0 does not send it (\"-\")."},
    {{"show"}, cli_cmd_show, "config.history", 0, 1, 1, "", "REV",
     "Show one revision with its changes."},
    {{"diff"}, cli_cmd_diff, "config.diff", 0, 2, 2, "", "A B",
     "Show what changed between revisions A and B."},
    {{"rollback"}, cli_cmd_rollback, "config.rollback", 0, 1, 1, "comment=", "REV [--comment C]",
     "Restore the configuration of revision REV as a new revision."},
    {{"export"}, cli_cmd_export, "config.export", 0, 0, 1, "", "[FILE]",
     "Write the whole configuration tree as JSON (secrets left out) to FILE, or to the "
     "standard output."},
    {{"import"}, cli_cmd_import, "config.import", 0, 1, 1, "comment=", "FILE [--comment C]",
     "Replace the configuration with a document written by export, as one revision."},
    {{"backup"}, cli_cmd_backup, "backups", 0, 0, 0, "", "",
     "Make a backup of the metabase on the server and print its id."},
    {{"backup", "list"}, cli_cmd_backup_list, "backups", CMD_TABLE, 0, 0, "", "",
     "List the backups kept on the server."},
    {{"restore"}, cli_cmd_restore, "backups", 0, 1, 1, "comment=", "ID [--comment C]",
     "Restore backup ID as a new revision."},
    {{"stats"}, cli_cmd_stats, "stats", CMD_TABLE, 0, 0, SVC_OPTS, "[--service S] [--site S]",
     "Show the counters of every service and site since they were last cleared."},
    {{"stats", "clear"}, cli_cmd_stats_clear, "stats.clear", 0, 0, 0, SVC_OPTS,
     "[--service S] [--site S]",
     "Clear counters: all of them, or those of one service or site."},
    {{"sessions"}, cli_cmd_sessions, "sessions", CMD_TABLE, 0, 0, SESSION_FILTERS,
     "[--service S] [--site S] [--user U] [--address A]",
     "List current sessions (HTTP connections, FTP logins, Gopher requests)."},
    {{"disconnect"}, cli_cmd_disconnect, "sessions.disconnect", 0, 0, 1, "all," SESSION_FILTERS,
     "ID | --all [--service S] [--site S] [--user U] [--address A]",
     "Close one session, or with --all every session matching the filters (every session "
     "of every service when none is given)."},
    {{"start"}, cli_cmd_control, "services", 0, 1, 2, "", "SERVICE [SITE]",
     "Start a service or one of its sites (the desired state is kept across restarts)."},
    {{"stop"}, cli_cmd_control, "services", 0, 1, 2, "", "SERVICE [SITE]",
     "Stop a service or site: listeners and connections are closed."},
    {{"pause"}, cli_cmd_control, "services.pause", 0, 1, 2, "", "SERVICE [SITE]",
     "Pause a service or site: listeners are closed, existing connections are kept."},
    {{"continue"}, cli_cmd_control, "services.pause", 0, 1, 2, "", "SERVICE [SITE]",
     "Resume a paused service or site."},
    {{"flush-cache"}, cli_cmd_flush_cache, "cache.flush", 0, 0, 1, "", "[SERVICE]",
     "Empty the open-file cache, of one service or of all."},
    {{"site", "add"}, cli_cmd_site_add, "config", 0, 1, 1,
     "binding=,path=,host=,certificate=,key=,service=,comment=",
     "NAME --binding [https://]ADDR:PORT... --path DIR [--host NAME...] "
     "[--certificate FILE --key FILE] [--service S] [--comment C]",
     "Create a site of the www service (or --service) with its bindings, host names, TLS "
     "certificate and home directory, in one revision. An https:// binding without "
     "--certificate gets a self-signed certificate. A relative path is made absolute when "
     "the server is local."},
    {{"site", "remove"}, cli_cmd_site_remove, "config", 0, 1, 1, "service=,comment=",
     "NAME [--service S] [--comment C]",
     "Delete a site with its virtual directories."},
    {{"site", "list"}, cli_cmd_site_list, "config", CMD_TABLE, 0, 0, "service=", "[--service S]",
     "List the sites of a service with state, bindings and home directory."},
    {{"vdir", "add"}, cli_cmd_vdir_add, "config", 0, 3, 3, "browse,no-read,write,service=,comment=",
     "SITE /ALIAS DIR [--browse] [--no-read] [--write] [--service S] [--comment C]",
     "Create a virtual directory: URL path /ALIAS of SITE served from DIR. Nested aliases "
     "(/a/b) need their parent (/a). --browse turns directory listings on, --no-read "
     "forbids reading files, --write allows uploads, deletes and renames (FTP, and WWW "
     "methods that write)."},
    {{"vdir", "remove"}, cli_cmd_vdir_remove, "config", 0, 2, 2, "recursive,service=,comment=",
     "SITE /ALIAS [--recursive] [--service S] [--comment C]",
     "Delete a virtual directory (--recursive: with those nested under it)."},
    {{"vdir", "list"}, cli_cmd_vdir_list, "config", CMD_TABLE, 1, 1, "service=",
     "SITE [--service S]",
     "List the virtual directories of SITE with their directory and access."},
    {{"user", "add"}, cli_cmd_user_add, "ftp.users", 0, 1, 1,
     "home=,password-file=,password-stdin,disabled,comment=",
     "NAME (--password-file FILE | --password-stdin) [--home /DIR] [--disabled] [--comment C]",
     "Create a named user, for FTP logins and WWW Basic authentication (auth_basic). The "
     "password is read from FILE or standard input (first line) and stored as an argon2id "
     "hash; --home confines the user's FTP sessions to that directory under each FTP site's "
     "root (default: the whole site)."},
    {{"user", "passwd"}, cli_cmd_user_passwd, "ftp.users", 0, 1, 1,
     "password-file=,password-stdin,comment=", "NAME (--password-file FILE | --password-stdin)",
     "Give a user a new password (read as for user add)."},
    {{"user", "remove"}, cli_cmd_user_remove, "ftp.users", 0, 1, 1, "", "NAME",
     "Delete a named user; its FTP sessions stay until they end."},
    {{"user", "list"}, cli_cmd_user_list, "ftp.users", CMD_TABLE, 0, 0, "", "",
     "List the named FTP users with their home directory and whether they may log in (never "
     "a password)."},
    {{"cert", "list"}, cli_cmd_cert_list, "certificates", CMD_TABLE, 0, 0, "", "",
     "List the certificate of every TLS site: where it comes from (acme, placeholder while "
     "the CA has not answered, file, self-signed), its expiry, its ACME status and names; a "
     "warning line follows for each site whose certificate is in trouble."},
    {{"cert", "renew"}, cli_cmd_cert_renew, "certificates", 0, 1, 1, "service=,wait",
     "SITE [--service S] [--wait]",
     "Order a new certificate for a tls_acme site now (SITE is a name under --service, "
     "default www, or a key like /ftp/sites/files). --wait waits for the CA's answer and "
     "fails with its reason."},
    {{"account", "add"}, cli_cmd_account_add, "accounts", 0, 1, 1, "role=", "NAME --role ROLE",
     "Create an admin account (role admin, operator or reader) and print its token, which "
     "is shown only this once."},
    {{"account", "remove"}, cli_cmd_account_remove, "accounts", 0, 1, 1, "", "NAME",
     "Delete an admin account."},
    {{"account", "list"}, cli_cmd_account_list, "accounts", CMD_TABLE, 0, 0, "", "",
     "List admin accounts and their roles."},
    {{"account", "token"}, cli_cmd_account_token, "accounts", 0, 1, 1, "", "NAME",
     "Give an account a new token (the old one stops working) and print it once."},
    {{"log"}, cli_cmd_log, "log.query", CMD_TABLE, 0, 0,
     "service=,site=,status=,client=,path=,since=,until=,limit=,oldest-first",
     "[--service S] [--site S] [--status N|Nxx|N-M] [--client ADDR] [--path PREFIX] "
     "[--since T] [--until T] [--limit N] [--oldest-first]",
     "Show access log entries, newest first (--oldest-first: oldest first), of the sites "
     "whose log_format is sqlite: time, service, site, client, user, method, path?query, "
     "status, bytes sent and received, milliseconds taken. --status takes a code (404), a "
     "class (4xx) or a range (400-499); --path a prefix of the path. T is an ISO 8601 date "
     "or time in UTC (2026-11-30, 2026-11-30T12:00:00Z, +HH:MM offsets), today, yesterday, "
     "now, -Nu with u one of s, m, h, d, w (-1d), or @EPOCH; a date stands for its whole "
     "day, so --since yesterday --until yesterday is all of yesterday. At most --limit "
     "entries (default 100, at most 10000); a line below the table says when more match. "
     "A site whose log is not in SQLite cannot be queried."},
    {{"audit"}, cli_cmd_audit, "audit", CMD_TABLE, 0, 0, "limit=,before=",
     "[--limit N] [--before ID]",
     "Show the audit log: who changed or did what, from where, when, and the result."},
    {{"farm", "status"}, cli_cmd_farm_status, "farm", 0, 0, 0, "", "",
     "Show the server's farm: its revision and etcd, then every member, alive or not, with "
     "its release, the farm revision it runs, its STATE (current, behind N, drift: its "
     "shared tree differs from the farm's, failed: it could not apply a revision) and its "
     "last apply error. A server that is not in a farm says it is standalone."},
    {{"farm", "leave"}, cli_cmd_farm_leave, "farm", 0, 0, 0, "", "",
     "Make the server standalone: it stops following its farm, its entries leave etcd "
     "(when it answers), and it keeps serving the configuration it has, which it may then "
     "change on its own."},
    {{"server", "add"}, cli_cmd_server_add, NULL, CMD_LOCAL | CMD_INV, 2, 2,
     "token=,token-file=,cacert=", "NAME URL [--token T | --token-file F] [--cacert FILE]",
     "Add a server to the inventory after contacting it. URL is unix:PATH or "
     "https://HOST:PORT; an HTTPS server's certificate key is pinned on this first contact "
     "(or verified against --cacert)."},
    {{"server", "list"}, cli_cmd_server_list, NULL, CMD_LOCAL | CMD_INV | CMD_TABLE, 0, 0, "", "",
     "List the servers of the inventory."},
    {{"server", "remove"}, cli_cmd_server_remove, NULL, CMD_LOCAL | CMD_INV, 1, 1, "", "NAME",
     "Remove a server (with its token and pin) from the inventory."},
    {{"help"}, cli_cmd_help, NULL, CMD_LOCAL, 0, -1, "", "[COMMAND]",
     "List the commands, or explain one; 'help set' lists the configuration properties."},
};
/* clang-format on */

const size_t cli_ncmds = sizeof(cli_cmds) / sizeof(cli_cmds[0]);
#define MAX_CMDS 64
_Static_assert(sizeof(cli_cmds) / sizeof(cli_cmds[0]) <= MAX_CMDS, "grow MAX_CMDS");

const char *cli_cmd_name(const struct cli_cmd *c, char *buf, size_t cap)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < 3 && c->words[i] != NULL && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i > 0 ? " " : "", c->words[i]);
    return buf;
}

bool cli_opt_in(const char *spec, const char *name, size_t len, bool *has_arg)
{
    const char *p = spec;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        bool arg = n > 0 && p[n - 1] == '=';
        if ((arg ? n - 1 : n) == len && strncmp(p, name, len) == 0) {
            *has_arg = arg;
            return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

static bool is_prefix(const char *word, const char *full)
{
    return strncmp(word, full, strlen(word)) == 0;
}

/* Append WORD to the ", "-separated LIST unless it is there already. */
static void list_add(char *list, size_t cap, const char *word)
{
    size_t n = strlen(list), wl = strlen(word);

    for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl)
        if ((p == list || p[-1] == ' ') && (p[wl] == ',' || p[wl] == '\0'))
            return;
    snprintf(list + n, cap - n, "%s%s", n > 0 ? ", " : "", word);
}

/* The word at LEVEL that WORD selects among the candidates: exact, else a unique prefix.
 * *NHITS: 0 none, 1 one, 2 several (LIST names them). */
static const char *select_word(const bool *cand, size_t level, const char *word, char *list,
                               size_t cap, size_t *nhits)
{
    const char *hit = NULL;
    bool many = false;

    list[0] = '\0';
    for (size_t i = 0; i < cli_ncmds; i++)
        if (cand[i] && cli_cmds[i].words[level] != NULL &&
            strcmp(cli_cmds[i].words[level], word) == 0) {
            *nhits = 1;
            return cli_cmds[i].words[level];
        }
    for (size_t i = 0; i < cli_ncmds; i++) {
        const char *w = cli_cmds[i].words[level];
        if (!cand[i] || w == NULL || !is_prefix(word, w))
            continue;
        list_add(list, cap, w);
        if (hit == NULL)
            hit = w;
        else if (strcmp(hit, w) != 0)
            many = true;
    }
    *nhits = hit == NULL ? 0 : many ? 2 : 1;
    return *nhits == 1 ? hit : NULL;
}

static void words_at(const bool *cand, size_t level, char *list, size_t cap)
{
    list[0] = '\0';
    for (size_t i = 0; i < cli_ncmds; i++)
        if (cand[i] && cli_cmds[i].words[level] != NULL)
            list_add(list, cap, cli_cmds[i].words[level]);
}

/* W0: the first word; WORD: the unmatched word at LEVEL, or NULL when there is none. */
static const struct cli_cmd *no_match(const char *w0, const char *word, size_t level,
                                      const bool *cand, struct cli_err *err)
{
    char list[600];

    words_at(cand, level, list, sizeof(list));
    if (level == 0)
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "unknown command '%s' (run 'infoadm help')", w0);
    else if (word != NULL)
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "%s: unknown subcommand '%s' (expected %s)", w0,
                    word, list);
    else
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "%s: expected one of %s", w0, list);
    return NULL;
}

const struct cli_cmd *cli_cmd_match(char *const *w, size_t n, size_t *used, struct cli_err *err)
{
    bool cand[MAX_CMDS];
    char list[600];
    size_t level, nhits;

    for (size_t i = 0; i < cli_ncmds; i++)
        cand[i] = true;
    for (level = 0; level < 3; level++) {
        const char *word = level < n && w[level][0] != '-' ? w[level] : NULL;
        const char *hit =
            word != NULL ? select_word(cand, level, word, list, sizeof(list), &nhits) : NULL;
        if (word != NULL && nhits > 1) {
            cli_err_set(err, CLI_EXIT_USAGE, "usage", "ambiguous command '%s': %s", word, list);
            return NULL;
        }
        if (hit != NULL) {
            for (size_t i = 0; i < cli_ncmds; i++)
                cand[i] = cand[i] && cli_cmds[i].words[level] != NULL &&
                          strcmp(cli_cmds[i].words[level], hit) == 0;
            continue;
        }
        for (size_t i = 0; i < cli_ncmds; i++)
            if (cand[i] && cli_cmds[i].words[level] == NULL) {
                *used = level;
                return &cli_cmds[i];
            }
        return no_match(w[0], word, level, cand, err);
    }
    for (size_t i = 0; i < cli_ncmds; i++)
        if (cand[i]) {
            *used = 3;
            return &cli_cmds[i];
        }
    return NULL;
}

/* ---- help ---- */

static void synopsis(FILE *f, const struct cli_cmd *c, const char *lead)
{
    char name[64];

    fprintf(f, "%s%s%s%s\n", lead, cli_cmd_name(c, name, sizeof(name)), c->args[0] ? " " : "",
            c->args);
}

static void help_all(FILE *f)
{
    fputs("usage: infoadm [-s SERVER] [--json] [--all] COMMAND [ARGS...]\n\n"
          "SERVER is an inventory name, unix:PATH or https://HOST:PORT (default "
          "unix:var/admin.sock).\n"
          "Other options: --token T, --token-file F, --cacert FILE, --pin sha256//..., "
          "--help, --version.\n"
          "Commands (any unique prefix will do):\n\n",
          f);
    for (size_t i = 0; i < cli_ncmds; i++)
        synopsis(f, &cli_cmds[i], "  ");
    fputs("\nRun 'infoadm help COMMAND' for more about one of them.\n", f);
}

static bool help_matches(const struct cli_cmd *c, char *const *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (i >= 3 || c->words[i] == NULL || !is_prefix(w[i], c->words[i]))
            return false;
    return true;
}

/* With an exact first word ("stats"), "stat" prefixes ("status") are not meant. */
static bool help_exact(char *const *w, size_t n)
{
    for (size_t i = 0; n > 0 && i < cli_ncmds; i++)
        if (strcmp(cli_cmds[i].words[0], w[0]) == 0)
            return true;
    return false;
}

int cli_help(FILE *f, char *const *w, size_t n, struct cli_err *err)
{
    bool exact = help_exact(w, n);
    size_t shown = 0;

    if (n == 0) {
        help_all(f);
        return 0;
    }
    for (size_t i = 0; i < cli_ncmds; i++) {
        const struct cli_cmd *c = &cli_cmds[i];
        if (!help_matches(c, w, n) || (exact && strcmp(c->words[0], w[0]) != 0))
            continue;
        if (shown++ > 0)
            fputc('\n', f);
        synopsis(f, c, "usage: infoadm ");
        out_wrap(f, c->help, 2, 78);
        if (c->fn == cli_cmd_set) {
            fputc('\n', f);
            cli_help_properties(f);
        }
    }
    if (shown == 0) {
        cli_err_set(err, CLI_EXIT_USAGE, "usage", "help: no command '%s' (run 'infoadm help')",
                    w[0]);
        return -1;
    }
    return 0;
}
