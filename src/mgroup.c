/* mgroup.c - a shared, held multicast receive; see mgroup.h. */
#include "mgroup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mcast.h"
#include "util.h"

/* Batches per wakeup before other handles get their turn. */
#define MGROUP_MAX_BATCHES 16

static void mgroup_on_datagram(void *ctx, struct buf *b,
			       const struct sockaddr_storage *from)
{
	struct mgroup *g = ctx;

	g->ev->on_data(g->owner, b);
}

static void mgroup_on_batch(void *ctx)
{
	struct mgroup *g = ctx;

	g->ev->on_batch(g->owner);
}

static void mgroup_on_readable(uv_poll_t *p, int status, int events)
{
	struct mgroup *g = p->data;
	uint64_t truncated = g->rx->truncated;
	int rc;

	if (status < 0 || g->closing)
		return;
	rc = udp_rx_read(g->rx, g->fd, MGROUP_MAX_BATCHES, mgroup_on_datagram,
			 mgroup_on_batch, g);
	if (rc < 0)
		g->rx_errors++;
	g->truncated += g->rx->truncated - truncated;
}

static void mgroup_on_rejoin(uv_timer_t *t)
{
	struct mgroup *g = t->data;
	int rc = mcast_rejoin(g->fd, &g->uri);

	if (rc == 0)
		log_warn("mgroup uri=%s rejoined (its interface went away and "
			 "came back)", g->uri.text);
	else if (rc != -EADDRINUSE && rc != g->last_rejoin)
		log_warn("mgroup uri=%s cannot rejoin: %s", g->uri.text,
			 strerror(-rc));
	g->last_rejoin = rc;
}

/* One handle (or the relay) of g is gone; the last frees it. */
static void mgroup_release(struct mgroup *g)
{
	if (--g->handles > 0)
		return;
	/* Closing the socket is the leave: the kernel sends it at once. It
	 * waits for the poll handle, which would otherwise touch the fd
	 * number after it may have been reused. */
	if (g->fd >= 0)
		close(g->fd);
	if (g->rx) {
		udp_rx_exit(g->rx);
		free(g->rx);
	}
	g->ev->on_freed(g->owner);
	free(g);
}

static void mgroup_on_closed(uv_handle_t *h)
{
	mgroup_release(h->data);
}

/* The hold timer of a relay group has closed: the sink it stood for is
 * gone too (relay_add_sink's contract), which may be the relay's last
 * endpoint; the relay itself holds g until it has closed. */
static void mgroup_on_sink_closed(uv_handle_t *h)
{
	struct mgroup *g = h->data;
	struct relay *r = g->relay;

	mgroup_release(g);
	relay_endpoint_gone(r);
}

/* Every endpoint of the relay is gone (relay.h on_closed). */
static void mgroup_on_relay_closed(struct relay *r)
{
	struct mgroup *g = r->data;

	relay_free(r);
	if (g)
		mgroup_release(g);
}

void mgroup_close(struct mgroup *g)
{
	if (g->closing)
		return;
	g->closing = true;
	if (g->relay) {
		relay_stop(g->relay);
		uv_close((uv_handle_t *)&g->hold, mgroup_on_sink_closed);
		return;
	}
	uv_close((uv_handle_t *)&g->poll, mgroup_on_closed);
	uv_close((uv_handle_t *)&g->rejoin, mgroup_on_closed);
	uv_close((uv_handle_t *)&g->hold, mgroup_on_closed);
}

static void mgroup_on_hold(uv_timer_t *t)
{
	struct mgroup *g = t->data;

	if (g->refs > 0 || g->closing)
		return;
	g->ev->on_leave(g->owner);
	mgroup_close(g);
}

/* udp://@G:P?iface=IF&source=S&rcvbuf=N: the source endpoint mcast.c
 * opens, as a relay would be given it. */
static int mgroup_uri(const struct channel *ch, const char *iface,
		      uint32_t rcvbuf, struct uri *u, char *err, size_t errlen)
{
	char g[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN], text[400];
	int af = ch->family == 6 ? AF_INET6 : AF_INET;
	size_t n;

	inet_ntop(af, ch->group, g, sizeof(g));
	n = (size_t)snprintf(text, sizeof(text), af == AF_INET6 ? "udp://@[%s]:%u"
							      : "udp://@%s:%u",
			     g, ch->port);
	if (channel_is_ssm(ch)) {
		inet_ntop(af, ch->source, s, sizeof(s));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%csource=%s",
				      strchr(text, '?') ? '&' : '?', s);
	}
	if (iface && *iface)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%ciface=%s",
				      strchr(text, '?') ? '&' : '?', iface);
	if (rcvbuf)
		snprintf(text + n, sizeof(text) - n, "%crcvbuf=%u",
			 strchr(text, '?') ? '&' : '?', rcvbuf);
	return uri_parse(text, u, err, errlen);
}

