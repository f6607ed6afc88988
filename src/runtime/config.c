/* config: compiling the metabase into generations. */
#include "runtime/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/net.h"
#include "runtime/service.h"
#include "runtime/stats.h"
#include "runtime/tbucket.h"
#include "runtime/tls.h"
#include "runtime/tlscert.h"

#define KEY_BUF 512 /* the metabase bounds key paths to 255 bytes */

/* ---- compiling ---- */

struct cc {
    struct mb *mb;
    const struct config_env *env;
    struct mb_error *err;
    const struct service *svc;
    struct gen *live; /* the generation being replaced (a reference), or NULL */
    json_t *overrides; /* the machine's binding_overrides */
};

static const struct config_name symlink_names[] = {{"inside", PATH_SYMLINKS_INSIDE},
                                                  {"never", PATH_SYMLINKS_NEVER},
                                                  {"any", PATH_SYMLINKS_ANY},
                                                  {NULL, 0}};
static const struct config_name state_names[] = {{"started", SITE_STARTED},
                                                {"stopped", SITE_STOPPED},
                                                {"paused", SITE_PAUSED},
                                                {NULL, 0}};
static const struct config_name format_names[] = {
    {"w3c", ALOG_W3C}, {"ncsa", ALOG_NCSA}, {"sqlite", ALOG_SQLITE}, {NULL, 0}};
static const struct config_name period_names[] = {{"hourly", ALOG_HOURLY},
                                                 {"daily", ALOG_DAILY},
                                                 {"weekly", ALOG_WEEKLY},
                                                 {"monthly", ALOG_MONTHLY},
                                                 {"size", ALOG_SIZE},
                                                 {"none", ALOG_PERIOD_NONE},
                                                 {NULL, 0}};
static const struct config_name protocol_names[] = {{"tls1.2", TLS_PROTO_12},
                                                   {"tls1.3", TLS_PROTO_13},
                                                   {NULL, 0}};
/* Boolean properties that set a bit. */
static const struct config_name access_props[] = {{"access_read", VDIR_READ},
                                                 {"access_write", VDIR_WRITE},
                                                 {"access_execute", VDIR_EXECUTE},
                                                 {"access_script", VDIR_SCRIPT},
                                                 {NULL, 0}};

int64_t config_int(const json_t *eff, const char *name)
{
    return json_integer_value(json_object_get(eff, name));
}

const char *config_str(const json_t *eff, const char *name)
{
    const char *s = json_string_value(json_object_get(eff, name));

    return s ? s : "";
}

unsigned config_flags_of(const json_t *eff, const struct config_name *t)
{
    unsigned flags = 0;

    for (; t->name; t++)
        if (json_is_true(json_object_get(eff, t->name)))
            flags |= t->value;
    return flags;
}

static int value_of(const char *s, const struct config_name *t, unsigned *out)
{
    for (; t->name; t++) {
        if (strcmp(t->name, s) == 0) {
            *out = t->value;
            return 0;
        }
    }
    return -1;
}

unsigned config_value(const json_t *eff, const char *name, const struct config_name *t)
{
    unsigned v = 0;

    return value_of(config_str(eff, name), t, &v) == 0 ? v : 0;
}

static int enum_of(struct cc *c, const json_t *eff, const char *key, const char *name,
                   const struct config_name *t, unsigned *out)
{
    const char *s = config_str(eff, name);

    if (value_of(s, t, out) == 0)
        return 0;
    return mb_fail(c->err, MB_E_APPLY_FAILED, key, name, "%s: %s \"%s\" is not supported", key,
                   name, s);
}

/* A bucket of RATE bytes a second (NULL for 0): the one LIVE has when its rate is the
 * same, so that a change of anything else leaves transfers their place. */
static struct tbucket *bucket_for(int64_t rate, struct tbucket *live)
{
    if (rate <= 0)
        return NULL;
    if (live && live->rate == (uint64_t)rate) {
        tbucket_ref(live);
        return live;
    }
    return tbucket_new((uint64_t)rate, tbucket_now());
}

/* The site of the live generation that S replaces: same service, same name. */
static const struct site *live_site(const struct cc *c, const struct site *s)
{
    for (size_t i = 0; c->live && i < c->live->nsites; i++)
        if (c->live->sites[i].svc == s->svc && strcmp(c->live->sites[i].name, s->name) == 0)
            return &c->live->sites[i];
    return NULL;
}

