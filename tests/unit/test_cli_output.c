/*
 * Unit tests for cli/output: table alignment (left and right), the header,
 * "-" for missing cells, one-line cells, UTF-8 widths, merging under --all,
 * rendering JSON values into cells, times, and tables from objects.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cli/output.h"

static char *printed(const struct out_table *t)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    out_table_print(t, f);
    fclose(f);
    return text;
}

static void expect_table(const struct out_table *t, const char *want)
{
    char *got = printed(t);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(output, aligned_columns_no_trailing_blanks)
{
    struct out_table *t = out_table_new(3, (const char *[]){"NAME", "VALUE", "FROM"});

    out_table_add(t, (const char *[]){"bindings", "127.0.0.1:8080", "-"});
    out_table_add(t, (const char *[]){"max_connections", "0", "/www"});
    expect_table(t, "NAME             VALUE           FROM\n"
                    "bindings         127.0.0.1:8080  -\n"
                    "max_connections  0               /www\n");
    out_table_free(t);
}

Test(output, right_aligned_numbers)
{
    struct out_table *t = out_table_new(2, (const char *[]){"REV", "COMMENT"});

    out_table_right(t, 0);
    out_table_add(t, (const char *[]){"3", "x"});
    out_table_add(t, (const char *[]){"120", "y"});
    expect_table(t, "REV  COMMENT\n"
                    "  3  x\n"
                    "120  y\n");
    out_table_free(t);
}

Test(output, empty_table_prints_header)
{
    struct out_table *t = out_table_new(2, (const char *[]){"ID", "USER"});
    expect_table(t, "ID  USER\n");
    out_table_free(t);
}

Test(output, null_cells_and_control_characters)
{
    struct out_table *t = out_table_new(2, (const char *[]){"A", "B"});

    out_table_add(t, (const char *[]){NULL, "two\nlines\tand\x1b[31mred"});
    expect_table(t, "A  B\n"
                    "-  two lines and [31mred\n");
    out_table_free(t);
}

Test(output, utf8_width)
{
    struct out_table *t = out_table_new(2, (const char *[]){"N", "X"});

    cr_assert_eq(out_width("héllo"), 5);
    out_table_add(t, (const char *[]){"héllo", "1"});
    out_table_add(t, (const char *[]){"ab", "2"});
    expect_table(t, "N      X\n"
                    "héllo  1\n"
                    "ab     2\n");
    out_table_free(t);
}

Test(output, kv_has_no_header)
{
    struct out_table *t = out_table_new_kv();

    out_table_add(t, (const char *[]){"revision", "4"});
    out_table_add(t, (const char *[]){"comment", "hi"});
    expect_table(t, "revision  4\n"
                    "comment   hi\n");
    out_table_free(t);
}

Test(output, merge_adds_server_column)
{
    struct out_table *a = out_table_new(2, (const char *[]){"SERVICE", "REQUESTS"});
    struct out_table *b = out_table_new(2, (const char *[]){"SERVICE", "REQUESTS"});
    struct out_table *m;

    out_table_right(a, 1);
    out_table_add(a, (const char *[]){"www", "5"});
    out_table_add(b, (const char *[]){"ftp", "1234"});
    m = out_table_new_prefixed(a, "SERVER");
    out_table_merge(m, a, "web1");
    out_table_merge(m, b, "web22");
    expect_table(m, "SERVER  SERVICE  REQUESTS\n"
                    "web1    www             5\n"
                    "web22   ftp          1234\n");
    out_table_free(a);
    out_table_free(b);
    out_table_free(m);
}

static void expect_cell(const char *json, const char *want)
{
    json_t *v = json != NULL ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    char *got = out_cell(v);

    cr_assert_str_eq(got, want, "cell of %s", json ? json : "(none)");
    free(got);
    json_decref(v);
}

Test(output, cells_from_json)
{
    expect_cell(NULL, "-");
    expect_cell("null", "-");
    expect_cell("\"text\"", "text");
    expect_cell("42", "42");
    expect_cell("-1", "-1");
    expect_cell("0.5", "0.5");
    expect_cell("true", "true");
    expect_cell("false", "false");
    expect_cell("[\"a\",\"b\"]", "a,b");
    expect_cell("[8080, 8081]", "8080,8081");
    expect_cell("[]", "[]");
    expect_cell("[\"a,b\"]", "[\"a,b\"]");
    expect_cell("[\"\"]", "[\"\"]");
    expect_cell("[{\"x\":1}]", "[{\"x\":1}]");
    expect_cell("{\"md\":\"text/markdown\"}", "{\"md\":\"text/markdown\"}");
}

Test(output, times)
{
    json_t *epoch = json_integer(1764090062);
    json_t *iso = json_string("2026-11-25T17:01:02Z");
    char *a = out_time(epoch), *b = out_time(iso), *c = out_time(NULL);

    cr_assert_str_eq(a, "2025-11-25T17:01:02Z");
    cr_assert_str_eq(b, "2026-11-25T17:01:02Z");
    cr_assert_str_eq(c, "-");
    free(a);
    free(b);
    free(c);
    json_decref(epoch);
    json_decref(iso);
}

Test(output, table_from_objects_unions_fields)
{
    json_t *arr = json_loads("[{\"op\":\"set\",\"key\":\"/www\",\"new_value\":1},"
                             "{\"op\":\"delete\",\"key\":\"/www/sites/x\",\"recursive\":true}]",
                             0, NULL);
    struct out_table *t = out_table_from_objects(arr);

    expect_table(t, "OP      KEY           NEW VALUE  RECURSIVE\n"
                    "set     /www          1          -\n"
                    "delete  /www/sites/x  -          true\n");
    out_table_free(t);
    json_decref(arr);
}

Test(output, wrap)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    out_wrap(f, "aaa bbb ccc ddd", 2, 10);
    fclose(f);
    cr_assert_str_eq(text, "  aaa bbb\n  ccc ddd\n");
    free(text);
}
