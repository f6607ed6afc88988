/*
 * buf: a growable byte buffer with a read offset. The owner frees it with
 * buf_free; callers enforce their own bounds before appending. Not shared
 * between threads.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t off; /* first unread byte */
    size_t len; /* bytes stored, including the consumed prefix */
    size_t cap;
};

/** Make room for n more bytes after len. */
void buf_reserve(struct buf *b, size_t n);
/** Append n bytes. */
void buf_append(struct buf *b, const void *p, size_t n);
/** Append a NUL-terminated string (without the NUL). */
void buf_puts(struct buf *b, const char *s);
/** Append printf-formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Mark n unread bytes as consumed; resets the buffer when all is consumed. */
void buf_consume(struct buf *b, size_t n);
/** Move unread bytes to the front. */
void buf_compact(struct buf *b);
/** Unread bytes. */
static inline size_t buf_unread(const struct buf *b)
{
    return b->len - b->off;
}
/** Pointer to the first unread byte. */
static inline char *buf_head(const struct buf *b)
{
    return b->data + b->off;
}
/** Forget the content but keep the storage. */
static inline void buf_reset(struct buf *b)
{
    b->off = b->len = 0;
}
/** Release the storage. */
void buf_free(struct buf *b);

/** A buffer that takes at most MAX bytes: the body of an HTTP client's answer. */
struct buf_sink {
    struct buf b;
    size_t max;
    bool too_big; /* more was offered than MAX */
};
/**
 * Append SIZE * N bytes at P to the buf_sink ARG, libcurl's CURLOPT_WRITEFUNCTION
 * shape: the count taken, or 0 (and too_big set) when they would pass its max.
 */
size_t buf_sink_write(char *p, size_t size, size_t n, void *arg);

#endif
