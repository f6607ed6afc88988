#include "admin/login.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "admin/accounts.h"

struct entry {
    bool used;
    struct login s;
    char token[256];
    time_t last_used;
    uint64_t stamp; /* order of use, for choosing whom to drop */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[LOGIN_MAX];
static uint64_t stamps;

static void random_hex(char out[LOGIN_ID_HEX])
{
    unsigned char raw[32];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, LOGIN_ID_HEX, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

static void drop(struct entry *e)
{
    sodium_memzero(e, sizeof(*e));
}

static bool expired(const struct entry *e, time_t now)
{
    return now >= e->s.expires || now - e->last_used >= LOGIN_IDLE_S;
}

/* The entry of ID (constant time in the id), or NULL. Lock held. */
static struct entry *lookup(const char *id)
{
    struct entry *found = NULL;

    if (strlen(id) != LOGIN_ID_HEX - 1)
        return NULL;
    for (size_t i = 0; i < LOGIN_MAX; i++)
        if (table[i].used && sodium_memcmp(table[i].s.id, id, LOGIN_ID_HEX - 1) == 0)
            found = &table[i];
    return found;
}

int login_create(struct mb *mb, const char *token, struct login *out)
{
    struct entry *slot = NULL;
    time_t now = time(NULL);
    struct login s = {0};

    if (strlen(token) >= sizeof(table[0].token) ||
        acct_authenticate(mb, token, s.account, sizeof(s.account), &s.role) == -1)
        return -1;
    random_hex(s.id);
    random_hex(s.csrf);
    s.expires = now + LOGIN_TTL_S;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < LOGIN_MAX; i++) {
        if (table[i].used && expired(&table[i], now))
            drop(&table[i]);
        if (!table[i].used) {
            if (slot == NULL || slot->used)
                slot = &table[i]; /* a free one first */
        } else if (slot == NULL || (slot->used && table[i].stamp < slot->stamp)) {
            slot = &table[i]; /* else the least recently used */
        }
    }
    drop(slot);
    slot->used = true;
    slot->s = s;
    memcpy(slot->token, token, strlen(token) + 1);
    slot->last_used = now;
    slot->stamp = ++stamps;
    pthread_mutex_unlock(&lock);
    *out = s;
    return 0;
}

bool login_find(struct mb *mb, const char *id, struct login *out)
{
    struct entry *e;
    char token[sizeof(table[0].token)], name[ACCT_NAME_MAX + 1];
    time_t now = time(NULL);
    enum role role;
    bool ok = false;

    pthread_mutex_lock(&lock);
    e = lookup(id);
    if (e && expired(e, now)) {
        drop(e);
        e = NULL;
    }
    if (e) {
        memcpy(token, e->token, sizeof(token));
        *out = e->s;
    }
    pthread_mutex_unlock(&lock);
    if (e == NULL)
        return false;
    /* the account may have a new token, another role, or be gone */
    if (acct_authenticate(mb, token, name, sizeof(name), &role) == 0 &&
        strcmp(name, out->account) == 0) {
        ok = true;
        out->role = role;
    }
    sodium_memzero(token, sizeof(token));
    pthread_mutex_lock(&lock);
    e = lookup(id);
    if (e && ok) {
        e->last_used = now;
        e->stamp = ++stamps;
        e->s.role = role;
    } else if (e) {
        drop(e);
    }
    pthread_mutex_unlock(&lock);
    return ok && e != NULL;
}

bool login_alive(const char *id)
{
    struct entry *e;
    bool alive;

    pthread_mutex_lock(&lock);
    e = lookup(id);
    alive = e && time(NULL) < e->s.expires;
    pthread_mutex_unlock(&lock);
    return alive;
}

void login_delete(const char *id)
{
    struct entry *e;

    pthread_mutex_lock(&lock);
    e = lookup(id);
    if (e)
        drop(e);
    pthread_mutex_unlock(&lock);
}

void login_cookie_id(const char *p, size_t n, char id[LOGIN_ID_HEX])
{
    static const char name[] = LOGIN_COOKIE "=";
    const char *end = p ? p + n : NULL;

    id[0] = '\0';
    while (p && p < end) {
        const char *semi, *stop;
        bool hex = true;

        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        if (p >= end)
            break;
        semi = memchr(p, ';', (size_t)(end - p));
        stop = semi ? semi : end;
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if ((size_t)(stop - p) == sizeof(name) - 1 + LOGIN_ID_HEX - 1 &&
            memcmp(p, name, sizeof(name) - 1) == 0) {
            for (const char *q = p + sizeof(name) - 1; q < stop; q++)
                hex = hex && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'));
            if (hex) {
                memcpy(id, p + sizeof(name) - 1, LOGIN_ID_HEX - 1);
                id[LOGIN_ID_HEX - 1] = '\0';
                return;
            }
        }
        p = semi ? semi + 1 : end;
    }
}

void login_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < LOGIN_MAX; i++)
        drop(&table[i]);
    pthread_mutex_unlock(&lock);
}
