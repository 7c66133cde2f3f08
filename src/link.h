/* link.h - one transport connection behind a small table of functions.
 *
 * A link is a connected transport endpoint: a TCP socket (link_tcp.c)
 * today; TLS (link_tls.c), SRT (link_srt.c) and unicast UDP (link_udp.c)
 * plug in as further files with a row in the table of link.c. The session
 * layer (conn.c: HELLO, framing, queue, keepalive, close reason) sits on
 * top and never calls a transport directly; listener.c accepts links and
 * dialer.c connects them.
 *
 *   role (sink_tcp, source_tcp, hub, gateway)
 *     |  conn_*                          session: one per peer
 *   conn.c ---- link_* -----------> link_tcp.c | link_tls.c | link_srt.c ...
 *     ^   <--- struct link_events ---'
 *   listener.c / dialer.c  (make links: accept, connect with backoff)
 *
 * Two kinds of transport, told apart by caps:
 *  - LINK_CAP_STREAM: a byte stream. A write may take part of what it is
 *    given; reads arrive in pieces of any size (TCP, TLS).
 *  - LINK_CAP_MESSAGES: messages. One write call is one message (the
 *    iovec's pieces put together), sent whole or not at all; one read
 *    callback is one whole message (SRT, UDP). A message is at most
 *    link_max_message() bytes. write() copies the message at once, so
 *    the memory may be reused when it returns; on_write says it is gone
 *    and another write may follow. conn.c cuts longer frames into
 *    fragments (frag.h).
 *  - LINK_CAP_KEEPALIVE: the transport cannot tell a vanished peer (UDP):
 *    the session pings and closes the link when the peer falls silent.
 *
 * Lifetime: a link is made by link_new() (connect side) or by a listener
 * (accept side) and belongs to the session it is attached to. link_close()
 * may be called any number of times from any callback; when the transport
 * has let go of everything, ev->on_close() runs once, after which the link
 * is freed by the transport. No event comes after on_close.
 */
#ifndef MCFERRY_LINK_H
#define MCFERRY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

#include "uri.h"

#define LINK_PEER_MAX 64
#define LINK_IDENTITY_MAX 256

enum link_cap {
	LINK_CAP_STREAM = 1 << 0,
	LINK_CAP_MESSAGES = 1 << 1,
	LINK_CAP_KEEPALIVE = 1 << 2,
};

struct stats;

struct link;
struct listener;

/* What the session hears from its link. Set with link_attach(). */
struct link_events {
	/* Connect side: the connection is up (status 0) or failed. Accept
	 * side: the link is ready for data (at once for TCP; after the
	 * handshake for TLS). Failure is followed by nothing but on_close
	 * once the session closes the link. */
	void (*on_connect)(struct link *l, int status);
	/* Where the next read may land: at most *len bytes at *p. */
	void (*on_alloc)(struct link *l, uint8_t **p, size_t *len);
	/* n bytes (stream) or one message of n bytes were read into the
	 * buffer on_alloc gave; n < 0 is UV_EOF or another libuv error. */
	void (*on_read)(struct link *l, ssize_t n);
	/* A link_write() finished: status 0, or a negative error. */
	void (*on_write)(struct link *l, int status);
	/* The link is closed and about to be freed. */
	void (*on_close)(struct link *l);
};

/* Per-endpoint configuration of a transport, made once per URI (a TLS
 * context with its certificates, SRT socket options) and shared by every
 * link of that endpoint. */
struct link_conf {
	const struct link_ops *ops;
	const struct uri *uri;
	void *tctx;             /* the transport's own, or NULL */
};

