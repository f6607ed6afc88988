#include "runtime/accesslog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "runtime/logdb.h"
#include "runtime/stats.h"

#define ALOG_WORKER_MAX (32u * 1024)        /* a worker hands over past this, or after ALOG_HANDOVER_MS */
#define ALOG_WAKE_BYTES (64u * 1024)        /* pending bytes worth waking the writer */
#define ALOG_PENDING_MAX (8u * 1024 * 1024) /* beyond this, lines are dropped */
#define ALOG_KEEP_CAP (256u * 1024)         /* writer frees a bigger idle batch */
#define ALOG_NAME_MAX 32
#define ALOG_LINE_FIXED 256 /* separators, stamp and numbers of one line */
#define ALOG_CACHELINE 64

static const char alog_w3c_fields[] =
    "date time s-sitename s-ip s-port cs-method cs-uri-stem cs-uri-query c-ip cs-username "
    "cs(User-Agent) cs(Referer) cs-host sc-status sc-bytes cs-bytes time-taken";
static const char alog_hex[] = "0123456789ABCDEF";
/* Owned by one worker thread; aligned so two workers never share a cache line. */
struct alog_worker {
    struct buf buf;
    uint64_t handed_ms; /* last hand-over, on the worker's cached clock */
    uint64_t lines;    /* lines in buf, to count drops */
    time_t stamp_time; /* second formatted in stamp */
    size_t stamp_len;  /* 0: stamp not yet formatted */
    char stamp[40];
} __attribute__((aligned(ALOG_CACHELINE)));

struct alog {
    enum alog_format format;
    enum alog_period period;
    uint64_t max_size;
    unsigned nworkers;
    char *dir;
    int stats_slot; /* -1: drops are not counted in the statistics */
    struct alog_worker *workers;
    pthread_t thread;

    /* Shared between workers and the writer, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct buf pending;
    uint64_t dropped;
    bool writer_idle;
    bool reopen;
    bool stop;
    char *path; /* written by the writer under lock; read by others under lock */

    /* The writer thread's own (the opening and closing thread outside its life). */
    struct buf batch;
    struct logdb *db; /* ALOG_SQLITE: the database instead of fd */
    int fd;
    uint64_t file_size; /* bytes in the current file */
    uint64_t file_body; /* bytes of entries in it (directives excluded) */
    unsigned seq;       /* ALOG_SIZE file number */
    char name[ALOG_NAME_MAX];
    uint64_t unreported_drops;
    uint64_t new_drops; /* of this cycle, for the statistics */
    time_t warned_write, warned_open, warned_drop;
};

/* A field with its length: NULL or empty prints as "-". */
struct alog_str {
    const char *s;
    size_t n;
};

static struct alog_str alog_str(const char *s)
{
    return (struct alog_str){s, s ? strlen(s) : 0};
}

static struct alog_str alog_strn(const char *s, size_t n)
{
    return (struct alog_str){s, s ? n : 0};
}

/* ---- formatting (worker threads) ---- */

