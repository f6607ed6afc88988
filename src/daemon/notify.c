/* notify: sd_notify datagrams and an honest watchdog. */
#include "daemon/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/server.h"
#include "runtime/stats.h"

#define STATUS_EVERY_S 5

static struct sockaddr_un addr;
static socklen_t addr_len;
static int fd = -1;
static uint64_t watchdog_ms; /* 0: no watchdog */
static uint64_t last_ping_ms, last_status_ms;
static unsigned ping;

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET"), *wd = getenv("WATCHDOG_USEC");
    const char *wpid = getenv("WATCHDOG_PID");
    size_t n;

    if (wd && (wpid == NULL || strtol(wpid, NULL, 10) == (long)getpid()))
        watchdog_ms = strtoull(wd, NULL, 10) / 1000;
    if (path && (path[0] == '/' || path[0] == '@') && (n = strlen(path)) < sizeof(addr.sun_path)) {
        addr.sun_family = AF_UNIX;
        memcpy(addr.sun_path, path, n);
        if (path[0] == '@')
            addr.sun_path[0] = '\0'; /* an abstract socket */
        addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

void notify_send(const char *state)
{
    if (fd >= 0 && sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
                          addr_len) == -1)
        log_debug("notify: %s: %s", state, strerror(errno));
}

void notify_reloading(void)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)mono_ms() * 1000);
    notify_send(msg);
}

/* Connections open now and requests served since start, over every service. */
static void status_line(void)
{
    uint64_t v[STAT_ALL], conns = 0, reqs = 0;
    const char *svc;
    char msg[160];

    for (int i = 0; i < stats_nslots(); i++) {
        if (stats_slot_site(i, &svc) != NULL)
            continue;
        stats_read(i, v);
        conns += v[STAT_CURRENT_CONNECTIONS];
        reqs += v[STAT_TOTAL_REQUESTS];
    }
    snprintf(msg, sizeof(msg), "STATUS=%llu connection%s open, %llu requests served",
             (unsigned long long)conns, conns == 1 ? "" : "s", (unsigned long long)reqs);
    notify_send(msg);
}

void notify_tick(void)
{
    uint64_t now = mono_ms();

    if (fd < 0)
        return;
    if (now - last_status_ms >= STATUS_EVERY_S * 1000) {
        status_line();
        last_status_ms = now;
    }
    /* A worker stuck in a loop stops the pings, and systemd restarts the service. */
    if (watchdog_ms && now - last_ping_ms >= watchdog_ms / 2) {
        if (ping == 0 || server_answered(ping))
            notify_send("WATCHDOG=1");
        else
            log_warnx("notify: a worker loop has not answered for %llu ms; no watchdog ping",
                      (unsigned long long)(now - last_ping_ms));
        ping = server_ping();
        last_ping_ms = now;
    }
}
