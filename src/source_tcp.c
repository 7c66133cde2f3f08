/* source_tcp.c - TCP as a source: connect to a server and read
 * (tcp://HOST:PORT), or listen for one publisher at a time (tcp://@:PORT).
 * Raw bytes are cut into chunk-sized datagrams; framed links carry whole
 * datagrams. */
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "conn.h"
#include "dialer.h"
#include "listener.h"
#include "log.h"
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
	struct listener listener;
	struct dialer dialer;
	struct conn *publisher;  /* listen mode: the one publisher */
	struct chunker chunker;
	uv_timer_t idle;
	uv_timer_t pubidle;      /* listen mode: the publisher's idle-timeout */
	int handles;             /* listener or dialer, idle timers */
	bool closing;
};

static void source_tcp_release(struct source_tcp *s)
{
	if (--s->handles > 0)
		return;
	chunker_exit(&s->chunker);
	relay_endpoint_gone(s->base.relay);
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

static void source_tcp_on_accepted(struct conn *c, int status);

static void source_tcp_on_connect(struct conn *c, int status)
{
	struct source_tcp *s = conn_source(c);

	if (s->listening) {
		source_tcp_on_accepted(c, status);
		return;
	}
	if (status < 0 || !s->base.uri->has_channel)
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

/* The conn of an accepted link: the publisher, or one refused because
 * the slot is taken (its bytes are dropped, it is closed once open). */
static struct conn *source_tcp_on_accept(struct listener *ls, struct link *l)
{
	struct source_tcp *s = ls->data;
	const struct uri *u = s->base.uri;
	bool busy = s->publisher != NULL;
	struct conn_conf cf = {
		.what = "publisher",
		.framing = busy ? FRAMING_RAW : u->framing,
		.rx_framed = CONN_RX_FRAMES,
		.rx_raw = busy ? CONN_RX_DISCARD : CONN_RX_RAW,
		.queue = u->queue,
		.sndbuf = u->sndbuf,
		.rcvbuf = u->rcvbuf,
	};
	struct conn *c = conn_new(&s->base.relay->own, l, &cf,
				  &source_tcp_handler, s);

	c->data = s;
	s->handles++;
	if (!busy)
		s->publisher = c;
	return c;
}

/* After the listener opened it: refuse a second publisher. */
static void source_tcp_on_accepted(struct conn *c, int status)
{
	struct source_tcp *s = conn_source(c);
	struct relay *r = s->base.relay;

	if (s->publisher == c) {
		log_info("relay=%s c=%u publisher connected peer=%s", r->name,
			 c->id, c->peer);
		return;
	}
	/* One publisher at a time: the first keeps its stream. */
	log_warn("relay=%s c=%u publisher refused reason=publisher-busy "
		 "peer=%s current=c%u",
		 r->name, c->id, c->peer, s->publisher ? s->publisher->id : 0);
	r->stats.rejected++;
	conn_close(c, "publisher-busy");
}

/* Listen mode, every second: a publisher that has sent nothing (no data,
 * no ping) for idle-timeout seconds gives the slot up, so a peer that
 * connects first and then sits there cannot keep the publishers out. */
static void source_tcp_on_pubidle(uv_timer_t *t)
{
	struct source_tcp *s = t->data;
	struct conn *c = s->publisher;
	uint64_t ms = s->base.uri->idle_timeout * 1000ull;

	if (c && c->state == CONN_OPEN && ms &&
	    uv_now(t->loop) - c->last_rx >= ms)
		conn_close(c, "idle-timeout");
}

static void source_tcp_on_handle_closed(uv_handle_t *h)
{
	source_tcp_release(h->data);
}

static void source_tcp_on_dialer_stopped(struct dialer *d)
{
	source_tcp_release(d->conf.owner);
}

static void source_tcp_on_listener_closed(struct listener *ls)
{
	source_tcp_release(ls->data);
}

static void source_tcp_close(struct source *base)
{
	struct source_tcp *s = (struct source_tcp *)base;

	if (s->closing)
		return;
	s->closing = true;
	uv_close((uv_handle_t *)&s->idle, source_tcp_on_handle_closed);
	if (s->listening) {
		uv_close((uv_handle_t *)&s->pubidle,
			 source_tcp_on_handle_closed);
		listener_close(&s->listener);
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
		uv_timer_init(r->ctx->loop, &s->pubidle);
		s->pubidle.data = s;
		s->handles++;
		uv_timer_start(&s->pubidle, source_tcp_on_pubidle, 1000, 1000);
		s->base.link = &s->listener.conf;
		s->listener.kind = "relay";
		s->listener.name = r->name;
		s->listener.on_accept = source_tcp_on_accept;
		s->listener.on_closed = source_tcp_on_listener_closed;
		s->listener.data = s;
		rc = listener_open(&s->listener, r->ctx->loop, u, false, err,
				   errlen);
	} else {
		struct dialer_conf dc = {
			.uri = u,
			.conn = {
				.what = "upstream",
				.framing = u->has_channel ? FRAMING_DATAGRAM
							  : u->framing,
				.rx_framed = CONN_RX_FRAMES,
				.rx_raw = CONN_RX_RAW,
				.queue = u->queue,
				.sndbuf = u->sndbuf,
				.rcvbuf = u->rcvbuf,
			},
			.keepalive = u->has_channel,
			.user = &source_tcp_handler,
			.owner = s,
			.on_stopped = source_tcp_on_dialer_stopped,
		};

		s->base.link = &s->dialer.link;
		rc = dialer_start(&s->dialer, &r->own, &dc, err, errlen);
	}
	if (rc < 0) {
		/* What was opened closes and releases s; the rest is
		 * released here. */
		s->closing = true;
		uv_close((uv_handle_t *)&s->idle, source_tcp_on_handle_closed);
		if (s->listening)
			uv_close((uv_handle_t *)&s->pubidle,
				 source_tcp_on_handle_closed);
		if (!s->listening || s->listener.handles == 0)
			source_tcp_release(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}
