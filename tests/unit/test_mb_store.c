#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metabase/mb.h"

static char dir[] = "/tmp/test_mb_store_XXXXXX";
static char dbpath[512];
static struct mb *mb;
static const struct mb_actor alice = {"alice", "192.0.2.7"};

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

TestSuite(mb_store, .init = setup, .fini = teardown);

/* Commit OPS (JSON text); returns mb_commit's result. */
static int commit_ex(const char *ops, int64_t base, bool dry, mb_apply_fn fn, void *arg,
                     uint64_t *rev, struct mb_error *err)
{
    json_error_t jerr;
    json_t *j = json_loads(ops, 0, &jerr);
    int rc;

    cr_assert_not_null(j, "bad test JSON: %s", jerr.text);
    rc = mb_commit(mb, j, base, &alice, "test", dry, fn, arg, rev, err);
    json_decref(j);
    return rc;
}

static void commit_ok(const char *ops)
{
    struct mb_error err;
    uint64_t rev;

    cr_assert_eq(commit_ex(ops, -1, false, NULL, NULL, &rev, &err), 0, "%s: %s", err.code,
                 err.message);
}

static void commit_fails(const char *ops, const char *code, const char *in_message)
{
    struct mb_error err;
    uint64_t before = mb_revision(mb), rev = 0;

    cr_assert_eq(commit_ex(ops, -1, false, NULL, NULL, &rev, &err), -1, "%s committed", ops);
    cr_assert_str_eq(err.code, code, "%s: %s", err.code, err.message);
    cr_assert_not_null(strstr(err.message, in_message), "message \"%s\" lacks \"%s\"", err.message,
                       in_message);
    cr_assert_eq(mb_revision(mb), before);
}

static void basic_site(void)
{
    commit_ok("[{\"op\": \"create\", \"key\": \"/www/sites/default\","
              "  \"set\": {\"bindings\": [\"127.0.0.1:8080\"]}},"
              " {\"op\": \"create\", \"key\": \"/www/sites/default/root\","
              "  \"set\": {\"path\": \"/srv/www\"}}]");
}

/* The "properties" entry NAME of KEY (borrowed from *holder, which the caller frees). */
static json_t *prop_of(const char *key, const char *name, json_t **holder)
{
    struct mb_error err;

    *holder = mb_get(mb, key, false, &err);
    cr_assert_not_null(*holder, "%s: %s", key, err.message);
    return json_object_get(json_object_get(*holder, "properties"), name);
}

static void expect_prop(const char *key, const char *name, const char *value_json,
                        const char *source)
{
    json_t *holder, *p = prop_of(key, name, &holder);
    json_t *want = json_loads(value_json, JSON_DECODE_ANY, NULL);

    cr_assert_not_null(p, "%s has no %s", key, name);
    cr_assert(json_equal(json_object_get(p, "value"), want), "%s %s", key, name);
    cr_assert_eq(json_is_true(json_object_get(p, "inherited")), source != NULL);
    if (source)
        cr_assert_str_eq(json_string_value(json_object_get(p, "source")), source);
    else
        cr_assert_null(json_object_get(p, "source"));
    json_decref(want);
    json_decref(holder);
}

static int count_rows(const char *sql)
{
    sqlite3_stmt *st;
    int n;

    cr_assert_eq(sqlite3_prepare_v2(mb_db(mb), sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void expect_integrity_ok(void)
{
    sqlite3_stmt *st;

    cr_assert_eq(sqlite3_prepare_v2(mb_db(mb), "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

Test(mb_store, fresh_metabase_is_empty_and_sound)
{
    json_t *o;

    cr_assert_eq(mb_revision(mb), 0);
    cr_assert(mb_is_empty(mb));
    o = mb_get(mb, "/www", false, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "service");
    cr_assert_eq(json_integer_value(json_object_get(o, "revision")), 0);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "children"), 0)), "sites");
    json_decref(o);
    cr_assert_eq(count_rows("SELECT count(*) FROM accounts"), 0);
    cr_assert_eq(count_rows("PRAGMA user_version"), 2);
    cr_assert_eq(count_rows("SELECT count(*) FROM farm_applied"), 0);
    cr_assert_eq(count_rows("PRAGMA application_id"), 0x696e6673);
    cr_assert_eq(count_rows("PRAGMA synchronous"), 2); /* FULL */
    expect_integrity_ok();
}

Test(mb_store, create_site_and_read_it_back)
{
    json_t *o;

    basic_site();
    cr_assert_eq(mb_revision(mb), 1);
    cr_assert_not(mb_is_empty(mb));
    o = mb_get(mb, "/www/sites/default", false, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "key")), "/www/sites/default");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "site");
    cr_assert_eq(json_integer_value(json_object_get(o, "revision")), 1);
    cr_assert_eq(json_array_size(json_object_get(o, "children")), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "children"), 0)), "root");
    json_decref(o);
    expect_prop("/www/sites/default", "bindings", "[\"127.0.0.1:8080\"]", NULL);
    expect_prop("/www/sites/default/root", "path", "\"/srv/www\"", NULL);
    o = mb_get(mb, "/www/sites", false, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "sites");
    cr_assert_eq(json_object_size(json_object_get(o, "properties")), 0);
    json_decref(o);
}

