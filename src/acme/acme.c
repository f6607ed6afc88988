/* acme: the ACME thread — which sites need a certificate, when, and installing it. */
#include "acme/acme.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acme/client.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "runtime/tlscert.h"

#define ACME_SITES_MAX 256
#define ACME_BACKOFF_MIN_S 10    /* the first retry of a failed order */
#define ACME_BACKOFF_MAX_S 3600  /* retries never wait longer than this */
#define ACME_IDLE_S 3600         /* the thread looks at the clock at least this often */

enum entry_status { ST_PENDING, ST_ORDERING, ST_VALID, ST_FAILING };

/* One site with tls_acme on: what it wants (from the generation) and where it stands. */
struct entry {
    char key[320];               /* "/www/sites/shop" */
    int slot, service_slot;      /* statistics of the site and its service */
    char **names;                /* host names wanted */
    size_t nnames;
    char *directory, *email, *ca_file, *cert_file, *key_file;
    unsigned char challenges[2];
    size_t nchallenges;
    bool seen;                   /* still in the generation being synced */
    bool http_served;            /* some plain WWW binding could answer HTTP-01 */
    bool have_cert;              /* cert_file holds the CA's certificate */
    struct tls_cert_info info;   /* of cert_file */
    char issued_by[1024];        /* the directory cert_file came from ("" when unknown) */
    bool ordering, force;
    time_t next_at;              /* no attempt before this (backoff, Retry-After) */
    unsigned failures, orders;
    char last_error[800];
    time_t last_error_at, last_issued_at;
    long last_order_ms;
};

static struct {
    struct acme_env env;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool stop;
    bool gen_changed;
    struct entry *e[ACME_SITES_MAX];
    size_t n;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* ---- records ---- */

static void entry_free(struct entry *e)
{
    for (size_t i = 0; i < e->nnames; i++)
        free(e->names[i]);
    free(e->names);
    free(e->directory);
    free(e->email);
    free(e->ca_file);
    free(e->cert_file);
    free(e->key_file);
    free(e);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool same_wants(const struct entry *e, const struct site *s)
{
    const struct site_acme *a = s->tls.acme;

    if (e->nnames != s->nhost_names || !same_str(e->directory, a->directory) ||
        !same_str(e->email, a->email) || !same_str(e->ca_file, a->ca_file) ||
        e->nchallenges != a->nchallenges ||
        memcmp(e->challenges, a->challenges, a->nchallenges) != 0)
        return false;
    for (size_t i = 0; i < e->nnames; i++)
        if (strcmp(e->names[i], s->host_names[i]) != 0)
            return false;
    return true;
}

/* Take the site's wishes; a change of them is worth a new attempt at once. */
static void entry_take(struct entry *e, const struct site *s)
{
    const struct site_acme *a = s->tls.acme;

    if (e->directory && same_wants(e, s))
        return;
    for (size_t i = 0; i < e->nnames; i++)
        free(e->names[i]);
    free(e->names);
    e->names = xcalloc(s->nhost_names, sizeof(char *));
    for (size_t i = 0; i < s->nhost_names; i++)
        e->names[i] = xstrdup(s->host_names[i]);
    e->nnames = s->nhost_names;
    free(e->directory), e->directory = xstrdup(a->directory);
    free(e->email), e->email = dup_or_null(a->email);
    free(e->ca_file), e->ca_file = dup_or_null(a->ca_file);
    free(e->cert_file), e->cert_file = xstrdup(a->cert_file);
    free(e->key_file), e->key_file = xstrdup(a->key_file);
    memcpy(e->challenges, a->challenges, sizeof(e->challenges));
    e->nchallenges = a->nchallenges;
    e->next_at = 0;
}

/* A file beside the certificate: "www-shop.crt" + SUFFIX ".directory" -> "www-shop.directory".
 * .directory: the directory it came from, so a site moved to another CA (staging to
 * production) is ordered again, even across a restart. .retry: a failing site's next
 * attempt, so a server restarted in a loop does not ask a rate-limiting CA early. */
static void sidecar_path(const struct entry *e, const char *suffix, char *out, size_t cap)
{
    size_t n = strlen(e->cert_file);

    snprintf(out, cap, "%.*s%s", (int)(n > 4 ? n - 4 : n), e->cert_file, suffix);
}

static void retry_save(const struct entry *e)
{
    char path[PATH_MAX], line[64];

    sidecar_path(e, ".retry", path, sizeof(path));
    if (e->failures == 0) {
        unlink(path);
        return;
    }
    snprintf(line, sizeof(line), "%lld %u\n", (long long)e->next_at, e->failures);
    if (fs_write_atomic(path, line, strlen(line), 0644) == -1)
        log_warn("acme: %s: cannot keep the next attempt's time in %s", e->key, path);
}

static void retry_load(struct entry *e)
{
    char path[PATH_MAX];
    long long next;
    unsigned failures;
    FILE *f;

    sidecar_path(e, ".retry", path, sizeof(path));
    if ((f = fopen(path, "r")) == NULL)
        return;
    if (fscanf(f, "%lld %u", &next, &failures) == 2 && next > 0 && failures > 0) {
        e->next_at = (time_t)next;
        e->failures = failures;
        snprintf(e->last_error, sizeof(e->last_error),
                 "the last attempt before the restart failed (see the error log)");
    }
    fclose(f);
}

static void entry_read_cert(struct entry *e)
{
    enum tls_pair_fault fault;
    char path[PATH_MAX];
    FILE *f;

    e->have_cert = tls_check_pair(e->cert_file, e->key_file, &fault, NULL, 0) == 0 &&
                   tls_cert_info(e->cert_file, &e->info, NULL, 0) == 0;
    e->issued_by[0] = '\0';
    sidecar_path(e, ".directory", path, sizeof(path));
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(e->issued_by, sizeof(e->issued_by), f) == NULL)
            e->issued_by[0] = '\0';
        e->issued_by[strcspn(e->issued_by, "\n")] = '\0';
        fclose(f);
    }
}

