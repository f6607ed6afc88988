/*
 * infosrv: the daemon. Parses the command line, prepares the state
 * directory, builds and publishes the first configuration generation,
 * starts the workers, then waits for signals in the main thread (every
 * signal is blocked elsewhere and taken with sigtimedwait, so no handler
 * runs at all).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/net.h"
#include "server/gen.h"
#include "server/server.h"
#include "server/stats.h"
#include "version.h"
#include "www/accesslog.h"
#include "www/mime.h"

#define MAX_VDIRS 64
#define GRACE_MS 10000
#define EXIT_USAGE 2

struct vdir_opt {
    char prefix[256];
    char path[PATH_MAX];
    unsigned access;
    enum path_symlinks symlinks;
    bool browse;
};

struct options {
    const char *state_dir;
    const char *root;
    bool root_given;
    struct net_addr http;
    const char *http_str;
    unsigned workers;
    struct vdir_opt vdirs[MAX_VDIRS];
    size_t nvdirs;
    bool browse;
    unsigned header_timeout, keepalive_timeout;
    enum alog_format log_format;
    enum alog_period log_period;
    uint64_t log_size;
    bool check;
};

static const char usage_text[] =
    "usage: infosrv [options]\n"
    "\n"
    "Serves static sites over HTTP/1.1 (the WWW service of infosrv).\n"
    "\n"
    "  --state-dir DIR          state directory (default ./var; created if missing)\n"
    "  --root DIR               home directory of the default site (default ./wwwroot,\n"
    "                           created with a welcome page when missing)\n"
    "  --http ADDR:PORT         WWW listener (default 127.0.0.1:8080; port 0 picks a free\n"
    "                           port; [::1]:PORT for IPv6)\n"
    "  --workers N              worker threads (default: number of CPUs, 1..64)\n"
    "  --vdir PREFIX=DIR[,OPT]  add a virtual directory; OPT is a comma list of browse,\n"
    "                           noread, symlinks=inside|never|any\n"
    "  --browse                 allow directory browsing in the home directory\n"
    "  --header-timeout SEC     time allowed to receive a request head (default 10)\n"
    "  --keepalive-timeout SEC  idle time allowed between requests (default 15)\n"
    "  --log-format w3c|ncsa    access log format (default w3c)\n"
    "  --log-period P           hourly|daily|weekly|monthly|size|none (default daily)\n"
    "  --log-size BYTES         file size for --log-period size (default 10485760)\n"
    "  --check                  validate the configuration and exit (0 = valid)\n"
    "  --version                print the version and exit\n"
    "  --help                   print this help and exit\n"
    "\n"
    "Reserved for later releases: --ftp, --gopher, --admin.\n"
    "Signals: TERM/INT stop gracefully, HUP reloads and flushes the file cache,\n"
    "USR1 reopens log files, USR2 writes STATE_DIR/stats.json and sessions.json.\n";

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...);

static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "infosrv: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    exit(EXIT_USAGE);
}

static uint64_t parse_number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (*s < '0' || *s > '9')
        usage_error("%s needs a number", opt);
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "infosrv: %s must be a number from %llu to %llu, not \"%s\"\n", opt,
                (unsigned long long)min, (unsigned long long)max, s);
        exit(EXIT_USAGE);
    }
    return v;
}

static void parse_vdir_opt(struct vdir_opt *v, char *opt)
{
    if (strcmp(opt, "browse") == 0)
        v->browse = true;
    else if (strcmp(opt, "noread") == 0)
        v->access &= ~(unsigned)VDIR_READ;
    else if (strcmp(opt, "symlinks=inside") == 0)
        v->symlinks = PATH_SYMLINKS_INSIDE;
    else if (strcmp(opt, "symlinks=never") == 0)
        v->symlinks = PATH_SYMLINKS_NEVER;
    else if (strcmp(opt, "symlinks=any") == 0)
        v->symlinks = PATH_SYMLINKS_ANY;
    else
        usage_error("--vdir: unknown option \"%s\"", opt);
}

static void parse_vdir(struct options *o, const char *arg)
{
    struct vdir_opt *v;
    const char *eq = strchr(arg, '='), *p, *comma;
    char *opts;

    if (o->nvdirs == MAX_VDIRS)
        usage_error("too many --vdir options (at most %s)", "64");
    if (eq == NULL || arg[0] != '/' || eq == arg + 1 || eq[1] == '\0')
        usage_error("--vdir expects /PREFIX=DIR[,OPT...], not \"%s\"", arg);
    v = &o->vdirs[o->nvdirs++];
    v->access = VDIR_READ;
    comma = strchr(eq + 1, ',');
    if ((size_t)(eq - arg) >= sizeof(v->prefix) ||
        (comma ? (size_t)(comma - eq - 1) : strlen(eq + 1)) >= sizeof(v->path))
        usage_error("--vdir: prefix or directory too long in \"%s\"", arg);
    memcpy(v->prefix, arg, (size_t)(eq - arg));
    if (comma)
        memcpy(v->path, eq + 1, (size_t)(comma - eq - 1));
    else
        memcpy(v->path, eq + 1, strlen(eq + 1));
    for (p = comma; p != NULL; p = comma) {
        comma = strchr(p + 1, ',');
        opts = comma ? xstrndup(p + 1, (size_t)(comma - p - 1)) : xstrdup(p + 1);
        parse_vdir_opt(v, opts);
        free(opts);
    }
}

static enum alog_period parse_period(const char *s)
{
    static const char *names[] = {"none", "hourly", "daily", "weekly", "monthly", "size"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum alog_period)i;
    usage_error("--log-period must be hourly, daily, weekly, monthly, size or none, not \"%s\"",
                s);
    return ALOG_DAILY;
}

static const char *need_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage_error("%s needs a value", argv[*i]);
    return argv[++*i];
}

static void set_http(struct options *o, const char *s)
{
    const char *why;

    if (net_parse_addr(s, &o->http, &why) == -1) {
        fprintf(stderr, "infosrv: --http %s: %s\n", s, why);
        exit(EXIT_USAGE);
    }
    o->http_str = s;
}

static void parse_args(struct options *o, int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    o->state_dir = "var";
    o->root = "wwwroot";
    o->workers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;
    o->header_timeout = 10;
    o->keepalive_timeout = 15;
    o->log_period = ALOG_DAILY;
    o->log_size = 10 * 1024 * 1024;
    set_http(o, "127.0.0.1:8080");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("infosrv %s\n", INFOSRV_VERSION);
            exit(0);
        } else if (strcmp(a, "--state-dir") == 0) {
            o->state_dir = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--root") == 0) {
            o->root = need_arg(argc, argv, &i);
            o->root_given = true;
        } else if (strcmp(a, "--http") == 0) {
            set_http(o, need_arg(argc, argv, &i));
        } else if (strcmp(a, "--workers") == 0) {
            o->workers = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 64);
        } else if (strcmp(a, "--vdir") == 0) {
            parse_vdir(o, need_arg(argc, argv, &i));
        } else if (strcmp(a, "--browse") == 0) {
            o->browse = true;
        } else if (strcmp(a, "--header-timeout") == 0) {
            o->header_timeout = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 3600);
        } else if (strcmp(a, "--keepalive-timeout") == 0) {
            o->keepalive_timeout = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 3600);
        } else if (strcmp(a, "--log-format") == 0) {
            const char *f = need_arg(argc, argv, &i);
            if (strcmp(f, "w3c") == 0)
                o->log_format = ALOG_W3C;
            else if (strcmp(f, "ncsa") == 0)
                o->log_format = ALOG_NCSA;
            else
                usage_error("--log-format must be w3c or ncsa, not \"%s\"", f);
        } else if (strcmp(a, "--log-period") == 0) {
            o->log_period = parse_period(need_arg(argc, argv, &i));
        } else if (strcmp(a, "--log-size") == 0) {
            o->log_size = parse_number(a, need_arg(argc, argv, &i), 1024, UINT64_MAX / 2);
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if (strcmp(a, "--ftp") == 0 || strcmp(a, "--gopher") == 0 ||
                   strcmp(a, "--admin") == 0) {
            usage_error("%s: this service is not part of this release yet", a);
        } else {
            usage_error("unknown option \"%s\"", a);
        }
    }
}

/* ---- state directory and the default home directory ---- */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return errno = ENAMETOOLONG, -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) == -1 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

