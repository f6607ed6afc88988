/* output: aligned tables and JSON cells. */
#include "cli/output.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/err.h"
#include "core/alloc.h"
#include "core/buf.h"

static struct out_table *table_alloc(size_t ncols)
{
    struct out_table *t = xcalloc(1, sizeof(*t));

    if (ncols == 0 || ncols > OUT_MAX_COLS)
        abort(); /* a programming error, not input */
    t->ncols = ncols;
    t->header = true;
    t->cap = 8;
    t->cells = xcalloc(t->cap * ncols, sizeof(char *));
    return t;
}

static char *cell_copy(const char *s)
{
    size_t n = s != NULL ? strlen(s) + 1 : 2;
    char *c = xmalloc(n);

    cli_err_oneline(c, n, s != NULL ? s : "-");
    return c;
}

static char **row_slot(struct out_table *t, size_t row)
{
    if (row >= t->cap) {
        size_t old = t->cap;
        t->cap *= 2;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
        memset(t->cells + old * t->ncols, 0, (t->cap - old) * t->ncols * sizeof(char *));
    }
    return t->cells + row * t->ncols;
}

struct out_table *out_table_new(size_t ncols, const char *const *heads)
{
    struct out_table *t = table_alloc(ncols);

    for (size_t i = 0; i < ncols; i++)
        t->cells[i] = cell_copy(heads[i]);
    return t;
}

struct out_table *out_table_new_kv(void)
{
    struct out_table *t = out_table_new(2, (const char *const[]){"", ""});

    t->header = false;
    return t;
}

void out_table_right(struct out_table *t, size_t col)
{
    if (col < t->ncols)
        t->right |= 1u << col;
}

void out_table_add(struct out_table *t, const char *const *cells)
{
    char **row = row_slot(t, t->nrows + 1);

    for (size_t i = 0; i < t->ncols; i++)
        row[i] = cell_copy(cells[i]);
    t->nrows++;
}

void out_table_add_json(struct out_table *t, const json_t *const *vals)
{
    char *cells[OUT_MAX_COLS];

    for (size_t i = 0; i < t->ncols; i++)
        cells[i] = out_cell(vals[i]);
    out_table_add(t, (const char *const *)cells);
    for (size_t i = 0; i < t->ncols; i++)
        free(cells[i]);
}

struct out_table *out_table_new_prefixed(const struct out_table *t, const char *head)
{
    const char *heads[OUT_MAX_COLS];
    struct out_table *n;

    if (t->ncols + 1 > OUT_MAX_COLS)
        abort();
    heads[0] = head;
    for (size_t i = 0; i < t->ncols; i++)
        heads[i + 1] = t->cells[i];
    n = out_table_new(t->ncols + 1, heads);
    n->header = t->header;
    n->right = t->right << 1;
    return n;
}

void out_table_merge(struct out_table *dst, const struct out_table *src, const char *first)
{
    const char *cells[OUT_MAX_COLS];

    if (dst->ncols != src->ncols + 1)
        abort();
    cells[0] = first;
    for (size_t r = 1; r <= src->nrows; r++) {
        for (size_t i = 0; i < src->ncols; i++)
            cells[i + 1] = src->cells[r * src->ncols + i];
        out_table_add(dst, cells);
    }
}

size_t out_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void pad(FILE *f, size_t n)
{
    while (n-- > 0)
        fputc(' ', f);
}

static void print_row(const struct out_table *t, char **row, const size_t *width, FILE *f)
{
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w = out_width(row[i]);
        bool last = i + 1 == t->ncols;
        if (i > 0)
            fputs("  ", f);
        if (t->right & (1u << i))
            pad(f, width[i] - w);
        fputs(row[i], f);
        if (!(t->right & (1u << i)) && !last)
            pad(f, width[i] - w);
    }
    fputc('\n', f);
}

void out_table_print(const struct out_table *t, FILE *f)
{
    size_t width[OUT_MAX_COLS] = {0};
    size_t first = t->header ? 0 : 1;

    for (size_t r = first; r <= t->nrows; r++)
        for (size_t i = 0; i < t->ncols; i++) {
            size_t w = out_width(t->cells[r * t->ncols + i]);
            if (w > width[i])
                width[i] = w;
        }
    for (size_t r = first; r <= t->nrows; r++)
        print_row(t, t->cells + r * t->ncols, width, f);
}

