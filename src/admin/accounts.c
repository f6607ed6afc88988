/* accounts: bearer-token accounts in the metabase's `accounts` table, and the role table. */
#include "admin/accounts.h"
#include "core/clock.h"
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/log.h"

#define ACCT_TOKEN_PREFIX "isv1_"
#define ACCT_TOKEN_PREFIX_LEN (sizeof(ACCT_TOKEN_PREFIX) - 1)
#define ACCT_TOKEN_RAW 32
#define ACCT_HASH_BYTES crypto_generichash_BYTES /* 32: BLAKE2b-256 */
#define ACCT_HASH_HEX (ACCT_HASH_BYTES * 2 + 1)
#define ACCT_BOOTSTRAP_NAME "admin"

static const char *const role_names[] = {
    [ROLE_READER] = "reader",
    [ROLE_OPERATOR] = "operator",
    [ROLE_ADMIN] = "admin",
};

/* ---- roles ---- */

const char *role_to_string(enum role r)
{
    if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
        return "unknown";
    return role_names[r];
}

int role_from_string(const char *s, enum role *out)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
        if (s != NULL && strcmp(s, role_names[i]) == 0) {
            *out = (enum role)i;
            return 0;
        }
    }
    return -1;
}

/* PATH is BASE, or BASE followed by a query string, or (SUB) by "/more". */
static bool path_under(const char *path, const char *base, bool sub)
{
    size_t n = strlen(base);

    if (strncmp(path, base, n) != 0)
        return false;
    return path[n] == '\0' || path[n] == '?' || (sub && path[n] == '/' && path[n + 1] != '\0');
}

/* "." and ".." segments are refused for the narrow grants, so a prefix match can never be
 * widened by a later normalisation ("/api/v1/services/../accounts"). */
static bool path_has_dot_segment(const char *path)
{
    for (const char *p = strstr(path, "/."); p != NULL; p = strstr(p + 1, "/.")) {
        const char *q = p[2] == '.' ? p + 3 : p + 2;

        if (*q == '\0' || *q == '/' || *q == '?')
            return true;
    }
    return false;
}

static bool operator_allows(const char *method, const char *path)
{
    if (path_has_dot_segment(path))
        return false;
    if (strcmp(method, "POST") == 0)
        return (strncmp(path, "/api/v1/services/", 17) == 0 && path[17] != '\0') ||
               path_under(path, "/api/v1/cache/flush", false);
    if (strcmp(method, "DELETE") == 0)
        return path_under(path, "/api/v1/sessions", true) ||
               path_under(path, "/api/v1/stats", false);
    return false;
}

bool role_allows(enum role r, const char *method, const char *path)
{
    if (method == NULL || path == NULL)
        return false;
    if (r == ROLE_ADMIN)
        return true;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return r == ROLE_READER || r == ROLE_OPERATOR;
    return r == ROLE_OPERATOR && operator_allows(method, path);
}

/* ---- helpers ---- */

static void acct_sodium_init(void)
{
    static bool done;

    if (done)
        return;
    if (sodium_init() < 0)
        fatalx("accounts: libsodium cannot be initialised");
    done = true;
}

