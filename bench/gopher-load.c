/*
 * gopher-load: the load generator of bench/gopher. -c clients each make one
 * Gopher request per new TCP connection (RFC 1436: one request, then the
 * server closes) — connect, SELECTOR CRLF, read until EOF — one after
 * another, for -d seconds or -n requests in all, on one thread with epoll.
 * With -e FILE every response's length is checked against FILE (the bytes
 * the server must send) and every -k-th response byte for byte.
 *
 * Prints one "key value" line per figure (requests, errors by kind, elapsed
 * seconds, ...). Exit status 0 when the run took place (errors or not), 2 on
 * a usage or setup error. bench/gopher compiles it: cc -O2 gopher-load.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_SELECTOR 1024
#define MAX_EXPECT (64L * 1024 * 1024)
#define SCRATCH 65536

enum err_kind { E_CONNECT, E_SEND, E_READ, E_TIMEOUT, E_LENGTH, E_MISMATCH, E_KINDS };

static const char *const err_names[E_KINDS] = {
    "connect", "send", "read", "timeout", "length", "mismatch",
};

enum slot_state { S_IDLE, S_CONNECTING, S_READING };

struct slot {
    int fd;
    enum slot_state state;
    int checked;        /* this response is compared byte for byte */
    size_t got;         /* bytes received so far */
    double started;
    unsigned char *buf; /* expect_len + 1 bytes, for a checked response */
};

struct opts {
    struct sockaddr_in addr;
    const char *selector;
    int conns;
    double duration; /* seconds; 0 in count mode */
    long count;      /* requests in all; 0 in duration mode */
    const char *expect_path;
    long check_every;
    double timeout;  /* seconds one request may take */
};

struct run {
    struct opts o;
    char req[MAX_SELECTOR + 3];
    size_t req_len;
    unsigned char *expect;
    size_t expect_len;
    struct slot *slots;
    int ep, active;
    long started, ok, checked;
    long errs[E_KINDS];
    unsigned long long bytes;
    double t0, stop_at, lat_sum, lat_max;
};

static unsigned char scratch[SCRATCH];

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gopher-load -p PORT [-a ADDR] [-s SELECTOR] [-c CONNS] (-d SECONDS | -n COUNT)\n"
            "                   [-e EXPECT_FILE] [-k CHECK_EVERY] [-t TIMEOUT]\n");
    exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gopher-load: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static double parse_double(const char *s, double lo, double hi, const char *what)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "gopher-load: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    const char *addr = "127.0.0.1";
    long port = 0;
    int c;

    memset(o, 0, sizeof(*o));
    o->selector = "";
    o->conns = 16;
    o->check_every = 8;
    o->timeout = 5.0;
    while ((c = getopt(argc, argv, "a:p:s:c:d:n:e:k:t:")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'p': port = parse_long(optarg, 1, 65535, "port"); break;
        case 's': o->selector = optarg; break;
        case 'c': o->conns = (int)parse_long(optarg, 1, MAX_CONNS, "connections"); break;
        case 'd': o->duration = parse_double(optarg, 0.01, 3600, "duration"); break;
        case 'n': o->count = parse_long(optarg, 1, 1000000000L, "count"); break;
        case 'e': o->expect_path = optarg; break;
        case 'k': o->check_every = parse_long(optarg, 1, 1000000000L, "check interval"); break;
        case 't': o->timeout = parse_double(optarg, 0.01, 600, "timeout"); break;
        default: usage();
        }
    }
    if (optind != argc || !port || (o->duration > 0) == (o->count > 0))
        usage();
    if (strlen(o->selector) > MAX_SELECTOR) {
        fprintf(stderr, "gopher-load: selector longer than %d bytes\n", MAX_SELECTOR);
        exit(2);
    }
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, addr, &o->addr.sin_addr) != 1) {
        fprintf(stderr, "gopher-load: bad IPv4 address '%s'\n", addr);
        exit(2);
    }
}

/* The whole of PATH, which must not be larger than MAX_EXPECT. */
static unsigned char *read_file(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *p;
    size_t off = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > MAX_EXPECT)
        goto fail;
    p = malloc((size_t)st.st_size + 1);
    if (!p)
        goto fail;
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, p + off, (size_t)st.st_size - off);
        if (n <= 0) {
            free(p);
            goto fail;
        }
        off += (size_t)n;
    }
    close(fd);
    *len = off;
    return p;
fail:
    fprintf(stderr, "gopher-load: cannot read %s: %s\n", path,
            errno ? strerror(errno) : "too large");
    if (fd >= 0)
        close(fd);
    exit(2);
}

static int want_more(const struct run *r, double t)
{
    if (r->o.count)
        return r->started < r->o.count;
    return t < r->stop_at;
}

static void slot_close(struct run *r, struct slot *s)
{
    close(s->fd); /* also takes it out of the epoll set */
    s->fd = -1;
    s->state = S_IDLE;
    r->active--;
}

static void slot_fail(struct run *r, struct slot *s, enum err_kind k)
{
    r->errs[k]++;
    slot_close(r, s);
}

/* The server closed: judge the response by its length and, if sampled, its bytes. */
static void slot_done(struct run *r, struct slot *s)
{
    double lat = now_s() - s->started;

    r->bytes += s->got;
    if (r->expect && s->got != r->expect_len) {
        slot_fail(r, s, E_LENGTH);
        return;
    }
    if (r->expect && s->checked) {
        if (memcmp(s->buf, r->expect, r->expect_len) != 0) {
            slot_fail(r, s, E_MISMATCH);
            return;
        }
        r->checked++;
    }
    if (!r->expect && s->got == 0) {
        slot_fail(r, s, E_LENGTH);
        return;
    }
    r->ok++;
    r->lat_sum += lat;
    if (lat > r->lat_max)
        r->lat_max = lat;
    slot_close(r, s);
}