void out_table_free(struct out_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

static bool joinable(const json_t *arr)
{
    size_t i;
    const json_t *v;

    if (json_array_size(arr) == 0)
        return false;
    json_array_foreach (arr, i, v) {
        if (json_is_string(v)) {
            if (strchr(json_string_value(v), ',') != NULL || json_string_length(v) == 0)
                return false;
        } else if (!json_is_number(v)) {
            return false;
        }
    }
    return true;
}

static char *join_array(const json_t *arr)
{
    struct buf b = {0};
    size_t i;
    const json_t *v;

    json_array_foreach (arr, i, v) {
        char *c = out_cell(v);
        if (i > 0)
            buf_puts(&b, ",");
        buf_puts(&b, c);
        free(c);
    }
    buf_append(&b, "", 1);
    return b.data;
}

char *out_cell(const json_t *v)
{
    char tmp[64];

    if (v == NULL)
        return xstrdup("-");
    switch (json_typeof(v)) {
    case JSON_STRING: /* an empty string is "no value", shown as "-" like a missing one */
        return xstrdup(json_string_length(v) ? json_string_value(v) : "-");
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return xstrdup(tmp);
    case JSON_REAL:
        snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
        return xstrdup(tmp);
    case JSON_TRUE:
        return xstrdup("true");
    case JSON_FALSE:
        return xstrdup("false");
    case JSON_ARRAY:
        if (joinable(v))
            return join_array(v);
        break;
    case JSON_OBJECT:
        break;
    default: /* JSON_NULL, or no value at all */
        return xstrdup("-");
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *c = xstrdup(s != NULL ? s : "?");
    free(s);
    return c;
}

char *out_time(const json_t *v)
{
    char tmp[32];
    struct tm tm;
    time_t t;

    if (!json_is_integer(v) && !json_is_real(v))
        return out_cell(v);
    t = (time_t)json_number_value(v);
    if (gmtime_r(&t, &tm) == NULL || strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return out_cell(v);
    return xstrdup(tmp);
}

void out_wrap(FILE *f, const char *text, int indent, int width)
{
    int col = 0;

    while (*text != '\0') {
        size_t n = strcspn(text, " ");
        if (col > 0 && col + 1 + (int)n > width) {
            fputc('\n', f);
            col = 0;
        }
        if (col == 0)
            col = fprintf(f, "%*s%.*s", indent, "", (int)n, text);
        else
            col += fprintf(f, " %.*s", (int)n, text);
        text += n;
        text += strspn(text, " ");
    }
    fputc('\n', f);
}

void out_json(FILE *f, const json_t *v)
{
    json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', f);
}

static void upper_head(char *dst, size_t cap, const char *name)
{
    size_t i = 0;

    for (; name[i] != '\0' && i + 1 < cap; i++)
        dst[i] = name[i] == '_' ? ' ' : (char)toupper((unsigned char)name[i]);
    dst[i] = '\0';
}

/* Field names of the objects in ARR, in order of first appearance. */
static size_t object_fields(const json_t *arr, const char **names, size_t cap)
{
    size_t n = 0, i, j;
    const json_t *obj, *val;
    const char *key;

    json_array_foreach (arr, i, obj) {
        json_object_foreach (out_unconst(obj), key, val) {
            (void)val;
            for (j = 0; j < n && strcmp(names[j], key) != 0; j++)
                ;
            if (j == n && n < cap)
                names[n++] = key;
        }
    }
    return n;
}

struct out_table *out_table_from_objects(const json_t *arr)
{
    const char *names[OUT_MAX_COLS];
    char heads[OUT_MAX_COLS][64];
    const char *hp[OUT_MAX_COLS];
    const json_t *vals[OUT_MAX_COLS];
    size_t n = object_fields(arr, names, OUT_MAX_COLS), i;
    const json_t *obj;
    struct out_table *t;

    if (n == 0) {
        names[0] = NULL;
        n = 1;
    }
    for (i = 0; i < n; i++) {
        upper_head(heads[i], sizeof(heads[i]), names[i] != NULL ? names[i] : "value");
        hp[i] = heads[i];
    }
    t = out_table_new(n, hp);
    json_array_foreach (arr, i, obj) {
        for (size_t c = 0; c < n; c++)
            vals[c] = names[c] != NULL ? json_object_get(obj, names[c]) : obj;
        out_table_add_json(t, vals);
    }
    return t;
}
