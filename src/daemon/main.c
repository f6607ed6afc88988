/*
 * infosrv: the daemon. Parses the command line, prepares the state
 * directory, builds and publishes the first configuration generation,
 * starts the workers, then waits for signals in the main thread (every
 * signal is blocked elsewhere and taken with sigtimedwait, so no handler
 * runs at all).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "acme/acme.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/net.h"
#include "admin/accounts.h"
#include "admin/admin.h"
#include "admin/api.h"
#include "farm/farm.h"
#include "metabase/mb.h"
#include "runtime/apply.h"
#include "daemon/check.h"
#include "daemon/notify.h"
#include "daemon/privsep.h"
#include "daemon/seed.h"
#include "runtime/config.h"
#include "runtime/gen.h"
#include "runtime/server.h"
#include "runtime/service.h"
#include "runtime/stats.h"
#include "runtime/tls.h"
#include "runtime/zcache.h"
#include "version.h"
#include "runtime/accesslog.h"
#include "runtime/mime.h"
#include "ftp/ftp.h"
#include "gopher/gopher.h"
#include "www/www.h"

#define MAX_VDIRS 64
#define MAX_OVERRIDES 64
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
    struct net_addr https;
    bool https_given;
    bool http_given;
    struct net_addr gopher;
    bool gopher_given;
    const char *gopher_root;
    bool gopher_root_given;
    struct net_addr ftp;
    bool ftp_given;
    const char *ftp_root;
    bool ftp_root_given;
    struct net_addr admin;
    bool no_admin_tcp;
    const char *web_dir;     /* --web-dir: the web console's files */
    bool site_flags;         /* a flag that seeds the default site was given */
    bool workers_given;
    unsigned workers;
    struct vdir_opt vdirs[MAX_VDIRS];
    size_t nvdirs;
    bool browse;
    unsigned header_timeout, keepalive_timeout;
    enum alog_format log_format;
    enum alog_period log_period;
    uint64_t log_size;
    bool check;
    const char *log_dir;     /* --log-dir, default STATE_DIR/logs */
    const char *user;        /* --user: who to run as once started as root */
    bool user_given;
    const char *farm;        /* --farm URL[,URL...] */
    const char *farm_name;   /* --farm-name */
    const char *member;      /* --member */
    const char *overrides[MAX_OVERRIDES]; /* --binding-override FROM=TO */
    size_t noverrides;
};

