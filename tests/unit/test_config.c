#include <criterion/criterion.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/net.h"
#include "metabase/mb.h"
#include "daemon/seed.h"
#include "runtime/config.h"
#include "runtime/gen.h"
#include "runtime/stats.h"
#include "www/dirlist.h"
#include "runtime/mime.h"
#include "ftp/ftp.h"
#include "gopher/gopher.h"
#include "www/www.h"
#include "runtime/service.h"

#define DEFAULT_BROWSE (DIRLIST_DATE | DIRLIST_TIME | DIRLIST_SIZE | DIRLIST_EXTENSION)

static char dir[256]; /* realpath of the temporary directory */
static char www[PATH_MAX], docs[PATH_MAX];
static struct mb *mb;

/* What the fake alog_for saw. */
static struct {
    int calls;
    char site[8][64];
    struct alog_config cfg[8];
    bool refuse;
} rec;
static char dummy_alog[2];

static struct alog *fake_alog_for(void *arg, const char *service, const char *site,
                                  const struct alog_config *cfg, const char **err)
{
    cr_assert_eq(arg, &rec);
    cr_assert(strcmp(service, "www") == 0 || strcmp(service, "ftp") == 0 ||
                  strcmp(service, "gopher") == 0,
              "%s", service);
    if (rec.refuse) {
        *err = "disk on fire";
        return NULL;
    }
    if (rec.calls < 8) {
        snprintf(rec.site[rec.calls], sizeof(rec.site[0]), "%s", site);
        rec.cfg[rec.calls] = *cfg;
    }
    rec.calls++;
    return (struct alog *)(void *)dummy_alog;
}

static const struct config_env env = {.nworkers = 2, .alog_for = fake_alog_for, .alog_arg = &rec};

static void mkdirf(const char *sub)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

static void setup(void)
{
    char tmpl[] = "/tmp/test_config_XXXXXX", db[PATH_MAX + 16], real[PATH_MAX];
    struct mb_error err;

    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_not_null(realpath(tmpl, real));
    cr_assert_lt(strlen(real), 200);
    memcpy(dir, real, strlen(real) + 1);
    snprintf(www, sizeof(www), "%s/www", dir);
    snprintf(docs, sizeof(docs), "%s/docs", dir);
    mkdirf("www");
    mkdirf("docs");
    snprintf(db, sizeof(db), "%s/metabase.db", dir);
    cr_assert_eq(mb_open(&mb, db, &err), 0, "%s", err.message);
    stats_init(2);
    service_register(&www_service);
    service_register(&ftp_service);
    service_register(&gopher_service);
    memset(&rec, 0, sizeof(rec));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];

    mb_close(mb);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(config, .init = setup, .fini = teardown);

/* The command line's defaults, as main.c passes them. */
static struct config_flags base_flags(void)
{
    return (struct config_flags){.www = true,
                                 .root = www,
                                 .http = "127.0.0.1:0",
                                 .header_timeout = 10,
                                 .keepalive_timeout = 15,
                                 .log_format = "w3c",
                                 .log_period = "daily",
                                 .log_size = 10485760};
}

static void seed(const struct config_flags *f)
{
    struct mb_error err;
    json_t *ops = config_seed_ops(f);

    cr_assert_not_null(ops);
    cr_assert_eq(mb_seed(mb, ops, NULL, NULL, NULL, &err), 0, "%s: %s (%s)", err.code, err.message,
                 err.key);
    json_decref(ops);
}

__attribute__((format(printf, 1, 2))) static void commitf(const char *fmt, ...)
{
    char text[4096];
    struct mb_error err;
    json_error_t jerr;
    va_list ap;
    json_t *ops;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    ops = json_loads(text, 0, &jerr);
    cr_assert_not_null(ops, "bad test JSON %s: %s", text, jerr.text);
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, "test", false, NULL, NULL, NULL, &err), 0, "%s: %s",
                 err.code, err.message);
    json_decref(ops);
}

static struct gen *compile_ok(void)
{
    struct mb_error err;
    struct gen *g = config_compile(mb, &env, &err);

    cr_assert_not_null(g, "%s: %s (key %s)", err.code, err.message, err.key);
    cr_assert_null(err.code);
    return g;
}

/* Compiling fails with apply_failed on KEY, the message naming KEY and WORDS. */
static void compile_fails(const char *key, const char *words)
{
    struct mb_error err;
    struct gen *g = config_compile(mb, &env, &err);

    cr_assert_null(g, "compiled although %s is broken", key);
    cr_assert_str_eq(err.code, MB_E_APPLY_FAILED);
    cr_assert_str_eq(err.key, key, "%s", err.message);
    cr_assert_not_null(strstr(err.message, key), "message \"%s\" lacks %s", err.message, key);
    cr_assert_not_null(strstr(err.message, words), "message \"%s\" lacks \"%s\"", err.message,
                       words);
}

