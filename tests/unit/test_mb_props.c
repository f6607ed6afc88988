#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metabase/mb.h"
#include "metabase/props.h"

/* ---- the table itself ---- */

Test(mb_props, table_is_well_formed)
{
    cr_assert_geq(props_count(), 30);
    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        cr_assert_not_null(p->name);
        cr_assert_not_null(p->doc, "%s has no doc", p->name);
        cr_assert_neq(p->where, 0u, "%s can be set nowhere", p->name);
        cr_assert_eq(p->where & MB_KIND_SITES, 0u, "%s on a sites container", p->name);
        cr_assert_neq(p->services & MB_SVC_ALL, 0u, "%s applies to no service", p->name);
        cr_assert_eq(props_find(p->name), p, "%s is declared twice", p->name);
        if (p->type == PROP_INT)
            cr_assert_leq(p->min, p->max, "%s", p->name);
        if (p->type == PROP_ENUM)
            cr_assert_not_null(p->values, "%s", p->name);
    }
    cr_assert_null(props_at(props_count()));
    cr_assert_null(props_find("nonexistent"));
    cr_assert_null(props_find(NULL));
}

Test(mb_props, every_default_is_valid)
{
    struct mb_error err;

    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        json_t *v = props_default(p);
        if (p->def == NULL) {
            cr_assert_null(v);
            continue;
        }
        cr_assert_not_null(v, "%s: default %s does not parse", p->name, p->def);
        cr_assert_eq(props_check_value(p, v, "/", &err), 0, "%s: %s", p->name, err.message);
        json_decref(v);
    }
}

static void expect_default(const char *name, const char *json)
{
    json_t *v = props_default(props_find(name)), *want = json_loads(json, JSON_DECODE_ANY, NULL);

    cr_assert(json_equal(v, want), "default of %s", name);
    json_decref(v);
    json_decref(want);
}

