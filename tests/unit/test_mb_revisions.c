#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metabase/mb.h"

static char dir[] = "/tmp/test_mb_revisions_XXXXXX";
static char dbpath[512];
static struct mb *mb;
static const struct mb_actor bob = {"bob", "198.51.100.2"};
static const struct mb_actor carol = {"carol", "unix"};

static void setup(void)
{
    struct mb_error err;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof(dbpath), "%s/metabase.db", dir);
    cr_assert_eq(mb_open(&mb, dbpath, &err), 0, "%s", err.message);
}

static void teardown(void)
{
    char cmd[600];

    mb_close(mb);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(mb_rev, .init = setup, .fini = teardown);

static uint64_t commit_as(const struct mb_actor *who, const char *comment, const char *ops)
{
    struct mb_error err;
    json_error_t jerr;
    json_t *j = json_loads(ops, 0, &jerr);
    uint64_t rev = 0;

    cr_assert_not_null(j, "bad test JSON: %s", jerr.text);
    cr_assert_eq(mb_commit(mb, j, -1, who, comment, false, NULL, NULL, &rev, &err), 0, "%s: %s",
                 err.code, err.message);
    json_decref(j);
    return rev;
}

static uint64_t commit(const char *ops)
{
    return commit_as(&bob, "test", ops);
}

/* The tree as exported (no secrets): its "keys" member. */
static json_t *tree(void)
{
    json_t *e = mb_export(mb), *keys = json_incref(json_object_get(e, "keys"));

    json_decref(e);
    return keys;
}

static void expect_tree(const json_t *want)
{
    json_t *now = tree();
    char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(now, JSON_SORT_KEYS);

    cr_assert_str_eq(b, a);
    free(a);
    free(b);
    json_decref(now);
}

static void expect_secret(const char *key, const char *value)
{
    json_t *v = mb_value(mb, key, "anonymous_password");

    if (value == NULL)
        cr_assert_null(v, "%s still has a password", key);
    else
        cr_assert_str_eq(json_string_value(v), value);
    json_decref(v);
}

static void expect_no_text(json_t *j, const char *needle)
{
    char *s = json_dumps(j, 0);

    cr_assert_not_null(s);
    cr_assert_null(strstr(s, needle), "\"%s\" leaked: %s", needle, s);
    free(s);
}

static const json_t *change_at(const json_t *changes, size_t i)
{
    const json_t *c = json_array_get(changes, i);

    cr_assert_not_null(c, "no change %zu", i);
    return c;
}

static void expect_change(const json_t *c, const char *kind, const char *key, const char *name)
{
    cr_assert_str_eq(json_string_value(json_object_get(c, "change")), kind);
    cr_assert_str_eq(json_string_value(json_object_get(c, "key")), key);
    if (name)
        cr_assert_str_eq(json_string_value(json_object_get(c, "name")), name);
}

/* Revisions 1..4 used by several tests. */
static void four_revisions(void)
{
    commit("[{\"op\": \"create\", \"key\": \"/www/sites/a\", \"set\": {\"bindings\": "
           "[\"127.0.0.1:80\"]}},"
           " {\"op\": \"create\", \"key\": \"/www/sites/a/root\", \"set\": {\"path\": \"/a\"}}]");
    commit(
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"connection_timeout\": 30,"
        "   \"anonymous_password\": \"pw-two\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a/root/docs\", \"set\": {\"path\": \"/d\"}}]");
    commit("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"connection_timeout\": 60},"
           "   \"unset\": [\"anonymous_password\"]},"
           " {\"op\": \"create\", \"key\": \"/www/sites/b\"}]");
    commit("[{\"op\": \"delete\", \"key\": \"/www/sites/a\", \"recursive\": true},"
           " {\"op\": \"set\", \"key\": \"/\", \"set\": {\"cache_size\": 1024}}]");
}

Test(mb_rev, history_is_newest_first_with_every_field)
{
    json_t *h, *r;

    commit_as(&bob, "first", "[{\"op\": \"create\", \"key\": \"/www/sites/a\"}]");
    commit_as(
        &carol, "second",
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"x\", \"max_body\": 5}}]");
    commit_as(NULL, NULL, "[{\"op\": \"delete\", \"key\": \"/www/sites/a\"}]");
    h = mb_history(mb, 0, 10);
    cr_assert_eq(json_array_size(h), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(h, i), "revision")),
                     (json_int_t)(3 - i));
    r = json_array_get(h, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "identity")), "carol");
    cr_assert_str_eq(json_string_value(json_object_get(r, "address")), "unix");
    cr_assert_str_eq(json_string_value(json_object_get(r, "comment")), "second");
    cr_assert_eq(json_integer_value(json_object_get(r, "changes_count")), 2);
    const char *t = json_string_value(json_object_get(r, "time"));
    cr_assert_eq(strlen(t), 20);
    cr_assert(t[4] == '-' && t[10] == 'T' && t[19] == 'Z', "%s", t);
    r = json_array_get(h, 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "identity")), "");
    cr_assert_str_eq(json_string_value(json_object_get(r, "comment")), "");
    json_decref(h);
    h = mb_history(mb, 3, 10);
    cr_assert_eq(json_array_size(h), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(h, 0), "revision")), 2);
    json_decref(h);
    h = mb_history(mb, 0, 1);
    cr_assert_eq(json_array_size(h), 1);
    json_decref(h);
}

