/*
 * ftp-load: the FTP client of bench/ftp, blocking sockets, one thread per
 * client. Three modes (-x):
 *
 *   sessions (default): -c threads run small-file sessions one after another
 *     for -d seconds (or -n sessions in all). One session is: connect, read
 *     the 220 greeting; USER anonymous (331 -> PASS PASSWORD -> 230, or 230
 *     at once); TYPE I (200); EPSV (229) or, with -m pasv, PASV (227), and
 *     connect to the data port; RETR PATH (150 or 125); read the data
 *     connection until the server closes it, every byte compared with -e
 *     FILE; the 226 (or 250); QUIT (221); close.
 *   get: the same session, one thread, for a large file: RETR -f PATH, every
 *     byte compared with -e FILE (mmap). -n sessions one after another.
 *   put: STOR -f PATH of the bytes of -l FILE; with -n > 1 the i-th session
 *     (from 0) stores PATH.i.
 *
 * -S: explicit FTPS (RFC 4217) on top: AUTH TLS (234) and the handshake
 * right after the greeting, PBSZ 0 and PROT P (200) after the login, and a
 * TLS handshake on the data connection that resumes the control
 * connection's session (required; a data connection that does not resume
 * is an error). The data handshake starts right after RETR/STOR is sent,
 * so it suits servers that answer 150 before or after it. TLS 1.3 only,
 * suite -T (TLS_AES_128_GCM_SHA256), the certificate verified against -C
 * FILE (the only CA) and the address 127.0.0.1.
 *
 * Every reply is read whole (multi-line replies too) and its code checked;
 * anything else is an error of the step it happened in, and the session is
 * abandoned. Times: a session from connect to the 221 (close); a transfer
 * (get/put) from sending RETR/STOR to reading the 226.
 *
 * In sessions mode the client closes the data connection, after the
 * server's FIN, with SO_LINGER 0 (an RST; -r fin for an ordinary close): the
 * server's side then leaves no TIME_WAIT socket holding its passive port,
 * so thousands of sessions a second do not run out of passive ports.
 *
 * -H (sessions mode, with -n): every thread holds its session after the
 * 226, before QUIT, until all -n have got there; then "held N" is printed and
 * the sessions wait for a line on stdin before they QUIT (bench/ftp reads
 * the server's processes meanwhile).
 *
 * Prints one "key value" line per figure. Exit status 0 when the run took
 * place (errors or not), 2 on a usage or setup error. bench/ftp compiles it:
 * cc -O2 -pthread ftp-load.c -lssl -lcrypto.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define LINE_BYTES 4096
#define IO_BUF (256 * 1024)

enum step {
    E_CONNECT, E_GREETING, E_AUTH, E_TLS, E_USER, E_PASS, E_PROT, E_TYPE, E_PASV,
    E_DATA_CONNECT, E_DATA_TLS, E_NOT_RESUMED, E_XFER_CMD, E_DATA_IO, E_LENGTH, E_MISMATCH,
    E_TRANSFER, E_QUIT, E_TIMEOUT, E_STEPS
};

static const char *const step_names[E_STEPS] = {
    "connect", "greeting", "auth", "tls", "user", "pass", "prot", "type", "pasv",
    "data_connect", "data_tls", "not_resumed", "xfer_cmd", "data_io", "length", "mismatch",
    "transfer", "quit", "timeout",
};

enum mode { M_SESSIONS, M_GET, M_PUT };

struct opts {
    struct sockaddr_in addr;
    enum mode mode;
    const char *path;
    const char *user;
    const char *pass;
    int threads;
    double duration;  /* seconds; 0 in count mode */
    long count;       /* sessions in all; 0 in duration mode */
    const char *expect_path;
    const char *local_path;
    double timeout;   /* seconds one blocking call may wait */
    int pasv;         /* PASV instead of EPSV */
    int rst;          /* abortive close of the data connection (sessions mode) */
    int tls;
    const char *ca;
    const char *suite;
    int hold;
};

struct chan {          /* a socket, maybe with TLS, and its read buffer */
    int fd;
    SSL *ssl;
    char buf[LINE_BYTES];
    size_t len, off;
};

struct worker {
    pthread_t tid;
    long ok, started, bytes;
    long errs[E_STEPS];
    double lat_sum, lat_max, xfer_sum;
    int resumed, tls_seen;
    char tls_version[32], tls_cipher[64];
    char first_error[300];
    unsigned char *io;
};