static int compile_machine(struct cc *c, struct gen *g)
{
    json_t *eff = mb_effective(c->mb, "/");

    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, "/", NULL, "the machine key / cannot be read");
    g->cache_bytes = (uint64_t)config_int(eff, "cache_size");
    g->cache_valid_ms = (uint32_t)config_int(eff, "cache_revalidate");
    g->zcache_bytes = (uint64_t)config_int(eff, "compression_cache_size");
    g->bw = bucket_for(config_int(eff, "bandwidth_limit"), c->live ? c->live->bw : NULL);
    g->bw_any = g->bw != NULL;
    c->overrides = json_incref(json_object_get(eff, "binding_overrides"));
    json_decref(eff);
    return 0;
}

int config_binding_override(const json_t *overrides, struct net_addr *addr)
{
    const char *from, *why;
    json_t *to;
    struct net_addr a;

    json_object_foreach ((json_t *)(uintptr_t)overrides, from, to) {
        if (net_parse_addr(from, &a, &why) == 0 && net_addr_eq(&a, addr)) {
            if (!json_is_string(to) || net_parse_addr(json_string_value(to), &a, &why) == -1)
                return -1;
            *addr = a;
            return 1;
        }
    }
    return 0;
}

static int site_bindings(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "bindings"), *v;
    size_t i;

    if (json_array_size(list) == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                       "site %s has no bindings: it would listen nowhere", key);
    s->bindings = xcalloc(json_array_size(list), sizeof(*s->bindings));
    json_array_foreach (list, i, v) {
        const char *addr = json_string_value(v), *why = "not a string";
        struct site_binding *b = &s->bindings[i];
        if (addr == NULL || net_parse_binding(addr, &b->addr, &b->tls, &why) == -1)
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                           "site %s: binding \"%s\" is invalid: %s", key, addr ? addr : "?",
                           why ? why : "bad address");
        if (b->tls && strncmp(addr, c->svc->tls_scheme, strlen(c->svc->tls_scheme)) != 0)
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                           "site %s: binding \"%s\": a TLS binding of the %s service is written "
                           "%sADDR:PORT", key, addr, c->svc->name, c->svc->tls_scheme);
        if (config_binding_override(c->overrides, &b->addr) == -1)
            return mb_fail(c->err, MB_E_APPLY_FAILED, "/", "binding_overrides",
                           "binding_overrides: the address binding \"%s\" maps to is invalid",
                           addr);
        s->nbindings++;
    }
    return 0;
}

static void site_host_names(struct site *s, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "host_names"), *v;
    size_t i;

    s->host_names = xcalloc(json_array_size(list) + 1, sizeof(char *));
    json_array_foreach (list, i, v) {
        char *h = xstrdup(json_string_value(v));
        for (char *p = h; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        s->host_names[s->nhost_names++] = h;
    }
}

static int site_settings(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    const struct site *live = live_site(c, s);
    unsigned state;

    s->idle_timeout_ms = (uint32_t)config_int(eff, "connection_timeout") * 1000;
    s->max_connections = (uint32_t)config_int(eff, "max_connections");
    s->require_tls = json_is_true(json_object_get(eff, "require_tls"));
    s->bw = bucket_for(config_int(eff, "max_bandwidth"), live ? live->bw : NULL);
    site_host_names(s, eff);
    if (enum_of(c, eff, key, "state", state_names, &state) == -1)
        return -1;
    s->state = (enum site_state)state;
    return 0;
}

static bool site_has_tls(const struct site *s)
{
    for (size_t i = 0; i < s->nbindings; i++)
        if (s->bindings[i].tls)
            return true;
    return false;
}

/* The pair a site without a certificate of its own is served with:
 * generated into the state directory on first use, kept afterwards. */