Test(mb_store, trailing_slash_is_the_same_key)
{
    json_t *o;

    basic_site();
    o = mb_get(mb, "/www/sites/default/", false, NULL);
    cr_assert_not_null(o);
    cr_assert_str_eq(json_string_value(json_object_get(o, "key")), "/www/sites/default");
    json_decref(o);
}

Test(mb_store, defaults_are_marked_default)
{
    basic_site();
    expect_prop("/www/sites/default", "connection_timeout", "15", "default");
    expect_prop("/www/sites/default/root", "default_documents",
                "[\"index.html\", \"index.htm\", \"default.htm\"]", "default");
    expect_prop("/www/sites/default/root", "access_read", "true", "default");
    expect_prop("/", "cache_size", "67108864", "default");
}

Test(mb_store, inheritance_service_site_vdir)
{
    basic_site();
    commit_ok(
        "[{\"op\": \"create\", \"key\": \"/www/sites/default/root/docs\","
        "  \"set\": {\"path\": \"/srv/docs\"}},"
        " {\"op\": \"set\", \"key\": \"/www\", \"set\": {\"default_documents\": [\"home.html\"],"
        "   \"connection_timeout\": 30, \"directory_browsing\": true}},"
        " {\"op\": \"set\", \"key\": \"/www/sites/default\","
        "  \"set\": {\"directory_browsing\": false}}]");
    expect_prop("/www", "default_documents", "[\"home.html\"]", NULL);
    expect_prop("/www/sites/default", "default_documents", "[\"home.html\"]", "/www");
    expect_prop("/www/sites/default/root", "default_documents", "[\"home.html\"]", "/www");
    expect_prop("/www/sites/default/root/docs", "default_documents", "[\"home.html\"]", "/www");
    expect_prop("/www/sites/default", "connection_timeout", "30", "/www");
    /* overridden on the site: the site's value reaches the directories */
    expect_prop("/www/sites/default/root/docs", "directory_browsing", "false",
                "/www/sites/default");
    commit_ok("[{\"op\": \"set\", \"key\": \"/www/sites/default/root\","
              "  \"set\": {\"access_read\": false}}]");
    expect_prop("/www/sites/default/root/docs", "access_read", "false", "/www/sites/default/root");
}

Test(mb_store, non_inheritable_properties_stay_put)
{
    json_t *holder;

    basic_site();
    commit_ok(
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"all sites\","
        "  \"state\": \"paused\"}},"
        " {\"op\": \"set\", \"key\": \"/www/sites/default/root\", \"set\": {\"comment\": \"x\"}}]");
    expect_prop("/www", "comment", "\"all sites\"", NULL);
    cr_assert_null(prop_of("/www/sites/default", "comment", &holder));
    json_decref(holder);
    expect_prop("/www/sites/default", "state", "\"started\"", "default");
    /* path is not inheritable: a nested vdir without one shows none */
    commit_ok("[{\"op\": \"create\", \"key\": \"/www/sites/default/root/sub\"}]");
    cr_assert_null(prop_of("/www/sites/default/root/sub", "path", &holder));
    json_decref(holder);
}

Test(mb_store, only_properties_valid_on_the_kind_are_listed)
{
    json_t *holder;

    basic_site();
    cr_assert_null(prop_of("/www/sites/default/root", "bindings", &holder));
    json_decref(holder);
    cr_assert_null(prop_of("/www/sites/default", "path", &holder));
    json_decref(holder);
    cr_assert_null(prop_of("/ftp", "default_documents", &holder));
    json_decref(holder);
    cr_assert_null(prop_of("/", "connection_timeout", &holder));
    json_decref(holder);
    /* no value and no default: omitted */
    cr_assert_null(prop_of("/", "admin_name", &holder));
    json_decref(holder);
    commit_ok("[{\"op\": \"set\", \"key\": \"/\", \"set\": {\"admin_name\": \"Ada\"}}]");
    expect_prop("/ftp", "admin_name", "\"Ada\"", "/");
}

