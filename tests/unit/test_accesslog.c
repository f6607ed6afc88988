#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/accesslog.h"

#define T_2026_11_25_160500 ((time_t)1795622700)

static const char t_fields[] =
    "#Fields: date time s-sitename s-ip s-port cs-method cs-uri-stem cs-uri-query c-ip "
    "cs-username cs(User-Agent) cs(Referer) cs-host sc-status sc-bytes cs-bytes time-taken\n";

/* ---- helpers ---- */

static char *t_mkdtemp(void)
{
    char tmpl[] = "/tmp/alog-test-XXXXXX";

    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static char *t_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Remove DIR and the plain files and empty subdirectories in it. */
static void t_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char *p;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = t_path(dir, de->d_name);
        if (unlink(p) == -1)
            t_rmtree(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static char *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, n = 0, r;

    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap + 1);
        }
        r = fread(data + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

static char *t_slurp_in(const char *dir, const char *name, size_t *len)
{
    char *p = t_path(dir, name);
    char *data = t_slurp(p, len);

    free(p);
    return data;
}

static size_t t_count(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

static void t_write_file(const char *dir, const char *name, const char *content)
{
    char *p = t_path(dir, name);
    FILE *f = fopen(p, "wb");

    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    free(p);
}

static struct alog *t_open(const char *dir, enum alog_format fmt, enum alog_period period,
                           uint64_t max_size, unsigned nworkers)
{
    struct alog_config cfg = {
        .dir = dir, .format = fmt, .period = period, .max_size = max_size, .nworkers = nworkers};
    const char *err = NULL;
    struct alog *l = alog_open(&cfg, &err);

    cr_assert_not_null(l, "alog_open: %s", err ? err : "?");
    return l;
}

static struct alog_entry t_entry(void)
{
    struct alog_entry e = {
        .time = T_2026_11_25_160500,
        .client_ip = "198.51.100.7",
        .user = NULL,
        .method = "GET",
        .uri_stem = "/index.html",
        .uri_stem_len = 11,
        .query = "a=1&b=2",
        .query_len = 7,
        .protocol = "HTTP/1.1",
        .status = 200,
        .bytes_sent = 1234,
        .bytes_received = 321,
        .time_taken_ms = 15,
        .host = "www.example.com",
        .host_len = 15,
        .user_agent = "Mozilla/5.0 (X11)",
        .user_agent_len = 17,
        .referer = "http://ref.example/",
        .referer_len = 19,
        .server_ip = "192.0.2.1",
        .server_port = 80,
        .site = "site1",
    };
    return e;
}

/* Check the four W3C directives at the start of S and return what follows. */
static const char *t_skip_directives(const char *s)
{
    const char *date;

    cr_assert(strncmp(s, "#Software: infosrv\n#Version: 1.0\n#Date: ", 40) == 0, "head: %.60s", s);
    date = s + 40;
    /* YYYY-MM-DD HH:MM:SS */
    for (int i = 0; i < 19; i++) {
        char c = date[i];
        if (i == 4 || i == 7)
            cr_assert_eq(c, '-');
        else if (i == 10)
            cr_assert_eq(c, ' ');
        else if (i == 13 || i == 16)
            cr_assert_eq(c, ':');
        else
            cr_assert(c >= '0' && c <= '9', "date %.19s", date);
    }
    cr_assert_eq(date[19], '\n');
    cr_assert(strncmp(date + 20, t_fields, strlen(t_fields)) == 0, "fields: %.200s", date + 20);
    return date + 20 + strlen(t_fields);
}

static const char t_w3c_line[] =
    "2026-11-25 16:05:00 site1 192.0.2.1 80 GET /index.html a=1&b=2 198.51.100.7 - "
    "Mozilla/5.0+(X11) http://ref.example/ www.example.com 200 1234 321 15\n";

/* ---- W3C ---- */

Test(accesslog, w3c_directives_once_and_fields)
{
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_W3C, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    char *path = alog_current_path(l), *data;
    char expect[1024];
    const char *body;

    cr_assert_str_eq(strrchr(path, '/'), "/ex.log");
    alog_write(l, 0, &e);
    alog_flush(l, 0);
    e.user = "alice";
    e.status = 404;
    e.bytes_sent = 0;
    e.query = "";
    e.query_len = 0;
    alog_write(l, 0, &e);
    alog_close(l);

    /* A restart appends to the non-empty file without a second directive block. */
    l = t_open(dir, ALOG_W3C, ALOG_PERIOD_NONE, 0, 1);
    e = t_entry();
    alog_write(l, 0, &e);
    alog_close(l);

    data = t_slurp(path, NULL);
    body = t_skip_directives(data);
    snprintf(expect, sizeof(expect), "%s%s%s", t_w3c_line,
             "2026-11-25 16:05:00 site1 192.0.2.1 80 GET /index.html - 198.51.100.7 alice "
             "Mozilla/5.0+(X11) http://ref.example/ www.example.com 404 0 321 15\n",
             t_w3c_line);
    cr_assert_str_eq(body, expect);
    cr_assert_null(strstr(body, "#"));
    free(data);
    free(path);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, w3c_escapes_hostile_values)
{
    static const char ua[] = "a b\"c\r\nd\te\x01\x7f\xc3\xa9";
    static const char user[] = "evil user\n#Fields: x";
    static const char host[] = "h o\x1b[31m";
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_W3C, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    char *data;
    const char *body;

    e.user_agent = ua;
    e.user_agent_len = sizeof(ua) - 1;
    e.user = user;
    e.host = host;
    e.host_len = sizeof(host) - 1;
    e.referer = "";
    e.referer_len = 0;
    e.query = NULL;
    e.query_len = 5;
    e.uri_stem = "/x y\"z";
    e.uri_stem_len = 6;
    e.method = "G\rT";
    alog_write(l, 0, &e);
    alog_close(l);

    data = t_slurp_in(dir, "ex.log", NULL);
    body = t_skip_directives(data);
    cr_assert_str_eq(body, "2026-11-25 16:05:00 site1 192.0.2.1 80 G%0DT /x+y%22z - 198.51.100.7 "
                           "evil+user%0A#Fields:+x a+b%22c%0D%0Ad%09e%01%7F%C3%A9 - "
                           "h+o%1B[31m 200 1234 321 15\n");
    cr_assert_eq(t_count(data, '\n'), 5);
    free(data);
    t_rmtree(dir);
    free(dir);
}

/* ---- NCSA ---- */

Test(accesslog, ncsa_exact_line)
{
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_NCSA, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    char *path = alog_current_path(l), *data;

    cr_assert_str_eq(strrchr(path, '/'), "/nc.log");
    alog_write(l, 0, &e);
    e.user = "alice";
    e.query = NULL;
    e.query_len = 0;
    e.bytes_sent = 0;
    e.status = 304;
    e.referer = NULL;
    e.user_agent = NULL;
    alog_write(l, 0, &e);
    alog_close(l);

    data = t_slurp(path, NULL);
    cr_assert_str_eq(data,
                     "198.51.100.7 - - [25/Nov/2026:16:05:00 +0000] \"GET /index.html?a=1&b=2 "
                     "HTTP/1.1\" 200 1234 \"http://ref.example/\" \"Mozilla/5.0 (X11)\"\n"
                     "198.51.100.7 - alice [25/Nov/2026:16:05:00 +0000] \"GET /index.html "
                     "HTTP/1.1\" 304 0 \"-\" \"-\"\n");
    free(data);
    free(path);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, ncsa_escapes_hostile_values)
{
    static const char ua[] = "x\"y\\z\r\n\x7f\xc3\xa9 ok";
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_NCSA, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    char *data;

    e.user_agent = ua;
    e.user_agent_len = sizeof(ua) - 1;
    e.user = "bad user";
    e.uri_stem = "/a\"b";
    e.uri_stem_len = 4;
    e.query = "q\n";
    e.query_len = 2;
    e.referer = "r\x01";
    e.referer_len = 2;
    e.time = 0;
    alog_write(l, 0, &e);
    alog_close(l);

    data = t_slurp_in(dir, "nc.log", NULL);
    cr_assert_str_eq(data, "198.51.100.7 - bad\\x20user [01/Jan/1970:00:00:00 +0000] "
                           "\"GET /a\\\"b?q\\x0A HTTP/1.1\" 200 1234 \"r\\x01\" "
                           "\"x\\\"y\\\\z\\x0D\\x0A\\x7F\\xC3\\xA9 ok\"\n");
    cr_assert_eq(t_count(data, '\n'), 1);
    free(data);
    t_rmtree(dir);
    free(dir);
}

/* Reference escapers, one byte at a time, to check the word-at-a-time ones. */
static size_t t_ref_w3c(char *out, const unsigned char *s, size_t n)
{
    size_t o = 0;

    if (n == 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            out[o++] = '+';
        else if (s[i] < 0x21 || s[i] >= 0x7f || s[i] == '"')
            o += (size_t)snprintf(out + o, 4, "%%%02X", s[i]);
        else
            out[o++] = (char)s[i];
    }
    return o;
}

static size_t t_ref_ncsa(char *out, const unsigned char *s, size_t n, int bare)
{
    size_t o = 0;

    if (n == 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            out[o++] = '\\';
            out[o++] = (char)s[i];
        } else if (s[i] < 0x20 || s[i] >= 0x7f || (bare && s[i] == ' ')) {
            o += (size_t)snprintf(out + o, 5, "\\x%02X", s[i]);
        } else {
            out[o++] = (char)s[i];
        }
    }
    return o;
}

#define T_CASES 1200

/* Value I of the escape corpus: each special byte at each offset of short
 * strings (covers both the 8-byte and the byte loop), then random bytes. */
static size_t t_case(unsigned i, unsigned char *v, uint32_t *seed)
{
    static const unsigned char special[] = {0x00, 0x01, 0x1f, ' ',  '!',  '"',  '#', '%',
                                            '+',  '\\', 0x7e, 0x7f, 0x80, 0xc3, 0xff};
    size_t n;

    if (i < 20 * sizeof(special)) {
        n = i / sizeof(special) + 1;
        memset(v, 'a', n);
        v[(i * 7) % n] = special[i % sizeof(special)];
        return n;
    }
    *seed = *seed * 1103515245u + 12345u;
    n = (*seed >> 16) % 40;
    for (size_t k = 0; k < n; k++) {
        *seed = *seed * 1103515245u + 12345u;
        /* mostly printable, sometimes anything */
        v[k] = (unsigned char)((*seed >> 16) % 8 ? 0x20 + (*seed >> 20) % 0x60 : (*seed >> 20));
    }
    return n;
}

static void t_escape_corpus(enum alog_format fmt)
{
    char *dir = t_mkdtemp(), *data;
    struct alog *l = t_open(dir, fmt, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    unsigned char v[64];
    char esc[256], esc2[256], line[1024], user[64];
    size_t len, off = 0, n, m;
    char *want = malloc(T_CASES * 1024);
    uint32_t seed = 42;
    const char *body;

    for (unsigned i = 0; i < T_CASES; i++) {
        e.user_agent = (const char *)v;
        e.user_agent_len = t_case(i, v, &seed);
        if (fmt == ALOG_W3C) {
            n = t_ref_w3c(esc, v, e.user_agent_len);
            m = (size_t)snprintf(line, sizeof(line), "%.*s%.*s%s", 78, t_w3c_line, (int)n, esc,
                                 t_w3c_line + 95);
        } else {
            memcpy(user, v, e.user_agent_len);
            user[e.user_agent_len] = '\0';
            e.user = user; /* a C string: stops at the first NUL */
            n = t_ref_ncsa(esc, v, e.user_agent_len, 0);
            m = t_ref_ncsa(esc2, (const unsigned char *)user, strlen(user), 1);
            m = (size_t)snprintf(line, sizeof(line),
                                 "198.51.100.7 - %.*s [25/Nov/2026:16:05:00 +0000] \"GET "
                                 "/index.html?a=1&b=2 HTTP/1.1\" 200 1234 \"http://ref.example/\" "
                                 "\"%.*s\"\n",
                                 (int)m, esc2, (int)n, esc);
        }
        alog_write(l, 0, &e);
        e.user = NULL;
        memcpy(want + off, line, m);
        off += m;
    }
    want[off] = '\0';
    alog_close(l);
    data = t_slurp_in(dir, fmt == ALOG_W3C ? "ex.log" : "nc.log", &len);
    body = fmt == ALOG_W3C ? t_skip_directives(data) : data;
    cr_assert_str_eq(body, want);
    cr_assert_eq(t_count(body, '\n'), T_CASES);
    free(want);
    free(data);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, w3c_escape_matches_reference)
{
    /* t_w3c_line splits as 78 bytes before cs(User-Agent), 17 of it, the rest. */
    cr_assert(strncmp(t_w3c_line + 78, "Mozilla/5.0+(X11)", 17) == 0);
    t_escape_corpus(ALOG_W3C);
}

Test(accesslog, ncsa_escape_matches_reference)
{
    t_escape_corpus(ALOG_NCSA);
}

/* ---- concurrency ---- */

#define T_THREADS 4
#define T_PER_THREAD 10000

struct t_worker {
    struct alog *log;
    unsigned id;
};

static void *t_worker_main(void *arg)
{
    struct t_worker *w = arg;
    struct alog_entry e = t_entry();
    char uri[64];

    for (unsigned i = 0; i < T_PER_THREAD; i++) {
        int n = snprintf(uri, sizeof(uri), "/w%u/%u", w->id, i);
        e.uri_stem = uri;
        e.uri_stem_len = (size_t)n;
        e.time = T_2026_11_25_160500 + i / 1000;
        alog_write(w->log, w->id, &e);
        if (i % 7 == 0)
            alog_flush(w->log, w->id);
    }
    return NULL;
}

/* Field 7 of a W3C entry (cs-uri-stem) must be /wW/I with I the next expected. */
static void t_check_worker_line(const char *line, size_t len, unsigned *next)
{
    const char *p = line, *end = line + len;
    unsigned spaces = 0, w, i;
    char *q;

    for (; p < end && spaces < 6; p++)
        spaces += *p == ' ';
    cr_assert(p + 2 < end && p[0] == '/' && p[1] == 'w', "line: %.*s", (int)len, line);
    w = (unsigned)strtoul(p + 2, &q, 10);
    cr_assert(w < T_THREADS && *q == '/', "line: %.*s", (int)len, line);
    i = (unsigned)strtoul(q + 1, &q, 10);
    cr_assert(*q == ' ', "line: %.*s", (int)len, line);
    cr_assert_eq(i, next[w], "worker %u: got %u, want %u", w, i, next[w]);
    next[w]++;
    cr_assert(len > 60 && memcmp(end - 16, " 200 1234 321 15", 16) == 0, "tail: %.*s", (int)len,
              line);
    spaces = 0;
    for (p = line; p < end; p++)
        spaces += *p == ' ';
    cr_assert_eq(spaces, 16, "fields: %.*s", (int)len, line);
}

/* 40,000 lines of ~145 bytes stay under the writer's 8 MB backlog bound, so
 * none may be dropped even if the writer does not run until alog_close. */
Test(accesslog, threads_no_line_lost_or_mixed, .timeout = 120)
{
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_W3C, ALOG_PERIOD_NONE, 0, T_THREADS);
    pthread_t th[T_THREADS];
    struct t_worker w[T_THREADS];
    unsigned next[T_THREADS] = {0};
    size_t lines = 0;
    char *data;
    const char *p, *nl;

    for (unsigned i = 0; i < T_THREADS; i++) {
        w[i] = (struct t_worker){l, i};
        cr_assert_eq(pthread_create(&th[i], NULL, t_worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    alog_close(l);

    data = t_slurp_in(dir, "ex.log", NULL);
    p = t_skip_directives(data);
    for (; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        t_check_worker_line(p, (size_t)(nl - p), next);
        lines++;
    }
    cr_assert_eq(lines, T_THREADS * T_PER_THREAD);
    for (unsigned i = 0; i < T_THREADS; i++)
        cr_assert_eq(next[i], T_PER_THREAD);
    free(data);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, close_flushes_unflushed_buffers)
{
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_NCSA, ALOG_PERIOD_NONE, 0, 2);
    struct alog_entry e = t_entry();
    char *data;

    /* 1000 lines of ~130 bytes: past the 32 KB hand-over, and a tail left unflushed. */
    for (unsigned i = 0; i < 1000; i++)
        alog_write(l, i % 2, &e);
    alog_close(l);
    data = t_slurp_in(dir, "nc.log", NULL);
    cr_assert_eq(t_count(data, '\n'), 1000);
    free(data);
    t_rmtree(dir);
    free(dir);
}

/* ---- size rollover ---- */

static char *t_size_name(unsigned seq)
{
    char *name = malloc(32);

    snprintf(name, 32, "ex%u.log", seq);
    return name;
}

Test(accesslog, size_rollover_splits_at_lines)
{
    const uint64_t max = 1024;
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_W3C, ALOG_SIZE, max, 1);
    struct alog_entry e = t_entry();
    char uri[128], want[128];
    unsigned next = 0, files = 0;

    for (unsigned i = 0; i < 300; i++) {
        int n = snprintf(uri, sizeof(uri), "/s/%u/%.*s", i, (int)(i % 50),
                         "ppppppppppppppppppppppppppppppppppppppppppppppppppp");
        e.uri_stem = uri;
        e.uri_stem_len = (size_t)n;
        alog_write(l, 0, &e);
        if (i % 5 == 4)
            alog_flush(l, 0);
    }
    alog_close(l);

    for (unsigned seq = 1;; seq++) {
        char *name = t_size_name(seq), *path = t_path(dir, name), *data;
        const char *p, *nl;
        size_t len;

        if (access(path, F_OK) != 0) {
            free(name);
            free(path);
            break;
        }
        data = t_slurp(path, &len);
        cr_assert_leq(len, max, "%s is %zu bytes", name, len);
        p = t_skip_directives(data);
        cr_assert_neq(*p, '\0', "%s has no entry", name);
        for (; *p; p = nl + 1) {
            nl = strchr(p, '\n');
            cr_assert_not_null(nl);
            snprintf(want, sizeof(want), " /s/%u/", next++);
            cr_assert_not_null(memmem(p, (size_t)(nl - p), want, strlen(want)), "want %s in %.*s",
                               want, (int)(nl - p), p);
        }
        files++;
        free(data);
        free(name);
        free(path);
    }
    cr_assert_eq(next, 300);
    cr_assert_geq(files, 20);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, size_long_line_goes_alone)
{
    static char big[1000];
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_NCSA, ALOG_SIZE, 300, 1);
    struct alog_entry e = t_entry();
    char *a, *b, *c;
    size_t la, lb, lc;

    memset(big, 'B', sizeof(big));
    e.uri_stem = "/a";
    e.uri_stem_len = 2;
    alog_write(l, 0, &e);
    e.uri_stem = big;
    e.uri_stem_len = sizeof(big);
    alog_write(l, 0, &e);
    e.uri_stem = "/c";
    e.uri_stem_len = 2;
    alog_write(l, 0, &e);
    alog_write(l, 0, &e);
    alog_close(l);

    a = t_slurp_in(dir, "nc1.log", &la);
    b = t_slurp_in(dir, "nc2.log", &lb);
    c = t_slurp_in(dir, "nc3.log", &lc);
    cr_assert(strstr(a, "GET /a?a=1&b=2 HTTP") && t_count(a, '\n') == 1, "nc1: %s", a);
    cr_assert(lb > 1000 && t_count(b, '\n') == 1 && b[lb - 1] == '\n');
    cr_assert(strstr(c, "GET /c?a=1&b=2 HTTP") && t_count(c, '\n') == 2 && lc <= 300, "nc3: %s", c);
    free(a);
    free(b);
    free(c);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, size_continues_with_highest_number)
{
    char *dir = t_mkdtemp();
    struct alog *l;
    char *path, *data;

    t_write_file(dir, "ex3.log", "three\n");
    t_write_file(dir, "ex12.log", "twelve\n");
    t_write_file(dir, "ex012.log", "leading zero\n");
    t_write_file(dir, "ex99.log.gz", "compressed\n");
    t_write_file(dir, "nc40.log", "other format\n");
    l = t_open(dir, ALOG_W3C, ALOG_SIZE, 1 << 20, 1);
    path = alog_current_path(l);
    cr_assert_str_eq(strrchr(path, '/'), "/ex12.log");
    alog_close(l);
    data = t_slurp(path, NULL);
    cr_assert_str_eq(data, "twelve\n");
    free(data);
    free(path);
    t_rmtree(dir);
    free(dir);
}

/* ---- names, directories, reopen ---- */

static time_t t_utc(int y, int mon, int d, int h, int min, int sec)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = min,
                    .tm_sec = sec};

    return timegm(&tm);
}