static struct opts o;
static const unsigned char *expect;   /* get/sessions: the bytes the server must send */
static size_t expect_len;
static const unsigned char *local;    /* put: the bytes to send */
static size_t local_len;
static SSL_CTX *ctx;
static atomic_int stop;
static atomic_long issued;
static struct worker *workers;
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int holding, released;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ftp-load -p PORT [-a ADDR] -f PATH [-x sessions|get|put] [-c THREADS]\n"
            "                (-d SECONDS | -n COUNT) [-e EXPECT_FILE] [-l LOCAL_FILE]\n"
            "                [-m epsv|pasv] [-r rst|fin] [-t TIMEOUT] [-u USER] [-w PASSWORD]\n"
            "                [-S -C CA_FILE [-T TLS13_SUITE]] [-H]\n");
    exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ftp-load: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
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
        fprintf(stderr, "ftp-load: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void parse_opts(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    long port = 0;
    int c;

    o.user = "anonymous";
    o.pass = "bench@example.com";
    o.threads = 20;
    o.timeout = 10.0;
    o.rst = 1;
    o.suite = "TLS_AES_128_GCM_SHA256";
    while ((c = getopt(argc, argv, "a:p:f:x:c:d:n:e:l:m:r:t:u:w:SC:T:H")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'p': port = parse_long(optarg, 1, 65535, "port"); break;
        case 'f': o.path = optarg; break;
        case 'x':
            if (!strcmp(optarg, "sessions"))
                o.mode = M_SESSIONS;
            else if (!strcmp(optarg, "get"))
                o.mode = M_GET;
            else if (!strcmp(optarg, "put"))
                o.mode = M_PUT;
            else
                usage();
            break;
        case 'c': o.threads = (int)parse_long(optarg, 1, MAX_THREADS, "threads"); break;
        case 'd': o.duration = parse_double(optarg, 0.01, 3600, "duration"); break;
        case 'n': o.count = parse_long(optarg, 1, 1000000000L, "count"); break;
        case 'e': o.expect_path = optarg; break;
        case 'l': o.local_path = optarg; break;
        case 'm':
            if (strcmp(optarg, "epsv") && strcmp(optarg, "pasv"))
                usage();
            o.pasv = !strcmp(optarg, "pasv");
            break;
        case 'r':
            if (strcmp(optarg, "rst") && strcmp(optarg, "fin"))
                usage();
            o.rst = !strcmp(optarg, "rst");
            break;
        case 't': o.timeout = parse_double(optarg, 0.01, 600, "timeout"); break;
        case 'u': o.user = optarg; break;
        case 'w': o.pass = optarg; break;
        case 'S': o.tls = 1; break;
        case 'C': o.ca = optarg; break;
        case 'T': o.suite = optarg; break;
        case 'H': o.hold = 1; break;
        default: usage();
        }
    }
    if (optind != argc || !port || !o.path || (o.duration > 0) == (o.count > 0))
        usage();
    if (o.mode != M_SESSIONS) {
        o.threads = 1;
        if (!o.count)
            usage();
    }
    if ((o.mode == M_PUT) != (o.local_path != NULL) || (o.tls && !o.ca) ||
        (o.hold && (o.mode != M_SESSIONS || !o.count)))
        usage();
    if (strlen(o.path) > 900 || strpbrk(o.path, "\r\n")) {
        fprintf(stderr, "ftp-load: bad path\n");
        exit(2);
    }
    if (o.hold)
        o.threads = (int)(o.count < o.threads ? o.count : o.threads);
    o.addr.sin_family = AF_INET;
    o.addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, addr, &o.addr.sin_addr) != 1) {
        fprintf(stderr, "ftp-load: bad IPv4 address '%s'\n", addr);
        exit(2);
    }
}

