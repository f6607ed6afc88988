/*
 * commands_users: the FTP service's named users (/api/v1/ftp/users). The
 * password is read from a file or standard input, never from the command
 * line (other users could read it in the process list), and only its hash
 * is stored by the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "core/buf.h"

#define PASSWORD_MAX 256

/* The first line of F without its line end into OUT; 0, or -1 with a usage error. */
static int read_password(struct cli_run *r, FILE *f, const char *from, char out[PASSWORD_MAX + 2])
{
    size_t n;

    if (f == NULL || fgets(out, PASSWORD_MAX + 2, f) == NULL)
        return cli_usage(r, "cannot read a password from %s", from);
    n = strcspn(out, "\r\n");
    if (n > PASSWORD_MAX)
        return cli_usage(r, "the password in %s is longer than %d bytes", from, PASSWORD_MAX);
    out[n] = '\0';
    if (n == 0)
        return cli_usage(r, "the password in %s is empty", from);
    return 0;
}

static int password_arg(struct cli_run *r, char out[PASSWORD_MAX + 2])
{
    const char *file = cli_opt(r->args, "password-file");
    FILE *f;
    int rc;

    if (cli_flag(r->args, "password-stdin") == (file != NULL))
        return cli_usage(r, "give the password with one of --password-file FILE or "
                            "--password-stdin");
    if (file == NULL)
        return read_password(r, stdin, "standard input", out);
    f = fopen(file, "r");
    rc = read_password(r, f, file, out);
    if (f)
        fclose(f);
    return rc;
}

int cli_cmd_user_add(struct cli_run *r)
{
    const char *name = r->args->pos[0], *home = cli_opt(r->args, "home");
    char pw[PASSWORD_MAX + 2], what[200];
    json_t *body, *resp;
    int rc;

    if (home != NULL && home[0] != '/')
        return cli_usage(r, "--home is a directory under the site's root, starting with '/'");
    if (password_arg(r, pw) < 0)
        return -1;
    body = json_pack("{s:s, s:s}", "name", name, "password", pw);
    sodium_memzero(pw, sizeof(pw));
    if (home)
        json_object_set_new(body, "home_directory", json_string(home));
    if (cli_flag(r->args, "disabled"))
        json_object_set_new(body, "enabled", json_false());
    cli_add_comment(r, body);
    rc = cli_send(r, "POST", "/api/v1/ftp/users", body, NULL, &resp);
    if (rc < 0)
        return -1;
    snprintf(what, sizeof(what), "FTP user %s added", name);
    return cli_report_revision(r, resp, what);
}

static void user_url(struct buf *b, const char *name, const char *tail)
{
    buf_puts(b, "/api/v1/ftp/users/");
    cli_pct_encode(b, name);
    buf_puts(b, tail);
}

int cli_cmd_user_passwd(struct cli_run *r)
{
    char pw[PASSWORD_MAX + 2], what[200];
    struct buf url = {0};
    json_t *body, *resp;
    int rc;

    if (password_arg(r, pw) < 0)
        return -1;
    body = json_pack("{s:s}", "password", pw);
    sodium_memzero(pw, sizeof(pw));
    cli_add_comment(r, body);
    user_url(&url, r->args->pos[0], "/password");
    rc = cli_send(r, "PUT", cli_buf_str(&url), body, NULL, &resp);
    buf_free(&url);
    if (rc < 0)
        return -1;
    snprintf(what, sizeof(what), "password of FTP user %s changed", r->args->pos[0]);
    return cli_report_revision(r, resp, what);
}

int cli_cmd_user_remove(struct cli_run *r)
{
    char what[200];
    struct buf url = {0};
    json_t *resp;
    int rc;

    user_url(&url, r->args->pos[0], "");
    rc = cli_send(r, "DELETE", cli_buf_str(&url), NULL, NULL, &resp);
    buf_free(&url);
    if (rc < 0)
        return -1;
    snprintf(what, sizeof(what), "FTP user %s removed", r->args->pos[0]);
    return cli_report_revision(r, resp, what);
}

int cli_cmd_user_list(struct cli_run *r)
{
    static const char *const heads[] = {"NAME", "HOME", "ENABLED", "PASSWORD"};
    const json_t *u;
    struct out_table *t;
    json_t *resp;
    size_t i;

    if (cli_fetch(r, "/api/v1/ftp/users", &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    t = out_table_new(4, heads);
    json_array_foreach (json_object_get(resp, "users"), i, u) {
        const json_t *row[4] = {json_object_get(u, "name"), json_object_get(u, "home_directory"),
                                json_object_get(u, "enabled"), NULL};
        json_t *pw = json_string(json_is_true(json_object_get(u, "password_set")) ? "set" : "-");
        row[3] = pw;
        out_table_add_json(t, row);
        json_decref(pw);
    }
    cli_emit_table(r, t);
    json_decref(resp);
    return 0;
}
