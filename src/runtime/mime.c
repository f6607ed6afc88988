#include "runtime/mime.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define MIME_EXT_MAX 32        /* longer extensions are never looked up */
#define MIME_MAX_ENTRIES 65536 /* hard bound on the table */
#define MIME_LINE_MAX 4096     /* longer mime.types lines are skipped */
#define MIME_POOL_CHUNK 4096
#define MIME_DEFAULT "application/octet-stream"

/*
 * Strings live in a chunked pool owned by the map: an override repoints an
 * entry without freeing the old type, so pointers handed out by mime_lookup
 * stay valid until mime_free.
 */
struct mime_chunk {
    struct mime_chunk *next;
    size_t used, cap;
    char data[];
};

struct mime_entry {
    const char *ext; /* lowercase, NULL for an empty slot */
    const char *type;
    uint8_t ext_len;
};

struct mime_map {
    struct mime_entry *slots;
    size_t cap; /* power of two */
    size_t count;
    struct mime_chunk *pool;
};

static const char *const mime_builtin[][2] = {
    {"html", "text/html"},      {"htm", "text/html"},         {"css", "text/css"},
    {"js", "text/javascript"},  {"mjs", "text/javascript"},   {"json", "application/json"},
    {"txt", "text/plain"},      {"xml", "application/xml"},   {"svg", "image/svg+xml"},
    {"png", "image/png"},       {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},       {"webp", "image/webp"},       {"ico", "image/x-icon"},
    {"avif", "image/avif"},     {"woff", "font/woff"},        {"woff2", "font/woff2"},
    {"pdf", "application/pdf"}, {"wasm", "application/wasm"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"},     {"mp3", "audio/mpeg"},        {"ogg", "audio/ogg"},
    {"zip", "application/zip"}, {"gz", "application/gzip"},   {"tar", "application/x-tar"},
    {"csv", "text/csv"},        {"md", "text/markdown"},
};

static char *mime_pool_dup(struct mime_map *m, const char *s, size_t n)
{
    struct mime_chunk *c = m->pool;
    char *p;

    if (c == NULL || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > MIME_POOL_CHUNK ? n + 1 : MIME_POOL_CHUNK;
        c = xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = m->pool;
        m->pool = c;
    }
    p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

static char mime_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the already-lowercased extension. */
static size_t mime_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* The slot holding EXT, or the empty slot where it belongs. */
static struct mime_entry *mime_slot(const struct mime_map *m, const char *ext, size_t n)
{
    size_t mask = m->cap - 1, i = mime_hash(ext, n) & mask;

    for (;;) {
        struct mime_entry *e = &m->slots[i];
        if (e->ext == NULL || (e->ext_len == n && memcmp(e->ext, ext, n) == 0))
            return e;
        i = (i + 1) & mask;
    }
}

static void mime_grow(struct mime_map *m)
{
    struct mime_entry *old = m->slots;
    size_t oldcap = m->cap;

    m->cap *= 2;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].ext != NULL)
            *mime_slot(m, old[i].ext, old[i].ext_len) = old[i];
    }
    free(old);
}

/* Lowercase EXT into out (MIME_EXT_MAX + 1 bytes); false if it cannot be a key. */
static bool mime_norm_ext(const char *ext, size_t n, char *out)
{
    if (n == 0 || n > MIME_EXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ext[i] == '.' || ext[i] == '/' || (unsigned char)ext[i] <= ' ')
            return false;
        out[i] = mime_lower(ext[i]);
    }
    out[n] = '\0';
    return true;
}

/* Insert KEY (already normalised) or, when OVERRIDE, replace its type. */
static void mime_put(struct mime_map *m, const char *key, size_t n, const char *type, bool override)
{
    struct mime_entry *e = mime_slot(m, key, n);

    if (e->ext != NULL) {
        if (override)
            e->type = type;
        return;
    }
    if (m->count >= MIME_MAX_ENTRIES)
        return;
    e->ext = mime_pool_dup(m, key, n);
    e->ext_len = (uint8_t)n;
    e->type = type;
    if (++m->count * 10 > m->cap * 7)
        mime_grow(m);
}

