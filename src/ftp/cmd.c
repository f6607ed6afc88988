#include "ftp/cmd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

/*
 * The command parser runs once over the bytes received so far and is called
 * again from the start when more arrive, like the HTTP head parser: a command
 * line is short. The line is edited in place only once its line end is in
 * the buffer, so a parse that answers AGAIN leaves the bytes untouched and
 * the next call sees them as they were received.
 *
 * Bounds are on the bytes received, before Telnet sequences are removed: up
 * to FTP_LINE_MAX bytes and the line end. A line end found past that is an
 * ERROR with line_len set (skip the line); more than FTP_LINE_MAX + 1 bytes
 * with no LF at all is an ERROR with line_len 0: the end of that line is not
 * in the buffer, so the caller answers 500 and closes the connection (or
 * discards input up to the next LF itself before parsing again).
 *
 * An LF always ends the line, even where it would be a Telnet option byte:
 * FTP clients do not negotiate options, and a stray 0xFF must not swallow a
 * line end and glue two commands together.
 */

#define FTP_TN_IAC 255
#define FTP_TN_DONT 254
#define FTP_TN_DO 253
#define FTP_TN_WONT 252
#define FTP_TN_WILL 251

#define FTP_LINE_WINDOW (FTP_LINE_MAX + 2) /* the longest line with its CRLF */

static const char *const ftp_verb_names[FTP_NVERBS] = {
    [FTP_UNKNOWN] = "???", [FTP_USER] = "USER", [FTP_PASS] = "PASS", [FTP_ACCT] = "ACCT",
    [FTP_QUIT] = "QUIT",   [FTP_REIN] = "REIN", [FTP_NOOP] = "NOOP", [FTP_SYST] = "SYST",
    [FTP_HELP] = "HELP",   [FTP_STAT] = "STAT", [FTP_FEAT] = "FEAT", [FTP_OPTS] = "OPTS",
    [FTP_AUTH] = "AUTH",   [FTP_PBSZ] = "PBSZ", [FTP_PROT] = "PROT", [FTP_CCC] = "CCC",
    [FTP_PWD] = "PWD",     [FTP_XPWD] = "XPWD", [FTP_CWD] = "CWD",   [FTP_XCWD] = "XCWD",
    [FTP_CDUP] = "CDUP",   [FTP_XCUP] = "XCUP", [FTP_TYPE] = "TYPE", [FTP_MODE] = "MODE",
    [FTP_STRU] = "STRU",   [FTP_ALLO] = "ALLO", [FTP_REST] = "REST", [FTP_PORT] = "PORT",
    [FTP_EPRT] = "EPRT",   [FTP_PASV] = "PASV", [FTP_EPSV] = "EPSV", [FTP_LIST] = "LIST",
    [FTP_NLST] = "NLST",   [FTP_MLSD] = "MLSD", [FTP_MLST] = "MLST", [FTP_SIZE] = "SIZE",
    [FTP_MDTM] = "MDTM",   [FTP_RETR] = "RETR", [FTP_STOR] = "STOR", [FTP_STOU] = "STOU",
    [FTP_APPE] = "APPE",   [FTP_DELE] = "DELE", [FTP_MKD] = "MKD",   [FTP_XMKD] = "XMKD",
    [FTP_RMD] = "RMD",     [FTP_XRMD] = "XRMD", [FTP_RNFR] = "RNFR", [FTP_RNTO] = "RNTO",
    [FTP_ABOR] = "ABOR",   [FTP_SITE] = "SITE",
};

enum ftp_verb ftp_verb_of(const char *name)
{
    int v;

    for (v = FTP_UNKNOWN + 1; v < FTP_NVERBS; v++)
        if (ftp_verb_names[v] != NULL && strcmp(ftp_verb_names[v], name) == 0)
            return (enum ftp_verb)v;
    return FTP_UNKNOWN;
}

const char *ftp_verb_name(enum ftp_verb v)
{
    if ((unsigned)v >= FTP_NVERBS || ftp_verb_names[v] == NULL)
        return ftp_verb_names[FTP_UNKNOWN];
    return ftp_verb_names[v];
}

static enum ftp_parse cmd_fail(int *reply, const char **why, int code, const char *text)
{
    *reply = code;
    *why = text;
    return FTP_PARSE_ERROR;
}

/* Bytes a Telnet sequence starting with IAC at P[0] takes, clipped to N. */
static size_t cmd_telnet_len(const unsigned char *p, size_t n)
{
    size_t k = 2;

    if (n >= 2 && p[1] >= FTP_TN_WILL && p[1] <= FTP_TN_DONT)
        k = 3;
    return k < n ? k : n;
}

/* Remove Telnet sequences from P[0..LEN) in place; the new length. */
static size_t cmd_strip_telnet(char *p, size_t len)
{
    unsigned char *s = (unsigned char *)p;
    size_t i, o;

    if (memchr(p, FTP_TN_IAC, len) == NULL)
        return len;
    for (i = o = 0; i < len;) {
        if (s[i] != FTP_TN_IAC) {
            s[o++] = s[i++];
        } else if (i + 1 < len && s[i + 1] == FTP_TN_IAC) {
            s[o++] = FTP_TN_IAC;
            i += 2;
        } else {
            i += cmd_telnet_len(s + i, len - i);
        }
    }
    return o;
}

