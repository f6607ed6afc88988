/* Unit tests for what the web console stands on: the event ring (ids,
 * resumption, loss) and console sessions (cookies, tokens, revocation). */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/accounts.h"
#include "admin/events.h"
#include "admin/login.h"
#include "metabase/mb.h"

static int notified;

static void count_notify(void *arg)
{
    (void)arg;
    notified++;
}

static void ring_setup(void)
{
    notified = 0;
    events_init(NULL, count_notify, NULL);
}

static void ring_teardown(void)
{
    events_fini();
}

/* The id of the event with sequence SEQ in this run. */
static void id_of(uint64_t seq, char *out, size_t cap)
{
    struct buf b = {0};
    uint64_t after = seq - 1;
    const char *nl;

    cr_assert(events_copy(&after, &b, 1));
    cr_assert_eq(strncmp(b.data, "id: ", 4), 0);
    nl = memchr(b.data, '\n', b.len);
    snprintf(out, cap, "%.*s", (int)(nl - b.data - 4), b.data + 4);
    buf_free(&b);
}

TestSuite(events, .init = ring_setup, .fini = ring_teardown);

Test(events, publish_formats_one_event_and_notifies)
{
    struct buf b = {0};
    uint64_t after = events_last();

    events_publish("commit", json_pack("{s:i,s:s}", "revision", 7, "comment", "a\nb"));
    cr_assert_eq(notified, 1);
    cr_assert(events_copy(&after, &b, 1 << 20));
    cr_assert_eq(after, events_last());
    buf_puts(&b, "");
    cr_assert(strstr(b.data, "\nevent: commit\ndata: {\"revision\":7,\"comment\":\"a\\nb\"}\n\n"),
              "%.*s", (int)b.len, b.data);
    cr_assert_eq(strchr(strstr(b.data, "data: "), '\n'), strstr(b.data, "\n\n"),
                 "data must be one line");
    buf_free(&b);
}

Test(events, resume_point_accepts_this_runs_ids_only)
{
    char id[64], bad[80];
    uint64_t first;

    for (int i = 0; i < 3; i++)
        events_publish("stats", json_pack("{s:i}", "n", i));
    first = events_last() - 2;
    id_of(first, id, sizeof(id));
    cr_assert_eq(events_resume_point(id), (int64_t)first);
    cr_assert_eq(events_resume_point(NULL), (int64_t)events_last());
    cr_assert_eq(events_resume_point(""), (int64_t)events_last());
    /* another boot, the future, garbage */
    snprintf(bad, sizeof(bad), "1.%" PRIu64, first);
    cr_assert_eq(events_resume_point(bad), -1);
    snprintf(bad, sizeof(bad), "%.*s%" PRIu64, (int)(strchr(id, '.') - id + 1), id,
             events_last() + 5);
    cr_assert_eq(events_resume_point(bad), -1);
    cr_assert_eq(events_resume_point("abc"), -1);
    snprintf(bad, sizeof(bad), "%sx", id);
    cr_assert_eq(events_resume_point(bad), -1);
}

Test(events, copy_respects_the_byte_budget_but_sends_whole_events)
{
    struct buf b = {0};
    uint64_t after = events_last();

    for (int i = 0; i < 10; i++)
        events_publish("stats", json_pack("{s:i}", "n", i));
    cr_assert(events_copy(&after, &b, 1)); /* one event even when it exceeds the budget */
    cr_assert_eq(after, events_last() - 9);
    cr_assert(events_copy(&after, &b, 1 << 20));
    cr_assert_eq(after, events_last());
    buf_puts(&b, "");
    cr_assert(strstr(b.data, "\"n\":0") && strstr(b.data, "\"n\":9"));
    buf_free(&b);
}

Test(events, a_stream_too_far_behind_is_told_it_lost_events)
{
    struct buf b = {0};
    char id[64];
    uint64_t after = events_last(), start = after;

    for (int i = 0; i < EVENTS_KEEP; i++)
        events_publish("stats", json_pack("{s:i}", "n", i));
    cr_assert(events_copy(&after, &b, 1)); /* exactly EVENTS_KEEP behind: all still kept */
    after = start;
    events_publish("stats", json_pack("{s:i}", "n", -1));
    cr_assert_not(events_copy(&after, &b, 1 << 20));
    cr_assert_eq(after, start);
    id_of(events_last() - EVENTS_KEEP + 1, id, sizeof(id));
    cr_assert_geq(events_resume_point(id), 0);
    buf_free(&b);
}

/* ---- sessions ---- */

static struct mb *mb;
static char dbdir[64];

