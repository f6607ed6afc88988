/*
 * ctrl: an FTP control connection — greeting, login (named users checked
 * off the loop, anonymous), AUTH TLS/PBSZ/PROT, the commands of RFC 959,
 * 2389, 2428, 3659 and 2640, their replies, and the data transfers they
 * start (data.h). One per client on the worker that accepted it; it is the
 * client's session in the runtime's table, and freed through it.
 */
#ifndef FTP_CTRL_H
#define FTP_CTRL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/loop.h"
#include "runtime/session.h"
#include "runtime/xport.h"

struct ftp_data;
struct listener;
struct worker;

enum fc_state {
    FC_HANDSHAKE,  /* implicit FTPS, or AUTH TLS: the TLS handshake */
    FC_CMD,        /* reading commands */
    FC_DEAD,
};

struct ftp_conn {
    struct session s; /* first: the runtime's view */
    struct loop_io io;
    struct loop_timer timer;
    struct xport x;
    enum fc_state state;
    struct buf *in, *out;      /* pooled; none held while idle */
    size_t out_sent;
    bool watch_out;
    bool hold;                 /* commands wait: a password check or a transfer runs */
    bool auth_pending, orphan; /* a check is on the auth thread; freed when it returns */
    bool quit;                 /* close once the replies are out */
    bool logged_in, anonymous, user_ok;
    bool prot_p, pbsz, utf8, ascii;
    bool failed_login_wait;    /* the delay after a wrong password runs */
    char user[64];
    char *home;                /* the named user's home in the site ("" for anonymous) */
    char *cwd;                 /* the client's current directory, "/" at first */
    char *rnfr;                /* RNFR's path until RNTO */
    off_t rest;
    struct ftp_data *data;     /* PASV/PORT set up, or a transfer running; else NULL */
    struct ftp_data *data_mem; /* its memory, kept until the connection is freed */
    int login_slot;            /* the site's stats slot the login counts in */
    char file[128];            /* the file being transferred, for the session table */
};

/** Adopt control connection FD accepted on LI (the service's accept operation). */
void ftp_ctrl_accept(struct worker *w, struct listener *li, int fd, const struct sockaddr *peer);
/** Close now, a transfer in progress included (Disconnect). */
void ftp_ctrl_close(struct ftp_conn *c);
/** Close when idle, else once the transfer in progress ends. */
void ftp_ctrl_drain(struct ftp_conn *c);
/** Free a closed connection (or mark it for the auth thread's answer to free). */
void ftp_ctrl_free(struct ftp_conn *c);
/** The FTP fields of a session: anonymous, current file, transfer bytes. */
void ftp_ctrl_describe(const struct session *s, json_t *out);

/** Queue reply CODE TEXT (one line); data.c reports the end of transfers with it. */
void ftp_reply(struct ftp_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Write an access-log line for command VERB on ARG answered with CODE. */
void ftp_ctrl_log(struct ftp_conn *c, const char *verb, const char *arg, int code);
/** A transfer ended: replies are queued by the caller; commands resume. */
void ftp_ctrl_transfer_done(struct ftp_conn *c);
/** Send what is queued; -1 when the connection died. */
int ftp_ctrl_flush(struct ftp_conn *c);

/** The connection whose session is S. */
static inline struct ftp_conn *ftp_conn_of(struct session *s)
{
    return (struct ftp_conn *)(void *)s;
}

#endif
