/* gateway.c - one island's link to the hub; see gateway.h. */
#include "gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "dialer.h"
#include "log.h"
#include "mcast.h"
#include "net.h"
#include "udp_rx.h"
#include "util.h"

#define GATEWAY_MAX_BATCHES 16
#define GATEWAY_REJOIN_MS 2000
/* Retry the hub at least this often: an island is cut off while its link
 * is down, and one connection attempt per second is cheap, so flows come
 * back within about a second of the hub's return however long it was
 * away. */
#define GATEWAY_MAX_BACKOFF_MS 1000

struct gw_channel {
	struct gateway *gw;
	struct gateway_chan_spec spec;
	char name[CHANNEL_TEXT_MAX];
	bool forwarder;
	int fd;                  /* joined socket (export), or -1 */
	struct uri join;         /* what fd joined, to join it again */
	int last_rejoin;
	uv_poll_t poll;
	int tfd;                 /* SSM import: socket sending as the source */
	uint64_t exported, imported, suppressed, standby, dropped;
};

struct gateway {
	struct relay *owner;
	struct gateway_spec spec;
	unsigned ifindex;
	struct gw_channel *chans;
	size_t nchans;
	struct dialer dialer;
	struct udp_rx *rx;
	uv_timer_t rejoin;       /* renews memberships an interface lost */
	int efd[2];              /* emitters: [0] IPv4, [1] IPv6, or -1 */
	struct sockaddr_storage eaddr[2];
	struct frame_emitter own[FRAME_EMITTERS_MAX];
	size_t nown;
	struct frame_emitter island[FRAME_EMITTERS_MAX]; /* from the hub */
	size_t nisland;
	uint64_t seq;
	bool stopping;
};

/* ---- emitters and the re-export filter ----------------------------- */

static void emitter_of(const struct sockaddr_storage *ss,
		       struct frame_emitter *e)
{
	memset(e, 0, sizeof(*e));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		e->family = 4;
		e->port = ntohs(sin->sin_port);
		memcpy(e->addr, &sin->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)ss;

		e->family = 6;
		e->port = ntohs(sin6->sin6_port);
		memcpy(e->addr, &sin6->sin6_addr, 16);
	}
}

static bool emitter_in(const struct frame_emitter *set, size_t n,
		       const struct frame_emitter *e)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].family == e->family && set[i].port == e->port &&
		    !memcmp(set[i].addr, e->addr, 16))
			return true;
	return false;
}

/* True when from is one of this island's gateways re-multicasting. */
static bool gateway_is_emitter(const struct gateway *g,
			       const struct sockaddr_storage *from)
{
	struct frame_emitter e;

	emitter_of(from, &e);
	return emitter_in(g->own, g->nown, &e) ||
	       emitter_in(g->island, g->nisland, &e);
}

static void gateway_announce(struct gateway *g)
{
	uint8_t out[FRAME_HDR_LEN + 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN];
	struct conn *c = dialer_conn(&g->dialer);
	size_t n;

	if (!c || !c->hello_seen)
		return;
	n = frame_encode_emitters(out, sizeof(out), g->own, g->nown);
	if (conn_send_bytes(c, out, n) == 0)
		conn_kick(c);
}

static void gateway_add_own(struct gateway *g, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    g->nown == FRAME_EMITTERS_MAX)
		return;
	emitter_of(&ss, &g->own[g->nown++]);
}

/* ---- export: LAN -> hub -------------------------------------------- */

static void gateway_on_datagram(void *ctx, struct buf *b,
				const struct sockaddr_storage *from)
{
	struct gw_channel *gc = ctx;
	struct gateway *g = gc->gw;
	struct conn *c;
	struct frame_data d;
	size_t hlen;

	if (gateway_is_emitter(g, from)) {
		gc->suppressed++;
		return;
	}
	if (!gc->forwarder) {
		gc->standby++;
		return;
	}
	c = dialer_conn(&g->dialer);
	if (!c || !c->hello_seen) {
		gc->dropped++;
		return;
	}
	d = (struct frame_data){
		.hops = 0,
		.sport = from->ss_family == AF_INET
				 ? ntohs(((const struct sockaddr_in *)from)->sin_port)
				 : ntohs(((const struct sockaddr_in6 *)from)->sin6_port),
		.origin = g->owner->ctx->node_id,
		.seq = g->seq++,
		.ch = gc->spec.ch,
		.len = b->len,
	};
	/* Frame and data header go in the headroom: no copy of the payload. */
	hlen = frame_data_header_len(d.ch.family);
	frame_data_put_header(b->data - hlen, &d);
	if (conn_send_span(c, b, b->data - hlen, (uint32_t)(hlen + b->len)) < 0)
		gc->dropped++;
	else
		gc->exported++;
}

