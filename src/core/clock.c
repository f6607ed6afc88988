#include "core/clock.h"

#include <string.h>

static __thread uint64_t cached_ms;
static __thread time_t cached_wall;
static __thread time_t cached_date_sec = -1;
static __thread char cached_date[HTTP_DATE_LEN + 1];

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

const char *clock_month_name(int mon)
{
    return months[(unsigned)mon % 12];
}

void clock_update(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    cached_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    cached_wall = ts.tv_sec;
}

uint64_t clock_ms(void)
{
    if (cached_ms == 0)
        clock_update();
    return cached_ms;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t clock_wall(void)
{
    if (cached_wall == 0)
        clock_update();
    return cached_wall;
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

void clock_http_format(time_t t, char *out)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    memcpy(out, days[tm.tm_wday], 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    memcpy(out + 8, months[tm.tm_mon], 3);
    out[11] = ' ';
    put2(out + 12, (tm.tm_year + 1900) / 100);
    put2(out + 14, (tm.tm_year + 1900) % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    memcpy(out + 25, " GMT", 4);
    out[HTTP_DATE_LEN] = '\0';
}

const char *clock_http_date(void)
{
    time_t now = clock_wall();

    if (now != cached_date_sec) {
        clock_http_format(now, cached_date);
        cached_date_sec = now;
    }
    return cached_date;
}

static bool parse_num(const char **p, const char *end, int digits, int *out)
{
    int v = 0;

    for (int i = 0; i < digits; i++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static bool parse_lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool parse_month(const char **p, const char *end, int *mon)
{
    for (int i = 0; i < 12; i++) {
        if (parse_lit(p, end, months[i])) {
            *mon = i;
            return true;
        }
    }
    return false;
}

static bool parse_hms(const char **p, const char *end, struct tm *tm)
{
    return parse_num(p, end, 2, &tm->tm_hour) && parse_lit(p, end, ":") &&
           parse_num(p, end, 2, &tm->tm_min) && parse_lit(p, end, ":") &&
           parse_num(p, end, 2, &tm->tm_sec);
}

static bool skip_dayname(const char **p, const char *end, char stop)
{
    const char *q = *p;

    while (q < end && *q != stop)
        q++;
    if (q == end || q - *p < 3 || q - *p > 9)
        return false;
    *p = q;
    return true;
}

bool clock_http_parse(const char *s, size_t n, time_t *out)
{
    const char *p = s, *end = s + n;
    struct tm tm;
    int year = 0;
    bool ok;

    memset(&tm, 0, sizeof(tm));
    if (n >= 4 && s[3] == ',') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        p += 4;
        ok = parse_lit(&p, end, " ") && parse_num(&p, end, 2, &tm.tm_mday) &&
             parse_lit(&p, end, " ") && parse_month(&p, end, &tm.tm_mon) &&
             parse_lit(&p, end, " ") && parse_num(&p, end, 4, &year) && parse_lit(&p, end, " ") &&
             parse_hms(&p, end, &tm) && parse_lit(&p, end, " GMT");
    } else if (n >= 4 && s[3] == ' ') { /* asctime: Sun Nov  6 08:49:37 1994 */
        p += 4;
        ok = parse_month(&p, end, &tm.tm_mon) && parse_lit(&p, end, " ");
        if (ok && p < end && *p == ' ') {
            p++;
            ok = parse_num(&p, end, 1, &tm.tm_mday);
        } else if (ok) {
            ok = parse_num(&p, end, 2, &tm.tm_mday);
        }
        ok = ok && parse_lit(&p, end, " ") && parse_hms(&p, end, &tm) && parse_lit(&p, end, " ") &&
             parse_num(&p, end, 4, &year);
    } else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        ok = skip_dayname(&p, end, ',') && parse_lit(&p, end, ", ") &&
             parse_num(&p, end, 2, &tm.tm_mday) && parse_lit(&p, end, "-") &&
             parse_month(&p, end, &tm.tm_mon) && parse_lit(&p, end, "-") &&
             parse_num(&p, end, 2, &year) && parse_lit(&p, end, " ") && parse_hms(&p, end, &tm) &&
             parse_lit(&p, end, " GMT");
        year += (year < 70) ? 2000 : 1900;
    }
    if (!ok || p != end || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year = year - 1900;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

bool clock_iso_format(time_t t, char *out, size_t cap)
{
    struct tm tm;

    return gmtime_r(&t, &tm) != NULL && strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) != 0;
}