static const struct vdir *vdir_of(const struct site *s, const char *prefix)
{
    for (size_t i = 0; i < s->nvdirs; i++)
        if (strcmp(s->vdirs[i].prefix, prefix) == 0)
            return &s->vdirs[i];
    cr_assert_fail("no vdir \"%s\"", prefix);
    return NULL;
}

static void binding_is(const struct site_binding *b, const char *want)
{
    char text[80];

    cr_assert_not(b->tls);
    net_addr_str((const struct sockaddr *)&b->addr.ss, text, sizeof(text));
    cr_assert_str_eq(text, want);
}

/* ---- seeding ---- */

Test(config, seed_sets_only_what_differs_from_the_defaults)
{
    struct config_flags f = base_flags();
    json_t *exp, *keys, *want;

    seed(&f);
    exp = mb_export(mb);
    keys = json_object_get(exp, "keys");
    want = json_pack("{s:[s]}", "bindings", "127.0.0.1:0");
    cr_assert(json_equal(json_object_get(keys, "/www/sites/default"), want), "%s",
              json_dumps(json_object_get(keys, "/www/sites/default"), 0));
    json_decref(want);
    want = json_pack("{s:s}", "path", www);
    cr_assert(json_equal(json_object_get(keys, "/www/sites/default/root"), want));
    json_decref(want);
    json_decref(exp);
}

Test(config, seed_resolves_paths_and_creates_intermediate_keys)
{
    char root[PATH_MAX + 16];
    struct config_vdir v[] = {{"/a/b/", docs, true, NULL, false}};
    struct config_flags f = base_flags();
    json_t *ops, *want;

    snprintf(root, sizeof(root), "%s/docs/../www/", dir);
    f.root = root;
    f.vdirs = v;
    f.nvdirs = 1;
    f.header_timeout = 7;
    ops = config_seed_ops(&f);
    want = json_pack("[{s:s, s:s, s:{s:[s], s:i}},"
                     " {s:s, s:s, s:{s:s}},"
                     " {s:s, s:s, s:{}},"
                     " {s:s, s:s, s:{s:s}}]",
                     "op", "create", "key", "/www/sites/default", "set", "bindings", "127.0.0.1:0",
                     "header_timeout", 7, "op", "create", "key", "/www/sites/default/root", "set",
                     "path", www, "op", "create", "key", "/www/sites/default/root/a", "set", "op",
                     "create", "key", "/www/sites/default/root/a/b", "set", "path", docs);
    cr_assert(json_equal(ops, want), "%s", json_dumps(ops, JSON_INDENT(1)));
    json_decref(want);
    json_decref(ops);
}

