/* challenge: ACME challenge answers shared by the ACME thread and the workers. */
#include "runtime/challenge.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

struct http_answer {
    char token[CHALLENGE_TOKEN_MAX + 1];
    char keyauth[CHALLENGE_ANSWER_MAX + 1];
};

struct tls_answer {
    char name[256];
    SSL_CTX *ctx;
};

static struct http_answer http[CHALLENGE_MAX];
static size_t nhttp;
static struct tls_answer tls[CHALLENGE_MAX];
static size_t ntls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The entry answering TOKEN[0..LEN), or -1; under the lock. */
static int http_find(const char *token, size_t len)
{
    for (size_t i = 0; i < nhttp; i++)
        if (strlen(http[i].token) == len && memcmp(http[i].token, token, len) == 0)
            return (int)i;
    return -1;
}

static int tls_find(const char *name, size_t len)
{
    for (size_t i = 0; i < ntls; i++)
        if (strlen(tls[i].name) == len && strncasecmp(tls[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int challenge_http_put(const char *token, const char *keyauth)
{
    size_t tlen = strlen(token), klen = strlen(keyauth);
    int i, rc = 0;

    if (tlen == 0 || tlen > CHALLENGE_TOKEN_MAX || klen > CHALLENGE_ANSWER_MAX)
        return -1;
    pthread_mutex_lock(&lock);
    if ((i = http_find(token, tlen)) < 0 && nhttp < CHALLENGE_MAX)
        i = (int)nhttp++;
    if (i >= 0) {
        memcpy(http[i].token, token, tlen + 1);
        memcpy(http[i].keyauth, keyauth, klen + 1);
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int challenge_http_get(const char *token, size_t len, char *out, size_t cap)
{
    int i, n = -1;

    pthread_mutex_lock(&lock);
    if ((i = http_find(token, len)) >= 0 && strlen(http[i].keyauth) < cap) {
        n = (int)strlen(http[i].keyauth);
        memcpy(out, http[i].keyauth, (size_t)n + 1);
    }
    pthread_mutex_unlock(&lock);
    return n;
}

void challenge_http_remove(const char *token)
{
    int i;

    pthread_mutex_lock(&lock);
    if ((i = http_find(token, strlen(token))) >= 0)
        http[i] = http[--nhttp];
    pthread_mutex_unlock(&lock);
}

int challenge_tls_put(const char *name, SSL_CTX *ctx)
{
    size_t len = strlen(name);
    int i, rc = 0;

    if (len == 0 || len >= sizeof(tls[0].name))
        return -1;
    pthread_mutex_lock(&lock);
    if ((i = tls_find(name, len)) >= 0) {
        SSL_CTX_free(tls[i].ctx);
    } else if (ntls < CHALLENGE_MAX) {
        i = (int)ntls++;
        memcpy(tls[i].name, name, len + 1);
    }
    if (i >= 0) {
        SSL_CTX_up_ref(ctx);
        tls[i].ctx = ctx;
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

SSL_CTX *challenge_tls_get(const char *name, size_t len)
{
    SSL_CTX *ctx = NULL;
    int i;

    pthread_mutex_lock(&lock);
    if ((i = tls_find(name, len)) >= 0) {
        ctx = tls[i].ctx;
        SSL_CTX_up_ref(ctx);
    }
    pthread_mutex_unlock(&lock);
    return ctx;
}

void challenge_tls_remove(const char *name)
{
    int i;

    pthread_mutex_lock(&lock);
    if ((i = tls_find(name, strlen(name))) >= 0) {
        SSL_CTX_free(tls[i].ctx);
        tls[i] = tls[--ntls];
    }
    pthread_mutex_unlock(&lock);
}

/* The extension body is a 2-byte list length, then 1-byte-length names; the
 * whole list must be well formed before any name in it counts. */
bool challenge_alpn_offered(const unsigned char *p, size_t len)
{
    static const char want[] = "acme-tls/1";
    bool found = false;
    size_t i = 2;

    if (len < 3 || (((size_t)p[0] << 8) | p[1]) != len - 2)
        return false;
    while (i < len) {
        size_t n = p[i++];
        if (n == 0 || n > len - i)
            return false;
        if (n == sizeof(want) - 1 && memcmp(p + i, want, n) == 0)
            found = true;
        i += n;
    }
    return found;
}
