/* Unit tests for src/ftp/cmd.c: command lines (line ends, verbs, arguments,
 * Telnet IAC removal, NUL, the 2048-byte bound), the verb table, and the
 * PORT and EPRT argument parsers. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/cmd.h"

struct parse_out {
    enum ftp_parse r;
    struct ftp_cmd cmd;
    int reply;
    const char *why;
    char *buf; /* the heap copy that was parsed (and edited) */
};

/* Parse a heap copy of exactly N bytes so that ASan sees any over-read. */
static struct parse_out parse_n(const char *s, size_t n)
{
    struct parse_out o = {.reply = -1, .why = NULL};

    o.buf = malloc(n ? n : 1);
    cr_assert_not_null(o.buf);
    memcpy(o.buf, s, n);
    o.r = ftp_cmd_parse(o.buf, n, &o.cmd, &o.reply, &o.why);
    return o;
}

/* clang-format off */
#define PARSE(lit) parse_n((lit), sizeof(lit) - 1)
/* clang-format on */

static void done(struct parse_out *o)
{
    free(o->buf);
    o->buf = NULL;
}

static bool arg_is(const struct parse_out *o, const char *want, size_t n)
{
    return o->cmd.arg != NULL && o->cmd.arg_len == n && memcmp(o->cmd.arg, want, n) == 0;
}

#define cr_assert_arg(o, lit)                                                                      \
    cr_assert(arg_is(&(o), (lit), sizeof(lit) - 1), "arg: want \"%s\", got %zu bytes \"%.*s\"",    \
              (lit), (o).cmd.arg_len, (int)(o).cmd.arg_len, (o).cmd.arg ? (o).cmd.arg : "")

/* Every proper prefix of a complete line is AGAIN and leaves the bytes alone. */
static void check_prefixes_again(const char *s, size_t line_len)
{
    size_t n;

    for (n = 0; n < line_len; n++) {
        struct parse_out o = parse_n(s, n);

        cr_assert_eq(o.r, FTP_PARSE_AGAIN, "\"%s\" prefix %zu: r=%d", s, n, o.r);
        cr_assert_eq(o.cmd.line_len, 0);
        cr_assert(n == 0 || memcmp(o.buf, s, n) == 0, "prefix %zu was edited", n);
        done(&o);
    }
}

/* ---- well-formed lines ---- */

struct good_case {
    const char *in;
    size_t len;
    enum ftp_verb verb;
    const char *name;
    const char *arg; /* NULL: no argument */
    size_t arg_len;
    size_t line_len;
};

/* clang-format off */
#define GOOD(s, v, nm, a, ll) {(s), sizeof(s) - 1, (v), (nm), (a), sizeof(a) - 1, (ll)}
#define GOOD0(s, v, nm, ll) {(s), sizeof(s) - 1, (v), (nm), NULL, 0, (ll)}
/* clang-format on */

static const struct good_case good_cases[] = {
    GOOD0("NOOP\r\n", FTP_NOOP, "NOOP", 6),
    GOOD0("NOOP\n", FTP_NOOP, "NOOP", 5),
    GOOD0("noop\r\n", FTP_NOOP, "NOOP", 6),
    GOOD0("nOoP\r\n", FTP_NOOP, "NOOP", 6),
    GOOD0("PWD\r\n", FTP_PWD, "PWD", 5),
    GOOD0("pwd\n", FTP_PWD, "PWD", 4),
    GOOD0("XPWD\r\n", FTP_XPWD, "XPWD", 6),
    GOOD0("ccc\r\n", FTP_CCC, "CCC", 5),
    GOOD0("MLSD\r\n", FTP_MLSD, "MLSD", 6),
    GOOD("USER anonymous\r\n", FTP_USER, "USER", "anonymous", 16),
    GOOD("retr file.txt\r\n", FTP_RETR, "RETR", "file.txt", 15),
    GOOD("RETR file.txt\n", FTP_RETR, "RETR", "file.txt", 14),
    GOOD("STOR my file  name.txt\r\n", FTP_STOR, "STOR", "my file  name.txt", 24),
    GOOD("CWD  lead\r\n", FTP_CWD, "CWD", " lead", 11),
    GOOD("CWD trail \r\n", FTP_CWD, "CWD", "trail ", 12),
    GOOD("CWD \r\n", FTP_CWD, "CWD", "", 6),
    GOOD("CWD \n", FTP_CWD, "CWD", "", 5),
    GOOD("MKD a\tb\r\n", FTP_MKD, "MKD", "a\tb", 9),
    GOOD("PASS \xc3\xa9t\xc3\xa9\r\n", FTP_PASS, "PASS", "\xc3\xa9t\xc3\xa9", 12),
    /* A CR that is not right before the LF belongs to the argument. */
    GOOD("RETR a\rb\r\n", FTP_RETR, "RETR", "a\rb", 10),
    GOOD("RETR a\r\r\n", FTP_RETR, "RETR", "a\r", 9),
    /* Unknown verbs of 3 or 4 letters are DONE, for the caller's 502. */
    GOOD0("XYZW\r\n", FTP_UNKNOWN, "XYZW", 6),
    GOOD("abc some arg\r\n", FTP_UNKNOWN, "ABC", "some arg", 14),
    GOOD0("RETX\n", FTP_UNKNOWN, "RETX", 5),
    GOOD0("CCCC\r\n", FTP_UNKNOWN, "CCCC", 6),
    /* Only the first line counts. */
    GOOD("USER a\r\nPASS b\r\n", FTP_USER, "USER", "a", 8),
    GOOD0("QUIT\nQUIT\n", FTP_QUIT, "QUIT", 5),
};