Test(mb_store, recursive_get_lists_the_subtree_in_order)
{
    json_t *o, *sub;
    static const char *const want[] = {"/www/sites",        "/www/sites/a",
                                       "/www/sites/a/root", "/www/sites/a/root/x",
                                       "/www/sites/a-b",    "/www/sites/a-b/root"};

    commit_ok(
        "[{\"op\": \"create\", \"key\": \"/www/sites/a-b\"},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a-b/root\", \"set\": {\"path\": \"/b\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a\"},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a/root\", \"set\": {\"path\": \"/a\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/a/root/x\"}]");
    o = mb_get(mb, "/www", true, NULL);
    sub = json_object_get(o, "subkeys");
    cr_assert_eq(json_array_size(sub), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *k = json_array_get(sub, i);
        cr_assert_str_eq(json_string_value(json_object_get(k, "key")), want[i]);
        cr_assert_not_null(json_object_get(k, "properties"));
        cr_assert_not_null(json_object_get(k, "children"));
    }
    json_decref(o);
}

Test(mb_store, keys_view_lists_direct_children)
{
    char **names;
    size_t n;

    basic_site();
    commit_ok("[{\"op\": \"create\", \"key\": \"/www/sites/b\"}]");
    cr_assert_eq(mb_keys(mb, "/www/sites", &names, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "b");
    cr_assert_str_eq(names[1], "default");
    mb_keys_free(names, n);
    cr_assert_eq(mb_keys(mb, "/", &names, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "www");
    mb_keys_free(names, n);
    cr_assert_eq(mb_keys(mb, "/www/sites/nope", &names, &n), -1);
    cr_assert_eq(mb_keys(mb, "/www/bad", &names, &n), -1);
}

Test(mb_store, value_view_includes_inheritance_defaults_and_secrets)
{
    json_t *v, *all;

    basic_site();
    commit_ok("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"anonymous_password\": \"s3cret\","
              "  \"header_timeout\": 5}}]");
    v = mb_value(mb, "/www/sites/default/root", "anonymous_password");
    cr_assert_str_eq(json_string_value(v), "s3cret");
    json_decref(v);
    v = mb_value(mb, "/www/sites/default", "header_timeout");
    cr_assert_eq(json_integer_value(v), 5);
    json_decref(v);
    v = mb_value(mb, "/www/sites/default", "max_body");
    cr_assert_eq(json_integer_value(v), 1048576);
    json_decref(v);
    cr_assert_null(mb_value(mb, "/www/sites/default", "path"));
    cr_assert_null(mb_value(mb, "/www/sites/default", "no_such_property"));
    cr_assert_null(mb_value(mb, "/www/sites/missing", "max_body"));
    all = mb_effective(mb, "/www/sites/default/root");
    cr_assert_str_eq(json_string_value(json_object_get(all, "path")), "/srv/www");
    cr_assert_str_eq(json_string_value(json_object_get(all, "anonymous_password")), "s3cret");
    cr_assert(json_is_true(json_object_get(all, "access_read")));
    json_decref(all);
}

Test(mb_store, secrets_are_never_readable)
{
    json_t *o, *p, *sub;
    char *text;

    basic_site();
    commit_ok("[{\"op\": \"set\", \"key\": \"/www/sites/default\","
              "  \"set\": {\"anonymous_password\": \"hunter2\"}}]");
    o = mb_get(mb, "/www/sites/default", false, NULL);
    p = json_object_get(json_object_get(o, "properties"), "anonymous_password");
    cr_assert_str_eq(json_string_value(json_object_get(p, "value")), "");
    cr_assert(json_is_true(json_object_get(p, "secret")));
    cr_assert(json_is_true(json_object_get(p, "set")));
    json_decref(o);
    /* inherited by the root: still blank, still "set" */
    o = mb_get(mb, "/www/sites/default/root", false, NULL);
    p = json_object_get(json_object_get(o, "properties"), "anonymous_password");
    cr_assert(json_is_true(json_object_get(p, "set")));
    cr_assert_str_eq(json_string_value(json_object_get(p, "source")), "/www/sites/default");
    json_decref(o);
    /* not set on the service */
    o = mb_get(mb, "/www", false, NULL);
    p = json_object_get(json_object_get(o, "properties"), "anonymous_password");
    cr_assert(json_is_false(json_object_get(p, "set")));
    json_decref(o);
    o = mb_get(mb, "/", true, NULL);
    sub = json_object_get(o, "subkeys");
    cr_assert_gt(json_array_size(sub), 5);
    text = json_dumps(o, 0);
    cr_assert_null(strstr(text, "hunter2"));
    free(text);
    json_decref(o);
    o = mb_export(mb);
    text = json_dumps(o, 0);
    cr_assert_null(strstr(text, "hunter2"));
    cr_assert_null(strstr(text, "anonymous_password"));
    free(text);
    json_decref(o);
}

/* ---- create and delete ---- */

Test(mb_store, create_errors)
{
    basic_site();
    commit_fails("[{\"op\": \"create\", \"key\": \"/www/sites/default\"}]", "key_exists",
                 "/www/sites/default");
    commit_fails("[{\"op\": \"create\", \"key\": \"/www\"}]", "key_exists", "/www");
    commit_fails("[{\"op\": \"create\", \"key\": \"/www/sites/nosite/root\","
                 "  \"set\": {\"path\": \"/x\"}}]",
                 "no_such_key", "/www/sites/nosite");
    commit_fails("[{\"op\": \"create\", \"key\": \"/www/sites/default/root/a/b\"}]", "no_such_key",
                 "/www/sites/default/root/a");
    commit_fails("[{\"op\": \"create\", \"key\": \"/www/sites/Bad\"}]", "invalid_key",
                 "/www/sites/Bad");
    commit_fails("[{\"op\": \"set\", \"key\": \"/www/sites/ghost\", \"set\": {}}]", "no_such_key",
                 "/www/sites/ghost");
}

Test(mb_store, invalid_keys)
{
    static const char *const bad[] = {
        "",
        "www",
        "//",
        "/www//",
        "/web",
        "/www/site",
        "/www/sites/-x",
        "/www/sites/a/home",
        "/www/sites/a/root/..",
        "/www/sites/a/root/.",
        "/www/sites/a/root/x%20y",
        "/www/sites/a//root",
        "/www/sites/a/root/sp ace",
        "/www/sites/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    struct mb_error err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_null(mb_get(mb, bad[i], false, &err), "%s accepted", bad[i]);
        cr_assert_str_eq(err.code, "invalid_key", "%s: %s", bad[i], err.code);
        cr_assert_str_eq(err.key, bad[i]);
        cr_assert_not_null(strstr(err.message, bad[i]));
    }
    cr_assert_null(mb_get(mb, "/www/sites/ok/root/a~b", false, &err));
    cr_assert_str_eq(err.code, "no_such_key"); /* valid syntax, just missing */
}

Test(mb_store, root_requires_a_path)
{
    commit_ok("[{\"op\": \"create\", \"key\": \"/www/sites/s\"}]");
    commit_fails("[{\"op\": \"create\", \"key\": \"/www/sites/s/root\"}]", "invalid_value",
                 "\"path\" is required on /www/sites/s/root");
    commit_ok(
        "[{\"op\": \"create\", \"key\": \"/www/sites/s/root\", \"set\": {\"path\": \"/s\"}}]");
    commit_fails("[{\"op\": \"set\", \"key\": \"/www/sites/s/root\", \"unset\": [\"path\"]}]",
                 "invalid_value", "\"path\" is required");
}

Test(mb_store, delete_needs_recursive_for_subtrees)
{
    struct mb_error err;
    json_t *o;

    basic_site();
    commit_ok("[{\"op\": \"create\", \"key\": \"/www/sites/default/root/docs\"}]");
    commit_fails("[{\"op\": \"delete\", \"key\": \"/www/sites/default\"}]", "has_children",
                 "/www/sites/default");
    commit_fails("[{\"op\": \"delete\", \"key\": \"/www/sites/default\", \"recursive\": false}]",
                 "has_children", "recursive");
    commit_fails("[{\"op\": \"delete\", \"key\": \"/www/sites/nope\"}]", "no_such_key",
                 "/www/sites/nope");
    commit_fails("[{\"op\": \"delete\", \"key\": \"/www\", \"recursive\": true}]", "invalid_key",
                 "cannot be deleted");
    commit_ok("[{\"op\": \"delete\", \"key\": \"/www/sites/default/root/docs\"}]");
    commit_ok("[{\"op\": \"delete\", \"key\": \"/www/sites/default\", \"recursive\": true}]");
    cr_assert_null(mb_get(mb, "/www/sites/default/root", false, &err));
    cr_assert_str_eq(err.code, "no_such_key");
    cr_assert_eq(count_rows("SELECT count(*) FROM properties"), 0);
    cr_assert_eq(count_rows("SELECT count(*) FROM keys"), 0);
    o = mb_get(mb, "/www/sites", false, NULL);
    cr_assert_eq(json_array_size(json_object_get(o, "children")), 0);
    json_decref(o);
}

Test(mb_store, recreate_after_delete_starts_clean)
{
    json_t *holder;

    basic_site();
    commit_ok(
        "[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"comment\": \"old\"}}]");
    commit_ok("[{\"op\": \"delete\", \"key\": \"/www/sites/default\", \"recursive\": true},"
              " {\"op\": \"create\", \"key\": \"/www/sites/default\"}]");
    cr_assert_null(prop_of("/www/sites/default", "comment", &holder));
    json_decref(holder);
}

/* ---- commits: staleness, apply callback, dry run, no-ops ---- */

Test(mb_store, stale_base_revision_changes_nothing)
{
    struct mb_error err;
    uint64_t rev = 99;
    json_t *holder;

    basic_site();
    commit_ok("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"two\"}}]");
    cr_assert_eq(commit_ex("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"x\"}}]",
                           1, false, NULL, NULL, &rev, &err),
                 -1);
    cr_assert_str_eq(err.code, "stale_revision");
    cr_assert_not_null(strstr(err.message, "revision 2"), "%s", err.message);
    cr_assert_eq(mb_revision(mb), 2);
    expect_prop("/www", "comment", "\"two\"", NULL);
    cr_assert_eq(commit_ex("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"x\"}}]",
                           2, false, NULL, NULL, &rev, &err),
                 0);
    cr_assert_eq(rev, 3);
    cr_assert_not_null(prop_of("/www", "comment", &holder));
    json_decref(holder);
}

struct probe {
    int calls; /* CHECK and PREPARE: the calls inside the transaction */
    bool dry;
    enum mb_apply_phase phases[8]; /* every call, in order */
    int nphases;
    bool refuse;
    bool set_code;
    uint64_t rev_seen;
    int64_t timeout_seen;
};

static int probe_apply(struct mb *m, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    struct probe *p = arg;
    json_t *v;

    if (p->nphases < 8)
        p->phases[p->nphases++] = phase;
    if (phase == MB_APPLY_PUBLISH || phase == MB_APPLY_ABORT)
        return 0;
    v = mb_value(m, "/www/sites/default", "connection_timeout");
    p->calls++;
    p->dry = phase == MB_APPLY_CHECK;
    p->rev_seen = mb_revision(m);
    p->timeout_seen = v ? json_integer_value(v) : -1;
    json_decref(v);
    if (!p->refuse)
        return 0;
    if (p->set_code) {
        err->code = "invalid_value";
        snprintf(err->message, sizeof(err->message), "port 8080 is already in use");
    }
    return -1;
}

static const char set_timeout[] =
    "[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"connection_timeout\": 42}}]";

Test(mb_store, apply_callback_sees_the_new_tree)
{
    struct probe p = {0};
    struct mb_error err;
    uint64_t rev;

    basic_site();
    cr_assert_eq(commit_ex(set_timeout, -1, false, probe_apply, &p, &rev, &err), 0);
    cr_assert_eq(p.calls, 1);
    cr_assert_not(p.dry);
    cr_assert_eq(p.timeout_seen, 42);
    cr_assert_eq(p.rev_seen, 2);
    cr_assert_eq(rev, 2);
    cr_assert_eq(mb_revision(mb), 2);
    cr_assert_eq(p.nphases, 2);
    cr_assert_eq(p.phases[0], MB_APPLY_PREPARE);
    cr_assert_eq(p.phases[1], MB_APPLY_PUBLISH, "published after the COMMIT");
}

/* SQLite's commit hook turns the COMMIT into a ROLLBACK when it returns non-zero. */
static int refuse_commit(void *arg)
{
    (void)arg;
    return 1;
}

Test(mb_store, a_failed_commit_aborts_what_was_prepared_and_publishes_nothing)
{
    struct probe p = {0};
    struct mb_error err;
    uint64_t rev = 0;

    basic_site();
    sqlite3_commit_hook(mb_db(mb), refuse_commit, NULL);
    cr_assert_eq(commit_ex(set_timeout, -1, false, probe_apply, &p, &rev, &err), -1);
    sqlite3_commit_hook(mb_db(mb), NULL, NULL);
    cr_assert_str_eq(err.code, MB_E_STORAGE);
    cr_assert_eq(p.nphases, 2);
    cr_assert_eq(p.phases[0], MB_APPLY_PREPARE);
    cr_assert_eq(p.phases[1], MB_APPLY_ABORT);
    cr_assert_eq(mb_revision(mb), 1, "nothing stored");
    expect_prop("/www/sites/default", "connection_timeout", "15", "default");
}

Test(mb_store, apply_refusal_changes_nothing)
{
    struct probe p = {.refuse = true};
    struct mb_error err;
    uint64_t rev = 0;
    json_t *audit;

    basic_site();
    cr_assert_eq(commit_ex(set_timeout, -1, false, probe_apply, &p, &rev, &err), -1);
    cr_assert_str_eq(err.code, "apply_failed");
    cr_assert_eq(p.timeout_seen, 42);
    cr_assert_eq(mb_revision(mb), 1);
    expect_prop("/www/sites/default", "connection_timeout", "15", "default");
    cr_assert_eq(count_rows("SELECT count(*) FROM revisions"), 1);
    p.set_code = true;
    cr_assert_eq(commit_ex(set_timeout, -1, false, probe_apply, &p, &rev, &err), -1);
    cr_assert_str_eq(err.code, "invalid_value");
    cr_assert_str_eq(err.message, "port 8080 is already in use");
    cr_assert_eq(mb_revision(mb), 1);
    audit = mb_audit_list(mb, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(audit, 0), "result")),
                     "invalid_value");
    json_decref(audit);
}

