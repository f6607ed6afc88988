#include "admin/login.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "admin/accounts.h"

struct entry {
    bool used;
    struct login s;
    char token[256];
    time_t last_used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[LOGIN_MAX];

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
            if (slot == NULL)
                slot = &table[i];
        } else if (slot == NULL || (slot->used && table[i].last_used < slot->last_used)) {
            slot = &table[i]; /* the least recently used, unless a free one turns up */
        }
    }
    drop(slot);
    slot->used = true;
    slot->s = s;
    memcpy(slot->token, token, strlen(token) + 1);
    slot->last_used = now;
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

void login_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < LOGIN_MAX; i++)
        drop(&table[i]);
    pthread_mutex_unlock(&lock);
}