Test(ftp_cmd_good, table)
{
    size_t i;

    for (i = 0; i < sizeof good_cases / sizeof good_cases[0]; i++) {
        const struct good_case *c = &good_cases[i];
        struct parse_out o = parse_n(c->in, c->len);

        cr_assert_eq(o.r, FTP_PARSE_DONE, "case %zu \"%s\": r=%d (%s)", i, c->in, o.r,
                     o.why ? o.why : "");
        cr_assert_eq(o.cmd.verb, c->verb, "case %zu: verb %d", i, o.cmd.verb);
        cr_assert_str_eq(o.cmd.name, c->name, "case %zu", i);
        cr_assert_eq(o.cmd.line_len, c->line_len, "case %zu: line_len %zu", i, o.cmd.line_len);
        if (c->arg == NULL) {
            cr_assert_null(o.cmd.arg, "case %zu", i);
            cr_assert_eq(o.cmd.arg_len, 0);
        } else {
            cr_assert(o.cmd.arg != NULL && o.cmd.arg_len == c->arg_len &&
                          memcmp(o.cmd.arg, c->arg, c->arg_len) == 0,
                      "case %zu: arg %zu bytes \"%.*s\"", i, o.cmd.arg_len, (int)o.cmd.arg_len,
                      o.cmd.arg ? o.cmd.arg : "");
            cr_assert(o.cmd.arg >= o.buf && o.cmd.arg + o.cmd.arg_len <= o.buf + o.cmd.line_len);
        }
        cr_assert_eq(o.reply, -1, "reply is only set on ERROR");
        done(&o);
        check_prefixes_again(c->in, c->line_len);
    }
}

Test(ftp_cmd_good, empty_argument_points_at_the_line_end)
{
    struct parse_out o = PARSE("CWD \r\n");

    cr_assert_eq(o.r, FTP_PARSE_DONE);
    cr_assert_eq(o.cmd.arg, o.buf + 4);
    cr_assert_eq(o.cmd.arg_len, 0);
    done(&o);
}

Test(ftp_cmd_good, second_line_after_line_len)
{
    struct parse_out o = PARSE("USER a\r\nPASS secret\n");
    struct ftp_cmd c2;
    int reply = -1;
    const char *why = NULL;
    size_t rest = 20 - o.cmd.line_len;

    cr_assert_eq(o.cmd.line_len, 8);
    cr_assert_eq(ftp_cmd_parse(o.buf + 8, rest, &c2, &reply, &why), FTP_PARSE_DONE);
    cr_assert_eq(c2.verb, FTP_PASS);
    cr_assert_eq(c2.line_len, rest);
    cr_assert_eq(c2.arg_len, 6);
    cr_assert_eq(memcmp(c2.arg, "secret", 6), 0);
    done(&o);
}