static bool cmd_is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char cmd_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Split the cleaned line P[0..LEN) into verb and argument. */
static enum ftp_parse cmd_split(const char *p, size_t len, struct ftp_cmd *out, int *reply,
                                const char **why)
{
    size_t v = 0, i;

    while (v < len && v < 5 && cmd_is_alpha(p[v]))
        v++;
    if (v < 3 || v > 4 || (v < len && p[v] != ' '))
        return cmd_fail(reply, why, 500, "syntax error, command unrecognized");
    for (i = 0; i < v; i++)
        out->name[i] = cmd_upper(p[i]);
    out->name[v] = '\0';
    out->verb = ftp_verb_of(out->name);
    if (v < len) {
        out->arg = p + v + 1;
        out->arg_len = len - v - 1;
    }
    return FTP_PARSE_DONE;
}

enum ftp_parse ftp_cmd_parse(char *p, size_t n, struct ftp_cmd *out, int *reply, const char **why)
{
    size_t window = n < FTP_LINE_WINDOW ? n : FTP_LINE_WINDOW;
    const char *lf = n > 0 ? memchr(p, '\n', window) : NULL;
    size_t len;

    memset(out, 0, sizeof *out);
    if (lf == NULL) {
        if (n >= FTP_LINE_WINDOW)
            return cmd_fail(reply, why, 500, "line too long");
        return FTP_PARSE_AGAIN;
    }
    len = (size_t)(lf - p);
    out->line_len = len + 1;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    if (len > FTP_LINE_MAX)
        return cmd_fail(reply, why, 500, "line too long");
    len = cmd_strip_telnet(p, len);
    if (memchr(p, '\0', len) != NULL)
        return cmd_fail(reply, why, 501, "NUL byte in command line");
    return cmd_split(p, len, out, reply, why);
}

/* A decimal number at S[*POS..LEN) of at least one digit, at most MAX. */
static int cmd_decimal(const char *s, size_t len, size_t *pos, unsigned max, unsigned *out)
{
    size_t i = *pos;
    unsigned v = 0;

    if (i >= len || s[i] < '0' || s[i] > '9')
        return -1;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > max)
            return -1;
    }
    *pos = i;
    *out = v;
    return 0;
}

int ftp_parse_port(const char *arg, size_t len, unsigned char addr[4], unsigned *port)
{
    unsigned v[6], k;
    size_t i = 0;

    if (arg == NULL)
        return -1;
    while (len > 0 && arg[len - 1] == ' ')
        len--;
    while (i < len && arg[i] == ' ')
        i++;
    for (k = 0; k < 6; k++) {
        if (k > 0 && (i >= len || arg[i++] != ','))
            return -1;
        if (cmd_decimal(arg, len, &i, 255, &v[k]) < 0)
            return -1;
    }
    if (i != len || v[4] * 256 + v[5] == 0)
        return -1;
    for (k = 0; k < 4; k++)
        addr[k] = (unsigned char)v[k];
    *port = v[4] * 256 + v[5];
    return 0;
}

static bool cmd_is_addr_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
           c == ':';
}

/* The EPRT address field at S[0..LEN), up to its closing delimiter D:
 * its length, or 0 when it is empty, unterminated or has a foreign byte. */
static size_t cmd_eprt_addr_len(const char *s, size_t len, char d)
{
    size_t i;

    for (i = 0; i < len && s[i] != d; i++)
        if (!cmd_is_addr_char(s[i]))
            return 0;
    return i < len ? i : 0;
}

int ftp_parse_eprt(const char *arg, size_t len, int *family, char *host, size_t hostcap,
                   unsigned *port)
{
    char text[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];
    size_t alen, i;
    unsigned pt;
    char d;

    if (arg == NULL || len < 7)
        return -1;
    d = arg[0];
    if ((unsigned char)d < 33 || (unsigned char)d > 126 || (d >= '0' && d <= '9'))
        return -1;
    if ((arg[1] != '1' && arg[1] != '2') || arg[2] != d)
        return -1;
    alen = cmd_eprt_addr_len(arg + 3, len - 3, d);
    if (alen == 0 || alen >= hostcap || alen >= sizeof text)
        return -1;
    i = 3 + alen + 1;
    if (cmd_decimal(arg, len, &i, 65535, &pt) < 0 || pt == 0 || i + 1 != len || arg[i] != d)
        return -1;
    memcpy(text, arg + 3, alen);
    text[alen] = '\0';
    if (inet_pton(arg[1] == '1' ? AF_INET : AF_INET6, text, bin) != 1)
        return -1;
    memcpy(host, text, alen + 1);
    *family = arg[1] - '0';
    *port = pt;
    return 0;
}
