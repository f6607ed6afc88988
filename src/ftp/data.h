/*
 * data: FTP data connections — a passive listener (PASV, EPSV) on the
 * control connection's local address that accepts only the client's
 * address, or an active connection (PORT, EPRT) to the client's own address
 * only; TLS on them (PROT P) resuming the control connection's session; and
 * the transfers over them: files sent (sendfile, or LF to CRLF for TYPE A),
 * files received (into a temporary name renamed when complete, or in place
 * for REST and APPE), listings. Owned by its control connection; worker
 * thread.
 */
#ifndef FTP_DATA_H
#define FTP_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct buf;
struct ftp_conn;

enum ftp_xfer { XFER_SEND_FILE, XFER_SEND_BUF, XFER_RECV_FILE };

struct ftp_xfer_req {
    enum ftp_xfer kind;
    int fd;               /* SEND_FILE: the file; RECV_FILE: the file written (taken over) */
    off_t off;            /* where to start */
    bool ascii;           /* TYPE A conversion */
    struct buf *buf;      /* SEND_BUF: the listing (taken over) */
    int dirfd;            /* RECV_FILE: the directory of the temporary name (taken over), or -1 */
    char tmp[64];         /* RECV_FILE: the temporary name to rename, or "" to write in place */
    char final[256];      /* RECV_FILE: the name it becomes */
    const char *what;     /* "RETR", "STOR", "LIST"... for the replies and the log */
};

/** PASV (EPSV when EXTENDED): listen and queue the 227/229 reply; -1 after an error reply. */
int ftp_data_passive(struct ftp_conn *c, bool extended);
/** PORT/EPRT to ADDR (already checked to be the client's): queue 200. */
int ftp_data_active(struct ftp_conn *c, const struct sockaddr_storage *addr, socklen_t len);
/** True when PASV or PORT prepared a data connection for the next transfer. */
bool ftp_data_ready(const struct ftp_conn *c);
/** Start transfer R on the prepared connection (the 150 reply is queued here). */
void ftp_data_start(struct ftp_conn *c, struct ftp_xfer_req *r);
/** True while a transfer runs. */
bool ftp_data_busy(const struct ftp_conn *c);
/** Bytes moved by the transfer in progress. */
uint64_t ftp_data_bytes(const struct ftp_conn *c);
/** ABOR: end the transfer with 426 (and 226 for the ABOR), or just 225/226 when none runs. */
void ftp_data_abort(struct ftp_conn *c);
/** Close and forget the data connection (a partial upload's temporary file is removed). */
void ftp_data_close(struct ftp_conn *c);
/** Free the memory a closed data connection kept (with the control connection). */
void ftp_data_release(struct ftp_conn *c);

#endif
