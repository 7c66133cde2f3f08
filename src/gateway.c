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
#include "control.h"
#include "dedup.h"
#include "dialer.h"
#include "emitter.h"
#include "log.h"
#include "mcast.h"
#include "rejoin.h"
#include "net.h"
#include "opt.h"
#include "udp_rx.h"
#include "util.h"

#define GATEWAY_MAX_BATCHES 16
/* Export writes to the hub are gathered: after a batch the link is kicked
 * within GATEWAY_PACE_MS (at once when GATEWAY_PACE_BYTES wait), so the
 * datagrams of every channel read meanwhile go in one write and one TCP
 * segment train, not one per datagram, and the hub wakes once for them.
 * After a quiet spell (no kick for GATEWAY_PACE_MS) a batch goes at once:
 * there is nothing to gather then, only delay to add. */
#define GATEWAY_PACE_MS 1
#define GATEWAY_PACE_BYTES (16 * 1024)
/* Retry the hub at least this often: an island is cut off while its link
 * is down, and one connection attempt per second is cheap, so flows come
 * back within about a second of the hub's return however long it was
 * away. */
#define GATEWAY_MAX_BACKOFF_MS 1000

struct gw_channel {
	struct gateway *gw;
	struct gateway_chan_spec spec;
	char name[CHANNEL_TEXT_MAX];
	bool forwarder;          /* some hub names us its forwarder */
	bool fwd[GATEWAY_MAX_HUBS]; /* ... per hub link */
	int fd;                  /* joined socket (export), or -1 */
	bool deleted;            /* channel.del: freed once poll has closed */
	struct uri join;         /* what fd joined, to join it again */
	char what[CHANNEL_TEXT_MAX + 8]; /* "channel=G:P", for rejoin lines */
	uv_poll_t poll;
	int tfd;                 /* SSM import: socket sending as the source */
	uint64_t exported, imported, suppressed, standby, dropped;
};

/* One --hub (or link.add): a dialer keeping a link to it. A slot of
 * g->hubs is never moved (its dialer's handles point into it): link.del
 * frees it, and it is taken again once its dialer has stopped. */
struct gw_hub {
	struct gateway *g;
	size_t idx;
	struct dialer dialer;
	bool used;               /* a hub of the gateway now */
	bool running;            /* its dialer started and not yet stopped */
};

struct gateway {
	struct node *node;
	struct gateway_spec spec;
	char island_name[FRAME_ISLAND_MAX + 1];
	struct conn_owner link_owner; /* of the hub link */
	uint64_t out_dgrams, out_bytes, reconnects;
	uint32_t links;
	int handles;             /* polls, rejoin timer, dialer */
	unsigned ifindex;
	struct gw_channel **chans; /* GATEWAY_MAX_CHANNELS slots */
	size_t nchans;
	struct gw_hub hubs[GATEWAY_MAX_HUBS];
	size_t nhubs;            /* slots [0, nhubs) are or were used */
	size_t nused;            /* hubs used now */
	struct control *ctl;     /* --control, or NULL */
	struct dedup dedup;      /* what the hubs sent: each datagram once */
	uint64_t import_dups;
	struct udp_rx *rx;
	struct rejoin rejoin;    /* renews memberships an interface lost */
	bool rejoining;          /* rejoin started */
	uv_timer_t pace;         /* export: the gathered kick of the links */
	uint64_t kicked_at;      /* uv_hrtime() of the last export kick */
	int efd[2];              /* emitters: [0] IPv4, [1] IPv6, or -1 */
	struct sockaddr_storage eaddr[2];
	struct emitter_set own;      /* this gateway's re-multicast sources */
	struct emitter_set island;   /* the island's, from the hub */
	uint64_t seq;
	bool stopping;
};

/* ---- emitters and the re-export filter ----------------------------- */

/* True when from is one of this island's gateways re-multicasting. */
static bool gateway_is_emitter(const struct gateway *g,
			       const struct sockaddr_storage *from)
{
	struct frame_emitter e;

	if (emitter_from_sockaddr(from, &e) < 0)
		return false;
	return emitter_has(&g->own, &e) || emitter_has(&g->island, &e);
}

static void gateway_announce_on(struct gateway *g, struct conn *c)
{
	uint8_t out[FRAME_HDR_LEN + 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN];
	const struct frame_emitter *own;
	size_t n;

	if (!c || !c->hello_seen)
		return;
	own = emitter_list(&g->own, &n);
	n = frame_encode_emitters(out, sizeof(out), own, n);
	if (conn_send_bytes(c, out, n) == 0)
		conn_kick(c);
}

/* The open link to hub slot i that has said HELLO, or NULL. */
static struct conn *gateway_hub_conn(struct gateway *g, size_t i)
{
	struct conn *c;

	if (!g->hubs[i].used)
		return NULL;
	c = dialer_conn(&g->hubs[i].dialer);
	return c && c->hello_seen ? c : NULL;
}

static void gateway_announce(struct gateway *g)
{
	for (size_t i = 0; i < g->nhubs; i++)
		gateway_announce_on(g, gateway_hub_conn(g, i));
}

/* The hub link a channel goes out on: the first (in --hub order) that is
 * up and names us forwarder; NULL when none does. */
static struct conn *gateway_out_link(struct gateway *g,
				     const struct gw_channel *gc)
{
	for (size_t i = 0; i < g->nhubs; i++) {
		struct conn *c = gateway_hub_conn(g, i);

		if (c && gc->fwd[i])
			return c;
	}
	return NULL;
}