static int site_generated_cert(struct cc *c, struct site *s, const char *key)
{
    char cert[PATH_MAX], pkey[PATH_MAX], san[1200], why[300];
    const char *cn = s->nhost_names ? s->host_names[0] : "localhost";
    size_t used = 0;
    int rc;

    if (c->env->tls_dir == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_certificate_file",
                       "%s: a TLS binding needs tls_certificate_file and tls_key_file", key);
    snprintf(cert, sizeof(cert), "%s/%s-%s.crt", c->env->tls_dir, c->svc->name, s->name);
    snprintf(pkey, sizeof(pkey), "%s/%s-%s.key", c->env->tls_dir, c->svc->name, s->name);
    for (size_t i = 0; i < s->nhost_names && used < sizeof(san) - 300; i++)
        used += (size_t)snprintf(san + used, sizeof(san) - used, "DNS:%s,", s->host_names[i]);
    snprintf(san + used, sizeof(san) - used, "DNS:localhost,IP:127.0.0.1,IP:::1");
    s->tls.generated = true;
    if (c->env->read_only) { /* --check looks, the next start generates */
        s->tls.cert_file = xstrdup(cert);
        s->tls.key_file = xstrdup(pkey);
        return 0;
    }
    if (fs_mkdir_p(c->env->tls_dir, 0700) == -1 ||
        (rc = tls_ensure_cert_named(cert, pkey, cn, san, why, sizeof(why))) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_certificate_file",
                       "%s: cannot generate a certificate in %s: %s", key, c->env->tls_dir,
                       errno ? strerror(errno) : why);
    if (rc == 1)
        log_info("tls: site %s has no tls_certificate_file; serving the self-signed %s", key,
                 cert);
    s->tls.cert_file = xstrdup(cert);
    s->tls.key_file = xstrdup(pkey);
    return 0;
}

static int site_protocols(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "tls_protocols"), *v;
    unsigned bit;
    size_t i;

    s->tls.protocols = 0;
    json_array_foreach (list, i, v) {
        if (value_of(json_string_value(v), protocol_names, &bit) == -1)
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_protocols",
                           "%s: tls_protocols \"%s\" is not supported", key, json_string_value(v));
        s->tls.protocols |= bit;
    }
    if (s->tls.protocols == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_protocols",
                       "%s: tls_protocols is empty: its TLS bindings would accept no client",
                       key);
    return 0;
}

static const struct config_name challenge_names[] = {{"http-01", ACME_HTTP_01},
                                                    {"tls-alpn-01", ACME_TLS_ALPN_01},
                                                    {NULL, 0}};

static char *config_strdup_or_null(const json_t *eff, const char *name)
{
    const char *v = json_string_value(json_object_get(eff, name));

    return v && *v ? xstrdup(v) : NULL;
}

/* The CA's certificate when it is there, still valid and matches its key. */
static bool acme_cert_usable(const struct site_acme *a)
{
    struct tls_cert_info info;
    enum tls_pair_fault fault;

    return access(a->cert_file, F_OK) == 0 &&
           tls_check_pair(a->cert_file, a->key_file, &fault, NULL, 0) == 0 &&
           tls_cert_info(a->cert_file, &info, NULL, 0) == 0 && info.not_after > time(NULL);
}

static int acme_settings(struct cc *c, struct site_acme *a, const char *key, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "acme_challenges"), *v;
    unsigned t;
    size_t i;

    json_array_foreach (list, i, v)
        if (value_of(json_string_value(v), challenge_names, &t) == 0 &&
            a->nchallenges < sizeof(a->challenges) && memchr(a->challenges, (int)t,
                                                              a->nchallenges) == NULL)
            a->challenges[a->nchallenges++] = (unsigned char)t;
    if (a->nchallenges == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "acme_challenges",
                       "%s: acme_challenges is empty: the CA could not validate the site", key);
    if (a->directory == NULL || strncmp(a->directory, "https://", 8) != 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "acme_directory",
                       "%s: tls_acme is on but acme_directory %s%s%s", key,
                       a->directory ? "\"" : "is not set", a->directory ? a->directory : "",
                       a->directory ? "\" is not an https:// URL" : "");
    return 0;
}