Test(mb_props, required_settings_and_defaults)
{
    static const char *const names[] = {"cache_size",
                                        "bandwidth_limit",
                                        "server_comment",
                                        "admin_name",
                                        "admin_email",
                                        "bindings",
                                        "path",
                                        "access_read",
                                        "access_write",
                                        "access_execute",
                                        "access_script",
                                        "default_documents",
                                        "directory_browsing",
                                        "browse_show_date",
                                        "browse_show_time",
                                        "browse_show_size",
                                        "browse_show_extension",
                                        "browse_long_date",
                                        "mime_map",
                                        "symlinks",
                                        "header_timeout",
                                        "connection_timeout",
                                        "max_connections",
                                        "max_body",
                                        "log_format",
                                        "log_period",
                                        "log_size",
                                        "anonymous_user",
                                        "anonymous_password",
                                        "comment",
                                        "state"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cr_assert_not_null(props_find(names[i]), "%s is missing", names[i]);
    expect_default("cache_size", "67108864");
    expect_default("bandwidth_limit", "0");
    expect_default("access_read", "true");
    expect_default("access_script", "false");
    expect_default("default_documents", "[\"index.html\", \"index.htm\", \"default.htm\"]");
    expect_default("symlinks", "\"inside\"");
    expect_default("header_timeout", "10");
    expect_default("connection_timeout", "15");
    expect_default("max_body", "1048576");
    expect_default("log_format", "\"w3c\"");
    expect_default("log_period", "\"daily\"");
    expect_default("log_size", "10485760");
    expect_default("state", "\"started\"");
    cr_assert(props_find("anonymous_password")->secret);
    cr_assert_not(props_find("anonymous_user")->secret);
    cr_assert(props_find("default_documents")->inherit);
    cr_assert_not(props_find("path")->inherit);
    cr_assert_eq(props_find("path")->required, PROP_REQUIRED_ON_ROOT);
    cr_assert_eq(props_find("connection_timeout")->min, 1);
    cr_assert_eq(props_find("connection_timeout")->max, 86400);
}

Test(mb_props, where_a_property_may_be_set)
{
    const struct prop *bindings = props_find("bindings"), *docs = props_find("default_documents");
    const struct prop *cache = props_find("cache_size"), *read = props_find("access_read");

    cr_assert(props_valid_on(bindings, MB_KIND_SITE, MB_SVC_FTP));
    cr_assert_not(props_valid_on(bindings, MB_KIND_SERVICE, MB_SVC_WWW));
    cr_assert_not(props_valid_on(bindings, MB_KIND_VDIR, MB_SVC_WWW));
    cr_assert(props_valid_on(docs, MB_KIND_VDIR, MB_SVC_WWW));
    cr_assert_not(props_valid_on(docs, MB_KIND_VDIR, MB_SVC_FTP));
    cr_assert(props_valid_on(cache, MB_KIND_MACHINE, 0));
    cr_assert_not(props_valid_on(cache, MB_KIND_SERVICE, MB_SVC_WWW));
    cr_assert(props_valid_on(read, MB_KIND_VDIR, MB_SVC_GOPHER));
    cr_assert_not(props_valid_on(read, MB_KIND_SITE, MB_SVC_WWW));
}

/* ---- values ---- */

static void valid(const char *name, const char *json)
{
    struct mb_error err = {0};
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

    cr_assert_not_null(v, "bad test JSON %s", json);
    cr_assert_eq(props_check_value(props_find(name), v, "/k", &err), 0, "%s = %s: %s", name, json,
                 err.message);
    json_decref(v);
}

static void invalid(const char *name, const char *json, const char *in_message)
{
    struct mb_error err = {0};
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    cr_assert_not_null(v, "bad test JSON %s", json);
    cr_assert_eq(props_check_value(props_find(name), v, "/k", &err), -1, "%s = %s accepted", name,
                 json);
    cr_assert_str_eq(err.code, "invalid_value");
    cr_assert_str_eq(err.property, name);
    cr_assert_str_eq(err.key, "/k");
    cr_assert_not_null(strstr(err.message, name), "%s", err.message);
    cr_assert_not_null(strstr(err.message, in_message), "\"%s\" lacks \"%s\"", err.message,
                       in_message);
    json_decref(v);
}

Test(mb_props, integers)
{
    valid("connection_timeout", "1");
    valid("connection_timeout", "86400");
    invalid("connection_timeout", "0", "from 1 to 86400, got 0");
    invalid("connection_timeout", "86401", "got 86401");
    invalid("connection_timeout", "\"abc\"", "must be an integer from 1 to 86400, got \"abc\"");
    invalid("connection_timeout", "1.5", "got 1.5");
    invalid("connection_timeout", "true", "got true");
    invalid("max_connections", "-1", "from 0 to 1000000");
    valid("cache_size", "0");
}

Test(mb_props, booleans_and_enums)
{
    valid("directory_browsing", "true");
    invalid("directory_browsing", "1", "true or false, got 1");
    invalid("directory_browsing", "\"yes\"", "true or false");
    valid("symlinks", "\"never\"");
    invalid("symlinks", "\"sometimes\"",
            "one of \"inside\", \"never\", \"any\", got \"sometimes\"");
    invalid("symlinks", "\"Inside\"", "one of");
    invalid("log_period", "3", "\"hourly\"");
    valid("state", "\"paused\"");
    invalid("state", "\"running\"", "\"stopped\"");
}

Test(mb_props, strings_and_paths)
{
    char big[1200];

    valid("comment", "\"\"");
    valid("comment", "\"caf\\u00e9 \\u2014 ok\"");
    invalid("comment", "\"line\\nbreak\"", "control characters");
    invalid("comment", "\"nul\\u0000inside\"", "control characters");
    invalid("comment", "42", "a string");
    memset(big, 'a', sizeof(big));
    big[0] = '"';
    big[1100] = '"';
    big[1101] = '\0';
    invalid("comment", big, "at most 1024");
    invalid("anonymous_password", "\"hunter\\u0001two\"", "got (secret)");
    valid("path", "\"/srv/www\"");
    invalid("path", "\"srv/www\"", "absolute path");
    invalid("path", "\"\"", "absolute path");
    invalid("path", "[\"/x\"]", "absolute path");
}

Test(mb_props, lists_and_maps)
{
    valid("default_documents", "[]");
    valid("default_documents", "[\"index.html\", \"home.htm\"]");
    invalid("default_documents", "\"index.html\"", "list");
    invalid("default_documents", "[\"\"]", "non-empty");
    invalid("default_documents", "[1]", "non-empty strings");
    valid("mime_map", "{}");
    valid("mime_map", "{\"md\": \"text/markdown\", \"wasm\": \"application/wasm\"}");
    invalid("mime_map", "[]", "object");
    invalid("mime_map", "{\"md\": 3}", "non-empty strings");
    invalid("mime_map", "{\"m d\": \"text/x\"}", "no spaces");
    invalid("mime_map", "{\"\": \"text/x\"}", "names");
}

Test(mb_props, address_lists)
{
    valid("bindings", "[]");
    valid("bindings", "[\"127.0.0.1:8080\", \"[::1]:8080\", \"0.0.0.0:0\"]");
    invalid("bindings", "[\"127.0.0.1\"]", "expected ADDR:PORT");
    invalid("bindings", "[\"localhost:80\"]", "not a numeric IPv4 or IPv6 address");
    invalid("bindings", "[\"127.0.0.1:65536\"]", "port must be a number");
    invalid("bindings", "[\"[::1]80\"]", "[IPv6]:PORT");
    invalid("bindings", "[\"127.0.0.1:80\", \"127.0.0.1:80\"]", "twice");
    invalid("bindings", "\"127.0.0.1:80\"", "list");
    invalid("bindings", "[80]", "\"ADDR:PORT\"");
    valid("bindings", "[\"https://127.0.0.1:8443\", \"https://[::1]:443\", \"127.0.0.1:80\"]");
    invalid("bindings", "[\"http://127.0.0.1:80\"]", "only schemes a binding may name are https://");
    valid("bindings", "[\"gophers://127.0.0.1:7443\", \"ftps://[::1]:990\"]");
    invalid("bindings", "[\"https://127.0.0.1\"]", "expected ADDR:PORT");
}

Test(mb_props, host_names_and_tls_protocols)
{
    valid("host_names", "[]");
    valid("host_names", "[\"a.test\", \"WWW.Example.COM\", \"xn--bcher-kva.example\", \"localhost\"]");
    invalid("host_names", "[\"a.test:80\"]", "a host name");
    invalid("host_names", "[\"*.example.com\"]", "a host name");
    invalid("host_names", "[\"a..test\"]", "a host name");
    invalid("host_names", "[\".a.test\"]", "a host name");
    invalid("host_names", "[\"-a.test\"]", "a host name");
    invalid("host_names", "[\"a test\"]", "a host name");
    invalid("host_names", "[\"a.test\", \"a.test\"]", "twice");
    valid("tls_protocols", "[\"tls1.3\"]");
    valid("tls_protocols", "[\"tls1.2\", \"tls1.3\"]");
    invalid("tls_protocols", "[\"tls1.1\"]", "one of \"tls1.2\", \"tls1.3\"");
    invalid("tls_protocols", "[\"tls1.3\", \"tls1.3\"]", "twice");
    valid("tls_certificate_file", "\"/etc/ssl/site.pem\"");
    invalid("tls_certificate_file", "\"site.pem\"", "absolute path");
}

/* ---- validation through commits ---- */

static char dir[] = "/tmp/test_mb_props_XXXXXX";
static struct mb *mb;

static void setup(void)
{
    char path[600];
    struct mb_error err;
    json_t *ops = json_loads("[{\"op\": \"create\", \"key\": \"/www/sites/s\"},"
                             " {\"op\": \"create\", \"key\": \"/www/sites/s/root\","
                             "  \"set\": {\"path\": \"/srv\"}},"
                             " {\"op\": \"create\", \"key\": \"/ftp/sites/f\"}]",
                             0, NULL);

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mb.db", dir);
    cr_assert_eq(mb_open(&mb, path, &err), 0, "%s", err.message);
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, NULL, false, NULL, NULL, NULL, &err), 0, "%s",
                 err.message);
    json_decref(ops);
}