static void gateway_add_own(struct gateway *g, int fd)
{
	struct sockaddr_storage ss;
	struct frame_emitter e;
	socklen_t len = sizeof(ss);

	/* A full set (FRAME_EMITTERS_MAX, what one EMITTERS frame carries)
	 * or an address already there: nothing to add. */
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    emitter_from_sockaddr(&ss, &e) < 0)
		return;
	(void)emitter_add(&g->own, &e);
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
	c = gateway_out_link(g, gc);
	if (!c) {
		gc->dropped++;
		return;
	}
	d = (struct frame_data){
		.hops = 0,
		.sport = addr_port(from),
		.origin = g->node->node_id,
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

static void gateway_on_pace(uv_timer_t *t)
{
	struct gateway *g = t->data;

	g->kicked_at = uv_hrtime();
	for (size_t i = 0; i < g->nhubs; i++) {
		struct conn *c = g->hubs[i].used ? dialer_conn(&g->hubs[i].dialer)
						 : NULL;

		if (c)
			conn_kick(c);
	}
}

static void gateway_on_batch(void *ctx)
{
	struct gw_channel *gc = ctx;
	struct gateway *g = gc->gw;
	struct conn *c = gateway_out_link(g, gc);
	uint64_t now = uv_hrtime();

	if (!c)
		return;
	if (c->q.bytes >= GATEWAY_PACE_BYTES || !g->pace.loop ||
	    now - g->kicked_at >= GATEWAY_PACE_MS * 1000000ull) {
		g->kicked_at = now;
		conn_kick(c);
	} else if (!uv_is_active((uv_handle_t *)&g->pace) && !g->stopping)
		uv_timer_start(&g->pace, gateway_on_pace, GATEWAY_PACE_MS, 0);
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
			 gc->gw->spec.name, gc->name, strerror(-rc));
}

/* ---- import: hub -> LAN -------------------------------------------- */

/* An SSM channel is re-multicast from its source address, so receivers
 * that joined (S,G) on this island get it: IP_TRANSPARENT lets a root
 * process send from an address that is not its own. */
static int gateway_ssm_socket(struct gw_channel *gc)
{
	struct gateway *g = gc->gw;
	struct sockaddr_storage src;
	struct mcast_sender ms = {
		.family = gc->spec.ch.family == 4 ? AF_INET : AF_INET6,
		.multicast = true,
		.ifindex = g->ifindex,
		.ttl = g->spec.ttl,
		.loop = -1,
		.transparent = true,
		.bind = &src,
	};
	enum mcast_step step;
	int fd, rc;

	channel_source_addr(&gc->spec.local, 0, &src);
	rc = mcast_open_sender(&ms, &fd, &step);
	if (rc < 0) {
		log_warn("gateway=%s channel=%s cannot send as the SSM source "
			 "(%s: %s); re-multicasting from the gateway's address",
			 g->spec.name, gc->name, mcast_step_name(step),
			 strerror(-rc));
		return -1;
	}
	gateway_add_own(g, fd);
	gateway_announce(g);
	return fd;
}

static struct gw_channel *gateway_find(struct gateway *g,
				       const struct channel *ch)
{
	for (size_t i = 0; i < g->nchans; i++)
		if (channel_equal(&g->chans[i]->spec.ch, ch))
			return g->chans[i];
	return NULL;
}

static void gateway_import(struct gateway *g, struct conn *c, size_t hub,
			   const struct frame *f)
{
	struct frame_data d;
	struct gw_channel *gc;
	struct sockaddr_storage dst;
	int fd;

	if (frame_data_decode(f, &d) < 0) {
		conn_close(c, "bad-frame");
		return;
	}
	gc = gateway_find(g, &d.ch);
	if (!gc || !gc->spec.do_import || !gc->fwd[hub]) {
		if (gc)
			gc->standby++;
		return;
	}
	/* Several hubs may send one datagram (dual-homed, or while routes
	 * move): once on the LAN. */
	if (g->nused > 1 &&
	    dedup_check(&g->dedup, d.origin, 0, d.seq,
			uv_now(g->node->loop)) != DEDUP_NEW) {
		g->import_dups++;
		return;
	}
	if (channel_is_ssm(&gc->spec.local) && gc->tfd == -2)
		gc->tfd = gateway_ssm_socket(gc); /* not made at start */
	fd = gc->tfd >= 0 ? gc->tfd : g->efd[gc->spec.local.family == 6];
	channel_group_addr(&gc->spec.local, &dst);
	if (sendto(fd, d.payload, d.len, 0, (struct sockaddr *)&dst,
		   addr_len(&dst)) < 0)
		gc->dropped++;
	else
		gc->imported++;
}

/* ---- events for the control socket (events.subscribe) --------------- */

/* {"event":"link.up"|"link.down","hub":I,"uri":"...","link":ID,...} */
static void gateway_event_link(struct gateway *g, struct conn *c, bool up)
{
	struct gw_hub *hb = c->data;
	struct stats_text t = { 0 };

	if (!g->ctl)
		return;
	control_printf(&t, "{\"event\":\"link.%s\",\"hub\":%zu,\"uri\":",
		       up ? "up" : "down", hb->idx);
	control_json_str(&t, g->spec.hubs[hb->idx].text);
	control_printf(&t, ",\"link\":%u,\"node\":\"%016llx\"}", c->id,
		       (unsigned long long)c->peer_hello.node_id);
	control_event(g->ctl, t.data);
	stats_text_free(&t);
}

/* {"event":"forwarder.change","channel":"G:P","forwarder":BOOL} */
static void gateway_event_fwd(struct gateway *g, const struct gw_channel *gc)
{
	struct stats_text t = { 0 };

	if (!g->ctl)
		return;
	stats_text_puts(&t, "{\"event\":\"forwarder.change\",\"channel\":");
	control_json_str(&t, gc->name);
	control_printf(&t, ",\"forwarder\":%s}",
		       gc->forwarder ? "true" : "false");
	control_event(g->ctl, t.data);
	stats_text_free(&t);
}

