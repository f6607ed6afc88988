/* auth: argon2id checks on a thread of their own. */
#include "ftp/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alloc.h"
#include "core/log.h"
#include "runtime/worker.h"

#define QUEUE_MAX 256

struct job {
    struct job *next;
    struct worker *w;
    char hash[FTP_HASH_MAX];
    char password[FTP_PASSWORD_MAX + 1];
    bool has_hash, ok;
    ftp_auth_done done;
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static size_t queued;
static bool started;
static char dummy_hash[FTP_HASH_MAX]; /* unknown users cost as much as known ones */

static void job_finish(void *p)
{
    struct job *j = p;

    j->done(j->arg, j->ok);
    sodium_memzero(j, sizeof(*j));
    free(j);
}

static void job_run(struct job *j)
{
    const char *hash = j->has_hash ? j->hash : dummy_hash;

    j->ok = crypto_pwhash_str_verify(hash, j->password, strlen(j->password)) == 0 && j->has_hash;
    sodium_memzero(j->password, sizeof(j->password));
    worker_post(j->w, job_finish, j);
}

static void *auth_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (head == NULL)
            pthread_cond_wait(&wake, &lock);
        struct job *j = head;
        head = j->next;
        if (head == NULL)
            tail = &head;
        queued--;
        pthread_mutex_unlock(&lock);
        job_run(j);
    }
    return NULL;
}

/* Called with the lock held. */
static int start_thread(void)
{
    pthread_t t;
    pthread_attr_t attr;

    if (started)
        return 0;
    if (sodium_init() < 0 || ftp_auth_hash("infosrv: no such user", dummy_hash) == -1)
        return -1;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, auth_thread, NULL) != 0) {
        pthread_attr_destroy(&attr);
        log_warnx("ftp: cannot start the password thread");
        return -1;
    }
    pthread_attr_destroy(&attr);
    started = true;
    return 0;
}

int ftp_auth_submit(struct worker *w, const char *hash, const char *password, ftp_auth_done done,
                    void *arg)
{
    struct job *j;
    int rc = -1;

    pthread_mutex_lock(&lock);
    if (queued < QUEUE_MAX && start_thread() == 0) {
        j = xcalloc(1, sizeof(*j));
        j->w = w;
        j->has_hash = hash != NULL && strlen(hash) < sizeof(j->hash);
        if (j->has_hash)
            memcpy(j->hash, hash, strlen(hash) + 1);
        snprintf(j->password, sizeof(j->password), "%s", password);
        j->done = done;
        j->arg = arg;
        *tail = j;
        tail = &j->next;
        queued++;
        pthread_cond_signal(&wake);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int ftp_auth_hash(const char *password, char out[FTP_HASH_MAX])
{
    _Static_assert(FTP_HASH_MAX >= crypto_pwhash_STRBYTES, "argon2id strings fit");
    return crypto_pwhash_str_alg(out, password, strlen(password),
                                 crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                 crypto_pwhash_ALG_ARGON2ID13) == 0 ? 0 : -1;
}