Test(mb_rev, a_revision_records_before_and_after)
{
    struct mb_error err;
    json_t *r, *ch;

    four_revisions();
    r = mb_revision_get(mb, 3, &err);
    cr_assert_not_null(r, "%s", err.message);
    ch = json_object_get(r, "changes");
    cr_assert_eq(json_array_size(ch), 3);
    expect_change(change_at(ch, 0), "set", "/www", "connection_timeout");
    cr_assert_eq(json_integer_value(json_object_get(change_at(ch, 0), "old")), 30);
    cr_assert_eq(json_integer_value(json_object_get(change_at(ch, 0), "new")), 60);
    expect_change(change_at(ch, 1), "unset", "/www", "anonymous_password");
    cr_assert_str_eq(json_string_value(json_object_get(change_at(ch, 1), "old")), "(secret)");
    cr_assert(json_is_true(json_object_get(change_at(ch, 1), "secret")));
    cr_assert_null(json_object_get(change_at(ch, 1), "new"));
    expect_change(change_at(ch, 2), "create", "/www/sites/b", NULL);
    json_decref(r);
    r = mb_revision_get(mb, 4, &err);
    ch = json_object_get(r, "changes");
    /* a recursive delete records each key, children first, with what it held */
    expect_change(change_at(ch, 0), "delete", "/www/sites/a/root/docs", NULL);
    expect_change(change_at(ch, 1), "delete", "/www/sites/a/root", NULL);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(change_at(ch, 1), "props"), "path")),
        "/a");
    expect_change(change_at(ch, 2), "delete", "/www/sites/a", NULL);
    expect_change(change_at(ch, 3), "set", "/", "cache_size");
    cr_assert_null(json_object_get(change_at(ch, 3), "old"));
    json_decref(r);
}