static int acct_fail(struct mb_error *err, const char *code, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int acct_fail(struct mb_error *err, const char *code, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    snprintf(err->key, sizeof(err->key), "%s", name ? name : "");
    err->property[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int acct_fail_db(sqlite3 *db, struct mb_error *err, const char *what)
{
    log_warnx("accounts: %s: %s", what, sqlite3_errmsg(db));
    return acct_fail(err, MB_E_STORAGE, NULL, "account storage error while %s: %s", what,
                     sqlite3_errmsg(db));
}

static bool acct_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > ACCT_NAME_MAX || strchr("_.-", name[0]) != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/*
 * The stored form of a token: hex of BLAKE2b-256. Tokens carry 256 random bits,
 * so a fast unsalted hash is enough: there is nothing to guess from a dictionary,
 * and a slow password hash would only make every API request slower.
 */
static void acct_token_hash(const char *token, char hex[ACCT_HASH_HEX])
{
    unsigned char h[ACCT_HASH_BYTES];

    crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, ACCT_HASH_HEX, h, sizeof(h));
}

/* A new token "isv1_" + base64url(32 random bytes) in TOKEN, and its hash in HEX. */
static void acct_token_new(char token[ACCT_TOKEN_SIZE], char hex[ACCT_HASH_HEX])
{
    unsigned char raw[ACCT_TOKEN_RAW];

    acct_sodium_init();
    randombytes_buf(raw, sizeof(raw));
    memcpy(token, ACCT_TOKEN_PREFIX, ACCT_TOKEN_PREFIX_LEN);
    sodium_bin2base64(token + ACCT_TOKEN_PREFIX_LEN, ACCT_TOKEN_SIZE - ACCT_TOKEN_PREFIX_LEN, raw,
                      sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    acct_token_hash(token, hex);
}

/* Run SQL with text parameters; returns the sqlite3_step result, or -1 when it cannot prepare. */
static int acct_exec(sqlite3 *db, const char *sql, int nparams, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    va_start(ap, nparams);
    for (int i = 1; i <= nparams; i++)
        sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc;
}

/* The number of accounts into *N; -1 when the table cannot be read. */
static int acct_count(struct mb *mb, long long *n)
{
    sqlite3_stmt *st;
    int rc = -1;

    if (sqlite3_prepare_v2(mb_db(mb), "SELECT count(*) FROM accounts", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static void acct_iso_time(int64_t t, char *out, size_t cap)
{
    if (!clock_iso_format((time_t)t, out, cap))
        snprintf(out, cap, "%lld", (long long)t);
}

/* ---- accounts ---- */

int acct_create(struct mb *mb, const char *name, enum role r, char *token_out, size_t cap,
                struct mb_error *err)
{
    char token[ACCT_TOKEN_SIZE], hex[ACCT_HASH_HEX], now[24];
    sqlite3 *db = mb_db(mb);
    int rc;

    if (!acct_name_valid(name))
        return acct_fail(err, MB_E_INVALID_REQUEST, name,
                         "an account name is 1 to 64 of a-z 0-9 _ . - starting with a-z or 0-9");
    if ((unsigned)r > ROLE_ADMIN)
        return acct_fail(err, MB_E_INVALID_REQUEST, name, "unknown role");
    if (cap < ACCT_TOKEN_SIZE)
        return acct_fail(err, MB_E_INVALID_REQUEST, name, "token buffer too small");
    acct_token_new(token, hex);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    rc = acct_exec(db,
                   "INSERT INTO accounts (name, role, token_hash, created, disabled)"
                   " VALUES (?1, ?2, ?3, CAST(?4 AS INTEGER), 0)",
                   4, name, role_to_string(r), hex, now);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) { /* the name is the primary key */
        sodium_memzero(token, sizeof(token));
        return acct_fail(err, ACCT_E_EXISTS, name, "account %s already exists", name);
    }
    if (rc != SQLITE_DONE) {
        sodium_memzero(token, sizeof(token));
        return acct_fail_db(db, err, "creating an account");
    }
    memcpy(token_out, token, sizeof(token));
    sodium_memzero(token, sizeof(token));
    return 0;
}

/*
 * The lookup is by hash, so timing can only reveal something about the hash of
 * a guess, not about a stored token; the final comparison is still constant-time.
 */
int acct_authenticate(struct mb *mb, const char *token, char *name_out, size_t cap, enum role *role)
{
    char hex[ACCT_HASH_HEX];
    sqlite3_stmt *st;
    int rc = -1;

    if (token == NULL || strncmp(token, ACCT_TOKEN_PREFIX, ACCT_TOKEN_PREFIX_LEN) != 0 ||
        strlen(token) != ACCT_TOKEN_SIZE - 1)
        return -1;
    acct_sodium_init();
    acct_token_hash(token, hex);
    if (sqlite3_prepare_v2(mb_db(mb),
                           "SELECT name, role, token_hash, disabled FROM accounts"
                           " WHERE token_hash = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        log_warnx("accounts: authenticating: %s", sqlite3_errmsg(mb_db(mb)));
        return -1;
    }
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *stored = (const char *)sqlite3_column_text(st, 2);

        if (stored != NULL && strlen(stored) == ACCT_HASH_HEX - 1 &&
            sodium_memcmp(stored, hex, ACCT_HASH_HEX - 1) == 0 && sqlite3_column_int(st, 3) == 0 &&
            role_from_string((const char *)sqlite3_column_text(st, 1), role) == 0 &&
            snprintf(name_out, cap, "%s", name) < (int)cap)
            rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int acct_delete(struct mb *mb, const char *name, struct mb_error *err)
{
    sqlite3 *db = mb_db(mb);

    if (acct_exec(db, "DELETE FROM accounts WHERE name = ?1", 1, name ? name : "") != SQLITE_DONE)
        return acct_fail_db(db, err, "deleting an account");
    if (sqlite3_changes(db) == 0)
        return acct_fail(err, ACCT_E_NOT_FOUND, name, "no account %s", name ? name : "");
    return 0;
}

int acct_new_token(struct mb *mb, const char *name, char *token_out, size_t cap,
                   struct mb_error *err)
{
    char token[ACCT_TOKEN_SIZE], hex[ACCT_HASH_HEX];
    sqlite3 *db = mb_db(mb);
    int rc;

    if (cap < ACCT_TOKEN_SIZE)
        return acct_fail(err, MB_E_INVALID_REQUEST, name, "token buffer too small");
    acct_token_new(token, hex);
    rc = acct_exec(db, "UPDATE accounts SET token_hash = ?1 WHERE name = ?2", 2, hex,
                   name ? name : "");
    if (rc != SQLITE_DONE || sqlite3_changes(db) == 0) {
        sodium_memzero(token, sizeof(token));
        if (rc != SQLITE_DONE)
            return acct_fail_db(db, err, "replacing a token");
        return acct_fail(err, ACCT_E_NOT_FOUND, name, "no account %s", name ? name : "");
    }
    memcpy(token_out, token, sizeof(token));
    sodium_memzero(token, sizeof(token));
    return 0;
}

json_t *acct_list(struct mb *mb)
{
    sqlite3_stmt *st;
    json_t *list;
    char when[32];
    int rc;

    if (sqlite3_prepare_v2(mb_db(mb), "SELECT name, role, created FROM accounts ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK) {
        log_warnx("accounts: listing: %s", sqlite3_errmsg(mb_db(mb)));
        return NULL;
    }
    list = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        acct_iso_time(sqlite3_column_int64(st, 2), when, sizeof(when));
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s}", "name", (const char *)sqlite3_column_text(st, 0),
                            "role", (const char *)sqlite3_column_text(st, 1), "created", when));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_warnx("accounts: listing: %s", sqlite3_errmsg(mb_db(mb)));
        json_decref(list);
        return NULL;
    }
    return list;
}

bool acct_any(struct mb *mb)
{
    long long n = 0;

    /* An unreadable table counts as "not empty", so nobody bootstraps over it. */
    return acct_count(mb, &n) == -1 || n > 0;
}

/* Write TOKEN and a newline to PATH, mode 0600, atomically. */
static int acct_write_token_file(const char *path, const char *token)
{
    char line[ACCT_TOKEN_SIZE + 1];
    size_t len = strlen(token);
    int rc;

    memcpy(line, token, len);
    line[len++] = '\n';
    rc = fs_write_atomic(path, line, len, 0600);
    sodium_memzero(line, sizeof(line));
    return rc;
}

/* Inside SAVEPOINT: create the account and write its token, or fail with ERR filled. */
static int acct_bootstrap_inner(struct mb *mb, const char *path, char *err, size_t errlen)
{
    char token[ACCT_TOKEN_SIZE];
    struct mb_error e;
    int rc = 0;

    if (acct_create(mb, ACCT_BOOTSTRAP_NAME, ROLE_ADMIN, token, sizeof(token), &e) == -1) {
        snprintf(err, errlen, "accounts: cannot create the first account: %s", e.message);
        return -1;
    }
    if (acct_write_token_file(path, token) == -1) {
        snprintf(err, errlen, "accounts: cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    sodium_memzero(token, sizeof(token));
    return rc;
}

int acct_bootstrap(struct mb *mb, const char *token_file_path, char *err, size_t errlen)
{
    sqlite3 *db = mb_db(mb);
    long long n;

    if (acct_count(mb, &n) == -1) {
        snprintf(err, errlen, "accounts: cannot read the accounts: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (n > 0)
        return 0;
    /* A savepoint, so a token file that cannot be written leaves no account behind and the
     * next start tries again. */
    if (acct_exec(db, "SAVEPOINT acct_bootstrap", 0) != SQLITE_DONE) {
        snprintf(err, errlen, "accounts: cannot start a transaction: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (acct_bootstrap_inner(mb, token_file_path, err, errlen) == -1) {
        acct_exec(db, "ROLLBACK TO acct_bootstrap", 0);
        acct_exec(db, "RELEASE acct_bootstrap", 0);
        return -1;
    }
    if (acct_exec(db, "RELEASE acct_bootstrap", 0) != SQLITE_DONE) {
        snprintf(err, errlen, "accounts: cannot commit the first account: %s", sqlite3_errmsg(db));
        acct_exec(db, "ROLLBACK TO acct_bootstrap", 0);
        acct_exec(db, "RELEASE acct_bootstrap", 0);
        unlink(token_file_path);
        return -1;
    }
    log_info("accounts: created account %s; its token is in %s", ACCT_BOOTSTRAP_NAME,
             token_file_path);
    return 1;
}