static void teardown(void)
{
    char cmd[600];

    mb_close(mb);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(mb_validate, .init = setup, .fini = teardown);

static struct mb_error refused(const char *ops_json, const char *code)
{
    struct mb_error err;
    json_t *ops = json_loads(ops_json, JSON_DECODE_ANY, NULL);
    uint64_t rev = 0;

    cr_assert_not_null(ops, "bad test JSON %s", ops_json);
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, NULL, false, NULL, NULL, &rev, &err), -1,
                 "%s accepted", ops_json);
    cr_assert_str_eq(err.code, code, "%s: got %s (%s)", ops_json, err.code, err.message);
    cr_assert_eq(mb_revision(mb), 1);
    json_decref(ops);
    return err;
}

Test(mb_validate, unknown_property_is_named)
{
    struct mb_error e = refused(
        "[{\"op\": \"set\", \"key\": \"/www/sites/s\", \"set\": {\"conection_timeout\": 5}}]",
        "unknown_property");

    cr_assert_str_eq(e.property, "conection_timeout");
    cr_assert_str_eq(e.key, "/www/sites/s");
    cr_assert_str_eq(e.message, "unknown property \"conection_timeout\" on /www/sites/s");
    e = refused("[{\"op\": \"set\", \"key\": \"/www\", \"unset\": [\"frobnicate\"]}]",
                "unknown_property");
    cr_assert_str_eq(e.property, "frobnicate");
    e = refused("[{\"op\": \"create\", \"key\": \"/www/sites/t\", \"set\": {\"x\": 1}}]",
                "unknown_property");
    cr_assert_str_eq(e.property, "x");
}

