/* net.c - name resolution and TCP listeners for the endpoints. */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int net_resolve(const struct uri *u, struct sockaddr_storage *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char port[8];

	if (u->host_numeric) {
		*out = u->addr;
		return 0;
	}
	snprintf(port, sizeof(port), "%u", u->port);
	if (getaddrinfo(u->host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const struct uri *u,
	       uv_connection_cb cb)
{
	int rc;

	uv_tcp_init(loop, tcp);
	/* libuv sets SO_REUSEADDR, so a restarted listener binds at once. */
	rc = uv_tcp_bind(tcp, (const struct sockaddr *)&u->addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)tcp, SOMAXCONN, cb);
	return rc;
}