static char *alog_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *alog_put_raw(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *alog_put_hex(char *p, char lead, unsigned char c)
{
    *p++ = lead;
    *p++ = alog_hex[c >> 4];
    *p++ = alog_hex[c & 15];
    return p;
}

/* What a byte becomes: 0 itself, ALOG_SUB a substitute, ALOG_HEX an escape. */
enum { ALOG_COPY = 0, ALOG_SUB, ALOG_HEX };

/* An escaping rule: what each byte becomes, and the same rule for 8 bytes at
 * a time: DEL, bytes >= 0x80, bytes below BELOW and Q1, Q2 are special. */
struct alog_esc {
    unsigned char class[256];
    uint64_t below, q1, q2; /* broadcast to the 8 bytes */
};

#define ALOG_ONES 0x0101010101010101ull
#define ALOG_HIGHS 0x8080808080808080ull

/* W3C: space as '+'; controls, '"', DEL and non-ASCII as %XX. */
static const struct alog_esc alog_w3c_esc = {
    .class =
        {[0 ... 0x1f] = ALOG_HEX, [' '] = ALOG_SUB, ['"'] = ALOG_HEX, [0x7f ... 0xff] = ALOG_HEX},
    .below = ALOG_ONES * 0x21,
    .q1 = ALOG_ONES * '"',
    .q2 = ALOG_ONES * '"'};
/* NCSA quoted: '"' and '\' backslashed; controls, DEL and non-ASCII as \xHH. */
static const struct alog_esc alog_ncsa_esc = {
    .class =
        {[0 ... 0x1f] = ALOG_HEX, ['"'] = ALOG_SUB, ['\\'] = ALOG_SUB, [0x7f ... 0xff] = ALOG_HEX},
    .below = ALOG_ONES * 0x20,
    .q1 = ALOG_ONES * '"',
    .q2 = ALOG_ONES * '\\'};
/* NCSA unquoted (client, user): as quoted, and a space as \x20. */
static const struct alog_esc alog_ncsa_bare_esc = {
    .class =
        {[0 ... 0x20] = ALOG_HEX, ['"'] = ALOG_SUB, ['\\'] = ALOG_SUB, [0x7f ... 0xff] = ALOG_HEX},
    .below = ALOG_ONES * 0x21,
    .q1 = ALOG_ONES * '"',
    .q2 = ALOG_ONES * '\\'};

/* High bit set in some byte iff a byte of X is zero (exact for "any"). */
static inline uint64_t alog_zero8(uint64_t x)
{
    return (x - ALOG_ONES) & ~x;
}

/* True when none of the 8 bytes in X needs escaping. */
static inline bool alog_plain8(uint64_t x, const struct alog_esc *e)
{
    uint64_t m = x | ((x - e->below) & ~x) | alog_zero8(x ^ e->q1) | alog_zero8(x ^ e->q2) |
                 alog_zero8(x ^ (ALOG_ONES * 0x7f));

    return (m & ALOG_HIGHS) == 0;
}

/* Copy the run of plain bytes at S[*I..N) to P, 8 at a time while it lasts. */
static char *alog_copy_plain(char *p, const unsigned char *s, size_t *i, size_t n,
                             const struct alog_esc *e)
{
    size_t j = *i;
    uint64_t x;

    for (; j + 8 <= n; j += 8, p += 8) {
        memcpy(&x, s + j, 8);
        if (!alog_plain8(x, e))
            break;
        memcpy(p, &x, 8);
    }
    while (j < n && e->class[s[j]] == ALOG_COPY)
        *p++ = (char)s[j++];
    *i = j;
    return p;
}

/* Copy F escaped by rule E; W3C turns SUB bytes into '+' and HEX into %XX,
 * NCSA backslashes SUB bytes and writes HEX as \xHH. "-" when empty. */
static char *alog_put_esc(char *p, struct alog_str f, const struct alog_esc *e)
{
    const unsigned char *s = (const unsigned char *)f.s;
    bool w3c = e == &alog_w3c_esc;
    size_t i = 0;

    if (f.n == 0) {
        *p++ = '-';
        return p;
    }
    for (;;) {
        p = alog_copy_plain(p, s, &i, f.n, e);
        if (i == f.n)
            return p;
        if (w3c)
            p = e->class[s[i]] == ALOG_SUB ? alog_put_raw(p, "+", 1) : alog_put_hex(p, '%', s[i]);
        else if (e->class[s[i]] == ALOG_SUB)
            p = alog_put_raw(p, (const char[]){'\\', (char)s[i]}, 2);
        else
            p = alog_put_hex(alog_put_raw(p, "\\", 1), 'x', s[i]);
        i++;
    }
}

static void alog_tm(time_t t, struct tm *tm)
{
    if (gmtime_r(&t, tm) == NULL) {
        memset(tm, 0, sizeof(*tm));
        tm->tm_mday = 1;
        tm->tm_year = 70;
    }
}

/* Cache the formatted second: most lines of a worker share it. */
static void alog_stamp(const struct alog *l, struct alog_worker *wk, time_t t)
{
    struct tm tm;
    int n;

    if (wk->stamp_len != 0 && wk->stamp_time == t)
        return;
    alog_tm(t, &tm);
    if (l->format == ALOG_W3C)
        n = snprintf(wk->stamp, sizeof(wk->stamp), "%04d-%02d-%02d %02d:%02d:%02d",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    else
        n = snprintf(wk->stamp, sizeof(wk->stamp), "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                     clock_month_name(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    wk->stamp_len = (n > 0 && (size_t)n < sizeof(wk->stamp)) ? (size_t)n : sizeof(wk->stamp) - 1;
    wk->stamp_time = t;
}

/* Reserve the worst case (every byte escaped, EXPAND output bytes each) so the
 * formatters below write without bounds checks. */
static char *alog_reserve(struct buf *b, const struct alog_str *f, size_t nf, size_t expand)
{
    size_t need = ALOG_LINE_FIXED;

    for (size_t i = 0; i < nf; i++)
        need += f[i].n * expand;
    buf_reserve(b, need);
    return b->data + b->len;
}

static void alog_format_w3c(struct alog_worker *wk, const struct alog_entry *e)
{
    struct alog_str f[] = {
        alog_str(e->site),
        alog_str(e->server_ip),
        alog_str(e->method),
        alog_strn(e->uri_stem, e->uri_stem_len),
        alog_strn(e->query, e->query_len),
        alog_str(e->client_ip),
        alog_str(e->user),
        alog_strn(e->user_agent, e->user_agent_len),
        alog_strn(e->referer, e->referer_len),
        alog_strn(e->host, e->host_len),
    };
    char *p = alog_reserve(&wk->buf, f, sizeof(f) / sizeof(f[0]), 3);

    p = alog_put_raw(p, wk->stamp, wk->stamp_len);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        *p++ = ' ';
        p = alog_put_esc(p, f[i], &alog_w3c_esc);
        if (i == 1) { /* s-port follows s-ip */
            *p++ = ' ';
            p = alog_put_u64(p, e->server_port);
        }
    }
    *p++ = ' ';
    p = alog_put_u64(p, e->status < 0 ? 0 : (uint64_t)e->status);
    *p++ = ' ';
    p = alog_put_u64(p, e->bytes_sent);
    *p++ = ' ';
    p = alog_put_u64(p, e->bytes_received);
    *p++ = ' ';
    p = alog_put_u64(p, e->time_taken_ms);
    *p++ = '\n';
    wk->buf.len = (size_t)(p - wk->buf.data);
}

/* "METHOD URI[?QUERY][ PROTOCOL]" without the quotes. */
static char *alog_put_request(char *p, const struct alog_str *f)
{
    p = alog_put_esc(p, f[0], &alog_ncsa_esc);
    *p++ = ' ';
    p = alog_put_esc(p, f[1], &alog_ncsa_esc);
    if (f[2].n != 0) {
        *p++ = '?';
        p = alog_put_esc(p, f[2], &alog_ncsa_esc);
    }
    if (f[3].n != 0) {
        *p++ = ' ';
        p = alog_put_esc(p, f[3], &alog_ncsa_esc);
    }
    return p;
}

static void alog_format_ncsa(struct alog_worker *wk, const struct alog_entry *e)
{
    struct alog_str f[] = {
        alog_str(e->method),
        alog_strn(e->uri_stem, e->uri_stem_len),
        alog_strn(e->query, e->query_len),
        alog_str(e->protocol),
        alog_str(e->client_ip),
        alog_str(e->user),
        alog_strn(e->referer, e->referer_len),
        alog_strn(e->user_agent, e->user_agent_len),
    };
    char *p = alog_reserve(&wk->buf, f, sizeof(f) / sizeof(f[0]), 4);

    p = alog_put_esc(p, f[4], &alog_ncsa_bare_esc);
    p = alog_put_raw(p, " - ", 3);
    p = alog_put_esc(p, f[5], &alog_ncsa_bare_esc);
    p = alog_put_raw(p, " [", 2);
    p = alog_put_raw(p, wk->stamp, wk->stamp_len);
    p = alog_put_raw(p, "] \"", 3);
    p = alog_put_request(p, f);
    p = alog_put_raw(p, "\" ", 2);
    p = alog_put_u64(p, e->status < 0 ? 0 : (uint64_t)e->status);
    *p++ = ' ';
    p = alog_put_u64(p, e->bytes_sent);
    p = alog_put_raw(p, " \"", 2);
    p = alog_put_esc(p, f[6], &alog_ncsa_esc);
    p = alog_put_raw(p, "\" \"", 3);
    p = alog_put_esc(p, f[7], &alog_ncsa_esc);
    p = alog_put_raw(p, "\"\n", 2);
    wk->buf.len = (size_t)(p - wk->buf.data);
}

/* ---- hand-over (worker threads, lock held) ---- */

static void alog_wake_writer(struct alog *l)
{
    if (l->writer_idle) {
        l->writer_idle = false;
        pthread_cond_signal(&l->cond);
    }
}

/* Waking the writer costs a context switch; for a trickle of lines its
 * once-a-second poll is soon enough. */
static void alog_nudge_writer(struct alog *l)
{
    if (buf_unread(&l->pending) >= ALOG_WAKE_BYTES && l->writer_idle) {
        l->writer_idle = false;
        pthread_cond_signal(&l->cond);
    }
}

/* Move a worker's lines to the pending queue, or count them as dropped when
 * the writer is too far behind (unless FORCE, used by alog_close). */
static void alog_hand_over(struct alog *l, struct alog_worker *wk, bool force)
{
    size_t n = buf_unread(&wk->buf);

    if (!force && buf_unread(&l->pending) + n > ALOG_PENDING_MAX)
        l->dropped += wk->lines;
    else
        buf_append(&l->pending, buf_head(&wk->buf), n);
    buf_reset(&wk->buf);
    wk->lines = 0;
}

void alog_write(struct alog *l, unsigned w, const struct alog_entry *e)
{
    struct alog_worker *wk;

    if (w >= l->nworkers)
        fatalx("alog_write: worker %u of %u", w, l->nworkers);
    wk = &l->workers[w];
    if (l->format == ALOG_SQLITE) {
        logdb_encode(&wk->buf, e);
    } else {
        alog_stamp(l, wk, e->time);
        if (l->format == ALOG_W3C)
            alog_format_w3c(wk, e);
        else
            alog_format_ncsa(wk, e);
    }
    wk->lines++;
    if (buf_unread(&wk->buf) >= ALOG_WORKER_MAX)
        alog_flush(l, w);
}

bool alog_flush(struct alog *l, unsigned w)
{
    struct alog_worker *wk = &l->workers[w];

    if (buf_unread(&wk->buf) == 0)
        return false;
    /* Called each time the worker's loop goes idle: batch the hand-overs
     * so the lock is taken a few times a second, not once per request. */
    if (buf_unread(&wk->buf) < ALOG_WORKER_MAX / 4 && clock_ms() - wk->handed_ms < ALOG_HANDOVER_MS)
        return true;
    wk->handed_ms = clock_ms();
    pthread_mutex_lock(&l->lock);
    alog_hand_over(l, wk, false);
    alog_nudge_writer(l);
    pthread_mutex_unlock(&l->lock);
    return false;
}

void alog_reopen(struct alog *l)
{
    pthread_mutex_lock(&l->lock);
    l->reopen = true;
    alog_wake_writer(l);
    pthread_mutex_unlock(&l->lock);
}

char *alog_current_path(struct alog *l)
{
    char *path;

    pthread_mutex_lock(&l->lock);
    path = l->path ? xstrdup(l->path) : NULL;
    pthread_mutex_unlock(&l->lock);
    return path;
}

void alog_set_keep(struct alog *l, unsigned n)
{
    if (l->db != NULL)
        logdb_set_keep(l->db, n);
}

enum alog_format alog_format_of(const struct alog *l)
{
    return l->format;
}

const char *alog_dir(const struct alog *l)
{
    return l->dir;
}

/* ---- file names ---- */

size_t alog_file_name(enum alog_format format, enum alog_period period, unsigned seq, time_t t,
                      char *out, size_t outlen)
{
    const char *pre = format == ALOG_W3C ? "ex" : "nc";
    struct tm tm;
    int yy, mm, n;

    alog_tm(t, &tm);
    yy = (tm.tm_year % 100 + 100) % 100;
    mm = tm.tm_mon + 1;
    switch (period) {
    case ALOG_HOURLY:
        n = snprintf(out, outlen, "%s%02d%02d%02d%02d.log", pre, yy, mm, tm.tm_mday, tm.tm_hour);
        break;
    case ALOG_DAILY:
        n = snprintf(out, outlen, "%s%02d%02d%02d.log", pre, yy, mm, tm.tm_mday);
        break;
    case ALOG_WEEKLY: /* week of the month: days 1-7 are week 1, 29-31 week 5 */
        n = snprintf(out, outlen, "%s%02d%02d%02d.log", pre, yy, mm, (tm.tm_mday - 1) / 7 + 1);
        break;
    case ALOG_MONTHLY:
        n = snprintf(out, outlen, "%s%02d%02d.log", pre, yy, mm);
        break;
    case ALOG_SIZE:
        n = snprintf(out, outlen, "%s%u.log", pre, seq);
        break;
    default:
        n = snprintf(out, outlen, "%s.log", pre);
        break;
    }
    return (n > 0 && (size_t)n < outlen) ? (size_t)n : 0;
}

/* "exN.log" with N a positive decimal without leading zero: true and *SEQ. */
static bool alog_parse_seq(const char *name, const char *pre, unsigned *seq)
{
    unsigned long v = 0;
    const char *p = name + 2;

    if (strncmp(name, pre, 2) != 0 || *p < '1' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v >= UINT_MAX)
            return false;
    }
    if (strcmp(p, ".log") != 0)
        return false;
    *seq = (unsigned)v;
    return true;
}

/* ALOG_SIZE continues with the highest existing file number, or 1. */
static unsigned alog_scan_seq(const struct alog *l)
{
    const char *pre = l->format == ALOG_W3C ? "ex" : "nc";
    unsigned best = 1, seq;
    struct dirent *de;
    DIR *d = opendir(l->dir);

    if (d == NULL)
        return best;
    while ((de = readdir(d)) != NULL)
        if (alog_parse_seq(de->d_name, pre, &seq) && seq > best)
            best = seq;
    closedir(d);
    return best;
}

/* ---- the current file (writer thread) ---- */

static bool alog_ratelimit(time_t *last, time_t now)
{
    if (*last == now)
        return false;
    *last = now;
    return true;
}

/* Write all of P or fail: a disk-full error drops what is left, warned once a second. */
static int alog_file_write(struct alog *l, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(l->fd, p, n);

        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            int saved = errno;
            if (alog_ratelimit(&l->warned_write, time(NULL))) {
                errno = saved;
                log_warn("accesslog: write %s", l->path);
            }
            return -1;
        }
        p += r;
        n -= (size_t)r;
        l->file_size += (uint64_t)r;
    }
    return 0;
}