Test(accesslog, file_names_for_a_given_time)
{
    const time_t t = T_2026_11_25_160500;
    char out[32];

    cr_assert_eq(alog_file_name(ALOG_W3C, ALOG_DAILY, 0, t, out, sizeof(out)), 12);
    cr_assert_str_eq(out, "ex261125.log");
    alog_file_name(ALOG_NCSA, ALOG_DAILY, 0, t, out, sizeof(out));
    cr_assert_str_eq(out, "nc261125.log");
    alog_file_name(ALOG_W3C, ALOG_HOURLY, 0, t, out, sizeof(out));
    cr_assert_str_eq(out, "ex26112516.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t, out, sizeof(out));
    cr_assert_str_eq(out, "ex261104.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t_utc(2026, 11, 1, 0, 0, 0), out, sizeof(out));
    cr_assert_str_eq(out, "ex261101.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t_utc(2026, 11, 7, 23, 59, 59), out, sizeof(out));
    cr_assert_str_eq(out, "ex261101.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t_utc(2026, 11, 8, 0, 0, 0), out, sizeof(out));
    cr_assert_str_eq(out, "ex261102.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t_utc(2026, 11, 29, 0, 0, 0), out, sizeof(out));
    cr_assert_str_eq(out, "ex261105.log");
    alog_file_name(ALOG_W3C, ALOG_WEEKLY, 0, t_utc(2026, 12, 31, 12, 0, 0), out, sizeof(out));
    cr_assert_str_eq(out, "ex261205.log");
    alog_file_name(ALOG_W3C, ALOG_HOURLY, 0, t_utc(2031, 1, 2, 3, 4, 5), out, sizeof(out));
    cr_assert_str_eq(out, "ex31010203.log");
    alog_file_name(ALOG_W3C, ALOG_MONTHLY, 0, t, out, sizeof(out));
    cr_assert_str_eq(out, "ex2611.log");
    alog_file_name(ALOG_W3C, ALOG_SIZE, 7, t, out, sizeof(out));
    cr_assert_str_eq(out, "ex7.log");
    alog_file_name(ALOG_NCSA, ALOG_PERIOD_NONE, 0, t, out, sizeof(out));
    cr_assert_str_eq(out, "nc.log");
    cr_assert_eq(alog_file_name(ALOG_W3C, ALOG_DAILY, 0, t, out, 12), 0);
}

Test(accesslog, daily_log_uses_todays_name)
{
    char *dir = t_mkdtemp();
    char before[32], after[32];
    struct alog *l;
    char *path;

    alog_file_name(ALOG_W3C, ALOG_DAILY, 0, time(NULL), before, sizeof(before));
    l = t_open(dir, ALOG_W3C, ALOG_DAILY, 0, 1);
    path = alog_current_path(l);
    alog_file_name(ALOG_W3C, ALOG_DAILY, 0, time(NULL), after, sizeof(after));
    /* Either name, should the test run across midnight UTC. */
    cr_assert(strcmp(strrchr(path, '/') + 1, before) == 0 ||
                  strcmp(strrchr(path, '/') + 1, after) == 0,
              "%s", path);
    cr_assert_eq(access(path, F_OK), 0);
    alog_close(l);
    free(path);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, reopen_after_rename_starts_fresh_file)
{
    char *dir = t_mkdtemp();
    struct alog *l = t_open(dir, ALOG_W3C, ALOG_PERIOD_NONE, 0, 1);
    struct alog_entry e = t_entry();
    char *cur = t_path(dir, "ex.log"), *old = t_path(dir, "ex.log.1");
    char *a, *b;

    e.uri_stem = "/before";
    e.uri_stem_len = 7;
    alog_write(l, 0, &e);
    alog_flush(l, 0);
    cr_assert_eq(rename(cur, old), 0);
    alog_reopen(l);
    e.uri_stem = "/after";
    e.uri_stem_len = 6;
    alog_write(l, 0, &e);
    alog_flush(l, 0);
    alog_close(l);

    a = t_slurp(old, NULL);
    b = t_slurp(cur, NULL);
    /* /before may be written before or with the reopen; /after only after it. */
    cr_assert_eq(t_count(a, '\n') + t_count(b, '\n'), 4 + 4 + 2);
    cr_assert_null(strstr(a, "/after"));
    cr_assert_not_null(strstr(t_skip_directives(b), " /after "));
    t_skip_directives(a);
    free(a);
    free(b);
    free(cur);
    free(old);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, open_creates_nested_directory)
{
    char *dir = t_mkdtemp(), *nested = t_path(dir, "a/b//c/"), *path;
    struct alog *l = t_open(nested, ALOG_NCSA, ALOG_MONTHLY, 0, 1);
    struct stat st;
    char *abc = t_path(dir, "a/b/c");

    cr_assert_eq(stat(abc, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0750);
    path = alog_current_path(l);
    /* Trailing slashes are dropped from the directory, inner ones kept. */
    cr_assert(strncmp(path, nested, strlen(nested)) == 0 &&
                  strncmp(path + strlen(nested), "nc", 2) == 0 &&
                  strchr(path + strlen(nested), '/') == NULL,
              "%s", path);
    alog_close(l);
    free(path);
    free(abc);
    free(nested);
    t_rmtree(dir);
    free(dir);
}

Test(accesslog, open_fails_cleanly)
{
    char *dir = t_mkdtemp(), *file = t_path(dir, "plain"), *under = t_path(dir, "plain/sub");
    struct alog_config cfg = {.dir = file, .format = ALOG_W3C, .nworkers = 1};
    const char *err = NULL;

    t_write_file(dir, "plain", "x");
    cr_assert_null(alog_open(&cfg, &err));
    cr_assert_str_eq(err, "cannot create the access log directory");
    cfg.dir = under;
    err = NULL;
    cr_assert_null(alog_open(&cfg, &err));
    cr_assert_not_null(err);
    cfg.dir = dir;
    cfg.nworkers = 0;
    err = NULL;
    cr_assert_null(alog_open(&cfg, &err));
    cr_assert_not_null(err);
    cfg.nworkers = 1;
    cfg.period = ALOG_SIZE;
    err = NULL;
    cr_assert_null(alog_open(&cfg, &err));
    cr_assert_not_null(err);
    free(file);
    free(under);
    t_rmtree(dir);
    free(dir);
}