static struct entry *entry_find(const char *key)
{
    for (size_t i = 0; i < M.n; i++)
        if (strcmp(M.e[i]->key, key) == 0)
            return M.e[i];
    return NULL;
}

/* HTTP-01 is answered by plain WWW bindings only; without one it cannot succeed. */
static bool gen_serves_http(const struct gen *g)
{
    for (size_t i = 0; g && i < g->nbindings; i++)
        if (!g->bindings[i].tls && strcmp(g->bindings[i].svc->name, "www") == 0)
            return true;
    return false;
}

/* Records for the ACME sites of the current generation; others are dropped. */
static void sync_sites(void)
{
    struct gen *g = gen_current_ref();
    bool http = gen_serves_http(g);
    char key[320];

    for (size_t i = 0; i < M.n; i++)
        M.e[i]->seen = false;
    for (size_t i = 0; g && i < g->nsites; i++) {
        const struct site *s = &g->sites[i];
        struct entry *e;
        if (s->tls.acme == NULL)
            continue;
        snprintf(key, sizeof(key), "/%s/sites/%s", s->svc->name, s->name);
        if ((e = entry_find(key)) == NULL) {
            if (M.n == ACME_SITES_MAX)
                continue;
            e = M.e[M.n++] = xcalloc(1, sizeof(*e));
            memcpy(e->key, key, sizeof(key));
            e->service_slot = stats_slot(s->svc->name, NULL);
        }
        e->slot = s->stats_slot;
        e->http_served = http;
        if (e->directory == NULL) { /* new: what the last run left */
            entry_take(e, s);
            retry_load(e);
        } else {
            entry_take(e, s);
        }
        if (!e->ordering)
            entry_read_cert(e);
        e->seen = true;
    }
    for (size_t i = 0; i < M.n;)
        if (!M.e[i]->seen && !M.e[i]->ordering) {
            entry_free(M.e[i]);
            M.e[i] = M.e[--M.n];
        } else {
            i++;
        }
    gen_unref(g);
}

/* ---- when ---- */

static time_t renew_at(const struct entry *e)
{
    return e->info.not_before + (e->info.not_after - e->info.not_before) * 2 / 3;
}

static bool covers_names(const struct entry *e)
{
    for (size_t i = 0; i < e->nnames; i++)
        if (!tls_names_cover(e->info.names, e->names[i]))
            return false;
    return true;
}

/* E holds a certificate for all its names from the directory it is set to use. */
static bool cert_current(const struct entry *e)
{
    return e->have_cert && covers_names(e) && strcmp(e->issued_by, e->directory) == 0;
}

/* When E should be ordered next; LONG_MAX never. */
static time_t due_at(const struct entry *e)
{
    time_t need;

    if (!e->seen || e->ordering)
        return LONG_MAX;
    if (e->force)
        return 0;
    need = cert_current(e) ? renew_at(e) : 0;
    return need > e->next_at ? need : e->next_at;
}

static enum entry_status entry_status(const struct entry *e)
{
    if (e->ordering)
        return ST_ORDERING;
    if (e->failures)
        return ST_FAILING;
    return cert_current(e) ? ST_VALID : ST_PENDING;
}

