/*
 * selector: the Gopher request line (RFC 1436, with Gopher+'s markers) —
 * "SELECTOR[<TAB>SEARCH][<TAB>+|!|$...]" ended by CRLF or LF, bounded in
 * length, plus the HTTP request line a browser sends to a Gopher port. Pure
 * and zero-copy: the fields point into the caller's bytes. Any thread.
 */
#ifndef GOPHER_SELECTOR_H
#define GOPHER_SELECTOR_H

#include <stddef.h>

#define GOPHER_LINE_MAX 1024 /* longest request line, without its line end */

enum gopher_parse { GOPHER_AGAIN, GOPHER_DONE, GOPHER_ERROR };

enum gopher_req_kind {
    GOPHER_REQ_PLAIN,    /* RFC 1436 */
    GOPHER_REQ_PLUS,     /* Gopher+ item retrieval: "<TAB>+[VIEW]" */
    GOPHER_REQ_ATTR,     /* Gopher+ attributes of one item: "<TAB>![+BLOCK...]" */
    GOPHER_REQ_DIR_ATTR, /* Gopher+ attributes of every item of a menu: "<TAB>$[+BLOCK...]" */
    GOPHER_REQ_HTTP,     /* "GET / HTTP/1.1": a web browser pointed at the Gopher port */
};

struct gopher_req {
    enum gopher_req_kind kind;
    const char *selector;
    size_t selector_len;
    const char *search; /* NULL when the line has no search field */
    size_t search_len;
    const char *extra;  /* after the Gopher+ marker: a view or "+ADMIN+ABSTRACT"; may be empty */
    size_t extra_len;
    size_t line_len;    /* bytes the line took, its line end included */
};

/**
 * Parse the request line at P[0..N). GOPHER_AGAIN: no line end yet and the
 * line may still fit; GOPHER_ERROR: *WHY says what is wrong (too long, NUL
 * or another control byte, too many fields, a bad Gopher+ marker).
 */
enum gopher_parse gopher_parse_request(const char *p, size_t n, struct gopher_req *out,
                                       const char **why);

/** True when the attribute list EXTRA (as in struct gopher_req) asks for block NAME ("+ADMIN"). */
int gopher_attr_wanted(const char *extra, size_t extra_len, const char *name);

#endif
