/* Unit tests for src/ftp/list.c: UNIX and MS-DOS LIST lines (modes, the
 * six-month rule and its bounds, the IIS columns, 12-hour clock), NLST,
 * MLSx facts and perms, and the 14-digit time of MDTM. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "ftp/list.h"

static struct buf out;

static void teardown(void)
{
    buf_free(&out);
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};

    return timegm(&tm);
}

/* Wednesday, 25 November 2026, 16:05:00 UTC */
#define NOW utc(2026, 11, 25, 16, 5, 0)

static struct stat mkst(mode_t mode, unsigned long nlink, long long size, time_t mtime)
{
    struct stat st;

    memset(&st, 0, sizeof st);
    st.st_mode = mode;
    st.st_nlink = (nlink_t)nlink;
    st.st_size = (off_t)size;
    st.st_mtime = mtime;
    return st;
}

#define FILE_644 (S_IFREG | 0644)
#define DIR_755 (S_IFDIR | 0755)

/* The buffer holds exactly the bytes WANT[0..N). */
static void expect_bytes(const char *want, size_t n)
{
    cr_assert(out.len - out.off == n && memcmp(out.data + out.off, want, n) == 0,
              "want %zu bytes\n  \"%.*s\"\ngot %zu bytes\n  \"%.*s\"", n, (int)n, want,
              out.len - out.off, (int)(out.len - out.off), out.data ? out.data + out.off : "");
}

#define expect_out(lit) expect_bytes((lit), sizeof(lit) - 1)

static void list_one(enum ftp_list_style style, const char *name, const struct stat *st, time_t now)
{
    buf_reset(&out);
    ftp_list_line(&out, style, name, strlen(name), st, now);
}

static void expect_unix(const char *name, const struct stat *st, time_t now, const char *want)
{
    list_one(FTP_LIST_UNIX, name, st, now);
    expect_bytes(want, strlen(want));
}

static void expect_msdos(const char *name, const struct stat *st, const char *want)
{
    /* The MS-DOS style never depends on NOW. */
    list_one(FTP_LIST_MSDOS, name, st, 0);
    expect_bytes(want, strlen(want));
    list_one(FTP_LIST_MSDOS, name, st, NOW);
    expect_bytes(want, strlen(want));
}

/* ---- UNIX style ---- */

TestSuite(ftp_list_unix, .fini = teardown);

Test(ftp_list_unix, recent_file)
{
    struct stat st = mkst(FILE_644, 1, 1234, utc(2026, 11, 1, 9, 7, 42));

    expect_unix("a.txt", &st, NOW,
                "-rw-r--r--   1 ftp      ftp      "
                "        1234 Nov  1 09:07 a.txt\r\n");
}

Test(ftp_list_unix, old_file_shows_the_year)
{
    struct stat st = mkst(FILE_644, 1, 1234, utc(2024, 2, 29, 13, 45, 0));

    expect_unix("old.txt", &st, NOW,
                "-rw-r--r--   1 ftp      ftp      "
                "        1234 Feb 29  2024 old.txt\r\n");
}

Test(ftp_list_unix, directory)
{
    struct stat st = mkst(DIR_755, 3, 4096, utc(2026, 6, 1, 0, 0, 0));

    expect_unix("pub", &st, NOW,
                "drwxr-xr-x   3 ftp      ftp      "
                "        4096 Jun  1 00:00 pub\r\n");
}

Test(ftp_list_unix, six_months_bounds)
{
    time_t now = NOW;
    struct stat st = mkst(FILE_644, 1, 0, now - 183 * 86400);

    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 May 26 16:05 f\r\n");
    st.st_mtime = now - 183 * 86400 - 1;
    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 May 26  2026 f\r\n");
    st.st_mtime = now;
    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 Nov 25 16:05 f\r\n");
}

Test(ftp_list_unix, future_bounds)
{
    time_t now = NOW;
    struct stat st = mkst(FILE_644, 1, 0, now + 3600);

    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 Nov 25 17:05 f\r\n");
    st.st_mtime = now + 3601;
    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 Nov 25  2026 f\r\n");
    st.st_mtime = utc(2031, 1, 2, 3, 4, 5);
    expect_unix("f", &st, now, "-rw-r--r--   1 ftp      ftp                 0 Jan  2  2031 f\r\n");
}