/* tls_acme on: the CA's certificate once it is there, a self-signed placeholder until then. */
static int site_acme(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    struct site_acme *a = xcalloc(1, sizeof(*a));
    char path[PATH_MAX];

    s->tls.acme = a;
    a->directory = config_strdup_or_null(eff, "acme_directory");
    a->email = config_strdup_or_null(eff, "acme_email");
    a->ca_file = config_strdup_or_null(eff, "acme_ca_certificate");
    if (acme_settings(c, a, key, eff) == -1)
        return -1;
    if (s->nhost_names == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "host_names",
                       "%s: tls_acme is on but host_names is empty: the CA certifies names", key);
    if (c->env->tls_dir == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_acme",
                       "%s: tls_acme needs a state directory to keep certificates in", key);
    snprintf(path, sizeof(path), "%s/acme/%s-%s.crt", c->env->tls_dir, c->svc->name, s->name);
    a->cert_file = xstrdup(path);
    snprintf(path, sizeof(path), "%s/acme/%s-%s.key", c->env->tls_dir, c->svc->name, s->name);
    a->key_file = xstrdup(path);
    if (!acme_cert_usable(a))
        return site_generated_cert(c, s, key);
    a->issued = true;
    s->tls.cert_file = xstrdup(a->cert_file);
    s->tls.key_file = xstrdup(a->key_file);
    return 0;
}

static int site_tls(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    bool acme = strcmp(config_str(eff, "tls_acme"), "on") == 0;
    const char *cert = json_string_value(json_object_get(eff, "tls_certificate_file"));
    const char *pkey = json_string_value(json_object_get(eff, "tls_key_file"));
    static const char *const fault_prop[] = {"tls_certificate_file", "tls_key_file", "tls_key_file"};
    enum tls_pair_fault fault;
    char why[600];

    if (acme && !site_has_tls(s) && !s->tls_wanted)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_acme",
                       "%s: tls_acme is on but the site has no %s binding to serve a "
                       "certificate on", key, s->svc->tls_scheme);
    if (!site_has_tls(s) && !s->tls_wanted)
        return 0;
    if ((cert == NULL) != (pkey == NULL))
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, cert ? "tls_key_file" : "tls_certificate_file",
                       "%s: tls_certificate_file and tls_key_file go together; %s is missing", key,
                       cert ? "tls_key_file" : "tls_certificate_file");
    if (site_protocols(c, s, key, eff) == -1)
        return -1;
    if (cert == NULL && acme) {
        if (site_acme(c, s, key, eff) == -1)
            return -1;
    } else if (cert == NULL) {
        if (site_generated_cert(c, s, key) == -1)
            return -1;
    } else if (tls_check_pair(cert, pkey, &fault, why, sizeof(why)) == -1) {
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, fault_prop[fault], "%s: %s: %s", key,
                       fault_prop[fault], why);
    } else {
        s->tls.cert_file = xstrdup(cert);
        s->tls.key_file = xstrdup(pkey);
    }
    if (c->env->read_only)
        return 0;
    s->tls.ctx = tls_ctx_new(s->tls.cert_file, s->tls.key_file, s->tls.protocols, s->svc, why,
                             sizeof(why));
    if (s->tls.ctx == NULL && s->tls.acme && s->tls.acme->issued) {
        /* What a CA sent must never stop the configuration from applying. */
        log_warnx("acme: %s: %s; serving the placeholder", key, why);
        s->tls.acme->issued = false;
        free(s->tls.cert_file), s->tls.cert_file = NULL;
        free(s->tls.key_file), s->tls.key_file = NULL;
        if (site_generated_cert(c, s, key) == -1)
            return -1;
        s->tls.ctx = tls_ctx_new(s->tls.cert_file, s->tls.key_file, s->tls.protocols, s->svc, why,
                                 sizeof(why));
    }
    if (s->tls.ctx == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "tls_certificate_file", "%s: %s", key, why);
    return 0;
}

static int site_log(struct cc *c, struct site *s, const char *key, const json_t *eff)
{
    struct alog_config cfg = {.max_size = (uint64_t)config_int(eff, "log_size"),
                              .nworkers = c->env->nworkers, .service = c->svc->name,
                              .site = s->name,
                              .keep_periods = (unsigned)config_int(eff, "log_keep_periods")};
    const char *why = NULL;
    unsigned format, period;

    s->alog = NULL;
    if (strcmp(config_str(eff, "log_format"), "none") == 0 || c->env->alog_for == NULL)
        return 0;
    if (enum_of(c, eff, key, "log_format", format_names, &format) == -1 ||
        enum_of(c, eff, key, "log_period", period_names, &period) == -1)
        return -1;
    cfg.format = (enum alog_format)format;
    cfg.period = (enum alog_period)period;
    s->alog = c->env->alog_for(c->env->alog_arg, c->svc->name, s->name, &cfg, &why);
    if (s->alog == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "log_format",
                       "site %s: the access log cannot be opened: %s", key,
                       why ? why : "unknown error");
    return 0;
}

