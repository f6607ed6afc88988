/*
 * cgi_head: the header section a CGI program writes before its body (RFC
 * 3875 6.2-6.3), parsed strictly: field names are tokens, values have no
 * control characters, lines end in LF or CRLF, and a bound applies to the
 * section's size and field count. Pure functions; fuzzed.
 */
#ifndef WWW_CGI_HEAD_H
#define WWW_CGI_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "www/http1.h"

#define CGI_HEAD_MAX 32768
#define CGI_MAX_FIELDS 64

enum cgi_head_result { CGI_HEAD_DONE = 0, CGI_HEAD_AGAIN = 1, CGI_HEAD_BAD = -1 };

struct cgi_head {
    int status;                 /* Status:, or 302 with only Location, else 200 */
    struct http_str type;       /* Content-Type; n == 0 when absent */
    struct http_str location;   /* Location; n == 0 when absent */
    struct http_header fields[CGI_MAX_FIELDS]; /* the others, passed on to the client */
    size_t nfields;
    bool has_length;            /* a valid Content-Length was given */
    uint64_t length;
    size_t head_len;            /* bytes of the section, its blank line included */
};

/**
 * Parse the header section at the start of BUF[0..LEN). DONE fills H (its
 * strings point into BUF); AGAIN wants more bytes (LEN < CGI_HEAD_MAX);
 * BAD sets *WHY. Fields the server frames itself (Connection, Keep-Alive,
 * Transfer-Encoding, Date, Server, Status) are not passed on.
 */
enum cgi_head_result cgi_head_parse(const char *buf, size_t len, struct cgi_head *h,
                                    const char **why);

#endif
