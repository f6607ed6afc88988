/*
 * Unit tests for the SUMMARY cell of `infoadm history` (cli_history_summary):
 * how the server's list of changes becomes one line — parts per key, the
 * "+N more" count, the cut with "…", the width bound and bad input.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* SUMMARY (JSON text) of TOTAL changes in WIDTH characters; NULL stays NULL. */
static char *line(const char *summary, long long total, size_t width)
{
    json_error_t je;
    json_t *s = json_loads(summary, 0, &je);
    char *out;

    cr_assert_not_null(s, "bad test JSON: %s", je.text);
    out = cli_history_summary(s, total, width);
    json_decref(s);
    return out;
}

static void expect(const char *summary, long long total, size_t width, const char *want)
{
    char *got = line(summary, total, width);

    cr_assert_not_null(got, "no summary for %s", summary);
    cr_assert_str_eq(got, want);
    cr_assert_leq(out_width(got), width, "'%s' is wider than %zu", got, width);
    free(got);
}

#define SET(k, n) "{\"change\":\"set\",\"key\":\"" k "\",\"name\":\"" n "\"}"
#define UNSET(k, n) "{\"change\":\"unset\",\"key\":\"" k "\",\"name\":\"" n "\"}"
#define CREATE(k) "{\"change\":\"create\",\"key\":\"" k "\"}"
#define DELETE(k) "{\"change\":\"delete\",\"key\":\"" k "\"}"

Test(history_summary, one_change_of_each_kind)
{
    expect("[" SET("/www", "header_timeout") "]", 1, 60, "set /www header_timeout");
    expect("[" UNSET("/www", "header_timeout") "]", 1, 60, "unset /www header_timeout");
    expect("[" CREATE("/www/sites/shop") "]", 1, 60, "+/www/sites/shop");
    expect("[" DELETE("/ftp/users/bob") "]", 1, 60, "-/ftp/users/bob");
}

/* The issue's example: a set, a new site, a deleted FTP user. */
static const char issue[] = "[" SET("/www/sites/default", "default_documents") "," CREATE(
    "/www/sites/shop") "," DELETE("/ftp/users/bob") "]";

Test(history_summary, the_issue_example)
{
    expect(issue, 3, 80,
           "set /www/sites/default default_documents; +/www/sites/shop; -/ftp/users/bob");
    /* In 60 characters the parts that do not fit give way to their count. */
    expect(issue, 3, 60, "set /www/sites/default default_documents; +2 more");
    expect(issue, 3, 67, "set /www/sites/default default_documents; +/www/sites/shop; +1 more");
}

Test(history_summary, names_of_one_key_join)
{
    static const char mixed[] =
        "[" SET("/www", "a") "," SET("/www", "b") "," UNSET("/www", "c") "," SET("/www", "d") "]";

    expect(mixed, 4, 60, "set /www a,b; unset /www c; set /www d");
    /* The same property name on another key starts a new part. */
    expect("[" SET("/www", "a") "," SET("/ftp", "a") "]", 2, 60, "set /www a; set /ftp a");
    /* Creations never join. */
    expect("[" CREATE("/www/sites/a") "," CREATE("/www/sites/a/root") "]", 2, 60,
           "+/www/sites/a; +/www/sites/a/root");
}

Test(history_summary, changes_the_server_left_out_are_counted)
{
    /* The server names the first 8; TOTAL says how many there were. */
    expect("[" SET("/www", "a") "," SET("/www", "b") "]", 12, 60, "set /www a,b; +10 more");
    /* A TOTAL below the list's length (an odd server) is the list's length. */
    expect("[" SET("/www", "a") "," SET("/www", "b") "]", 0, 60, "set /www a,b");
}

Test(history_summary, exactly_the_width_fits)
{
    static const char five[] =
        "[" SET("/www", "header_timeout") "," SET("/www", "connection_timeout") "," SET(
            "/www", "max_body") "," SET("/www", "log_size") "," SET("/www", "max_connections") "]";
    static const char three[] = "[" SET("/www", "header_timeout") "," SET(
        "/www", "connection_timeout") "," SET("/www", "max_body_x") "]";

    /* 51 characters and "; +2 more": 60. One more name would not fit with "; +1 more". */
    expect(five, 5, 60, "set /www header_timeout,connection_timeout,max_body; +2 more");
    /* Without a count to show, the whole line may take all of the width. */
    expect(three, 3, 53, "set /www header_timeout,connection_timeout,max_body_x");
}

#define LONG_VDIR "/www/sites/default/root/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

Test(history_summary, a_first_change_too_long_is_cut)
{
    expect("[" CREATE(LONG_VDIR) "]", 1, 40, "+/www/sites/default/root/aaaaaaaaaaaaaa…");
    expect("[" CREATE(LONG_VDIR) "," CREATE("/x") "]", 2, 40,
           "+/www/sites/default/root/aaaaa…; +1 more");
}

Test(history_summary, cut_on_character_boundaries)
{
    /* é is two bytes, one character: the cut never splits it. */
    expect("[" CREATE("/www/sites/default/root/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") "]", 1,
           27, "+/www/sites/default/root/\xc3\xa9…");
}

Test(history_summary, nothing_to_summarise)
{
    cr_assert_null(line("[]", 0, 60));
    cr_assert_null(line("{}", 3, 60));
    /* Entries of an unexpected shape still give a line, not a crash. */
    expect("[{}, 3]", 2, 60, "? ? ?; ? ? ?");
}