static const char usage_text[] =
    "usage: infosrv [options]\n"
    "\n"
    "Serves static sites over HTTP/1.1 and HTTPS (the WWW service), files over FTP and FTPS\n"
    "(the FTP service) and Gopher menus and files (the Gopher service, RFC 1436 with Gopher+).\n"
    "\n"
    "  --state-dir DIR          state directory (default ./var; created if missing)\n"
    "  --root DIR               home directory of the default site (default ./wwwroot,\n"
    "                           created with a welcome page when missing)\n"
    "  --http ADDR:PORT         WWW listener (default 127.0.0.1:8080; port 0 picks a free\n"
    "                           port; [::1]:PORT for IPv6)\n"
    "  --https ADDR:PORT        also serve the default site over TLS there (a self-signed\n"
    "                           certificate is generated into STATE_DIR/tls until the site's\n"
    "                           tls_certificate_file and tls_key_file are set)\n"
    "  --ftp ADDR:PORT          FTP listener of the default FTP site (default 127.0.0.1:2121;\n"
    "                           port 0 picks a free port; anonymous, read-only)\n"
    "  --ftp-root DIR           home directory of the default FTP site (default ./ftproot,\n"
    "                           created when missing)\n"
    "  --gopher ADDR:PORT       Gopher listener of the default Gopher site (default\n"
    "                           127.0.0.1:7070; port 0 picks a free port)\n"
    "  --gopher-root DIR        home directory of the default Gopher site (default\n"
    "                           ./gopherroot, created with a welcome menu when missing)\n"
    "  --admin ADDR:PORT        admin API over HTTPS (default 127.0.0.1:8172; port 0 picks a\n"
    "                           free port; \"none\" disables TCP, leaving STATE_DIR/admin.sock)\n"
    "  --web-dir DIR            the web console's files, served at the admin address (default:\n"
    "                           ../share/infosrv/web beside the binary, or web/ of its build tree)\n"
    "  --workers N              worker threads (default: number of CPUs, 1..64)\n"
    "  --log-dir DIR            error and access logs (default STATE_DIR/logs)\n"
    "  --user NAME              started as root: run as NAME once the state directory is\n"
    "                           its own (default $INFOSRV_USER, else infosrv, else nobody);\n"
    "                           a helper keeps root only to open ports below 1024; root\n"
    "                           itself must be named\n"
    "  --vdir PREFIX=DIR[,OPT]  add a virtual directory; OPT is a comma list of browse,\n"
    "                           noread, symlinks=inside|never|any\n"
    "  --browse                 allow directory browsing in the home directory\n"
    "  --header-timeout SEC     time allowed to receive a request head (default 10)\n"
    "  --keepalive-timeout SEC  idle time allowed between requests (default 15)\n"
    "  --log-format F           access log format: w3c (the default), ncsa or sqlite\n"
    "  --log-period P           hourly|daily|weekly|monthly|size|none (default daily)\n"
    "  --log-size BYTES         file size for --log-period size (default 10485760)\n"
    "  --farm URL[,URL...]      join the farm kept by these etcd client URLs (with\n"
    "                           --farm-name); see docs/farm.md\n"
    "  --farm-name NAME         the farm's etcd key prefix, e.g. /infosrv/farms/web\n"
    "  --member NAME            this server's name in the farm (default: the host name)\n"
    "  --binding-override A=B   listen on ADDR:PORT B wherever the configuration binds\n"
    "                           ADDR:PORT A (repeatable; binding_overrides)\n"
    "  --check                  validate the configuration and exit (0 = valid)\n"
    "  --version                print the version and exit\n"
    "  --help                   print this help and exit\n"
    "\n"
    "The first start seeds STATE_DIR/metabase.db from --root, --http, --https, --vdir, --browse,\n"
    "--ftp, --ftp-root, --gopher, --gopher-root, the timeouts and the log options; later\n"
    "starts read the metabase (change it with infoadm) and ignore those flags. Without any\n"
    "of --http, --https, --ftp, --ftp-root, --gopher and --gopher-root, every default site\n"
    "is seeded; with some, only the services they name. --farm, --farm-name, --member and\n"
    "--binding-override are written to the machine key at every start that gives them.\n"
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

static void set_addr(const char *opt, const char *s, struct net_addr *a)
{
    const char *why;

    if (net_parse_addr(s, a, &why) == -1) {
        fprintf(stderr, "infosrv: %s %s: %s\n", opt, s, why);
        exit(EXIT_USAGE);
    }
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
    set_addr("--gopher", "127.0.0.1:7070", &o->gopher);
    o->gopher_root = "gopherroot";
    set_addr("--ftp", "127.0.0.1:2121", &o->ftp);
    o->ftp_root = "ftproot";
    o->site_flags = false;
    set_addr("--admin", "127.0.0.1:8172", &o->admin);
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
            o->site_flags = true;
            o->root = need_arg(argc, argv, &i);
            o->root_given = true;
        } else if (strcmp(a, "--http") == 0) {
            o->site_flags = true;
            o->http_given = true;
            set_http(o, need_arg(argc, argv, &i));
        } else if (strcmp(a, "--ftp") == 0) {
            o->site_flags = true;
            o->ftp_given = true;
            set_addr(a, need_arg(argc, argv, &i), &o->ftp);
        } else if (strcmp(a, "--ftp-root") == 0) {
            o->site_flags = true;
            o->ftp_root_given = true;
            o->ftp_root = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--gopher") == 0) {
            o->site_flags = true;
            o->gopher_given = true;
            set_addr(a, need_arg(argc, argv, &i), &o->gopher);
        } else if (strcmp(a, "--gopher-root") == 0) {
            o->site_flags = true;
            o->gopher_root_given = true;
            o->gopher_root = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--https") == 0) {
            o->site_flags = true;
            o->https_given = true;
            set_addr(a, need_arg(argc, argv, &i), &o->https);
        } else if (strcmp(a, "--log-dir") == 0) {
            o->log_dir = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--user") == 0) {
            o->user = need_arg(argc, argv, &i);
            o->user_given = true;
        } else if (strcmp(a, "--workers") == 0) {
            o->workers = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 64);
            o->workers_given = true;
        } else if (strcmp(a, "--vdir") == 0) {
            o->site_flags = true;
            parse_vdir(o, need_arg(argc, argv, &i));
        } else if (strcmp(a, "--browse") == 0) {
            o->site_flags = true;
            o->browse = true;
        } else if (strcmp(a, "--header-timeout") == 0) {
            o->site_flags = true;
            o->header_timeout = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 3600);
        } else if (strcmp(a, "--keepalive-timeout") == 0) {
            o->site_flags = true;
            o->keepalive_timeout = (unsigned)parse_number(a, need_arg(argc, argv, &i), 1, 3600);
        } else if (strcmp(a, "--log-format") == 0) {
            o->site_flags = true;
            const char *f = need_arg(argc, argv, &i);
            if (strcmp(f, "w3c") == 0)
                o->log_format = ALOG_W3C;
            else if (strcmp(f, "ncsa") == 0)
                o->log_format = ALOG_NCSA;
            else if (strcmp(f, "sqlite") == 0)
                o->log_format = ALOG_SQLITE;
            else
                usage_error("--log-format must be w3c, ncsa or sqlite, not \"%s\"", f);
        } else if (strcmp(a, "--log-period") == 0) {
            o->site_flags = true;
            o->log_period = parse_period(need_arg(argc, argv, &i));
        } else if (strcmp(a, "--log-size") == 0) {
            o->site_flags = true;
            o->log_size = parse_number(a, need_arg(argc, argv, &i), 1024, UINT64_MAX / 2);
        } else if (strcmp(a, "--farm") == 0) {
            o->farm = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--farm-name") == 0) {
            o->farm_name = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--member") == 0) {
            o->member = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--binding-override") == 0) {
            if (o->noverrides == MAX_OVERRIDES)
                usage_error("too many --binding-override options (at most %d)", MAX_OVERRIDES);
            o->overrides[o->noverrides++] = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--check") == 0) {
            o->check = true;
        } else if (strcmp(a, "--web-dir") == 0) {
            o->web_dir = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--admin") == 0) {
            const char *v = need_arg(argc, argv, &i);
            o->no_admin_tcp = strcmp(v, "none") == 0;
            if (!o->no_admin_tcp)
                set_addr(a, v, &o->admin);
        } else {
            usage_error("unknown option \"%s\"", a);
        }
    }
}