Test(mb_validate, invalid_value_names_property_key_and_value)
{
    struct mb_error e = refused("[{\"op\": \"set\", \"key\": \"/www/sites/s\","
                                "  \"set\": {\"connection_timeout\": \"abc\"}}]",
                                "invalid_value");

    cr_assert_str_eq(e.message, "property \"connection_timeout\" on /www/sites/s must be an "
                                "integer from 1 to 86400, got \"abc\"");
    cr_assert_str_eq(e.property, "connection_timeout");
    cr_assert_str_eq(e.key, "/www/sites/s");
}

Test(mb_validate, not_allowed_here_by_kind_and_service)
{
    struct mb_error e;

    e = refused("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"bindings\": []}}]",
                "not_allowed_here");
    cr_assert_str_eq(e.property, "bindings");
    cr_assert_not_null(strstr(e.message, "/www"));
    cr_assert_not_null(strstr(e.message, "sites"), "%s", e.message);
    e = refused("[{\"op\": \"set\", \"key\": \"/ftp/sites/f\","
                "  \"set\": {\"directory_browsing\": true}}]",
                "not_allowed_here");
    cr_assert_not_null(strstr(e.message, "www"), "%s", e.message);
    e = refused("[{\"op\": \"set\", \"key\": \"/\", \"set\": {\"connection_timeout\": 5}}]",
                "not_allowed_here");
    e = refused("[{\"op\": \"set\", \"key\": \"/www/sites/s/root\", \"set\": {\"cache_size\": 5}}]",
                "not_allowed_here");
    e = refused("[{\"op\": \"set\", \"key\": \"/www/sites\", \"set\": {\"comment\": \"x\"}}]",
                "not_allowed_here");
    e = refused("[{\"op\": \"set\", \"key\": \"/www/sites/s\", \"unset\": [\"path\"]}]",
                "not_allowed_here");
    cr_assert_str_eq(e.property, "path");
}

Test(mb_validate, invalid_key)
{
    struct mb_error e =
        refused("[{\"op\": \"create\", \"key\": \"/www/sites/UPPER\"}]", "invalid_key");

    cr_assert_str_eq(e.key, "/www/sites/UPPER");
    cr_assert_not_null(strstr(e.message, "/www/sites/UPPER"));
    refused("[{\"op\": \"create\", \"key\": \"/www/sites/s/root/..\"}]", "invalid_key");
    refused("[{\"op\": \"set\", \"key\": \"relative\", \"set\": {}}]", "invalid_key");
}

Test(mb_validate, ftp_users_are_keys_of_their_own)
{
    struct mb_error e;

    e = refused("[{\"op\": \"create\", \"key\": \"/www/users/alice\"}]", "invalid_key");
    cr_assert_not_null(strstr(e.message, "only \"sites\""), "%s", e.message);
    refused("[{\"op\": \"create\", \"key\": \"/ftp/users/-alice\"}]", "invalid_key");
    refused("[{\"op\": \"create\", \"key\": \"/ftp/users/al ice\"}]", "invalid_key");
    e = refused("[{\"op\": \"create\", \"key\": \"/ftp/users/alice/x\"}]", "invalid_key");
    cr_assert_not_null(strstr(e.message, "no keys below"), "%s", e.message);
    e = refused("[{\"op\": \"create\", \"key\": \"/ftp/users/alice\","
                "  \"set\": {\"allow_anonymous\": true}}]",
                "not_allowed_here");
    cr_assert_str_eq(e.property, "allow_anonymous");
    e = refused("[{\"op\": \"set\", \"key\": \"/ftp/sites/f\","
                "  \"set\": {\"password_hash\": \"x\"}}]",
                "not_allowed_here");
    cr_assert_not_null(strstr(e.message, "FTP users"), "%s", e.message);
    e = refused("[{\"op\": \"set\", \"key\": \"/ftp/users\", \"set\": {\"comment\": \"x\"}}]",
                "not_allowed_here");
    cr_assert_not_null(strstr(e.message, "only holds the FTP users"), "%s", e.message);
}