struct mgroup *mgroup_open(struct node *node, const struct channel *ch,
			   const char *iface, uint32_t rcvbuf,
			   uint64_t hold_ms, const struct mgroup_events *ev,
			   void *owner, char *err, size_t errlen)
{
	struct mgroup *g = xcalloc(1, sizeof(*g));
	enum mcast_step step;
	int rc;

	if (mgroup_uri(ch, iface, rcvbuf, &g->uri, err, errlen) < 0)
		goto fail;
	rc = mcast_open_recv(&g->uri, &g->fd, &step);
	if (rc < 0) {
		mcast_strerror(step, rc, &g->uri, err, errlen);
		goto fail;
	}
	g->node = node;
	g->ev = ev;
	g->owner = owner;
	g->hold_ms = hold_ms;
	g->last_rejoin = -EADDRINUSE;
	g->rx = xmalloc(sizeof(*g->rx));
	udp_rx_init(g->rx, &node->pool);
	uv_poll_init(node->loop, &g->poll, g->fd);
	uv_timer_init(node->loop, &g->rejoin);
	uv_timer_init(node->loop, &g->hold);
	g->poll.data = g->rejoin.data = g->hold.data = g;
	g->handles = 3;
	uv_poll_start(&g->poll, UV_READABLE, mgroup_on_readable);
	uv_timer_start(&g->rejoin, mgroup_on_rejoin, MGROUP_REJOIN_MS,
		       MGROUP_REJOIN_MS);
	return g;
fail:
	free(g);
	return NULL;
}

/* The relay's in-process sink: the group's owner. Closing is the hold
 * timer's (mgroup_on_sink_closed), so that the relay's last endpoint
 * never goes from inside relay_stop. */
static void mgroup_sink_push(struct sink *s, struct buf *b)
{
	struct mgroup *g = (struct mgroup *)((char *)s -
					     offsetof(struct mgroup, sink));

	if (!g->closing)
		g->ev->on_data(g->owner, b);
}

static void mgroup_sink_flush(struct sink *s)
{
	struct mgroup *g = (struct mgroup *)((char *)s -
					     offsetof(struct mgroup, sink));

	if (!g->closing)
		g->ev->on_batch(g->owner);
}

static void mgroup_sink_close(struct sink *s)
{
	(void)s;
}

static const struct sink_ops mgroup_sink_ops = {
	.push = mgroup_sink_push,
	.flush = mgroup_sink_flush,
	.close = mgroup_sink_close,
};

struct mgroup *mgroup_open_relay(struct node *node, const char *name,
				 const struct uri *src, uint64_t hold_ms,
				 const struct mgroup_events *ev, void *owner,
				 char *err, size_t errlen)
{
	struct mgroup *g = xcalloc(1, sizeof(*g));
	struct relay *r = relay_new(node, name, src, NULL, 0);

	r->on_closed = mgroup_on_relay_closed;
	if (relay_start(r, err, errlen) < 0) {
		/* What opened closes; the relay frees itself after. */
		relay_stop(r);
		free(g);
		return NULL;
	}
	g->node = node;
	g->uri = *src;
	g->ev = ev;
	g->owner = owner;
	g->hold_ms = hold_ms;
	g->fd = -1;
	g->relay = r;
	r->data = g;
	g->sink = (struct sink){ .ops = &mgroup_sink_ops, .relay = r,
				 .uri = &r->source_uri };
	relay_add_sink(r, &g->sink);
	uv_timer_init(node->loop, &g->hold);
	g->hold.data = g;
	g->handles = 2; /* the hold timer and the relay */
	return g;
}

void mgroup_ref(struct mgroup *g)
{
	g->refs++;
	uv_timer_stop(&g->hold);
}

void mgroup_unref(struct mgroup *g)
{
	if (--g->refs > 0 || g->closing)
		return;
	/* A hold of 0 still leaves from the loop, not from inside the
	 * caller's callback. */
	uv_timer_start(&g->hold, mgroup_on_hold, g->hold_ms, 0);
}