/* ---- which default sites the command line asks for ---- */

/* No listener flag: every default site; otherwise the services named. */
static bool names_none(const struct options *o)
{
    return !o->http_given && !o->https_given && !o->gopher_given && !o->gopher_root_given &&
           !o->ftp_given && !o->ftp_root_given;
}

static bool wants_gopher(const struct options *o)
{
    return o->gopher_given || o->gopher_root_given || names_none(o);
}

static bool wants_ftp(const struct options *o)
{
    return o->ftp_given || o->ftp_root_given || names_none(o);
}

static bool wants_www(const struct options *o)
{
    return o->http_given || o->https_given || names_none(o);
}

/* ---- state directory and the default home directory ---- */

static const char welcome_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>infosrv</title></head>\n"
    "<body><h1>infosrv is running</h1>\n"
    "<p>This is the default home directory. Put your files in it to serve them.</p>\n"
    "</body></html>\n";

static const char welcome_map[] =
    "!infosrv is running\n"
    "\n"
    "This is the default home directory of the Gopher service.\n"
    "Put files and directories in it to serve them; this gophermap\n"
    "describes the menu (see docs/gopher.md).\n"
    "\n"
    "*\n";

static const char ftp_readme[] =
    "This is the default home directory of infosrv's FTP service.\n"
    "Anonymous users may read it; give a directory access_write to accept uploads.\n";