static void alog_put_directives(struct alog *l, time_t now)
{
    char hdr[512];
    struct tm tm;
    int n;

    alog_tm(now, &tm);
    n = snprintf(hdr, sizeof(hdr),
                 "#Software: infosrv\n#Version: 1.0\n#Date: %04d-%02d-%02d %02d:%02d:%02d\n"
                 "#Fields: %s\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 alog_w3c_fields);
    if (n > 0 && (size_t)n < sizeof(hdr))
        alog_file_write(l, hdr, (size_t)n);
}

static void alog_set_path(struct alog *l, char *path)
{
    pthread_mutex_lock(&l->lock);
    free(l->path);
    l->path = path;
    pthread_mutex_unlock(&l->lock);
}

/* Open the file for NOW (or the current size sequence); W3C directives go
 * into a file only while it is empty. */
static int alog_file_open(struct alog *l, time_t now)
{
    struct stat st;
    char *path;
    int fd;

    if (alog_file_name(l->format, l->period, l->seq, now, l->name, sizeof(l->name)) == 0)
        return -1;
    path = fs_path_join(l->dir, l->name);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1 || fstat(fd, &st) == -1) {
        if (alog_ratelimit(&l->warned_open, now))
            log_warn("accesslog: open %s", path);
        if (fd != -1)
            close(fd);
        free(path);
        return -1;
    }
    l->fd = fd;
    l->file_size = l->file_body = (uint64_t)st.st_size;
    alog_set_path(l, path);
    if (st.st_size == 0 && l->format == ALOG_W3C)
        alog_put_directives(l, now);
    return 0;
}

