/* dialer.h - keeps one outbound connection up, over any transport:
 * resolve, connect, and after a failure or a close reconnect with
 * jittered exponential backoff (100 ms doubling to max_backoff_ms, 5 s
 * unless set; back to 100 ms once connected).
 */
#ifndef MCFERRY_DIALER_H
#define MCFERRY_DIALER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"
#include "link.h"

#define DIALER_BACKOFF_MIN_MS 100
#define DIALER_BACKOFF_MAX_MS 5000

struct dialer;

/* Everything a dialer is told, in one place. */
struct dialer_conf {
	const struct uri *uri;      /* where to, and through which transport */
	struct conn_conf conn;      /* how each connection is made */
	bool keepalive;             /* ping the peer, close it when silent */
	uint32_t max_backoff_ms;    /* 0: DIALER_BACKOFF_MAX_MS */
	/* on_connect (success only), on_hello, on_data, on_frame,
	 * on_read_end, on_closed; conn->owner is the dialer, conn->data is
	 * owner. */
	const struct conn_handler *user;
	void *owner;
	void (*on_stopped)(struct dialer *d); /* every handle closed */
};

struct dialer {
	struct dialer_conf conf;
	const struct conn_owner *own;
	struct link_conf link;
	struct sockaddr_storage addr;
	uv_timer_t timer;
	uv_timer_t ka;          /* keepalive tick */
	struct conn *conn;      /* attempt or open connection, or NULL */
	uint32_t backoff_ms;
	unsigned failures;      /* consecutive failed attempts */
	int handles;            /* open handles: timers + conn */
	bool ever_connected;
	bool started;
	bool stopping;
};

/* With conf->keepalive, the dialer sends a PING every FRAME_PING_MS on
 * an open framed link and closes it (reason=timeout, then reconnects)
 * when nothing was read for FRAME_DEAD_MS. Only for peers that answer
 * pings: hubs and the hub's own links. */

/* Resolve conf->uri, prepare its transport and start connecting now.
 * 0, or a negative errno with a reason in err (nothing started then). */
int dialer_start(struct dialer *d, const struct conn_owner *own,
		 const struct dialer_conf *conf, char *err, size_t errlen);
/* Stop: close the connection and the timers, then call on_stopped. A
 * dialer that never started calls nothing. */
void dialer_stop(struct dialer *d);
/* The open connection, or NULL while down. */
struct conn *dialer_conn(const struct dialer *d);

#endif