/* DIR with FILE holding TEXT, made when DIR is missing (the defaults only). */
static void ensure_default_dir(const char *dir, const char *file, const char *text, size_t len)
{
    char path[PATH_MAX];
    struct stat st;

    if (stat(dir, &st) == 0)
        return;
    if (fs_mkdir_p(dir, 0755) == -1) {
        fprintf(stderr, "infosrv: cannot create %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (fs_write_atomic(path, text, len, 0644) == -1)
        fprintf(stderr, "infosrv: cannot write %s: %s\n", path, strerror(errno));
}

static void ensure_default_root(const struct options *o)
{
    if (!o->root_given && wants_www(o))
        ensure_default_dir(o->root, "index.html", welcome_page, sizeof(welcome_page) - 1);
    if (!o->gopher_root_given && wants_gopher(o))
        ensure_default_dir(o->gopher_root, "gophermap", welcome_map, sizeof(welcome_map) - 1);
    if (!o->ftp_root_given && wants_ftp(o))
        ensure_default_dir(o->ftp_root, "README.txt", ftp_readme, sizeof(ftp_readme) - 1);
}

static char log_dir[PATH_MAX - 512]; /* room for what is appended to it */

static void prepare_state_dir(const struct options *o)
{
    if (o->log_dir)
        snprintf(log_dir, sizeof(log_dir), "%s", o->log_dir);
    else
        snprintf(log_dir, sizeof(log_dir), "%s/logs", o->state_dir);
    if (fs_mkdir_p(o->state_dir, 0750) == -1) {
        fprintf(stderr, "infosrv: cannot create the state directory %s: %s\n", o->state_dir,
                strerror(errno));
        exit(1);
    }
    if (fs_mkdir_p(log_dir, 0750) == -1) {
        fprintf(stderr, "infosrv: cannot create the log directory %s: %s\n", log_dir,
                strerror(errno));
        exit(1);
    }
}

/* ---- running as an unprivileged user ---- */

static const char *privilege_note_user; /* for the log, once it is open */
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (lchown(path, chown_uid, chown_gid) == -1)
        fprintf(stderr, "infosrv: cannot give %s to the server's user: %s\n", path,
                strerror(errno));
    return 0;
}

/* The user must reach its state and log directories, or nothing would work after the drop. */
static void check_reachable(const char *dir, const char *user)
{
    if (access(dir, R_OK | W_OK | X_OK) == -1) {
        fprintf(stderr, "infosrv: user %s cannot use %s (%s): a parent directory is closed to "
                        "it; give another --state-dir/--log-dir, or --user\n",
                dir, user, strerror(errno));
        exit(1);
    }
}

/* Started as root: the state directory becomes the user's, a helper keeps root for
 * ports below 1024, and the server gives up root before any thread exists. Root is
 * kept only when asked for by name (--user root, or INFOSRV_USER=root). */
static void drop_privileges(const struct options *o)
{
    const char *user = o->user_given ? o->user : getenv("INFOSRV_USER");
    bool named = user != NULL && *user != '\0';
    char err[300];
    uid_t uid;
    gid_t gid;

    if (geteuid() != 0) {
        if (named && (privsep_user(user, &uid, &gid, err, sizeof(err)) == -1 ||
                      uid != geteuid())) {
            fprintf(stderr, "infosrv: --user %s needs infosrv started as root\n", user);
            exit(1);
        }
        return;
    }
    if (!named)
        user = privsep_user("infosrv", &uid, &gid, err, sizeof(err)) == 0 ? "infosrv" : "nobody";
    if (privsep_user(user, &uid, &gid, err, sizeof(err)) == -1) {
        fprintf(stderr, "infosrv: --user %s: %s\n", user, err);
        exit(1);
    }
    if (uid == 0) {
        privilege_note_user = "root";
        return;
    }
    chown_uid = uid, chown_gid = gid;
    nftw(o->state_dir, chown_one, 16, FTW_PHYS);
    nftw(log_dir, chown_one, 16, FTW_PHYS);
    if (privsep_start(err, sizeof(err)) == -1 || privsep_drop(user, uid, gid, err, sizeof(err)) == -1) {
        fprintf(stderr, "infosrv: %s\n", err);
        exit(1);
    }
    check_reachable(o->state_dir, user);
    check_reachable(log_dir, user);
    privilege_note_user = user;
}

/* ---- files in the state directory ---- */

static void write_state_file(const struct options *o, const char *name, const struct buf *b)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", o->state_dir, name);
    if (fs_write_atomic(path, b->data, b->len, 0640) == -1)
        log_warn("infosrv: cannot write %s", path);
}

static void write_state_json(const struct options *o, const char *name, json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2));
    struct buf b = {0};

    if (text != NULL) {
        buf_puts(&b, text);
        buf_puts(&b, "\n");
        write_state_file(o, name, &b);
    }
    free(text);
    buf_free(&b);
    json_decref(v);
}

static void write_listeners(const struct options *o)
{
    json_t *list = server_listeners();
    char host[64], sock[PATH_MAX];

    if (admin_tcp_port() != 0) {
        net_host_str((const struct sockaddr *)&o->admin.ss, host, sizeof(host));
        json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "service", "admin", "address",
                                              host, "port", (int)admin_tcp_port()));
    }
    snprintf(sock, sizeof(sock), "%s/admin.sock", o->state_dir);
    write_state_json(o, "listeners.json",
                     json_pack("{s:i, s:s, s:o, s:s}", "pid", (int)getpid(), "version",
                               INFOSRV_VERSION, "listeners", list, "admin_socket", sock));
}