static void alog_file_close(struct alog *l)
{
    if (l->fd != -1)
        close(l->fd);
    l->fd = -1;
}

/* Periods follow the writer's wall clock, not each line's time: lines of
 * 23:59:59 written just after midnight land in the next day's file. That
 * saves a gmtime per line and keeps each batch in one file. */
static void alog_check_period(struct alog *l, time_t now)
{
    char name[ALOG_NAME_MAX];

    if (l->fd == -1 || l->period == ALOG_PERIOD_NONE || l->period == ALOG_SIZE)
        return;
    if (alog_file_name(l->format, l->period, 0, now, name, sizeof(name)) != 0 &&
        strcmp(name, l->name) != 0)
        alog_file_close(l);
}

/* How much of P fits into the current file, cut after a newline; a line that
 * fits in no file goes alone into a file without entries. 0: roll first. */
static size_t alog_size_fit(const struct alog *l, const char *p, size_t n)
{
    uint64_t room = l->max_size > l->file_size ? l->max_size - l->file_size : 0;
    const char *nl;

    if (room >= n)
        return n;
    nl = room > 0 ? memrchr(p, '\n', (size_t)room) : NULL;
    if (nl != NULL)
        return (size_t)(nl - p) + 1;
    if (l->file_body != 0)
        return 0;
    nl = memchr(p, '\n', n);
    return nl != NULL ? (size_t)(nl - p) + 1 : n;
}

