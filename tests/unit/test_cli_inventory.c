/*
 * Unit tests for cli/inventory: where the file lives, load/add/remove/save
 * round trips, file and directory modes, atomic replacement, unknown fields
 * kept, and the refusals (bad names, URLs, duplicates, malformed files).
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/inventory.h"

static char dir[64];
static char path[128];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cli_inv.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    /* Two directories that do not exist yet: save must create both, 0700. */
    snprintf(path, sizeof(path), "%s/cfg/infoadm/servers.json", dir);
}

static void teardown(void)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(inventory, .init = setup, .fini = teardown);

static mode_t mode_of(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "stat %s", p);
    return st.st_mode & 07777;
}

static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void load_ok(struct inv *inv)
{
    struct cli_err err = {0};
    cr_assert_eq(inv_load(inv, path, &err), 0, "%s", err.msg);
}

Test(inventory, default_path_order)
{
    struct cli_err err = {0};
    char *p;

    setenv("INFOADM_CONFIG", "/etc/x.json", 1);
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    p = inv_default_path(&err);
    cr_assert_str_eq(p, "/etc/x.json");
    free(p);
    unsetenv("INFOADM_CONFIG");
    p = inv_default_path(&err);
    cr_assert_str_eq(p, "/xdg/infoadm/servers.json");
    free(p);
    setenv("XDG_CONFIG_HOME", "relative", 1); /* not absolute: ignored, as the spec says */
    p = inv_default_path(&err);
    cr_assert_str_eq(p, "/home/u/.config/infoadm/servers.json");
    free(p);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    cr_assert_null(inv_default_path(&err));
    cr_assert_eq(err.exit, CLI_EXIT_USAGE);
}

