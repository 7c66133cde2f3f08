/* source_tcp.c - TCP as a source: connect to a server and read
 * (tcp://HOST:PORT), or listen for one publisher at a time (tcp://@:PORT).
 * Raw bytes are cut into chunk-sized datagrams; framed links carry whole
 * datagrams. */
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "conn.h"
#include "dialer.h"
#include "log.h"
#include "net.h"
#include "relay.h"
#include "util.h"

/* A partial raw chunk waits this long for more bytes before it is sent.
 * Long enough that a loaded sender's stall in the middle of a datagram
 * does not cut it in two (which would shift every later datagram of a raw
 * stream), short enough that the tail of a stream is not held up. */
#define SOURCE_TCP_IDLE_FLUSH_MS 50

struct source_tcp {
	struct source base;
	bool listening;
	uv_tcp_t listener;
	struct dialer dialer;
	struct conn *publisher;  /* listen mode: the one publisher */
	struct chunker chunker;
	uv_timer_t idle;
	int handles;             /* listener or dialer, idle timer */
	bool closing;
};

static void source_tcp_release(struct source_tcp *s)
{
	if (--s->handles > 0)
		return;
	chunker_exit(&s->chunker);
	free(s);
}

static void source_tcp_emit(void *ctx, struct buf *b)
{
	struct source_tcp *s = ctx;

	relay_deliver(s->base.relay, b);
	buf_unref(b);
}

static struct source_tcp *conn_source(struct conn *c)
{
	/* Listen-mode conns and dialed ones alike carry the source in data. */
	return c->data;
}

static void source_tcp_set_rcvbuf(struct source_tcp *s, struct conn *c)
{
	int v = (int)s->base.uri->rcvbuf;

	if (v)
		uv_recv_buffer_size((uv_handle_t *)&c->tcp, &v);
}

static void source_tcp_on_connect(struct conn *c, int status)
{
	struct source_tcp *s = conn_source(c);

	if (status < 0)
		return;
	source_tcp_set_rcvbuf(s, c);
	if (!s->base.uri->has_channel)
		return;
	/* A link to a hub: subscribe to the channel. */
	(void)conn_send_channel(c, FRAME_JOIN, &s->base.uri->channel, 0);
	conn_kick(c);
}

static void source_tcp_on_data(struct conn *c, const uint8_t *p, size_t n)
{
	struct source_tcp *s = conn_source(c);

	chunker_push(&s->chunker, p, n, source_tcp_emit, s);
}

static void source_tcp_on_frame(struct conn *c, const struct frame *f)
{
	struct source_tcp *s = conn_source(c);
	const struct uri *u = s->base.uri;
	const uint8_t *p = f->body;
	uint32_t len = f->len;
	struct frame_data d;
	struct buf *b;

	if (u->has_channel && f->type == FRAME_DATA) {
		if (frame_data_decode(f, &d) < 0) {
			conn_close(c, "bad-frame");
			return;
		}
		if (!channel_equal(&d.ch, &u->channel))
			return; /* not ours: the hub sends only what we asked */
		p = d.payload;
		len = d.len;
	} else if (u->has_channel &&
		   (f->type == FRAME_FORWARDER || f->type == FRAME_EMITTERS)) {
		return; /* the hub's bookkeeping for gateways */
	} else if (f->type != FRAME_DGRAM || u->has_channel) {
		conn_close(c, "bad-frame-type");
		return;
	}
	b = buf_get(&s->base.relay->ctx->pool, len);
	memcpy(b->data, p, len);
	b->len = len;
	source_tcp_emit(s, b);
}

static void source_tcp_on_idle(uv_timer_t *t)
{
	struct source_tcp *s = t->data;

	chunker_flush(&s->chunker, source_tcp_emit, s);
	relay_flush(s->base.relay);
}

static void source_tcp_on_read_end(struct conn *c)
{
	struct source_tcp *s = conn_source(c);

	relay_flush(s->base.relay);
	if (chunker_pending(&s->chunker))
		uv_timer_start(&s->idle, source_tcp_on_idle,
			       SOURCE_TCP_IDLE_FLUSH_MS, 0);
	else
		uv_timer_stop(&s->idle);
}

static void source_tcp_on_closed(struct conn *c)
{
	struct source_tcp *s = conn_source(c);

	if (s->publisher == c)
		s->publisher = NULL;
	/* What the peer sent last still goes out. */
	uv_timer_stop(&s->idle);
	chunker_flush(&s->chunker, source_tcp_emit, s);
	relay_flush(s->base.relay);
	if (c->owner == s) /* a listen-mode conn, counted in handles */
		source_tcp_release(s);
}