static void alog_write_batch(struct alog *l, const char *p, size_t n, time_t now)
{
    while (n > 0) {
        size_t k = l->period == ALOG_SIZE ? alog_size_fit(l, p, n) : n;

        if (k == 0) {
            alog_file_close(l);
            l->seq++;
            if (alog_file_open(l, now) == -1)
                return;
            continue;
        }
        if (alog_file_write(l, p, k) == -1)
            return;
        l->file_body += k;
        p += k;
        n -= k;
    }
}

/* ---- the writer thread ---- */

/* Wait up to a second for work; take the pending lines and the flags. */
static bool alog_writer_wait(struct alog *l, bool *reopen)
{
    struct timespec ts;
    struct buf tmp;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 1;
    pthread_mutex_lock(&l->lock);
    while (buf_unread(&l->pending) == 0 && !l->stop && !l->reopen) {
        l->writer_idle = true;
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
            break;
    }
    l->writer_idle = false;
    tmp = l->pending;
    l->pending = l->batch;
    l->batch = tmp;
    *reopen = l->reopen;
    l->reopen = false;
    l->unreported_drops += l->dropped;
    l->new_drops = l->dropped;
    l->dropped = 0;
    stop = l->stop;
    pthread_mutex_unlock(&l->lock);
    return stop;
}