static void gateway_on_batch(void *ctx)
{
	struct gw_channel *gc = ctx;
	struct conn *c = dialer_conn(&gc->gw->dialer);

	if (c)
		conn_kick(c);
}

static void gateway_on_readable(uv_poll_t *p, int status, int events)
{
	struct gw_channel *gc = p->data;
	int rc;

	if (status < 0)
		return;
	rc = udp_rx_read(gc->gw->rx, gc->fd, GATEWAY_MAX_BATCHES,
			 gateway_on_datagram, gateway_on_batch, gc);
	if (rc < 0)
		log_warn("gateway=%s channel=%s recv error=%s",
			 gc->gw->owner->name, gc->name, strerror(-rc));
}

/* ---- import: hub -> LAN -------------------------------------------- */

/* An SSM channel is re-multicast from its source address, so receivers
 * that joined (S,G) on this island get it: IP_TRANSPARENT lets a root
 * process send from an address that is not its own. */
static int gateway_ssm_socket(struct gw_channel *gc)
{
	struct gateway *g = gc->gw;
	struct sockaddr_storage src;
	int fam = gc->spec.ch.family == 4 ? AF_INET : AF_INET6, one = 1;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	channel_source_addr(&gc->spec.local, 0, &src);
	if (setsockopt(fd, fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
		       fam == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one,
		       sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&src,
		 fam == AF_INET ? sizeof(struct sockaddr_in)
				: sizeof(struct sockaddr_in6)) < 0) {
		log_warn("gateway=%s channel=%s cannot send as the SSM source "
			 "(%s); re-multicasting from the gateway's address",
			 g->owner->name, gc->name, strerror(errno));
		close(fd);
		return -1;
	}
	if (fam == AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = (int)g->ifindex };

		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr));
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &g->spec.ttl,
			   sizeof(int));
	} else {
		int idx = (int)g->ifindex;

		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &g->spec.ttl,
			   sizeof(int));
	}
	gateway_add_own(g, fd);
	gateway_announce(g);
	return fd;
}

static struct gw_channel *gateway_find(struct gateway *g,
				       const struct channel *ch)
{
	for (size_t i = 0; i < g->nchans; i++)
		if (channel_equal(&g->chans[i].spec.ch, ch))
			return &g->chans[i];
	return NULL;
}

static void gateway_import(struct gateway *g, const struct frame *f)
{
	struct frame_data d;
	struct gw_channel *gc;
	struct sockaddr_storage dst;
	int fd;

	if (frame_data_decode(f, &d) < 0) {
		conn_close(dialer_conn(&g->dialer), "bad-frame");
		return;
	}
	gc = gateway_find(g, &d.ch);
	if (!gc || !gc->spec.do_import || !gc->forwarder) {
		if (gc)
			gc->standby++;
		return;
	}
	if (channel_is_ssm(&gc->spec.local) && gc->tfd == -2)
		gc->tfd = gateway_ssm_socket(gc); /* not made at start */
	fd = gc->tfd >= 0 ? gc->tfd : g->efd[gc->spec.local.family == 6];
	channel_group_addr(&gc->spec.local, &dst);
	if (sendto(fd, d.payload, d.len, 0, (struct sockaddr *)&dst,
		   dst.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					    : sizeof(struct sockaddr_in6)) < 0)
		gc->dropped++;
	else
		gc->imported++;
}

/* ---- the hub link -------------------------------------------------- */

static struct gateway *conn_gateway(struct conn *c)
{
	return c->data;
}

static void gateway_on_hello(struct conn *c)
{
	struct gateway *g = conn_gateway(c);

	if (c->peer_hello.role != FRAME_ROLE_HUB) {
		conn_close(c, "bad-role");
		return;
	}
	log_info("gateway=%s c=%u hub up peer=%s node=%016llx island=%s",
		 g->owner->name, c->id, c->peer,
		 (unsigned long long)c->peer_hello.node_id, g->owner->island);
	gateway_announce(g);
	for (size_t i = 0; i < g->nchans; i++) {
		const struct gateway_chan_spec *s = &g->chans[i].spec;

		if (s->do_export)
			(void)conn_send_channel(c, FRAME_EXPORT, &s->ch, 0);
		if (s->do_import)
			(void)conn_send_channel(c, FRAME_JOIN, &s->ch, 0);
	}
	conn_kick(c);
}

