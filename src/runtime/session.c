#include "runtime/session.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "runtime/gen.h"
#include "runtime/service.h"
#include "runtime/stats.h"
#include "runtime/worker.h"

void session_open(struct session *s, const struct service *svc, struct worker *w,
                  struct listener *li, const struct sockaddr *peer)
{
    static _Atomic uint64_t next_id = 1;

    s->svc = svc;
    s->w = w;
    s->li = li;
    s->id = next_id++;
    s->since = clock_wall();
    s->gen = w->gen;
    gen_ref(s->gen);
    s->site = li->bind ? li->bind->default_site : NULL;
    s->site_slot = s->site ? s->site->stats_slot : -1;
    li->refs++;
    net_host_str(peer, s->peer_ip, sizeof(s->peer_ip));
    net_addr16(peer, s->peer_addr);
    s->peer_port = net_port(peer);
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    w->nsessions++;
    stats_add(w->id, li->service_slot, STAT_TOTAL_CONNECTIONS, 1);
    stats_add(w->id, s->site_slot, STAT_TOTAL_CONNECTIONS, 1);
    stats_conn_open(li->service_slot);
    stats_conn_open(s->site_slot);
}

bool session_adopt_gen(struct session *s)
{
    const struct site *now;

    if (s->gen == s->w->gen)
        return false;
    /* The listener's binding is already the new generation's. */
    now = s->site ? binding_site_named(s->li->bind, s->site->name) : NULL;
    if (now == NULL && s->li->bind)
        now = s->li->bind->default_site;
    gen_unref(s->gen);
    s->gen = s->w->gen;
    gen_ref(s->gen);
    s->site = now;
    return true;
}

void session_set_site(struct session *s, const struct site *site)
{
    int slot = site ? site->stats_slot : -1;

    s->site = site;
    if (slot == s->site_slot)
        return;
    stats_conn_close(s->site_slot);
    stats_conn_open(slot);
    s->site_slot = slot;
}

void session_close(struct session *s)
{
    struct worker *w = s->w;

    if (s->dead)
        return;
    s->dead = true;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->nsessions--;
    stats_conn_close(s->li->service_slot);
    stats_conn_close(s->site_slot);
    worker_listener_unref(w, s->li);
    gen_unref(s->gen);
    s->gen = NULL;
    s->site = NULL;
    s->next = w->dead;
    w->dead = s;
}

void session_count_in(struct session *s, size_t n)
{
    s->bytes_in += n;
    stats_add(s->w->id, s->li->service_slot, STAT_BYTES_RECEIVED, n);
    stats_add(s->w->id, s->site_slot, STAT_BYTES_RECEIVED, n);
}

void session_count_out(struct session *s, size_t n)
{
    s->bytes_out += n;
    stats_add(s->w->id, s->li->service_slot, STAT_BYTES_SENT, n);
    stats_add(s->w->id, s->site_slot, STAT_BYTES_SENT, n);
}

/* Copied per request, so plain copies rather than snprintf. */
void session_stat(const struct session *s, enum stat_id id)
{
    stats_add(s->w->id, s->li->service_slot, id, 1);
    if (s->site)
        stats_add(s->w->id, s->site->stats_slot, id, 1);
}

void session_note_request(struct session *s, const char *word, size_t wlen, const char *rest,
                          size_t rlen)
{
    size_t cap = sizeof(s->request) - 1;
    size_t m = wlen < cap ? wlen : cap;
    size_t room = cap - m - (m < cap);
    size_t t = rlen < room ? rlen : room;

    memcpy(s->request, word, m);
    if (m < cap)
        s->request[m++] = ' ';
    memcpy(s->request + m, rest, t);
    s->request[m + t] = '\0';
    s->requests++;
}

/* Every text here is ASCII (parsers admit no other byte in what they
 * record, and site names are metabase keys), so json_string cannot refuse
 * it; "" is the safe answer if it ever did. */
static json_t *ascii_string(const char *s)
{
    json_t *v = json_string(s);

    return v ? v : json_string("");
}

json_t *session_json(const struct session *s)
{
    char client[80];
    json_t *j;

    if (strchr(s->peer_ip, ':'))
        snprintf(client, sizeof(client), "[%s]:%u", s->peer_ip, s->peer_port);
    else
        snprintf(client, sizeof(client), "%s:%u", s->peer_ip, s->peer_port);
    j = json_pack("{s:I, s:s, s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:I, s:o}", "id",
                  (json_int_t)s->id, "service", s->svc->name, "site",
                  ascii_string(s->site ? s->site->name : ""), "client", ascii_string(client),
                  "user", ascii_string(s->user), "tls", s->tls, "since", (json_int_t)s->since,
                  "bytes_sent", (json_int_t)s->bytes_out, "bytes_received",
                  (json_int_t)s->bytes_in, "requests", (json_int_t)s->requests, "request",
                  ascii_string(s->request));
    json_object_set_new(j, "generation", json_integer(s->gen ? (json_int_t)s->gen->serial : 0));
    if (s->svc->describe)
        s->svc->describe(s, j);
    return j;
}
