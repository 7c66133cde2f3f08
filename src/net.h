/* net.h - small socket helpers shared by the endpoints: name resolution
 * and TCP listeners. Low level: return 0 or a negative errno, never log. */
#ifndef MCFERRY_NET_H
#define MCFERRY_NET_H

#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "uri.h"

/* The address and port of u: its numeric host, or the first result of a
 * (blocking, start-up only) name lookup. Returns 0 or -EHOSTUNREACH. */
int net_resolve(const struct uri *u, struct sockaddr_storage *out);
/* Bind and listen on u's address with SO_REUSEADDR, and SO_REUSEPORT when
 * reuseport (several loops then share the port; the kernel spreads new
 * connections over them). The handle is initialised either way. Returns 0
 * or a negative errno (e.g. -EADDRINUSE). */
int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const struct uri *u,
	       bool reuseport, uv_connection_cb cb);

#endif