static json_t *dump_counters(int slot)
{
    json_t *c = stats_counters_json(slot);

    json_object_set_new(c, "cleared_at", json_integer((json_int_t)stats_cleared_at(slot)));
    return c;
}

/* SIGUSR2: stats.json and sessions.json in the state directory. */
static json_t *service_counters(const char *name)
{
    json_t *svc = dump_counters(stats_slot(name, NULL)), *sites = json_object();
    const char *service, *site;

    for (int i = 0; i < stats_nslots(); i++) {
        site = stats_slot_site(i, &service);
        if (site != NULL && strcmp(service, name) == 0)
            json_object_set_new(sites, site, dump_counters(i));
    }
    json_object_set_new(svc, "sites", sites);
    return svc;
}

static void write_stats(const struct options *o)
{
    json_t *services = json_object();
    const struct service *svc;

    for (size_t i = 0; (svc = service_at(i)) != NULL; i++)
        json_object_set_new(services, svc->name, service_counters(svc->name));
    write_state_json(o, "stats.json", json_pack("{s:I, s:o}", "time", (json_int_t)time(NULL),
                                                "services", services));
    write_state_json(o, "sessions.json", json_pack("{s:I, s:o}", "time", (json_int_t)time(NULL),
                                                   "sessions", server_sessions()));
}

/* ---- the metabase and the runtime ---- */

#define MAX_ALOGS 64

struct alog_slot {
    char service[16];
    char site[64];
    struct alog_config cfg;
    struct alog *log;
};

static struct alog_slot alogs[MAX_ALOGS];
static size_t nalogs;

/* Access logs outlive generations: one per site and settings, closed at exit.
 * How many old periods are kept is no reason for a new log: it is handed on. */
static struct alog *alog_for(void *arg, const char *service, const char *site,
                             const struct alog_config *cfg, const char **err)
{
    char dir[PATH_MAX];
    struct alog_config c = *cfg;

    (void)arg;
    for (size_t i = 0; i < nalogs; i++)
        if (strcmp(alogs[i].service, service) == 0 && strcmp(alogs[i].site, site) == 0 &&
            alogs[i].cfg.format == cfg->format &&
            alogs[i].cfg.period == cfg->period && alogs[i].cfg.max_size == cfg->max_size) {
            alog_set_keep(alogs[i].log, cfg->keep_periods);
            return alogs[i].log;
        }
    if (nalogs == MAX_ALOGS)
        return *err = "too many access logs", NULL;
    snprintf(dir, sizeof(dir), "%s/%s/%s", log_dir, service, site);
    c.dir = dir;
    struct alog *l = alog_open(&c, err);
    if (l == NULL)
        return NULL;
    snprintf(alogs[nalogs].service, sizeof(alogs[nalogs].service), "%s", service);
    snprintf(alogs[nalogs].site, sizeof(alogs[nalogs].site), "%s", site);
    alogs[nalogs].cfg = *cfg;
    alogs[nalogs++].log = l;
    return l;
}

static void alogs_each(void (*fn)(struct alog *))
{
    for (size_t i = 0; i < nalogs; i++)
        fn(alogs[i].log);
}

/* A port of 0 on the first start becomes a fixed free port, so the
 * metabase records an address that clients can be told about. */
static void resolve_port(struct net_addr *a)
{
    int fd;

    if (net_port((const struct sockaddr *)&a->ss) != 0)
        return;
    fd = net_listen(a, 1);
    if (fd >= 0) {
        net_set_port(a, net_local_port(fd));
        close(fd);
    }
}