Test(mb_rev, missing_revisions)
{
    struct mb_error err;
    json_t *r;

    four_revisions();
    cr_assert_null(mb_revision_get(mb, 5, &err));
    cr_assert_str_eq(err.code, "no_such_revision");
    cr_assert_not_null(strstr(err.message, "latest is 4"), "%s", err.message);
    cr_assert_null(mb_diff(mb, 1, 9, &err));
    cr_assert_str_eq(err.code, "no_such_revision");
    cr_assert_eq(mb_rollback(mb, 9, &bob, NULL, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.code, "no_such_revision");
    cr_assert_eq(mb_revision(mb), 4);
    r = mb_revision_get(mb, 0, &err);
    cr_assert_eq(json_array_size(json_object_get(r, "changes")), 0);
    json_decref(r);
}

Test(mb_rev, secrets_never_appear_in_history)
{
    json_t *j;
    sqlite3_stmt *st;

    commit("[{\"op\": \"create\", \"key\": \"/ftp/sites/f\", \"set\": {\"anonymous_password\": "
           "\"pw-one\"}}]");
    commit("[{\"op\": \"set\", \"key\": \"/ftp/sites/f\", \"set\": {\"anonymous_password\": "
           "\"pw-two\"}}]");
    commit("[{\"op\": \"delete\", \"key\": \"/ftp/sites/f\"}]");
    for (uint64_t n = 1; n <= 3; n++) {
        j = mb_revision_get(mb, n, NULL);
        expect_no_text(j, "pw-");
        char *text = json_dumps(j, 0);
        cr_assert_not_null(strstr(text, "(secret)"));
        free(text);
        json_decref(j);
        for (uint64_t m = 0; m <= 3; m++) {
            j = mb_diff(mb, n, m, NULL);
            expect_no_text(j, "pw-");
            json_decref(j);
        }
    }
    j = mb_history(mb, 0, 10);
    expect_no_text(j, "pw-");
    json_decref(j);
    /* nor in the changes column itself */
    cr_assert_eq(sqlite3_prepare_v2(mb_db(mb),
                                    "SELECT count(*) FROM revisions WHERE changes LIKE '%pw-%'", -1,
                                    &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    j = mb_diff(mb, 1, 2, NULL);
    cr_assert_eq(json_array_size(j), 1);
    cr_assert(json_is_true(json_object_get(json_array_get(j, 0), "secret")));
    json_decref(j);
}

static const json_t *find_change(const json_t *diff, const char *kind, const char *key,
                                 const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach (diff, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (strcmp(json_string_value(json_object_get(c, "change")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(c, "key")), key) == 0 &&
            (name == NULL || (n && strcmp(n, name) == 0)))
            return c;
    }
    cr_assert_fail("no %s %s %s in the diff", kind, key, name ? name : "");
    return NULL;
}

Test(mb_rev, diff_between_any_two_revisions_both_ways)
{
    struct mb_error err;
    json_t *d;
    const json_t *c;

    four_revisions();
    d = mb_diff(mb, 1, 3, &err);
    cr_assert_not_null(d, "%s", err.message);
    cr_assert_eq(json_array_size(d), 3);
    c = find_change(d, "set", "/www", "connection_timeout");
    cr_assert_null(json_object_get(c, "from"));
    cr_assert_eq(json_integer_value(json_object_get(c, "to")), 60);
    find_change(d, "create", "/www/sites/a/root/docs", NULL);
    find_change(d, "create", "/www/sites/b", NULL);
    json_decref(d);
    d = mb_diff(mb, 3, 1, &err);
    cr_assert_eq(json_array_size(d), 3);
    c = find_change(d, "unset", "/www", "connection_timeout");
    cr_assert_eq(json_integer_value(json_object_get(c, "from")), 60);
    c = find_change(d, "delete", "/www/sites/a/root/docs", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "props"), "path")), "/d");
    find_change(d, "delete", "/www/sites/b", NULL);
    json_decref(d);
    d = mb_diff(mb, 2, 4, &err);
    find_change(d, "delete", "/www/sites/a", NULL);
    c = find_change(d, "set", "/www", "connection_timeout");
    cr_assert_eq(json_integer_value(json_object_get(c, "from")), 30);
    cr_assert_eq(json_integer_value(json_object_get(c, "to")), 60);
    c = find_change(d, "unset", "/www", "anonymous_password");
    cr_assert_str_eq(json_string_value(json_object_get(c, "from")), "(secret)");
    json_decref(d);
    d = mb_diff(mb, 3, 3, &err);
    cr_assert_eq(json_array_size(d), 0);
    json_decref(d);
    d = mb_diff(mb, 0, 4, &err);
    find_change(d, "create", "/www/sites/b", NULL);
    find_change(d, "set", "/", "cache_size");
    cr_assert_eq(json_array_size(d), 3);
    json_decref(d);
}

