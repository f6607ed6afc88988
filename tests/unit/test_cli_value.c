/*
 * Unit tests for cli/value: how `infoadm set NAME=VALUE` types VALUE — JSON
 * when it parses, a string otherwise, comma lists and k=v maps when the
 * current value is a list or a map, strings kept as strings.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cli/value.h"

/* VALUE typed against CURRENT (JSON text, or NULL for "not reported"), compact JSON out. */
static char *typed(const char *value, const char *current)
{
    json_t *cur = current != NULL ? json_loads(current, JSON_DECODE_ANY, NULL) : NULL;
    json_t *v = cli_value_parse(value, cur);
    char *s;

    cr_assert_not_null(v, "no value for '%s'", value);
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    json_decref(cur);
    return s;
}

static void expect(const char *value, const char *current, const char *want)
{
    char *got = typed(value, current);
    cr_assert_str_eq(got, want, "'%s' against %s", value, current ? current : "(unknown)");
    free(got);
}

Test(value, unknown_type_json_else_string)
{
    expect("42", NULL, "42");
    expect("-7", NULL, "-7");
    expect("2.5", NULL, "2.5");
    expect("true", NULL, "true");
    expect("false", NULL, "false");
    expect("[1,\"a\"]", NULL, "[1,\"a\"]");
    expect("{\"k\": \"v\"}", NULL, "{\"k\":\"v\"}");
    expect("\"quoted\"", NULL, "\"quoted\"");
    expect("plain words", NULL, "\"plain words\"");
    expect("127.0.0.1:80", NULL, "\"127.0.0.1:80\"");
    expect("", NULL, "\"\"");
    expect("[1,", NULL, "\"[1,\"");
    expect("007", NULL, "\"007\"");
}

Test(value, null_is_not_unset)
{
    expect("null", NULL, "\"null\"");
    expect("null", "5", "\"null\"");
}

Test(value, numbers_and_booleans_follow_json)
{
    expect("50", "0", "50");
    expect("yes", "false", "\"yes\""); /* the server answers invalid_value, naming it */
    expect("true", "false", "true");
    expect("abc", "0", "\"abc\"");
}

Test(value, string_property_keeps_text)
{
    expect("42", "\"\"", "\"42\"");
    expect("true", "\"x\"", "\"true\"");
    expect("[1]", "\"x\"", "\"[1]\"");
    expect("\"quoted\"", "\"x\"", "\"quoted\"");
    expect("a,b", "\"x\"", "\"a,b\"");
}

Test(value, list_property_takes_commas)
{
    expect("a.html,b.html", "[\"index.html\"]", "[\"a.html\",\"b.html\"]");
    expect(" a , b ", "[]", "[\"a\",\"b\"]");
    expect("one", "[\"x\"]", "[\"one\"]");
    expect("8080", "[\"x\"]", "[\"8080\"]");
    expect("127.0.0.1:80,[::1]:80", "[]", "[\"127.0.0.1:80\",\"[::1]:80\"]");
    expect("", "[\"x\"]", "[]");
    expect("a,,b", "[]", "[\"a\",\"\",\"b\"]"); /* kept, so the server names the empty item */
    expect("[\"x,y\"]", "[]", "[\"x,y\"]");     /* JSON for items with commas */
    expect("\"p,q\"", "[]", "[\"p\",\"q\"]");
}

Test(value, map_property_takes_pairs)
{
    expect("md=text/markdown,log=text/plain", "{}",
           "{\"md\":\"text/markdown\",\"log\":\"text/plain\"}");
    expect("{\"a\": \"b\"}", "{\"x\": \"y\"}", "{\"a\":\"b\"}");
    expect("", "{}", "{}");
    expect("novalue", "{}", "\"novalue\"");
    expect("=x", "{}", "\"=x\"");
}

Test(value, invalid_utf8_is_refused)
{
    cr_assert_null(cli_value_parse("\xff\xfe", NULL));
}

Test(value, split_name_value)
{
    char *name;
    const char *value;

    cr_assert_eq(cli_value_split("a=b=c", &name, &value), 0);
    cr_assert_str_eq(name, "a");
    cr_assert_str_eq(value, "b=c");
    free(name);
    cr_assert_eq(cli_value_split("empty=", &name, &value), 0);
    cr_assert_str_eq(value, "");
    free(name);
    cr_assert_eq(cli_value_split("=x", &name, &value), -1);
    cr_assert_eq(cli_value_split("noequals", &name, &value), -1);
}