Test(ftp_list_unix, every_month_in_english)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int m;

    for (m = 1; m <= 12; m++) {
        struct stat st = mkst(FILE_644, 1, 5, utc(2025, m, 15, 12, 0, 0));
        char want[128];

        snprintf(want, sizeof want,
                 "-rw-r--r--   1 ftp      ftp                 5 %s 15  2025 x\r\n", months[m - 1]);
        expect_unix("x", &st, utc(2030, 1, 1, 0, 0, 0), want);
    }
}

Test(ftp_list_unix, utc_whatever_the_time_zone)
{
    struct stat st = mkst(FILE_644, 1, 1, utc(2026, 11, 25, 10, 30, 0));

    setenv("TZ", "XYZ-5:30", 1);
    tzset();
    expect_unix("z", &st, NOW, "-rw-r--r--   1 ftp      ftp                 1 Nov 25 10:30 z\r\n");
    list_one(FTP_LIST_MSDOS, "z", &st, NOW);
    expect_out("11-25-26  10:30AM                    1 z\r\n");
}

Test(ftp_list_unix, modes)
{
    static const struct {
        mode_t mode;
        const char *str;
    } modes[] = {
        {S_IFREG | 0644, "-rw-r--r--"},  {S_IFREG | 0755, "-rwxr-xr-x"},
        {S_IFREG | 0000, "----------"},  {S_IFREG | 0777, "-rwxrwxrwx"},
        {S_IFREG | 0421, "-r---w---x"},  {S_IFDIR | 0755, "drwxr-xr-x"},
        {S_IFDIR | 0700, "drwx------"},  {S_IFLNK | 0777, "lrwxrwxrwx"},
        {S_IFCHR | 0666, "crw-rw-rw-"},  {S_IFBLK | 0660, "brw-rw----"},
        {S_IFIFO | 0600, "prw-------"},  {S_IFSOCK | 0755, "srwxr-xr-x"},
        {S_IFREG | 04755, "-rwsr-xr-x"}, {S_IFREG | 04644, "-rwSr--r--"},
        {S_IFREG | 02755, "-rwxr-sr-x"}, {S_IFREG | 02644, "-rw-r-Sr--"},
        {S_IFDIR | 01777, "drwxrwxrwt"}, {S_IFDIR | 01754, "drwxr-xr-T"},
        {S_IFREG | 07777, "-rwsrwsrwt"}, {S_IFREG | 07000, "---S--S--T"},
    };
    size_t i;

    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct stat st = mkst(modes[i].mode, 1, 0, NOW);

        list_one(FTP_LIST_UNIX, "m", &st, NOW);
        cr_assert(out.len >= 10 && memcmp(out.data, modes[i].str, 10) == 0,
                  "mode %o: want %s, got %.10s", (unsigned)modes[i].mode, modes[i].str, out.data);
    }
}

Test(ftp_list_unix, wide_numbers_push_the_columns)
{
    struct stat st = mkst(FILE_644, 1234, 123456789012345LL, NOW);

    expect_unix("big", &st, NOW,
                "-rw-r--r-- 1234 ftp      ftp      123456789012345 Nov 25 16:05 big\r\n");
    st = mkst(FILE_644, 1, 999999999999LL, NOW);
    expect_unix("b", &st, NOW, "-rw-r--r--   1 ftp      ftp      999999999999 Nov 25 16:05 b\r\n");
}

Test(ftp_list_unix, name_by_length)
{
    struct stat st = mkst(FILE_644, 1, 7, NOW);

    buf_reset(&out);
    ftp_list_line(&out, FTP_LIST_UNIX, "my file.txt-and-more", 11, &st, NOW);
    expect_out("-rw-r--r--   1 ftp      ftp                 7 Nov 25 16:05 my file.txt\r\n");
    buf_reset(&out);
    ftp_list_line(&out, FTP_LIST_UNIX, "a\0b", 3, &st, NOW);
    expect_out("-rw-r--r--   1 ftp      ftp                 7 Nov 25 16:05 a\0b\r\n");
}

