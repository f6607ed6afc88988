/*
 * client: one ACME (RFC 8555) order, start to finish, over libcurl —
 * directory, nonce, account (the key kept in the state directory), order,
 * authorizations answered through runtime/challenge (HTTP-01, TLS-ALPN-01),
 * finalize with a CSR for a new key, certificate chain download. badNonce is
 * retried; Retry-After is honoured while polling and handed back on refusal.
 * Blocking: runs on the ACME thread only (never a worker loop).
 */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include "acme/proto.h"

struct acme_order_req {
    const char *directory;         /* https:// URL */
    const char *ca_file;           /* CA certificates to trust for it; NULL: the system's */
    const char *email;             /* account contact; may be NULL */
    const char *account_key;       /* PEM file of the account key, created when absent */
    const char *const *names;      /* DNS names to certify, the first one the subject */
    size_t nnames;
    const unsigned char *challenges; /* enum acme_challenge, most preferred first */
    size_t nchallenges;
    const atomic_bool *stop;       /* set when the server stops: the order is abandoned */
    const char *log_name;          /* the site, for the log lines */
};

struct acme_result {
    char *chain_pem, *key_pem;     /* on success; the caller frees both */
    char error[800];               /* on failure: what went wrong, with the CA's problem */
    struct acme_problem problem;   /* the CA's problem document, type "" when none */
    long retry_after;              /* seconds the CA asked to wait, -1 when it did not */
    char account_url[ACME_URL_MAX];
    int account_created;           /* 1 when the CA made a new account for the key */
};

/** Run one order for RQ. 0 with RES->chain_pem and key_pem, or -1 with RES->error. */
int acme_order(const struct acme_order_req *rq, struct acme_result *res);

#endif
