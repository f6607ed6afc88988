/*
 * Unit tests for cli/err: the one "infoadm: REASON" line built from an API
 * error answer ({"error": {"code", "message"}}), from answers without one,
 * with hostile messages made one line, and the --all prefix and JSON forms.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cli/err.h"

static char *line_of(const struct cli_err *e, const char *server)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    cli_err_print(f, e, server);
    fclose(f);
    return text;
}

static void expect_line(const struct cli_err *e, const char *server, const char *want)
{
    char *got = line_of(e, server);
    cr_assert_str_eq(got, want);
    free(got);
}

static void from_api(struct cli_err *e, long status, const char *body)
{
    cli_err_clear(e);
    cli_err_from_api(e, status, body, body != NULL ? strlen(body) : 0);
}

Test(error, message_from_api_error)
{
    struct cli_err e;

    from_api(&e, 400,
             "{\"error\": {\"code\": \"unknown_property\", \"message\": \"unknown property "
             "'colour' on /www\", \"details\": {\"property\": \"colour\"}}}");
    cr_assert_eq(e.exit, CLI_EXIT_API);
    cr_assert_eq(e.http, 400);
    cr_assert_str_eq(e.code, "unknown_property");
    expect_line(&e, NULL, "infoadm: unknown property 'colour' on /www\n");
}

Test(error, code_without_message)
{
    struct cli_err e;

    from_api(&e, 412, "{\"error\": {\"code\": \"stale_revision\"}}");
    cr_assert_str_eq(e.code, "stale_revision");
    expect_line(&e, NULL, "infoadm: the server refused the request: stale_revision (HTTP 412)\n");
}

Test(error, not_json_or_no_error_object)
{
    struct cli_err e;

    from_api(&e, 502, "<html>Bad Gateway</html>");
    cr_assert_eq(e.exit, CLI_EXIT_API);
    cr_assert_str_eq(e.code, "http_error");
    expect_line(&e, NULL, "infoadm: the server answered HTTP 502 without an error description\n");
    from_api(&e, 500, NULL);
    expect_line(&e, NULL, "infoadm: the server answered HTTP 500 without an error description\n");
    from_api(&e, 404, "{\"error\": \"flat string\"}");
    expect_line(&e, NULL, "infoadm: the server answered HTTP 404 without an error description\n");
}

Test(error, hostile_message_stays_one_line)
{
    struct cli_err e;

    from_api(&e, 400,
             "{\"error\": {\"code\": \"invalid_value\", \"message\": "
             "\"bad\\nvalue\\r\\u001b[2Jnow\\n\\n\"}}");
    expect_line(&e, NULL, "infoadm: bad value  [2Jnow\n");
}

Test(error, server_prefix_under_all)
{
    struct cli_err e;

    cli_err_clear(&e);
    cli_err_set(&e, CLI_EXIT_CONN, "connection_failed", "cannot connect to unix:var/admin.sock: %s",
                "No such file or directory");
    expect_line(&e, NULL,
                "infoadm: cannot connect to unix:var/admin.sock: No such file or directory\n");
    expect_line(
        &e, "web1",
        "infoadm: web1: cannot connect to unix:var/admin.sock: No such file or directory\n");
    e.named = true; /* the message names the server already */
    expect_line(&e, "web1",
                "infoadm: cannot connect to unix:var/admin.sock: No such file or directory\n");
}

Test(error, json_form)
{
    struct cli_err e;
    json_t *j;

    from_api(&e, 409,
             "{\"error\": {\"code\": \"key_exists\", \"message\": \"/www/sites/a exists\"}}");
    j = cli_err_json(&e);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "key_exists");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "/www/sites/a exists");
    json_decref(j);
}

Test(error, long_message_truncated_not_overflowed)
{
    struct cli_err e;
    char big[5000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cli_err_set(&e, CLI_EXIT_API, "c", "%s", big);
    cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1);
}