Test(mb_store, dry_run_changes_nothing)
{
    struct probe p = {0};
    struct mb_error err;
    uint64_t rev = 0;

    basic_site();
    cr_assert_eq(commit_ex(set_timeout, -1, true, probe_apply, &p, &rev, &err), 0);
    cr_assert_eq(p.calls, 1);
    cr_assert(p.dry);
    cr_assert_eq(p.nphases, 1, "a dry run is checked, never published");
    cr_assert_eq(p.timeout_seen, 42);
    cr_assert_eq(rev, 1);
    cr_assert_eq(mb_revision(mb), 1);
    expect_prop("/www/sites/default", "connection_timeout", "15", "default");
    /* a dry run still validates */
    cr_assert_eq(commit_ex("[{\"op\": \"set\", \"key\": \"/www/sites/default\","
                           "  \"set\": {\"connection_timeout\": 0}}]",
                           -1, true, probe_apply, &p, &rev, &err),
                 -1);
    cr_assert_str_eq(err.code, "invalid_value");
    cr_assert_eq(p.calls, 1);
}

Test(mb_store, commit_without_effect_writes_no_revision)
{
    struct probe p = {0};
    struct mb_error err;
    uint64_t rev = 0;

    basic_site();
    cr_assert_eq(commit_ex("[{\"op\": \"set\", \"key\": \"/www/sites/default/root\","
                           "  \"set\": {\"path\": \"/srv/www\"}, \"unset\": [\"comment\"]}]",
                           -1, false, probe_apply, &p, &rev, &err),
                 0);
    cr_assert_eq(rev, 1);
    cr_assert_eq(p.calls, 0);
    cr_assert_eq(mb_revision(mb), 1);
    cr_assert_eq(count_rows("SELECT count(*) FROM revisions"), 1);
}