Test(ftp_list_unix, lines_accumulate)
{
    struct stat f = mkst(FILE_644, 1, 1, NOW), d = mkst(DIR_755, 2, 4096, NOW);

    buf_reset(&out);
    ftp_list_line(&out, FTP_LIST_UNIX, "d", 1, &d, NOW);
    ftp_list_line(&out, FTP_LIST_UNIX, "f", 1, &f, NOW);
    expect_out("drwxr-xr-x   2 ftp      ftp              4096 Nov 25 16:05 d\r\n"
               "-rw-r--r--   1 ftp      ftp                 1 Nov 25 16:05 f\r\n");
}

/* ---- MS-DOS style (IIS) ---- */

TestSuite(ftp_list_msdos, .fini = teardown);

Test(ftp_list_msdos, directory_and_file)
{
    struct stat d = mkst(DIR_755, 2, 4096, utc(2026, 11, 25, 15, 29, 0));
    struct stat f = mkst(FILE_644, 1, 689, utc(2026, 11, 25, 15, 30, 0));

    expect_msdos("aspnet_client", &d, "11-25-26  03:29PM       <DIR>          aspnet_client\r\n");
    expect_msdos("iisstart.htm", &f, "11-25-26  03:30PM                  689 iisstart.htm\r\n");
}

/* The lines other parsers are tested with (Mozilla's ParseFTPList,
 * FileZilla's directory listing parser), produced byte for byte. */
Test(ftp_list_msdos, published_examples)
{
    struct stat st;

    st = mkst(DIR_755, 2, 0, utc(1995, 6, 29, 15, 5, 0));
    expect_msdos("muntemp", &st, "06-29-95  03:05PM       <DIR>          muntemp\r\n");
    st = mkst(FILE_644, 1, 961590, utc(1995, 5, 2, 10, 3, 0));
    expect_msdos("naxp11e.zip", &st, "05-02-95  10:03AM               961590 naxp11e.zip\r\n");
    st = mkst(DIR_755, 2, 0, utc(2000, 4, 27, 12, 9, 0));
    expect_msdos("DOS dir 1", &st, "04-27-00  12:09PM       <DIR>          DOS dir 1\r\n");
    st = mkst(FILE_644, 1, 589, utc(2000, 4, 14, 15, 47, 0));
    expect_msdos("DOS file 1", &st, "04-14-00  03:47PM                  589 DOS file 1\r\n");
}

Test(ftp_list_msdos, fixed_columns)
{
    static const long long sizes[] = {0, 7, 961590, 123456789012345LL, 9223372036854775807LL};
    struct stat st;
    size_t i;

    st = mkst(DIR_755, 2, 0, NOW);
    list_one(FTP_LIST_MSDOS, "n", &st, NOW);
    cr_assert_eq(memcmp(out.data + 24, "<DIR>", 5), 0);
    cr_assert_eq(out.data[39], 'n');
    cr_assert_eq(out.len, 42);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        st = mkst(FILE_644, 1, sizes[i], NOW);
        list_one(FTP_LIST_MSDOS, "n", &st, NOW);
        cr_assert_eq(out.data[17], ' ', "size %lld", sizes[i]);
        cr_assert(out.data[37] >= '0' && out.data[37] <= '9', "size %lld ends at 37", sizes[i]);
        cr_assert_eq(out.data[38], ' ');
        cr_assert_eq(out.data[39], 'n', "size %lld: name at 39", sizes[i]);
        cr_assert_eq(strtoll(out.data + 17, NULL, 10), sizes[i]);
    }
}

