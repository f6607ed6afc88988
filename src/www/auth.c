#include "www/auth.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "ftp/auth.h"
#include "ftp/ftp.h"
#include "runtime/gen.h"
#include "runtime/ratelimit.h"
#include "runtime/session.h"
#include "runtime/worker.h"

/* The worker's verified credentials: a password check costs tens of
 * milliseconds, a lookup here well under a microsecond. Keyed by a keyed
 * hash of (user, password, stored hash), so a changed password or user
 * never matches an old entry and the table holds no password. */
#define CACHE_SLOTS 512 /* a power of two */
#define CACHE_OK_MS (5 * 60 * 1000)
#define CACHE_BAD_MS (30 * 1000)
#define KEY_BYTES 16

#define FAIL_MAX 10     /* failures from one address in FAIL_WINDOW_S ... */
#define FAIL_WINDOW_S 60
#define FAIL_BLOCK_S 60 /* ... block it this long (429) */

struct cached {
    unsigned char key[KEY_BYTES];
    uint64_t expires_ms;
    bool ok;
};

static unsigned char secret[crypto_generichash_KEYBYTES];
static struct ratelimit *limiter;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void auth_init(void)
{
    if (sodium_init() < 0)
        abort();
    randombytes_buf(secret, sizeof(secret));
    limiter = rl_new(FAIL_MAX, FAIL_WINDOW_S, FAIL_BLOCK_S, 4096);
}

int www_auth_parse_basic(const char *v, size_t n, char user[WWW_AUTH_USER_MAX],
                         char pass[WWW_AUTH_PASS_MAX])
{
    char plain[WWW_AUTH_USER_MAX + WWW_AUTH_PASS_MAX];
    size_t len = 0, i = 0;
    const char *colon, *end;

    if (n < 6 || strncasecmp(v, "basic", 5) != 0 || (v[5] != ' ' && v[5] != '\t'))
        return -1;
    for (i = 5; i < n && (v[i] == ' ' || v[i] == '\t'); i++)
        ;
    end = v + n;
    while (end > v + i && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == v + i || (size_t)(end - (v + i)) > 4 * (sizeof(plain) / 3) + 4)
        return -1;
    if (sodium_base642bin((unsigned char *)plain, sizeof(plain) - 1, v + i, (size_t)(end - (v + i)),
                          NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    plain[len] = '\0';
    if (memchr(plain, '\0', len) != NULL) /* no NUL inside a user or password */
        return -1;
    colon = memchr(plain, ':', len);
    if (colon == NULL || colon == plain || (size_t)(colon - plain) >= WWW_AUTH_USER_MAX ||
        len - (size_t)(colon - plain) - 1 >= WWW_AUTH_PASS_MAX)
        return -1;
    for (const char *p = plain; p < plain + len; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) /* control characters are never credentials */
            return -1;
    memcpy(user, plain, (size_t)(colon - plain));
    user[colon - plain] = '\0';
    memcpy(pass, colon + 1, len - (size_t)(colon - plain) - 1);
    pass[len - (size_t)(colon - plain) - 1] = '\0';
    sodium_memzero(plain, sizeof(plain));
    return 0;
}

static void cred_key(const char *user, const char *pass, const char *hash,
                     unsigned char key[KEY_BYTES])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, secret, sizeof(secret), KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)pass, strlen(pass) + 1);
    crypto_generichash_update(&st, (const unsigned char *)(hash ? hash : ""), hash ? strlen(hash) : 0);
    crypto_generichash_final(&st, key, KEY_BYTES);
}

/* The worker's table: touched only by its own thread. */
static struct cached *cache_slot(struct worker *w, const unsigned char key[KEY_BYTES])
{
    struct cached *cache = w->auth_cache;
    uint32_t h;

    if (cache == NULL)
        cache = w->auth_cache = xcalloc(CACHE_SLOTS, sizeof(*cache));
    memcpy(&h, key, sizeof(h));
    return &cache[h & (CACHE_SLOTS - 1)];
}

/* 1 verified, 0 refused, -1 not known. */
static int cache_get(struct worker *w, const unsigned char key[KEY_BYTES])
{
    struct cached *c = cache_slot(w, key);

    if (c->expires_ms <= clock_ms() || sodium_memcmp(c->key, key, KEY_BYTES) != 0)
        return -1;
    return c->ok ? 1 : 0;
}

