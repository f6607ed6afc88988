/*
 * coded: the coded representations a static file may be sent as — its
 * precompressed siblings FILE.br and FILE.gz (when not older than FILE) and
 * its gzip copy from the compressed-file cache (runtime/zcache) — each with
 * its own validators (the ETag gets "-br" or "-gzip") and the header block
 * of a 200 that sends it. Which files may be coded is their directory's
 * choice (compression, compression_types). Worker thread only: a
 * representation holds a reference to the entry of its bytes and is kept by
 * the cached entry of the file it stands for.
 */
#ifndef WWW_CODED_H
#define WWW_CODED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/clock.h"
#include "www/cond.h"
#include "www/negotiate.h"

struct fc_entry;
struct fcache;
struct vdir;

struct www_coded {
    struct fc_entry *fe; /* the bytes: a reference */
    enum coding coding;
    time_t mtime; /* of the file whose validators it carries */
    char etag[ETAG_MAX + 8];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1];
    char *hdr200; /* Content-Type ... ETag of a 200 */
    size_t hdr200_len;
};

/* A file's gzip copy, as far as its cached entry knows. */
struct www_gzip_copy {
    struct www_coded *coded; /* NULL until there is one */
    bool none;               /* the cache has none and will make none (too big, incompressible) */
};

#define VARY_LINE "Vary: Accept-Encoding\r\n"

/**
 * True when files of media type MIME served from V may be sent coded:
 * compression is not off there, MIME (without parameters) is listed in
 * compression_types, and it is not a format that is compressed already.
 */
bool coded_type_ok(const struct vdir *v, const char *mime);

/**
 * FILE's sibling for coding K beneath V (FILE.br, FILE.gz, opened through
 * the worker's cache FC) as a representation of FILE with media type MIME.
 * *SLOT holds it across requests and is rebuilt when the sibling changed;
 * NULL (*SLOT freed) when there is no sibling or it is older than FILE.
 */
const struct www_coded *coded_sibling(struct fcache *fc, const struct vdir *v,
                                      const struct fc_entry *file, enum coding k, const char *mime,
                                      struct www_coded **slot);

/**
 * FILE's gzip copy from the compressed-file cache (BUDGET bytes for all
 * copies), kept in *COPY; NULL while there is none. *STARTED is set when
 * this call began a compression (inline, or handed to the cache's thread).
 */
const struct www_coded *coded_gzip_copy(struct fc_entry *file, const char *mime, uint64_t budget,
                                        struct www_gzip_copy *copy, bool *started);

/** Free a representation (NULL is ignored), dropping its reference. */
void coded_free(struct www_coded *c);

#endif