static const struct conn_handler source_tcp_handler = {
	.on_connect = source_tcp_on_connect,
	.on_data = source_tcp_on_data,
	.on_frame = source_tcp_on_frame,
	.on_read_end = source_tcp_on_read_end,
	.on_closed = source_tcp_on_closed,
};

static void source_tcp_on_connection(uv_stream_t *listener, int status)
{
	struct source_tcp *s = listener->data;
	struct relay *r = s->base.relay;
	const struct uri *u = s->base.uri;
	bool busy = s->publisher != NULL;
	struct conn *c;

	if (status < 0 || s->closing)
		return;
	c = conn_new(r, "publisher",
		     busy ? CONN_RX_DISCARD
			  : (u->framing == FRAMING_DATAGRAM ? CONN_RX_FRAMES
							    : CONN_RX_RAW),
		     !busy && u->framing == FRAMING_DATAGRAM, u->queue,
		     u->sndbuf, &source_tcp_handler, s);
	c->data = s;
	s->handles++;
	if (conn_accept(c, listener) < 0) {
		conn_close(c, "accept-failed");
		return;
	}
	if (busy) {
		/* One publisher at a time: the first keeps its stream. */
		log_warn("relay=%s c=%u publisher refused reason=publisher-busy "
			 "peer=%s current=c%u",
			 r->name, c->id, c->peer, s->publisher->id);
		r->stats.rejected++;
		conn_close(c, "publisher-busy");
		return;
	}
	source_tcp_set_rcvbuf(s, c);
	s->publisher = c;
	log_info("relay=%s c=%u publisher connected peer=%s", r->name, c->id,
		 c->peer);
}

static void source_tcp_on_handle_closed(uv_handle_t *h)
{
	source_tcp_release(h->data);
}

static void source_tcp_on_dialer_stopped(struct dialer *d)
{
	source_tcp_release(d->owner);
}

static void source_tcp_close(struct source *base)
{
	struct source_tcp *s = (struct source_tcp *)base;

	if (s->closing)
		return;
	s->closing = true;
	uv_close((uv_handle_t *)&s->idle, source_tcp_on_handle_closed);
	if (s->listening) {
		uv_close((uv_handle_t *)&s->listener,
			 source_tcp_on_handle_closed);
		if (s->publisher)
			conn_close(s->publisher, "shutdown");
	} else {
		dialer_stop(&s->dialer);
	}
}

static const struct source_ops source_tcp_ops = { .close = source_tcp_close };

int source_tcp_open(struct relay *r, const struct uri *u, struct source **out,
		    char *err, size_t errlen)
{
	struct source_tcp *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage addr;
	int rc;

	s->base.ops = &source_tcp_ops;
	s->base.relay = r;
	s->base.uri = u;
	chunker_init(&s->chunker, &r->ctx->pool, u->chunk);
	uv_timer_init(r->ctx->loop, &s->idle);
	s->idle.data = s;
	s->handles = 2;
	if (u->local) {
		s->listening = true;
		s->listener.data = s;
		rc = net_listen(r->ctx->loop, &s->listener, u, false,
				source_tcp_on_connection);
		if (rc < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", u->text,
				 uv_strerror(rc));
			source_tcp_close(&s->base);
			return rc;
		}
		s->listener.data = s;
	} else {
		rc = net_resolve(u, &addr);
		if (rc < 0) {
			snprintf(err, errlen, "cannot resolve host '%s'",
				 u->host);
			s->listening = false;
			s->closing = true;
			uv_close((uv_handle_t *)&s->idle,
				 source_tcp_on_handle_closed);
			source_tcp_release(s);
			return rc;
		}
		s->dialer.rx = u->framing == FRAMING_DATAGRAM ? CONN_RX_FRAMES
							      : CONN_RX_RAW;
		s->dialer.framed = u->framing == FRAMING_DATAGRAM;
		s->dialer.queue = u->queue;
		s->dialer.sndbuf = u->sndbuf;
		s->dialer.keepalive = u->has_channel;
		s->dialer.user = &source_tcp_handler;
		s->dialer.owner = s;
		s->dialer.on_stopped = source_tcp_on_dialer_stopped;
		dialer_start(&s->dialer, r, &addr);
	}
	*out = &s->base;
	return 0;
}