static void mb_setup(void)
{
    char path[128];
    struct mb_error err = {0};

    snprintf(dbdir, sizeof(dbdir), "/tmp/test_admin_console_XXXXXX");
    cr_assert_not_null(mkdtemp(dbdir));
    snprintf(path, sizeof(path), "%s/metabase.db", dbdir);
    cr_assert_eq(mb_open(&mb, path, &err), 0, "%s", err.message);
    login_clear();
}

static void mb_teardown(void)
{
    char cmd[128];

    login_clear();
    mb_close(mb);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dbdir);
    cr_assert_eq(system(cmd), 0);
}

static void account(const char *name, enum role r, char token[ACCT_TOKEN_SIZE])
{
    struct mb_error err = {0};

    cr_assert_eq(acct_create(mb, name, r, token, ACCT_TOKEN_SIZE, &err), 0, "%s", err.message);
}

TestSuite(login, .init = mb_setup, .fini = mb_teardown);

Test(login, a_token_makes_a_session_with_its_role)
{
    char token[ACCT_TOKEN_SIZE];
    struct login s, f;

    account("viewer", ROLE_READER, token);
    cr_assert_eq(login_create(mb, "nope", &s), -1);
    cr_assert_eq(login_create(mb, token, &s), 0);
    cr_assert_str_eq(s.account, "viewer");
    cr_assert_eq(s.role, ROLE_READER);
    cr_assert_eq(strlen(s.id), 64);
    cr_assert_eq(strlen(s.csrf), 64);
    cr_assert_str_neq(s.id, s.csrf);
    cr_assert_geq(s.expires, time(NULL) + LOGIN_TTL_S - 5);
    cr_assert(login_find(mb, s.id, &f));
    cr_assert_str_eq(f.csrf, s.csrf);
    cr_assert(login_alive(s.id));
    login_delete(s.id);
    cr_assert_not(login_find(mb, s.id, &f));
    cr_assert_not(login_alive(s.id));
}

Test(login, a_new_token_or_a_deleted_account_ends_its_sessions)
{
    char t1[ACCT_TOKEN_SIZE], t2[ACCT_TOKEN_SIZE];
    struct mb_error err = {0};
    struct login a, b, f;

    account("ops", ROLE_OPERATOR, t1);
    account("temp", ROLE_READER, t2);
    cr_assert_eq(login_create(mb, t1, &a), 0);
    cr_assert_eq(login_create(mb, t2, &b), 0);
    cr_assert_eq(acct_new_token(mb, "ops", t1, sizeof(t1), &err), 0);
    cr_assert_not(login_find(mb, a.id, &f));
    cr_assert_not(login_alive(a.id)); /* gone from the table, not only refused */
    cr_assert_eq(acct_delete(mb, "temp", &err), 0);
    cr_assert_not(login_find(mb, b.id, &f));
}

Test(login, the_table_is_bounded_and_drops_the_least_recently_used)
{
    char token[ACCT_TOKEN_SIZE];
    static struct login s[LOGIN_MAX + 1];
    struct login f;

    account("many", ROLE_ADMIN, token);
    for (int i = 0; i < LOGIN_MAX; i++)
        cr_assert_eq(login_create(mb, token, &s[i]), 0);
    cr_assert(login_find(mb, s[0].id, &f)); /* used now: s[1] is the oldest */
    cr_assert_eq(login_create(mb, token, &s[LOGIN_MAX]), 0);
    cr_assert(login_alive(s[0].id));
    cr_assert_not(login_alive(s[1].id));
    cr_assert(login_alive(s[LOGIN_MAX].id));
}

Test(login, the_cookie_id_is_found_among_other_cookies)
{
    char id[LOGIN_ID_HEX];
    char want[LOGIN_ID_HEX], hdr[256];

    memset(want, 'a', 64);
    want[64] = '\0';
    snprintf(hdr, sizeof(hdr), "theme=dark; " LOGIN_COOKIE "=%s ; x=1", want);
    login_cookie_id(hdr, strlen(hdr), id);
    cr_assert_str_eq(id, want);
    snprintf(hdr, sizeof(hdr), LOGIN_COOKIE "=%s", want);
    login_cookie_id(hdr, strlen(hdr), id);
    cr_assert_str_eq(id, want);
    /* wrong length, wrong characters, another name, a prefix of the name, none */
    const char *bad[] = {LOGIN_COOKIE "=abc", LOGIN_COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "x" LOGIN_COOKIE "=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ";;; ", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        login_cookie_id(bad[i], strlen(bad[i]), id);
        cr_assert_str_eq(id, "", "%s", bad[i]);
    }
    login_cookie_id(NULL, 0, id);
    cr_assert_str_eq(id, "");
}
