/* dialer.h - keeps one outbound TCP connection up: connect, and after a
 * failure or a close reconnect with jittered exponential backoff
 * (100 ms doubling to max_backoff_ms, 5 s unless set; back to 100 ms once
 * connected).
 */
#ifndef MCFERRY_DIALER_H
#define MCFERRY_DIALER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"

#define DIALER_BACKOFF_MIN_MS 100
#define DIALER_BACKOFF_MAX_MS 5000

struct dialer {
	struct relay *relay;
	struct sockaddr_storage addr;
	uv_timer_t timer;
	struct conn *conn;      /* attempt or open connection, or NULL */
	uint32_t backoff_ms;
	uint32_t max_backoff_ms;  /* 0: DIALER_BACKOFF_MAX_MS */
	unsigned failures;      /* consecutive failed attempts */
	bool ever_connected;
	bool stopping;
	bool keepalive;         /* ping the peer, close it when silent */
	uv_timer_t ka;          /* keepalive tick */
	int handles;            /* open handles: timers + conn */
	/* How connections are made, and whom they report to. */
	enum conn_rx rx;
	bool framed;
	uint64_t queue;
	uint32_t sndbuf;
	/* on_connect (success only), on_hello, on_data, on_frame,
	 * on_read_end, on_closed */
	const struct conn_handler *user;
	void *owner;
	void (*on_stopped)(struct dialer *d); /* every handle closed */
};

/* With keepalive set before dialer_start, the dialer sends a PING every
 * FRAME_PING_MS on an open framed link and closes it (reason=timeout,
 * then reconnects) when nothing was read for FRAME_DEAD_MS. Only for peers
 * that answer pings: hubs and the hub's own links. */

/* Start connecting to addr now. The caller fills the configuration
 * fields first; conns report to user with conn->owner == d and
 * conn->data == d->owner. */
void dialer_start(struct dialer *d, struct relay *r,
		  const struct sockaddr_storage *addr);
/* Stop: close the connection and the timer, then call on_stopped. */
void dialer_stop(struct dialer *d);
/* The open connection, or NULL while down. */
struct conn *dialer_conn(const struct dialer *d);

#endif
