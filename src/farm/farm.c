/* farm: the member thread (catch up, watch, apply, keep the lease) and the
 * admin side of the farm (commit through etcd, status, leave).
 *
 * In etcd, under PREFIX (farm_name):
 *   PREFIX/head             the farm's revision N, as decimal text
 *   PREFIX/revisions/N      record N (record.h): the whole shared tree after it;
 *                           the last FARM_KEEP records are kept, so a member further
 *                           behind catches up from the newest one, a full snapshot
 *   PREFIX/members/NAME     a member's entry, under its lease: alive
 *   PREFIX/roster/NAME      the same entry without a lease: known, alive or not
 * A commit puts head and revisions/N+1 in one transaction that compares
 * head with N: of two members committing on N, one wins and the other gets
 * 412 with nothing changed. */
#include "farm/farm.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "farm/etcd.h"
#include "farm/farm_int.h"
#include "farm/record.h"

struct farm_state farm = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void farm_lock(void)
{
    pthread_mutex_lock(&farm.mu);
}

void farm_unlock(void)
{
    pthread_mutex_unlock(&farm.mu);
}

void farm_wake(void)
{
    pthread_cond_broadcast(&farm.cond);
    if (farm.watch)
        etcd_watch_wakeup(farm.watch);
}

/* Wait on the condition until DEADLINE (monotonic ms); farm.mu held. False on timeout. */
bool farm_wait_until(int64_t deadline)
{
    struct timespec ts;
    int64_t left = deadline - clock_mono_ms();

    if (left <= 0)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* farm.cond waits on it: see farm_start */
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&farm.cond, &farm.mu, &ts) != ETIMEDOUT;
}

static bool stopping(void)
{
    bool s;

    farm_lock();
    s = farm.stop;
    farm_unlock();
    return s;
}

/* ---- the local bookkeeping (table farm_applied), under the API lock ---- */