static int nested_commit(struct mb *m, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    json_t *ops;
    int rc;

    if (phase != MB_APPLY_PREPARE)
        return 0;
    ops = json_loads("[]", 0, NULL);
    rc = mb_commit(m, ops, -1, NULL, NULL, false, NULL, NULL, NULL, err);
    *(int *)arg = rc;
    json_decref(ops);
    return 0;
}

Test(mb_store, apply_callback_cannot_commit)
{
    struct mb_error err;
    int inner = 0;

    basic_site();
    cr_assert_eq(commit_ex(set_timeout, -1, false, nested_commit, &inner, NULL, &err), 0);
    cr_assert_eq(inner, -1);
    cr_assert_eq(mb_revision(mb), 2);
}

Test(mb_store, one_commit_is_atomic)
{
    basic_site();
    /* the second op fails: the first must not stick */
    commit_fails("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"first\"}},"
                 " {\"op\": \"create\", \"key\": \"/www/sites/default\"}]",
                 "key_exists", "already exists");
    cr_assert_eq(count_rows("SELECT count(*) FROM properties WHERE key = '/www'"), 0);
}

/* ---- durability and foreign files ---- */

Test(mb_store, close_and_reopen_keeps_everything)
{
    struct mb_error err;
    json_t *before, *after;

    basic_site();
    commit_ok("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"anonymous_password\": \"pw\"}}]");
    before = mb_get(mb, "/", true, NULL);
    mb_close(mb);
    cr_assert_eq(mb_open(&mb, dbpath, &err), 0, "%s", err.message);
    cr_assert_eq(mb_revision(mb), 2);
    after = mb_get(mb, "/", true, NULL);
    cr_assert(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    json_t *v = mb_value(mb, "/www", "anonymous_password");
    cr_assert_str_eq(json_string_value(v), "pw");
    json_decref(v);
    expect_integrity_ok();
}

static void expect_refused(const char *path, const char *in_message)
{
    struct mb *other = NULL;
    struct mb_error err;

    cr_assert_eq(mb_open(&other, path, &err), -1, "%s opened", path);
    cr_assert_str_eq(err.code, "invalid_request");
    cr_assert_not_null(
        strstr(err.message, "not an infosrv metabase") ? strstr(err.message, in_message) : NULL,
        "%s", err.message);
}

Test(mb_store, foreign_files_are_refused)
{
    char path[600];
    FILE *f;
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("this is not a database, it is a text file with enough bytes to have a header.\n"
          "padding padding padding padding padding padding padding padding padding\n",
          f);
    fclose(f);
    expect_refused(path, "notes.txt");
    snprintf(path, sizeof(path), "%s/other.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_refused(path, "another application");
}

Test(mb_store, newer_schema_is_refused)
{
    struct mb *other = NULL;
    struct mb_error err;

    cr_assert_eq(sqlite3_exec(mb_db(mb), "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(mb_open(&other, dbpath, &err), -1);
    cr_assert_str_eq(err.code, "invalid_request");
    cr_assert_not_null(strstr(err.message, "newer"), "%s", err.message);
}

/* ---- audit ---- */

Test(mb_store, audit_rows_and_paging)
{
    json_t *rows, *r;
    struct mb_error err;

    basic_site();
    commit_fails("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"bogus\": 1}}]",
                 "unknown_property", "bogus");
    cr_assert_eq(mb_audit_add(mb, &alice, "login", "alice", "ok", "token"), 0);
    rows = mb_audit_list(mb, 0, 10);
    cr_assert_eq(json_array_size(rows), 3);
    r = json_array_get(rows, 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "login");
    r = json_array_get(rows, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "commit");
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "unknown_property");
    cr_assert_str_eq(json_string_value(json_object_get(r, "identity")), "alice");
    cr_assert_str_eq(json_string_value(json_object_get(r, "address")), "192.0.2.7");
    r = json_array_get(rows, 2);
    cr_assert_str_eq(json_string_value(json_object_get(r, "result")), "ok");
    cr_assert_str_eq(json_string_value(json_object_get(r, "target")), "revision 1");
    cr_assert_eq(strlen(json_string_value(json_object_get(r, "time"))), 20);
    json_int_t second = json_integer_value(json_object_get(json_array_get(rows, 1), "id"));
    json_decref(rows);
    rows = mb_audit_list(mb, (uint64_t)second, 10);
    cr_assert_eq(json_array_size(rows), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "result")), "ok");
    json_decref(rows);
    (void)err;
}

Test(mb_store, seed_commits_the_initial_configuration)
{
    struct mb_error err;
    json_t *ops = json_loads("[{\"op\": \"create\", \"key\": \"/www/sites/default\"}]", 0, NULL);
    json_t *h;

    cr_assert_eq(mb_seed(mb, ops, NULL, NULL, NULL, &err), 0, "%s", err.message);
    json_decref(ops);
    h = mb_history(mb, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "comment")),
                     "initial configuration");
    json_decref(h);
}