static void alog_file_cycle(struct alog *l, bool reopen, time_t now)
{
    if (reopen)
        alog_file_close(l);
    alog_check_period(l, now);
    if (l->fd == -1)
        alog_file_open(l, now);
    if (l->fd != -1)
        alog_write_batch(l, buf_head(&l->batch), buf_unread(&l->batch), now);
}

/* Entries the database could not take count as dropped, like those the
 * writer was too far behind to take. */
static void alog_db_cycle(struct alog *l, bool reopen, time_t now)
{
    uint64_t lost;
    char *path;

    if (reopen)
        logdb_reopen(l->db);
    lost = logdb_write(l->db, buf_head(&l->batch), buf_unread(&l->batch), now);
    l->unreported_drops += lost;
    l->new_drops += lost;
    path = logdb_path(l->db);
    if (path != NULL && (l->path == NULL || strcmp(path, l->path) != 0))
        alog_set_path(l, path);
    else
        free(path);
}

static void alog_writer_cycle(struct alog *l, bool reopen, bool stop)
{
    time_t now = time(NULL);

    if (l->db != NULL)
        alog_db_cycle(l, reopen, now);
    else
        alog_file_cycle(l, reopen, now);
    if (l->new_drops != 0)
        stats_add_shared(l->stats_slot, STAT_LOG_DROPPED, l->new_drops);
    l->new_drops = 0;
    buf_reset(&l->batch);
    if (l->batch.cap > ALOG_KEEP_CAP)
        buf_free(&l->batch);
    if (l->unreported_drops != 0 && (alog_ratelimit(&l->warned_drop, now) || stop)) {
        log_warnx("accesslog: %s: dropped %llu entries (the writer behind, or the log not "
                  "writable)",
                  l->dir, (unsigned long long)l->unreported_drops);
        l->unreported_drops = 0;
    }
}

static void *alog_writer_main(void *arg)
{
    struct alog *l = arg;
    bool stop = false, reopen;

    while (!stop) {
        stop = alog_writer_wait(l, &reopen);
        alog_writer_cycle(l, reopen, stop);
    }
    return NULL;
}