Test(ftp_cmd_good, every_verb_in_lower_case)
{
    int v;

    for (v = FTP_UNKNOWN + 1; v < FTP_NVERBS; v++) {
        char line[16];
        const char *name = ftp_verb_name((enum ftp_verb)v);
        size_t k, n = strlen(name);
        struct parse_out o;

        for (k = 0; k < n; k++)
            line[k] = (char)(name[k] - 'A' + 'a');
        memcpy(line + n, " x\r\n", 4);
        o = parse_n(line, n + 4);
        cr_assert_eq(o.r, FTP_PARSE_DONE, "%s", name);
        cr_assert_eq(o.cmd.verb, (enum ftp_verb)v, "%s", name);
        cr_assert_str_eq(o.cmd.name, name);
        cr_assert_arg(o, "x");
        done(&o);
    }
}

/* ---- malformed lines ---- */

struct bad_case {
    const char *in;
    size_t len;
    int reply;
    size_t line_len;
};

/* clang-format off */
#define BAD(s, r, ll) {(s), sizeof(s) - 1, (r), (ll)}
/* clang-format on */
#define SYNTAX "syntax error, command unrecognized"

static const struct bad_case bad_cases[] = {
    BAD("\r\n", 500, 2),
    BAD("\n", 500, 1),
    BAD("AB\r\n", 500, 4),
    BAD("ab cd\r\n", 500, 7),
    BAD("A\r\n", 500, 3),
    BAD("ABCDE\r\n", 500, 7),
    BAD("retrx file\r\n", 500, 12),
    BAD("AB1\r\n", 500, 5),
    BAD("R3TR x\r\n", 500, 8),
    BAD(" NOOP\r\n", 500, 7),
    BAD("NOOP\tx\r\n", 500, 8),
    BAD("NOOP\r\r\n", 500, 7),
    BAD("NOOP\rx\n", 500, 7),
    BAD("NO-P\r\n", 500, 6),
    BAD("\xc3\x89TAT\r\n", 500, 7),
    BAD("USER:a\r\n", 500, 8),
    BAD("\x01NOOP\r\n", 500, 7),
    /* NUL anywhere is 501, also where the verb would be bad anyway. */
    BAD("RETR a\0b\r\n", 501, 10),
    BAD("NO\0P\r\n", 501, 6),
    BAD("\0\n", 501, 2),
    BAD("RETR \0\r\n", 501, 8),
    BAD("NOOP\0\r\n", 501, 7),
    /* A NUL produced by nothing: IAC IAC is 0xFF, not NUL. */
    BAD("RETR \xff\xff\0\r\n", 501, 10),
};

Test(ftp_cmd_bad, table)
{
    size_t i;

    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct parse_out o = parse_n(c->in, c->len);

        cr_assert_eq(o.r, FTP_PARSE_ERROR, "case %zu: r=%d", i, o.r);
        cr_assert_eq(o.reply, c->reply, "case %zu: reply %d (%s)", i, o.reply, o.why);
        cr_assert_eq(o.cmd.line_len, c->line_len, "case %zu: line_len %zu", i, o.cmd.line_len);
        cr_assert_not_null(o.why);
        if (c->reply == 500)
            cr_assert_str_eq(o.why, SYNTAX, "case %zu", i);
        else
            cr_assert_str_eq(o.why, "NUL byte in command line", "case %zu", i);
        cr_assert_eq(o.cmd.verb, FTP_UNKNOWN);
        cr_assert_null(o.cmd.arg);
        done(&o);
        check_prefixes_again(c->in, c->line_len);
    }
}

Test(ftp_cmd_bad, error_then_next_line)
{
    struct parse_out o = PARSE("HELLO world\r\nNOOP\r\n");
    struct ftp_cmd c2;
    int reply = 0;
    const char *why = NULL;

    cr_assert_eq(o.r, FTP_PARSE_ERROR);
    cr_assert_eq(o.cmd.line_len, 13);
    cr_assert_eq(ftp_cmd_parse(o.buf + 13, 6, &c2, &reply, &why), FTP_PARSE_DONE);
    cr_assert_eq(c2.verb, FTP_NOOP);
    cr_assert_eq(c2.line_len, 6);
    done(&o);
}

Test(ftp_cmd_again, incomplete)
{
    struct parse_out o = parse_n("", 0);

    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    done(&o);
    o = PARSE("NOOP");
    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    cr_assert_eq(o.cmd.line_len, 0);
    cr_assert_eq(o.reply, -1);
    done(&o);
    o = PARSE("NOOP\r");
    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    done(&o);
    /* Not even a bad verb is reported before the line end. */
    o = PARSE("HELLO WORLD");
    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    done(&o);
    o = PARSE("RETR a\0b");
    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    done(&o);
}