Test(mb_store, storage_failures_are_reported_as_storage)
{
    struct mb *other = NULL;
    struct mb_error err;
    uint64_t rev = 0;

    cr_assert_eq(mb_open(&other, "/nonexistent-dir/for/sure/mb.db", &err), -1);
    cr_assert_str_eq(err.code, "storage");
    cr_assert_not_null(strstr(err.message, "/nonexistent-dir/for/sure/mb.db"), "%s", err.message);
    cr_assert_eq(mb_backup(mb, "/nonexistent-dir/for/sure/backup.db", &err), -1);
    cr_assert_str_eq(err.code, "storage");
    basic_site();
    cr_assert_eq(sqlite3_exec(mb_db(mb), "PRAGMA query_only = 1", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(commit_ex(set_timeout, -1, false, NULL, NULL, &rev, &err), -1);
    cr_assert_str_eq(err.code, "storage");
    cr_assert_not_null(strstr(err.message, "metabase storage error"), "%s", err.message);
    cr_assert_eq(sqlite3_exec(mb_db(mb), "PRAGMA query_only = 0", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(mb_revision(mb), 1);
    expect_prop("/www/sites/default", "connection_timeout", "15", "default");
}

/* ---- whole trees (replication) ---- */

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    cr_assert_not_null(j, "bad test JSON: %s", je.text);
    return j;
}

Test(mb_store, tree_holds_every_key_with_real_secrets)
{
    json_t *t;

    basic_site();
    commit_ok("[{\"op\": \"create\", \"key\": \"/ftp/users/ann\","
              "  \"set\": {\"password_hash\": \"$argon2id$v=19$x\"}}]");
    t = mb_tree(mb, NULL);
    cr_assert_not_null(t);
    cr_assert_not_null(json_object_get(t, "/"));
    cr_assert_not_null(json_object_get(t, "/gopher"));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "/www/sites/default/root"),
                                                       "path")), "/srv/www");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "/ftp/users/ann"),
                                                       "password_hash")), "$argon2id$v=19$x");
    json_decref(t);
    t = mb_tree_at(mb, 1, NULL);
    cr_assert_null(json_object_get(t, "/ftp/users/ann"), "revision 1 had no user");
    cr_assert_not_null(json_object_get(t, "/www/sites/default"));
    json_decref(t);
    cr_assert_null(mb_tree_at(mb, 99, NULL));
}