Test(mb_rev, rollback_restores_exactly_that_state)
{
    json_t *snap[5];
    struct mb_error err;
    uint64_t rev = 0;
    json_t *r;

    snap[0] = tree();
    commit("[{\"op\": \"create\", \"key\": \"/www/sites/a\", \"set\": {\"bindings\": "
           "[\"127.0.0.1:80\"]}},"
           " {\"op\": \"create\", \"key\": \"/www/sites/a/root\", \"set\": {\"path\": \"/a\"}}]");
    snap[1] = tree();
    commit(
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"connection_timeout\": 30,"
        "   \"anonymous_password\": \"pw-two\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a/root/docs\", \"set\": {\"path\": \"/d\"}}]");
    snap[2] = tree();
    commit("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"connection_timeout\": 60},"
           "   \"unset\": [\"anonymous_password\"]},"
           " {\"op\": \"create\", \"key\": \"/www/sites/b\"}]");
    snap[3] = tree();
    commit("[{\"op\": \"delete\", \"key\": \"/www/sites/a\", \"recursive\": true},"
           " {\"op\": \"set\", \"key\": \"/\", \"set\": {\"cache_size\": 1024}}]");
    snap[4] = tree();
    cr_assert_eq(mb_rollback(mb, 2, &carol, "undo the mess", NULL, NULL, &rev, &err), 0, "%s",
                 err.message);
    cr_assert_eq(rev, 5);
    cr_assert_eq(mb_revision(mb), 5);
    expect_tree(snap[2]);
    expect_secret("/www", "pw-two");
    r = mb_revision_get(mb, 5, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r, "comment")),
                     "rollback to revision 2: undo the mess");
    cr_assert_str_eq(json_string_value(json_object_get(r, "identity")), "carol");
    json_decref(r);
    cr_assert_eq(mb_rollback(mb, 4, &carol, NULL, NULL, NULL, &rev, &err), 0, "%s", err.message);
    expect_tree(snap[4]);
    expect_secret("/www", NULL);
    cr_assert_eq(mb_rollback(mb, 1, &carol, NULL, NULL, NULL, &rev, &err), 0, "%s", err.message);
    expect_tree(snap[1]);
    cr_assert_eq(mb_rollback(mb, 0, &carol, NULL, NULL, NULL, &rev, &err), 0, "%s", err.message);
    expect_tree(snap[0]);
    cr_assert_eq(rev, 8);
    /* history is append-only: rolling back to 3 still works after all that */
    cr_assert_eq(mb_rollback(mb, 3, &carol, NULL, NULL, NULL, &rev, &err), 0, "%s", err.message);
    expect_tree(snap[3]);
    for (int i = 0; i < 5; i++)
        json_decref(snap[i]);
    r = mb_audit_list(mb, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "action")),
                     "rollback");
    json_decref(r);
}

Test(mb_rev, rollback_to_the_current_state_writes_nothing)
{
    uint64_t rev = 0;
    struct mb_error err;

    four_revisions();
    cr_assert_eq(mb_rollback(mb, 4, &bob, NULL, NULL, NULL, &rev, &err), 0);
    cr_assert_eq(rev, 4);
    cr_assert_eq(mb_revision(mb), 4);
}

static int refuse(struct mb *m, void *arg, enum mb_apply_phase dry_run, struct mb_error *err)
{
    (void)m, (void)arg, (void)dry_run, (void)err;
    return -1;
}