/* Whether the symbolic link PATH, the implicit subdirectory of PARENT, may be
 * followed under POLICY: the vdir opens it directly, so the policy the parent
 * would have applied to it is checked here. */
static bool link_allowed(const char *path, const char *parent, enum path_symlinks policy)
{
    char *target, *base;
    bool ok;

    if (policy == PATH_SYMLINKS_ANY)
        return true;
    if (policy == PATH_SYMLINKS_NEVER)
        return false;
    target = realpath(path, NULL);
    base = realpath(parent, NULL);
    ok = target && base && strncmp(target, base, strlen(base)) == 0 &&
         (target[strlen(base)] == '/' || strcmp(base, "/") == 0);
    free(target);
    free(base);
    return ok;
}

/* Headers the encoder owns, or that a site must not send twice. */
static const char *const framing_headers[] = {"content-length", "transfer-encoding", "connection",
                                              "keep-alive", "upgrade", "date", "server",
                                              "content-range", "trailer", NULL};

static bool header_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* http_headers as ready header lines; a name or value that would break the framing is refused. */
static int vdir_headers(struct cc *c, struct vdir *v, const char *key, const json_t *eff)
{
    const json_t *map = json_object_get(eff, "http_headers"), *val;
    struct buf b = {0};
    const char *name;

    json_object_foreach ((json_t *)(uintptr_t)map, name, val) {
        const char *text = json_string_value(val);
        bool framing = false;
        for (size_t i = 0; framing_headers[i]; i++)
            framing |= strcasecmp(name, framing_headers[i]) == 0;
        if (!header_token(name) || framing || text == NULL || !header_value_ok(text)) {
            buf_free(&b);
            return mb_fail(c->err, MB_E_APPLY_FAILED, key, "http_headers",
                           "%s: http_headers \"%s\": %s", key, name,
                           framing ? "the server writes this header itself"
                           : !header_token(name) ? "not a header name"
                                                 : "the value has control characters");
        }
        buf_printf(&b, "%s: %s\r\n", name, text);
    }
    v->headers = b.data;
    v->headers_len = b.len;
    return 0;
}

/* expires: "off", "immediate", "after SECONDS" or "on HTTP-DATE". */
static int vdir_expires(struct cc *c, struct vdir *v, const char *key, const json_t *eff)
{
    const char *e = config_str(eff, "expires");
    unsigned long long n = 0;
    char *end = NULL;
    time_t t;

    v->expires = EXPIRES_OFF;
    if (strcmp(e, "off") == 0 || *e == '\0')
        return 0;
    if (strcmp(e, "immediate") == 0) {
        v->expires = EXPIRES_IMMEDIATE;
        return 0;
    }
    if (strncmp(e, "after ", 6) == 0 && e[6] >= '0' && e[6] <= '9') {
        errno = 0;
        n = strtoull(e + 6, &end, 10);
        if (errno == 0 && *end == '\0' && n <= 10ull * 365 * 86400) {
            v->expires = EXPIRES_AFTER;
            v->expires_after_s = (uint32_t)n;
            return 0;
        }
    } else if (strncmp(e, "on ", 3) == 0 && clock_http_parse(e + 3, strlen(e + 3), &t)) {
        v->expires = EXPIRES_ON;
        clock_http_format(t, v->expires_on);
        return 0;
    }
    return mb_fail(c->err, MB_E_APPLY_FAILED, key, "expires",
                   "%s: expires \"%s\" must be \"off\", \"immediate\", \"after SECONDS\" (at "
                   "most ten years) or \"on\" an HTTP-date (\"on Fri, 01 Jan 2027 00:00:00 GMT\")",
                   key, e);
}

#define ERROR_PAGE_MAX (64 * 1024)

static const char *error_page_type(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot && (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0))
        return "text/html; charset=utf-8";
    if (dot && strcasecmp(dot, ".txt") == 0)
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* One error page: its status (400-599) and the file, read now so no request waits on a disk. */
static int error_page_load(struct cc *c, struct vdir_error_page *pg, const char *key,
                           const char *status, const char *path)
{
    char *end;
    long st = strtol(status, &end, 10);
    size_t len;
    char *data;

    if (*status == '\0' || *end != '\0' || st < 400 || st > 599)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "error_pages",
                       "%s: error_pages \"%s\" is not a status from 400 to 599", key, status);
    if (path[0] != '/' || (data = fs_read_file(path, ERROR_PAGE_MAX, &len)) == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "error_pages",
                       "%s: error_pages %s: %s cannot be read%s%s", key, status, path,
                       path[0] != '/' ? " (not an absolute path)" : ": ",
                       path[0] != '/' ? "" : errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
    pg->status = (int)st;
    pg->body = data;
    pg->len = len;
    pg->type = error_page_type(path);
    return 0;
}