static void gateway_on_frame(struct conn *c, const struct frame *f)
{
	struct gateway *g = conn_gateway(c);
	struct gw_channel *gc;
	struct channel ch;
	int active = 0;

	switch (f->type) {
	case FRAME_DATA:
		gateway_import(g, f);
		break;
	case FRAME_FORWARDER:
		if (frame_channel_decode(f, &ch, &active) < 0) {
			conn_close(c, "bad-frame");
			break;
		}
		gc = gateway_find(g, &ch);
		if (gc && gc->forwarder != (active != 0)) {
			gc->forwarder = active != 0;
			log_info("gateway=%s channel=%s forwarder=%s",
				 g->owner->name, gc->name,
				 active ? "yes" : "standby");
		}
		break;
	case FRAME_EMITTERS: {
		size_t n;

		if (frame_emitters_decode(f, g->island, &n) < 0) {
			g->nisland = 0;
			conn_close(c, "bad-frame");
			break;
		}
		g->nisland = n;
		break;
	}
	default:
		conn_close(c, "bad-frame-type");
		break;
	}
}

static void gateway_on_closed(struct conn *c)
{
	struct gateway *g = conn_gateway(c);

	/* Without the hub nobody is forwarder; it says so again on return. */
	for (size_t i = 0; i < g->nchans; i++) {
		struct gw_channel *gc = &g->chans[i];

		if (gc->forwarder && !g->stopping)
			log_info("gateway=%s channel=%s forwarder=standby "
				 "reason=hub-link-down",
				 g->owner->name, gc->name);
		gc->forwarder = false;
	}
}

static const struct conn_handler gateway_handler = {
	.on_frame = gateway_on_frame,
	.on_hello = gateway_on_hello,
	.on_closed = gateway_on_closed,
};

/* Linux drops a membership when its interface goes away (and a re-created
 * one has a new index): check every few seconds, join again if needed. */
static void gateway_on_rejoin(uv_timer_t *t)
{
	struct gateway *g = t->data;

	for (size_t i = 0; i < g->nchans; i++) {
		struct gw_channel *gc = &g->chans[i];
		int rc;

		if (gc->fd < 0)
			continue;
		rc = mcast_rejoin(gc->fd, &gc->join);
		if (rc == 0)
			log_warn("gateway=%s channel=%s rejoined (its interface "
				 "went away and came back)",
				 g->owner->name, gc->name);
		else if (rc != -EADDRINUSE && rc != gc->last_rejoin)
			log_warn("gateway=%s channel=%s cannot rejoin: %s",
				 g->owner->name, gc->name, strerror(-rc));
		gc->last_rejoin = rc;
	}
}

/* ---- lifetime ------------------------------------------------------ */

struct gateway *gateway_new(struct node *ctx,
			    const struct gateway_spec *spec)
{
	struct gateway *g = xcalloc(1, sizeof(*g));

	g->spec = *spec;
	g->owner = relay_new(ctx, spec->name, &spec->hub, NULL, 0);
	g->owner->role = FRAME_ROLE_GATEWAY;
	g->owner->kind = "gateway";
	g->efd[0] = g->efd[1] = -1;
	g->nchans = spec->nchans;
	g->chans = xcalloc(spec->nchans, sizeof(*g->chans));
	for (size_t i = 0; i < spec->nchans; i++) {
		struct gw_channel *gc = &g->chans[i];

		gc->gw = g;
		gc->spec = spec->chans[i];
		gc->fd = -1;
		gc->tfd = -2; /* not tried yet */
		channel_format(&gc->spec.ch, gc->name, sizeof(gc->name));
	}
	return g;
}