static const unsigned char *map_file(const char *path, size_t *len)
{
    struct stat st;
    void *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "ftp-load: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    *len = (size_t)st.st_size;
    if (!*len) {
        close(fd);
        return (const unsigned char *)"";
    }
    p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fprintf(stderr, "ftp-load: cannot map %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return p;
}

static void tls_setup(void)
{
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_ciphersuites(ctx, o.suite) ||
        SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1) {
        fprintf(stderr, "ftp-load: TLS set-up failed (CA %s, suite %s)\n", o.ca, o.suite);
        ERR_print_errors_fp(stderr);
        exit(2);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* TLS 1.3 tickets arrive after the handshake: keep the newest one */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

/* A connected blocking TCP socket with send and receive time-outs, or -1. */
static int dial(const struct sockaddr_in *to, int nodelay)
{
    struct timeval tv = { .tv_sec = (time_t)o.timeout,
                          .tv_usec = (suseconds_t)((o.timeout - (double)(time_t)o.timeout) * 1e6) };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("ftp-load: socket");
        exit(2);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (nodelay)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* TLS client on CH->fd, resuming SESS if given; 0, or -1 (-2 timed out). */
static int tls_start(struct chan *ch, SSL_SESSION *sess)
{
    X509_VERIFY_PARAM *vp;

    ch->ssl = SSL_new(ctx);
    if (!ch->ssl)
        return -1;
    vp = SSL_get0_param(ch->ssl);
    X509_VERIFY_PARAM_set1_ip_asc(vp, "127.0.0.1");
    SSL_set_fd(ch->ssl, ch->fd);
    if (sess)
        SSL_set_session(ch->ssl, sess);
    if (SSL_connect(ch->ssl) != 1) {
        int timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
        ERR_clear_error();
        return timed_out ? -2 : -1;
    }
    return 0;
}

/* Bytes read (> 0), 0 at the end (EOF or close_notify), -1 error, -2 time-out. */
static ssize_t chan_read(struct chan *ch, void *p, size_t n)
{
    if (ch->ssl) {
        int r = SSL_read(ch->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
        if (r > 0)
            return r;
        switch (SSL_get_error(ch->ssl, r)) {
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            if (r == 0 || errno == 0)
                return 0;   /* EOF without close_notify */
            return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
        case SSL_ERROR_WANT_READ:
            ERR_clear_error();
            return -2;
        default:
            ERR_clear_error();
            return -1;
        }
    }
    for (;;) {
        ssize_t r = recv(ch->fd, p, n, 0);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
}

static int chan_write(struct chan *ch, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        ssize_t w;
        if (ch->ssl) {
            int r = SSL_write(ch->ssl, s, (int)(n > 1 << 30 ? 1 << 30 : n));
            if (r <= 0) {
                ERR_clear_error();
                return -1;
            }
            w = r;
        } else {
            w = send(ch->fd, s, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static void chan_close(struct chan *ch, int abortive)
{
    if (ch->ssl) {
        SSL_free(ch->ssl);
        ch->ssl = NULL;
    }
    if (ch->fd >= 0) {
        if (abortive) {
            struct linger lg = { .l_onoff = 1, .l_linger = 0 };
            setsockopt(ch->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(ch->fd);
    }
    ch->fd = -1;
    ch->len = ch->off = 0;
}

/* -2: timed out; -1: another error or EOF; else the line length (CRLF off). */
static int read_line(struct chan *ch, char *line, size_t cap)
{
    size_t n = 0;

    for (;;) {
        while (ch->off < ch->len) {
            char c = ch->buf[ch->off++];
            if (c == '\n') {
                if (n && line[n - 1] == '\r')
                    n--;
                line[n] = 0;
                return (int)n;
            }
            if (n + 1 < cap)
                line[n++] = c;
        }
        ssize_t r = chan_read(ch, ch->buf, sizeof(ch->buf));
        if (r <= 0)
            return r == -2 ? -2 : -1;
        ch->len = (size_t)r;
        ch->off = 0;
    }
}

/* One whole reply (multi-line too): its code (0 malformed), -2 timed out,
 * -1 lost. The last line goes to TEXT. */
static int read_reply(struct chan *ch, char *text, size_t cap)
{
    char line[1024];
    int n = read_line(ch, line, sizeof(line));
    int code;

    if (n < 0)
        return n;
    if (n < 3 || line[0] < '1' || line[0] > '5')
        return 0;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (n > 3 && line[3] == '-') {
        for (;;) {
            n = read_line(ch, line, sizeof(line));
            if (n < 0)
                return n;
            if (n >= 4 && atoi(line) == code && line[3] == ' ')
                break;
        }
    }
    snprintf(text, cap, "%.*s", (int)(cap - 1), line);
    return code;
}

static int send_cmd(struct chan *ch, const char *fmt, const char *arg)
{
    char b[1100];
    int n = snprintf(b, sizeof(b), fmt, arg);

    return chan_write(ch, b, (size_t)n);
}

static void fail(struct worker *w, enum step s, int code, const char *text)
{
    if (code == -2)
        s = E_TIMEOUT;
    w->errs[s]++;
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof(w->first_error), "%s: %.250s", step_names[s],
                 text && text[0] ? text : code == -1 ? "connection lost" : "?");
}

/* Send CMD (with ARG) and expect CODE or ALT; on anything else count STEP. */
static int cmd(struct worker *w, struct chan *ch, enum step s, const char *fmt, const char *arg,
               int code, int alt, char *text, size_t cap)
{
    int got;

    if (fmt && send_cmd(ch, fmt, arg) < 0) {
        fail(w, s, -1, "send failed");
        return -1;
    }
    got = read_reply(ch, text, cap);
    if (got == code || (alt && got == alt))
        return got;
    fail(w, s, got, got >= 0 ? text : NULL);
    return -1;
}

static int parse_epsv(const char *text, struct sockaddr_in *to)
{
    const char *p = strchr(text, '(');
    unsigned port;

    if (!p || !p[1] || p[2] != p[1] || p[3] != p[1])
        return -1;
    if (sscanf(p + 4, "%u", &port) != 1 || port == 0 || port > 65535)
        return -1;
    *to = o.addr;
    to->sin_port = htons((unsigned short)port);
    return 0;
}

static int parse_pasv(const char *text, struct sockaddr_in *to)
{
    unsigned h[4], p[2];
    const char *s = text + 3;

    while (*s && (*s < '0' || *s > '9'))
        s++;
    if (sscanf(s, "%u,%u,%u,%u,%u,%u", &h[0], &h[1], &h[2], &h[3], &p[0], &p[1]) != 6 ||
        p[0] > 255 || p[1] > 255)
        return -1;
    *to = o.addr;   /* the address in the reply is not used: always ours */
    to->sin_port = htons((unsigned short)(p[0] * 256 + p[1]));
    return 0;
}

static void hold_here(void)
{
    pthread_mutex_lock(&hold_mu);
    holding++;
    pthread_cond_broadcast(&hold_cv);
    while (!released)
        pthread_cond_wait(&hold_cv, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
}

/* Receive the file: every byte compared with EXPECT; bytes, or -1. */
static long recv_file(struct worker *w, struct chan *d)
{
    size_t got = 0;

    for (;;) {
        ssize_t n = chan_read(d, w->io, IO_BUF);
        if (n > 0) {
            if (expect && (got + (size_t)n > expect_len ||
                           memcmp(w->io, expect + got, (size_t)n) != 0)) {
                fail(w, got + (size_t)n > expect_len ? E_LENGTH : E_MISMATCH, 0,
                     got + (size_t)n > expect_len ? "more bytes than the file" : "content");
                return -1;
            }
            got += (size_t)n;
        } else if (n == 0) {
            break;
        } else {
            fail(w, E_DATA_IO, (int)n, "data connection read");
            return -1;
        }
    }
    if (expect && got != expect_len) {
        char t[80];
        snprintf(t, sizeof(t), "%zu bytes, not %zu", got, expect_len);
        fail(w, E_LENGTH, 0, t);
        return -1;
    }
    return (long)got;
}

/* Send LOCAL, then end the data connection the way the protocol wants. */
static long send_file(struct worker *w, struct chan *d)
{
    size_t off = 0;
    char sink[512];

    while (off < local_len) {
        size_t n = local_len - off < IO_BUF ? local_len - off : IO_BUF;
        if (chan_write(d, local + off, n) < 0) {
            fail(w, E_DATA_IO, errno == EAGAIN ? -2 : -1, "data connection write");
            return -1;
        }
        off += n;
    }
    if (d->ssl)
        SSL_shutdown(d->ssl);   /* our close_notify */
    shutdown(d->fd, SHUT_WR);
    while (chan_read(d, sink, sizeof(sink)) > 0)
        ;   /* until the server closes its side */
    return (long)off;
}

static void session(struct worker *w, long index)
{
    struct chan c = { .fd = -1 }, d = { .fd = -1 };
    char text[1024], name[1000];
    struct sockaddr_in to;
    SSL_SESSION *sess = NULL;
    int code, rc;
    long got;
    double t0 = now_s(), tx;

    c.fd = dial(&o.addr, 1);
    if (c.fd < 0) {
        fail(w, E_CONNECT, errno == EAGAIN || errno == ETIMEDOUT ? -2 : 0, strerror(errno));
        return;
    }
    if (cmd(w, &c, E_GREETING, NULL, NULL, 220, 0, text, sizeof(text)) < 0)
        goto out;
    if (o.tls) {
        if (cmd(w, &c, E_AUTH, "%s", "AUTH TLS\r\n", 234, 0, text, sizeof(text)) < 0)
            goto out;
        if ((rc = tls_start(&c, NULL)) < 0) {
            fail(w, E_TLS, rc, "control connection handshake");
            goto out;
        }
    }
    code = cmd(w, &c, E_USER, "USER %s\r\n", o.user, 331, 230, text, sizeof(text));
    if (code < 0)
        goto out;
    if (code == 331 && cmd(w, &c, E_PASS, "PASS %s\r\n", o.pass, 230, 0, text, sizeof(text)) < 0)
        goto out;
    if (o.tls) {
        if (cmd(w, &c, E_PROT, "%s", "PBSZ 0\r\n", 200, 0, text, sizeof(text)) < 0 ||
            cmd(w, &c, E_PROT, "%s", "PROT P\r\n", 200, 0, text, sizeof(text)) < 0)
            goto out;
        /* the replies read so far brought the session ticket(s) */
        sess = SSL_get1_session(c.ssl);
        if (!w->tls_seen) {
            w->tls_seen = 1;
            snprintf(w->tls_version, sizeof(w->tls_version), "%s", SSL_get_version(c.ssl));
            snprintf(w->tls_cipher, sizeof(w->tls_cipher), "%s",
                     SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl)));
        }
    }
    if (cmd(w, &c, E_TYPE, "%s", "TYPE I\r\n", 200, 0, text, sizeof(text)) < 0)
        goto out;
    if (cmd(w, &c, E_PASV, "%s", o.pasv ? "PASV\r\n" : "EPSV\r\n", o.pasv ? 227 : 229, 0,
            text, sizeof(text)) < 0)
        goto out;
    if ((o.pasv ? parse_pasv(text, &to) : parse_epsv(text, &to)) < 0) {
        fail(w, E_PASV, 0, text);
        goto out;
    }
    d.fd = dial(&to, 0);
    if (d.fd < 0) {
        fail(w, E_DATA_CONNECT, 0, strerror(errno));
        goto out;
    }
    if (o.mode == M_PUT && o.count > 1)
        snprintf(name, sizeof(name), "%s.%ld", o.path, index);
    else
        snprintf(name, sizeof(name), "%s", o.path);
    tx = now_s();
    if (send_cmd(&c, o.mode == M_PUT ? "STOR %s\r\n" : "RETR %s\r\n", name) < 0) {
        fail(w, E_XFER_CMD, -1, "send failed");
        goto out;
    }
    if (o.tls) {
        if ((rc = tls_start(&d, sess)) < 0) {
            fail(w, E_DATA_TLS, rc, "data connection handshake");
            goto out;
        }
        if (!SSL_session_reused(d.ssl)) {
            fail(w, E_NOT_RESUMED, 0, "the data connection did not resume the TLS session");
            goto out;
        }
        w->resumed++;
    }
    if (cmd(w, &c, E_XFER_CMD, NULL, NULL, 150, 125, text, sizeof(text)) < 0)
        goto out;
    got = o.mode == M_PUT ? send_file(w, &d) : recv_file(w, &d);
    if (got < 0)
        goto out;
    chan_close(&d, o.mode == M_SESSIONS && o.rst);
    if (cmd(w, &c, E_TRANSFER, NULL, NULL, 226, 250, text, sizeof(text)) < 0)
        goto out;
    tx = now_s() - tx;
    w->bytes += got;
    if (o.hold)
        hold_here();
    if (cmd(w, &c, E_QUIT, "%s", "QUIT\r\n", 221, 0, text, sizeof(text)) < 0)
        goto out;
    {
        double lat = now_s() - t0;
        w->ok++;
        w->lat_sum += lat;
        w->xfer_sum += tx;
        if (lat > w->lat_max)
            w->lat_max = lat;
    }
out:
    if (sess)
        SSL_SESSION_free(sess);
    chan_close(&d, 0);
    chan_close(&c, 0);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    while (!atomic_load(&stop)) {
        long i = atomic_fetch_add(&issued, 1);
        if (o.count && i >= o.count)
            break;
        w->started++;
        session(w, i);
        if (o.hold)
            break;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    long ok = 0, started = 0, bytes = 0, errors = 0, resumed = 0, errs[E_STEPS] = {0};
    double t0, elapsed, lat_sum = 0, lat_max = 0, xfer_sum = 0;
    const char *first = "", *tls_version = "", *tls_cipher = "";

    parse_opts(argc, argv);
    if (o.expect_path)
        expect = map_file(o.expect_path, &expect_len);
    if (o.local_path)
        local = map_file(o.local_path, &local_len);
    if (o.tls)
        tls_setup();
    workers = calloc((size_t)o.threads, sizeof(*workers));
    if (!workers)
        return 2;
    for (int i = 0; i < o.threads; i++)
        if (!(workers[i].io = malloc(IO_BUF)))
            return 2;
    t0 = now_s();
    for (int i = 0; i < o.threads; i++) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "ftp-load: pthread_create failed\n");
            return 2;
        }
    }
    if (o.hold) {
        /* wait until every session is held (or failed), then for stdin */
        char line[64];
        double give_up = now_s() + o.timeout + 5;
        pthread_mutex_lock(&hold_mu);
        for (;;) {
            long failed = 0;
            for (int i = 0; i < o.threads; i++)
                for (int k = 0; k < E_STEPS; k++)
                    failed += workers[i].errs[k];
            if (holding + failed >= o.threads || now_s() > give_up)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20000000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&hold_cv, &hold_mu, &ts);
        }
        printf("held %d\n", holding);
        fflush(stdout);
        pthread_mutex_unlock(&hold_mu);
        if (!fgets(line, sizeof(line), stdin))
            line[0] = 0;
        pthread_mutex_lock(&hold_mu);
        released = 1;
        pthread_cond_broadcast(&hold_cv);
        pthread_mutex_unlock(&hold_mu);
    } else if (o.duration > 0) {
        double end = t0 + o.duration;
        for (double t = now_s(); t < end; t = now_s()) {
            double left = end - t;
            struct timespec ts = { .tv_sec = (time_t)left,
                                   .tv_nsec = (long)((left - (double)(time_t)left) * 1e9) };
            nanosleep(&ts, NULL);
        }
        atomic_store(&stop, 1);
    }
    for (int i = 0; i < o.threads; i++)
        pthread_join(workers[i].tid, NULL);
    elapsed = now_s() - t0;
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &workers[i];
        ok += w->ok;
        started += w->started;
        bytes += w->bytes;
        resumed += w->resumed;
        lat_sum += w->lat_sum;
        xfer_sum += w->xfer_sum;
        if (w->lat_max > lat_max)
            lat_max = w->lat_max;
        for (int k = 0; k < E_STEPS; k++) {
            errs[k] += w->errs[k];
            errors += w->errs[k];
        }
        if (!first[0] && w->first_error[0])
            first = w->first_error;
        if (!tls_version[0] && w->tls_seen) {
            tls_version = w->tls_version;
            tls_cipher = w->tls_cipher;
        }
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("sessions %ld\n", ok);
    printf("errors %ld\n", errors);
    printf("elapsed %.6f\n", elapsed);
    printf("started %ld\n", started);
    printf("bytes %ld\n", bytes);
    printf("sessions_per_s %.1f\n", elapsed > 0 ? (double)ok / elapsed : 0.0);
    printf("latency_avg_ms %.3f\n", ok ? lat_sum * 1e3 / (double)ok : 0.0);
    printf("latency_max_ms %.3f\n", lat_max * 1e3);
    printf("xfer_s %.6f\n", xfer_sum);
    printf("mb_per_s %.1f\n", xfer_sum > 0 ? (double)bytes / xfer_sum / 1048576.0 : 0.0);
    for (int k = 0; k < E_STEPS; k++)
        printf("err_%s %ld\n", step_names[k], errs[k]);
    if (o.tls)
        printf("tls_resumed %ld\ntls_version %s\ntls_cipher %s\n", resumed,
               tls_version[0] ? tls_version : "-", tls_cipher[0] ? tls_cipher : "-");
    printf("client_cpu_s %.3f\n",
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    if (first[0])
        printf("first_error %s\n", first);
    return 0;
}