/* ---- open and close ---- */

static int alog_mkdir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0750) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (errno == EEXIST)
        errno = ENOTDIR;
    log_warn("accesslog: mkdir %s", path);
    return -1;
}

/* mkdir -p DIR with mode 0750 for the directories it creates. */
static int alog_mkdirs(const char *dir)
{
    char *path = xstrdup(dir);
    int rc = 0;

    for (char *s = path + 1; *s != '\0' && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        rc = alog_mkdir(path);
        *s = '/';
    }
    if (rc == 0)
        rc = alog_mkdir(path);
    free(path);
    return rc;
}

static const char *alog_check_config(const struct alog_config *cfg)
{
    if (cfg->dir == NULL || cfg->dir[0] == '\0')
        return "access log directory not set";
    if (cfg->nworkers == 0)
        return "access log needs at least one worker buffer";
    if (cfg->period == ALOG_SIZE && cfg->max_size == 0)
        return "access log size rollover needs a maximum size";
    if ((unsigned)cfg->format > ALOG_SQLITE || (unsigned)cfg->period > ALOG_SIZE)
        return "access log format or period out of range";
    return NULL;
}

static struct alog_worker *alog_workers_new(unsigned n)
{
    void *p = NULL;

    if (posix_memalign(&p, ALOG_CACHELINE, n * sizeof(struct alog_worker)) != 0)
        fatalx("accesslog: out of memory for %u worker buffers", n);
    memset(p, 0, n * sizeof(struct alog_worker));
    return p;
}

static struct alog *alog_new(const struct alog_config *cfg)
{
    struct alog *l = xcalloc(1, sizeof(*l));
    pthread_condattr_t ca;
    size_t dn = strlen(cfg->dir);

    while (dn > 1 && cfg->dir[dn - 1] == '/')
        dn--;
    l->dir = xstrndup(cfg->dir, dn);
    l->format = cfg->format;
    l->period = cfg->period;
    l->max_size = cfg->max_size;
    l->nworkers = cfg->nworkers;
    l->stats_slot = cfg->service && cfg->site ? stats_slot(cfg->service, cfg->site) : -1;
    l->workers = alog_workers_new(cfg->nworkers);
    l->fd = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    return l;
}

static void alog_free(struct alog *l)
{
    alog_file_close(l);
    logdb_close(l->db);
    for (unsigned i = 0; i < l->nworkers; i++)
        buf_free(&l->workers[i].buf);
    free(l->workers);
    buf_free(&l->pending);
    buf_free(&l->batch);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l->dir);
    free(l);
}

/* The writer blocks every signal: they belong to the threads that expect them. */
static int alog_start_writer(struct alog *l)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&l->thread, NULL, alog_writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int alog_db_open(struct alog *l, const struct alog_config *cfg, const char **err)
{
    struct logdb_config dc = {.dir = l->dir, .service = cfg->service, .site = cfg->site,
                              .period = cfg->period, .max_size = cfg->max_size,
                              .keep = cfg->keep_periods};

    l->db = logdb_open(&dc, time(NULL), err);
    if (l->db == NULL)
        return -1;
    l->path = logdb_path(l->db);
    return 0;
}

struct alog *alog_open(const struct alog_config *cfg, const char **err)
{
    struct alog *l;

    *err = alog_check_config(cfg);
    if (*err != NULL)
        return NULL;
    l = alog_new(cfg);
    if (alog_mkdirs(l->dir) == -1) {
        *err = "cannot create the access log directory";
        goto fail;
    }
    if (l->format == ALOG_SQLITE) {
        if (alog_db_open(l, cfg, err) == -1)
            goto fail;
    } else {
        if (l->period == ALOG_SIZE)
            l->seq = alog_scan_seq(l);
        if (alog_file_open(l, time(NULL)) == -1) {
            *err = "cannot open the access log file";
            goto fail;
        }
    }
    if (alog_start_writer(l) != 0) {
        *err = "cannot start the access log writer thread";
        goto fail;
    }
    return l;
fail:
    alog_free(l);
    return NULL;
}

void alog_close(struct alog *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    for (unsigned i = 0; i < l->nworkers; i++)
        alog_hand_over(l, &l->workers[i], true);
    l->stop = true;
    alog_wake_writer(l);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    alog_free(l);
}