struct link_ops {
	const char *name;       /* "tcp", "tls", ... : log lines and stats */
	unsigned caps;          /* enum link_cap */
	uint32_t max_message;   /* LINK_CAP_MESSAGES: largest message */
	/* Prepare conf->tctx from conf->uri (load certificates, say).
	 * 0 or a negative errno with a reason in err. NULL: nothing to do. */
	int (*conf_open)(struct link_conf *conf, char *err, size_t errlen);
	/* Re-read what conf_open read (SIGHUP); links keep running.
	 * NULL: nothing to reload. */
	int (*conf_reload)(struct link_conf *conf, char *err, size_t errlen);
	/* Free conf->tctx once no link uses it. NULL: nothing to free. */
	void (*conf_close)(struct link_conf *conf);
	/* Bind and listen on ls->conf's URI; every accepted peer becomes a
	 * link handed to listener_accepted(). 0 or a negative errno. */
	int (*listen)(struct listener *ls);
	/* Stop listening; listener_closed() once every handle is closed. */
	void (*listen_close)(struct listener *ls);
	/* A new, unconnected link (connect side). Never fails. */
	struct link *(*create)(uv_loop_t *loop, const struct link_conf *conf);
	/* Start connecting to sa; ev->on_connect reports. 0 or -errno. */
	int (*connect)(struct link *l, const struct sockaddr *sa);
	/* Start delivering reads through on_alloc/on_read. */
	int (*read_start)(struct link *l);
	/* Write what the transport takes now, without waiting. Returns the
	 * bytes taken (a stream may take part; a message link all or none),
	 * UV_EAGAIN when it takes nothing now, or another negative error. */
	int (*try_write)(struct link *l, const struct iovec *iov, unsigned n);
	/* Write all of iov, finishing later (ev->on_write). At most one in
	 * flight; the memory iov points at must stay valid until then (the
	 * iovec array itself may be reused at once). 0 or a negative error. */
	int (*write)(struct link *l, const struct iovec *iov, unsigned n);
	/* Kernel buffer sizes (0: leave it). */
	void (*set_buffers)(struct link *l, uint32_t sndbuf, uint32_t rcvbuf);
	/* Start closing; see the lifetime rule above. */
	void (*close)(struct link *l);
	/* Register the transport's own counters of l (SRT's RTT and
	 * retransmissions, say) in reg with owner l and these labels; the
	 * session removes them (stats_remove_owner(reg, l)) before the link
	 * goes. NULL: none. */
	void (*stats_add)(struct link *l, struct stats *reg,
			  const char *const *labels);
};

/* The part of every link the session may read; transports embed it
 * first in their own struct. */
struct link {
	const struct link_ops *ops;
	const struct link_conf *conf;
	const struct link_events *ev;
	void *data;                        /* the session's */
	uv_loop_t *loop;
	char peer[LINK_PEER_MAX];          /* "addr:port" of the far end */
	char identity[LINK_IDENTITY_MAX];  /* authenticated name, "" if none */
	/* Why the transport failed ("tls: certificate verify failed
	 * (certificate has expired)"), "" if it did not: the session
	 * closes with this as its reason. */
	char error[128];
	bool ready;                        /* accepted and ready for data */
	bool closing;
	/* LINK_CAP_MESSAGES: this link's largest message when it is not
	 * ops->max_message (a udp link's mtu=); 0: ops->max_message. */
	uint32_t max_message;
};

/* The largest message l takes in one write. */
static inline uint32_t link_max_message(const struct link *l)
{
	return l->max_message ? l->max_message : l->ops->max_message;
}

/* The transport for a URI's scheme, or NULL when the scheme has none. */
const struct link_ops *link_ops_for(enum uri_scheme scheme);
/* Fill conf for u (whose scheme must have a transport) and prepare it.
 * 0 or a negative errno with a reason in err. */
int link_conf_open(struct link_conf *conf, const struct uri *u, char *err,
		   size_t errlen);
/* Re-read what link_conf_open read (certificates and keys, on SIGHUP):
 * links made afterwards use the new files, established ones keep running
 * on theirs. 1 when reloaded, 0 when the transport reads no files, or a
 * negative errno with a reason in err (the old configuration stays). */
int link_conf_reload(struct link_conf *conf, char *err, size_t errlen);
/* Release what link_conf_open prepared. */
void link_conf_close(struct link_conf *conf);

/* A new connect-side link for conf. */
struct link *link_new(uv_loop_t *loop, const struct link_conf *conf);
/* Set the session and its events; call before connect or read_start. */
void link_attach(struct link *l, const struct link_events *ev, void *data);

static inline int link_connect(struct link *l, const struct sockaddr *sa)
{
	return l->ops->connect(l, sa);
}

static inline int link_read_start(struct link *l)
{
	return l->ops->read_start(l);
}

static inline int link_try_write(struct link *l, const struct iovec *iov,
				 unsigned n)
{
	return l->ops->try_write(l, iov, n);
}

static inline int link_write(struct link *l, const struct iovec *iov,
			     unsigned n)
{
	return l->ops->write(l, iov, n);
}

static inline void link_set_buffers(struct link *l, uint32_t sndbuf,
				    uint32_t rcvbuf)
{
	if (l->ops->set_buffers)
		l->ops->set_buffers(l, sndbuf, rcvbuf);
}

/* Start closing (idempotent). */
void link_close(struct link *l);

/* For transports: fill the common part of a new link. */
void link_init(struct link *l, const struct link_ops *ops,
	       const struct link_conf *conf, uv_loop_t *loop);

#endif