/* ---- Telnet IAC ---- */

struct iac_case {
    const char *in;
    size_t len;
    enum ftp_verb verb;
    const char *arg; /* NULL: no argument */
    size_t arg_len;
};

/* clang-format off */
#define IAC(s, v, a) {(s), sizeof(s) - 1, (v), (a), sizeof(a) - 1}
#define IAC0(s, v) {(s), sizeof(s) - 1, (v), NULL, 0}
/* clang-format on */

/* clang-format off */
static const struct iac_case iac_cases[] = {
    /* RFC 959 ABOR: Telnet IP, then Synch (IAC DM) */
    IAC0("\xff\xf4\xff\xf2" "ABOR\r\n", FTP_ABOR),
    IAC0("\xff\xf4" "ABOR\r\n", FTP_ABOR),
    IAC0("AB\xff\xf2OR\r\n", FTP_ABOR),
    /* IAC IAC is one 0xFF data byte */
    IAC("RETR a\xff\xff" "b\r\n", FTP_RETR, "a\xff" "b"),
    IAC("RETR \xff\xff\xff\xff\r\n", FTP_RETR, "\xff\xff"),
    IAC("RETR \xff\xff\xff\xf4x\r\n", FTP_RETR, "\xffx"),
    /* option negotiation: IAC WILL/WONT/DO/DONT option, three bytes */
    IAC0("NO\xff\xfb\x01OP\r\n", FTP_NOOP),
    IAC0("NO\xff\xfc\x01OP\r\n", FTP_NOOP),
    IAC0("NO\xff\xfd\x01OP\r\n", FTP_NOOP),
    IAC0("NO\xff\xfe\x01OP\r\n", FTP_NOOP),
    IAC0("\xff\xfd\xff" "NOOP\r\n", FTP_NOOP),
    IAC("RETR a\xff\xfb" "Ab\r\n", FTP_RETR, "ab"),
    /* the option byte may be anything, NUL and CR included */
    IAC("RETR a\xff\xfb\0b\r\n", FTP_RETR, "ab"),
    IAC("RETR a\xff\xfd\rb\r\n", FTP_RETR, "ab"),
    /* any other command byte: two bytes */
    IAC("RETR a\xff\xf1" "b\r\n", FTP_RETR, "ab"),
    IAC("RETR a\xff" "bc\r\n", FTP_RETR, "ac"),
    IAC("RETR a\xff\0b\r\n", FTP_RETR, "ab"),
    IAC("STOR x\xff\xfa\xff\xf0y\r\n", FTP_STOR, "xy"),
    /* sequences cut short by the line end are removed */
    IAC0("NOOP\xff\r\n", FTP_NOOP),
    IAC0("NOOP\xff\n", FTP_NOOP),
    IAC0("NOOP\xff\xfb\r\n", FTP_NOOP),
    IAC0("NOOP\xff\xfb\n", FTP_NOOP),
    /* the space before the argument may be preceded by a sequence */
    IAC("CWD\xff\xf4 dir\r\n", FTP_CWD, "dir"),
    IAC("CWD \xff\xf4\r\n", FTP_CWD, ""),
};
/* clang-format on */

Test(ftp_cmd_iac, table)
{
    size_t i;

    for (i = 0; i < sizeof iac_cases / sizeof iac_cases[0]; i++) {
        const struct iac_case *c = &iac_cases[i];
        struct parse_out o = parse_n(c->in, c->len);

        cr_assert_eq(o.r, FTP_PARSE_DONE, "case %zu: r=%d (%s)", i, o.r, o.why ? o.why : "");
        cr_assert_eq(o.cmd.verb, c->verb, "case %zu: verb %d", i, o.cmd.verb);
        cr_assert_eq(o.cmd.line_len, c->len, "case %zu: line_len counts the bytes received", i);
        if (c->arg == NULL) {
            cr_assert_null(o.cmd.arg, "case %zu", i);
        } else {
            cr_assert(o.cmd.arg != NULL && o.cmd.arg_len == c->arg_len &&
                          memcmp(o.cmd.arg, c->arg, c->arg_len) == 0,
                      "case %zu: arg %zu bytes", i, o.cmd.arg_len);
        }
        done(&o);
        check_prefixes_again(c->in, c->len);
    }
}