Test(config, seed_rejects_an_invalid_binding)
{
    struct config_flags f = base_flags();
    struct mb_error err;
    json_t *ops;

    f.http = "localhost:80";
    ops = config_seed_ops(&f);
    cr_assert_eq(mb_seed(mb, ops, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.code, MB_E_INVALID_VALUE);
    cr_assert_str_eq(err.property, "bindings");
    json_decref(ops);
    cr_assert(mb_is_empty(mb));
}

/* ---- compiling ---- */

Test(config, compiles_every_field_from_the_seed)
{
    char docs_rel[PATH_MAX + 16], a_b[PATH_MAX], www_a[PATH_MAX + 8];
    struct config_vdir v[] = {
        {"/docs", docs_rel, true, "never", true},
        {"/a/b", a_b, false, NULL, false},
    };
    struct config_flags f = base_flags();
    const struct vdir *vd;
    const struct site *s;
    struct gen *g;

    mkdirf("a_b");
    mkdirf("www/a");
    snprintf(docs_rel, sizeof(docs_rel), "%s/www/../docs", dir);
    snprintf(a_b, sizeof(a_b), "%s/a_b", dir);
    snprintf(www_a, sizeof(www_a), "%s/a", www);
    f.http = "127.0.0.1:8081";
    f.browse = true;
    f.header_timeout = 7;
    f.keepalive_timeout = 20;
    f.log_format = "ncsa";
    f.log_period = "size";
    f.log_size = 4096;
    f.vdirs = v;
    f.nvdirs = 2;
    seed(&f);
    g = compile_ok();

    cr_assert_eq(g->nworkers, 2);
    cr_assert_eq(g->cache_bytes, 67108864);
    cr_assert_eq(g->cache_valid_ms, 1000);
    cr_assert_eq(g->nsites, 1);
    s = &g->sites[0];
    cr_assert_str_eq(s->name, "default");
    cr_assert_eq(s->stats_slot, stats_slot("www", "default"));
    cr_assert_geq(s->stats_slot, 0);
    cr_assert_eq(s->nbindings, 1);
    binding_is(&s->bindings[0], "127.0.0.1:8081");
    cr_assert_eq(www_site_of(s)->header_timeout_ms, 7000);
    cr_assert_eq(s->idle_timeout_ms, 20000);
    cr_assert_eq(www_site_of(s)->max_body, 1048576);
    cr_assert_eq(s->max_connections, 0);
    cr_assert_eq(s->state, SITE_STARTED);
    cr_assert_eq(www_site_of(s)->ndefault_docs, 3);
    cr_assert_str_eq(www_site_of(s)->default_docs[0], "index.html");
    cr_assert_str_eq(www_site_of(s)->default_docs[1], "index.htm");
    cr_assert_str_eq(www_site_of(s)->default_docs[2], "default.htm");
    cr_assert_not_null(www_site_of(s)->mime);
    cr_assert_str_eq(mime_lookup(www_site_of(s)->mime, "x.css", 5), "text/css");

    /* Sorted longest prefix first; /a is the implicit www/a. */
    cr_assert_eq(s->nvdirs, 4);
    cr_assert_str_eq(s->vdirs[0].prefix, "/docs");
    cr_assert_str_eq(s->vdirs[1].prefix, "/a/b");
    cr_assert_str_eq(s->vdirs[2].prefix, "/a");
    cr_assert_str_eq(s->vdirs[3].prefix, "");
    for (size_t i = 0; i < s->nvdirs; i++) {
        cr_assert_eq(s->vdirs[i].prefix_len, strlen(s->vdirs[i].prefix));
        cr_assert_geq(s->vdirs[i].dirfd, 0);
        cr_assert_eq(s->vdirs[i].browse_flags, DEFAULT_BROWSE);
    }
    vd = vdir_of(s, "");
    cr_assert_str_eq(vd->path, www);
    cr_assert_eq(vd->access, VDIR_READ);
    cr_assert_eq(vd->symlinks, PATH_SYMLINKS_INSIDE);
    cr_assert(vd->browse);
    vd = vdir_of(s, "/docs");
    cr_assert_str_eq(vd->path, docs); /* realpath'd */
    cr_assert_eq(vd->access, VDIR_READ);
    cr_assert_eq(vd->symlinks, PATH_SYMLINKS_NEVER);
    cr_assert(vd->browse);
    vd = vdir_of(s, "/a");
    cr_assert_str_eq(vd->path, www_a);
    cr_assert_eq(vd->access, VDIR_READ);
    cr_assert(vd->browse, "inherits --browse from the home directory");
    vd = vdir_of(s, "/a/b");
    cr_assert_str_eq(vd->path, a_b);
    cr_assert_eq(vd->access, 0u);
    cr_assert_eq(vd->symlinks, PATH_SYMLINKS_INSIDE);
    cr_assert_not(vd->browse, "the vdir's own browse overrides the home directory's");

    cr_assert_eq(rec.calls, 1);
    cr_assert_eq(s->alog, (struct alog *)(void *)dummy_alog);
    cr_assert_str_eq(rec.site[0], "default");
    cr_assert_null(rec.cfg[0].dir, "the callback decides the directory");
    cr_assert_eq(rec.cfg[0].format, ALOG_NCSA);
    cr_assert_eq(rec.cfg[0].period, ALOG_SIZE);
    cr_assert_eq(rec.cfg[0].max_size, 4096);
    cr_assert_eq(rec.cfg[0].nworkers, 2);
    gen_unref(g);
}

Test(config, a_parent_given_after_its_child_still_applies_to_the_child_only)
{
    char a_b[PATH_MAX];
    struct config_vdir v[] = {
        {"/a/b", a_b, true, NULL, false},
        {"/a", docs, false, "any", false},
    };
    struct config_flags f = base_flags();
    const struct site *s;
    struct gen *g;

    mkdirf("a_b");
    snprintf(a_b, sizeof(a_b), "%s/a_b", dir);
    f.vdirs = v;
    f.nvdirs = 2;
    seed(&f);
    g = compile_ok();
    s = &g->sites[0];
    cr_assert_eq(s->nvdirs, 3);
    cr_assert_eq(vdir_of(s, "/a")->access, 0u);
    cr_assert_eq(vdir_of(s, "/a")->symlinks, PATH_SYMLINKS_ANY);
    cr_assert_str_eq(vdir_of(s, "/a")->path, docs);
    cr_assert_eq(vdir_of(s, "/a/b")->access, VDIR_READ);
    cr_assert_eq(vdir_of(s, "/a/b")->symlinks, PATH_SYMLINKS_ANY, "no symlinks flag: inherited");
    gen_unref(g);
}

Test(config, a_nested_key_without_path_is_the_parents_subdirectory)
{
    char want[PATH_MAX + 16];
    struct config_vdir v[] = {{"/docs", docs, true, NULL, true}};
    struct config_flags f = base_flags();
    const struct vdir *vd;
    struct gen *g;

    mkdirf("docs/sub");
    mkdirf("docs/sub/deeper");
    f.vdirs = v;
    f.nvdirs = 1;
    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/www/sites/default/root/docs/sub\","
            "  \"set\": {\"access_write\": true}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/default/root/docs/sub/deeper\"}]");
    g = compile_ok();
    cr_assert_eq(g->sites[0].nvdirs, 4);
    vd = vdir_of(&g->sites[0], "/docs/sub");
    snprintf(want, sizeof(want), "%s/sub", docs);
    cr_assert_str_eq(vd->path, want);
    cr_assert_eq(vd->access, VDIR_READ | VDIR_WRITE);
    cr_assert(vd->browse, "inherited from /docs");
    vd = vdir_of(&g->sites[0], "/docs/sub/deeper");
    snprintf(want, sizeof(want), "%s/sub/deeper", docs);
    cr_assert_str_eq(vd->path, want);
    cr_assert_eq(vd->access, VDIR_READ | VDIR_WRITE, "inherited from /docs/sub");
    cr_assert_str_eq(g->sites[0].vdirs[0].prefix, "/docs/sub/deeper");
    gen_unref(g);
}

