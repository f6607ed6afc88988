/*
 * accounts: admin API accounts (name, role, bearer token) in the metabase's
 * `accounts` table, and what each role may do. Only a hash of each token is
 * stored; the token itself is shown once, to the caller of acct_create or
 * acct_new_token. Used by the main thread at start-up, then the admin thread
 * (the metabase handle's rule).
 */
#ifndef ADMIN_ACCOUNTS_H
#define ADMIN_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "metabase/mb.h"

/* Error codes (struct mb_error.code) beside the MB_E_* ones. The HTTP layer maps
 * ACCT_E_EXISTS to 409 and ACCT_E_NOT_FOUND to 404. */
#define ACCT_E_EXISTS "account_exists"
#define ACCT_E_NOT_FOUND "not_found"

/** Longest account name, without the NUL. */
#define ACCT_NAME_MAX 64
/** Room for a token: "isv1_" + 43 base64url characters + NUL. */
#define ACCT_TOKEN_SIZE 49

enum role { ROLE_READER, ROLE_OPERATOR, ROLE_ADMIN };

/** The role's API name ("reader", "operator", "admin"). */
const char *role_to_string(enum role r);
/** Parse an API role name into *OUT; 0, or -1 for an unknown name. */
int role_from_string(const char *s, enum role *out);
/** True when role R may send METHOD to PATH (query string allowed; normalised path expected). */
bool role_allows(enum role r, const char *method, const char *path);

/**
 * Create account NAME with role R and write its new token into TOKEN_OUT (CAP >=
 * ACCT_TOKEN_SIZE). Errors: invalid_request (bad name or role), account_exists, storage.
 */
int acct_create(struct mb *mb, const char *name, enum role r, char *token_out, size_t cap,
                struct mb_error *err);
/** 0 and NAME_OUT/ROLE filled when TOKEN belongs to an enabled account; -1 otherwise. */
int acct_authenticate(struct mb *mb, const char *token, char *name_out, size_t cap,
                      enum role *role);
/** Delete account NAME. Errors: not_found, storage. */
int acct_delete(struct mb *mb, const char *name, struct mb_error *err);
/** Replace NAME's token by a new one written into TOKEN_OUT; the old one stops working. */
int acct_new_token(struct mb *mb, const char *name, char *token_out, size_t cap,
                   struct mb_error *err);
/** Every account as [{"name", "role", "created"}] sorted by name (no token hash), or NULL. */
json_t *acct_list(struct mb *mb);
/** True when at least one account exists (also true when the table cannot be read). */
bool acct_any(struct mb *mb);
/**
 * With no account at all, create "admin" (role admin) and write its token to
 * TOKEN_FILE_PATH (0600, atomically). Returns 1 when it did, 0 when accounts
 * already existed, -1 on failure (ERR filled; then no account was created).
 */
int acct_bootstrap(struct mb *mb, const char *token_file_path, char *err, size_t errlen);

#endif
