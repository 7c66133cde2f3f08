/* net.h - small socket helpers shared by the endpoints: name resolution
 * and TCP listeners. Low level: return 0 or a negative errno, never log. */
#ifndef MCFERRY_NET_H
#define MCFERRY_NET_H

#include <sys/socket.h>
#include <uv.h>

#include "uri.h"

/* The address and port of u: its numeric host, or the first result of a
 * (blocking, start-up only) name lookup. Returns 0 or -EHOSTUNREACH. */
int net_resolve(const struct uri *u, struct sockaddr_storage *out);
/* Bind and listen on u's address with SO_REUSEADDR. Returns 0 or a
 * negative errno (e.g. -EADDRINUSE). */
int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const struct uri *u,
	       uv_connection_cb cb);

#endif
