/*
 * libFuzzer target for src/ftp/cmd.c. The input is what a control
 * connection receives: it is parsed line after line from one heap copy (the
 * parser edits lines in place), skipping line_len bytes after DONE or ERROR
 * and stopping on AGAIN or on an ERROR without a line end. Every argument is
 * also given to ftp_parse_port and ftp_parse_eprt. Each contract of cmd.h is
 * checked against an untouched copy of the input; a violation aborts.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/cmd.h"
#include "fuzz.h"

#define WINDOW (FTP_LINE_MAX + 2)

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static void check_port(const char *arg, size_t len)
{
    unsigned char addr[4] = {1, 2, 3, 4};
    unsigned port = 77777;

    if (ftp_parse_port(arg, len, addr, &port) == 0)
        CHECK(port >= 1 && port <= 65535);
    else
        CHECK(port == 77777 && addr[0] == 1 && addr[3] == 4);
}

static void check_eprt_ok(int family, const char *host, size_t cap, unsigned port)
{
    unsigned char bin[16];
    size_t n = strnlen(host, cap), i;

    CHECK(family == 1 || family == 2);
    CHECK(n > 0 && n < cap);
    for (i = 0; i < n; i++)
        CHECK(strchr("0123456789abcdefABCDEF.:", host[i]) != NULL);
    CHECK(inet_pton(family == 1 ? AF_INET : AF_INET6, host, bin) == 1);
    CHECK(port >= 1 && port <= 65535);
}

/* EPRT with room to spare and with room for the shortest addresses only. */
static void check_eprt(const char *arg, size_t len)
{
    static const size_t caps[] = {64, 8, 1};
    size_t k;

    for (k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        char host[64];
        int family = 9;
        unsigned port = 77777;

        memset(host, 'x', sizeof host);
        if (ftp_parse_eprt(arg, len, &family, host, caps[k], &port) == 0)
            check_eprt_ok(family, host, caps[k], port);
        else
            CHECK(family == 9 && port == 77777 && host[0] == 'x');
    }
}

static void check_done(const struct ftp_cmd *c, const char *line)
{
    size_t n = strnlen(c->name, sizeof c->name), i;

    CHECK(n >= 3 && n <= 4);
    for (i = 0; i < n; i++)
        CHECK(is_upper(c->name[i]));
    CHECK(c->verb == ftp_verb_of(c->name));
    if (c->verb != FTP_UNKNOWN)
        CHECK(strcmp(ftp_verb_name(c->verb), c->name) == 0);
    if (c->arg == NULL) {
        CHECK(c->arg_len == 0);
        return;
    }
    /* The argument lies inside the line, before its LF, after "VERB ". */
    CHECK(c->arg >= line + 4 && c->arg <= line + c->line_len - 1);
    CHECK(c->arg_len <= (size_t)(line + c->line_len - 1 - c->arg));
    CHECK(memchr(c->arg, '\0', c->arg_len) == NULL);
    check_port(c->arg, c->arg_len);
    check_eprt(c->arg, c->arg_len);
}

/* The line alone parses as it did with more bytes after it; without its LF
 * it is incomplete and left as it was. */
static void check_line_alone(const char *orig, enum ftp_parse r, const struct ftp_cmd *c, int reply)
{
    char *copy = malloc(c->line_len);
    struct ftp_cmd c2;
    int reply2 = 0;
    const char *why = NULL;

    CHECK(copy != NULL);
    memcpy(copy, orig, c->line_len);
    CHECK(ftp_cmd_parse(copy, c->line_len, &c2, &reply2, &why) == r);
    CHECK(c2.line_len == c->line_len && c2.verb == c->verb && c2.arg_len == c->arg_len);
    CHECK((c2.arg == NULL) == (c->arg == NULL) && strcmp(c2.name, c->name) == 0);
    CHECK(r != FTP_PARSE_ERROR || reply2 == reply);
    memcpy(copy, orig, c->line_len - 1);
    CHECK(ftp_cmd_parse(copy, c->line_len - 1, &c2, &reply2, &why) == FTP_PARSE_AGAIN);
    CHECK(c2.line_len == 0 && memcmp(copy, orig, c->line_len - 1) == 0);
    free(copy);
}

static void check_again(const char *buf, const char *orig, size_t rem)
{
    CHECK(rem < WINDOW);
    CHECK(memchr(orig, '\n', rem) == NULL);
    CHECK(memcmp(buf, orig, rem) == 0);
}

/* One parse at OFF; the bytes to skip, or 0 to stop. */
static size_t parse_one(char *buf, const char *orig, size_t rem)
{
    struct ftp_cmd c;
    int reply = 0;
    const char *why = NULL;
    enum ftp_parse r = ftp_cmd_parse(buf, rem, &c, &reply, &why);

    CHECK(c.line_len <= rem && c.line_len <= WINDOW);
    if (r == FTP_PARSE_AGAIN) {
        CHECK(c.line_len == 0);
        check_again(buf, orig, rem);
        return 0;
    }
    if (r == FTP_PARSE_ERROR) {
        CHECK(reply == 500 || reply == 501);
        CHECK(why != NULL && why[0] != '\0');
        if (c.line_len == 0) {
            CHECK(reply == 500 && rem >= WINDOW && memchr(orig, '\n', WINDOW) == NULL);
            return 0;
        }
    } else {
        CHECK(r == FTP_PARSE_DONE);
        check_done(&c, buf);
    }
    CHECK(c.line_len > 0 && orig[c.line_len - 1] == '\n');
    CHECK(memchr(orig, '\n', c.line_len - 1) == NULL);
    check_line_alone(orig, r, &c, reply);
    return c.line_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Heap copies of exactly SIZE bytes so that ASan sees any over-read. */
    char *buf = malloc(size ? size : 1), *orig = malloc(size ? size : 1);
    size_t off = 0, step;

    CHECK(buf != NULL && orig != NULL);
    if (size > 0) {
        memcpy(buf, data, size);
        memcpy(orig, data, size);
    }
    while (off < size && (step = parse_one(buf + off, orig + off, size - off)) > 0)
        off += step;
    free(buf);
    free(orig);
    return 0;
}