static json_t *seed_ops(struct options *o)
{
    static struct config_vdir v[MAX_VDIRS];
    static const char *sym[] = {"inside", "never", "any"};
    static const char *fmt[] = {"w3c", "ncsa", "sqlite"};
    static const char *per[] = {"none", "hourly", "daily", "weekly", "monthly", "size"};
    char http[80], https[80], gopher[80], ftp[80];
    struct config_flags f = {
        .www = wants_www(o), .root = o->root, .http = http, .browse = o->browse,
        .header_timeout = o->header_timeout, .keepalive_timeout = o->keepalive_timeout,
        .log_format = fmt[o->log_format], .log_period = per[o->log_period],
        .log_size = o->log_size, .vdirs = v, .nvdirs = o->nvdirs,
    };

    resolve_port(&o->http);
    net_addr_str((const struct sockaddr *)&o->http.ss, http, sizeof(http));
    if (o->https_given) {
        resolve_port(&o->https);
        net_addr_str((const struct sockaddr *)&o->https.ss, https, sizeof(https));
        f.https = https;
    }
    if (wants_ftp(o)) {
        resolve_port(&o->ftp);
        net_addr_str((const struct sockaddr *)&o->ftp.ss, ftp, sizeof(ftp));
        f.ftp = ftp;
        f.ftp_root = o->ftp_root;
    }
    if (wants_gopher(o)) {
        resolve_port(&o->gopher);
        net_addr_str((const struct sockaddr *)&o->gopher.ss, gopher, sizeof(gopher));
        f.gopher = gopher;
        f.gopher_root = o->gopher_root;
    }
    for (size_t i = 0; i < o->nvdirs; i++) {
        v[i].prefix = o->vdirs[i].prefix;
        v[i].path = o->vdirs[i].path;
        v[i].read = o->vdirs[i].access & VDIR_READ;
        v[i].symlinks = sym[o->vdirs[i].symlinks];
        v[i].browse = o->vdirs[i].browse;
    }
    return config_seed_ops(&f);
}

/* ---- the farm flags: written to the machine key at every start that gives them ---- */

static json_t *farm_endpoints(const char *list)
{
    json_t *arr = json_array();
    const char *p = list;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 0)
            usage_error("--farm: an empty URL in \"%s\"", list);
        json_array_append_new(arr, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return arr;
}

/* binding_overrides as MB has it, with the command line's entries added. */
static json_t *flag_overrides(const struct options *o, struct mb *mb)
{
    json_t *cur = mb ? mb_value(mb, "/", "binding_overrides") : NULL;
    json_t *map = json_is_object(cur) ? json_deep_copy(cur) : json_object();

    json_decref(cur);
    for (size_t i = 0; i < o->noverrides; i++) {
        const char *eq = strchr(o->overrides[i], '=');
        if (eq == NULL || eq == o->overrides[i] || eq[1] == '\0')
            usage_error("--binding-override expects ADDR:PORT=ADDR:PORT, not \"%s\"",
                        o->overrides[i]);
        char *from = xstrndup(o->overrides[i], (size_t)(eq - o->overrides[i]));
        json_object_set_new(map, from, json_string(eq + 1));
        free(from);
    }
    return map;
}

/* One op setting what the farm flags give on the machine key, or NULL for none. */
static json_t *farm_flag_ops(const struct options *o, struct mb *mb)
{
    json_t *set = json_object();

    if (o->farm)
        json_object_set_new(set, "farm_endpoints", farm_endpoints(o->farm));
    if (o->farm_name)
        json_object_set_new(set, "farm_name", json_string(o->farm_name));
    if (o->member)
        json_object_set_new(set, "member_name", json_string(o->member));
    if (o->noverrides)
        json_object_set_new(set, "binding_overrides", flag_overrides(o, mb));
    if (json_object_size(set) == 0) {
        json_decref(set);
        return NULL;
    }
    return json_pack("[{s:s, s:s, s:o}]", "op", "set", "key", "/", "set", set);
}

static void commit_farm_flags(const struct options *o, struct mb *mb)
{
    struct mb_error err = {0};
    struct mb_actor who = {"infosrv", "command line"};
    json_t *ops = farm_flag_ops(o, mb);

    if (ops == NULL)
        return;
    if (mb_commit(mb, ops, -1, &who, "farm settings from the command line", false, NULL, NULL,
                  NULL, &err) == -1) {
        fprintf(stderr, "infosrv: %s\n", err.message);
        exit(EXIT_USAGE);
    }
    json_decref(ops);
}

/* Open STATE_DIR/metabase.db, seeding it from the flags on the first start. */
static struct mb *open_metabase(struct options *o, const char *path)
{
    struct mb *mb;
    struct mb_error err = {0};
    struct mb_actor who = {"infosrv", "command line"};
    json_t *ops;

    if (mb_open(&mb, path, &err) == -1) {
        fprintf(stderr, "infosrv: metabase %s: %s\n", path, err.message);
        exit(1);
    }
    if (!mb_is_empty(mb)) {
        if (o->site_flags)
            log_info("infosrv: %s exists; site flags on the command line are ignored "
                     "(change the configuration with infoadm)", path);
        commit_farm_flags(o, mb);
        return mb;
    }
    ops = seed_ops(o);
    json_t *farm_ops = farm_flag_ops(o, NULL);
    if (farm_ops)
        json_array_extend(ops, farm_ops);
    json_decref(farm_ops);
    if (mb_seed(mb, ops, &who, NULL, NULL, &err) == -1) {
        fprintf(stderr, "infosrv: configuration error: %s\n", err.message);
        exit(1);
    }
    json_decref(ops);
    return mb;
}