static int book_load(uint64_t *rev, char hash[RECORD_HASH_LEN + 1])
{
    sqlite3_stmt *st;
    int rc;

    *rev = 0;
    hash[0] = '\0';
    if (sqlite3_prepare_v2(mb_db(farm.env.mb),
                           "SELECT revision, hash FROM farm_applied WHERE farm = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, farm.prefix, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *rev = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(hash, RECORD_HASH_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int book_write(struct mb *mb, uint64_t rev, const char *hash, const char *id,
                      struct mb_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(mb_db(mb),
                           "INSERT OR REPLACE INTO farm_applied (farm, revision, hash, id, time)"
                           " VALUES (?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return mb_fail(err, MB_E_STORAGE, NULL, NULL, "farm: %s", sqlite3_errmsg(mb_db(mb)));
    sqlite3_bind_text(st, 1, farm.prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)rev);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return mb_fail(err, MB_E_STORAGE, NULL, NULL, "farm: recording the farm revision: %s",
                       sqlite3_errmsg(mb_db(mb)));
    return 0;
}

void farm_book_forget(void)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(mb_db(farm.env.mb), "DELETE FROM farm_applied WHERE farm = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, farm.prefix, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

/* The hash of the metabase's shared tree now, under the API lock. */
void farm_tree_hash(char out[RECORD_HASH_LEN + 1])
{
    json_t *tree = mb_tree(farm.env.mb, NULL), *shared = record_shared(tree);

    record_hash(shared, out);
    json_decref(shared);
    json_decref(tree);
}

/* ---- member entries ---- */

static json_t *entry_json(const struct member *m, bool alive)
{
    return json_pack("{s:s, s:b, s:s, s:O, s:I, s:s, s:s, s:s?, s:I, s:I, s:I}", "name", m->name,
                     "alive", alive, "version", m->version, "capabilities", m->capabilities,
                     "revision", (json_int_t)m->revision, "hash", m->hash, "farm_hash",
                     m->farm_hash, "error", m->error, "error_revision",
                     (json_int_t)m->error_revision, "started", (json_int_t)m->started, "updated",
                     (json_int_t)m->updated);
}

/* A members/ or roster/ event; farm.mu held. */
static void member_event(const char *name, const struct etcd_kv *kv, bool deleted, bool leased)
{
    struct member m;
    char why[128];
    json_t *old = json_object_get(farm.members, name);

    if (deleted) {
        if (leased && old)
            json_object_set_new(old, "alive", json_false());
        else if (!leased)
            json_object_del(farm.members, name);
        return;
    }
    if (old == NULL && json_object_size(farm.members) >= FARM_MEMBERS_MAX)
        return; /* etcd can hold more: farm status shows the first ones */
    if (member_decode(kv->value, kv->value_len, &m, why, sizeof(why)) == -1)
        return;
    json_object_set_new(farm.members, name,
                        entry_json(&m, leased || json_is_true(json_object_get(old, "alive"))));
    member_free(&m);
}

static void self_entry(struct member *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", farm.member);
    snprintf(m->version, sizeof(m->version), "%s", farm.env.version);
    m->capabilities = farm.caps;
    farm_lock();
    m->revision = farm.applied;
    memcpy(m->hash, farm.hash, sizeof(m->hash));
    memcpy(m->farm_hash, farm.farm_hash, sizeof(m->farm_hash));
    m->error = farm.error ? xstrdup(farm.error) : NULL;
    m->error_revision = farm.error_revision;
    farm_unlock();
    m->started = farm.started;
    m->updated = time(NULL);
}

/* members/NAME (leased) and roster/NAME in one transaction. */
static int publish_self(struct etcd_err *err)
{
    struct member m;
    char key[400], roster[400], *text;
    json_t *ok, *req;
    bool succeeded;
    int rc;

    self_entry(&m);
    text = member_encode(&m);
    free(m.error);
    record_member_key(farm.prefix, "members", farm.member, key, sizeof(key));
    record_member_key(farm.prefix, "roster", farm.member, roster, sizeof(roster));
    ok = json_pack("[o, o]", etcd_msg_put_op(key, text, strlen(text), farm.lease),
                   etcd_msg_put_op(roster, text, strlen(text), 0));
    req = etcd_msg_txn_req(NULL, ok, NULL);
    rc = etcd_txn(farm.etcd, req, FARM_CALL_MS, &succeeded, NULL, err);
    json_decref(req);
    free(text);
    if (rc == 0)
        farm.publish = false;
    return rc;
}

/* ---- applying a farm revision ---- */

struct apply_ctx {
    const struct record *r;
    bool booked;
};

/* The daemon's hook, plus the farm revision recorded in the same transaction. */
static int apply_hook(struct mb *mb, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    struct apply_ctx *c = arg;
    struct mb_error ignored;
    int rc = farm.env.apply(mb, NULL, phase, err);

    if (phase != MB_APPLY_PREPARE || rc == -1)
        return rc;
    if (book_write(mb, c->r->revision, c->r->hash, c->r->id, err) == -1) {
        farm.env.apply(mb, NULL, MB_APPLY_ABORT, &ignored);
        return -1;
    }
    c->booked = true;
    return 0;
}

/* Make R's shared tree ours as one local commit; FROM is the first revision it covers. */
static int apply_local(const struct record *r, uint64_t from, struct mb_error *err)
{
    char identity[RECORD_NAME_MAX + RECORD_TEXT_MAX + 8], comment[RECORD_TEXT_MAX + 64];
    struct mb_actor who = {identity, r->address};
    struct apply_ctx ctx = {.r = r};
    uint64_t rev;
    json_t *cur, *target;
    int rc;

    snprintf(identity, sizeof(identity), "farm:%s:%s", r->member, r->identity);
    if (from == r->revision)
        snprintf(comment, sizeof(comment), "farm revision %" PRIu64 "%s%s", r->revision,
                 r->comment[0] ? ": " : "", r->comment);
    else
        snprintf(comment, sizeof(comment), "farm revisions %" PRIu64 "-%" PRIu64 "%s%s", from,
                 r->revision, r->comment[0] ? ": " : "", r->comment);
    if ((cur = mb_tree(farm.env.mb, err)) == NULL)
        return -1;
    target = record_merge(r->state, cur);
    rc = mb_tree_replace(farm.env.mb, target, -1, &who, comment, "farm", false, apply_hook, &ctx,
                         &rev, err);
    if (rc == 0 && !ctx.booked) /* nothing changed here: only the bookkeeping moves */
        rc = book_write(farm.env.mb, r->revision, r->hash, r->id, err);
    json_decref(target);
    json_decref(cur);
    return rc;
}

static void set_error(uint64_t rev, const char *msg)
{
    farm_lock();
    free(farm.error);
    farm.error = msg ? xstrdup(msg) : NULL;
    farm.error_revision = msg ? rev : 0;
    pthread_cond_broadcast(&farm.cond);
    farm_unlock();
    farm.publish = true;
    if (msg && strcmp(msg, farm.last_logged) != 0)
        log_warnx("farm: %s", msg);
    snprintf(farm.last_logged, sizeof(farm.last_logged), "%s", msg ? msg : "");
}

/* Apply R (covering FROM..R's revision); 0, or -1 with the error recorded. */
static int apply_record(const struct record *r, uint64_t from)
{
    char why[600], hash[RECORD_HASH_LEN + 1];
    struct mb_error err = {0};
    int rc;

    if (record_check(r, farm.caps, farm.env.version, why, sizeof(why)) == -1) {
        set_error(r->revision, why);
        return -1;
    }
    farm.env.lock();
    rc = apply_local(r, from, &err);
    if (rc == 0)
        farm_tree_hash(hash);
    farm.env.unlock();
    if (rc == -1) {
        snprintf(why, sizeof(why), "cannot apply farm revision %" PRIu64 ": %s", r->revision,
                 err.message);
        set_error(r->revision, why);
        return -1;
    }
    farm_lock();
    farm.applied = r->revision;
    memcpy(farm.farm_hash, r->hash, sizeof(farm.farm_hash));
    memcpy(farm.hash, hash, sizeof(farm.hash));
    farm_unlock();
    set_error(0, NULL);
    log_info("farm: applied farm revision %" PRIu64 " of %s (%s)", r->revision, farm.prefix,
             r->member);
    return 0;
}

/* ---- the queue of records received ---- */

static void queue_drop(size_t i)
{
    record_free(&farm.queue[i]);
    memmove(&farm.queue[i], &farm.queue[i + 1], (farm.nqueue - i - 1) * sizeof(farm.queue[0]));
    farm.nqueue--;
}

/* Keep R (taken over) in revision order; duplicates and old ones are dropped. */
static void queue_add(struct record *r)
{
    size_t i = 0;
    uint64_t applied;

    farm_lock();
    applied = farm.applied;
    if (r->revision >= farm.head) {
        farm.head = r->revision;
        memcpy(farm.head_hash, r->hash, sizeof(farm.head_hash));
    }
    farm_unlock();
    while (i < farm.nqueue && farm.queue[i].revision < r->revision)
        i++;
    if (r->revision <= applied || (i < farm.nqueue && farm.queue[i].revision == r->revision)) {
        record_free(r);
        return;
    }
    if (farm.nqueue == FARM_QUEUE_MAX) { /* read them from etcd when their turn comes */
        farm.resync = true;
        record_free(r);
        return;
    }
    memmove(&farm.queue[i + 1], &farm.queue[i], (farm.nqueue - i) * sizeof(farm.queue[0]));
    farm.queue[i] = *r;
    farm.nqueue++;
    farm.retry_at = 0; /* a newer revision may apply where an older one failed */
}

static void queue_value(const struct etcd_kv *kv)
{
    struct record r;
    char why[256];

    if (record_decode(kv->value, kv->value_len, &r, why, sizeof(why)) == -1) {
        log_warnx("farm: ignoring %s: %s", kv->key, why);
        return;
    }
    queue_add(&r);
}

/* Read records FROM..TO (those still kept) from etcd into the queue. */
static int fetch_records(uint64_t from, uint64_t to, struct etcd_err *err)
{
    char key[400], end[400];
    struct etcd_range keys, one;
    uint64_t n;

    record_rev_key(farm.prefix, from, key, sizeof(key));
    record_rev_key(farm.prefix, to + 1, end, sizeof(end));
    if (etcd_get(farm.etcd, key, end, true, FARM_CALL_MS, &keys, err) == -1)
        return -1;
    for (size_t i = 0; i < keys.n && farm.nqueue < FARM_QUEUE_MAX; i++) {
        if (record_rev_parse(farm.prefix, keys.kvs[i].key, &n) == -1)
            continue;
        if (etcd_get(farm.etcd, keys.kvs[i].key, NULL, false, FARM_CALL_MS, &one, err) == -1) {
            etcd_range_free(&keys);
            return -1;
        }
        if (one.n == 1)
            queue_value(&one.kvs[0]);
        etcd_range_free(&one);
    }
    etcd_range_free(&keys);
    return 0;
}

uint64_t farm_applied_now(void)
{
    uint64_t a;

    farm_lock();
    a = farm.applied;
    farm_unlock();
    return a;
}

/* The revision records before the first queued one are gone (or were dropped): read
 * what etcd still keeps; when the next one is not among them, the newest record
 * (a whole tree) is applied as a snapshot. */
static int fill_gap(struct etcd_err *err)
{
    uint64_t applied = farm_applied_now(), last;

    farm_lock();
    last = farm.head;
    farm_unlock();
    farm.resync = false;
    if (fetch_records(applied + 1, last, err) == -1)
        return -1;
    farm.filled_to = last;
    if (farm.nqueue > 0 && farm.queue[0].revision != applied + 1) {
        while (farm.nqueue > 1)
            queue_drop(0); /* keep the newest: a full snapshot */
        log_info("farm: farm revisions %" PRIu64 "-%" PRIu64 " are no longer kept; catching up "
                 "from the snapshot of farm revision %" PRIu64,
                 applied + 1, farm.queue[0].revision - 1, farm.queue[0].revision);
    }
    return 0;
}

/* Apply what the queue allows, in order; a revision that fails is retried later (or
 * skipped by a newer one, which carries the whole tree). */
static int drain(struct etcd_err *err)
{
    int64_t now = clock_mono_ms();

    bool gap =
        farm.nqueue > 0 && record_next(farm_applied_now(), farm.queue[0].revision) == RECORD_GAP;

    /* etcd is read again only when it has something the last reading did not */
    if ((farm.resync || (gap && farm.queue[farm.nqueue - 1].revision > farm.filled_to)) &&
        fill_gap(err) == -1)
        return -1;
    while (farm.nqueue > 0) {
        uint64_t applied = farm_applied_now();
        enum record_step step = record_next(applied, farm.queue[0].revision);
        if (step == RECORD_SKIP) {
            queue_drop(0);
            continue;
        }
        if (farm.retry_at > now)
            return 0;
        size_t pick = step == RECORD_APPLY ? 0 : farm.nqueue - 1;
        if (apply_record(&farm.queue[pick], applied + 1) == 0) {
            farm.retry_at = 0, farm.retry_ms = FARM_RETRY_MIN_MS;
            continue;
        }
        if (pick != farm.nqueue - 1 && apply_record(&farm.queue[farm.nqueue - 1], applied + 1) == 0)
            continue; /* a newer revision could be applied: the failed one is covered */
        farm.retry_at = now + farm.retry_ms;
        farm.retry_ms =
            farm.retry_ms * 2 > FARM_RETRY_MAX_MS ? FARM_RETRY_MAX_MS : farm.retry_ms * 2;
        return 0;
    }
    return 0;
}

/* ---- the watch ---- */

static void head_event(const struct etcd_kv *kv)
{
    uint64_t n = strtoull(kv->value, NULL, 10);

    farm_lock();
    if (n > farm.head)
        farm.head = n;
    farm_unlock();
}

static void on_event(const struct etcd_event *ev)
{
    const char *key = ev->kv.key, *name;
    uint64_t n;

    if (record_rev_parse(farm.prefix, key, &n) == 0) {
        if (!ev->deleted)
            queue_value(&ev->kv);
    } else if (strcmp(key, farm.head_key) == 0 && !ev->deleted) {
        head_event(&ev->kv);
    } else if ((name = record_member_parse(farm.prefix, "members", key)) != NULL) {
        farm_lock();
        member_event(name, &ev->kv, ev->deleted, true);
        pthread_cond_broadcast(&farm.cond);
        farm_unlock();
    } else if ((name = record_member_parse(farm.prefix, "roster", key)) != NULL) {
        farm_lock();
        member_event(name, &ev->kv, ev->deleted, false);
        farm_unlock();
    }
}

static int on_watch(void *arg, const struct etcd_watch_msg *m)
{
    (void)arg;
    if (m->created) {
        farm_lock();
        if (!farm.connected && farm.lost)
            log_info("farm: etcd answers again (%s): following farm %s", etcd_endpoint(farm.etcd),
                     farm.prefix);
        farm.connected = true;
        farm.conn_error[0] = '\0';
        pthread_cond_broadcast(&farm.cond);
        farm_unlock();
    }
    for (size_t i = 0; i < m->n; i++)
        on_event(&m->events[i]);
    return 0;
}

static int read_head(uint64_t *head, int64_t *store_rev, struct etcd_err *err);

/* A watch on an endpoint cut off from the others can stall without an error while
 * calls fail over elsewhere: a farm revision etcd has and the watch never brought
 * twice in a row ends the watch. */
static int watch_current(struct etcd_err *err)
{
    uint64_t head, seen;
    int64_t store_rev;

    if (read_head(&head, &store_rev, err) == -1)
        return -1;
    farm_lock();
    seen = farm.head;
    farm_unlock();
    farm.behind_checks = head > seen ? farm.behind_checks + 1 : 0;
    if (farm.behind_checks < 2)
        return 0;
    farm.behind_checks = 0;
    snprintf(err->msg, sizeof(err->msg),
             "the watch stopped bringing farm revisions (etcd has %" PRIu64
             ", the watch brought %" PRIu64 ")",
             head, seen);
    return -1;
}

static int keepalive(struct etcd_err *err)
{
    int64_t ttl = 0;

    if (clock_mono_ms() < farm.next_keepalive)
        return 0;
    if (etcd_lease_keepalive(farm.etcd, farm.lease, FARM_CALL_MS, &ttl, err) == -1)
        return -1;
    if (ttl <= 0) {
        snprintf(err->msg, sizeof(err->msg), "the member's lease expired");
        return -1;
    }
    farm.next_keepalive = clock_mono_ms() + FARM_KEEPALIVE_MS;
    return watch_current(err);
}

/* A local commit may have fixed what made a revision fail (binding_overrides): retry now. */
static void take_kick(void)
{
    farm_lock();
    if (farm.kicked)
        farm.retry_at = 0;
    farm.kicked = false;
    farm_unlock();
}

/* Watch until the stream ends, etcd stops answering, or we are told to stop. */
static void watch_loop(int64_t from, struct etcd_err *err)
{
    char keys[300]; /* every key of the farm is under PREFIX/, all a member may be allowed */
    struct etcd_watch *w;

    snprintf(keys, sizeof(keys), "%s/", farm.prefix);
    w = etcd_watch_open(farm.etcd, keys, from, err);

    if (w == NULL)
        return;
    farm_lock();
    farm.watch = w;
    farm_unlock();
    while (!stopping()) {
        if (etcd_watch_poll(w, FARM_POLL_MS, on_watch, NULL, err) == -1)
            break;
        take_kick();
        if (drain(err) == -1 || keepalive(err) == -1)
            break;
        if (farm.publish && publish_self(err) == -1)
            break;
    }
    farm_lock();
    farm.watch = NULL;
    farm_unlock();
    etcd_watch_close(w);
}

/* ---- connecting: lease, catch-up, members, the first revision ---- */

static int create_farm(struct etcd_err *err)
{
    struct record r = {.format = RECORD_FORMAT, .revision = 1, .time = time(NULL)};
    char key[400], *text;
    unsigned char id[RECORD_ID_LEN / 2];
    json_t *tree, *req;
    bool succeeded = false;
    int rc = -1;

    farm.env.lock();
    tree = mb_tree(farm.env.mb, NULL);
    farm.env.unlock();
    if (tree == NULL)
        return snprintf(err->msg, sizeof(err->msg), "the metabase cannot be read"), -1;
    randombytes_buf(id, sizeof(id));
    sodium_bin2hex(r.id, sizeof(r.id), id, sizeof(id));
    snprintf(r.member, sizeof(r.member), "%s", farm.member);
    r.identity = xstrdup("infosrv");
    r.address = xstrdup("");
    r.comment = xstrdup("farm created from this member's configuration");
    r.state = record_shared(tree);
    r.requires = record_requires(r.state);
    record_hash(r.state, r.hash);
    if ((text = record_encode(&r)) != NULL) {
        record_rev_key(farm.prefix, 1, key, sizeof(key));
        req = etcd_msg_txn_req(json_pack("[o]", etcd_msg_cmp_value(farm.head_key, NULL)),
                               json_pack("[o, o]", etcd_msg_put_op(farm.head_key, "1", 1, 0),
                                         etcd_msg_put_op(key, text, strlen(text), 0)),
                               NULL);
        rc = etcd_txn(farm.etcd, req, FARM_CALL_MS, &succeeded, NULL, err);
        json_decref(req);
        if (rc == 0 && succeeded)
            log_info("farm: created farm %s from this member's configuration", farm.prefix);
    } else {
        snprintf(err->msg, sizeof(err->msg), "the shared configuration is larger than %u bytes",
                 RECORD_MAX);
    }
    free(text);
    json_decref(tree);
    record_free(&r);
    return rc;
}

/* The farm's revision (0: no farm yet) and the store revision it was read at. */
static int read_head(uint64_t *head, int64_t *store_rev, struct etcd_err *err)
{
    struct etcd_range r;

    if (etcd_get(farm.etcd, farm.head_key, NULL, false, FARM_CALL_MS, &r, err) == -1)
        return -1;
    *head = r.n == 1 ? strtoull(r.kvs[0].value, NULL, 10) : 0;
    *store_rev = r.revision;
    etcd_range_free(&r);
    return 0;
}

static int read_members(const char *sub, bool leased, struct etcd_err *err)
{
    char key[400];
    char *end;
    struct etcd_range r;
    const char *name;
    int rc;

    snprintf(key, sizeof(key), "%s/%s/", farm.prefix, sub);
    end = etcd_msg_prefix_end(key);
    rc = etcd_get(farm.etcd, key, end, false, FARM_CALL_MS, &r, err);
    free(end);
    if (rc == -1)
        return -1;
    farm_lock();
    for (size_t i = 0; i < r.n; i++)
        if ((name = record_member_parse(farm.prefix, sub, r.kvs[i].key)) != NULL)
            member_event(name, &r.kvs[i], false, leased);
    farm_unlock();
    etcd_range_free(&r);
    return 0;
}

/* The farm restarted its history below what we applied (a new etcd cluster). */
static void history_restarted(uint64_t head)
{
    uint64_t applied = farm_applied_now();

    if (head >= applied)
        return;
    log_warnx("farm: farm %s is at revision %" PRIu64 ", below the %" PRIu64 " this member "
              "applied: its history restarted; following it from there",
              farm.prefix, head, applied);
    farm_lock();
    farm.applied = 0;
    farm.head = head;
    farm_unlock();
}

static int sync_farm(int64_t *watch_from, struct etcd_err *err)
{
    uint64_t head;
    int64_t store_rev, old = farm.lease, lease;
    struct etcd_err ignored;

    if (etcd_lease_grant(farm.etcd, FARM_LEASE_TTL_S, FARM_CALL_MS, &lease, err) == -1)
        return -1;
    farm.lease = lease;
    if (old != 0) /* the lease of the connection before, if it still runs */
        etcd_lease_revoke(farm.etcd, old, 500, &ignored);
    if (read_head(&head, &store_rev, err) == -1)
        return -1;
    if (head == 0 && (create_farm(err) == -1 || read_head(&head, &store_rev, err) == -1))
        return -1;
    history_restarted(head);
    farm_lock();
    if (head > farm.head)
        farm.head = head;
    json_object_clear(farm.members);
    farm_unlock();
    farm.resync = head > farm_applied_now();
    if (read_members("roster", false, err) == -1 || read_members("members", true, err) == -1 ||
        drain(err) == -1 || publish_self(err) == -1)
        return -1;
    farm.next_keepalive = clock_mono_ms() + FARM_KEEPALIVE_MS;
    *watch_from = store_rev + 1;
    return 0;
}

static void disconnected(const struct etcd_err *err)
{
    farm_lock();
    if (farm.connected)
        log_warnx("farm: lost etcd: %s", err->msg);
    farm.lost = farm.lost || farm.connected;
    farm.connected = false;
    snprintf(farm.conn_error, sizeof(farm.conn_error), "%s",
             err->msg[0] ? err->msg : "not connected");
    pthread_cond_broadcast(&farm.cond);
    farm_unlock();
}

static void sleep_ms(unsigned ms)
{
    farm_lock();
    if (!farm.stop)
        farm_wait_until(clock_mono_ms() + ms);
    farm_unlock();
}

static void *member_thread(void *arg)
{
    unsigned backoff = FARM_RECONNECT_MIN_MS;
    struct etcd_err err;
    int64_t from;

    (void)arg;
    while (!stopping()) {
        memset(&err, 0, sizeof(err));
        if (sync_farm(&from, &err) == 0) {
            backoff = FARM_RECONNECT_MIN_MS;
            watch_loop(from, &err);
        }
        if (stopping())
            break;
        disconnected(&err);
        sleep_ms(backoff);
        backoff = backoff * 2 > FARM_RECONNECT_MAX_MS ? FARM_RECONNECT_MAX_MS : backoff * 2;
    }
    if (farm.lease != 0) /* gone at once, not when the lease runs out */
        etcd_lease_revoke(farm.etcd, farm.lease, 1000, &err);
    farm.lease = 0;
    return NULL;
}

/* ---- start and stop ---- */

static const char *machine_str(const json_t *eff, const char *name)
{
    const char *s = json_string_value(json_object_get(eff, name));

    return s && *s ? s : NULL;
}

/* member_name, or the host name in lower case. */
static int member_name(const json_t *eff, char *out, size_t cap, char *err, size_t ecap)
{
    const char *name = machine_str(eff, "member_name");
    char host[256] = "";

    if (name == NULL && gethostname(host, sizeof(host) - 1) == 0)
        name = host;
    for (char *p = host; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    if (name == NULL || strlen(name) > RECORD_NAME_MAX || strlen(name) == 0 ||
        strpbrk(name, "/ ") != NULL)
        return snprintf(err, ecap,
                        "farm: the host name \"%s\" cannot be a member name: set "
                        "member_name (infosrv --member NAME)",
                        host),
               -1;
    snprintf(out, cap, "%.63s", name);
    return 0;
}

static void etcd_conf_from(const json_t *eff, struct etcd_conf *c)
{
    const json_t *list = json_object_get(eff, "farm_endpoints"), *v;
    size_t i;

    memset(c, 0, sizeof(*c));
    json_array_foreach ((json_t *)(uintptr_t)list, i, v)
        if (c->nendpoints < ETCD_MAX_ENDPOINTS)
            c->endpoints[c->nendpoints++] = json_string_value(v);
    c->ca_file = machine_str(eff, "farm_ca_certificate");
    c->cert_file = machine_str(eff, "farm_client_certificate");
    c->key_file = machine_str(eff, "farm_client_key");
    c->user = machine_str(eff, "farm_user");
    c->password = machine_str(eff, "farm_password");
}

int farm_settings(const json_t *machine, char member[RECORD_NAME_MAX + 1], char *err, size_t cap)
{
    struct etcd_conf conf;
    const char *name = machine_str(machine, "farm_name");

    etcd_conf_from(machine, &conf);
    if (conf.nendpoints == 0 && name == NULL)
        return 1; /* standalone */
    if (conf.nendpoints == 0 || name == NULL)
        return snprintf(err, cap,
                        "farm: %s is set but %s is not: set both to join a farm, "
                        "or neither",
                        name ? "farm_name" : "farm_endpoints",
                        name ? "farm_endpoints" : "farm_name"),
               -1;
    if ((conf.cert_file == NULL) != (conf.key_file == NULL) ||
        (conf.user == NULL) != (conf.password == NULL))
        return snprintf(err, cap,
                        "farm: set farm_client_certificate with farm_client_key, and "
                        "farm_user with farm_password"),
               -1;
    return member_name(machine, member, RECORD_NAME_MAX + 1, err, cap);
}

static int configure(const json_t *eff, char *err, size_t cap)
{
    struct etcd_conf conf;
    int rc = farm_settings(eff, farm.member, err, cap);

    if (rc != 0)
        return rc;
    etcd_conf_from(eff, &conf);
    snprintf(farm.prefix, sizeof(farm.prefix), "%s", machine_str(eff, "farm_name"));
    snprintf(farm.head_key, sizeof(farm.head_key), "%s/head", farm.prefix);
    farm.etcd = etcd_new(&conf);
    return 0;
}

int farm_start(const struct farm_env *env, char *err, size_t cap)
{
    json_t *eff;
    int rc;

    farm.env = *env;
    env->lock();
    eff = mb_effective(env->mb, "/");
    rc = eff ? configure(eff, err, cap) : (snprintf(err, cap, "farm: / cannot be read"), -1);
    json_decref(eff);
    if (rc == 0 && book_load(&farm.applied, farm.farm_hash) == -1)
        rc = (snprintf(err, cap, "farm: the metabase has no farm_applied table"), -1);
    if (rc == 0)
        farm_tree_hash(farm.hash);
    env->unlock();
    if (rc != 0)
        return rc == 1 ? 0 : -1;
    if (sodium_init() < 0)
        return snprintf(err, cap, "farm: libsodium cannot be initialised"), -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* waits survive a clock change */
    pthread_cond_destroy(&farm.cond);
    pthread_cond_init(&farm.cond, &ca);
    pthread_condattr_destroy(&ca);
    farm.caps = json_deep_copy(env->capabilities);
    farm.members = json_object();
    farm.retry_ms = FARM_RETRY_MIN_MS;
    farm.started = time(NULL);
    snprintf(farm.conn_error, sizeof(farm.conn_error), "connecting to %s",
             etcd_endpoint(farm.etcd));
    farm.active = true;
    if (pthread_create(&farm.thread, NULL, member_thread, NULL) != 0) {
        farm.active = false;
        return snprintf(err, cap, "farm: cannot start the member thread"), -1;
    }
    farm.running = true;
    log_info("farm: member %s of farm %s (etcd %s), from farm revision %" PRIu64, farm.member,
             farm.prefix, etcd_endpoint(farm.etcd), farm.applied);
    return 0;
}

void farm_stop_thread(void)
{
    if (!farm.running)
        return;
    farm_lock();
    farm.stop = true;
    farm_wake();
    farm_unlock();
    pthread_join(farm.thread, NULL);
    farm.running = false;
    for (size_t i = farm.nqueue; i > 0; i--)
        queue_drop(i - 1);
    /* commits in flight use the client: they wake on stop and end within their calls */
    farm_lock();
    int64_t deadline = clock_mono_ms() + FARM_WRITE_MS + FARM_CALL_MS + 1000;
    while (farm.inflight > 0 && farm_wait_until(deadline))
        ;
    if (farm.inflight > 0)
        log_warnx("farm: %u commit(s) still running at stop", farm.inflight);
    farm_unlock();
}

void farm_stop(void)
{
    farm_stop_thread();
    etcd_free(farm.etcd);
    farm.etcd = NULL;
    json_decref(farm.caps);
    json_decref(farm.members);
    farm.caps = farm.members = NULL;
    free(farm.error);
    farm.error = NULL;
    farm.active = false;
}

bool farm_active(void)
{
    return farm.active;
}

void farm_kick(void)
{
    if (!farm.active)
        return;
    farm_lock();
    farm.kicked = true;
    farm_wake();
    farm_unlock();
}
