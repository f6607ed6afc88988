/*
 * h2mem: the allocator given to nghttp2. A busy HTTP/2 connection makes and
 * drops hundreds of small objects per batch (streams, outbound frames, copies
 * of response fields); blocks up to 2 KiB are recycled through per-thread
 * free lists by size class instead of going back to malloc. A block may be
 * freed on any thread (it joins that thread's lists); each thread's lists
 * are bounded and freed when the thread exits. Under ASan the bytes of a
 * block beyond what was asked for, and whole blocks on a list, are poisoned.
 */
#ifndef WWW_H2MEM_H
#define WWW_H2MEM_H

#include <stddef.h>

#define H2MEM_MAX 2048            /* larger blocks come from malloc and go back to it */
#define H2MEM_KEEP (1024 * 1024)  /* bytes of free blocks a thread keeps at most */

/** Allocate N bytes (aborts when memory is exhausted, as xmalloc). */
void *h2mem_alloc(size_t n);
/** Free P (NULL is ignored). */
void h2mem_free(void *p);
/** N zeroed elements of SIZE bytes; NULL when the product overflows. */
void *h2mem_calloc(size_t n, size_t size);
/** Resize P to N bytes (P NULL: allocate; N 0: free and return NULL). */
void *h2mem_realloc(void *p, size_t n);
/** Bytes this thread keeps on its free lists (for the tests). */
size_t h2mem_kept(void);

#endif
