/*
 * cmd: the FTP command line (RFC 959 with RFC 1123's corrections) — a verb
 * of 3 or 4 letters, case-insensitive, an optional argument after one
 * space, ended by CRLF (a bare LF is accepted), bounded in length; Telnet
 * IAC sequences (RFC 959's "Telnet IP and Synch" before ABOR) are removed.
 * Pure and zero-copy: the result points into the caller's bytes. Any thread.
 */
#ifndef FTP_CMD_H
#define FTP_CMD_H

#include <stddef.h>

#define FTP_LINE_MAX 2048 /* longest command line, without its line end */

enum ftp_verb {
    FTP_UNKNOWN = 0,
    FTP_USER, FTP_PASS, FTP_ACCT, FTP_QUIT, FTP_REIN, FTP_NOOP, FTP_SYST, FTP_HELP, FTP_STAT,
    FTP_FEAT, FTP_OPTS, FTP_AUTH, FTP_PBSZ, FTP_PROT, FTP_CCC,
    FTP_PWD, FTP_XPWD, FTP_CWD, FTP_XCWD, FTP_CDUP, FTP_XCUP,
    FTP_TYPE, FTP_MODE, FTP_STRU, FTP_ALLO, FTP_REST,
    FTP_PORT, FTP_EPRT, FTP_PASV, FTP_EPSV,
    FTP_LIST, FTP_NLST, FTP_MLSD, FTP_MLST, FTP_SIZE, FTP_MDTM,
    FTP_RETR, FTP_STOR, FTP_STOU, FTP_APPE,
    FTP_DELE, FTP_MKD, FTP_XMKD, FTP_RMD, FTP_XRMD, FTP_RNFR, FTP_RNTO,
    FTP_ABOR, FTP_SITE,
    FTP_NVERBS,
};

enum ftp_parse { FTP_PARSE_AGAIN, FTP_PARSE_DONE, FTP_PARSE_ERROR };

struct ftp_cmd {
    enum ftp_verb verb;
    char name[5];        /* the verb as sent, upper-cased, NUL-terminated ("XYZ" when unknown) */
    const char *arg;     /* after the single space; NULL when there is none */
    size_t arg_len;
    size_t line_len;     /* bytes the line took, its line end included */
};

/**
 * Parse one command line at P[0..N). The line is edited in place: Telnet
 * IAC sequences are removed, so ARG may be shorter than what was received.
 * FTP_PARSE_AGAIN: no line end yet and the line may still fit;
 * FTP_PARSE_ERROR: *WHY says why (too long, NUL, a verb that is not 3-4
 * letters) and *REPLY the FTP reply code to send (500 or 501); line_len is
 * still set when the line end was found, so the caller can skip the line.
 */
enum ftp_parse ftp_cmd_parse(char *p, size_t n, struct ftp_cmd *out, int *reply, const char **why);

/** The verb of NAME (upper case, NUL-terminated), or FTP_UNKNOWN. */
enum ftp_verb ftp_verb_of(const char *name);

/** The upper-case name of V ("RETR"), or "???" for FTP_UNKNOWN. */
const char *ftp_verb_name(enum ftp_verb v);

/**
 * Parse a PORT argument "h1,h2,h3,h4,p1,p2" into an IPv4 address (network
 * order in *ADDR) and port; 0, or -1 when malformed or out of range.
 */
int ftp_parse_port(const char *arg, size_t len, unsigned char addr[4], unsigned *port);

/**
 * Parse an EPRT argument "|1|132.235.1.2|6275|" or "|2|::1|5282|" (any
 * printable delimiter, RFC 2428): *FAMILY 1 or 2, the address text copied
 * NUL-terminated into HOST (HOSTCAP bytes) and *PORT. 0, or -1.
 */
int ftp_parse_eprt(const char *arg, size_t len, int *family, char *host, size_t hostcap,
                   unsigned *port);

#endif
