/* listener.h - one listening endpoint of any transport: listen, accept,
 * the list of sessions it made, and one log line per connection.
 *
 * The owner (a listening sink or source, the hub) sets on_accept, which
 * turns each accepted link into a session (conn_new) or refuses it by
 * returning NULL (the link is then closed); the listener then opens the
 * session. The owner keeps its sessions on its own list (a hub routes
 * over the links of all its listeners) and closes them; the listener
 * counts those it made until they have closed.
 *
 * Lifetime: listener_open, then listener_close (idempotent) closes the
 * listening handle; on_closed runs once it is closed, after which the
 * owner may free the struct. When listener_open fails it is closing
 * already: on_closed follows if a handle was made (handles > 0), and
 * nothing follows if not.
 *
 * Exposure: a listener bounds what strangers may hold. Before a session
 * is made, a peer over max-conns, over max-pending (sessions not yet past
 * their HELLO, in total) or over max-pending-per-addr is accepted and
 * closed at once (never left in the backlog), counted by reason and
 * logged at most once a second per reason. The session (conn.c) closes a
 * peer that has not finished its HELLO (and its transport's handshake)
 * hello-timeout seconds after the accept, and tells the listener when its
 * HELLO is in (listener_pending_end).
 */
#ifndef MCFERRY_LISTENER_H
#define MCFERRY_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "link.h"

struct conn;

/* Defaults when the URI does not say (max-conns=, max-pending=, ...). */
#define LISTENER_MAX_CONNS 10000
#define LISTENER_ADDR_BUCKETS 256

/* Why a peer was turned away before it had a session. */
enum listener_refusal {
	LISTENER_TOO_MANY_CONNS,
	LISTENER_TOO_MANY_PENDING,
	LISTENER_TOO_MANY_PENDING_ADDR,
	LISTENER_NO_DESCRIPTORS,  /* EMFILE/ENFILE: accepted on the spare */
	LISTENER_NREFUSALS,
};

/* Sessions not yet past their HELLO from one address. */
struct listener_addr {
	struct listener_addr *next;
	unsigned n;
	char addr[LINK_PEER_MAX];
};

struct listener {
	struct link_conf conf;
	uv_loop_t *loop;
	bool reuseport;         /* several loops share the port */
	void *tdata;            /* the transport's listening state */
	const char *kind;       /* "relay", "hub": log lines say kind=name */
	const char *name;
	/* The owner's. */
	struct conn *(*on_accept)(struct listener *ls, struct link *l);
	void (*on_closed)(struct listener *ls);
	void *data;
	/* Set by a sink: a silent peer of framing=auto is a raw viewer
	 * after CONN_AUTO_WAIT_MS, so it never waits for a HELLO and does
	 * not count as pending (many viewers behind one NAT connect at
	 * once). */
	bool viewers;
	unsigned nconns;        /* sessions made here, not yet closed */
	uint64_t accepted;
	int handles;            /* the transport's handle + 1 while open */
	bool closing;
	/* Limits, from the URI at open; the owner may set max_conns first
	 * as its default (0: LISTENER_MAX_CONNS). */
	unsigned max_conns;
	unsigned max_pending;
	unsigned max_pending_per_addr;
	uint64_t hello_ms;      /* deadline for a HELLO, from the accept */
	unsigned npending;      /* sessions not yet past their HELLO */
	struct listener_addr *pend[LISTENER_ADDR_BUCKETS];
	uint64_t refused[LISTENER_NREFUSALS];
	uint64_t refused_logged[LISTENER_NREFUSALS]; /* as of the last line */
	uint64_t refused_at[LISTENER_NREFUSALS];     /* loop ms of that line */
	uint64_t hello_timeouts; /* closed for want of a HELLO in time */
};

/* Listen on u through its transport. The caller fills kind, name,
 * on_accept, on_closed and data first. 0 or a negative errno with a
 * reason in err (nothing is left open then). */
int listener_open(struct listener *ls, uv_loop_t *loop, const struct uri *u,
		  bool reuseport, char *err, size_t errlen);
/* Close the listening handle; see the lifetime rule. */
void listener_close(struct listener *ls);
/* A session it made over a transport with a handshake is ready: log
 * the peer's identity (conn.c calls this). */
void listener_ready(struct listener *ls, struct conn *c);
/* A session it made has closed (conn.c calls this). */
void listener_forget(struct listener *ls, struct conn *c);

/* Session c, which the listener counted as pending, is past its HELLO
 * (or raw, or closing): it no longer counts against max-pending. */
void listener_pending_end(struct listener *ls, struct conn *c);
/* Count a peer turned away for why, and log it (at most one line a
 * second per reason, with the count since the last line). */
void listener_refused(struct listener *ls, enum listener_refusal why,
		      const char *peer);

/* For transports: a peer was accepted as link l. */
void listener_accepted(struct listener *ls, struct link *l);
/* For transports: the listening handle has closed. */
void listener_handle_closed(struct listener *ls);

#endif
