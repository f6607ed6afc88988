/* errors and small JSON helpers shared by the metabase files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "metabase/mb_int.h"

int mb_fail(struct mb_error *err, const char *code, const char *key, const char *prop,
            const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
    snprintf(err->property, sizeof(err->property), "%s", prop ? prop : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int mb_fail_db(sqlite3 *db, struct mb_error *err, const char *what)
{
    log_warnx("metabase: %s: %s", what, sqlite3_errmsg(db));
    return mb_fail(err, MB_E_STORAGE, NULL, NULL, "metabase storage error while %s: %s", what,
                   sqlite3_errmsg(db));
}

void mb_err_clear(struct mb_error *err)
{
    if (err == NULL)
        return;
    err->code = NULL;
    err->message[0] = err->key[0] = err->property[0] = '\0';
}

char *mb_json_text(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

    if (s == NULL)
        fatalx("metabase: out of memory encoding JSON");
    return s;
}

void mb_json_brief(const json_t *v, char *out, size_t cap)
{
    char *s = mb_json_text(v);
    size_t n = strlen(s);

    if (n < cap)
        memcpy(out, s, n + 1);
    else if (cap > 4)
        snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
    else if (cap > 0)
        out[0] = '\0';
    free(s);
}

json_t *mb_unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u = {.c = v};

    return u.m;
}

/* Compare paths as if '/' sorted before every other byte: a parent comes
 * right before its own subtree ("/a", "/a/b", "/a-b"). */
static int path_cmp(const void *pa, const void *pb)
{
    const unsigned char *a = (const unsigned char *)json_string_value(*(json_t *const *)pa);
    const unsigned char *b = (const unsigned char *)json_string_value(*(json_t *const *)pb);

    while (*a && *a == *b)
        a++, b++;
    unsigned ca = *a == '/' ? 1 : *a == 0 ? 0 : *a + 1u;
    unsigned cb = *b == '/' ? 1 : *b == 0 ? 0 : *b + 1u;
    return (int)ca - (int)cb;
}

json_t *mb_sorted_keys(const json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    json_t **v = xcalloc(n ? n : 1, sizeof(*v));
    json_t *arr = json_array(), *val;
    const char *k;

    json_object_foreach (mb_unconst(o), k, val)
        v[i++] = json_string(k);
    qsort(v, n, sizeof(*v), path_cmp);
    for (i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
    return arr;
}
