/*
 * alloc: allocation wrappers that abort on out-of-memory, so callers never
 * thread ENOMEM through their error paths. Safe from any thread.
 */
#ifndef CORE_ALLOC_H
#define CORE_ALLOC_H

#include <stddef.h>

/** malloc that aborts the process when memory is exhausted. */
void *xmalloc(size_t n);
/** calloc that aborts the process when memory is exhausted. */
void *xcalloc(size_t count, size_t size);
/** realloc that aborts the process when memory is exhausted. */
void *xrealloc(void *p, size_t n);
/** strdup that aborts the process when memory is exhausted. */
char *xstrdup(const char *s);
/** Copy n bytes of s into a new NUL-terminated string. */
char *xstrndup(const char *s, size_t n);

#endif