static void cache_put(struct worker *w, const unsigned char key[KEY_BYTES], bool ok)
{
    struct cached *c = cache_slot(w, key);

    memcpy(c->key, key, KEY_BYTES);
    c->ok = ok;
    c->expires_ms = clock_ms() + (ok ? CACHE_OK_MS : CACHE_BAD_MS);
}

/* A check in flight on the auth thread. */
struct pending {
    struct worker *w;
    unsigned char key[KEY_BYTES];
    char peer[48];
    struct www_wait *wait;
};

static void check_done(void *arg, bool ok)
{
    struct pending *p = arg;

    cache_put(p->w, p->key, ok);
    if (ok)
        rl_success(limiter, p->peer);
    else
        rl_fail(limiter, p->peer, clock_wall());
    www_wake(p->wait);
    free(p);
}

#define HEAD_LIT(res, s) (res)->ops->header((res), (s), sizeof(s) - 1)

static int refuse(struct www_res *res, int status, const char *reason, const char *realm,
                  unsigned retry_after)
{
    char line[200] = "";
    int n = 0;

    if (status == 401)
        n = snprintf(line, sizeof(line),
                     "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n", realm);
    else if (retry_after > 0)
        n = snprintf(line, sizeof(line), "Retry-After: %u\r\n", retry_after);
    www_res_error_with(res, status, reason, line, n > 0 ? (size_t)n : 0);
    return status;
}

int www_auth_check(const struct www_req *req, struct www_res *res, const struct vdir *v)
{
    struct session *s = req->s;
    char user[WWW_AUTH_USER_MAX], pass[WWW_AUTH_PASS_MAX];
    unsigned char key[KEY_BYTES];
    const struct ftp_user *u;
    const char *hash;
    unsigned retry;
    struct pending *p;
    int known;
    const char *realm = v->realm[0] ? v->realm : s->site ? s->site->name : "infosrv";

    if (!(v->auth & VDIR_AUTH_BASIC))
        return (v->auth & VDIR_AUTH_ANONYMOUS)
                   ? 0
                   : refuse(res, 403, "No way of logging in is enabled for this directory.", realm, 0);
    if (!s->tls && !(v->auth & VDIR_AUTH_INSECURE)) {
        if (req->authorization.n == 0 && (v->auth & VDIR_AUTH_ANONYMOUS))
            return 0;
        return refuse(res, 403,
                      "Logging in here needs HTTPS: passwords are not accepted over plain HTTP.",
                      realm, 0);
    }
    if (req->authorization.n == 0)
        return (v->auth & VDIR_AUTH_ANONYMOUS)
                   ? 0
                   : refuse(res, 401, "This directory needs a user name and password.", realm, 0);
    pthread_once(&once, auth_init);
    if (www_auth_parse_basic(req->authorization.p, req->authorization.n, user, pass) == -1)
        return refuse(res, 401, "The credentials are not valid Basic credentials.", realm, 0);
    if (rl_blocked(limiter, s->peer_ip, clock_wall(), &retry)) {
        sodium_memzero(pass, sizeof(pass));
        return refuse(res, 429, "Too many failed logins from your address; try again later.", realm,
                      retry);
    }
    u = ftp_user_find(s->gen, user);
    hash = u && u->enabled ? u->hash : NULL;
    cred_key(user, pass, hash, key);
    known = cache_get(s->w, key);
    if (known == 1) {
        sodium_memzero(pass, sizeof(pass));
        snprintf(s->user, sizeof(s->user), "%s", user);
        return 0;
    }
    if (known == 0) {
        sodium_memzero(pass, sizeof(pass));
        return refuse(res, 401, "The user name or password is not right.", realm, 0);
    }
    p = xcalloc(1, sizeof(*p));
    p->w = s->w;
    memcpy(p->key, key, KEY_BYTES);
    snprintf(p->peer, sizeof(p->peer), "%s", s->peer_ip);
    session_stat(s, STAT_LOGON_ATTEMPTS);
    if (ftp_auth_submit(s->w, hash, pass, check_done, p) == -1) {
        sodium_memzero(pass, sizeof(pass));
        free(p);
        return refuse(res, 503, "Too many logins are being checked; try again shortly.", realm, 1);
    }
    sodium_memzero(pass, sizeof(pass));
    p->wait = res->ops->suspend(res);
    return WWW_SUSPENDED;
}
