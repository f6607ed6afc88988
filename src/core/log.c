#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static char *log_path;
static enum log_level log_max = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = {"error", "warn", "info", "debug"};

int log_open(const char *path)
{
    int fd;

    if (path == NULL)
        return 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1)
        return -1;
    pthread_mutex_lock(&log_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = strdup(path);
    pthread_mutex_unlock(&log_lock);
    return 0;
}

int log_reopen(void)
{
    char *path;
    int rc;

    if (log_path == NULL)
        return 0;
    path = strdup(log_path);
    rc = path ? log_open(path) : -1;
    free(path);
    return rc;
}

void log_set_level(enum log_level level)
{
    log_max = level;
}

__attribute__((format(printf, 3, 0))) static void log_emit(enum log_level level, int errnum,
                                                          const char *fmt, va_list ap);

static void log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n;
    int r;
    struct timespec ts;
    struct tm tm;

    if (level > log_max)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    r = snprintf(line + n, sizeof(line) - n, "[%s] ", level_names[level]);
    n += (r > 0) ? (size_t)r : 0;
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    n = (r > 0 && n + (size_t)r < sizeof(line)) ? n + (size_t)r : sizeof(line) - 1;
    if (errnum != 0 && n < sizeof(line) - 1) {
        r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
        n = (r > 0 && n + (size_t)r < sizeof(line)) ? n + (size_t)r : sizeof(line) - 1;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&log_lock);
    r = (int)write(log_fd, line, n);
    pthread_mutex_unlock(&log_lock);
    (void)r;
}

#define LOG_BODY(level, errnum)                                                                    \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_emit(level, errnum, fmt, ap);                                                          \
        va_end(ap);                                                                                \
    } while (0)

void log_warn(const char *fmt, ...)
{
    int e = errno;
    LOG_BODY(LOG_WARN, e);
}

void log_warnx(const char *fmt, ...)
{
    LOG_BODY(LOG_WARN, 0);
}

void log_err(const char *fmt, ...)
{
    int e = errno;
    LOG_BODY(LOG_ERR, e);
}

void log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
    LOG_BODY(LOG_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
    int e = errno;
    LOG_BODY(LOG_ERR, e);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, 0);
    exit(1);
}
