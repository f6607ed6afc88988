/*
 * h2: HTTP/2 (RFC 9113) on a WWW connection, over nghttp2's session API.
 * Entered over TLS when ALPN chose "h2", and on plain bindings by prior
 * knowledge (the connection opens with the preface). Each request becomes a
 * struct www_req answered by www_static_handle through the HTTP/2 encoder of
 * struct www_res; file bytes leave by sendfile after the frame header
 * (plain) or by one pread into the TLS write, through nghttp2's NO_COPY data
 * path. The limits against floods, resets and stalls are kept here. The
 * state is owned by its struct www_conn (c->h2) on the worker's thread and
 * freed by www_conn_close.
 */
#ifndef WWW_H2_H
#define WWW_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct www_conn;

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

#define H2_MAX_STREAMS 100       /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define H2_MAX_HEADER_LIST 32768 /* SETTINGS_MAX_HEADER_LIST_SIZE; a longer request gets 431 */
#define H2_RESETS_MAX 200        /* RST_STREAMs a client may send per window ... */
#define H2_RESET_WINDOW_MS 1000  /* ... before GOAWAY(ENHANCE_YOUR_CALM) */
#define H2_FIELDS_MAX 64         /* response header fields */

/** Switch C to HTTP/2 and process DATA[0..N), what was read so far (the preface included). */
void h2_start(struct www_conn *c, const char *data, size_t n);
/** Socket events of C once it speaks HTTP/2. */
void h2_on_io(struct www_conn *c, uint32_t events);
/** GOAWAY naming the last stream taken; C closes once the streams in flight are done. */
void h2_drain(struct www_conn *c);
/** Free C's HTTP/2 state (www_conn_close, after the transport is closed). */
void h2_free(struct www_conn *c);
/** Streams open on C now. */
unsigned h2_streams(const struct www_conn *c);

/* A response head as HTTP/2 sends it; exported for the unit tests. */
struct h2_fields {
    struct buf b; /* names (lower-cased) and values, back to back */
    struct {
        uint32_t name, nlen, value, vlen; /* offsets and lengths in b */
    } f[H2_FIELDS_MAX];
    unsigned n;
};

/**
 * Add the field NAME: VALUE, the name lower-cased; a connection-specific
 * field, a name that is no token or a value with a control byte (HTAB
 * aside) is dropped.
 * False when FS is full.
 */
bool h2_fields_add(struct h2_fields *fs, const char *name, size_t nlen, const char *value,
                   size_t vlen);
/**
 * Add header lines "Name: value\r\n" (a block may hold several) as fields:
 * values without surrounding whitespace; Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding and Upgrade dropped (RFC 9113 8.2.2).
 * False when some field did not fit.
 */
bool h2_fields_add_lines(struct h2_fields *fs, const char *lines, size_t n);

#endif