/* ---- one order ---- */

static void account_key_path(const char *directory, char *out, size_t cap)
{
    unsigned char d[32];
    unsigned n;

    EVP_Digest(directory, strlen(directory), d, &n, EVP_sha256(), NULL);
    snprintf(out, cap, "%s/acme/account-%02x%02x%02x%02x%02x%02x%02x%02x.key", M.env.tls_dir, d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
}

/* Write the new pair and make it live: under the API lock, so no compile sees half of it. */
static int install(const struct entry *e, const struct acme_result *r, char *err, size_t errlen)
{
    char by[PATH_MAX], line[1100];
    int rc = -1;

    sidecar_path(e, ".directory", by, sizeof(by));
    snprintf(line, sizeof(line), "%s\n", e->directory);
    M.env.lock();
    if (fs_write_atomic(e->key_file, r->key_pem, strlen(r->key_pem), 0600) == -1 ||
        fs_write_atomic(e->cert_file, r->chain_pem, strlen(r->chain_pem), 0644) == -1 ||
        fs_write_atomic(by, line, strlen(line), 0644) == -1)
        snprintf(err, errlen, "cannot write %.300s: %s", e->cert_file, strerror(errno));
    else if (M.env.apply() == -1)
        snprintf(err, errlen, "the new certificate is stored but the configuration did not apply");
    else
        rc = 0;
    M.env.unlock();
    return rc;
}

static void fmt_time(time_t t, char *out, size_t cap)
{
    if (!clock_iso_format(t, out, cap))
        snprintf(out, cap, "%lld", (long long)t);
}

static void order_done(struct entry *e, uint64_t ms)
{
    char until[32], renew[32];

    entry_read_cert(e);
    e->failures = 0;
    e->last_error[0] = '\0';
    e->next_at = 0;
    retry_save(e);
    e->orders++;
    e->last_issued_at = time(NULL);
    e->last_order_ms = (long)ms;
    stats_add_shared(e->slot, STAT_CERTS_ISSUED, 1);
    stats_add_shared(e->service_slot, STAT_CERTS_ISSUED, 1);
    fmt_time(e->info.not_after, until, sizeof(until));
    fmt_time(renew_at(e), renew, sizeof(renew));
    log_info("acme: %s: certificate for %s issued in %llu ms, valid until %s, renewal at %s",
             e->key, e->info.names, (unsigned long long)ms, until, renew);
}

static void order_failed(struct entry *e, const char *why, long retry_after)
{
    time_t now = time(NULL), wait = ACME_BACKOFF_MIN_S;
    char until[32] = "";

    for (unsigned i = 0; i < e->failures && wait < ACME_BACKOFF_MAX_S; i++)
        wait *= 2;
    if (wait > ACME_BACKOFF_MAX_S)
        wait = ACME_BACKOFF_MAX_S;
    /* A certificate about to expire is worth more attempts than the doubling allows. */
    if (e->have_cert && e->info.not_after > now && (e->info.not_after - now) / 8 < wait)
        wait = (e->info.not_after - now) / 8 > ACME_BACKOFF_MIN_S ? (e->info.not_after - now) / 8
                                                                   : ACME_BACKOFF_MIN_S;
    if (retry_after > wait)
        wait = retry_after;
    e->failures++;
    e->next_at = now + wait;
    stats_add_shared(e->slot, STAT_CERT_FAILURES, 1);
    stats_add_shared(e->service_slot, STAT_CERT_FAILURES, 1);
    retry_save(e);
    e->last_error_at = now;
    snprintf(e->last_error, sizeof(e->last_error), "%s", why);
    if (e->have_cert)
        fmt_time(e->info.not_after, until, sizeof(until));
    log_warnx("acme: %s: %s failed (attempt %u): %s; %s%s; next attempt in %lld s", e->key,
              e->have_cert ? "renewal" : "order", e->failures, why,
              e->have_cert ? "the current certificate expires at " : "serving the placeholder",
              until, (long long)wait);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run E's order without the lock (E stays: an ordering record is never freed). */
static void order(struct entry *e)
{
    char akey[PATH_MAX], dir[PATH_MAX], err[600];
    struct acme_order_req rq = {.directory = e->directory, .ca_file = e->ca_file,
                                .email = e->email, .account_key = akey,
                                .names = (const char *const *)e->names, .nnames = e->nnames,
                                .challenges = e->challenges, .nchallenges = e->nchallenges,
                                .stop = &M.stop, .log_name = e->key};
    struct acme_result r;
    uint64_t t0 = now_ms();
    unsigned char chal[2];
    int rc;

    /* The challenge types this server can answer now, in the site's order. */
    rq.nchallenges = 0;
    for (size_t i = 0; i < e->nchallenges; i++)
        if (e->challenges[i] != ACME_HTTP_01 || e->http_served)
            chal[rq.nchallenges++] = e->challenges[i];
    rq.challenges = chal;

    snprintf(dir, sizeof(dir), "%s/acme", M.env.tls_dir);
    account_key_path(e->directory, akey, sizeof(akey));
    log_info("acme: %s: ordering a certificate for %zu name%s from %s", e->key, e->nnames,
             e->nnames == 1 ? "" : "s", e->directory);
    if (rq.nchallenges == 0) {
        snprintf(r.error, sizeof(r.error), "acme_challenges allows only http-01, and no plain "
                                           "WWW binding of this server could answer it");
        r.retry_after = -1, r.chain_pem = r.key_pem = NULL, rc = -1;
    } else if (fs_mkdir_p(dir, 0700) == -1) {
        snprintf(r.error, sizeof(r.error), "cannot create %.300s: %s", dir, strerror(errno));
        r.retry_after = -1, r.chain_pem = r.key_pem = NULL, rc = -1;
    } else {
        rc = acme_order(&rq, &r);
        if (rc == 0 && install(e, &r, err, sizeof(err)) == -1) {
            snprintf(r.error, sizeof(r.error), "%s", err);
            rc = -1;
        }
    }
    pthread_mutex_lock(&M.lock);
    e->ordering = false;
    if (rc == 0)
        order_done(e, now_ms() - t0);
    else
        order_failed(e, r.error, r.retry_after);
    pthread_mutex_unlock(&M.lock);
    free(r.chain_pem);
    if (r.key_pem)
        OPENSSL_cleanse(r.key_pem, strlen(r.key_pem));
    free(r.key_pem);
}

/* ---- the thread ---- */

static struct entry *next_due(time_t now, time_t *wake)
{
    struct entry *best = NULL;
    time_t t;

    *wake = now + ACME_IDLE_S;
    for (size_t i = 0; i < M.n; i++) {
        t = due_at(M.e[i]);
        if (t <= now && (best == NULL || t < due_at(best)))
            best = M.e[i];
        else if (t > now && t < *wake)
            *wake = t;
    }
    return best;
}

static void *acme_main(void *arg)
{
    struct entry *e;
    struct timespec until;
    time_t wake;

    (void)arg;
    pthread_mutex_lock(&M.lock);
    while (!atomic_load(&M.stop)) {
        if (M.gen_changed) {
            M.gen_changed = false;
            sync_sites();
            continue;
        }
        if ((e = next_due(time(NULL), &wake)) != NULL) {
            e->ordering = true;
            e->force = false;
            pthread_mutex_unlock(&M.lock);
            order(e);
            pthread_mutex_lock(&M.lock);
            continue;
        }
        until = (struct timespec){.tv_sec = wake};
        pthread_cond_timedwait(&M.wake, &M.lock, &until);
    }
    pthread_mutex_unlock(&M.lock);
    return NULL;
}

int acme_start(const struct acme_env *env)
{
    pthread_condattr_t ca;

    M.env = *env;
    M.gen_changed = true;
    atomic_store(&M.stop, false);
    /* the wait uses the wall clock: due times are wall-clock instants */
    pthread_condattr_init(&ca);
    pthread_cond_init(&M.wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&M.thread, NULL, acme_main, NULL) != 0)
        return -1;
    M.running = true;
    return 0;
}

void acme_notify(void)
{
    pthread_mutex_lock(&M.lock);
    M.gen_changed = true;
    pthread_cond_signal(&M.wake);
    pthread_mutex_unlock(&M.lock);
}

void acme_stop(void)
{
    if (!M.running)
        return;
    pthread_mutex_lock(&M.lock);
    atomic_store(&M.stop, true);
    pthread_cond_signal(&M.wake);
    pthread_mutex_unlock(&M.lock);
    pthread_join(M.thread, NULL);
    M.running = false;
    for (size_t i = 0; i < M.n; i++)
        entry_free(M.e[i]);
    M.n = 0;
}

int acme_renew(const char *key, char *err, size_t errlen)
{
    struct entry *e;
    int rc = -1;

    pthread_mutex_lock(&M.lock);
    if ((e = entry_find(key)) != NULL && e->seen) {
        e->force = true;
        pthread_cond_signal(&M.wake);
        rc = 0;
    } else {
        snprintf(err, errlen, "%s does not have tls_acme on (or has a tls_certificate_file of its own)",
                 key);
    }
    pthread_mutex_unlock(&M.lock);
    return rc;
}

/* ---- what the API shows ---- */

static json_t *time_json(time_t t)
{
    char s[32];

    if (t <= 0)
        return json_null();
    fmt_time(t, s, sizeof(s));
    return json_string(s);
}

static json_t *names_json(const char *names)
{
    json_t *a = json_array();

    for (const char *p = names; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, len));
        p += len + (end != NULL);
    }
    return a;
}