static const char welcome_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>infosrv</title></head>\n"
    "<body><h1>infosrv is running</h1>\n"
    "<p>This is the default home directory. Put your files in it to serve them.</p>\n"
    "</body></html>\n";

static int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd, rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return errno = ENAMETOOLONG, -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd == -1)
        return -1;
    rc = (write(fd, data, len) == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    if (close(fd) == -1)
        rc = -1;
    if (rc == 0 && rename(tmp, path) == -1)
        rc = -1;
    if (rc == -1)
        unlink(tmp);
    return rc;
}

static void ensure_default_root(const struct options *o)
{
    char index[PATH_MAX];
    struct stat st;

    if (o->root_given || stat(o->root, &st) == 0)
        return;
    if (mkdir_p(o->root, 0755) == -1) {
        fprintf(stderr, "infosrv: cannot create %s: %s\n", o->root, strerror(errno));
        exit(1);
    }
    snprintf(index, sizeof(index), "%s/index.html", o->root);
    if (write_file_atomic(index, welcome_page, sizeof(welcome_page) - 1, 0644) == -1)
        fprintf(stderr, "infosrv: cannot write %s: %s\n", index, strerror(errno));
}

static void prepare_state_dir(const struct options *o)
{
    char logs[PATH_MAX];

    snprintf(logs, sizeof(logs), "%s/logs", o->state_dir);
    if (mkdir_p(o->state_dir, 0750) == -1 || mkdir_p(logs, 0750) == -1) {
        fprintf(stderr, "infosrv: cannot create the state directory %s: %s\n", o->state_dir,
                strerror(errno));
        exit(1);
    }
}

