/*
 * gen_util: what the build-time generators share (gen_props_man, gen_infoadm_man,
 * gen_completion): roff escaping for manual pages, templates with @NAME@
 * placeholders, and writing an output file atomically. Not part of the library:
 * each generator links it. Single-threaded; the caller owns every buffer.
 */
#ifndef CORE_GEN_UTIL_H
#define CORE_GEN_UTIL_H

#include <stddef.h>
#include <stdio.h>

/** Write S as literal roff text (a name, value, option or command): "\" "-" "'" "`" escaped. */
void roff_lit(FILE *f, const char *s);
/**
 * Write S as roff prose: "--option" words in bold, leading and quoted hyphens as minus
 * signs, code-like words ("tls_acme", "/www/x") kept from hyphenation.
 */
void roff_prose(FILE *f, const char *s);
/** Write S as one roff text line (prose, protected when it starts with "." or "'"). */
void roff_line(FILE *f, const char *s);

/** A template placeholder: a line "@NAME@" is replaced by what WRITE prints. */
struct gen_block {
    const char *name; /* "@COMMANDS@" */
    void (*write)(FILE *f);
};

/**
 * Copy template TMPL to F, replacing each line that is exactly a block's name by
 * its output and "@VERSION@" anywhere by the release. -1 (with a message on
 * stderr) when a block's line is missing.
 */
int gen_expand(FILE *f, const char *tmpl, const struct gen_block *blocks, size_t n);

/** The whole file at PATH, NUL-terminated (free it), or NULL with a message on stderr. */
char *gen_read_file(const char *path);

/**
 * Run WRITE into memory and put the result at PATH atomically (mode 0644), or on
 * stdout when PATH is NULL. WRITE returns 0 or -1. Returns main()'s exit status.
 */
int gen_output(const char *prog, const char *path, int (*write)(FILE *f, void *arg), void *arg);
/**
 * The main of a generator that expands a template: `PROG TEMPLATE [OUTPUT]`
 * (OUT_NAME names OUTPUT in the usage line); WRITE gets the template's text.
 * Returns the exit status.
 */
int gen_template_main(const char *prog, const char *out_name, int argc, char **argv,
                      int (*write)(FILE *f, void *tmpl));

#endif