static int vdir_error_pages(struct cc *c, struct vdir *v, const char *key, const json_t *eff)
{
    const json_t *map = json_object_get(eff, "error_pages"), *val;
    const char *status;

    v->error_pages = xcalloc(json_object_size(map) + 1, sizeof(*v->error_pages));
    json_object_foreach ((json_t *)(uintptr_t)map, status, val) {
        if (error_page_load(c, &v->error_pages[v->nerror_pages], key, status,
                            json_string_value(val) ? json_string_value(val) : "") == -1)
            return -1;
        v->nerror_pages++;
    }
    return 0;
}

/* ip_default and ip_exceptions (checked by the property table when stored). */
static void vdir_ipacl(struct vdir *v, const json_t *eff)
{
    const json_t *list = json_object_get(eff, "ip_exceptions"), *it;
    const char *why;
    size_t i;

    v->ipacl.deny = strcmp(config_str(eff, "ip_default"), "deny") == 0;
    v->ipacl.nets = xcalloc(json_array_size(list) + 1, sizeof(*v->ipacl.nets));
    json_array_foreach (list, i, it) {
        struct vdir_ipnet *n = &v->ipacl.nets[v->ipacl.nnets];
        if (json_is_string(it) && net_parse_cidr(json_string_value(it), n->addr, &n->bits, &why) == 0)
            v->ipacl.nnets++;
    }
}

/* Add the directory of KEY at PATH. PARENT is set when PATH is implicit (the
 * key has no path of its own); such a directory that does not exist is left
 * out: the key only carries settings for the keys below it, and its URL
 * space is the parent's anyway. */
static int vdir_add(struct cc *c, struct site *s, const char *key, const char *prefix,
                    const char *path, const char *parent, const json_t *eff)
{
    char why[200];
    struct stat st;
    unsigned symlinks;
    struct vdir *v;

    if (enum_of(c, eff, key, "symlinks", symlink_names, &symlinks) == -1)
        return -1;
    if (parent && (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)))
        return 0;
    if (parent && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
        !link_allowed(path, parent, (enum path_symlinks)symlinks))
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "symlinks",
                       "%s: %s is a symbolic link that symlinks \"%s\" does not follow", key, path,
                       config_str(eff, "symlinks"));
    if (gen_site_add_vdir(s, prefix, path, config_flags_of(eff, access_props),
                          (enum path_symlinks)symlinks, why, sizeof(why)) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "path", "%s: %s", key, why);
    v = &s->vdirs[s->nvdirs - 1];
    v->require_tls = json_is_true(json_object_get(eff, "require_tls"));
    vdir_ipacl(v, eff);
    if (vdir_headers(c, v, key, eff) == -1 || vdir_expires(c, v, key, eff) == -1 ||
        vdir_error_pages(c, v, key, eff) == -1)
        return -1;
    if (c->svc->compile_vdir)
        return c->svc->compile_vdir(v, eff, key, c->err);
    return 0;
}

static int vdir_tree(struct cc *c, struct site *s, const char *key, const char *prefix,
                     const char *parent_path);

static int vdir_children(struct cc *c, struct site *s, const char *key, const char *prefix,
                         const char *path)
{
    char **names, ckey[KEY_BUF], cprefix[KEY_BUF];
    size_t n;
    int rc = 0;

    if (mb_keys(c->mb, key, &names, &n) == -1)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "the subkeys of %s cannot be read",
                       key);
    for (size_t i = 0; i < n && rc == 0; i++) {
        snprintf(ckey, sizeof(ckey), "%s/%s", key, names[i]);
        snprintf(cprefix, sizeof(cprefix), "%s/%s", prefix, names[i]);
        rc = vdir_tree(c, s, ckey, cprefix, path);
    }
    mb_keys_free(names, n);
    return rc;
}

