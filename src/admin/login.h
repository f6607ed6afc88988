/*
 * login: the web console's sessions. POST /api/v1/login trades an account
 * token for a session cookie (HttpOnly, Secure, SameSite=Strict) and a CSRF
 * token that every state-changing request made with the cookie must carry.
 * Sessions live in memory only (a restart logs everyone out), at most
 * LOGIN_MAX of them (the least recently used goes first), for LOGIN_TTL_S at
 * most and LOGIN_IDLE_S without use; each keeps its account's token, so a
 * new token or a deleted account ends it at its next use. Thread-safe.
 */
#ifndef ADMIN_LOGIN_H
#define ADMIN_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "admin/accounts.h"

#define LOGIN_MAX 256
#define LOGIN_TTL_S (8 * 3600)
#define LOGIN_IDLE_S (30 * 60)
#define LOGIN_ID_HEX 65   /* 32 random bytes as hex, NUL */
#define LOGIN_COOKIE "infosrv_session"

struct mb;

struct login {
    char id[LOGIN_ID_HEX];
    char csrf[LOGIN_ID_HEX];
    char account[ACCT_NAME_MAX + 1];
    enum role role;
    time_t expires; /* absolute end */
};

/** A new session for the account TOKEN names, filling OUT; -1 when the token is not valid. */
int login_create(struct mb *mb, const char *token, struct login *out);
/**
 * The live session whose id is ID (its idle clock restarted), re-checked
 * against the accounts (MB: API lock held); false when there is none.
 */
bool login_find(struct mb *mb, const char *id, struct login *out);
/** True while session ID exists and has not expired (no account check, no idle restart). */
bool login_alive(const char *id);
/** End session ID. */
void login_delete(const char *id);
/**
 * The session id in a Cookie header value P[0..N) (NULL: none) into ID: the
 * value of the first LOGIN_COOKIE pair that has the shape of an id, or "".
 */
void login_cookie_id(const char *p, size_t n, char id[LOGIN_ID_HEX]);
/** End every session. */
void login_clear(void);

#endif
