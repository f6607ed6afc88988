/* apply: a commit prepares inside the transaction and publishes only after
 * the COMMIT; a failed COMMIT publishes nothing and closes the new sockets. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include "metabase/mb.h"
#include "runtime/apply.h"
#include "daemon/seed.h"
#include "runtime/config.h"
#include "runtime/gen.h"
#include "runtime/server.h"
#include "runtime/service.h"
#include "runtime/stats.h"
#include "www/www.h"

static char dir[PATH_MAX];
static struct mb *mb;

static unsigned free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* 0 when something accepts connections on 127.0.0.1:PORT. */
static int connect_to(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    return rc;
}

static void setup(void)
{
    char tmpl[] = "/tmp/test_apply_XXXXXX", db[PATH_MAX + 16];
    struct mb_error err;
    static struct config_env env = {.nworkers = 1};

    cr_assert_not_null(mkdtemp(tmpl));
    snprintf(dir, sizeof(dir), "%s", tmpl);
    snprintf(db, sizeof(db), "%s/metabase.db", dir);
    cr_assert_eq(mb_open(&mb, db, &err), 0, "%s", err.message);
    stats_init(1);
    service_register(&www_service);
    apply_init(&env);
    server_start(1);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];

    server_stop(0);
    gen_shutdown();
    mb_close(mb);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static int refuse_commit(void *arg)
{
    (void)arg;
    return 1;
}

static uint64_t current_serial(void)
{
    struct gen *g = gen_current_ref();
    uint64_t s = g ? g->serial : 0;

    gen_unref(g);
    return s;
}

static json_t *bindings_op(unsigned p1, unsigned p2)
{
    char a[32], b[32];

    snprintf(a, sizeof(a), "127.0.0.1:%u", p1);
    snprintf(b, sizeof(b), "127.0.0.1:%u", p2);
    return json_pack("[{s:s, s:s, s:{s:[s,s]}}]", "op", "set", "key", "/www/sites/default", "set",
                     "bindings", a, b);
}

/* The default site on 127.0.0.1:PORT, applied as the daemon's first start does. */
static void seed_site(unsigned port)
{
    char http[32];
    struct config_flags f = {.www = true, .root = dir, .http = http};
    struct mb_error err;
    json_t *ops;

    snprintf(http, sizeof(http), "127.0.0.1:%u", port);
    ops = config_seed_ops(&f);
    cr_assert_eq(mb_seed(mb, ops, NULL, apply_commit, NULL, &err), 0, "%s", err.message);
    json_decref(ops);
}

Test(apply, a_failed_commit_publishes_nothing_and_closes_the_new_sockets, .init = setup,
     .fini = teardown)
{
    unsigned p1 = free_port(), p2;
    struct mb_error err;
    json_t *ops;
    uint64_t serial;

    seed_site(p1);
    cr_assert_eq(connect_to(p1), 0, "the seeded binding listens");
    serial = current_serial();
    cr_assert_neq(serial, 0);

    p2 = free_port();
    ops = bindings_op(p1, p2);
    sqlite3_commit_hook(mb_db(mb), refuse_commit, NULL);
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, "fails at COMMIT", false, apply_commit, NULL, NULL,
                           &err),
                 -1);
    sqlite3_commit_hook(mb_db(mb), NULL, NULL);
    cr_assert_str_eq(err.code, MB_E_STORAGE);
    cr_assert_eq(current_serial(), serial, "nothing was published");
    cr_assert_neq(connect_to(p2), 0, "the socket bound for the failed commit is closed");
    cr_assert_eq(connect_to(p1), 0, "the old binding still listens");

    cr_assert_eq(mb_commit(mb, ops, -1, NULL, "succeeds", false, apply_commit, NULL, NULL, &err), 0,
                 "%s", err.message);
    json_decref(ops);
    cr_assert_gt(current_serial(), serial, "published after the COMMIT");
    cr_assert_eq(connect_to(p2), 0);
}

Test(apply, a_dry_run_binds_nothing, .init = setup, .fini = teardown)
{
    unsigned p1 = free_port(), p2 = free_port();
    struct mb_error err;
    json_t *ops;
    uint64_t serial;

    seed_site(p1);
    serial = current_serial();
    ops = bindings_op(p1, p2);
    cr_assert_eq(mb_commit(mb, ops, -1, NULL, NULL, true, apply_commit, NULL, NULL, &err), 0,
                 "%s", err.message);
    json_decref(ops);
    cr_assert_eq(current_serial(), serial);
    cr_assert_neq(connect_to(p2), 0);
}