/* KEY and every directory key below it; PARENT_PATH NULL for the site's root. */
static int vdir_tree(struct cc *c, struct site *s, const char *key, const char *prefix,
                     const char *parent_path)
{
    json_t *eff = mb_effective(c->mb, key);
    const char *own, *alias = strrchr(key, '/') + 1;
    char *path;
    int rc;

    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "%s cannot be read", key);
    own = json_string_value(json_object_get(eff, "path"));
    if (own == NULL && parent_path == NULL) {
        json_decref(eff);
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "path",
                       "%s has no path: a site's home directory needs one", key);
    }
    path = own ? xstrdup(own) : fs_path_join(parent_path, alias);
    rc = vdir_add(c, s, key, prefix, path, own ? NULL : parent_path, eff);
    json_decref(eff);
    if (rc == 0)
        rc = vdir_children(c, s, key, prefix, path);
    free(path);
    return rc;
}

/* The service's own settings are read as the home directory sees them (the
 * generation holds them per site, not per directory). */
static int site_root(struct cc *c, struct site *s, const char *key, const json_t *site_eff)
{
    char root[KEY_BUF + sizeof("/root")];
    json_t *eff;
    int rc = 0;

    snprintf(root, sizeof(root), "%s/root", key);
    eff = mb_effective(c->mb, root);
    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL,
                       "site %s has no home directory: create %s with a path", key, root);
    if (c->svc->compile_site)
        rc = c->svc->compile_site(s, site_eff, eff, key, c->err);
    json_decref(eff);
    if (rc == -1 || vdir_tree(c, s, root, "", NULL) == -1)
        return -1;
    gen_site_finish(s);
    return 0;
}

static bool site_requires_tls(const struct site *s)
{
    for (size_t i = 0; i < s->nvdirs; i++)
        if (s->vdirs[i].require_tls)
            return true;
    return s->require_tls;
}

static int site_check_tls_redirect(struct cc *c, const struct site *s, const char *key)
{
    if (!site_requires_tls(s) || site_has_tls(s))
        return 0;
    return mb_fail(c->err, MB_E_APPLY_FAILED, key, "require_tls",
                   "%s: require_tls needs an https:// binding to redirect to", key);
}

static int compile_site(struct cc *c, struct site *s, const char *sites_key, const char *name)
{
    char key[KEY_BUF];
    json_t *eff;
    int rc = -1;

    snprintf(key, sizeof(key), "%s/%s", sites_key, name);
    s->name = xstrdup(name);
    s->svc = c->svc;
    s->stats_slot = stats_slot(c->svc->name, name);
    eff = mb_effective(c->mb, key);
    if (eff == NULL)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, NULL, "site %s cannot be read", key);
    /* The log last: a site that cannot be served opens none. */
    if (site_bindings(c, s, key, eff) == 0 && site_settings(c, s, key, eff) == 0 &&
        site_root(c, s, key, eff) == 0 && site_check_tls_redirect(c, s, key) == 0 &&
        site_tls(c, s, key, eff) == 0 && site_log(c, s, key, eff) == 0)
        rc = 0;
    json_decref(eff);
    return rc;
}

/* The service's desired state is not inherited by its sites (each site has
 * its own); a stopped or paused service holds every started site. */
static int fold_service_state(struct cc *c, struct site *sites, size_t n)
{
    char key[64];
    unsigned svc;
    json_t *eff;
    int rc;

    snprintf(key, sizeof(key), "/%s", c->svc->name);
    eff = mb_effective(c->mb, key);
    if (eff == NULL)
        return 0; /* no service key: nothing holds its sites */
    rc = enum_of(c, eff, key, "state", state_names, &svc);
    json_decref(eff);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (sites[i].state == SITE_STARTED || (svc == SITE_STOPPED && sites[i].state == SITE_PAUSED))
            sites[i].state = (enum site_state)svc;
    return rc;
}

