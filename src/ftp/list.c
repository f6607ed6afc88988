#include "ftp/list.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"

/*
 * Every time is shown in UTC, and month names come from a table rather than
 * strftime's %b so that a listing does not change with the locale: clients
 * parse these lines.
 */

#define LIST_RECENT_PAST (183 * 86400) /* "six months", as ls */
#define LIST_RECENT_FUTURE 3600        /* clock skew still shown with the time */

#define LIST_TIME_MIN (-62167219200LL) /* 0000-01-01 00:00:00 */
#define LIST_TIME_MAX 253402300799LL   /* 9999-12-31 23:59:59 */

/* gmtime_r; a time whose year does not fit an int is shown as the nearest of
 * the years 0 and 9999. */
static void list_gmtime(time_t t, struct tm *tm)
{
    if (gmtime_r(&t, tm) == NULL) {
        t = (time_t)(t < 0 ? LIST_TIME_MIN : LIST_TIME_MAX);
        gmtime_r(&t, tm);
    }
}

/* T is within six months before NOW and at most an hour after it. */
static bool list_is_recent(time_t t, time_t now)
{
    /* Differences of two time_t computed unsigned cannot overflow. */
    if (t <= now)
        return (uintmax_t)now - (uintmax_t)t <= LIST_RECENT_PAST;
    return (uintmax_t)t - (uintmax_t)now <= LIST_RECENT_FUTURE;
}

static char list_type_char(mode_t m)
{
    if (S_ISDIR(m))
        return 'd';
    if (S_ISLNK(m))
        return 'l';
    if (S_ISCHR(m))
        return 'c';
    if (S_ISBLK(m))
        return 'b';
    if (S_ISFIFO(m))
        return 'p';
    if (S_ISSOCK(m))
        return 's';
    return '-';
}

/* One rwx triplet; SPECIAL (setuid, setgid, sticky) shows as S_ON or S_OFF in place of x. */
static void list_triplet(char *out, mode_t m, mode_t r, mode_t w, mode_t x, mode_t special,
                         char s_on, char s_off)
{
    out[0] = (m & r) ? 'r' : '-';
    out[1] = (m & w) ? 'w' : '-';
    if (m & special)
        out[2] = (m & x) ? s_on : s_off;
    else
        out[2] = (m & x) ? 'x' : '-';
}

/* The ls mode string of M into OUT (11 bytes). */
static void list_mode(mode_t m, char out[11])
{
    out[0] = list_type_char(m);
    list_triplet(out + 1, m, S_IRUSR, S_IWUSR, S_IXUSR, S_ISUID, 's', 'S');
    list_triplet(out + 4, m, S_IRGRP, S_IWGRP, S_IXGRP, S_ISGID, 's', 'S');
    list_triplet(out + 7, m, S_IROTH, S_IWOTH, S_IXOTH, S_ISVTX, 't', 'T');
    out[10] = '\0';
}

static void list_end(struct buf *out, const char *name, size_t namelen)
{
    buf_append(out, name, namelen);
    buf_append(out, "\r\n", 2);
}

/* "-rw-r--r--   1 ftp      ftp              1234 Dec  1 12:00 name" */
static void list_unix(struct buf *out, const char *name, size_t namelen, const struct stat *st,
                      time_t now)
{
    char mode[11];
    struct tm tm;

    list_mode(st->st_mode, mode);
    list_gmtime(st->st_mtime, &tm);
    buf_printf(out, "%s %3lu ftp      ftp      %12lld %s %2d ", mode, (unsigned long)st->st_nlink,
               (long long)st->st_size, clock_month_name(tm.tm_mon), tm.tm_mday);
    if (list_is_recent(st->st_mtime, now))
        buf_printf(out, "%02d:%02d ", tm.tm_hour, tm.tm_min);
    else
        buf_printf(out, "%5lld ", (long long)tm.tm_year + 1900);
    list_end(out, name, namelen);
}

/*
 * The MS-DOS style of IIS: the date and 12-hour time take columns 0-16,
 * "<DIR>" or the size right-aligned to end at column 37, and the name starts
 * at column 39 ("06-29-95  03:05PM       <DIR>          muntemp"). Clients
 * (FileZilla, lftp, Mozilla's ParseFTPList) rely on these fixed columns.
 */
static void list_msdos(struct buf *out, const char *name, size_t namelen, const struct stat *st)
{
    struct tm tm;
    int hour12;

    list_gmtime(st->st_mtime, &tm);
    hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    buf_printf(out, "%02d-%02d-%02d  %02d:%02d%s", tm.tm_mon + 1, tm.tm_mday,
               (tm.tm_year % 100 + 100) % 100, hour12, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
    if (S_ISDIR(st->st_mode))
        buf_puts(out, "       <DIR>          ");
    else
        buf_printf(out, " %20lld ", (long long)st->st_size);
    list_end(out, name, namelen);
}

void ftp_list_line(struct buf *out, enum ftp_list_style style, const char *name, size_t namelen,
                   const struct stat *st, time_t now)
{
    if (style == FTP_LIST_MSDOS)
        list_msdos(out, name, namelen, st);
    else
        list_unix(out, name, namelen, st, now);
}

void ftp_nlst_line(struct buf *out, const char *name, size_t namelen)
{
    list_end(out, name, namelen);
}

/* The perm fact letters, alphabetical (RFC 3659 7.5.5 sets no order). */
static const char *list_perm_letters(bool dir, unsigned perms)
{
    static const char *const file_perms[4] = {"", "r", "adfw", "adfrw"};
    static const char *const dir_perms[4] = {"", "el", "cdfmp", "cdeflmp"};
    unsigned k = perms & (FTP_PERM_READ | FTP_PERM_WRITE);

    return dir ? dir_perms[k] : file_perms[k];
}

void ftp_mlsx_line(struct buf *out, const char *name, size_t namelen, const struct stat *st,
                   unsigned perms, bool is_cdir, bool is_pdir)
{
    bool dir = is_cdir || is_pdir || S_ISDIR(st->st_mode);
    const char *type = is_cdir ? "cdir" : is_pdir ? "pdir" : dir ? "dir" : "file";
    char modify[15];

    ftp_time14(st->st_mtime, modify);
    buf_printf(out, "type=%s;", type);
    if (!dir)
        buf_printf(out, "size=%lld;", (long long)st->st_size);
    buf_printf(out, "modify=%s;perm=%s; ", modify, list_perm_letters(dir, perms));
    list_end(out, name, namelen);
}

/* N as exactly WIDTH decimal digits at OUT (N < 10^WIDTH). */
static void list_digits(char *out, int n, int width)
{
    while (width-- > 0) {
        out[width] = (char)('0' + n % 10);
        n /= 10;
    }
}

void ftp_time14(time_t t, char out[15])
{
    struct tm tm;
    long long year;

    list_gmtime(t, &tm);
    year = (long long)tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        /* Fourteen digits cannot say it: the nearest time they can. */
        memcpy(out, year < 0 ? "00000101000000" : "99991231235959", 15);
        return;
    }
    list_digits(out, (int)year, 4);
    list_digits(out + 4, tm.tm_mon + 1, 2);
    list_digits(out + 6, tm.tm_mday, 2);
    list_digits(out + 8, tm.tm_hour, 2);
    list_digits(out + 10, tm.tm_min, 2);
    list_digits(out + 12, tm.tm_sec, 2);
    out[14] = '\0';
}
