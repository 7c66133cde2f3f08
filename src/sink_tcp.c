/* sink_tcp.c - TCP as a sink: fan out to every client that connects
 * (tcp://@:PORT), or push to one server (tcp://HOST:PORT).
 *
 * A client whose queue reaches its byte limit is cut off with reason
 * slow-consumer; it never slows the others. Datagrams that arrive while
 * the outbound link is down, or faster than the server takes them, are
 * dropped and counted: nothing is buffered without bound. */
#include <errno.h>
#include <stdlib.h>

#include "conn.h"
#include "dialer.h"
#include "log.h"
#include "net.h"
#include "relay.h"
#include "util.h"

/* Kernel send buffer per client unless sndbuf= says otherwise: a stalled
 * reader would otherwise soak up megabytes before we see EAGAIN. */
#define SINK_TCP_DEFAULT_SNDBUF (256 * 1024)

struct sink_tcp {
	struct sink base;
	bool listening;
	uv_tcp_t listener;
	struct conn *clients;    /* listen mode */
	struct dialer dialer;    /* connect mode */
	int handles;
	bool closing;
};

static void sink_tcp_release(struct sink_tcp *s)
{
	if (--s->handles == 0)
		free(s);
}

static void sink_tcp_on_closed(struct conn *c)
{
	struct sink_tcp *s = c->owner;

	conn_list_del(&s->clients, c);
	sink_tcp_release(s);
}

static const struct conn_handler sink_tcp_client_handler = {
	.on_closed = sink_tcp_on_closed,
};

/* The dialer's conns: what the server sends back is read and dropped. */
static const struct conn_handler sink_tcp_upstream_handler = { 0 };

static void sink_tcp_on_connection(uv_stream_t *listener, int status)
{
	struct sink_tcp *s = listener->data;
	const struct uri *u = s->base.uri;
	struct conn *c;

	if (status < 0 || s->closing)
		return;
	c = conn_new(s->base.relay, "client", CONN_RX_DISCARD,
		     u->framing == FRAMING_DATAGRAM, u->queue,
		     u->sndbuf ? u->sndbuf : SINK_TCP_DEFAULT_SNDBUF,
		     &sink_tcp_client_handler, s);
	s->handles++;
	conn_list_add(&s->clients, c);
	if (conn_accept(c, listener) < 0) {
		conn_close(c, "accept-failed");
		return;
	}
	log_info("relay=%s c=%u client connected peer=%s clients=%u",
		 s->base.relay->name, c->id, c->peer,
		 s->base.relay->stats.clients);
}

static void sink_tcp_push(struct sink *base, struct buf *b)
{
	struct sink_tcp *s = (struct sink_tcp *)base;
	struct relay_stats *st = &base->relay->stats;
	struct conn *c;

	if (!s->listening) {
		c = dialer_conn(&s->dialer);
		if (!c || conn_send(c, b) < 0)
			st->drops++;
		return;
	}
	for (c = s->clients; c; c = c->next) {
		if (c->state != CONN_OPEN)
			continue;
		if (conn_send(c, b) == -ENOBUFS) {
			st->cutoffs++;
			conn_close(c, "slow-consumer");
		}
	}
}

static void sink_tcp_flush(struct sink *base)
{
	struct sink_tcp *s = (struct sink_tcp *)base;
	struct conn *c;

	if (!s->listening) {
		c = dialer_conn(&s->dialer);
		if (c)
			conn_kick(c);
		return;
	}
	for (c = s->clients; c; c = c->next)
		conn_kick(c);
}

static void sink_tcp_on_handle_closed(uv_handle_t *h)
{
	sink_tcp_release(h->data);
}

static void sink_tcp_on_dialer_stopped(struct dialer *d)
{
	sink_tcp_release(d->owner);
}

static void sink_tcp_close(struct sink *base)
{
	struct sink_tcp *s = (struct sink_tcp *)base;

	if (s->closing)
		return;
	s->closing = true;
	if (s->listening) {
		uv_close((uv_handle_t *)&s->listener, sink_tcp_on_handle_closed);
		for (struct conn *c = s->clients; c; c = c->next)
			conn_close(c, "shutdown");
	} else {
		dialer_stop(&s->dialer);
	}
}

static const struct sink_ops sink_tcp_ops = {
	.push = sink_tcp_push,
	.flush = sink_tcp_flush,
	.close = sink_tcp_close,
};

int sink_tcp_open(struct relay *r, const struct uri *u, struct sink **out,
		  char *err, size_t errlen)
{
	struct sink_tcp *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage addr;
	int rc;

	s->base.ops = &sink_tcp_ops;
	s->base.relay = r;
	s->base.uri = u;
	s->handles = 1;
	if (u->local) {
		s->listening = true;
		s->listener.data = s;
		rc = net_listen(r->ctx->loop, &s->listener, u,
				sink_tcp_on_connection);
		s->listener.data = s;
		if (rc < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", u->text,
				 uv_strerror(rc));
			sink_tcp_close(&s->base);
			return rc;
		}
	} else {
		rc = net_resolve(u, &addr);
		if (rc < 0) {
			snprintf(err, errlen, "cannot resolve host '%s'",
				 u->host);
			free(s);
			return rc;
		}
		s->dialer.rx = CONN_RX_DISCARD;
		s->dialer.framed = u->framing == FRAMING_DATAGRAM;
		s->dialer.queue = u->queue;
		s->dialer.sndbuf = u->sndbuf ? u->sndbuf
					     : SINK_TCP_DEFAULT_SNDBUF;
		s->dialer.user = &sink_tcp_upstream_handler;
		s->dialer.owner = s;
		s->dialer.on_stopped = sink_tcp_on_dialer_stopped;
		dialer_start(&s->dialer, r, &addr);
	}
	*out = &s->base;
	return 0;
}
