/* coded: precompressed siblings and gzip copies of static files. */
#include "www/coded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "runtime/fcache.h"
#include "runtime/gen.h"
#include "runtime/zcache.h"

#define SIBLING_REL_MAX (8192 + 8)

/* Formats that are compressed already: gzip would only cost CPU, whatever the list says. */
static const char *const compressed_types[] = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/zstd",
    "application/x-xz",
    "application/x-bzip2",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
    "font/woff",
    "font/woff2",
    "application/font-woff",
    NULL,
};

static bool is_compressed_format(const char *t, size_t n)
{
    if ((n > 6 && strncasecmp(t, "video/", 6) == 0) || (n > 6 && strncasecmp(t, "audio/", 6) == 0))
        return true;
    for (size_t i = 0; compressed_types[i]; i++)
        if (strlen(compressed_types[i]) == n && strncasecmp(compressed_types[i], t, n) == 0)
            return true;
    return false;
}

/* One entry of compression_types against the type T[0..N): "type/sub", or a whole type. */
static bool type_matches(const char *want, const char *t, size_t n)
{
    size_t wl = strlen(want);

    if (wl >= 2 && want[wl - 1] == '*' && want[wl - 2] == '/')
        return n >= wl - 1 && strncasecmp(want, t, wl - 1) == 0;
    return wl == n && strncasecmp(want, t, n) == 0;
}

bool coded_type_ok(const struct vdir *v, const char *mime)
{
    size_t n = strcspn(mime, "; \t");

    if (v == NULL || v->compression == COMPRESSION_OFF || is_compressed_format(mime, n))
        return false;
    for (size_t i = 0; i < v->ncompression_types; i++)
        if (type_matches(v->compression_types[i], mime, n))
            return true;
    return false;
}

/* ---- representations ---- */

void coded_free(struct www_coded *c)
{
    if (c == NULL)
        return;
    fcache_put(c->fe);
    free(c->hdr200);
    free(c);
}

/* BYTES (a reference taken) sent as coding K, with the validators of VALIDATORS. */
static struct www_coded *coded_new(struct fc_entry *bytes, enum coding k, const char *mime,
                                   const struct fc_entry *validators)
{
    struct www_coded *c = xcalloc(1, sizeof(*c));
    const char *name = negotiate_coding_name(k);
    size_t n = cond_make_etag(c->etag, ETAG_MAX, (uint64_t)validators->size,
                              (int64_t)validators->mtime, validators->mtime_nsec);
    size_t cap = strlen(mime) + sizeof(c->etag) + 200;
    int len;

    bytes->refs++;
    c->fe = bytes;
    c->coding = k;
    c->mtime = validators->mtime;
    /* "\"...\"" becomes "\"...-gzip\"": one tag per representation (RFC 9110 8.8.3). */
    c->etag_len =
        n ? (size_t)snprintf(c->etag + n - 1, sizeof(c->etag) - n + 1, "-%s\"", name) + n - 1 : 0;
    clock_http_format(validators->mtime, c->last_modified);
    c->hdr200 = xmalloc(cap);
    len = snprintf(c->hdr200, cap,
                   "Content-Type: %s\r\nContent-Length: %lld\r\nContent-Encoding: %s\r\n" VARY_LINE
                   "Last-Modified: %s\r\nETag: %.*s\r\n",
                   mime, (long long)bytes->size, name, c->last_modified, (int)c->etag_len, c->etag);
    c->hdr200_len = (len > 0 && (size_t)len < cap) ? (size_t)len : 0;
    return c;
}

/* A sibling stands for FILE only when it was written after it (or at the same time). */
static bool sibling_fresh(const struct fc_entry *sib, const struct fc_entry *file)
{
    if (sib->fd < 0 || sib->is_dir)
        return false;
    return sib->mtime > file->mtime ||
           (sib->mtime == file->mtime && sib->mtime_nsec >= file->mtime_nsec);
}

const struct www_coded *coded_sibling(struct fcache *fc, const struct vdir *v,
                                      const struct fc_entry *file, enum coding k, const char *mime,
                                      struct www_coded **slot)
{
    const char *ext = k == CODING_BR ? ".br" : ".gz";
    char rel[SIBLING_REL_MAX];
    struct fc_entry *sib;

    if (file->rel_len + 4 > sizeof(rel))
        return NULL;
    memcpy(rel, file->rel, file->rel_len);
    memcpy(rel + file->rel_len, ext, 4);
    sib = fcache_get(fc, v, rel, file->rel_len + 3);
    if (!sibling_fresh(sib, file)) {
        coded_free(*slot);
        *slot = NULL;
    } else if (*slot == NULL || (*slot)->fe != sib) { /* new, or the sibling changed */
        coded_free(*slot);
        *slot = coded_new(sib, k, mime, sib);
    }
    fcache_put(sib);
    return *slot;
}

const struct www_coded *coded_gzip_copy(struct fc_entry *file, const char *mime, uint64_t budget,
                                        struct www_gzip_copy *copy, bool *started)
{
    struct zcache_key key = {(uint64_t)file->dev, (uint64_t)file->ino, (uint64_t)file->size,
                             (int64_t)file->mtime, file->mtime_nsec};
    struct fc_entry *bytes;
    uint64_t len = 0;
    int fd = -1;

    *started = false;
    if (copy->coded || copy->none)
        return copy->coded;
    switch (zcache_get(&key, file->fd, budget, &fd, &len)) {
    case ZCACHE_MADE:
        *started = true;
        /* fall through */
    case ZCACHE_HIT:
        bytes = fcache_detached(fd);
        if (bytes == NULL) {
            copy->none = true;
            return NULL;
        }
        copy->coded = coded_new(bytes, CODING_GZIP, mime, file);
        fcache_put(bytes); /* the representation holds its own reference */
        return copy->coded;
    case ZCACHE_QUEUED:
        *started = true;
        return NULL;
    case ZCACHE_PENDING:
        return NULL;
    case ZCACHE_NONE:
    default:
        copy->none = true;
        return NULL;
    }
}
