/*
 * commands_server: the inventory — server add (which contacts the server and
 * pins an HTTPS server's key), list and remove. Runs without -s.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/pin.h"
#include "core/alloc.h"

/* unix:PATH with PATH made absolute, so the entry works from any directory. */
static char *absolute_unix(const char *url)
{
    char cwd[PATH_MAX], *s;
    size_t n;

    if (url[5] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return xstrdup(url);
    n = strlen(cwd) + strlen(url) + 2;
    s = xmalloc(n);
    snprintf(s, n, "unix:%s/%s", cwd, url + 5);
    return s;
}

/* The server record for NAME URL from the command line. */
static int new_server(struct cli_run *r, struct cli_server *s)
{
    const char *tok = cli_opt(r->args, "token"), *file = cli_opt(r->args, "token-file");
    char *url;

    if (tok != NULL && file != NULL)
        return cli_usage(r, "give --token or --token-file, not both");
    if (cli_url_norm(r->args->pos[1], &url, &r->err) < 0)
        return -1;
    s->url = cli_url_is_https(url) ? url : absolute_unix(url);
    if (s->url != url)
        free(url);
    s->name = xstrdup(r->args->pos[0]);
    s->cacert = cli_opt(r->args, "cacert") != NULL ? xstrdup(cli_opt(r->args, "cacert")) : NULL;
    if (tok != NULL)
        s->token = xstrdup(tok);
    else if (file != NULL && cli_token_from_file(file, &s->token, &r->err) < 0)
        return -1;
    return 0;
}

static int check_new_name(struct cli_run *r, const char *name)
{
    struct inv_server e;

    if (!inv_name_valid(name))
        return cli_usage(r, "invalid server name '%s': use letters, digits, '.', '_' and '-'",
                         name);
    if (inv_find(r->inv, name, &e) == 0)
        return cli_fail(r, CLI_EXIT_USAGE, "server_exists",
                        "server '%s' is already in %s (remove it first to change it)", name,
                        r->inv->path);
    return 0;
}

/* Contact the server: learn the pin (HTTPS without a CA) and check GET /api with the token. */
static int contact(struct cli_run *r, struct cli_conn *c)
{
    char pin[PIN_LEN + 1];

    if (cli_url_is_https(c->srv.url) && c->srv.cacert == NULL) {
        if (cli_fetch_pin(&c->srv, pin, sizeof(pin), &r->err) < 0)
            return -1;
        c->srv.pin = xstrdup(pin);
    }
    c->quiet_tofu = true;
    return cli_api(c, &r->err) != NULL ? 0 : -1;
}

static void report_added(struct cli_run *r, const struct cli_conn *c)
{
    char prod[200];

    cli_server_product(c, prod, sizeof(prod));
    if (r->g->json) {
        cli_emit_json(r,
                      json_pack("{s:s,s:s,s:s?,s:s?,s:O}", "name", c->srv.name, "url", c->srv.url,
                                "pin", c->srv.pin, "cacert", c->srv.cacert, "api", c->api));
        return;
    }
    fprintf(r->out, "added %s: %s at %s\n", c->srv.name, prod, c->srv.url);
    if (c->srv.pin != NULL)
        fprintf(r->out, "pinned its certificate key %s\n", c->srv.pin);
}

int cli_cmd_server_add(struct cli_run *r)
{
    struct cli_server s = {0};
    struct cli_conn c = {0};
    struct inv_server e;
    int rc = -1;

    if (check_new_name(r, r->args->pos[0]) < 0 || new_server(r, &s) < 0) {
        cli_server_free(&s);
        return -1;
    }
    cli_conn_init(&c, &s, NULL);
    if (contact(r, &c) < 0)
        goto done;
    e = (struct inv_server){.name = c.srv.name,
                            .url = c.srv.url,
                            .token = c.srv.token,
                            .pin = c.srv.pin,
                            .cacert = c.srv.cacert};
    if (inv_add(r->inv, &e, &r->err) < 0 || inv_save(r->inv, &r->err) < 0)
        goto done;
    report_added(r, &c);
    rc = 0;
done:
    cli_conn_free(&c);
    return rc;
}

static const char *key_cell(const struct inv_server *e)
{
    if (e->cacert != NULL)
        return "(CA)";
    if (e->pin != NULL)
        return e->pin;
    return strncmp(e->url, "https://", 8) == 0 ? "(not pinned yet)" : "-";
}

int cli_cmd_server_list(struct cli_run *r)
{
    size_t n;
    const char **names = inv_names(r->inv, &n);
    struct out_table *t = out_table_new(4, (const char *[]){"NAME", "URL", "TOKEN", "KEY"});
    json_t *json = json_object();
    struct inv_server e;

    for (size_t i = 0; i < n; i++) {
        inv_find(r->inv, names[i], &e);
        out_table_add(
            t, (const char *[]){e.name, e.url, e.token != NULL ? "yes" : "no", key_cell(&e)});
        /* Never print tokens, not even under --json. */
        json_object_set_new(json, e.name,
                            json_pack("{s:s,s:b,s:s?,s:s?}", "url", e.url, "token", e.token != NULL,
                                      "pin", e.pin, "cacert", e.cacert));
    }
    free(names);
    if (r->g->json) {
        out_table_free(t);
        return cli_emit_json(r, json_pack("{s:o}", "servers", json));
    }
    json_decref(json);
    cli_emit_table(r, t);
    return 0;
}

int cli_cmd_server_remove(struct cli_run *r)
{
    if (inv_remove(r->inv, r->args->pos[0], &r->err) < 0 || inv_save(r->inv, &r->err) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, json_pack("{s:s}", "removed", r->args->pos[0]));
    fprintf(r->out, "removed %s from %s\n", r->args->pos[0], r->inv->path);
    return 0;
}
