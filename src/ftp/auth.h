/*
 * auth: FTP password checks off the worker loops. argon2id takes tens of
 * milliseconds and 64 MiB by design, so a verification runs on one
 * auth thread and its result is posted back to the worker that asked. Also
 * the hashing used when a password is set (admin thread). Thread-safe.
 */
#ifndef FTP_AUTH_H
#define FTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct worker;

#define FTP_PASSWORD_MAX 256
#define FTP_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/** Called on the worker's thread with the result of a check. */
typedef void (*ftp_auth_done)(void *arg, bool ok);

/**
 * Check PASSWORD against argon2id string HASH (NULL: always fails, taking
 * the same time) on the auth thread; DONE(ARG, ok) then runs on W's
 * thread. Returns -1 when the queue is full (DONE is not called).
 */
int ftp_auth_submit(struct worker *w, const char *hash, const char *password, ftp_auth_done done,
                    void *arg);

/** The argon2id string of PASSWORD into OUT (FTP_HASH_MAX); 0, or -1 (out of memory). */
int ftp_auth_hash(const char *password, char out[FTP_HASH_MAX]);

#endif