/* clang-format off */
Test(ftp_cmd_iac, edited_in_place)
{
    struct parse_out o = PARSE("\xff\xf4\xff\xf2" "ABOR\r\n");

    cr_assert_eq(o.r, FTP_PARSE_DONE);
    cr_assert_eq(memcmp(o.buf, "ABOR", 4), 0);
    done(&o);
    o = PARSE("RETR a\xff\xff" "b\r\n");
    cr_assert_eq(o.cmd.arg, o.buf + 5);
    cr_assert_eq(memcmp(o.buf, "RETR a\xff" "b", 8), 0);
    done(&o);
}
/* clang-format on */

Test(ftp_cmd_iac, again_leaves_bytes_alone)
{
    static const char in[] = "\xff\xf4\xff\xf2"
                             "ABOR a\xff\xff";
    struct parse_out o = parse_n(in, sizeof in - 1);

    cr_assert_eq(o.r, FTP_PARSE_AGAIN);
    cr_assert_eq(memcmp(o.buf, in, sizeof in - 1), 0);
    done(&o);
}

Test(ftp_cmd_iac, lf_always_ends_the_line)
{
    /* An LF in the option byte position still ends the line. */
    struct parse_out o = PARSE("NOOP\xff\xfd\nQUIT\r\n");

    cr_assert_eq(o.r, FTP_PARSE_DONE);
    cr_assert_eq(o.cmd.verb, FTP_NOOP);
    cr_assert_eq(o.cmd.line_len, 7);
    done(&o);
}

Test(ftp_cmd_iac, bad_verb_after_removal)
{
    struct parse_out o = PARSE("NO\xff\xff"
                               "OP\r\n");

    cr_assert_eq(o.r, FTP_PARSE_ERROR);
    cr_assert_eq(o.reply, 500);
    cr_assert_eq(o.cmd.line_len, 8);
    done(&o);
    o = PARSE("\xff\xf4\xff\xf2\r\n");
    cr_assert_eq(o.r, FTP_PARSE_ERROR);
    cr_assert_eq(o.reply, 500);
    done(&o);
}

/* ---- the 2048-byte bound ---- */

/* "STOR " and 'a's to CONTENT bytes, then END (END_LEN bytes). */
static char *long_line(size_t content, const char *end, size_t end_len)
{
    char *s = malloc(content + end_len);

    cr_assert_not_null(s);
    memcpy(s, "STOR ", 5);
    memset(s + 5, 'a', content - 5);
    memcpy(s + content, end, end_len);
    return s;
}

static void expect_done(const char *s, size_t n, size_t line_len, size_t arg_len)
{
    struct parse_out o = parse_n(s, n);

    cr_assert_eq(o.r, FTP_PARSE_DONE, "n=%zu: r=%d (%s)", n, o.r, o.why ? o.why : "");
    cr_assert_eq(o.cmd.verb, FTP_STOR);
    cr_assert_eq(o.cmd.line_len, line_len);
    cr_assert_eq(o.cmd.arg_len, arg_len);
    done(&o);
}

static void expect_too_long(const char *s, size_t n, size_t line_len)
{
    struct parse_out o = parse_n(s, n);

    cr_assert_eq(o.r, FTP_PARSE_ERROR, "n=%zu: r=%d", n, o.r);
    cr_assert_eq(o.reply, 500);
    cr_assert_str_eq(o.why, "line too long");
    cr_assert_eq(o.cmd.line_len, line_len, "n=%zu: line_len %zu", n, o.cmd.line_len);
    done(&o);
}

static void expect_again(const char *s, size_t n)
{
    struct parse_out o = parse_n(s, n);

    cr_assert_eq(o.r, FTP_PARSE_AGAIN, "n=%zu: r=%d", n, o.r);
    done(&o);
}

Test(ftp_cmd_limit, exactly_max_with_crlf)
{
    char *s = long_line(FTP_LINE_MAX, "\r\nNOOP\r\n", 8);

    cr_assert_eq(FTP_LINE_MAX, 2048);
    expect_done(s, 2050, 2050, 2043);
    expect_done(s, 2056, 2050, 2043);
    expect_again(s, 2049); /* 2048 bytes and the CR */
    expect_again(s, 2048);
    free(s);
}

Test(ftp_cmd_limit, exactly_max_with_lf)
{
    char *s = long_line(FTP_LINE_MAX, "\n", 1);

    expect_done(s, 2049, 2049, 2043);
    free(s);
}