static int slot_send(struct run *r, struct slot *s)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
    ssize_t n = send(s->fd, r->req, r->req_len, MSG_NOSIGNAL);

    if (n != (ssize_t)r->req_len) { /* a few bytes on a fresh socket: all or nothing */
        slot_fail(r, s, E_SEND);
        return -1;
    }
    if (epoll_ctl(r->ep, s->state == S_IDLE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s->fd, &ev) < 0) {
        perror("gopher-load: epoll_ctl");
        exit(2);
    }
    s->state = S_READING;
    return 0;
}

static void slot_start(struct run *r, struct slot *s)
{
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };

    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        perror("gopher-load: socket");
        exit(2);
    }
    r->active++;
    r->started++;
    s->got = 0;
    s->checked = r->expect && (r->started % r->o.check_every) == 0;
    s->started = now_s();
    s->state = S_IDLE;
    if (connect(s->fd, (const struct sockaddr *)&r->o.addr, sizeof(r->o.addr)) == 0) {
        slot_send(r, s);
        return;
    }
    if (errno != EINPROGRESS) {
        slot_fail(r, s, E_CONNECT);
        return;
    }
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        perror("gopher-load: epoll_ctl");
        exit(2);
    }
    s->state = S_CONNECTING;
}

static void slot_connected(struct run *r, struct slot *s)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        slot_fail(r, s, E_CONNECT);
        return;
    }
    slot_send(r, s);
}

static void slot_read(struct run *r, struct slot *s)
{
    for (;;) {
        unsigned char *dst = scratch;
        size_t room = sizeof(scratch);
        ssize_t n;

        if (s->checked && s->got <= r->expect_len) { /* keep one byte more: too long shows */
            dst = s->buf + s->got;
            room = r->expect_len + 1 - s->got;
        }
        n = read(s->fd, dst, room);
        if (n > 0) {
            s->got += (size_t)n;
        } else if (n == 0) {
            slot_done(r, s);
            return;
        } else if (errno == EAGAIN || errno == EINTR) {
            return;
        } else {
            slot_fail(r, s, E_READ);
            return;
        }
    }
}

static void handle(struct run *r, struct slot *s, unsigned events)
{
    if (s->state == S_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            slot_connected(r, s);
    } else if (s->state == S_READING) {
        slot_read(r, s);
    }
}

static void expire(struct run *r, double t)
{
    for (int i = 0; i < r->o.conns; i++) {
        struct slot *s = &r->slots[i];
        if (s->state != S_IDLE && t - s->started > r->o.timeout)
            slot_fail(r, s, E_TIMEOUT);
    }
}

static void fill_idle(struct run *r)
{
    double t = now_s();

    for (int i = 0; i < r->o.conns; i++)
        if (r->slots[i].state == S_IDLE && want_more(r, t))
            slot_start(r, &r->slots[i]);
}

static void run_load(struct run *r)
{
    struct epoll_event evs[256];

    r->t0 = now_s();
    r->stop_at = r->t0 + r->o.duration;
    fill_idle(r);
    while (r->active > 0) {
        int n = epoll_wait(r->ep, evs, 256, 50);
        if (n < 0 && errno != EINTR) {
            perror("gopher-load: epoll_wait");
            exit(2);
        }
        for (int i = 0; i < n; i++)
            handle(r, evs[i].data.ptr, evs[i].events);
        expire(r, now_s());
        fill_idle(r);
    }
}

static void report(const struct run *r, double elapsed)
{
    struct rusage ru;
    long errors = 0;

    for (int k = 0; k < E_KINDS; k++)
        errors += r->errs[k];
    getrusage(RUSAGE_SELF, &ru);
    printf("requests %ld\n", r->ok);
    printf("errors %ld\n", errors);
    printf("elapsed %.6f\n", elapsed);
    printf("started %ld\n", r->started);
    printf("checked %ld\n", r->checked);
    printf("bytes %llu\n", r->bytes);
    printf("req_per_s %.1f\n", elapsed > 0 ? (double)r->ok / elapsed : 0.0);
    printf("latency_avg_ms %.3f\n", r->ok ? r->lat_sum * 1e3 / (double)r->ok : 0.0);
    printf("latency_max_ms %.3f\n", r->lat_max * 1e3);
    for (int k = 0; k < E_KINDS; k++)
        printf("err_%s %ld\n", err_names[k], r->errs[k]);
    printf("client_cpu_s %.3f\n",
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

int main(int argc, char **argv)
{
    static struct run r;

    parse_opts(argc, argv, &r.o);
    r.req_len = (size_t)snprintf(r.req, sizeof(r.req), "%s\r\n", r.o.selector);
    if (r.o.expect_path)
        r.expect = read_file(r.o.expect_path, &r.expect_len);
    r.slots = calloc((size_t)r.o.conns, sizeof(*r.slots));
    if (!r.slots)
        return 2;
    for (int i = 0; i < r.o.conns; i++) {
        r.slots[i].fd = -1;
        if (r.expect && !(r.slots[i].buf = malloc(r.expect_len + 1)))
            return 2;
    }
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    if (r.ep < 0) {
        perror("gopher-load: epoll_create1");
        return 2;
    }
    run_load(&r);
    report(&r, now_s() - r.t0);
    return 0;
}
