/*
 * http1: the HTTP/1.1 request-head parser and chunked body decoder (RFC 9112).
 * Zero-copy: every string in struct http1_req points into the caller's
 * buffer, which must outlive the request. Pure functions, no allocation,
 * callable from any thread.
 */
#ifndef WWW_HTTP1_H
#define WWW_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS 128

enum http1_result {
    HTTP1_DONE = 0,   /* a complete element was parsed */
    HTTP1_AGAIN = 1,  /* more bytes are needed */
    HTTP1_ERROR = -1, /* malformed: answer *status and close the connection */
};

struct http_str {
    const char *p;
    size_t n;
};

struct http_header {
    struct http_str name;
    struct http_str value; /* leading and trailing OWS removed */
};

enum http_method {
    HTTP_M_UNKNOWN = 0, /* a syntactically valid token we do not know: 501 */
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_CONNECT,
    HTTP_M_OPTIONS,
    HTTP_M_TRACE,
    HTTP_M_PATCH,
};

enum http_body { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http1_limits {
    size_t max_head;    /* request line + headers, bytes: 431 beyond (414 if the target alone) */
    size_t max_target;  /* request-target bytes: 414 beyond */
    size_t max_headers; /* header field count (<= HTTP1_MAX_HEADERS): 431 beyond */
};

struct http1_req {
    enum http_method method;
    struct http_str method_str;
    struct http_str target;   /* as sent */
    struct http_str path;     /* origin-form path (absolute-form: the path part), still encoded */
    struct http_str query;    /* after '?', without it; n == 0 when absent */
    bool asterisk;            /* target was "*" (only valid with OPTIONS) */
    int version_minor;        /* 0 or 1 */
    struct http_header headers[HTTP1_MAX_HEADERS];
    size_t nheaders;

    /* Derived from the headers while parsing. */
    struct http_str host;     /* Host header, or the authority of an absolute-form target */
    bool has_host;
    enum http_body body;
    uint64_t content_length;  /* valid when body == HTTP_BODY_LENGTH */
    bool keep_alive;          /* after version defaults and Connection tokens */
    bool expect_continue;     /* Expect: 100-continue */
    bool expect_other;        /* some other expectation: 417 */
    struct http_str if_match, if_none_match, if_modified_since, if_unmodified_since;
    struct http_str if_range, range, user_agent, referer, cookie;
    struct http_str authorization, content_type;
    struct http_str accept_encoding; /* the first Accept-Encoding field */
};

/**
 * Parse a request head from buf[0..len). On HTTP1_DONE, *consumed is the
 * head's length including the final CRLF CRLF (leading empty lines are
 * skipped and counted). On HTTP1_ERROR, *status is the response status
 * (400, 414, 431, 501, 505) and *reason a short static explanation.
 */
enum http1_result http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                                      struct http1_req *req, size_t *consumed, int *status,
                                      const char **reason);

/** Find a header by case-insensitive name; NULL when absent. */
const struct http_header *http1_find_header(const struct http1_req *req, const char *name);

/** The method named by the token M[0..N) (case-sensitive); HTTP_M_UNKNOWN for others. */
enum http_method http1_method_of(const char *m, size_t n);

/** Static text name of a method ("GET"), or NULL for HTTP_M_UNKNOWN. */
const char *http1_method_name(enum http_method m);

/** State of a chunked body decoder; zero-initialise before the first call. */
struct http1_chunked {
    int state;
    uint64_t remaining;   /* bytes left in the current chunk */
    uint64_t total;       /* decoded body bytes so far */
    size_t line_len;      /* bytes of the current size/extension/trailer line */
    size_t trailer_bytes; /* bytes of trailer section so far */
};

/**
 * Decode chunked framing in place: consumes bytes from buf[0..len) and moves
 * decoded body data to the front of buf. *consumed is the input used,
 * *out_len the body bytes now at buf[0..out_len). Returns HTTP1_DONE after
 * the last chunk and trailer section, HTTP1_AGAIN when it wants more input,
 * HTTP1_ERROR with *status 400 (bad framing) or 413 (body beyond max_body).
 */
enum http1_result http1_chunked_decode(struct http1_chunked *st, char *buf, size_t len,
                                       uint64_t max_body, size_t *consumed, size_t *out_len,
                                       int *status, const char **reason);

/** Case-insensitive comparison of an http_str with a C string. */
bool http_str_ieq(struct http_str s, const char *lit);

#endif