static json_t *cert_json(const char *file, const struct tls_cert_info *info)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:I}", "file", file, "subject", info->subject,
                     "issuer", info->issuer, "names", names_json(info->names), "not_before",
                     time_json(info->not_before), "not_after", time_json(info->not_after),
                     "expires_in", (json_int_t)(info->not_after - time(NULL)));
}

static const char *status_names[] = {"pending", "ordering", "valid", "failing"};

/* A warning an administrator must see: the CA refuses and time is running out (or none came). */
static json_t *entry_warning(const struct entry *e)
{
    char s[1000];

    if (e->failures == 0)
        return NULL;
    if (!e->have_cert)
        snprintf(s, sizeof(s), "no certificate from the CA yet (%u failed attempt%s): %s",
                 e->failures, e->failures == 1 ? "" : "s", e->last_error);
    else
        snprintf(s, sizeof(s), "renewal failing (%u attempt%s), the certificate expires in %lld s: %s",
                 e->failures, e->failures == 1 ? "" : "s",
                 (long long)(e->info.not_after - time(NULL)), e->last_error);
    return json_string(s);
}

static json_t *entry_json(const struct entry *e)
{
    json_t *j = json_pack("{s:s,s:s,s:o,s:o,s:i,s:i,s:o,s:o,s:o}", "directory", e->directory,
                          "status", status_names[entry_status(e)], "renew_at",
                          e->have_cert ? time_json(renew_at(e)) : json_null(), "next_attempt",
                          time_json(due_at(e) == LONG_MAX ? 0 : due_at(e)), "failures",
                          (int)e->failures, "orders", (int)e->orders, "last_error",
                          e->last_error[0] ? json_string(e->last_error) : json_null(),
                          "last_error_at", time_json(e->last_error_at), "last_issued_at",
                          time_json(e->last_issued_at));
    json_t *w = entry_warning(e);

    if (e->last_order_ms)
        json_object_set_new(j, "last_order_ms", json_integer(e->last_order_ms));
    if (w)
        json_object_set_new(j, "warning", w);
    return j;
}

