/*
 * acme: automatic certificates for sites with tls_acme on. One ACME thread
 * keeps a record per such site of the current generation, orders a
 * certificate when the site has none for its host names, renews it at two
 * thirds of its lifetime (or when forced), retries failures with backoff,
 * and installs what it gets (files in the state directory, then a new
 * generation through ENV->apply). Records are read by the admin API
 * (certificates list, renew). Start and stop on the main thread; the other
 * calls are safe from any thread (one mutex, never held across a network call
 * or the API lock).
 */
#ifndef ACME_ACME_H
#define ACME_ACME_H

#include <jansson.h>
#include <stddef.h>

struct acme_env {
    const char *tls_dir;        /* the account keys live in TLS_DIR/acme */
    void (*lock)(void);         /* the API lock: nothing compiles while files change */
    void (*unlock)(void);
    int (*apply)(void);         /* make the metabase's current state live (under the lock) */
};

/** Start the ACME thread. -1 when it cannot be started. */
int acme_start(const struct acme_env *env);
/** A generation was published: the thread rereads the sites (any thread, never blocks). */
void acme_notify(void);
/** Stop the thread (an order in progress is abandoned at its next step). */
void acme_stop(void);
/** Every TLS site of the current generation with its certificate and ACME state. */
json_t *acme_certificates_json(void);
/**
 * Renew the certificate of site KEY ("/www/sites/shop") now, whatever its
 * expiry or backoff. 0, or -1 when KEY has no tls_acme (ERR filled).
 */
int acme_renew(const char *key, char *err, size_t errlen);

#endif