Test(ftp_list_msdos, twelve_hour_clock)
{
    static const struct {
        int h, m;
        const char *want;
    } times[] = {
        {0, 0, "12:00AM"},   {0, 5, "12:05AM"},   {1, 0, "01:00AM"},   {9, 9, "09:09AM"},
        {11, 59, "11:59AM"}, {12, 0, "12:00PM"},  {12, 30, "12:30PM"}, {13, 0, "01:00PM"},
        {21, 9, "09:09PM"},  {23, 59, "11:59PM"},
    };
    size_t i;

    for (i = 0; i < sizeof times / sizeof times[0]; i++) {
        struct stat st = mkst(FILE_644, 1, 1, utc(2026, 3, 4, times[i].h, times[i].m, 59));

        list_one(FTP_LIST_MSDOS, "t", &st, NOW);
        cr_assert(memcmp(out.data, "03-04-26  ", 10) == 0 &&
                      memcmp(out.data + 10, times[i].want, 7) == 0,
                  "%02d:%02d: got %.17s, want %s", times[i].h, times[i].m, out.data, times[i].want);
    }
}

Test(ftp_list_msdos, two_digit_years)
{
    struct stat st = mkst(FILE_644, 1, 1, utc(2000, 1, 1, 0, 0, 0));

    expect_msdos("y", &st, "01-01-00  12:00AM                    1 y\r\n");
    st.st_mtime = utc(1999, 12, 31, 23, 59, 59);
    expect_msdos("y", &st, "12-31-99  11:59PM                    1 y\r\n");
    st.st_mtime = utc(2009, 9, 9, 9, 9, 9);
    expect_msdos("y", &st, "09-09-09  09:09AM                    1 y\r\n");
    st.st_mtime = 0;
    expect_msdos("y", &st, "01-01-70  12:00AM                    1 y\r\n");
    st.st_mtime = utc(1899, 12, 31, 13, 0, 0);
    expect_msdos("y", &st, "12-31-99  01:00PM                    1 y\r\n");
}

Test(ftp_list_msdos, link_is_listed_as_a_file)
{
    struct stat st = mkst(S_IFLNK | 0777, 1, 11, utc(2026, 11, 25, 15, 30, 0));

    expect_msdos("ln", &st, "11-25-26  03:30PM                   11 ln\r\n");
}

/* ---- NLST ---- */

TestSuite(ftp_nlst, .fini = teardown);

Test(ftp_nlst, name_and_crlf)
{
    buf_reset(&out);
    ftp_nlst_line(&out, "a.txt", 5);
    ftp_nlst_line(&out, "my dir/x", 6);
    ftp_nlst_line(&out, "", 0);
    expect_out("a.txt\r\nmy dir\r\n\r\n");
}

/* ---- MLSx ---- */

TestSuite(ftp_mlsx, .fini = teardown);

static void expect_mlsx(const char *name, const struct stat *st, unsigned perms, bool cdir,
                        bool pdir, const char *want)
{
    buf_reset(&out);
    ftp_mlsx_line(&out, name, strlen(name), st, perms, cdir, pdir);
    expect_bytes(want, strlen(want));
}

#define RW (FTP_PERM_READ | FTP_PERM_WRITE)

Test(ftp_mlsx, file_perms)
{
    struct stat st = mkst(FILE_644, 1, 1234, utc(2026, 11, 1, 9, 7, 42));

    expect_mlsx("a.txt", &st, RW, false, false,
                "type=file;size=1234;modify=20261101090742;perm=adfrw; a.txt\r\n");
    expect_mlsx("a.txt", &st, FTP_PERM_READ, false, false,
                "type=file;size=1234;modify=20261101090742;perm=r; a.txt\r\n");
    expect_mlsx("a.txt", &st, FTP_PERM_WRITE, false, false,
                "type=file;size=1234;modify=20261101090742;perm=adfw; a.txt\r\n");
    expect_mlsx("a.txt", &st, 0, false, false,
                "type=file;size=1234;modify=20261101090742;perm=; a.txt\r\n");
    /* Bits outside the enum are ignored. */
    expect_mlsx("a.txt", &st, FTP_PERM_READ | 0x40, false, false,
                "type=file;size=1234;modify=20261101090742;perm=r; a.txt\r\n");
}

