/* gen_util: roff escaping, templates and output files for the build-time generators. */
#include "core/gen_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "version.h"

/* One UTF-8 sequence at *S as groff's \[uXXXX] (groff reads its input as Latin-1). */
static void roff_utf8(FILE *f, const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    unsigned cp = 0, n = p[0] >= 0xf0 ? 3 : p[0] >= 0xe0 ? 2 : p[0] >= 0xc0 ? 1 : 0;

    cp = n == 0 ? 0 : p[0] & (0x3fu >> n);
    for (unsigned i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            fputc('?', f);
            *s += i;
            return;
        }
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (n == 0)
        fputc('?', f);
    else
        fprintf(f, "\\[u%04X]", cp);
    *s += n + 1;
}

/* Characters that mean something to roff anywhere on a line, or look wrong in code. */
static bool roff_special(FILE *f, const char **s)
{
    switch (**s) {
    case '\\':
        fputs("\\e", f);
        break;
    case '\'':
        fputs("\\(aq", f);
        break;
    case '`':
        fputs("\\(ga", f);
        break;
    default:
        if ((unsigned char)**s < 0x80)
            return false;
        roff_utf8(f, s);
        return true;
    }
    (*s)++;
    return true;
}

void roff_lit(FILE *f, const char *s)
{
    while (*s) {
        if (roff_special(f, &s))
            continue;
        if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        s++;
    }
}

static bool word_start(const char *s, const char *p)
{
    return p == s || strchr(" ([\"", p[-1]) != NULL;
}

/* "--name" at P (at the start of a word) in bold; returns the characters used, or 0. */
static size_t prose_option(FILE *f, const char *s, const char *p)
{
    size_t n = 2;

    if (p[0] != '-' || p[1] != '-' || !word_start(s, p) || !(p[2] >= 'a' && p[2] <= 'z'))
        return 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
           (p[n] == '-' && p[n + 1] >= 'a' && p[n + 1] <= 'z'))
        n++;
    fputs("\\fB", f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '-')
            fputs("\\-", f);
        else
            fputc(p[i], f);
    }
    fputs("\\fR", f);
    return n;
}

/* Code in prose ("--if-match", "tls_acme", "/www/sites/default", "a=b") is not hyphenated. */
static void prose_nohyphen(FILE *f, const char *s, const char *p)
{
    size_t n;

    if (p != s && p[-1] != ' ')
        return;
    n = strcspn(p, " ");
    if (p[0] == '-' || memchr(p, '_', n) || memchr(p, '/', n) || memchr(p, '=', n))
        fputs("\\%", f);
}

/* The tables quote code in prose ("/www/sites/default", "tls-alpn-01"): hyphens inside
 * double quotes are minus signs, so that what a reader copies is what infosrv takes. */
void roff_prose(FILE *f, const char *s)
{
    bool quoted = false;
    const char *p = s;
    size_t n;

    while (*p) {
        prose_nohyphen(f, s, p);
        if ((n = prose_option(f, s, p)) > 0) {
            p += n;
            continue;
        }
        if (*p == '\'') {
            fputc('\'', f);
            p++;
            continue;
        }
        if (roff_special(f, &p))
            continue;
        if (*p == '"')
            quoted = !quoted;
        /* a hyphen inside a word ("write-only") stays one; a leading or quoted one is a minus */
        if (*p == '-' && (quoted || word_start(s, p) || p[1] == '-' || p[1] == '\0'))
            fputs("\\-", f);
        else
            fputc(*p, f);
        p++;
    }
}

void roff_line(FILE *f, const char *s)
{
    if (s[0] == '.' || s[0] == '\'')
        fputs("\\&", f);
    roff_prose(f, s);
    fputc('\n', f);
}

/* ---- templates ---- */

static void copy_line(FILE *f, const char *line, size_t len)
{
    static const char mark[] = "@VERSION@";
    const size_t mlen = sizeof(mark) - 1;

    for (size_t i = 0; i < len; i++) {
        if (len - i >= mlen && memcmp(line + i, mark, mlen) == 0) {
            fputs(INFOSRV_VERSION, f);
            i += mlen - 1;
        } else {
            fputc(line[i], f);
        }
    }
}

static const struct gen_block *block_for(const char *line, size_t len,
                                         const struct gen_block *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(blocks[i].name) == len && memcmp(blocks[i].name, line, len) == 0)
            return &blocks[i];
    return NULL;
}

int gen_expand(FILE *f, const char *tmpl, const struct gen_block *blocks, size_t n)
{
    size_t found = 0;
    const char *p = tmpl;

    while (*p) {
        size_t len = strcspn(p, "\n");
        const struct gen_block *b = block_for(p, len, blocks, n);
        if (b != NULL) {
            b->write(f);
            found++;
        } else {
            copy_line(f, p, len);
            if (p[len] == '\n')
                fputc('\n', f);
        }
        p += len + (p[len] == '\n');
    }
    if (found != n) {
        fprintf(stderr, "gen: the template lacks a placeholder line (%zu of %zu found)\n", found,
                n);
        return -1;
    }
    return 0;
}

/* ---- files ---- */

char *gen_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;

    if (f == NULL) {
        fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        text = xcalloc(1, 1); /* an empty file */
    }
    return text;
}

int gen_output(const char *prog, const char *path, int (*write)(FILE *f, void *arg), void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = 1;

    if (mem == NULL) {
        fprintf(stderr, "%s: %s\n", prog, strerror(errno));
        return 1;
    }
    if (write(mem, arg) == 0 && fclose(mem) == 0) {
        mem = NULL;
        if (path == NULL)
            rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
        else
            rc = fs_write_atomic(path, text, len, 0644) == 0 ? 0 : 1;
        if (rc != 0)
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path ? path : "stdout",
                    strerror(errno));
    }
    if (mem != NULL)
        fclose(mem);
    free(text);
    return rc;
}

int gen_template_main(const char *prog, const char *out_name, int argc, char **argv,
                      int (*write)(FILE *f, void *tmpl))
{
    char *tmpl;
    int rc;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s TEMPLATE [%s]\n", prog, out_name);
        return 2;
    }
    if ((tmpl = gen_read_file(argv[1])) == NULL)
        return 1;
    rc = gen_output(prog, argc == 3 ? argv[2] : NULL, write, tmpl);
    free(tmpl);
    return rc;
}