static const char *source_of(const struct site *s, const struct tls_cert_info *info)
{
    if (s->tls.acme)
        return s->tls.acme->issued ? "acme" : "placeholder";
    return info->self_signed ? "self-signed" : "file";
}

static json_t *site_cert_json(const struct site *s)
{
    struct tls_cert_info info;
    char key[320], why[300];
    json_t *hosts = json_array(), *j;
    const struct entry *e;

    snprintf(key, sizeof(key), "/%s/sites/%s", s->svc->name, s->name);
    for (size_t i = 0; i < s->nhost_names; i++)
        json_array_append_new(hosts, json_string(s->host_names[i]));
    j = json_pack("{s:s,s:s,s:s,s:o}", "site", key, "service", s->svc->name, "name", s->name,
                  "host_names", hosts);
    if (tls_cert_info(s->tls.cert_file, &info, why, sizeof(why)) == 0) {
        json_object_set_new(j, "source", json_string(source_of(s, &info)));
        json_object_set_new(j, "certificate", cert_json(s->tls.cert_file, &info));
    } else {
        json_object_set_new(j, "source", json_string(s->tls.acme ? "placeholder" : "file"));
        json_object_set_new(j, "error", json_string(why));
    }
    if ((e = s->tls.acme ? entry_find(key) : NULL) != NULL)
        json_object_set_new(j, "acme", entry_json(e));
    return j;
}

json_t *acme_certificates_json(void)
{
    struct gen *g = gen_current_ref();
    json_t *list = json_array();

    pthread_mutex_lock(&M.lock);
    for (size_t i = 0; g && i < g->nsites; i++)
        if (g->sites[i].tls.ctx != NULL)
            json_array_append_new(list, site_cert_json(&g->sites[i]));
    pthread_mutex_unlock(&M.lock);
    gen_unref(g);
    return json_pack("{s:o}", "certificates", list);
}