Test(mb_rev, refused_rollback_changes_nothing)
{
    uint64_t rev = 0;
    struct mb_error err;
    json_t *before;

    four_revisions();
    before = tree();
    cr_assert_eq(mb_rollback(mb, 1, &bob, NULL, refuse, NULL, &rev, &err), -1);
    cr_assert_str_eq(err.code, "apply_failed");
    cr_assert_eq(mb_revision(mb), 4);
    expect_tree(before);
    json_decref(before);
}

Test(mb_rev, rollback_works_after_reopening)
{
    struct mb_error err;

    commit(
        "[{\"op\": \"set\", \"key\": \"/gopher\", \"set\": {\"anonymous_password\": \"old-pw\"}}]");
    commit(
        "[{\"op\": \"set\", \"key\": \"/gopher\", \"set\": {\"anonymous_password\": \"new-pw\"}}]");
    mb_close(mb);
    cr_assert_eq(mb_open(&mb, dbpath, &err), 0, "%s", err.message);
    cr_assert_eq(mb_revision(mb), 2);
    cr_assert_eq(mb_rollback(mb, 1, &bob, NULL, NULL, NULL, NULL, &err), 0, "%s", err.message);
    expect_secret("/gopher", "old-pw");
}

/* ---- export and import ---- */

static void rich_tree(void)
{
    commit(
        "[{\"op\": \"set\", \"key\": \"/\", \"set\": {\"cache_size\": 1000000, \"admin_email\": "
        "\"a@b.c\"}},"
        " {\"op\": \"set\", \"key\": \"/www\", \"set\": {\"default_documents\": [\"home.html\"],"
        "   \"anonymous_password\": \"svc-pw\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/main\", \"set\": {\"bindings\": "
        "[\"[::1]:8443\"],"
        "   \"log_format\": \"ncsa\", \"state\": \"paused\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/main/root\", \"set\": {\"path\": \"/srv\","
        "   \"mime_map\": {\"md\": \"text/markdown\"}, \"symlinks\": \"never\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/main/root/cgi-bin\", \"set\": {\"path\": "
        "\"/cgi\","
        "   \"access_execute\": true, \"access_read\": false}},"
        " {\"op\": \"create\", \"key\": \"/ftp/sites/pub\"},"
        " {\"op\": \"create\", \"key\": \"/ftp/sites/pub/root\", \"set\": {\"path\": \"/pub\"}}]");
}

Test(mb_rev, export_import_round_trip)
{
    struct mb *fresh;
    struct mb_error err;
    char path[600];
    json_t *doc, *doc2;
    uint64_t rev = 0;

    rich_tree();
    doc = mb_export(mb);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "format")), "infosrv-metabase");
    cr_assert_eq(json_integer_value(json_object_get(doc, "version")), 1);
    cr_assert_eq(json_integer_value(json_object_get(doc, "revision")), 1);
    expect_no_text(doc, "svc-pw");
    snprintf(path, sizeof(path), "%s/fresh.db", dir);
    cr_assert_eq(mb_open(&fresh, path, &err), 0);
    cr_assert_eq(mb_import(fresh, doc, &bob, NULL, NULL, NULL, &rev, &err), 0, "%s: %s", err.code,
                 err.message);
    cr_assert_eq(rev, 1);
    doc2 = mb_export(fresh);
    cr_assert(json_equal(json_object_get(doc, "keys"), json_object_get(doc2, "keys")));
    json_t *h = mb_history(fresh, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "comment")), "import");
    json_decref(h);
    mb_close(fresh);
    json_decref(doc);
    json_decref(doc2);
}