Test(config, an_implicit_directory_missing_on_disk_only_carries_settings)
{
    char a_b[PATH_MAX];
    struct config_vdir v[] = {{"/a/b", a_b, true, NULL, false}};
    struct config_flags f = base_flags();
    struct gen *g;

    mkdirf("a_b");
    snprintf(a_b, sizeof(a_b), "%s/a_b", dir);
    f.vdirs = v;
    f.nvdirs = 1;
    seed(&f); /* www/a does not exist */
    g = compile_ok();
    cr_assert_eq(g->sites[0].nvdirs, 2);
    cr_assert_str_eq(g->sites[0].vdirs[0].prefix, "/a/b");
    cr_assert_str_eq(g->sites[0].vdirs[1].prefix, "");
    gen_unref(g);
}

Test(config, a_missing_directory_names_its_key)
{
    struct config_vdir v[] = {{"/docs", docs, true, NULL, false}};
    struct config_flags f = base_flags();

    f.vdirs = v;
    f.nvdirs = 1;
    seed(&f);
    cr_assert_eq(rmdir(docs), 0);
    compile_fails("/www/sites/default/root/docs", docs);
}

Test(config, a_missing_home_directory_names_the_root_key)
{
    struct config_flags f = base_flags();

    seed(&f);
    cr_assert_eq(rmdir(www), 0);
    compile_fails("/www/sites/default/root", "No such file");
}

Test(config, an_implicit_symlink_obeys_the_symlinks_policy)
{
    char link[PATH_MAX + 8];
    struct config_flags f = base_flags();
    struct gen *g;

    snprintf(link, sizeof(link), "%s/out", www);
    cr_assert_eq(symlink(docs, link), 0);
    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/www/sites/default/root/out\"}]");
    compile_fails("/www/sites/default/root/out", "symbolic link");
    commitf("[{\"op\": \"set\", \"key\": \"/www/sites/default/root/out\","
            "  \"set\": {\"symlinks\": \"any\"}}]");
    g = compile_ok();
    cr_assert_eq(vdir_of(&g->sites[0], "/out")->symlinks, PATH_SYMLINKS_ANY);
    gen_unref(g);
}