/* ---- the configuration generation ---- */

static int build_site(struct site *s, const struct options *o, struct alog *alog, char *err,
                      size_t errlen)
{
    static const char *docs[] = {"index.html", "index.htm", "default.htm"};

    s->name = xstrdup("default");
    s->stats_slot = stats_slot("www", "default");
    s->bindings = xmalloc(sizeof(*s->bindings));
    s->bindings[0] = o->http;
    s->nbindings = 1;
    s->ndefault_docs = sizeof(docs) / sizeof(docs[0]);
    s->default_docs = xcalloc(s->ndefault_docs, sizeof(char *));
    for (size_t i = 0; i < s->ndefault_docs; i++)
        s->default_docs[i] = xstrdup(docs[i]);
    s->mime = mime_new();
    mime_load_file(s->mime, "/etc/mime.types");
    s->header_timeout_ms = o->header_timeout * 1000;
    s->keepalive_timeout_ms = o->keepalive_timeout * 1000;
    s->max_body = 1 << 20;
    s->alog = alog;
    if (gen_site_add_vdir(s, "/", o->root, VDIR_READ, PATH_SYMLINKS_INSIDE, o->browse, err,
                          errlen) == -1)
        return -1;
    for (size_t i = 0; i < o->nvdirs; i++) {
        const struct vdir_opt *v = &o->vdirs[i];
        if (gen_site_add_vdir(s, v->prefix, v->path, v->access, v->symlinks, v->browse, err,
                              errlen) == -1)
            return -1;
    }
    gen_site_finish(s);
    return 0;
}

static struct gen *build_gen(const struct options *o, struct alog *alog, char *err, size_t errlen)
{
    struct gen *g = gen_new();

    g->nworkers = o->workers;
    g->cache_bytes = 64u << 20;
    g->cache_valid_ms = 1000;
    g->sites = xcalloc(1, sizeof(*g->sites));
    g->nsites = 1;
    if (build_site(&g->sites[0], o, alog, err, errlen) == -1) {
        gen_unref(g);
        return NULL;
    }
    return g;
}

/* ---- files in the state directory ---- */

static void write_state_file(const struct options *o, const char *name, const struct buf *b)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", o->state_dir, name);
    if (write_file_atomic(path, b->data, b->len, 0640) == -1)
        log_warn("infosrv: cannot write %s", path);
}

static void write_listeners(const struct options *o)
{
    struct buf b = {0};
    char host[64];

    net_host_str((const struct sockaddr *)&o->http.ss, host, sizeof(host));
    buf_printf(&b,
               "{\"pid\": %d, \"version\": \"%s\",\n \"listeners\": [{\"service\": \"www\", "
               "\"site\": \"default\", \"address\": \"%s\", \"port\": %u}]}\n",
               (int)getpid(), INFOSRV_VERSION, host, net_port((const struct sockaddr *)&o->http.ss));
    write_state_file(o, "listeners.json", &b);
    buf_free(&b);
}

static void stats_json_counters(struct buf *b, int slot)
{
    uint64_t v[STAT_ALL];

    stats_read(slot, v);
    for (int i = 0; i < STAT_ALL; i++)
        buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", stats_name((enum stat_id)i),
                   (unsigned long long)v[i]);
    buf_printf(b, ", \"cleared_at\": %lld", (long long)stats_cleared_at(slot));
}