Test(mb_rev, import_replaces_the_tree_and_keeps_absent_secrets)
{
    struct mb_error err;
    json_t *doc = json_loads(
        "{\"format\": \"infosrv-metabase\", \"version\": 1, \"future_field\": 1, \"keys\": {"
        " \"/www\": {\"default_documents\": [\"x.html\"]},"
        " \"/www/sites\": {},"
        " \"/www/sites/other\": {\"anonymous_password\": \"given\"},"
        " \"/www/sites/other/root/\": {\"path\": \"/o\"}}}",
        0, NULL);

    rich_tree();
    cr_assert_eq(mb_import(mb, doc, &bob, "replace", NULL, NULL, NULL, &err), 0, "%s: %s", err.code,
                 err.message);
    json_decref(doc);
    cr_assert_eq(mb_revision(mb), 2);
    expect_secret("/www", "svc-pw");            /* absent from the document: kept */
    expect_secret("/www/sites/other", "given"); /* present: set */
    cr_assert_null(mb_get(mb, "/www/sites/main", false, &err));
    cr_assert_str_eq(err.code, "no_such_key");
    cr_assert_null(mb_value(mb, "/", "admin_email"));
    json_t *v = mb_value(mb, "/www/sites/other/root", "default_documents");
    cr_assert_str_eq(json_string_value(json_array_get(v, 0)), "x.html");
    json_decref(v);
}

static void import_fails(const char *text, const char *code)
{
    struct mb_error err;
    json_t *doc = json_loads(text, 0, NULL), *before = tree();

    cr_assert_not_null(doc, "bad test JSON %s", text);
    cr_assert_eq(mb_import(mb, doc, &bob, NULL, NULL, NULL, NULL, &err), -1, "%s imported", text);
    cr_assert_str_eq(err.code, code, "%s: %s", err.code, err.message);
    cr_assert_eq(mb_revision(mb), 1);
    expect_tree(before);
    json_decref(before);
    json_decref(doc);
}

Test(mb_rev, import_validates_everything)
{
    rich_tree();
    import_fails("{\"format\": \"other\", \"version\": 1, \"keys\": {}}", "invalid_request");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 2, \"keys\": {}}",
                 "invalid_request");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1, \"keys\": []}",
                 "invalid_request");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1, \"keys\": {\"/www\": 3}}",
                 "invalid_request");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www\": {\"no_such\": 1}}}",
                 "unknown_property");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www\": {\"max_body\": \"big\"}}}",
                 "invalid_value");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www/sites/x/root\": {\"path\": \"/x\"}}}",
                 "no_such_key");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www/sites/x\": {}, \"/www/sites/x/root\": {}}}",
                 "invalid_value");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www/nope\": {}}}",
                 "invalid_key");
    import_fails("{\"format\": \"infosrv-metabase\", \"version\": 1,"
                 " \"keys\": {\"/www/sites\": {\"comment\": \"x\"}}}",
                 "not_allowed_here");
}

/* ---- backup and restore ---- */

static void expect_integrity(sqlite3 *db)
{
    sqlite3_stmt *st;

    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

Test(mb_rev, backup_more_commits_restore)
{
    struct mb_error err;
    char bak[600];
    json_t *at_backup, *r;
    uint64_t rev = 0;

    rich_tree();
    commit("[{\"op\": \"set\", \"key\": \"/www/sites/main\", \"set\": {\"anonymous_password\": "
           "\"site-pw\"}}]");
    at_backup = tree();
    snprintf(bak, sizeof(bak), "%s/backup-1.db", dir);
    cr_assert_eq(mb_backup(mb, bak, &err), 0, "%s", err.message);
    commit(
        "[{\"op\": \"delete\", \"key\": \"/www/sites/main\", \"recursive\": true},"
        " {\"op\": \"create\", \"key\": \"/www/sites/new\"},"
        " {\"op\": \"set\", \"key\": \"/www\", \"set\": {\"anonymous_password\": \"changed\"}}]");
    commit("[{\"op\": \"set\", \"key\": \"/\", \"set\": {\"cache_size\": 5}}]");
    cr_assert_eq(mb_restore(mb, bak, &carol, NULL, NULL, NULL, &rev, &err), 0, "%s: %s", err.code,
                 err.message);
    cr_assert_eq(rev, 5);
    expect_tree(at_backup);
    expect_secret("/www", "svc-pw");
    expect_secret("/www/sites/main", "site-pw");
    r = mb_history(mb, 0, 100);
    cr_assert_eq(json_array_size(r), 5);
    cr_assert_not_null(strstr(json_string_value(json_object_get(json_array_get(r, 0), "comment")),
                              "restore from"));
    json_decref(r);
    r = mb_audit_list(mb, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "action")), "restore");
    json_decref(r);
    json_decref(at_backup);
    expect_integrity(mb_db(mb));
}