Test(ftp_cmd_limit, one_over_with_lf)
{
    char *s = long_line(FTP_LINE_MAX + 1, "\nNOOP\r\n", 7);

    expect_too_long(s, 2050, 2050); /* the line end is known: skip it */
    expect_too_long(s, 2056, 2050);
    expect_again(s, 2049);
    free(s);
}

Test(ftp_cmd_limit, one_over_with_crlf)
{
    char *s = long_line(FTP_LINE_MAX + 1, "\r\n", 2);

    /* The LF lies past FTP_LINE_MAX + 2 bytes: no line end to skip to. */
    expect_again(s, 2049);
    expect_too_long(s, 2050, 0);
    expect_too_long(s, 2051, 0);
    free(s);
}

Test(ftp_cmd_limit, no_line_end)
{
    char *s = long_line(5000, "", 0);

    expect_again(s, 2048);
    expect_again(s, 2049);
    expect_too_long(s, 2050, 0);
    expect_too_long(s, 5000, 0);
    free(s);
}

Test(ftp_cmd_limit, counted_before_iac_removal)
{
    /* 2049 bytes received, 2048 after IAC IAC becomes one byte: still too long. */
    char *s = long_line(FTP_LINE_MAX + 1, "\r\n", 2);

    s[100] = '\xff';
    s[101] = '\xff';
    expect_too_long(s, 2051, 0);
    memcpy(s + 2049, "\n", 1);
    expect_too_long(s, 2050, 2050);
    free(s);
}

/* ---- the verb table ---- */

struct verb_name {
    enum ftp_verb v;
    const char *name;
};

/* The names spelled from the enum identifiers, independently of cmd.c. */
#define V(x)                                                                                       \
    {                                                                                              \
        FTP_##x, #x                                                                                \
    }
static const struct verb_name verb_names[] = {
    V(USER), V(PASS), V(ACCT), V(QUIT), V(REIN), V(NOOP), V(SYST), V(HELP), V(STAT), V(FEAT),
    V(OPTS), V(AUTH), V(PBSZ), V(PROT), V(CCC),  V(PWD),  V(XPWD), V(CWD),  V(XCWD), V(CDUP),
    V(XCUP), V(TYPE), V(MODE), V(STRU), V(ALLO), V(REST), V(PORT), V(EPRT), V(PASV), V(EPSV),
    V(LIST), V(NLST), V(MLSD), V(MLST), V(SIZE), V(MDTM), V(RETR), V(STOR), V(STOU), V(APPE),
    V(DELE), V(MKD),  V(XMKD), V(RMD),  V(XRMD), V(RNFR), V(RNTO), V(ABOR), V(SITE),
};

Test(ftp_verbs, every_enum_value_named_by_its_suffix)
{
    size_t i, n = sizeof verb_names / sizeof verb_names[0];

    cr_assert_eq(n, FTP_NVERBS - 1, "the test table misses a verb");
    for (i = 0; i < n; i++) {
        cr_assert_str_eq(ftp_verb_name(verb_names[i].v), verb_names[i].name);
        cr_assert_eq(ftp_verb_of(verb_names[i].name), verb_names[i].v, "%s", verb_names[i].name);
    }
}

Test(ftp_verbs, unknown)
{
    cr_assert_str_eq(ftp_verb_name(FTP_UNKNOWN), "???");
    cr_assert_str_eq(ftp_verb_name(FTP_NVERBS), "???");
    cr_assert_str_eq(ftp_verb_name((enum ftp_verb)1000), "???");
    cr_assert_eq(ftp_verb_of("retr"), FTP_UNKNOWN);
    cr_assert_eq(ftp_verb_of("RETRX"), FTP_UNKNOWN);
    cr_assert_eq(ftp_verb_of("RET"), FTP_UNKNOWN);
    cr_assert_eq(ftp_verb_of(""), FTP_UNKNOWN);
    cr_assert_eq(ftp_verb_of("???"), FTP_UNKNOWN);
    cr_assert_eq(ftp_verb_of("XYZ"), FTP_UNKNOWN);
}

/* ---- PORT ---- */

static int port_of(const char *s, unsigned char addr[4], unsigned *port)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    int rc;

    cr_assert_not_null(copy);
    memcpy(copy, s, n);
    rc = ftp_parse_port(copy, n, addr, port);
    free(copy);
    return rc;
}

