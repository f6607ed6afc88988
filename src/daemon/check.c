/* check: infosrv --check, one line per finding. */
#include "daemon/check.h"

#include <limits.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "farm/farm.h"
#include "metabase/mb.h"
#include "runtime/config.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/tlscert.h"

struct findings {
    unsigned errors, warnings;
};

static void say(struct findings *f, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct findings *f, const char *level, const char *fmt, ...)
{
    va_list ap;

    if (strcmp(level, "error") == 0)
        f->errors++;
    else if (strcmp(level, "warning") == 0)
        f->warnings++;
    printf("%s: ", level);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void check_integrity(struct findings *f, struct mb *mb, const char *path)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *r = NULL;

    if (sqlite3_prepare_v2(mb_db(mb), "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        r = sqlite3_column_text(st, 0);
    if (r && strcmp((const char *)r, "ok") == 0)
        say(f, "ok", "metabase %s: revision %llu, integrity ok", path,
            (unsigned long long)mb_revision(mb));
    else
        say(f, "error", "metabase %s: SQLite's integrity check says: %s (restore a backup: "
                        "infoadm restore)", path, r ? (const char *)r : sqlite3_errmsg(mb_db(mb)));
    sqlite3_finalize(st);
}

/* GENERATED: the pair is infosrv's own self-signed one, which the next start remakes. */
static void check_cert(struct findings *f, const char *what, const char *cert, const char *key,
                       bool generated)
{
    struct tls_cert_info info;
    enum tls_pair_fault fault;
    char why[600], until[32];
    time_t now = time(NULL);

    if (tls_check_pair(cert, key, &fault, why, sizeof(why)) == -1 ||
        tls_cert_info(cert, &info, why, sizeof(why)) == -1) {
        if (generated)
            say(f, "warning", "%s: the generated certificate is missing or unusable (%s); the "
                              "next start makes a new one", what, why);
        else
            say(f, "error", "%s: %s", what, why);
        return;
    }
    clock_iso_format(info.not_after, until, sizeof(until));
    if (info.not_after <= now)
        say(f, "error", "%s: the certificate %s expired at %s", what, cert, until);
    else if (info.not_after - now < CHECK_EXPIRY_DAYS * 86400)
        say(f, "warning", "%s: the certificate %s expires at %s, in less than %d days", what,
            cert, until, CHECK_EXPIRY_DAYS);
    else
        say(f, "ok", "%s: certificate %s (%s), valid until %s", what, cert,
            info.self_signed ? "self-signed" : info.issuer, until);
}

static void check_sites(struct findings *f, const struct gen *g)
{
    char what[320];

    for (size_t i = 0; i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        if (s->tls.cert_file == NULL)
            continue;
        snprintf(what, sizeof(what), "/%s/sites/%s", s->svc->name, s->name);
        if (s->tls.acme && !s->tls.acme->issued)
            say(f, "warning", "%s: tls_acme is on but no certificate from %s is stored yet; "
                              "the placeholder is served", what, s->tls.acme->directory);
        check_cert(f, what, s->tls.cert_file, s->tls.key_file, s->tls.generated);
    }
}

/* The farm settings of the machine key; etcd itself is not asked (nothing blocks here). */
static void check_farm(struct findings *f, struct mb *mb)
{
    json_t *machine = mb_effective(mb, "/");
    char member[64], why[400];
    int rc = machine ? farm_settings(machine, member, why, sizeof(why)) : 1;

    if (rc == -1)
        say(f, "error", "%s", why);
    else if (rc == 0)
        say(f, "ok", "farm member %s of farm %s (etcd is not asked)", member,
            json_string_value(json_object_get(machine, "farm_name")));
    json_decref(machine);
}

int check_state_dir(const char *state_dir, unsigned nworkers)
{
    char path[PATH_MAX], tls_dir[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
    struct config_env env = {.nworkers = nworkers, .tls_dir = tls_dir, .read_only = true};
    struct findings f = {0};
    struct mb_error err = {0};
    struct mb *mb;
    struct gen *g;

    snprintf(path, sizeof(path), "%s/metabase.db", state_dir);
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", state_dir);
    printf("infosrv: checking %s\n", state_dir);
    if (access(path, F_OK) == -1) {
        say(&f, "error", "%s: no metabase (the first start creates it)", path);
    } else if (mb_open(&mb, path, &err) == -1) {
        say(&f, "error", "metabase %s: %s", path, err.message);
    } else {
        check_integrity(&f, mb, path);
        check_farm(&f, mb);
        stats_init(nworkers);
        if ((g = config_compile(mb, &env, &err)) == NULL) {
            say(&f, "error", "configuration: %s", err.message);
        } else {
            say(&f, "ok", "configuration compiles: %zu site%s", g->nsites,
                g->nsites == 1 ? "" : "s");
            check_sites(&f, g);
            gen_unref(g);
        }
        mb_close(mb);
    }
    snprintf(crt, sizeof(crt), "%s/admin.crt", state_dir);
    snprintf(key, sizeof(key), "%s/admin.key", state_dir);
    if (access(crt, F_OK) == 0)
        check_cert(&f, "admin listener", crt, key, true);
    printf("infosrv: %u error%s, %u warning%s\n", f.errors, f.errors == 1 ? "" : "s", f.warnings,
           f.warnings == 1 ? "" : "s");
    return f.errors ? 1 : 0;
}
