/* mcast.c - multicast and unicast UDP sockets: bind, join, send options. */
#include "mcast.h"

#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

/* Default kernel receive buffer for a multicast source: about 80 ms of a
 * 200 Mbit/s stream, so a busy loop turn does not cost datagrams. */
#define MCAST_DEFAULT_RCVBUF (2 * 1024 * 1024)
#define MCAST_DEFAULT_SNDBUF (1024 * 1024)

static const char *const step_names[] = { "socket", "interface", "bind",
					  "join", "option", "connect" };

const char *mcast_step_name(enum mcast_step step)
{
	return step_names[step];
}

void mcast_strerror(enum mcast_step step, int rc, const struct uri *u,
		    char *err, size_t errlen)
{
	if (step == MCAST_STEP_IFACE)
		snprintf(err, errlen, "unknown interface '%s' in %s", u->iface,
			 u->text);
	else
		snprintf(err, errlen, "cannot %s %s: %s", mcast_step_name(step),
			 u->text, strerror(-rc));
}

int mcast_iface_index(const char *name_or_addr, unsigned *ifindex)
{
	struct ifaddrs *ifa, *i;
	struct in6_addr a6;
	struct in_addr a4;
	int rc = -ENODEV;
	int fam = 0;

	*ifindex = if_nametoindex(name_or_addr);
	if (*ifindex)
		return 0;
	if (inet_pton(AF_INET, name_or_addr, &a4) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, name_or_addr, &a6) == 1)
		fam = AF_INET6;
	else
		return -ENODEV;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
			continue;
		if ((fam == AF_INET &&
		     ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			     a4.s_addr) ||
		    (fam == AF_INET6 &&
		     !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			     &a6, sizeof(a6)))) {
			*ifindex = if_nametoindex(i->ifa_name);
			rc = *ifindex ? 0 : -ENODEV;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

static int mcast_join(int fd, const struct uri *u, unsigned ifindex)
{
	int level = u->addr.ss_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;

	if (u->has_source) {
		struct group_source_req gsr = { .gsr_interface = ifindex };

		memcpy(&gsr.gsr_group, &u->addr, addr_len(&u->addr));
		memcpy(&gsr.gsr_source, &u->source, addr_len(&u->source));
		if (setsockopt(fd, level, MCAST_JOIN_SOURCE_GROUP, &gsr,
			       sizeof(gsr)) < 0)
			return -errno;
	} else {
		struct group_req gr = { .gr_interface = ifindex };

		memcpy(&gr.gr_group, &u->addr, addr_len(&u->addr));
		if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr)) < 0)
			return -errno;
	}
	return 0;
}

int mcast_rejoin(int fd, const struct uri *u)
{
	unsigned ifindex = 0;
	int rc;

	if (!addr_is_multicast(&u->addr))
		return -EADDRINUSE; /* nothing joined, nothing to lose */
	if (u->iface[0] && (rc = mcast_iface_index(u->iface, &ifindex)) < 0)
		return rc;
	rc = mcast_join(fd, u, ifindex);
	/* Linux answers a repeated (S,G) join with EADDRNOTAVAIL (the source
	 * is already in the filter) where a repeated ASM join gets
	 * EADDRINUSE: both mean "still joined". */
	if (rc == -EADDRNOTAVAIL && u->has_source)
		rc = -EADDRINUSE;
	return rc;
}

int mcast_open_recv(const struct uri *u, int *fdp, enum mcast_step *step)
{
	bool group = addr_is_multicast(&u->addr);
	struct sockaddr_storage bind_addr = u->addr;
	int family = u->addr.ss_family;
	unsigned ifindex = 0;
	int fd, rc, rcvbuf = u->rcvbuf ? (int)u->rcvbuf : MCAST_DEFAULT_RCVBUF;

	*step = MCAST_STEP_IFACE;
	if (u->iface[0] && (rc = mcast_iface_index(u->iface, &ifindex)) < 0)
		return rc;
	*step = MCAST_STEP_SOCKET;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*step = MCAST_STEP_OPTION;
	if ((rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0)
		goto fail;
	/* As root the force variant lifts net.core.rmem_max; otherwise the
	 * kernel caps the plain request. */
	if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) < 0)
		(void)set_int(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
	if (family == AF_INET6 && !group)
		(void)set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (group) {
		/* Linux otherwise delivers every group any socket on the
		 * host joined on this port. */
		if (family == AF_INET)
			rc = set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
		else
			rc = set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
		if (rc < 0)
			goto fail;
		if (family == AF_INET6) {
			/* Bind the wildcard: a v6 group address would need
			 * a scope id, and MULTICAST_ALL=0 filters already. */
			struct sockaddr_in6 *sin6 =
				(struct sockaddr_in6 *)&bind_addr;

			sin6->sin6_addr = in6addr_any;
		}
	}
	*step = MCAST_STEP_BIND;
	if (bind(fd, (struct sockaddr *)&bind_addr, addr_len(&bind_addr)) < 0) {
		rc = -errno;
		goto fail;
	}
	if (group) {
		*step = MCAST_STEP_JOIN;
		if ((rc = mcast_join(fd, u, ifindex)) < 0)
			goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

static int mcast_set_send_iface(int fd, int family, unsigned ifindex)
{
	if (family == AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
				  sizeof(mr)) < 0 ? -errno : 0;
	}
	return set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex);
}