Test(config, an_invalid_binding_in_the_store_is_refused)
{
    struct config_flags f = base_flags();

    seed(&f);
    /* The metabase validates bindings on commit; reach past it to prove the
     * compiler does not trust the store blindly. */
    cr_assert_eq(sqlite3_exec(mb_db(mb),
                              "UPDATE properties SET value = '[\"300.1.1.1:80\"]'"
                              " WHERE key = '/www/sites/default' AND name = 'bindings'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    compile_fails("/www/sites/default", "300.1.1.1:80");
}

Test(config, settings_changed_in_the_metabase_reach_the_generation)
{
    struct config_flags f = base_flags();
    const struct site *s;
    struct gen *g;

    seed(&f);
    commitf("[{\"op\": \"set\", \"key\": \"/\","
            "  \"set\": {\"cache_size\": 1024, \"cache_revalidate\": 50, \"worker_threads\": 9}},"
            " {\"op\": \"set\", \"key\": \"/www\", \"set\": {\"max_connections\": 77,"
            "  \"default_documents\": [\"home.html\"]}},"
            " {\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"state\": \"paused\","
            "  \"max_body\": 99, \"mime_map\": {\"foo\": \"text/x-foo\", \"html\": \"text/plain\"},"
            "  \"bindings\": [\"127.0.0.1:8090\", \"[::1]:8090\"]}},"
            " {\"op\": \"set\", \"key\": \"/www/sites/default/root\", \"set\": {"
            "  \"access_read\": false, \"access_write\": true, \"access_execute\": true,"
            "  \"access_script\": true, \"browse_show_date\": false, \"browse_show_size\": false,"
            "  \"browse_long_date\": true, \"symlinks\": \"never\"}}]");
    g = compile_ok();
    cr_assert_eq(g->cache_bytes, 1024);
    cr_assert_eq(g->cache_valid_ms, 50);
    cr_assert_eq(g->nworkers, 2, "worker_threads is the caller's business");
    s = &g->sites[0];
    cr_assert_eq(s->state, SITE_PAUSED);
    cr_assert_eq(s->max_connections, 77);
    cr_assert_eq(www_site_of(s)->max_body, 99);
    cr_assert_eq(www_site_of(s)->ndefault_docs, 1);
    cr_assert_str_eq(www_site_of(s)->default_docs[0], "home.html");
    cr_assert_str_eq(mime_lookup(www_site_of(s)->mime, "a.foo", 5), "text/x-foo");
    cr_assert_str_eq(mime_lookup(www_site_of(s)->mime, "a.html", 6), "text/plain");
    cr_assert_str_eq(mime_lookup(www_site_of(s)->mime, "a.png", 5), "image/png");
    cr_assert_eq(s->nbindings, 2);
    binding_is(&s->bindings[0], "127.0.0.1:8090");
    binding_is(&s->bindings[1], "[::1]:8090");
    cr_assert_eq(s->vdirs[0].access, VDIR_WRITE | VDIR_EXECUTE | VDIR_SCRIPT);
    cr_assert_eq(s->vdirs[0].symlinks, PATH_SYMLINKS_NEVER);
    cr_assert_eq(s->vdirs[0].browse_flags, DIRLIST_TIME | DIRLIST_EXTENSION | DIRLIST_LONGDATE);
    gen_unref(g);

    commitf(
        "[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"state\": \"stopped\"}}]");
    g = compile_ok();
    cr_assert_eq(g->sites[0].state, SITE_STOPPED);
    gen_unref(g);
}

Test(config, two_sites_compile_in_name_order)
{
    struct config_flags f = base_flags();
    struct gen *g;

    seed(&f);
    commitf(
        "[{\"op\": \"create\", \"key\": \"/www/sites/other\","
        "  \"set\": {\"bindings\": [\"127.0.0.1:0\"], \"log_period\": \"hourly\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/other/root\", \"set\": {\"path\": \"%s\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/aaa\","
        "  \"set\": {\"bindings\": [\"127.0.0.1:8085\"], \"log_format\": \"none\"}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/aaa/root\", \"set\": {\"path\": \"%s\"}}]",
        docs, www);
    g = compile_ok();
    cr_assert_eq(g->nsites, 3);
    cr_assert_str_eq(g->sites[0].name, "aaa");
    cr_assert_str_eq(g->sites[1].name, "default");
    cr_assert_str_eq(g->sites[2].name, "other");
    cr_assert_str_eq(g->sites[2].vdirs[0].path, docs);
    cr_assert_neq(g->sites[1].stats_slot, g->sites[2].stats_slot);
    cr_assert_null(g->sites[0].alog, "log_format none");
    cr_assert_eq(rec.calls, 2);
    cr_assert_str_eq(rec.site[0], "default");
    cr_assert_eq(rec.cfg[0].period, ALOG_DAILY);
    cr_assert_eq(rec.cfg[0].format, ALOG_W3C);
    cr_assert_str_eq(rec.site[1], "other");
    cr_assert_eq(rec.cfg[1].period, ALOG_HOURLY);
    gen_unref(g);
}

Test(config, two_sites_without_host_names_may_not_share_a_binding)
{
    struct config_flags f = base_flags();

    f.http = "127.0.0.1:8081";
    seed(&f);
    commitf(
        "[{\"op\": \"create\", \"key\": \"/www/sites/other\","
        "  \"set\": {\"bindings\": [\"127.0.0.1:8082\", \"127.0.0.1:8081\"]}},"
        " {\"op\": \"create\", \"key\": \"/www/sites/other/root\", \"set\": {\"path\": \"%s\"}}]",
        docs);
    compile_fails("/www/sites/other", "/www/sites/default");
}

/* Sites a (a.test), b (B.Test) and z (no host names) on one plain and one TLS binding. */
static void seed_shared(const char *b_hosts)
{
    struct config_flags f = base_flags();

    f.http = "127.0.0.1:8081";
    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/www/sites/a\","
            "  \"set\": {\"bindings\": [\"127.0.0.1:8082\"], \"host_names\": [\"a.test\"]}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/a/root\", \"set\": {\"path\": \"%s\"}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/b\","
            "  \"set\": {\"bindings\": [\"127.0.0.1:8082\"], \"host_names\": %s}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/b/root\", \"set\": {\"path\": \"%s\"}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/z\","
            "  \"set\": {\"bindings\": [\"127.0.0.1:8082\"]}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/z/root\", \"set\": {\"path\": \"%s\"}}]",
            docs, b_hosts, docs, docs);
}

Test(config, sites_with_host_names_share_a_binding)
{
    struct gen *g;
    const struct binding *b;
    struct net_addr a;
    const char *why;

    seed_shared("[\"B.Test\", \"www.b.test\"]");
    g = compile_ok();
    gen_build_bindings(g);
    cr_assert_eq(g->nbindings, 2, "127.0.0.1:8081 and the shared 127.0.0.1:8082");
    cr_assert_eq(net_parse_addr("127.0.0.1:8082", &a, &why), 0);
    b = gen_find_binding(g, &a);
    cr_assert_not_null(b);
    cr_assert_eq(b->nsites, 3);
    cr_assert_str_eq(b->default_site->name, "z", "the site without host names");
    cr_assert_str_eq(binding_site_for_host(b, "a.test", 6)->name, "a");
    cr_assert_str_eq(binding_site_for_host(b, "b.TEST.", 7)->name, "b", "any case, final dot");
    cr_assert_str_eq(binding_site_for_host(b, "www.b.test", 10)->name, "b");
    cr_assert_str_eq(binding_site_for_host(b, "c.test", 6)->name, "z");
    cr_assert_str_eq(binding_site_for_host(b, "", 0)->name, "z");
    cr_assert_str_eq(binding_site_named(b, "a")->name, "a");
    cr_assert_null(binding_site_named(b, "default"), "default listens elsewhere");
    gen_unref(g);
}

Test(config, two_sites_may_not_claim_one_host_name_on_a_binding)
{
    seed_shared("[\"A.test\"]");
    compile_fails("/www/sites/b", "host_names");
}

Test(config, a_binding_is_plain_or_tls_for_every_site_on_it)
{
    struct config_flags f = base_flags();
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=o.test"
             " -days 2 -keyout %s/o.key -out %s/o.crt 2>/dev/null",
             dir, dir);
    cr_assert_eq(system(cmd), 0, "openssl req");
    f.http = "127.0.0.1:8081";
    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/www/sites/other\","
            "  \"set\": {\"bindings\": [\"https://127.0.0.1:8081\"], \"host_names\": [\"o.test\"],"
            "  \"tls_certificate_file\": \"%s/o.crt\", \"tls_key_file\": \"%s/o.key\"}},"
            " {\"op\": \"create\", \"key\": \"/www/sites/other/root\", \"set\": {\"path\": \"%s\"}}]",
            dir, dir, docs);
    compile_fails("/www/sites/other", "scheme");
}