Test(ftp_mlsx, dir_perms_and_no_size)
{
    struct stat st = mkst(DIR_755, 3, 4096, utc(2026, 6, 1, 0, 0, 0));

    expect_mlsx("pub", &st, RW, false, false,
                "type=dir;modify=20260601000000;perm=cdeflmp; pub\r\n");
    expect_mlsx("pub", &st, FTP_PERM_READ, false, false,
                "type=dir;modify=20260601000000;perm=el; pub\r\n");
    expect_mlsx("pub", &st, FTP_PERM_WRITE, false, false,
                "type=dir;modify=20260601000000;perm=cdfmp; pub\r\n");
    expect_mlsx("pub", &st, 0, false, false, "type=dir;modify=20260601000000;perm=; pub\r\n");
}

Test(ftp_mlsx, cdir_and_pdir)
{
    struct stat st = mkst(DIR_755, 3, 4096, utc(2026, 6, 1, 0, 0, 0));

    expect_mlsx(".", &st, FTP_PERM_READ, true, false,
                "type=cdir;modify=20260601000000;perm=el; .\r\n");
    expect_mlsx("..", &st, RW, false, true, "type=pdir;modify=20260601000000;perm=cdeflmp; ..\r\n");
    expect_mlsx("/pub", &st, FTP_PERM_READ, true, true,
                "type=cdir;modify=20260601000000;perm=el; /pub\r\n");
}

Test(ftp_mlsx, names_and_other_types)
{
    struct stat st = mkst(FILE_644, 1, 0, 0);

    expect_mlsx("my file;x=y.txt", &st, FTP_PERM_READ, false, false,
                "type=file;size=0;modify=19700101000000;perm=r; my file;x=y.txt\r\n");
    st = mkst(S_IFLNK | 0777, 1, 9, 0);
    expect_mlsx("ln", &st, FTP_PERM_READ, false, false,
                "type=file;size=9;modify=19700101000000;perm=r; ln\r\n");
    buf_reset(&out);
    ftp_mlsx_line(&out, "abcdef", 3, &st, 0, false, false);
    expect_out("type=file;size=9;modify=19700101000000;perm=; abc\r\n");
}

/* ---- MDTM time ---- */

static void expect_time14(time_t t, const char *want)
{
    char s[15];

    memset(s, 'x', sizeof s);
    ftp_time14(t, s);
    cr_assert_eq(s[14], '\0', "t=%lld not terminated", (long long)t);
    cr_assert_str_eq(s, want, "t=%lld", (long long)t);
}

Test(ftp_time14, values)
{
    expect_time14(0, "19700101000000");
    expect_time14(NOW + 9, "20261125160509");
    expect_time14(utc(2000, 2, 29, 23, 59, 59), "20000229235959");
    expect_time14(-1, "19691231235959");
    expect_time14(utc(9999, 12, 31, 23, 59, 59), "99991231235959");
    expect_time14(utc(1, 1, 1, 0, 0, 0), "00010101000000");
    expect_time14(utc(0, 1, 1, 0, 0, 0), "00000101000000");
}

Test(ftp_time14, clamped_outside_four_digit_years)
{
    expect_time14(utc(9999, 12, 31, 23, 59, 59) + 1, "99991231235959");
    expect_time14((time_t)INT64_MAX, "99991231235959");
    expect_time14(utc(0, 1, 1, 0, 0, 0) - 1, "00000101000000");
    expect_time14((time_t)INT64_MIN, "00000101000000");
}

Test(ftp_list_unix, extreme_times_do_not_crash)
{
    struct stat st = mkst(FILE_644, 1, 0, (time_t)INT64_MAX);

    list_one(FTP_LIST_UNIX, "f", &st, (time_t)INT64_MIN);
    expect_out("-rw-r--r--   1 ftp      ftp                 0 Dec 31  9999 f\r\n");
    st.st_mtime = (time_t)INT64_MIN;
    list_one(FTP_LIST_UNIX, "f", &st, (time_t)INT64_MAX);
    expect_out("-rw-r--r--   1 ftp      ftp                 0 Jan  1     0 f\r\n");
    list_one(FTP_LIST_MSDOS, "f", &st, 0);
    expect_out("01-01-00  12:00AM                    0 f\r\n");
}
