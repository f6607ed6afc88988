/*
 * notify: the systemd service protocol (sd_notify(3)) without libsystemd —
 * READY, RELOADING, STOPPING and STATUS datagrams to $NOTIFY_SOCKET, and the
 * watchdog: WATCHDOG=1 every half $WATCHDOG_USEC, sent only while every worker
 * loop answers its pings. Does nothing outside systemd. Main thread only.
 */
#ifndef DAEMON_NOTIFY_H
#define DAEMON_NOTIFY_H

/** Read $NOTIFY_SOCKET and $WATCHDOG_USEC (unset afterwards, so children never see them). */
void notify_init(void);
/** Send STATE ("READY=1", "STOPPING=1", "STATUS=…"), if systemd listens. */
void notify_send(const char *state);
/** The configuration is being reloaded (RELOADING=1 with the monotonic time). */
void notify_reloading(void);
/** Called about once a second: the STATUS line every few seconds and the watchdog. */
void notify_tick(void);

#endif
