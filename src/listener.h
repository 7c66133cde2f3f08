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
 */
#ifndef MCFERRY_LISTENER_H
#define MCFERRY_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "link.h"

struct conn;

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
	unsigned nconns;        /* sessions made here, not yet closed */
	uint64_t accepted;
	int handles;            /* the transport's handle + 1 while open */
	bool closing;
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

/* For transports: a peer was accepted as link l. */
void listener_accepted(struct listener *ls, struct link *l);
/* For transports: the listening handle has closed. */
void listener_handle_closed(struct listener *ls);

#endif