static void write_stats(const struct options *o)
{
    struct buf b = {0};
    int www = stats_slot("www", NULL);
    const char *service, *site;
    bool first = true;

    buf_printf(&b, "{\"time\": %lld, \"services\": {\"www\": {", (long long)time(NULL));
    stats_json_counters(&b, www);
    buf_puts(&b, ",\n  \"sites\": {");
    for (int i = 0; i < stats_nslots(); i++) {
        site = stats_slot_site(i, &service);
        if (site == NULL || strcmp(service, "www") != 0)
            continue;
        buf_printf(&b, "%s\"%s\": {", first ? "" : ", ", site);
        stats_json_counters(&b, i);
        buf_puts(&b, "}");
        first = false;
    }
    buf_puts(&b, "}}}}\n");
    write_state_file(o, "stats.json", &b);
    buf_reset(&b);
    buf_printf(&b, "{\"time\": %lld, \"sessions\": ", (long long)time(NULL));
    server_sessions_json(&b);
    buf_puts(&b, "}\n");
    write_state_file(o, "sessions.json", &b);
    buf_free(&b);
}

/* ---- start-up and the signal loop ---- */

static struct alog *open_access_log(const struct options *o)
{
    char dir[PATH_MAX];
    const char *why = NULL;
    struct alog *l;
    struct alog_config cfg = {
        .dir = dir,
        .format = o->log_format,
        .period = o->log_period,
        .max_size = o->log_size,
        .nworkers = o->workers,
    };

    snprintf(dir, sizeof(dir), "%s/logs/www/default", o->state_dir);
    l = alog_open(&cfg, &why);
    if (l == NULL) {
        fprintf(stderr, "infosrv: cannot open the access log in %s: %s\n", dir, why);
        exit(1);
    }
    return l;
}

static void reload(const struct options *o, struct alog *alog)
{
    char err[512];
    struct gen *g = build_gen(o, alog, err, sizeof(err));

    if (g == NULL) {
        log_warnx("reload: %s; keeping the current configuration", err);
        return;
    }
    gen_publish(g);
    server_flush_caches();
    log_info("reload: configuration generation %llu published, file caches flushed",
             (unsigned long long)g->serial);
}

static void signal_loop(const struct options *o, struct alog *alog, const sigset_t *set)
{
    struct timespec tick = {.tv_sec = 1};
    siginfo_t info;
    int sig;

    for (;;) {
        sig = sigtimedwait(set, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("infosrv: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        } else if (sig == SIGHUP) {
            reload(o, alog);
        } else if (sig == SIGUSR1) {
            log_reopen();
            alog_reopen(alog);
            log_info("infosrv: log files reopened");
        } else if (sig == SIGUSR2) {
            write_stats(o);
        }
    }
}

static void start_or_exit(struct options *o)
{
    struct server_listen ls = {.service = "www", .addr = o->http};
    char err[512], where[80];

    if (server_start(o->workers, &ls, 1, err, sizeof(err)) == -1) {
        fprintf(stderr, "infosrv: www: %s\n", err);
        log_warnx("infosrv: www: %s", err);
        exit(1);
    }
    o->http = ls.addr;
    net_addr_str((const struct sockaddr *)&o->http.ss, where, sizeof(where));
    printf("infosrv %s: www listening on %s\n", INFOSRV_VERSION, where);
    fflush(stdout);
    log_info("infosrv %s: www listening on %s with %u workers", INFOSRV_VERSION, where,
             o->workers);
}

int main(int argc, char **argv)
{
    static struct options o;
    char err[512], path[PATH_MAX];
    sigset_t set;
    struct alog *alog;
    struct gen *g;

    parse_args(&o, argc, argv);
    if (o.check) {
        stats_init(o.workers);
        g = build_gen(&o, NULL, err, sizeof(err));
        if (g == NULL) {
            fprintf(stderr, "infosrv: configuration error: %s\n", err);
            return 1;
        }
        gen_unref(g);
        printf("infosrv: configuration ok\n");
        return 0;
    }
    ensure_default_root(&o);
    prepare_state_dir(&o);
    snprintf(path, sizeof(path), "%s/logs/error.log", o.state_dir);
    if (log_open(path) == -1)
        fprintf(stderr, "infosrv: cannot open %s: %s; logging to stderr\n", path, strerror(errno));
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    stats_init(o.workers);
    alog = open_access_log(&o);
    g = build_gen(&o, alog, err, sizeof(err));
    if (g == NULL) {
        fprintf(stderr, "infosrv: configuration error: %s\n", err);
        return 1;
    }
    gen_publish(g);
    start_or_exit(&o);
    reload(&o, alog); /* bindings now carry the ports actually bound */
    write_listeners(&o);
    signal_loop(&o, alog, &set);
    server_stop(GRACE_MS);
    gen_shutdown();
    alog_close(alog);
    log_info("infosrv: stopped");
    return 0;
}