Test(config, a_tls_binding_is_written_with_its_services_scheme)
{
    struct config_flags f = base_flags();

    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/gopher/sites/g\","
            "  \"set\": {\"bindings\": [\"https://127.0.0.1:7443\"]}},"
            " {\"op\": \"create\", \"key\": \"/gopher/sites/g/root\", \"set\": {\"path\": \"%s\"}}]",
            docs);
    compile_fails("/gopher/sites/g", "gophers://");
}

Test(config, ftp_sites_and_users_reach_the_generation)
{
    struct config_flags f = base_flags();
    const struct ftp_user *u;
    const struct ftp_site *fs;
    struct gen *g;

    f.ftp = "127.0.0.1:2121";
    f.ftp_root = docs;
    seed(&f);
    commitf("[{\"op\": \"set\", \"key\": \"/ftp/sites/default\","
            "  \"set\": {\"listing_style\": \"msdos\", \"ftp_tls\": \"off\","
            "  \"ftp_greeting\": [\"one\", \"two\"], \"passive_port_min\": 40000,"
            "  \"passive_port_max\": 40009}},"
            " {\"op\": \"create\", \"key\": \"/ftp/users/alice\","
            "  \"set\": {\"password_hash\": \"$argon2id$x\", \"home_directory\": \"/home/alice/\"}}]");
    g = compile_ok();
    cr_assert_eq(g->nsites, 2);
    fs = ftp_site_of(&g->sites[1]); /* services compile in registration order: www first */
    cr_assert_str_eq(g->sites[1].svc->name, "ftp");
    cr_assert_eq(fs->listing, FTP_LIST_MSDOS);
    cr_assert_eq(fs->tls, FTP_TLS_OFF);
    cr_assert_not(g->sites[1].tls_wanted, "ftp_tls off asks for no TLS context");
    cr_assert_str_eq(fs->greeting[1], "two");
    cr_assert_null(fs->greeting[2]);
    cr_assert_eq(fs->pasv_min, 40000);
    u = ftp_user_find(g, "alice");
    cr_assert_not_null(u);
    cr_assert_str_eq(u->home, "/home/alice", "the trailing slash is dropped");
    cr_assert(u->enabled);
    cr_assert_null(ftp_user_find(g, "bob"));
    gen_unref(g);
    commitf("[{\"op\": \"set\", \"key\": \"/ftp/sites/default\","
            "  \"set\": {\"passive_port_max\": 39000}}]");
    compile_fails("/ftp/sites/default", "passive_port_max");
}