static void expect_port(const char *s, unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                        unsigned port)
{
    unsigned char addr[4] = {0};
    unsigned p = 0;

    cr_assert_eq(port_of(s, addr, &p), 0, "\"%s\"", s);
    cr_assert(addr[0] == a0 && addr[1] == a1 && addr[2] == a2 && addr[3] == a3,
              "\"%s\": %u.%u.%u.%u", s, addr[0], addr[1], addr[2], addr[3]);
    cr_assert_eq(p, port, "\"%s\": port %u", s, p);
}

Test(ftp_port, good)
{
    expect_port("192,168,1,2,4,1", 192, 168, 1, 2, 1025);
    expect_port("10,0,0,1,0,21", 10, 0, 0, 1, 21);
    expect_port("  10,0,0,1,0,21  ", 10, 0, 0, 1, 21);
    expect_port("0,0,0,0,0,1", 0, 0, 0, 0, 1);
    expect_port("255,255,255,255,255,255", 255, 255, 255, 255, 65535);
    expect_port("127,0,0,1,1,0", 127, 0, 0, 1, 256);
    expect_port("010,000,0,1,00,021", 10, 0, 0, 1, 21);
}

Test(ftp_port, bad)
{
    static const char *const bad[] = {
        "",
        " ",
        "1,2,3,4,5",
        "1,2,3,4,5,6,7",
        "256,0,0,1,0,21",
        "1,2,3,4,256,1",
        "1,2,3,4,1,256",
        "1,2,3,4,0,0",
        "1, 2,3,4,5,6",
        "1 ,2,3,4,5,6",
        "1,2,3,4,5,6,",
        ",1,2,3,4,5,6",
        "1,,3,4,5,6",
        "1,2,3,4,5,a",
        "1,2,3,4,5,6a",
        "-1,2,3,4,5,6",
        "+1,2,3,4,5,6",
        "1.2.3.4.5.6",
        "1,2,3,4,5,6\t",
        "\t1,2,3,4,5,6",
        "1,2,3,4,5,6\r",
        "99999999999999999999,0,0,0,0,1",
        "1,2,3,4,0,4294967297",
        "0x1,2,3,4,5,6",
        "(1,2,3,4,5,6)",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char addr[4] = {9, 9, 9, 9};
        unsigned p = 7;

        cr_assert_eq(port_of(bad[i], addr, &p), -1, "\"%s\"", bad[i]);
        cr_assert(addr[0] == 9 && addr[3] == 9 && p == 7, "\"%s\": outputs changed", bad[i]);
    }
}

Test(ftp_port, length_is_respected)
{
    unsigned char addr[4];
    unsigned p;

    cr_assert_eq(ftp_parse_port("1,2,3,4,5,67", 11, addr, &p), 0);
    cr_assert_eq(p, 5 * 256 + 6);
    cr_assert_eq(ftp_parse_port("1,2,3,4,5,6", 10, addr, &p), -1);
    cr_assert_eq(ftp_parse_port(NULL, 0, addr, &p), -1);
}

/* ---- EPRT ---- */

static int eprt_of(const char *s, size_t n, int *fam, char *host, size_t cap, unsigned *port)
{
    char *copy = malloc(n ? n : 1);
    int rc;

    cr_assert_not_null(copy);
    memcpy(copy, s, n);
    rc = ftp_parse_eprt(copy, n, fam, host, cap, port);
    free(copy);
    return rc;
}

static void expect_eprt(const char *s, int family, const char *host, unsigned port)
{
    char h[64];
    int fam = 0;
    unsigned p = 0;

    cr_assert_eq(eprt_of(s, strlen(s), &fam, h, sizeof h, &p), 0, "\"%s\"", s);
    cr_assert_eq(fam, family, "\"%s\"", s);
    cr_assert_str_eq(h, host, "\"%s\"", s);
    cr_assert_eq(p, port, "\"%s\"", s);
}

