#include "admin/events.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api_int.h"
#include "core/alloc.h"
#include "metabase/mb.h"
#include "version.h"

struct event {
    uint64_t seq;
    char *text; /* the whole "id: …\nevent: …\ndata: …\n\n" */
    size_t len;
};

static struct {
    pthread_mutex_t lock;
    struct event ring[EVENTS_KEEP];
    uint64_t seq;  /* the newest event's */
    time_t boot;
    struct mb *mb;
    void (*notify)(void *);
    void *arg;
    /* producers' memory (API lock) */
    bool primed;
    uint64_t revision;
    json_t *states; /* "svc" or "svc/site" -> state */
} E = {.lock = PTHREAD_MUTEX_INITIALIZER};

void events_init(struct mb *mb, void (*notify)(void *), void *arg)
{
    E.mb = mb;
    E.notify = notify;
    E.arg = arg;
    E.boot = time(NULL);
}

void events_fini(void)
{
    for (size_t i = 0; i < EVENTS_KEEP; i++) {
        free(E.ring[i].text);
        E.ring[i].text = NULL;
    }
    json_decref(E.states);
    E.states = NULL;
    E.primed = false;
}

/* Add one event (TYPE, DATA stolen) to the ring. */
static void publish(const char *type, json_t *data)
{
    char *js = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct buf b = {0};
    struct event *e;

    json_decref(data);
    if (js == NULL)
        return;
    pthread_mutex_lock(&E.lock);
    E.seq++;
    buf_printf(&b, "id: %lld.%" PRIu64 "\nevent: %s\ndata: %s\n\n", (long long)E.boot, E.seq,
               type, js);
    e = &E.ring[E.seq % EVENTS_KEEP];
    free(e->text);
    e->seq = E.seq;
    e->text = b.data;
    e->len = b.len;
    pthread_mutex_unlock(&E.lock);
    free(js);
}

static void poll_revisions(void)
{
    uint64_t now = mb_revision(E.mb);
    json_t *list, *r;
    size_t i;

    if (now <= E.revision) {
        E.revision = now; /* a restore may have gone back; nothing new to tell */
        return;
    }
    /* newest first; the oldest missed ones beyond 50 are left out */
    list = mb_history(E.mb, now + 1, now - E.revision > 50 ? 50 : (unsigned)(now - E.revision));
    for (i = json_array_size(list); i-- > 0;) {
        r = json_array_get(list, i);
        if ((uint64_t)json_integer_value(json_object_get(r, "revision")) <= E.revision)
            continue;
        json_object_del(r, "address");
        publish("commit", json_incref(r));
    }
    json_decref(list);
    E.revision = now;
}

static void note_state(json_t *now, const char *svc, const char *site, const char *state)
{
    char k[200];
    const char *was;

    snprintf(k, sizeof(k), "%s%s%s", svc, site ? "/" : "", site ? site : "");
    json_object_set_new(now, k, json_string(state));
    was = json_string_value(json_object_get(E.states, k));
    if (E.states && (was == NULL || strcmp(was, state) != 0))
        publish("state", json_pack("{s:s,s:o,s:s}", "service", svc, "site",
                                   site ? json_string(site) : json_null(), "state", state));
}

static void poll_states(void)
{
    json_t *list = api_services_json(), *now = json_object(), *svc, *site;
    size_t i, j;

    json_array_foreach(list, i, svc) {
        const char *name = json_string_value(json_object_get(svc, "name"));
        note_state(now, name, NULL, json_string_value(json_object_get(svc, "state")));
        json_array_foreach(json_object_get(svc, "sites"), j, site)
            note_state(now, name, json_string_value(json_object_get(site, "name")),
                       json_string_value(json_object_get(site, "state")));
    }
    json_decref(list);
    json_decref(E.states);
    E.states = now;
}

void events_poll(void)
{
    uint64_t before = events_last();

    if (!E.primed) {
        E.revision = mb_revision(E.mb);
        E.primed = true;
    }
    poll_revisions();
    poll_states();
    if (events_last() != before && E.notify)
        E.notify(E.arg);
}

void events_publish(const char *type, json_t *data)
{
    publish(type, data);
    if (E.notify)
        E.notify(E.arg);
}

void events_tick(void)
{
    events_poll();
    publish("stats", json_pack("{s:I,s:o}", "time", (json_int_t)time(NULL), "stats",
                               api_stats_json("", "", false)));
    if (E.notify)
        E.notify(E.arg);
}

uint64_t events_last(void)
{
    uint64_t s;

    pthread_mutex_lock(&E.lock);
    s = E.seq;
    pthread_mutex_unlock(&E.lock);
    return s;
}

int64_t events_resume_point(const char *id)
{
    long long boot;
    unsigned long long seq;
    char tail;
    int64_t at = -1;

    if (id == NULL || id[0] == '\0')
        return (int64_t)events_last();
    if (sscanf(id, "%lld.%llu%c", &boot, &seq, &tail) != 2 || boot != (long long)E.boot)
        return -1;
    pthread_mutex_lock(&E.lock);
    /* still in the ring (or nothing after it was lost) and not from the future */
    if (seq <= E.seq && E.seq - seq <= EVENTS_KEEP)
        at = (int64_t)seq;
    pthread_mutex_unlock(&E.lock);
    return at;
}

bool events_copy(uint64_t *after, struct buf *out, size_t max_bytes)
{
    bool ok = true;
    size_t used = 0;

    pthread_mutex_lock(&E.lock);
    if (E.seq - *after > EVENTS_KEEP) {
        ok = false;
    } else {
        while (*after < E.seq) {
            const struct event *e = &E.ring[(*after + 1) % EVENTS_KEEP];
            if (used > 0 && used + e->len > max_bytes)
                break;
            buf_append(out, e->text, e->len);
            used += e->len;
            (*after)++;
        }
    }
    pthread_mutex_unlock(&E.lock);
    return ok;
}

void events_hello(struct buf *out)
{
    buf_printf(out, "event: hello\ndata: {\"version\":\"%s\",\"revision\":%" PRIu64
                    ",\"boot\":%lld}\n\n",
               INFOSRV_VERSION, mb_revision(E.mb), (long long)E.boot);
}

void events_reset(struct buf *out)
{
    buf_puts(out, "event: reset\ndata: {\"reason\":\"the events since the id asked for are "
                  "no longer kept; load everything again\"}\n\n");
}