Test(config, require_tls_needs_an_https_binding)
{
    struct config_flags f = base_flags();

    seed(&f);
    commitf("[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"require_tls\": true}}]");
    compile_fails("/www/sites/default", "require_tls");
}

Test(config, a_site_may_not_list_a_binding_twice)
{
    struct config_flags f = base_flags();

    seed(&f);
    /* The metabase refuses this on commit too; the compiler checks again. */
    cr_assert_eq(sqlite3_exec(mb_db(mb),
                              "UPDATE properties SET value = '[\"[::1]:8081\", \"[::1]:8081\"]'"
                              " WHERE key = '/www/sites/default' AND name = 'bindings'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    compile_fails("/www/sites/default", "twice");
}

Test(config, a_site_needs_bindings_and_a_root)
{
    struct config_flags f = base_flags();

    seed(&f);
    commitf("[{\"op\": \"create\", \"key\": \"/www/sites/bare\","
            "  \"set\": {\"bindings\": [\"127.0.0.1:0\"]}}]");
    compile_fails("/www/sites/bare", "home directory");
    commitf(
        "[{\"op\": \"delete\", \"key\": \"/www/sites/bare\"},"
        " {\"op\": \"create\", \"key\": \"/www/sites/mute\"},"
        " {\"op\": \"create\", \"key\": \"/www/sites/mute/root\", \"set\": {\"path\": \"%s\"}}]",
        docs);
    compile_fails("/www/sites/mute", "no bindings");
}

Test(config, log_format_none_opens_no_log)
{
    struct config_flags f = base_flags();
    struct gen *g;

    seed(&f);
    commitf("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"log_format\": \"none\"}}]");
    g = compile_ok();
    cr_assert_null(g->sites[0].alog);
    cr_assert_eq(rec.calls, 0);
    gen_unref(g);
}

Test(config, a_log_that_cannot_open_fails_the_compile)
{
    struct config_flags f = base_flags();

    seed(&f);
    rec.refuse = true;
    compile_fails("/www/sites/default", "disk on fire");
}

/* The way the daemon uses it: compile inside the commit, refusing bad trees. */
static int apply_compile(struct mb *m, void *arg, enum mb_apply_phase phase, struct mb_error *err)
{
    struct gen *g;

    (void)arg;
    if (phase != MB_APPLY_CHECK && phase != MB_APPLY_PREPARE)
        return 0;
    g = config_compile(m, &env, err);
    gen_unref(g);
    return g ? 0 : -1;
}

Test(config, compiles_inside_a_commit_and_refuses_a_broken_tree)
{
    struct config_flags f = base_flags();
    struct mb_error err;
    json_t *ops = config_seed_ops(&f);
    uint64_t rev;

    cr_assert_eq(mb_seed(mb, ops, NULL, apply_compile, NULL, &err), 0, "%s", err.message);
    json_decref(ops);
    rev = mb_revision(mb);
    ops = json_pack("[{s:s, s:s, s:{s:s}}]", "op", "set", "key", "/www/sites/default/root", "set",
                    "path", "/nonexistent/infosrv-test");
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, "break it", false, apply_compile, NULL, NULL, &err),
                 -1);
    cr_assert_str_eq(err.code, MB_E_APPLY_FAILED);
    cr_assert_str_eq(err.key, "/www/sites/default/root");
    cr_assert_not_null(strstr(err.message, "/nonexistent/infosrv-test"), "%s", err.message);
    cr_assert_eq(mb_revision(mb), rev, "rolled back");
    json_decref(ops);
}

/* ---- ACME ---- */

static char tls_dir[300];

/* The default site on https://127.0.0.1:8443 as well, with SET merged in. */
static void seed_acme(const char *set)
{
    struct config_flags f = base_flags();

    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
    f.http = "127.0.0.1:8081";
    seed(&f);
    commitf("[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"bindings\":"
            " [\"127.0.0.1:8081\", \"https://127.0.0.1:8443\"], %s}}]",
            set);
}

static struct gen *acme_compile(struct mb_error *err)
{
    struct config_env e = env;

    e.tls_dir = tls_dir;
    return config_compile(mb, &e, err);
}

static void acme_fails(const char *words)
{
    struct mb_error err;
    struct gen *g = acme_compile(&err);

    cr_assert_null(g, "compiled although broken (%s)", words);
    cr_assert_str_eq(err.code, MB_E_APPLY_FAILED);
    cr_assert_str_eq(err.key, "/www/sites/default", "%s", err.message);
    cr_assert_not_null(strstr(err.message, words), "message \"%s\" lacks \"%s\"", err.message,
                       words);
}

#define ACME_OK "\"tls_acme\": \"on\", \"host_names\": [\"shop.test\"], " \
                "\"acme_directory\": \"https://ca.test/dir\""