Test(mb_rev, a_backup_is_a_complete_metabase)
{
    struct mb *copy;
    struct mb_error err;
    char bak[600];
    json_t *a, *b;

    four_revisions();
    snprintf(bak, sizeof(bak), "%s/full.db", dir);
    cr_assert_eq(mb_backup(mb, bak, &err), 0, "%s", err.message);
    cr_assert_eq(mb_backup(mb, bak, &err), 0, "overwriting: %s", err.message);
    cr_assert_eq(mb_open(&copy, bak, &err), 0, "%s", err.message);
    cr_assert_eq(mb_revision(copy), 4);
    expect_integrity(mb_db(copy));
    a = mb_diff(mb, 1, 3, NULL);
    b = mb_diff(copy, 1, 3, NULL);
    cr_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    a = mb_export(mb);
    b = mb_export(copy);
    cr_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    mb_close(copy);
}

static void restore_fails(const char *path, const char *in_message)
{
    struct mb_error err;

    cr_assert_eq(mb_restore(mb, path, &bob, NULL, NULL, NULL, NULL, &err), -1, "%s restored", path);
    cr_assert_str_eq(err.code, "invalid_request", "%s: %s", err.code, err.message);
    cr_assert_not_null(strstr(err.message, in_message), "%s", err.message);
    cr_assert_eq(mb_revision(mb), 4);
}

Test(mb_rev, restore_refuses_what_is_not_a_metabase)
{
    char path[600];
    FILE *f;
    sqlite3 *db;

    four_revisions();
    snprintf(path, sizeof(path), "%s/text.db", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 100; i++)
        fputs("definitely not SQLite\n", f);
    fclose(f);
    restore_fails(path, "is not an infosrv metabase");
    snprintf(path, sizeof(path), "%s/foreign.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE songs (title TEXT)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    restore_fails(path, "is not an infosrv metabase");
    snprintf(path, sizeof(path), "%s/empty.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_close(db);
    restore_fails(path, "is not an infosrv metabase");
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    restore_fails(path, "missing.db");
}

Test(mb_rev, restore_of_a_live_metabase_file)
{
    struct mb *other;
    struct mb_error err;
    char path[600];
    json_t *want;

    snprintf(path, sizeof(path), "%s/other.db", dir);
    cr_assert_eq(mb_open(&other, path, &err), 0);
    json_t *ops = json_loads("[{\"op\": \"create\", \"key\": \"/gopher/sites/g\"}]", 0, NULL);
    cr_assert_eq(mb_commit(other, ops, -1, NULL, NULL, false, NULL, NULL, NULL, &err), 0);
    json_decref(ops);
    want = mb_export(other);
    mb_close(other);
    four_revisions();
    cr_assert_eq(mb_restore(mb, path, &bob, NULL, NULL, NULL, NULL, &err), 0, "%s", err.message);
    expect_tree(json_object_get(want, "keys"));
    json_decref(want);
}

Test(mb_rev, restore_from_its_own_file_changes_nothing)
{
    struct mb_error err;
    uint64_t rev = 0;

    four_revisions();
    cr_assert_eq(mb_restore(mb, dbpath, &bob, NULL, NULL, NULL, &rev, &err), 0, "%s", err.message);
    cr_assert_eq(rev, 4);
    cr_assert_eq(mb_revision(mb), 4);
}
