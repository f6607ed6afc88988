/*
 * output: plain aligned tables and the rendering of JSON values into table
 * cells, for infoadm's human output. A table owns copies of its cells and is
 * freed with out_table_free. No colours, no terminal probing.
 */
#ifndef CLI_OUTPUT_H
#define CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OUT_MAX_COLS 16

struct out_table {
    size_t ncols;
    size_t nrows;   /* data rows, not counting the header */
    size_t cap;     /* rows allocated */
    bool header;    /* print the header row */
    unsigned right; /* bit i: right-align column i */
    char **cells;   /* (nrows + 1) * ncols; row 0 is the header */
};

/** A new table with NCOLS (<= OUT_MAX_COLS) columns named by HEADS. */
struct out_table *out_table_new(size_t ncols, const char *const *heads);
/** A new two-column table without header, for "name  value" blocks. */
struct out_table *out_table_new_kv(void);
/** Right-align column COL (numbers). */
void out_table_right(struct out_table *t, size_t col);
/** Append a row of ncols cells; NULL cells print as "-". Cells are made one line. */
void out_table_add(struct out_table *t, const char *const *cells);
/** Append a row from JSON values, rendered with out_cell; NULL values print "-". */
void out_table_add_json(struct out_table *t, const json_t *const *vals);
/** Append SRC's rows to DST with FIRST as an extra leading cell (DST has one more column). */
void out_table_merge(struct out_table *dst, const struct out_table *src, const char *first);
/** A table like T with a leading column named HEAD and no rows (for merging). */
struct out_table *out_table_new_prefixed(const struct out_table *t, const char *head);
/** Print T: columns two spaces apart, no trailing blanks. */
void out_table_print(const struct out_table *t, FILE *f);
/** Release T (NULL is fine). */
void out_table_free(struct out_table *t);

/**
 * V rendered for a table cell, as a new string: strings as they are, numbers,
 * true/false, arrays of plain strings and numbers joined with "," (the form
 * `set` accepts), anything else as compact JSON; NULL or null as "-".
 */
char *out_cell(const json_t *v);
/** V as a time for a cell: ISO 8601 strings as they are, epoch seconds as UTC. */
char *out_time(const json_t *v);
/** Display width of the UTF-8 string S (code points; no wide-character tables). */
size_t out_width(const char *s);
/** Print TEXT word-wrapped at WIDTH columns, every line indented by INDENT spaces. */
void out_wrap(FILE *f, const char *text, int indent, int width);
/** Print V as indented JSON and a newline. */
void out_json(FILE *f, const json_t *v);
/** Build a table from an array of objects: one column per field, in order of first use. */
struct out_table *out_table_from_objects(const json_t *arr);

/** V without const, for jansson iterators that take a non-const object but only read it. */
static inline json_t *out_unconst(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

#endif