/* {"event":"channel.change","channel":"G:P","added":BOOL} */
static void gateway_event_chan(struct gateway *g, const struct gw_channel *gc,
			       bool added)
{
	struct stats_text t = { 0 };

	if (!g->ctl)
		return;
	stats_text_puts(&t, "{\"event\":\"channel.change\",\"channel\":");
	control_json_str(&t, gc->name);
	control_printf(&t, ",\"added\":%s}", added ? "true" : "false");
	control_event(g->ctl, t.data);
	stats_text_free(&t);
}

/* ---- the hub link -------------------------------------------------- */

static struct gw_hub *conn_hub(struct conn *c)
{
	return c->data;
}

static struct gateway *conn_gateway(struct conn *c)
{
	return conn_hub(c)->g;
}

/* A channel's forwarder state on hub link i changed: log the whole. */
static void gateway_set_fwd(struct gateway *g, struct gw_channel *gc,
			    size_t i, bool on, const char *why)
{
	bool any = false;

	gc->fwd[i] = on;
	for (size_t k = 0; k < g->nhubs; k++)
		any |= gc->fwd[k];
	if (any == gc->forwarder)
		return;
	gc->forwarder = any;
	if (!g->stopping) {
		log_info("gateway=%s channel=%s forwarder=%s%s", g->spec.name,
			 gc->name, any ? "yes" : "standby", why);
		gateway_event_fwd(g, gc);
	}
}

/* Tell hub link c of channel gc: JOIN and EXPORT as the channel says
 * (add), or LEAVE and UNEXPORT (!add). */
static void gateway_send_interest(struct conn *c, const struct gw_channel *gc,
				  bool add)
{
	const struct gateway_chan_spec *s = &gc->spec;

	if (s->do_export)
		(void)conn_send_channel(c, add ? FRAME_EXPORT : FRAME_UNEXPORT,
					&s->ch, 0);
	if (s->do_import)
		(void)conn_send_channel(c, add ? FRAME_JOIN : FRAME_LEAVE,
					&s->ch, 0);
}

static void gateway_on_hello(struct conn *c)
{
	struct gateway *g = conn_gateway(c);

	if (c->peer_hello.role != FRAME_ROLE_HUB) {
		conn_close(c, "bad-role");
		return;
	}
	log_info("gateway=%s c=%u hub up peer=%s node=%016llx island=%s",
		 g->spec.name, c->id, c->peer,
		 (unsigned long long)c->peer_hello.node_id, g->island_name);
	gateway_announce_on(g, c);
	for (size_t i = 0; i < g->nchans; i++)
		gateway_send_interest(c, g->chans[i], true);
	conn_kick(c);
	gateway_event_link(g, c, true);
}