/* worker_threads in the metabase wins over the CPU count, not over --workers. */
static void metabase_workers(struct options *o, struct mb *mb)
{
    json_t *v = mb_value(mb, "/", "worker_threads");

    if (!o->workers_given && json_is_integer(v) && json_integer_value(v) > 0)
        o->workers = (unsigned)json_integer_value(v);
    json_decref(v);
}

/* --check: a state directory with a metabase is checked whole (check.c); without one,
 * what the command line would seed is compiled, so flags can be tried before a start. */
static int check_config(struct options *o)
{
    char path[PATH_MAX], tls_dir[PATH_MAX];
    struct config_env env = {.nworkers = o->workers, .tls_dir = tls_dir};
    struct mb_error err = {0};
    struct mb *mb;
    struct gen *g;

    snprintf(path, sizeof(path), "%s/metabase.db", o->state_dir);
    if (access(path, F_OK) == 0)
        return check_state_dir(o->state_dir, o->workers);
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", o->state_dir);
    mb = open_metabase(o, ":memory:");
    stats_init(o->workers);
    g = config_compile(mb, &env, &err);
    mb_close(mb);
    if (g == NULL) {
        fprintf(stderr, "infosrv: configuration error: %s\n", err.message);
        return 1;
    }
    gen_unref(g);
    printf("infosrv: configuration ok (no metabase in %s yet: checked what the flags seed)\n",
           o->state_dir);
    return 0;
}

/* ---- start-up and the signal loop ---- */

static int apply_now(struct mb *mb, struct mb_error *err)
{
    int rc;

    admin_lock();
    rc = apply_current(mb, err);
    admin_unlock();
    if (rc == -1)
        log_warnx("infosrv: cannot apply the configuration: %s", err->message);
    return rc;
}

/* The ACME thread installs a certificate with the API lock held. */
static struct mb *live_mb;

static int apply_locked(void)
{
    struct mb_error err = {0};

    if (apply_current(live_mb, &err) == 0)
        return 0;
    log_warnx("infosrv: cannot apply the configuration: %s", err.message);
    return -1;
}

static void start_acme(const char *tls_dir, struct mb *mb)
{
    static char dir[PATH_MAX];
    struct acme_env env = {.tls_dir = dir, .lock = admin_lock, .unlock = admin_unlock,
                           .apply = apply_locked};

    snprintf(dir, sizeof(dir), "%s", tls_dir);
    live_mb = mb;
    if (acme_start(&env) == -1) {
        fprintf(stderr, "infosrv: cannot start the ACME thread\n");
        exit(1);
    }
}

static void signal_loop(const struct options *o, struct mb *mb, const sigset_t *set)
{
    struct timespec tick = {.tv_sec = 1};
    siginfo_t info;
    int sig;

    for (;;) {
        sig = sigtimedwait(set, &info, &tick);
        notify_tick();
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("infosrv: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            notify_send("STOPPING=1");
            return;
        } else if (sig == SIGHUP) {
            struct mb_error err = {0};
            notify_reloading();
            int rc = apply_now(mb, &err);
            notify_send("READY=1");
            if (rc == 0) {
                server_flush_caches();
                write_listeners(o);
                log_info("reload: configuration applied from the metabase, file caches flushed");
            }
        } else if (sig == SIGUSR1) {
            log_reopen();
            alogs_each(alog_reopen);
            log_info("infosrv: log files reopened");
        } else if (sig == SIGUSR2) {
            write_stats(o);
        }
    }
}

/* Before the admin API answers: a commit must never go local while the farm starts. */
static void start_farm(struct mb *mb)
{
    json_t *caps = api_capabilities();
    struct farm_env env = {.mb = mb, .lock = admin_lock, .unlock = admin_unlock,
                           .apply = apply_commit, .capabilities = caps,
                           .version = INFOSRV_VERSION};
    char err[512];
    int rc = farm_start(&env, err, sizeof(err));

    json_decref(caps);
    if (rc == -1) {
        fprintf(stderr, "infosrv: %s\n", err);
        log_warnx("infosrv: %s", err);
        exit(1);
    }
}