struct mime_map *mime_new(void)
{
    struct mime_map *m = xcalloc(1, sizeof(*m));
    size_t n = sizeof(mime_builtin) / sizeof(mime_builtin[0]);

    m->cap = 64;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    /* Built-in keys are already lowercase; their types are static strings. */
    for (size_t i = 0; i < n; i++)
        mime_put(m, mime_builtin[i][0], strlen(mime_builtin[i][0]), mime_builtin[i][1], true);
    return m;
}

void mime_set(struct mime_map *m, const char *ext, const char *type)
{
    char key[MIME_EXT_MAX + 1];
    size_t n;

    if (ext[0] == '.') /* tolerate ".html" from configuration */
        ext++;
    n = strlen(ext);
    if (mime_norm_ext(ext, n, key))
        mime_put(m, key, n, mime_pool_dup(m, type, strlen(type)), true);
}

static bool mime_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Next whitespace-separated word of [*p, end); a '#' word starts a comment. */
static bool mime_word(const char **p, const char *end, const char **w, size_t *n)
{
    const char *q = *p;

    while (q < end && mime_is_space(*q))
        q++;
    if (q == end || *q == '#')
        return false;
    *w = q;
    while (q < end && !mime_is_space(*q))
        q++;
    *n = (size_t)(q - *w);
    *p = q;
    return true;
}

/* A media type from a file must look like type/subtype and carry no controls. */
static bool mime_valid_type(const char *t, size_t n)
{
    const char *slash = memchr(t, '/', n);

    if (slash == NULL || slash == t || slash == t + n - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e || t[i] == ';')
            return false;
    }
    return true;
}

/* "type ext ext ..."; only extensions not yet present are added. */
static void mime_load_line(struct mime_map *m, const char *line, size_t len)
{
    const char *p = line, *end = line + len, *tw, *w, *type = NULL;
    char key[MIME_EXT_MAX + 1];
    size_t tn, n;

    if (!mime_word(&p, end, &tw, &tn) || !mime_valid_type(tw, tn))
        return;
    while (mime_word(&p, end, &w, &n)) {
        if (!mime_norm_ext(w, n, key) || mime_slot(m, key, n)->ext != NULL)
            continue;
        if (type == NULL) /* copied once per line, and only when it is used */
            type = mime_pool_dup(m, tw, tn);
        mime_put(m, key, n, type, false);
    }
}

int mime_load_file(struct mime_map *m, const char *path)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (f == NULL)
        return -1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len <= MIME_LINE_MAX)
            mime_load_line(m, line, (size_t)len);
    }
    free(line);
    fclose(f);
    return 0;
}

const char *mime_lookup(const struct mime_map *m, const char *name, size_t len)
{
    const char *base = name, *dot = NULL;
    char key[MIME_EXT_MAX + 1];
    const struct mime_entry *e;
    size_t n;

    for (size_t i = 0; i < len; i++) {
        if (name[i] == '/') {
            base = name + i + 1;
            dot = NULL;
        } else if (name[i] == '.') {
            dot = name + i;
        }
    }
    /* A leading dot names a hidden file (".bashrc"), not an extension. */
    if (dot == NULL || dot == base)
        return MIME_DEFAULT;
    n = (size_t)(name + len - (dot + 1));
    if (!mime_norm_ext(dot + 1, n, key))
        return MIME_DEFAULT;
    e = mime_slot(m, key, n);
    return e->ext != NULL ? e->type : MIME_DEFAULT;
}

void mime_free(struct mime_map *m)
{
    struct mime_chunk *c, *next;

    if (m == NULL)
        return;
    for (c = m->pool; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(m->slots);
    free(m);
}