int mcast_open_sender(const struct mcast_sender *ms, int *fdp,
		      enum mcast_step *step)
{
	bool v4 = ms->family == AF_INET;
	int level = v4 ? IPPROTO_IP : IPPROTO_IPV6, fd, rc = 0;
	int sndbuf = ms->sndbuf ? ms->sndbuf : MCAST_DEFAULT_SNDBUF;

	*step = MCAST_STEP_SOCKET;
	fd = socket(ms->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*step = MCAST_STEP_OPTION;
	if (set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf) < 0 &&
	    (rc = set_int(fd, SOL_SOCKET, SO_SNDBUF, sndbuf)) < 0)
		goto fail;
	if (ms->multicast) {
		rc = set_int(fd, level, v4 ? IP_MULTICAST_TTL
					   : IPV6_MULTICAST_HOPS, ms->ttl);
		if (rc == 0 && ms->loop >= 0)
			rc = set_int(fd, level, v4 ? IP_MULTICAST_LOOP
						   : IPV6_MULTICAST_LOOP,
				     ms->loop);
		if (rc == 0 && ms->ifindex)
			rc = mcast_set_send_iface(fd, ms->family, ms->ifindex);
	} else if (ms->ttl >= 0) {
		rc = set_int(fd, level, v4 ? IP_TTL : IPV6_UNICAST_HOPS,
			     ms->ttl);
	}
	/* Sending from an address that is not ours (an SSM source) needs
	 * IP_TRANSPARENT, which needs CAP_NET_ADMIN. */
	if (rc == 0 && ms->transparent)
		rc = set_int(fd, level, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT,
			     1);
	if (rc < 0)
		goto fail;
	if (ms->bind) {
		*step = MCAST_STEP_BIND;
		if (bind(fd, (const struct sockaddr *)ms->bind,
			 addr_len(ms->bind)) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int mcast_open_send(const struct uri *u, const struct sockaddr_storage *dst,
		    int *fdp, enum mcast_step *step)
{
	struct mcast_sender ms = {
		.family = dst->ss_family,
		.multicast = addr_is_multicast(dst),
		.loop = u->loop,
		.sndbuf = (int)u->sndbuf,
	};
	int fd, rc;

	ms.ttl = u->ttl >= 0 || !ms.multicast ? u->ttl : URI_DEFAULT_TTL;
	*step = MCAST_STEP_IFACE;
	if (u->iface[0] && ms.multicast &&
	    (rc = mcast_iface_index(u->iface, &ms.ifindex)) < 0)
		return rc;
	rc = mcast_open_sender(&ms, &fd, step);
	if (rc < 0)
		return rc;
	*step = MCAST_STEP_CONNECT;
	if (connect(fd, (const struct sockaddr *)dst, addr_len(dst)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

int mcast_iface_addrs(unsigned ifindex, struct sockaddr_storage *v4,
		      unsigned *prefix4, struct sockaddr_storage *v6)
{
	char name[IF_NAMESIZE];
	struct ifaddrs *ifa, *i;

	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	*prefix4 = 0;
	if (!if_indextoname(ifindex, name))
		return -ENODEV;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, name))
			continue;
		if (i->ifa_addr->sa_family == AF_INET && !v4->ss_family) {
			uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)
						   ->sin_addr.s_addr);

			memcpy(v4, i->ifa_addr, sizeof(struct sockaddr_in));
			*prefix4 = (unsigned)__builtin_popcount(m);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)i->ifa_addr;
			bool ll = IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr);

			if (!v6->ss_family ||
			    (!ll && IN6_IS_ADDR_LINKLOCAL(
					    &((struct sockaddr_in6 *)v6)->sin6_addr))) {
				memcpy(v6, a, sizeof(*a));
				if (ll)
					((struct sockaddr_in6 *)v6)->sin6_scope_id = ifindex;
			}
		}
	}
	freeifaddrs(ifa);
	return 0;
}