static int gateway_open_emitter(struct gateway *g, int fam,
				const struct sockaddr_storage *addr)
{
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int loop = 1, idx = (int)g->ifindex;
	struct sockaddr_storage a = *addr;

	if (fd < 0)
		return -errno;
	if (fam == AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = idx };

		((struct sockaddr_in *)&a)->sin_port = 0;
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr));
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &g->spec.ttl,
			   sizeof(int));
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
	} else {
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &g->spec.ttl,
			   sizeof(int));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop,
			   sizeof(loop));
	}
	/* Bound to the LAN address, so the source of every re-multicast
	 * datagram is known: that is how the island's gateways recognise
	 * each other's re-emissions. */
	if (bind(fd, (struct sockaddr *)&a,
		 fam == AF_INET ? sizeof(struct sockaddr_in)
				: sizeof(struct sockaddr_in6)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	g->efd[fam == AF_INET6] = fd;
	gateway_add_own(g, fd);
	return 0;
}

static int gateway_open_channel(struct gateway *g, struct gw_channel *gc,
				char *err, size_t errlen)
{
	struct uri u = { .scheme = URI_UDP, .local = true, .ttl = -1,
			 .loop = -1 };
	enum mcast_step step;
	int rc;

	snprintf(u.text, sizeof(u.text), "%s", gc->name);
	channel_group_addr(&gc->spec.ch, &u.addr);
	u.port = gc->spec.ch.port;
	snprintf(u.host, sizeof(u.host), "%s", gc->name);
	u.host_numeric = true;
	if (channel_is_ssm(&gc->spec.ch)) {
		u.has_source = true;
		channel_source_addr(&gc->spec.ch, 0, &u.source);
	}
	snprintf(u.iface, sizeof(u.iface), "%s", g->spec.iface);
	gc->join = u;
	gc->last_rejoin = -EADDRINUSE;
	rc = mcast_open_recv(&u, &gc->fd, &step);
	if (rc < 0) {
		snprintf(err, errlen, "cannot %s channel %s on %s: %s",
			 mcast_step_name(step), gc->name, g->spec.iface,
			 strerror(-rc));
		return rc;
	}
	uv_poll_init(g->owner->ctx->loop, &gc->poll, gc->fd);
	gc->poll.data = gc;
	uv_poll_start(&gc->poll, UV_READABLE, gateway_on_readable);
	return 0;
}

static void gateway_derive_island(struct gateway *g,
				  const struct sockaddr_storage *v4,
				  unsigned prefix)
{
	char addr[INET_ADDRSTRLEN];
	char *island = g->owner->island;

	if (g->spec.island[0]) {
		snprintf(island, FRAME_ISLAND_MAX + 1, "%s", g->spec.island);
		return;
	}
	if (v4->ss_family == AF_INET) {
		struct in_addr net = ((const struct sockaddr_in *)v4)->sin_addr;
		uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;

		net.s_addr = htonl(ntohl(net.s_addr) & mask);
		inet_ntop(AF_INET, &net, addr, sizeof(addr));
		snprintf(island, FRAME_ISLAND_MAX + 1, "%s/%u", addr, prefix);
	} else {
		snprintf(island, FRAME_ISLAND_MAX + 1, "%s", g->spec.iface);
	}
}

int gateway_start(struct gateway *g, char *err, size_t errlen)
{
	struct sockaddr_storage v4, v6, hub;
	bool need4 = false, need6 = false;
	unsigned prefix;
	int rc;

	if (mcast_iface_index(g->spec.iface, &g->ifindex) < 0) {
		snprintf(err, errlen, "unknown interface '%s'", g->spec.iface);
		return -ENODEV;
	}
	rc = mcast_iface_addrs(g->ifindex, &v4, &prefix, &v6);
	if (rc == 0 && !v4.ss_family && !v6.ss_family)
		rc = -EADDRNOTAVAIL;
	if (rc < 0) {
		snprintf(err, errlen, "interface '%s' has no address",
			 g->spec.iface);
		return rc;
	}
	free(g->owner->island);
	g->owner->island = xcalloc(1, FRAME_ISLAND_MAX + 1);
	gateway_derive_island(g, &v4, prefix);
	rc = net_resolve(&g->spec.hub, &hub);
	if (rc < 0) {
		snprintf(err, errlen, "cannot resolve hub '%s'",
			 g->spec.hub.host);
		return rc;
	}
	for (size_t i = 0; i < g->nchans; i++) {
		need4 |= g->chans[i].spec.local.family == 4;
		need6 |= g->chans[i].spec.local.family == 6;
	}
	/* Only the families the channels use: a fresh IPv6 address may still
	 * be tentative, and an IPv4-only island should not care. */
	if ((need4 && v4.ss_family &&
	     (rc = gateway_open_emitter(g, AF_INET, &v4)) < 0) ||
	    (need6 && v6.ss_family &&
	     (rc = gateway_open_emitter(g, AF_INET6, &v6)) < 0)) {
		snprintf(err, errlen, "cannot open the re-multicast socket on %s: %s",
			 g->spec.iface, strerror(-rc));
		return rc;
	}
	g->rx = xmalloc(sizeof(*g->rx));
	udp_rx_init(g->rx, &g->owner->ctx->pool);
	for (size_t i = 0; i < g->nchans; i++) {
		struct gw_channel *gc = &g->chans[i];

		if (g->efd[gc->spec.local.family == 6] < 0) {
			snprintf(err, errlen, "channel %s: interface '%s' has no "
				 "IPv%u address", gc->name, g->spec.iface,
				 gc->spec.local.family);
			gateway_stop(g);
			return -EADDRNOTAVAIL;
		}
		if (gc->spec.do_export &&
		    (rc = gateway_open_channel(g, gc, err, errlen)) < 0) {
			gateway_stop(g);
			return rc;
		}
		/* Made now, while the process may still have the privilege
		 * (it may drop it with --user once everything is open). */
		if (gc->spec.do_import && channel_is_ssm(&gc->spec.local))
			gc->tfd = gateway_ssm_socket(gc);
		log_info("gateway=%s channel=%s%s%s%s", g->owner->name, gc->name,
			 gc->spec.do_export ? " export" : "",
			 gc->spec.do_import ? " import" : "",
			 channel_equal(&gc->spec.ch, &gc->spec.local) ? "" : " remapped");
	}
	uv_timer_init(g->owner->ctx->loop, &g->rejoin);
	g->rejoin.data = g;
	uv_timer_start(&g->rejoin, gateway_on_rejoin, GATEWAY_REJOIN_MS,
		       GATEWAY_REJOIN_MS);
	g->dialer.rx = CONN_RX_FRAMES;
	g->dialer.framed = true;
	g->dialer.queue = g->spec.hub.queue;
	g->dialer.user = &gateway_handler;
	g->dialer.owner = g;
	g->dialer.max_backoff_ms = GATEWAY_MAX_BACKOFF_MS;
	g->dialer.keepalive = true;
	dialer_start(&g->dialer, g->owner, &hub);
	log_info("gateway=%s iface=%s island=%s hub=%s", g->owner->name,
		 g->spec.iface, g->owner->island, g->spec.hub.text);
	return 0;
}

void gateway_stop(struct gateway *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	for (size_t i = 0; i < g->nchans; i++)
		if (g->chans[i].fd >= 0)
			uv_close((uv_handle_t *)&g->chans[i].poll, NULL);
	if (g->rejoin.loop) /* initialised: start got that far */
		uv_close((uv_handle_t *)&g->rejoin, NULL);
	if (g->dialer.relay)
		dialer_stop(&g->dialer);
}

void gateway_free(struct gateway *g)
{
	for (size_t i = 0; i < g->nchans; i++) {
		if (g->chans[i].fd >= 0)
			close(g->chans[i].fd);
		if (g->chans[i].tfd >= 0)
			close(g->chans[i].tfd);
	}
	for (int i = 0; i < 2; i++)
		if (g->efd[i] >= 0)
			close(g->efd[i]);
	if (g->rx) {
		udp_rx_exit(g->rx);
		free(g->rx);
	}
	free(g->chans);
	relay_free(g->owner);
	free(g);
}

void gateway_log_stats(const struct gateway *g)
{
	for (size_t i = 0; i < g->nchans; i++) {
		const struct gw_channel *gc = &g->chans[i];

		log_stats("gateway=%s channel=%s forwarder=%d "
			  "mcferry_gateway_channel_exported_total=%llu "
			  "mcferry_gateway_channel_imported_total=%llu "
			  "mcferry_gateway_channel_suppressed_total=%llu "
			  "mcferry_gateway_channel_standby_total=%llu "
			  "mcferry_gateway_channel_dropped_total=%llu",
			  g->owner->name, gc->name, gc->forwarder,
			  (unsigned long long)gc->exported,
			  (unsigned long long)gc->imported,
			  (unsigned long long)gc->suppressed,
			  (unsigned long long)gc->standby,
			  (unsigned long long)gc->dropped);
	}
}