Test(config, tls_acme_needs_host_names_a_directory_and_a_tls_binding)
{
    seed_acme("\"tls_acme\": \"on\", \"acme_directory\": \"https://ca.test/dir\"");
    acme_fails("host_names");
    commitf("[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"host_names\": [\"a.test\"],"
            " \"acme_directory\": \"http://ca.test/dir\"}}]");
    acme_fails("is not an https:// URL");
    commitf("[{\"op\": \"set\", \"key\": \"/www/sites/default\", \"unset\": [\"acme_directory\"]}]");
    acme_fails("acme_directory is not set");
    commitf("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"acme_directory\": \"https://ca.test/d\"}},"
            " {\"op\": \"set\", \"key\": \"/www/sites/default\", \"set\": {\"bindings\":"
            " [\"127.0.0.1:8081\"]}}]");
    acme_fails("has no https:// binding");
}

Test(config, tls_acme_serves_the_placeholder_until_the_cas_certificate_is_there)
{
    struct mb_error err;
    struct gen *g;
    const struct site_acme *a;
    char cmd[4096];

    seed_acme(ACME_OK ", \"acme_challenges\": [\"tls-alpn-01\", \"http-01\"],"
              " \"acme_email\": \"ops@shop.test\"");
    g = acme_compile(&err);
    cr_assert_not_null(g, "%s", err.message);
    a = g->sites[0].tls.acme;
    cr_assert_not_null(a);
    cr_assert_not(a->issued);
    cr_assert_str_eq(a->directory, "https://ca.test/dir", "inherited from nowhere: set here");
    cr_assert_str_eq(a->email, "ops@shop.test");
    cr_assert_null(a->ca_file);
    cr_assert_eq(a->nchallenges, 2);
    cr_assert_eq(a->challenges[0], ACME_TLS_ALPN_01, "the order of preference is kept");
    cr_assert_eq(a->challenges[1], ACME_HTTP_01);
    cr_assert_not_null(strstr(g->sites[0].tls.cert_file, "/tls/www-default.crt"), "%s",
                       g->sites[0].tls.cert_file);
    cr_assert_not_null(strstr(a->cert_file, "/tls/acme/www-default.crt"), "%s", a->cert_file);
    cr_assert_not_null(g->sites[0].tls.ctx);
    /* A valid pair where the CA's certificate is kept: served instead of the placeholder. */
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/acme && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
             " -nodes -subj /CN=shop.test -days 2 -keyout %s -out %s 2>/dev/null",
             tls_dir, a->key_file, a->cert_file);
    cr_assert_eq(system(cmd), 0, "openssl req");
    gen_unref(g);
    g = acme_compile(&err);
    cr_assert_not_null(g, "%s", err.message);
    cr_assert(g->sites[0].tls.acme->issued);
    cr_assert_str_eq(g->sites[0].tls.cert_file, g->sites[0].tls.acme->cert_file);
    gen_unref(g);
}

Test(config, an_expired_or_broken_ca_certificate_falls_back_to_the_placeholder)
{
    struct mb_error err;
    struct gen *g;
    char cmd[4096];

    seed_acme(ACME_OK);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/acme && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
             " -nodes -subj /CN=shop.test -days 2 -keyout %s/acme/www-default.key"
             " -out %s/acme/www-default.crt 2>/dev/null && "
             "openssl x509 -in %s/acme/www-default.crt -noout -checkend 0 >/dev/null && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x"
             " -days 2 -keyout %s/other.key -out /dev/null 2>/dev/null && "
             "cp %s/other.key %s/acme/www-default.key",
             tls_dir, tls_dir, tls_dir, tls_dir, tls_dir, tls_dir, tls_dir);
    cr_assert_eq(system(cmd), 0, "openssl");
    g = acme_compile(&err);
    cr_assert_not_null(g, "a key that does not match is no reason to refuse: %s", err.message);
    cr_assert_not(g->sites[0].tls.acme->issued, "the mismatched pair is not served");
    gen_unref(g);
}

Test(config, a_certificate_file_set_by_hand_wins_over_tls_acme)
{
    struct mb_error err;
    struct gen *g;
    char cmd[1024], set[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=o.test"
             " -days 2 -keyout %s/o.key -out %s/o.crt 2>/dev/null",
             dir, dir);
    cr_assert_eq(system(cmd), 0, "openssl req");
    snprintf(set, sizeof(set), ACME_OK ", \"tls_certificate_file\": \"%s/o.crt\","
             " \"tls_key_file\": \"%s/o.key\"", dir, dir);
    seed_acme(set);
    g = acme_compile(&err);
    cr_assert_not_null(g, "%s", err.message);
    cr_assert_null(g->sites[0].tls.acme, "no ACME for a site with its own certificate");
    cr_assert_not_null(strstr(g->sites[0].tls.cert_file, "/o.crt"));
    gen_unref(g);
}