static int compile_service(struct cc *c, struct gen *g)
{
    char sites_key[64];
    char **names;
    size_t n, first = g->nsites;
    int rc = 0;

    snprintf(sites_key, sizeof(sites_key), "/%s/sites", c->svc->name);
    if (mb_keys(c->mb, sites_key, &names, &n) == -1)
        names = NULL, n = 0; /* a service without sites serves nothing */
    g->sites = xrealloc(g->sites, (g->nsites + n + 1) * sizeof(*g->sites));
    memset(g->sites + g->nsites, 0, (n + 1) * sizeof(*g->sites));
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = compile_site(c, &g->sites[g->nsites++], sites_key, names[i]);
    mb_keys_free(names, n);
    if (rc == 0)
        rc = fold_service_state(c, g->sites + first, g->nsites - first);
    if (rc == 0 && c->svc->compile_service)
        rc = c->svc->compile_service(c->mb, &g->svc_data[service_index(c->svc)], c->err);
    return rc;
}

static int compile_services(struct cc *c, struct gen *g)
{
    const struct service *svc;

    for (size_t i = 0; (svc = service_at(i)) != NULL; i++) {
        c->svc = svc;
        if (compile_service(c, g) == -1)
            return -1;
    }
    return 0;
}

/* ---- sites sharing an address ---- */

static bool share_host_name(const struct site *a, const struct site *b, const char **name)
{
    for (size_t i = 0; i < a->nhost_names; i++)
        for (size_t j = 0; j < b->nhost_names; j++)
            if (strcmp(a->host_names[i], b->host_names[j]) == 0)
                return *name = a->host_names[i], true;
    return false;
}

/* Sites T and S (T earlier) both list address A: they may share it only as
 * one service, both plain or both TLS, told apart by host names. */
static int check_shared(struct cc *c, const struct site *t, const struct site_binding *tb,
                        const struct site *s, const struct site_binding *sb)
{
    char text[80], other[KEY_BUF];
    const char *name;

    char key[KEY_BUF];

    net_addr_str((const struct sockaddr *)&sb->addr.ss, text, sizeof(text));
    snprintf(other, sizeof(other), "/%s/sites/%s", t->svc->name, t->name);
    snprintf(key, sizeof(key), "/%s/sites/%s", s->svc->name, s->name);
    if (t == s)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                       "site %s lists binding %s twice", key, text);
    if (t->svc != s->svc)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                       "site %s cannot share %s with %s, a site of another service", key, text,
                       other);
    if (tb->tls != sb->tls)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                       "site %s binds %s with another scheme (plain or TLS) than %s", key, text,
                       other);
    if (t->nhost_names == 0 && s->nhost_names == 0)
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "bindings",
                       "sites %s and %s both bind %s without host_names: give one of them "
                       "host_names to tell them apart",
                       other, key, text);
    if (share_host_name(t, s, &name))
        return mb_fail(c->err, MB_E_APPLY_FAILED, key, "host_names",
                       "sites %s and %s both list %s in host_names on %s", other, key, name,
                       text);
    return 0;
}

/* Port 0 asks for a fresh port each time, so only fixed ports can clash. */
static int check_bindings(struct cc *c, const struct gen *g)
{
    for (size_t s = 0; s < g->nsites; s++) {
        for (size_t a = 0; a < g->sites[s].nbindings; a++) {
            const struct site_binding *sb = &g->sites[s].bindings[a];
            if (net_port((const struct sockaddr *)&sb->addr.ss) == 0)
                continue;
            for (size_t t = 0; t <= s; t++) {
                size_t end = t == s ? a : g->sites[t].nbindings;
                for (size_t b = 0; b < end; b++)
                    if (net_addr_eq(&sb->addr, &g->sites[t].bindings[b].addr) &&
                        check_shared(c, &g->sites[t], &g->sites[t].bindings[b], &g->sites[s],
                                     sb) == -1)
                        return -1;
            }
        }
    }
    return 0;
}

struct gen *config_compile(struct mb *mb, const struct config_env *env, struct mb_error *err)
{
    struct mb_error local;
    struct cc c = {.mb = mb, .env = env, .err = err ? err : &local};
    struct gen *g = gen_new();

    memset(c.err, 0, sizeof(*c.err));
    g->nworkers = env->nworkers;
    c.live = gen_current_ref();
    if (compile_machine(&c, g) == -1 || compile_services(&c, g) == -1 ||
        check_bindings(&c, g) == -1) {
        gen_unref(c.live);
        json_decref(c.overrides);
        gen_unref(g);
        return NULL;
    }
    gen_unref(c.live);
    json_decref(c.overrides);
    for (size_t i = 0; i < g->nsites; i++)
        g->bw_any |= g->sites[i].bw != NULL;
    return g;
}
