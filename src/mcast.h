/* mcast.h - UDP sockets for multicast and unicast: join (ASM and SSM,
 * IPv4 and IPv6, on a chosen interface) and send. Low level: every
 * function returns 0 or a negative errno and never logs. */
#ifndef MCFERRY_MCAST_H
#define MCFERRY_MCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "uri.h"

/* Which step of opening a socket failed, for the caller's message. */
enum mcast_step { MCAST_STEP_SOCKET, MCAST_STEP_IFACE, MCAST_STEP_BIND,
		  MCAST_STEP_JOIN, MCAST_STEP_OPTION, MCAST_STEP_CONNECT };

/* Find an interface by name or by one of its addresses. Returns 0 with
 * its index, or -ENODEV. */
int mcast_iface_index(const char *name_or_addr, unsigned *ifindex);
/* The first IPv4 address (with its prefix length) and the first IPv6
 * address (global preferred over link-local) of an interface; a family
 * it lacks is left with ss_family 0. Returns 0 or -ENODEV. */
int mcast_iface_addrs(unsigned ifindex, struct sockaddr_storage *v4,
		      unsigned *prefix4, struct sockaddr_storage *v6);
/* A non-blocking socket bound to u's port (and group or address) that
 * has joined u's group, (S,G) when u has a source. Sets *step on error. */
int mcast_open_recv(const struct uri *u, int *fd, enum mcast_step *step);
/* How a sending socket is made. */
struct mcast_sender {
	int family;              /* AF_INET or AF_INET6 */
	bool multicast;          /* ttl, loop, ifindex are for multicast */
	unsigned ifindex;        /* outgoing interface; 0: kernel's choice */
	int ttl;                 /* TTL or hop limit; -1: kernel default
				  * (unicast only) */
	int loop;                /* multicast loopback; -1: kernel default */
	int sndbuf;              /* 0: the default */
	bool transparent;        /* may bind an address not its own */
	const struct sockaddr_storage *bind; /* NULL: no bind */
};

/* A non-blocking UDP socket for sending as ms says; every option is
 * checked. Sets *step on error. */
int mcast_open_sender(const struct mcast_sender *ms, int *fd,
		      enum mcast_step *step);
/* A non-blocking socket connected to dst, with u's ttl, loop and iface
 * applied for multicast destinations. Sets *step on error. */
int mcast_open_send(const struct uri *u, const struct sockaddr_storage *dst,
		    int *fd, enum mcast_step *step);
/* Join u's group again on fd, looking the interface up afresh. Linux
 * silently drops a membership when its interface goes away, and a
 * re-created interface has a new index. Returns 0 when the join was
 * needed and done, -EADDRINUSE when the membership is still there,
 * -ENODEV when the interface is missing, or another negative errno. */
int mcast_rejoin(int fd, const struct uri *u);
/* Human name of a step, e.g. "join". */
const char *mcast_step_name(enum mcast_step step);
/* A one-line reason for a failed mcast_open_*: "unknown interface 'x' in
 * URI" or "cannot join URI: No such device". */
void mcast_strerror(enum mcast_step step, int rc, const struct uri *u,
		    char *err, size_t errlen);

#endif