Test(mb_validate, malformed_requests)
{
    static const char *const bad[] = {
        "{\"op\": \"set\"}",
        "[42]",
        "[{\"key\": \"/www\"}]",
        "[{\"op\": \"rename\", \"key\": \"/www\"}]",
        "[{\"op\": \"set\"}]",
        "[{\"op\": \"set\", \"key\": 7}]",
        "[{\"op\": \"set\", \"key\": \"/www\", \"sett\": {}}]",
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": [1]}]",
        "[{\"op\": \"set\", \"key\": \"/www\", \"unset\": \"comment\"}]",
        "[{\"op\": \"set\", \"key\": \"/www\", \"unset\": [3]}]",
        "[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"a\"}, \"unset\": "
        "[\"comment\"]}]",
        "[{\"op\": \"create\", \"key\": \"/www/sites/n\", \"unset\": []}]",
        "[{\"op\": \"delete\", \"key\": \"/www/sites/s\", \"recursive\": \"yes\"}]",
        "[{\"op\": \"delete\", \"key\": \"/www/sites/s\", \"set\": {}}]",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mb_error e = refused(bad[i], "invalid_request");
        cr_assert_gt(strlen(e.message), 10);
    }
}

Test(mb_validate, the_first_error_wins_and_nothing_is_written)
{
    struct mb_error e =
        refused("[{\"op\": \"set\", \"key\": \"/www\", \"set\": {\"comment\": \"ok\"}},"
                " {\"op\": \"set\", \"key\": \"/www\", \"set\": {\"max_body\": -5}}]",
                "invalid_value");
    json_t *v = mb_value(mb, "/www", "comment");

    cr_assert_str_eq(e.property, "max_body");
    cr_assert_null(v);
}

Test(mb_validate, too_many_operations)
{
    json_t *ops = json_array();
    struct mb_error err;

    for (int i = 0; i < 5000; i++)
        json_array_append_new(ops,
                              json_pack("{s:s, s:s, s:{}}", "op", "set", "key", "/www", "set"));
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, NULL, false, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.code, "invalid_request");
    json_decref(ops);
}

Test(mb_validate, overlong_comment)
{
    char big[2000];
    struct mb_error err;
    json_t *ops = json_array();

    memset(big, 'c', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, big, false, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq(err.code, "invalid_request");
    cr_assert_not_null(strstr(err.message, "comment"));
    json_decref(ops);
}

/* ---- the generated reference ---- */

static char *doc_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    props_doc_markdown(f);
    fclose(f);
    return text;
}

Test(mb_props, reference_lists_every_property)
{
    char *text = doc_text(), needle[80];

    cr_assert_not_null(strstr(text, "| name | type | default | bounds / values | where |"));
    for (size_t i = 0; i < props_count(); i++) {
        snprintf(needle, sizeof(needle), "| `%s` | %s |", props_at(i)->name,
                 props_type_name(props_at(i)->type));
        cr_assert_not_null(strstr(text, needle), "%s missing", needle);
    }
    cr_assert_not_null(strstr(text, "| `anonymous_password` | string |  |  | service, site, vdir | "
                                    "yes | yes | live |"));
    free(text);
}

Test(mb_props, committed_reference_is_current)
{
    char *text = doc_text(), *file = NULL;
    size_t cap = 0;
    FILE *f = fopen("docs/properties.md", "r");

    if (f == NULL) {
        free(text);
        cr_skip_test("docs/properties.md not found (run from the repository root)");
    }
    ssize_t n = getdelim(&file, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(file, text, "docs/properties.md is stale: regenerate it with gen_props_doc");
    free(file);
    free(text);
}
