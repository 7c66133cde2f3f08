/* link_tcp.h - what transports built on a TCP socket (TLS) share with
 * link_tcp.c: the listening socket, with its descriptor reserve, spare
 * and back-off (see struct link_tcp_server in link_tcp.c). */
#ifndef MCFERRY_LINK_TCP_H
#define MCFERRY_LINK_TCP_H

#include <uv.h>

#include "listener.h"

/* How a transport makes its links from accepted TCP sockets. */
struct link_tcp_accept {
	/* A new link of the transport and its (initialised) TCP handle
	 * to accept into. */
	struct link *(*create)(struct listener *ls, uv_tcp_t **tcp);
	/* The link is accepted, its peer known, a descriptor to spare:
	 * hand it to listener_accepted and start the transport. */
	void (*accepted)(struct listener *ls, struct link *l);
};

/* Listen on ls->conf's URI, accepting through acc (which must outlive
 * the listener). 0 or a negative errno; the handles are made either way
 * and close through link_tcp_listen_close. */
int link_tcp_listen_on(struct listener *ls, const struct link_tcp_accept *acc);
/* Options every connected TCP socket of a link gets: no Nagle,
 * keepalive, and TCP_USER_TIMEOUT (a black-holed peer is noticed). */
void link_tcp_socket_options(uv_tcp_t *tcp);
/* Close the listening socket; listener_handle_closed(ls) follows. */
void link_tcp_listen_close(struct listener *ls);

#endif
