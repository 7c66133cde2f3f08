/* notify.h - the service manager notification protocol of sd_notify(3),
 * without libsystemd: one datagram of "VAR=VALUE" lines to the unix
 * socket $NOTIFY_SOCKET names (a path, or '@' for the abstract
 * namespace). Low level: returns 0 or a negative errno, never logs.
 *
 * What mcferry sends (main.c): READY=1 with STATUS= once every endpoint
 * is up; STATUS= every few seconds; WATCHDOG=1 at half of $WATCHDOG_USEC
 * from a loop timer, so a loop that is stuck is noticed and restarted;
 * RELOADING=1 with MONOTONIC_USEC= on SIGHUP, then READY=1 when the
 * reload is done; STOPPING=1 on SIGTERM and SIGINT.
 */
#ifndef MCFERRY_NOTIFY_H
#define MCFERRY_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* True when $NOTIFY_SOCKET is set: there is someone to tell. */
bool notify_enabled(void);
/* Send text (newline-separated assignments) to $NOTIFY_SOCKET. 0 when
 * sent or when there is no socket to send to, else a negative errno. */
int notify_send(const char *text);
/* The watchdog interval the manager asks for, in microseconds:
 * $WATCHDOG_USEC when it is set and $WATCHDOG_PID, if set, is this
 * process; else 0. */
uint64_t notify_watchdog_usec(void);
/* CLOCK_MONOTONIC in microseconds, for MONOTONIC_USEC=. */
uint64_t notify_monotonic_usec(void);

#endif