Test(inventory, missing_file_is_empty)
{
    struct inv inv;
    size_t n = 99;

    load_ok(&inv);
    free(inv_names(&inv, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(access(path, F_OK), -1, "loading must not create the file");
    inv_free(&inv);
}

Test(inventory, add_save_reload_with_modes)
{
    struct inv inv;
    struct inv_server s = {.name = "web1", .url = "https://h.example", .token = "t0k"};
    struct inv_server got;
    struct cli_err err = {0};
    char sub[160];

    load_ok(&inv);
    cr_assert_eq(inv_add(&inv, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(inv_save(&inv, &err), 0, "%s", err.msg);
    inv_free(&inv);

    cr_assert_eq(mode_of(path), 0600);
    snprintf(sub, sizeof(sub), "%s/cfg/infoadm", dir);
    cr_assert_eq(mode_of(sub), 0700);
    snprintf(sub, sizeof(sub), "%s/cfg", dir);
    cr_assert_eq(mode_of(sub), 0700);

    load_ok(&inv);
    cr_assert_eq(inv_find(&inv, "web1", &got), 0);
    cr_assert_str_eq(got.url, "https://h.example:8172", "the default admin port is added");
    cr_assert_str_eq(got.token, "t0k");
    cr_assert_null(got.pin);
    cr_assert_null(got.cacert);
    cr_assert_eq(inv_find(&inv, "web2", &got), -1);
    inv_free(&inv);
}

Test(inventory, save_tightens_an_existing_loose_file)
{
    struct inv inv;
    struct cli_err err = {0};
    char d[160];

    snprintf(d, sizeof(d), "%s/cfg", dir);
    mkdir(d, 0755);
    snprintf(d, sizeof(d), "%s/cfg/infoadm", dir);
    mkdir(d, 0755);
    write_text(path, "{\"servers\": {}}");
    chmod(path, 0644);
    load_ok(&inv);
    cr_assert_eq(inv_save(&inv, &err), 0, "%s", err.msg);
    cr_assert_eq(mode_of(path), 0600);
    inv_free(&inv);
}

Test(inventory, remove_and_pin)
{
    struct inv inv;
    struct inv_server a = {.name = "a", .url = "unix:/run/a.sock"};
    struct inv_server b = {.name = "b", .url = "https://[::1]:9000/"};
    struct inv_server got;
    struct cli_err err = {0};

    load_ok(&inv);
    cr_assert_eq(inv_add(&inv, &a, &err), 0);
    cr_assert_eq(inv_add(&inv, &b, &err), 0);
    cr_assert_eq(inv_set_pin(&inv, "b", "sha256//AAAA"), 0);
    cr_assert_eq(inv_set_pin(&inv, "zz", "sha256//AAAA"), -1);
    cr_assert_eq(inv_remove(&inv, "a", &err), 0);
    cr_assert_eq(inv_remove(&inv, "a", &err), -1);
    cr_assert(strstr(err.msg, "no server 'a'") != NULL, "%s", err.msg);
    cr_assert_eq(inv_save(&inv, &err), 0);
    inv_free(&inv);

    load_ok(&inv);
    cr_assert_eq(inv_find(&inv, "a", &got), -1);
    cr_assert_eq(inv_find(&inv, "b", &got), 0);
    cr_assert_str_eq(got.url, "https://[::1]:9000");
    cr_assert_str_eq(got.pin, "sha256//AAAA");
    inv_free(&inv);
}

Test(inventory, find_by_url_normalises)
{
    struct inv inv;
    struct inv_server s = {.name = "w", .url = "https://host/"};
    struct inv_server got;
    struct cli_err err = {0};

    load_ok(&inv);
    cr_assert_eq(inv_add(&inv, &s, &err), 0);
    cr_assert_eq(inv_find_url(&inv, "https://host:8172", &got), 0);
    cr_assert_str_eq(got.name, "w");
    cr_assert_eq(inv_find_url(&inv, "https://host:8173", &got), -1);
    inv_free(&inv);
}

Test(inventory, refusals)
{
    struct inv inv;
    struct cli_err err = {0};
    struct inv_server dup = {.name = "x", .url = "unix:/a"};
    struct inv_server badname = {.name = "a b", .url = "unix:/a"};
    struct inv_server dotname = {.name = ".x", .url = "unix:/a"};
    struct inv_server http = {.name = "h", .url = "http://host:80"};
    struct inv_server garbage = {.name = "g", .url = "ftp://host"};

    load_ok(&inv);
    cr_assert_eq(inv_add(&inv, &dup, &err), 0);
    cr_assert_eq(inv_add(&inv, &dup, &err), -1);
    cr_assert(strstr(err.msg, "already") != NULL, "%s", err.msg);
    cr_assert_eq(inv_add(&inv, &badname, &err), -1);
    cr_assert(strstr(err.msg, "invalid server name 'a b'") != NULL, "%s", err.msg);
    cr_assert_eq(inv_add(&inv, &dotname, &err), -1);
    cr_assert_eq(inv_add(&inv, &http, &err), -1);
    cr_assert(strstr(err.msg, "HTTPS only") != NULL, "%s", err.msg);
    cr_assert_eq(inv_add(&inv, &garbage, &err), -1);
    cr_assert_eq(err.exit, CLI_EXIT_USAGE);
    inv_free(&inv);
}

Test(inventory, names_sorted_and_unknown_fields_kept)
{
    struct inv inv;
    struct cli_err err = {0};
    const char **names;
    size_t n;
    char d[160], text[512];
    FILE *f;

    snprintf(d, sizeof(d), "%s/cfg", dir);
    mkdir(d, 0700);
    snprintf(d, sizeof(d), "%s/cfg/infoadm", dir);
    mkdir(d, 0700);
    write_text(path, "{\"servers\": {\"zeta\": {\"url\": \"unix:/z\", \"note\": \"keep me\"},"
                     " \"alpha\": {\"url\": \"unix:/a\"}}, \"future\": [1, 2]}");
    load_ok(&inv);
    names = inv_names(&inv, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "alpha");
    cr_assert_str_eq(names[1], "zeta");
    free(names);
    cr_assert_eq(inv_save(&inv, &err), 0);
    inv_free(&inv);

    f = fopen(path, "r");
    cr_assert_not_null(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(text, "\"note\": \"keep me\"") != NULL, "%s", text);
    cr_assert(strstr(text, "\"future\"") != NULL, "%s", text);
}

Test(inventory, malformed_files)
{
    struct inv inv;
    struct cli_err err = {0};
    char d[160];

    snprintf(d, sizeof(d), "%s/cfg", dir);
    mkdir(d, 0700);
    snprintf(d, sizeof(d), "%s/cfg/infoadm", dir);
    mkdir(d, 0700);

    write_text(path, "{\"servers\": {\n\"a\": }");
    cr_assert_eq(inv_load(&inv, path, &err), -1);
    cr_assert(strstr(err.msg, path) != NULL && strstr(err.msg, "line 2") != NULL, "%s", err.msg);
    cr_assert_eq(err.exit, CLI_EXIT_USAGE);
    inv_free(&inv);

    write_text(path, "[]");
    cr_assert_eq(inv_load(&inv, path, &err), -1);
    cr_assert(strstr(err.msg, "expected {\"servers\"") != NULL, "%s", err.msg);
    inv_free(&inv);

    write_text(path, "{\"servers\": {\"a\": {\"token\": \"x\"}}}");
    cr_assert_eq(inv_load(&inv, path, &err), -1);
    cr_assert(strstr(err.msg, "server \"a\" has no \"url\"") != NULL, "%s", err.msg);
    inv_free(&inv);
}