Test(ftp_eprt, good)
{
    expect_eprt("|1|132.235.1.2|6275|", 1, "132.235.1.2", 6275);
    expect_eprt("|2|1080::8:800:200C:417A|5282|", 2, "1080::8:800:200C:417A", 5282);
    expect_eprt("|2|::1|5282|", 2, "::1", 5282);
    expect_eprt("|2|::|1|", 2, "::", 1);
    expect_eprt("|2|::ffff:10.0.0.1|65535|", 2, "::ffff:10.0.0.1", 65535);
    expect_eprt("|2|fe80::abcd:EF01|21|", 2, "fe80::abcd:EF01", 21);
    expect_eprt("!1!10.0.0.1!21!", 1, "10.0.0.1", 21);
    expect_eprt("~2~::1~21~", 2, "::1", 21);
    expect_eprt("\"1\"10.0.0.1\"21\"", 1, "10.0.0.1", 21);
    expect_eprt("z1z10.0.0.1z21z", 1, "10.0.0.1", 21);
    expect_eprt("|1|10.0.0.1|0021|", 1, "10.0.0.1", 21);
}

Test(ftp_eprt, bad)
{
    static const char *const bad[] = {
        "",
        "|",
        "|1|",
        "|1|1.2.3.4|",
        "|1|1.2.3.4|21",
        "|1|1.2.3.4|21|x",
        "|1|1.2.3.4|21||",
        " |1|1.2.3.4|21|",
        "|1|1.2.3.4|21| ",
        "5151.2.3.45215", /* a digit as delimiter */
        " 1 1.2.3.4 21 ", /* space is not printable here */
        "\x7f"
        "1\x7f"
        "1.2.3.4\x7f"
        "21\x7f",
        "\x80"
        "1\x80"
        "1.2.3.4\x80"
        "21\x80",
        "\t1\t1.2.3.4\t21\t",
        "|3|1.2.3.4|21|",
        "|0|1.2.3.4|21|",
        "|01|1.2.3.4|21|",
        "||1.2.3.4|21|",
        "|1!1.2.3.4|21|",
        "|1|1.2.3.4!21|",
        "|1|::1|21|", /* family and address disagree */
        "|2|1.2.3.4|21|",
        "|1||21|",
        "|1|1.2.3.4|0|",
        "|1|1.2.3.4|00|",
        "|1|1.2.3.4|65536|",
        "|1|1.2.3.4|99999999999999999999|",
        "|1|1.2.3.4||",
        "|1|1.2.3.4|+21|",
        "|1|1.2.3.4|-1|",
        "|1|1.2.3.4| 21|",
        "|1|1.2.3.4x|21|",
        "|1| 1.2.3.4|21|",
        "|2|fe80::1%eth0|21|",
        "|2|fe80::1%1|21|",
        "|1|localhost|21|",
        "|1|1.2.3|21|",
        "|1|256.1.1.1|21|",
        "|1|1.2.3.4.5|21|",
        "|2|:::|21|",
        "|2|1::2::3|21|",
        "|2|[::1]|21|",
        "|2|0000:0000:0000:0000:0000:0000:0000:0000:0000|21|",
        ".1.1.2.3.4.21.", /* '.' delimits, so the address is cut short */
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char h[64] = "unchanged";
        int fam = 7;
        unsigned p = 7;

        cr_assert_eq(eprt_of(bad[i], strlen(bad[i]), &fam, h, sizeof h, &p), -1, "case %zu \"%s\"",
                     i, bad[i]);
        cr_assert(fam == 7 && p == 7 && strcmp(h, "unchanged") == 0, "case %zu: outputs changed",
                  i);
    }
}

Test(ftp_eprt, host_capacity)
{
    static const char in[] = "|1|132.235.1.2|6275|"; /* the address is 11 bytes */
    char h[16];
    int fam;
    unsigned p;

    cr_assert_eq(eprt_of(in, sizeof in - 1, &fam, h, 11, &p), -1);
    cr_assert_eq(eprt_of(in, sizeof in - 1, &fam, h, 12, &p), 0);
    cr_assert_str_eq(h, "132.235.1.2");
    cr_assert_eq(eprt_of(in, sizeof in - 1, &fam, h, 0, &p), -1);
}

Test(ftp_eprt, length_and_nul)
{
    char h[64];
    int fam;
    unsigned p;

    cr_assert_eq(eprt_of("|1|1.2.3.4|21|xyz", 14, &fam, h, sizeof h, &p), 0);
    cr_assert_eq(p, 21);
    cr_assert_eq(eprt_of("|1|1.2.3.4|21|", 13, &fam, h, sizeof h, &p), -1);
    cr_assert_eq(eprt_of("|1|1.2.3.4\0|21|", 15, &fam, h, sizeof h, &p), -1);
    cr_assert_eq(ftp_parse_eprt(NULL, 0, &fam, h, sizeof h, &p), -1);
}
