/* conn.h - one TCP connection of a relay: bounded gathered writes, reads
 * as raw bytes or as link-protocol frames, and one close path with a reason.
 *
 * Lifetime: the owner creates a conn with conn_new() and either accepts or
 * connects it. conn_close() may be called from any callback, any number of
 * times; it only starts closing. When libuv has closed the handle, the
 * queue is released, the owner's on_closed() runs and the conn is freed.
 */
#ifndef MCFERRY_CONN_H
#define MCFERRY_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fanout.h"
#include "frame.h"
#include "relay.h"

enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_OPEN, CONN_CLOSING };

enum conn_rx {
	CONN_RX_DISCARD, /* read and drop (fan-out clients) */
	CONN_RX_RAW,     /* bytes to on_data */
	CONN_RX_FRAMES,  /* hello, then frames to on_frame */
};

struct conn;

struct conn_handler {
	void (*on_connect)(struct conn *c, int status); /* connect result */
	void (*on_data)(struct conn *c, const uint8_t *p, size_t n);
	void (*on_frame)(struct conn *c, const struct frame *f);
	void (*on_read_end)(struct conn *c); /* after each read's data */
	void (*on_hello)(struct conn *c);    /* peer's hello accepted */
	void (*on_closed)(struct conn *c); /* handle closed, about to free */
};

struct conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	unsigned id;
	enum conn_state state;
	enum conn_rx rx_mode;
	bool framed;            /* datagram framing on what we send */
	bool hello_seen;
	bool counted;           /* counted in relay stats.clients */
	const char *what;       /* "client", "publisher", "upstream" */
	char peer[64];
	struct relay *relay;
	void *owner;
	void *data;             /* the owner's per-connection state */
	const struct conn_handler *h;
	struct fanout_queue q;
	uint32_t sndbuf;
	uint8_t *rx;            /* partial frame (CONN_RX_FRAMES) */
	uint32_t rxlen;
	uint32_t rxcap;
	uint64_t sent_bytes;
	uint64_t wbytes;        /* bytes in the uv_write in flight */
	uint64_t last_rx;       /* loop time (ms) of the last bytes read */
	uint64_t last_ping;     /* loop time (ms) of the last PING sent */
	uint64_t soft_since;    /* loop time (ms) the queue went over soft */
	struct frame_hello peer_hello; /* valid once hello_seen */
	struct conn *prev, *next; /* owner's list */
};

/* A new connection of relay r (uv_tcp_init); queue_limit bounds its
 * output queue, sndbuf caps the kernel send buffer (0: leave it). */
struct conn *conn_new(struct relay *r, const char *what, enum conn_rx rx,
		      bool framed, uint64_t queue_limit, uint32_t sndbuf,
		      const struct conn_handler *h, void *owner);
/* Accept a pending connection from listener and open it. */
int conn_accept(struct conn *c, uv_stream_t *listener);
/* Start connecting; h->on_connect reports the result, and a conn whose
 * connect failed is closed by the caller. */
int conn_connect(struct conn *c, const struct sockaddr *sa);
/* Queue one datagram for sending (with its frame header when framed).
 * Returns 0 or -ENOBUFS when the queue is full (nothing queued). */
int conn_send(struct conn *c, struct buf *b);
/* Queue b as a DATA frame described by d (d->len = b->len): the header
 * goes in a small buffer of its own, since several links may frame one
 * buffer differently. Both or neither are queued: 0 or -ENOBUFS. */
int conn_send_data(struct conn *c, struct buf *b, const struct frame_data *d);
/* Queue a channel frame (JOIN, LEAVE, EXPORT, UNEXPORT, or FORWARDER with
 * active). Returns 0 or -ENOBUFS; the caller kicks the write. */
int conn_send_channel(struct conn *c, uint8_t type, const struct channel *ch,
		      int active);
/* Queue a span of b (a pre-built frame, say); same result as conn_send. */
int conn_send_span(struct conn *c, struct buf *b, uint8_t *p, uint32_t len);
/* Queue n bytes (a small control frame), copied into a pooled buffer. */
int conn_send_bytes(struct conn *c, const uint8_t *p, size_t n);
/* Keepalive tick (every FRAME_TICK_MS) for a link whose peer answers
 * pings: close it when silent for FRAME_DEAD_MS, else send a PING when
 * FRAME_PING_MS have passed since the last. */
void conn_keepalive(struct conn *c, uint64_t now);
/* Start a gathered write of everything queued, unless one is in flight. */
void conn_kick(struct conn *c);
/* Start closing with a reason that is logged once. */
void conn_close(struct conn *c, const char *reason);
/* Put c at the head of a list. */
void conn_list_add(struct conn **head, struct conn *c);
/* Take c out of its list. */
void conn_list_del(struct conn **head, struct conn *c);

#endif