static void gateway_on_frame(struct conn *c, const struct frame *f)
{
	struct gateway *g = conn_gateway(c);
	struct gw_channel *gc;
	struct channel ch;
	int active = 0;

	switch (f->type) {
	case FRAME_DATA:
		gateway_import(g, c, conn_hub(c)->idx, f);
		break;
	case FRAME_FORWARDER:
		if (frame_channel_decode(f, &ch, &active) < 0) {
			conn_close(c, "bad-frame");
			break;
		}
		gc = gateway_find(g, &ch);
		if (gc)
			gateway_set_fwd(g, gc, conn_hub(c)->idx, active != 0,
					"");
		break;
	case FRAME_EMITTERS: {
		struct frame_emitter e[FRAME_EMITTERS_MAX];
		size_t n;

		emitter_clear(&g->island);
		if (frame_emitters_decode(f, e, &n) < 0) {
			conn_close(c, "bad-frame");
			break;
		}
		for (size_t i = 0; i < n; i++)
			(void)emitter_add(&g->island, &e[i]);
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
	size_t idx = conn_hub(c)->idx;

	/* Without the hub it is not forwarder there; the hub says so again
	 * on return. Another hub's link may keep the island going. */
	for (size_t i = 0; i < g->nchans; i++)
		gateway_set_fwd(g, g->chans[i], idx, false,
				" reason=hub-link-down");
	if (c->hello_seen && !g->stopping)
		gateway_event_link(g, c, false);
}

static const struct conn_handler gateway_handler = {
	.on_frame = gateway_on_frame,
	.on_hello = gateway_on_hello,
	.on_closed = gateway_on_closed,
};

/* ---- counters ------------------------------------------------------ */

/* Register one series; a refusal is a broken invariant (docs/metrics.md,
 * "Registering"). */
static void gateway_stat(struct gateway *g, const void *owner,
			 const char *name, const char *const *labels,
			 const char *help, const uint64_t *value)
{
	int rc = stats_add(&g->node->stats, owner, name, labels,
			   STATS_COUNTER, help, value);

	if (rc < 0)
		fatal(1, "gateway=%s cannot register %s: %s", g->spec.name,
		      name, strerror(-rc));
}

static uint64_t gateway_forwarder_value(const void *arg)
{
	return ((const struct gw_channel *)arg)->forwarder;
}

/* One channel's series, owned by gc (removed with it). */
static void gateway_register_channel(struct gateway *g, struct gw_channel *gc)
{
	const char *const cl[] = { "gateway", g->spec.name, "channel",
				   gc->name, NULL };
	int rc;

	gateway_stat(g, gc, "mcferry_gateway_channel_exported_total", cl,
		     "LAN datagrams sent to the hub.", &gc->exported);
	gateway_stat(g, gc, "mcferry_gateway_channel_imported_total", cl,
		     "Hub datagrams multicast on the LAN.", &gc->imported);
	gateway_stat(g, gc, "mcferry_gateway_channel_suppressed_total", cl,
		     "LAN datagrams from the island's own emitters, not sent "
		     "back.", &gc->suppressed);
	gateway_stat(g, gc, "mcferry_gateway_channel_standby_total", cl,
		     "Datagrams not forwarded: not the island's forwarder.",
		     &gc->standby);
	gateway_stat(g, gc, "mcferry_gateway_channel_dropped_total", cl,
		     "No hub connection ready, the queue full, or the LAN send "
		     "failed.", &gc->dropped);
	rc = stats_add_fn(&g->node->stats, gc,
			  "mcferry_gateway_channel_forwarder", cl, STATS_GAUGE,
			  "1 while this gateway forwards the channel for its "
			  "island, else 0.", gateway_forwarder_value, gc);
	if (rc < 0)
		fatal(1, "gateway=%s cannot register its counters: %s",
		      g->spec.name, strerror(-rc));
}

static void gateway_register(struct gateway *g)
{
	const char *const lb[] = { "gateway", g->spec.name, NULL };
	int rc;

	rc = stats_add_u32(&g->node->stats, g, "mcferry_gateway_hub_links",
			   lb, STATS_GAUGE, "Open connections to hubs.",
			   &g->links);
	if (rc < 0)
		fatal(1, "gateway=%s cannot register its counters: %s",
		      g->spec.name, strerror(-rc));
	gateway_stat(g, g, "mcferry_gateway_reconnects_total", lb,
		     "Hub connections re-established after a loss.",
		     &g->reconnects);
	gateway_stat(g, g, "mcferry_gateway_out_bytes_total", lb,
		     "Bytes written to hubs.", &g->out_bytes);
	for (size_t i = 0; i < g->nchans; i++)
		gateway_register_channel(g, g->chans[i]);
}

/* ---- lifetime ------------------------------------------------------ */

static void gateway_free(struct gateway *g)
{
	for (size_t i = 0; i < g->nchans; i++) {
		stats_remove_owner(&g->node->stats, g->chans[i]);
		if (g->chans[i]->tfd >= 0)
			close(g->chans[i]->tfd);
		free(g->chans[i]);
	}
	stats_remove_owner(&g->node->stats, g);
	emitter_exit(&g->own);
	emitter_exit(&g->island);
	dedup_exit(&g->dedup);
	if (g->rx) {
		udp_rx_exit(g->rx);
		free(g->rx);
	}
	free(g->chans);
	free(g);
}

/* A handle of g has closed: the last one frees a stopped gateway. */
static void gateway_release(struct gateway *g)
{
	if (--g->handles == 0 && g->stopping)
		gateway_free(g);
}

static void gateway_on_rejoin_closed(void *data)
{
	gateway_release(data);
}

static void gateway_on_pace_closed(uv_handle_t *h)
{
	gateway_release(h->data);
}

static void gateway_on_poll_closed(uv_handle_t *h)
{
	struct gw_channel *gc = h->data;
	struct gateway *g = gc->gw;

	/* Leaves the group: the membership goes with the socket. */
	close(gc->fd);
	gc->fd = -1;
	if (gc->deleted)
		free(gc); /* out of g->chans since channel.del */
	gateway_release(g);
}

static void gateway_on_dialer_stopped(struct dialer *d)
{
	struct gw_hub *hb = d->conf.owner;

	hb->running = false; /* the slot may be taken again */
	gateway_release(hb->g);
}

/* A channel as spec says, not open yet. */
static struct gw_channel *gateway_chan_new(struct gateway *g,
					   const struct gateway_chan_spec *spec)
{
	struct gw_channel *gc = xcalloc(1, sizeof(*gc));

	gc->gw = g;
	gc->spec = *spec;
	gc->fd = -1;
	gc->tfd = -2; /* not tried yet */
	channel_format(&gc->spec.ch, gc->name, sizeof(gc->name));
	return gc;
}

struct gateway *gateway_new(struct node *node,
			    const struct gateway_spec *spec)
{
	struct gateway *g = xcalloc(1, sizeof(*g));

	g->node = node;
	g->spec = *spec;
	g->link_owner = (struct conn_owner){
		.node = node,
		.kind = "gateway",
		.name = g->spec.name,
		.island = g->island_name,
		.role = FRAME_ROLE_GATEWAY,
		.out_dgrams = &g->out_dgrams,
		.out_bytes = &g->out_bytes,
		.clients = &g->links,
		.reconnects = &g->reconnects,
	};
	g->efd[0] = g->efd[1] = -1;
	g->nchans = spec->nchans;
	g->chans = xcalloc(GATEWAY_MAX_CHANNELS, sizeof(*g->chans));
	for (size_t i = 0; i < spec->nchans; i++)
		g->chans[i] = gateway_chan_new(g, &spec->chans[i]);
	emitter_init(&g->own, FRAME_EMITTERS_MAX);
	emitter_init(&g->island, FRAME_EMITTERS_MAX);
	g->nhubs = spec->nhubs ? spec->nhubs : 1;
	if (!spec->nhubs)
		g->spec.hubs[0] = spec->hub;
	for (size_t i = 0; i < GATEWAY_MAX_HUBS; i++) {
		g->hubs[i].g = g;
		g->hubs[i].idx = i;
		g->hubs[i].used = i < g->nhubs;
	}
	g->nused = g->nhubs;
	if (dedup_init(&g->dedup, 65536, 1024) < 0)
		fatal(1, "gateway=%s duplicate window", spec->name);
	return g;
}

static int gateway_open_emitter(struct gateway *g, int fam,
				const struct sockaddr_storage *addr)
{
	struct sockaddr_storage a = *addr;
	/* Bound to the LAN address, so the source of every re-multicast
	 * datagram is known: that is how the island's gateways recognise
	 * each other's re-emissions. Loopback on, so receivers on this host
	 * hear them too. */
	struct mcast_sender ms = {
		.family = fam,
		.multicast = true,
		.ifindex = g->ifindex,
		.ttl = g->spec.ttl,
		.loop = 1,
		.bind = &a,
	};
	enum mcast_step step;
	int fd, rc;

	addr_set_port(&a, 0);
	rc = mcast_open_sender(&ms, &fd, &step);
	if (rc < 0)
		return rc;
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
	rc = mcast_open_recv(&u, &gc->fd, &step);
	if (rc < 0) {
		snprintf(err, errlen, "cannot %s channel %s on %s: %s",
			 mcast_step_name(step), gc->name, g->spec.iface,
			 strerror(-rc));
		return rc;
	}
	snprintf(gc->what, sizeof(gc->what), "channel=%s", gc->name);
	rejoin_add(&g->rejoin, gc->fd, &gc->join, gc->what, "");
	uv_poll_init(g->node->loop, &gc->poll, gc->fd);
	gc->poll.data = gc;
	g->handles++;
	uv_poll_start(&gc->poll, UV_READABLE, gateway_on_readable);
	return 0;
}

static void gateway_derive_island(struct gateway *g,
				  const struct sockaddr_storage *v4,
				  unsigned prefix)
{
	char addr[INET_ADDRSTRLEN];
	char *island = g->island_name;

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

/* The re-multicast socket of family fam (4 or 6), made when the first
 * channel of that family needs it: a fresh IPv6 address may still be
 * tentative, and an IPv4-only island should not care. */
static int gateway_need_emitter(struct gateway *g, const struct gw_channel *gc,
				char *err, size_t errlen)
{
	unsigned fam = gc->spec.local.family, prefix;
	struct sockaddr_storage v4, v6;
	int rc;

	if (g->efd[fam == 6] >= 0)
		return 0;
	rc = mcast_iface_addrs(g->ifindex, &v4, &prefix, &v6);
	if (rc < 0 || !(fam == 6 ? v6 : v4).ss_family) {
		snprintf(err, errlen, "channel %s: interface '%s' has no "
			 "IPv%u address", gc->name, g->spec.iface, fam);
		return -EADDRNOTAVAIL;
	}
	rc = gateway_open_emitter(g, fam == 6 ? AF_INET6 : AF_INET,
				  fam == 6 ? &v6 : &v4);
	if (rc < 0) {
		snprintf(err, errlen, "cannot open the re-multicast socket on "
			 "%s: %s", g->spec.iface, strerror(-rc));
		return rc;
	}
	/* Hubs already up learn the new source address at once. */
	gateway_announce(g);
	return 0;
}

/* Open what channel gc needs: the re-multicast socket of its family, the
 * joined socket of an export, the SSM source socket of an import. 0, or
 * a negative errno with a reason in err (nothing of gc is open then). */
static int gateway_chan_open(struct gateway *g, struct gw_channel *gc,
			     char *err, size_t errlen)
{
	int rc = gateway_need_emitter(g, gc, err, errlen);

	if (rc < 0)
		return rc;
	if (gc->spec.do_export &&
	    (rc = gateway_open_channel(g, gc, err, errlen)) < 0)
		return rc;
	/* Made now, while the process may still have the privilege (it may
	 * drop it with --user once everything is open). */
	if (gc->spec.do_import && channel_is_ssm(&gc->spec.local))
		gc->tfd = gateway_ssm_socket(gc);
	log_info("gateway=%s channel=%s%s%s%s", g->spec.name, gc->name,
		 gc->spec.do_export ? " export" : "",
		 gc->spec.do_import ? " import" : "",
		 channel_equal(&gc->spec.ch, &gc->spec.local) ? "" : " remapped");
	return 0;
}

/* Start the dialer of hub slot i (its URI in g->spec.hubs[i]). */
static int gateway_hub_start(struct gateway *g, size_t i, char *err,
			     size_t errlen)
{
	struct dialer_conf dc = {
		.uri = &g->spec.hubs[i],
		.conn = { .what = "upstream",
			  .framing = FRAMING_DATAGRAM,
			  .rx_framed = CONN_RX_FRAMES,
			  .queue = g->spec.hubs[i].queue },
		.keepalive = true,
		.max_backoff_ms = GATEWAY_MAX_BACKOFF_MS,
		.user = &gateway_handler,
		.owner = &g->hubs[i],
		.on_stopped = gateway_on_dialer_stopped,
	};
	int rc;

	memset(&g->hubs[i].dialer, 0, sizeof(g->hubs[i].dialer));
	rc = dialer_start(&g->hubs[i].dialer, &g->link_owner, &dc, err,
			  errlen);
	if (rc < 0)
		return rc;
	g->hubs[i].running = true;
	g->handles++;
	log_info("gateway=%s iface=%s island=%s hub=%s", g->spec.name,
		 g->spec.iface, g->island_name, g->spec.hubs[i].text);
	return 0;
}

static int gateway_ctl(void *arg, const struct control_req *r,
		       struct stats_text *t, char *err, size_t errlen);

int gateway_start(struct gateway *g, char *err, size_t errlen)
{
	struct sockaddr_storage v4, v6;
	unsigned prefix;
	int rc;

	/* Here, not in gateway_new: main.c sets the registry up after it has
	 * made the services, just before it starts them. */
	gateway_register(g);
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
	gateway_derive_island(g, &v4, prefix);
	rejoin_start(&g->rejoin, g->node->loop, "gateway", g->spec.name);
	g->rejoining = true;
	g->handles++;
	uv_timer_init(g->node->loop, &g->pace);
	g->pace.data = g;
	g->handles++;
	g->rx = xmalloc(sizeof(*g->rx));
	udp_rx_init(g->rx, &g->node->pool);
	for (size_t i = 0; i < g->nchans; i++)
		if ((rc = gateway_chan_open(g, g->chans[i], err, errlen)) < 0)
			return rc;
	for (size_t i = 0; i < g->nhubs; i++)
		if ((rc = gateway_hub_start(g, i, err, errlen)) < 0)
			return rc;
	if (g->spec.control[0]) {
		g->ctl = control_open(g->node, g->spec.control, gateway_ctl, g,
				      err, errlen);
		if (!g->ctl)
			return -EADDRINUSE;
	}
	return 0;
}

void gateway_reload(struct gateway *g)
{
	char err[512];
	int rc;

	if (g->stopping)
		return;
	for (size_t i = 0; i < g->nhubs; i++) {
		if (!g->hubs[i].used || !g->hubs[i].running)
			continue;
		rc = link_conf_reload(&g->hubs[i].dialer.link, err, sizeof(err));
		if (rc < 0)
			log_error("gateway=%s uri=%s certificates not reloaded, "
				  "keeping the old ones: %s", g->spec.name,
				  g->spec.hubs[i].text, err);
		else if (rc > 0)
			log_info("gateway=%s uri=%s certificates reloaded",
				 g->spec.name, g->spec.hubs[i].text);
	}
}

void gateway_stop(struct gateway *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	/* Everything closes now: the sockets that joined groups leave them
	 * as soon as their poll handles are closed (next loop turn), the
	 * re-multicast sockets at once. */
	control_close(g->ctl);
	g->ctl = NULL;
	for (size_t i = 0; i < g->nchans; i++)
		if (g->chans[i]->fd >= 0)
			uv_close((uv_handle_t *)&g->chans[i]->poll,
				 gateway_on_poll_closed);
	for (int i = 0; i < 2; i++) {
		if (g->efd[i] >= 0)
			close(g->efd[i]);
		g->efd[i] = -1;
	}
	if (g->rejoining)
		rejoin_close(&g->rejoin, gateway_on_rejoin_closed, g);
	if (g->pace.loop)
		uv_close((uv_handle_t *)&g->pace, gateway_on_pace_closed);
	for (size_t i = 0; i < g->nhubs; i++)
		dialer_stop(&g->hubs[i].dialer);
	log_info("gateway=%s stopped", g->spec.name);
	if (g->handles == 0)
		gateway_free(g);
}

void gateway_log_stats(const struct gateway *g)
{
	struct stats_text t = { 0 };

	for (size_t i = 0; i <= g->nchans; i++) {
		stats_text_reset(&t);
		/* The role-wide line first, then one per channel. */
		stats_render_line(&g->node->stats,
				  i == 0 ? (const void *)g
					 : (const void *)g->chans[i - 1],
				  &t);
		if (t.len)
			log_stats("%s", t.data);
	}
	stats_text_free(&t);
}

/* ---- the control API (control.h, docs/mesh.md) ----------------------- */

static const char *gateway_direction(const struct gateway_chan_spec *s)
{
	return s->do_export && s->do_import ? "both"
	       : s->do_export		   ? "export"
					   : "import";
}

/* channel.add: open it, tell every hub up; *added false when it is there
 * already, the same. 0, or -1 with a reason in err (nothing changed). */
static int gateway_chan_add(struct gateway *g,
			    const struct gateway_chan_spec *s, bool *added,
			    char *err, size_t errlen)
{
	struct gw_channel *gc = gateway_find(g, &s->ch);
	char local[CHANNEL_TEXT_MAX];

	*added = false;
	if (gc) {
		if (gc->spec.do_export == s->do_export &&
		    gc->spec.do_import == s->do_import &&
		    channel_equal(&gc->spec.local, &s->local))
			return 0;
		channel_format(&gc->spec.local, local, sizeof(local));
		snprintf(err, errlen, "channel %s is there already (%s, local "
			 "%s): channel.del it first", gc->name,
			 gateway_direction(&gc->spec), local);
		return -1;
	}
	if (g->nchans == GATEWAY_MAX_CHANNELS) {
		snprintf(err, errlen, "channel.add: the gateway has %d "
			 "channels, the most it takes", GATEWAY_MAX_CHANNELS);
		return -1;
	}
	gc = gateway_chan_new(g, s);
	if (gateway_chan_open(g, gc, err, errlen) < 0) {
		free(gc); /* nothing of it was opened */
		return -1;
	}
	g->chans[g->nchans++] = gc;
	gateway_register_channel(g, gc);
	for (size_t i = 0; i < g->nhubs; i++) {
		struct conn *c = gateway_hub_conn(g, i);

		if (c) {
			gateway_send_interest(c, gc, true);
			conn_kick(c);
		}
	}
	*added = true;
	gateway_event_chan(g, gc, true);
	return 0;
}

/* channel.del: tell the hubs, leave the group now (the socket closes in
 * this loop turn), drop the counters. False when there is no such one. */
static bool gateway_chan_del(struct gateway *g, const struct channel *ch)
{
	struct gw_channel *gc = NULL;
	size_t i;

	for (i = 0; i < g->nchans && !gc; i++)
		if (channel_equal(&g->chans[i]->spec.ch, ch))
			gc = g->chans[i];
	if (!gc)
		return false;
	i--;
	memmove(&g->chans[i], &g->chans[i + 1],
		(g->nchans - i - 1) * sizeof(*g->chans));
	g->nchans--;
	for (size_t k = 0; k < g->nhubs; k++) {
		struct conn *c = gateway_hub_conn(g, k);

		if (c) {
			gateway_send_interest(c, gc, false);
			conn_kick(c);
		}
	}
	stats_remove_owner(&g->node->stats, gc);
	if (gc->tfd >= 0)
		close(gc->tfd);
	gc->tfd = -1;
	log_info("gateway=%s channel=%s deleted%s", g->spec.name, gc->name,
		 gc->forwarder ? " (was forwarder)" : "");
	gateway_event_chan(g, gc, false);
	if (gc->fd >= 0) {
		rejoin_remove(&g->rejoin, gc->fd);
		gc->deleted = true;
		uv_poll_stop(&gc->poll);
		uv_close((uv_handle_t *)&gc->poll, gateway_on_poll_closed);
	} else {
		free(gc);
	}
	return true;
}

/* link.add: one more hub. 0 (*added false: that URI is there already),
 * or -1 with a reason in err. */
static int gateway_hub_add(struct gateway *g, const char *text, bool *added,
			   size_t *slot, char *err, size_t errlen)
{
	union opt_value v;
	size_t k;

	*added = false;
	if (opt_parse(opt_find("hub", AT_CONF_GATEWAY), text, &v, err,
		      errlen) < 0)
		return -1;
	for (k = 0; k < g->nhubs; k++) {
		if (g->hubs[k].used && !strcmp(g->spec.hubs[k].text, v.uri.text)) {
			*slot = k;
			return 0;
		}
	}
	if (g->nused == GATEWAY_MAX_HUBS) {
		snprintf(err, errlen, "link.add: the gateway has %d hubs, the "
			 "most it takes", GATEWAY_MAX_HUBS);
		return -1;
	}
	for (k = 0; k < GATEWAY_MAX_HUBS; k++)
		if (!g->hubs[k].used && !g->hubs[k].running)
			break;
	if (k == GATEWAY_MAX_HUBS) {
		snprintf(err, errlen, "link.add: a deleted hub link is still "
			 "closing; try again");
		return -1;
	}
	g->spec.hubs[k] = v.uri;
	if (gateway_hub_start(g, k, err, errlen) < 0)
		return -1;
	g->hubs[k].used = true;
	g->nused++;
	if (k >= g->nhubs)
		g->nhubs = k + 1;
	*added = true;
	*slot = k;
	return 0;
}

/* link.del: the hub slot of uri text or of connection id link; -1 none. */
static long gateway_hub_find(struct gateway *g, const char *uri,
			     const char *link)
{
	for (size_t k = 0; k < g->nhubs; k++) {
		struct conn *c = g->hubs[k].dialer.conn;

		if (!g->hubs[k].used)
			continue;
		if (uri && !strcmp(g->spec.hubs[k].text, uri))
			return (long)k;
		if (link && c && strtoul(link, NULL, 10) == c->id)
			return (long)k;
	}
	return -1;
}

static void gateway_hub_del(struct gateway *g, size_t k)
{
	struct gw_hub *hb = &g->hubs[k];

	hb->used = false;
	g->nused--;
	log_info("gateway=%s hub=%s deleted", g->spec.name,
		 g->spec.hubs[k].text);
	for (size_t i = 0; i < g->nchans; i++)
		gateway_set_fwd(g, g->chans[i], k, false, " reason=hub-deleted");
	/* The link closes now (on_closed says link.down); the slot is free
	 * again once the dialer has stopped. */
	dialer_stop(&hb->dialer);
}

static void gateway_ctl_hubs(struct gateway *g, struct stats_text *t,
			     bool detail)
{
	bool first = true;

	for (size_t k = 0; k < g->nhubs; k++) {
		struct conn *c = gateway_hub_conn(g, k);

		if (!g->hubs[k].used)
			continue;
		control_printf(t, "%s{\"hub\":%zu,\"uri\":", first ? "" : ",",
			       k);
		control_json_str(t, g->spec.hubs[k].text);
		control_printf(t, ",\"state\":\"%s\"",
			       c ? "connected" : "connecting");
		first = false;
		if (!detail) {
			stats_text_puts(t, "}");
			continue;
		}
		if (c) {
			control_printf(t, ",\"link\":%u,\"peer\":", c->id);
			control_json_str(t, c->peer);
			control_printf(t, ",\"node\":\"%016llx\"",
				       (unsigned long long)c->peer_hello.node_id);
		}
		for (int fwd = 1; fwd >= 0; fwd--) {
			bool f1 = true;

			control_printf(t, ",\"%s\":[",
				       fwd ? "forwarder" : "standby");
			for (size_t i = 0; i < g->nchans; i++) {
				if (g->chans[i]->fwd[k] != (fwd == 1))
					continue;
				if (!f1)
					stats_text_puts(t, ",");
				control_json_str(t, g->chans[i]->name);
				f1 = false;
			}
			stats_text_puts(t, "]");
		}
		stats_text_puts(t, "}");
	}
}

static void gateway_ctl_channels(struct gateway *g, struct stats_text *t)
{
	char local[CHANNEL_TEXT_MAX];

	stats_text_puts(t, ",\"channels\":[");
	for (size_t i = 0; i < g->nchans; i++) {
		const struct gw_channel *gc = g->chans[i];

		channel_format(&gc->spec.local, local, sizeof(local));
		stats_text_puts(t, i ? ",{\"channel\":" : "{\"channel\":");
		control_json_str(t, gc->name);
		control_printf(t, ",\"direction\":\"%s\",\"local\":",
			       gateway_direction(&gc->spec));
		control_json_str(t, local);
		control_printf(t, ",\"joined\":%s,\"forwarder\":%s,"
			       "\"exported\":%llu,\"imported\":%llu,"
			       "\"suppressed\":%llu,\"standby\":%llu,"
			       "\"dropped\":%llu}",
			       gc->fd >= 0 ? "true" : "false",
			       gc->forwarder ? "true" : "false",
			       (unsigned long long)gc->exported,
			       (unsigned long long)gc->imported,
			       (unsigned long long)gc->suppressed,
			       (unsigned long long)gc->standby,
			       (unsigned long long)gc->dropped);
	}
	stats_text_puts(t, "]");
}

static const struct control_argdef chan_add_args[] = {
	{ "group", 's' }, { "export", 's' }, { "import", 's' },
};
static const struct control_argdef chan_del_args[] = { { "channel", 's' } };
static const struct control_argdef link_add_args[] = { { "uri", 's' } };
static const struct control_argdef link_del_args[] = {
	{ "uri", 's' }, { "link", 'x' },
};

#define NDEFS(a) (sizeof(a) / sizeof((a)[0]))

static int gateway_ctl(void *arg, const struct control_req *r,
		       struct stats_text *t, char *err, size_t errlen)
{
	struct gateway *g = arg;

	if (!strcmp(r->op, "node.info") || !strcmp(r->op, "link.list") ||
	    !strcmp(r->op, "channel.list")) {
		if (control_args_check(r, NULL, 0, err, errlen) < 0)
			return -1;
	}
	if (!strcmp(r->op, "node.info")) {
		control_printf(t, ",\"role\":\"gateway\",\"name\":");
		control_json_str(t, g->spec.name);
		control_printf(t, ",\"node\":\"%016llx\",\"epoch\":%llu,"
			       "\"island\":",
			       (unsigned long long)g->node->node_id,
			       (unsigned long long)g->node->epoch);
		control_json_str(t, g->island_name);
		stats_text_puts(t, ",\"iface\":");
		control_json_str(t, g->spec.iface);
		control_printf(t, ",\"links\":%u,\"channels\":%zu,\"hubs\":[",
			       g->links, g->nchans);
		gateway_ctl_hubs(g, t, false);
		stats_text_puts(t, "]");
		return 0;
	}
	if (!strcmp(r->op, "link.list")) {
		stats_text_puts(t, ",\"links\":[");
		gateway_ctl_hubs(g, t, true);
		stats_text_puts(t, "]");
		return 0;
	}
	if (!strcmp(r->op, "channel.list")) {
		gateway_ctl_channels(g, t);
		return 0;
	}
	if (!strcmp(r->op, "channel.add")) {
		struct gateway_chan_spec cs;
		const char *kind = NULL, *text = NULL;
		bool added;

		if (control_args_check(r, chan_add_args, NDEFS(chan_add_args),
				       err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < NDEFS(chan_add_args); i++) {
			const char *v = control_arg(r, chan_add_args[i].key);

			if (v && kind) {
				snprintf(err, errlen, "channel.add: give one of "
					 "group, export, import (not %s and %s)",
					 kind, chan_add_args[i].key);
				return -1;
			}
			if (v) {
				kind = chan_add_args[i].key;
				text = v;
			}
		}
		if (!kind) {
			snprintf(err, errlen, "channel.add needs group=CH, "
				 "export=CH or import=CH[=LOCAL_CH]");
			return -1;
		}
		if (gateway_chan_parse(kind, text, &cs, err, errlen) < 0 ||
		    gateway_chan_add(g, &cs, &added, err, errlen) < 0)
			return -1;
		stats_text_puts(t, ",\"channel\":");
		control_json_str(t, gateway_find(g, &cs.ch)->name);
		control_printf(t, ",\"added\":%s", added ? "true" : "false");
		return 0;
	}
	if (!strcmp(r->op, "channel.del")) {
		const char *text = control_arg(r, "channel");
		struct channel ch;
		bool deleted;

		if (control_args_check(r, chan_del_args, NDEFS(chan_del_args),
				       err, errlen) < 0)
			return -1;
		if (!text) {
			snprintf(err, errlen, "channel.del needs channel=CH");
			return -1;
		}
		if (channel_parse(text, &ch, err, errlen) < 0)
			return -1;
		deleted = gateway_chan_del(g, &ch);
		stats_text_puts(t, ",\"channel\":");
		control_json_str(t, text);
		control_printf(t, ",\"deleted\":%s", deleted ? "true" : "false");
		return 0;
	}
	if (!strcmp(r->op, "link.add")) {
		const char *uri = control_arg(r, "uri");
		bool added;
		size_t k;

		if (control_args_check(r, link_add_args, NDEFS(link_add_args),
				       err, errlen) < 0)
			return -1;
		if (!uri) {
			snprintf(err, errlen, "link.add needs uri=URI (a hub)");
			return -1;
		}
		if (gateway_hub_add(g, uri, &added, &k, err, errlen) < 0)
			return -1;
		control_printf(t, ",\"hub\":%zu,\"added\":%s", k,
			       added ? "true" : "false");
		return 0;
	}
	if (!strcmp(r->op, "link.del")) {
		const char *uri = control_arg(r, "uri"),
			   *link = control_arg(r, "link");
		long k;

		if (control_args_check(r, link_del_args, NDEFS(link_del_args),
				       err, errlen) < 0)
			return -1;
		if (!uri == !link) {
			snprintf(err, errlen, "link.del needs uri=URI or "
				 "link=ID (of link.list), one of them");
			return -1;
		}
		if (link) {
			char *e;

			errno = 0;
			(void)strtoul(link, &e, 10);
			if (!*link || *e || errno) {
				snprintf(err, errlen, "link.del: bad link '%s': "
					 "want an ID of link.list", link);
				return -1;
			}
		}
		k = gateway_hub_find(g, uri, link);
		if (k >= 0 && g->nused == 1) {
			snprintf(err, errlen, "link.del: %s is the gateway's "
				 "only hub (link.add another first)",
				 g->spec.hubs[k].text);
			return -1;
		}
		if (k >= 0)
			gateway_hub_del(g, (size_t)k);
		control_printf(t, ",\"deleted\":%s", k >= 0 ? "true" : "false");
		return 0;
	}
	if (!strcmp(r->op, "link.set") || !strcmp(r->op, "link.drain")) {
		snprintf(err, errlen, "%s is a hub's op: a gateway's hub links "
			 "have no cost (it sends on the first of its hubs that "
			 "names it forwarder; link.del removes one)", r->op);
		return -1;
	}
	if (!strcmp(r->op, "routes.get")) {
		snprintf(err, errlen, "routes.get is a hub's op (a gateway "
			 "keeps no link-state database)");
		return -1;
	}
	snprintf(err, errlen, "unknown op '%s' (a gateway answers node.info, "
		 "link.list, link.add, link.del, channel.list, channel.add, "
		 "channel.del, stats.get, events.subscribe)", r->op);
	return -1;
}