Test(mb_store, tree_replace_makes_the_tree_equal_in_one_revision)
{
    struct mb_error err;
    uint64_t rev = 0;
    json_t *want, *got, *rows;

    basic_site();
    /* a new site, the old one gone, a property on /www; the fixed keys left out are empty */
    want = parse("{\"/\": {\"server_comment\": \"kept\"}, \"/www\": {\"admin_name\": \"a\"},"
                 " \"/www/sites/two\": {\"bindings\": [\"127.0.0.1:81\"]},"
                 " \"/www/sites/two/root\": {\"path\": \"/srv/two\"}, \"/ftp/users\": {}}");
    cr_assert_eq(mb_tree_replace(mb, want, 1, &alice, "farm revision 7", "farm", false, NULL, NULL,
                                 &rev, &err), 0, "%s", err.message);
    cr_assert_eq(rev, 2);
    got = mb_tree(mb, NULL);
    json_object_del(want, "/ftp/users");
    json_object_set_new(want, "/ftp", json_object());
    json_object_set_new(want, "/gopher", json_object());
    cr_assert(json_equal(got, want), "%s", json_dumps(got, JSON_SORT_KEYS));
    json_decref(got);
    rows = mb_audit_list(mb, 0, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "action")), "farm");
    json_decref(rows);
    /* the same tree again: nothing to commit */
    cr_assert_eq(mb_tree_replace(mb, want, -1, &alice, "again", "farm", false, NULL, NULL, &rev,
                                 &err), 0);
    cr_assert_eq(rev, 2);
    cr_assert_eq(mb_revision(mb), 2);
    json_decref(want);
}

