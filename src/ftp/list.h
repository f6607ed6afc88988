/*
 * list: the lines of FTP directory listings — LIST in the UNIX style
 * ("-rw-r--r--   1 owner group  1234 Dec  1 12:00 name") or the MS-DOS
 * style of the original server ("12-01-26  12:00PM                 1234 name", the size ending at column 37), NLST
 * names, and the RFC 3659 facts of MLSD/MLST ("type=file;size=1234;
 * modify=20261201120000;perm=rfw; name"). Pure over a struct stat and
 * the caller's clock; any thread.
 */
#ifndef FTP_LIST_H
#define FTP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

struct buf;

enum ftp_list_style { FTP_LIST_UNIX, FTP_LIST_MSDOS };

/* The perm fact letters a user has on an entry (RFC 3659 7.5.5), chosen by the caller. */
enum ftp_perm {
    FTP_PERM_READ = 1 << 0,   /* r: RETR (files); e, l: CWD and LIST (directories) */
    FTP_PERM_WRITE = 1 << 1,  /* a, w, d, f: APPE, STOR, DELE, RNFR (files); c, m, d, f, p (dirs) */
};

/**
 * Append one LIST line for NAME (NAMELEN bytes) with metadata ST, ended by
 * CRLF. UNIX style shows "ftp" as owner and group, the time for entries
 * younger than six months before NOW and the year for older ones (as ls).
 */
void ftp_list_line(struct buf *out, enum ftp_list_style style, const char *name, size_t namelen,
                   const struct stat *st, time_t now);

/** Append one NLST line: NAME and CRLF. */
void ftp_nlst_line(struct buf *out, const char *name, size_t namelen);

/**
 * Append the MLSx facts and name for one entry, ended by CRLF:
 * "type=file;size=N;modify=YYYYMMDDHHMMSS;perm=...; NAME\r\n". TYPE is
 * "cdir" / "pdir" when the caller passes IS_CDIR / IS_PDIR for "." and "..",
 * else "dir" or "file" by ST. PERMS is a mask of enum ftp_perm. For MLST
 * the caller adds the leading space RFC 3659 asks for.
 */
void ftp_mlsx_line(struct buf *out, const char *name, size_t namelen, const struct stat *st,
                   unsigned perms, bool is_cdir, bool is_pdir);

/** Format T as the YYYYMMDDHHMMSS of MDTM and modify= (UTC) into OUT (15 bytes). */
void ftp_time14(time_t t, char out[15]);

#endif
