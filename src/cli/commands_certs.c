/*
 * commands_certs: the certificates of TLS sites — listed with their expiry
 * and ACME state, renewed on demand — and the warnings `status` shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"

#define RENEW_WAIT_S 120 /* --wait gives the CA this long */

static const json_t *acme_of(const json_t *c)
{
    return json_object_get(c, "acme");
}

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s ? s : "-";
}

void cli_cert_warnings(struct cli_run *r, const json_t *certs)
{
    const json_t *c;
    size_t i;

    json_array_foreach (json_object_get(certs, "certificates"), i, c) {
        const char *w = json_string_value(json_object_get(acme_of(c), "warning"));
        if (w)
            fprintf(r->out, "warning: %s: certificate: %s\n", str(c, "site"), w);
        else if (json_object_get(c, "error"))
            fprintf(r->out, "warning: %s: certificate: %s\n", str(c, "site"), str(c, "error"));
    }
}

static void cert_row(struct out_table *t, const json_t *c)
{
    const json_t *cert = json_object_get(c, "certificate"), *names = json_object_get(cert, "names");
    const json_t *acme = acme_of(c), *n;
    struct buf list = {0};
    size_t i;

    json_array_foreach (names, i, n)
        buf_printf(&list, "%s%s", i ? "," : "", json_string_value(n));
    out_table_add(t, (const char *const[]){str(c, "site"), str(c, "source"),
                                           str(cert, "not_after"),
                                           acme ? str(acme, "status") : "-",
                                           list.len ? cli_buf_str(&list) : "-"});
    buf_free(&list);
}

int cli_cmd_cert_list(struct cli_run *r)
{
    static const char *const heads[] = {"SITE", "SOURCE", "EXPIRES", "STATUS", "NAMES"};
    struct out_table *t;
    const json_t *c;
    json_t *resp;
    size_t i;

    if (cli_fetch(r, "/api/v1/certificates", &resp) < 0)
        return -1;
    if (r->g->json)
        return cli_emit_json(r, resp);
    t = out_table_new(5, heads);
    json_array_foreach (json_object_get(resp, "certificates"), i, c)
        cert_row(t, c);
    cli_emit_table(r, t);
    cli_cert_warnings(r, resp);
    json_decref(resp);
    return 0;
}

/* SITE as a key: "/www/sites/shop" as it is, "shop" under --service (default www). */
static char *cert_site_key(struct cli_run *r, const char *site)
{
    const char *svc = cli_opt(r->args, "service");
    size_t n;
    char *k;

    if (site[0] == '/')
        return xstrdup(site);
    n = strlen(site) + (svc ? strlen(svc) : 3) + 16;
    k = xmalloc(n);
    snprintf(k, n, "/%s/sites/%s", svc ? svc : "www", site);
    return k;
}

static const json_t *find_cert(const json_t *resp, const char *key)
{
    const json_t *c;
    size_t i;

    json_array_foreach (json_object_get(resp, "certificates"), i, c)
        if (strcmp(str(c, "site"), key) == 0)
            return c;
    return NULL;
}

/* The site's ACME counters now: orders made and failures in a row. */
static int acme_counts(struct cli_run *r, const char *key, long long *orders, long long *failures,
                       json_t **resp)
{
    const json_t *a;

    if (cli_fetch(r, "/api/v1/certificates", resp) < 0)
        return -1;
    a = acme_of(find_cert(*resp, key));
    *orders = json_integer_value(json_object_get(a, "orders"));
    *failures = json_integer_value(json_object_get(a, "failures"));
    return 0;
}

static int renew_wait(struct cli_run *r, const char *key, long long orders0, long long fails0)
{
    struct timespec pause = {.tv_nsec = 200 * 1000000L};
    time_t deadline = time(NULL) + RENEW_WAIT_S;
    long long orders, fails;
    json_t *resp = NULL;
    int rc;

    for (;;) {
        nanosleep(&pause, NULL);
        json_decref(resp);
        if (acme_counts(r, key, &orders, &fails, &resp) < 0)
            return -1;
        if (orders > orders0) {
            const json_t *cert = json_object_get(find_cert(resp, key), "certificate");
            fprintf(r->out, "%s: renewed; valid until %s\n", key, str(cert, "not_after"));
            rc = 0;
            break;
        }
        if (fails > fails0) {
            rc = cli_fail(r, CLI_EXIT_API, "acme_failed", "%s: renewal failed: %s", key,
                          str(acme_of(find_cert(resp, key)), "last_error"));
            break;
        }
        if (time(NULL) >= deadline) {
            rc = cli_fail(r, CLI_EXIT_API, "timeout", "%s: no answer from the CA within %d s",
                          key, RENEW_WAIT_S);
            break;
        }
    }
    json_decref(resp);
    return rc;
}

int cli_cmd_cert_renew(struct cli_run *r)
{
    char *key = cert_site_key(r, r->args->pos[0]);
    long long orders = 0, fails = 0;
    json_t *resp = NULL;
    int rc;

    if (cli_flag(r->args, "wait") && acme_counts(r, key, &orders, &fails, &resp) < 0) {
        free(key);
        return -1;
    }
    json_decref(resp);
    rc = cli_send(r, "POST", "/api/v1/certificates/renew", json_pack("{s:s}", "site", key), NULL,
                  &resp);
    json_decref(resp);
    if (rc >= 0 && cli_flag(r->args, "wait"))
        rc = renew_wait(r, key, orders, fails);
    else if (rc >= 0)
        fprintf(r->out, "%s: renewal queued; see infoadm cert list\n", key);
    free(key);
    return rc < 0 ? -1 : 0;
}
