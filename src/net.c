/* net.c - name resolution and TCP listeners for the endpoints. */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

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

/* A listening-to-be socket with SO_REUSEPORT, which libuv 1.44 cannot set. */
static int net_reuseport_socket(const struct uri *u, int *fdp)
{
	int one = 1, zero = 0, fd;
	socklen_t len = u->addr.ss_family == AF_INET
				? sizeof(struct sockaddr_in)
				: sizeof(struct sockaddr_in6);

	fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (u->addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				 sizeof(zero));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&u->addr, len) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

int net_listen(uv_loop_t *loop, uv_tcp_t *tcp, const struct uri *u,
	       bool reuseport, uv_connection_cb cb)
{
	int rc, fd = -1;

	uv_tcp_init(loop, tcp);
	if (reuseport) {
		rc = net_reuseport_socket(u, &fd);
		if (rc == 0 && (rc = uv_tcp_open(tcp, fd)) < 0)
			close(fd);
	} else {
		/* libuv sets SO_REUSEADDR, so a restarted listener binds
		 * at once. */
		rc = uv_tcp_bind(tcp, (const struct sockaddr *)&u->addr, 0);
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)tcp, SOMAXCONN, cb);
	return rc;
}