Test(mb_store, tree_replace_checks_like_a_commit)
{
    struct mb_error err;
    uint64_t rev = 0;
    json_t *bad;

    basic_site();
    bad = parse("{\"/www\": {\"no_such_property\": 1}}");
    cr_assert_eq(mb_tree_replace(mb, bad, -1, &alice, "", "farm", false, NULL, NULL, &rev, &err),
                 -1);
    cr_assert_str_eq(err.code, "unknown_property");
    json_decref(bad);
    bad = parse("{\"/www/sites/x/root\": {\"path\": \"/srv\"}}"); /* its parent is missing */
    cr_assert_eq(mb_tree_replace(mb, bad, -1, &alice, "", "farm", false, NULL, NULL, &rev, &err),
                 -1);
    cr_assert_str_eq(err.code, "no_such_key", "%s", err.message);
    json_decref(bad);
    bad = parse("{\"/www\": {}}");
    cr_assert_eq(mb_tree_replace(mb, bad, 0, &alice, "", "farm", false, NULL, NULL, &rev, &err),
                 -1);
    cr_assert_str_eq(err.code, "stale_revision");
    cr_assert_eq(mb_tree_replace(mb, bad, 1, &alice, "", "farm", true, NULL, NULL, &rev, &err), 0);
    cr_assert_eq(mb_revision(mb), 1, "a dry run writes nothing");
    cr_assert_eq(count_rows("SELECT count(*) FROM keys"), 2);
    json_decref(bad);
}

Test(mb_store, import_and_backup_trees_are_what_they_would_commit)
{
    struct mb_error err;
    char path[600];
    json_t *doc, *t;

    basic_site();
    doc = parse("{\"format\": \"infosrv-metabase\", \"version\": 1, \"keys\":"
                " {\"/www\": {\"admin_name\": \"x\"}}}");
    t = mb_import_tree(mb, doc, &err);
    cr_assert_not_null(t, "%s", err.message);
    cr_assert_null(json_object_get(t, "/www/sites/default"));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "/www"), "admin_name")),
                     "x");
    json_decref(t);
    json_object_set_new(doc, "format", json_string("other"));
    cr_assert_null(mb_import_tree(mb, doc, &err));
    cr_assert_str_eq(err.code, "invalid_request");
    json_decref(doc);
    snprintf(path, sizeof(path), "%s/b.db", dir);
    cr_assert_eq(mb_backup(mb, path, &err), 0, "%s", err.message);
    t = mb_backup_tree(path, &err);
    cr_assert_not_null(json_object_get(t, "/www/sites/default/root"));
    json_decref(t);
    snprintf(path, sizeof(path), "%s/none.db", dir);
    cr_assert_null(mb_backup_tree(path, &err));
}

Test(mb_store, schema_1_is_migrated_with_its_data)
{
    struct mb *again = NULL;
    struct mb_error err;

    basic_site();
    cr_assert_eq(sqlite3_exec(mb_db(mb), "DROP TABLE farm_applied; PRAGMA user_version = 1", NULL,
                              NULL, NULL), SQLITE_OK);
    mb_close(mb);
    mb = NULL;
    cr_assert_eq(mb_open(&again, dbpath, &err), 0, "%s", err.message);
    mb = again;
    cr_assert_eq(count_rows("PRAGMA user_version"), 2);
    cr_assert_eq(count_rows("SELECT count(*) FROM farm_applied"), 0);
    cr_assert_eq(mb_revision(mb), 1);
    expect_integrity_ok();
}