static void start_admin(const struct options *o, struct mb *mb)
{
    struct admin_config ac = {.state_dir = o->state_dir, .tcp = o->no_admin_tcp ? NULL : &o->admin,
                              .mb = mb, .web_dir = o->web_dir};
    char err[PATH_MAX + 512], token[PATH_MAX];
    int rc;

    snprintf(token, sizeof(token), "%s/admin.token", o->state_dir);
    admin_lock(); /* the farm's member thread may be using the metabase already */
    rc = acct_bootstrap(mb, token, err, sizeof(err));
    admin_unlock();
    if (rc == 1)
        log_info("infosrv: created the admin account; its token is in %s", token);
    if (admin_start(&ac, err, sizeof(err)) == -1) {
        fprintf(stderr, "infosrv: admin: %s\n", err);
        exit(1);
    }
    if (admin_tcp_port())
        printf("infosrv %s: admin listening on https://%s:%u\n", INFOSRV_VERSION,
               o->http_str ? "127.0.0.1" : "127.0.0.1", admin_tcp_port());
}

static void print_listeners(void)
{
    json_t *arr = server_listeners(), *li;
    size_t i;

    json_array_foreach(arr, i, li) {
        const struct service *svc = service_find(json_string_value(json_object_get(li, "service")));
        printf("infosrv %s: %s listening on %s%s:%lld\n", INFOSRV_VERSION,
               json_string_value(json_object_get(li, "service")),
               json_is_true(json_object_get(li, "tls")) && svc ? svc->tls_scheme : "",
               json_string_value(json_object_get(li, "address")),
               (long long)json_integer_value(json_object_get(li, "port")));
    }
    json_decref(arr);
}

int main(int argc, char **argv)
{
    static struct options o;
    char path[PATH_MAX], tls_dir[PATH_MAX];
    sigset_t set;
    struct mb *mb;
    struct config_env env;
    struct mb_error err = {0};
    int rc_inherit;

    parse_args(&o, argc, argv);
    service_register(&www_service);
    service_register(&ftp_service);
    service_register(&gopher_service);
    tls_init();
    if (o.check)
        return check_config(&o);
    ensure_default_root(&o);
    prepare_state_dir(&o);
    notify_init();
    drop_privileges(&o);
    snprintf(path, sizeof(path), "%s/error.log", log_dir);
    if (log_open(path) == -1)
        fprintf(stderr, "infosrv: cannot open %s: %s; logging to stderr\n", path, strerror(errno));
    if ((rc_inherit = net_inherit_listeners()) > 0)
        log_info("infosrv: %d listening socket%s passed by systemd", rc_inherit,
                 rc_inherit == 1 ? "" : "s");
    if (privilege_note_user && geteuid() == 0)
        log_warnx("infosrv: running as root, as --user root (or INFOSRV_USER) asks: every "
                  "worker keeps every privilege");
    else if (privilege_note_user)
        log_info("infosrv: running as %s (uid %u); a helper kept root to open ports below 1024",
                 privilege_note_user, (unsigned)geteuid());
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    snprintf(path, sizeof(path), "%s/metabase.db", o.state_dir);
    mb = open_metabase(&o, path);
    metabase_workers(&o, mb);
    stats_init(o.workers);
    snprintf(path, sizeof(path), "%s/cache/gzip", o.state_dir);
    if (zcache_open(path) == -1)
        log_warn("infosrv: the compressed-file cache %s cannot be used; only precompressed "
                 "files are sent coded", path);
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", o.state_dir);
    env = (struct config_env){.nworkers = o.workers, .alog_for = alog_for, .tls_dir = tls_dir,
                              .published = acme_notify};
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: the ACME client uses libcurl */
    apply_init(&env);
    server_start(o.workers);
    if (apply_now(mb, &err) == -1) {
        fprintf(stderr, "infosrv: cannot start: %s\n", err.message);
        server_stop(0);
        zcache_close();
        gen_shutdown();
        alogs_each(alog_close);
        mb_close(mb);
        return 1;
    }
    start_farm(mb);
    start_admin(&o, mb);
    start_acme(tls_dir, mb);
    print_listeners();
    fflush(stdout);
    write_listeners(&o);
    log_info("infosrv %s: started with %u workers", INFOSRV_VERSION, o.workers);
    notify_send("READY=1");
    signal_loop(&o, mb, &set);
    acme_stop();
    admin_stop();
    farm_stop();
    server_stop(GRACE_MS);
    zcache_close();
    gen_shutdown();
    alogs_each(alog_close);
    mb_close(mb);
    log_info("infosrv: stopped");
    return 0;
}
