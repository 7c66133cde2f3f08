/* conn.c - a session over a link: hello and framing, gathered writes,
 * frame reading, close with a reason; see conn.h. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "util.h"

/* Entries per gathered write: enough for ~84 KB of 1316-byte datagrams,
 * small enough to keep the stack frame modest. */
#define CONN_WRITE_IOV 64
/* First size of a framed link's receive buffer; it grows per frame. */
#define CONN_RX_INITIAL 4096

static const char *const state_names[] = { "new", "connecting", "open",
					   "closing" };

/* Every state change of a connection goes through here. */
static void conn_set_state(struct conn *c, enum conn_state s)
{
	log_debug("%s=%s c=%u %s state %s -> %s", c->own->kind, c->own->name,
		  c->id, c->what, state_names[c->state], state_names[s]);
	c->state = s;
}

static void conn_on_link_connect(struct link *l, int status);
static void conn_on_link_alloc(struct link *l, uint8_t **p, size_t *len);
static void conn_on_link_read(struct link *l, ssize_t nread);
static void conn_on_link_write(struct link *l, int status);
static void conn_on_link_close(struct link *l);
static void conn_msg_open(struct conn *c);
static void conn_msg_exit(struct conn *c);
static void conn_read_message(struct conn *c, const uint8_t *p, size_t n);
static void conn_kick_messages(struct conn *c);

static const struct link_events conn_link_events = {
	.on_connect = conn_on_link_connect,
	.on_alloc = conn_on_link_alloc,
	.on_read = conn_on_link_read,
	.on_write = conn_on_link_write,
	.on_close = conn_on_link_close,
};

struct conn *conn_new(const struct conn_owner *own, struct link *l,
		      const struct conn_conf *cf, const struct conn_handler *h,
		      void *owner)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	if (!(l->ops->caps & (LINK_CAP_STREAM | LINK_CAP_MESSAGES)))
		fatal(1, "conn: transport %s is neither stream nor messages",
		      l->ops->name);
	c->messages = l->ops->caps & LINK_CAP_MESSAGES;
	c->link = l;
	link_attach(l, &conn_link_events, c);
	c->id = ++own->node->next_conn_id;
	c->state = CONN_NEW;
	c->conf = *cf;
	c->what = cf->what;
	c->own = own;
	c->owner = owner;
	c->h = h;
	c->handles = 1;
	strcpy(c->peer, "?");
	fanout_queue_init(&c->q, cf->queue);
	return c;
}

static void conn_release(struct conn *c)
{
	if (--c->handles == 0)
		free(c);
}

static void conn_on_wait_closed(uv_handle_t *h)
{
	conn_release(h->data);
}

static void conn_on_link_close(struct link *l)
{
	struct conn *c = l->data;

	fanout_queue_exit(&c->q);
	free(c->rx);
	if (c->messages)
		conn_msg_exit(c);
	if (c->ls)
		listener_forget(c->ls, c);
	if (c->h->on_closed)
		c->h->on_closed(c);
	conn_release(c);
}

void conn_close(struct conn *c, const char *reason)
{
	/* A transport that knows why it failed (a TLS handshake refused)
	 * says so, and that is worth a line even before the conn opened. */
	bool why = c->link->error[0] != '\0';
	bool quiet;

	if (c->state == CONN_CLOSING)
		return;
	if (why)
		reason = c->link->error;
	if (c->ls)
		listener_pending_end(c->ls, c);
	/* Ends the peer or we chose ("done": a response was sent) are
	 * info; anything else is a warning. */
	quiet = !strcmp(reason, "eof") || !strcmp(reason, "shutdown") ||
		!strcmp(reason, "done") || !strcmp(reason, "hello-timeout") ||
		c->state != CONN_OPEN;
	/* An accepted conn still in its transport's handshake is logged
	 * too: its listener logged it connected. */
	if (c->state == CONN_OPEN || why ||
	    (c->ls && c->state == CONN_CONNECTING))
		log_msg(quiet && !why ? LOG_INFO : LOG_WARN,
			strchr(reason, ' ')
				? "%s=%s c=%u %s closed reason=\"%s\" peer=%s "
				  "queued=%llu sent=%llu"
				: "%s=%s c=%u %s closed reason=%s peer=%s "
				  "queued=%llu sent=%llu",
			c->own->kind, c->own->name, c->id, c->what, reason,
			c->state == CONN_OPEN ? c->peer : c->link->peer,
			(unsigned long long)c->q.bytes,
			(unsigned long long)c->sent_bytes);
	if (c->counted) {
		(*c->own->clients)--;
		c->counted = false;
	}
	conn_set_state(c, CONN_CLOSING);
	if (c->wait.loop && !uv_is_closing((uv_handle_t *)&c->wait))
		uv_close((uv_handle_t *)&c->wait, conn_on_wait_closed);
	if (c->ka.loop && !uv_is_closing((uv_handle_t *)&c->ka))
		uv_close((uv_handle_t *)&c->ka, conn_on_wait_closed);
	link_close(c->link);
}

static void conn_on_link_alloc(struct link *l, uint8_t **p, size_t *len)
{
	struct conn *c = l->data;

	/* A message is taken whole from the scratch buffer (see
	 * conn_read_message). */
	if (!c->messages &&
	    (c->rx_mode == CONN_RX_FRAMES || c->rx_mode == CONN_RX_SNIFF)) {
		size_t room = c->rxcap - c->rxlen;
		size_t need = c->rxlen >= FRAME_HDR_LEN
				      ? FRAME_HDR_LEN + get_be32(c->rx) - c->rxlen
				      : 0;

		*p = c->rx + c->rxlen;
		/* See CONN_READ_WINDOW; the rest of a large frame whole. */
		*len = room < CONN_READ_WINDOW ? room
		       : need > CONN_READ_WINDOW && need <= room ? need
								  : CONN_READ_WINDOW;
	} else {
		/* Bytes are consumed inside the read callback, so every
		 * connection can share one scratch buffer. */
		*p = c->own->node->scratch;
		*len = sizeof(c->own->node->scratch);
	}
}

/* Send a small frame right now, bypassing the queue: used for the error
 * frame just before closing, when nothing may wait for a write callback. */
static void conn_write_now(struct conn *c, const uint8_t *p, size_t n)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };

	(void)link_try_write(c->link, &iov, 1);
}

static void conn_send_hello(struct conn *c)
{
	struct frame_hello h = { .version = FRAME_VERSION,
				 .role = c->own->role,
				 .node_id = c->conf.node_id
						    ? c->conf.node_id
						    : c->own->node->node_id };
	uint8_t out[FRAME_HDR_LEN + FRAME_HELLO_MAX];
	struct buf *b;
	size_t n;

	snprintf(h.island, sizeof(h.island), "%s", c->own->island);
	n = frame_encode_hello(out, sizeof(out), &h);
	b = buf_get(&c->own->node->pool, n);
	memcpy(b->data, out, n);
	b->len = (uint32_t)n;
	/* The hello goes first, ahead of anything queued (nothing is in
	 * flight before it). */
	fanout_queue_push_front_ctl(&c->q, b, b->data, b->len);
	c->nctl++;
	buf_unref(b);
	c->hello_sent = true;
}

static void conn_put_dgram_header(uint8_t *p, uint32_t len)
{
	frame_put_header(p, FRAME_DGRAM, len);
}

/* The framing is known: framed (datagram) or raw. */
static void conn_decide(struct conn *c, bool framed)
{
	c->framed = framed;
	c->decided = true;
	/* A raw peer sends no HELLO: it is past the point of one. */
	if (!framed && c->ls)
		listener_pending_end(c->ls, c);
	/* The timer stays while it is the hello deadline. */
	if (c->wait.loop && !c->pending)
		uv_timer_stop(&c->wait);
	/* Datagrams queued while it was not known get their headers, and
	 * our HELLO goes ahead of them. */
	if (framed)
		fanout_queue_reframe(&c->q, FRAME_HDR_LEN,
				     conn_put_dgram_header);
	if (framed && !c->hello_sent)
		conn_send_hello(c);
	log_debug("%s=%s c=%u %s framing=%s", c->own->kind, c->own->name,
		  c->id, c->what, framed ? "datagram" : "raw");
	conn_kick(c);
}

static void conn_on_hello(struct conn *c, const struct frame *f)
{
	struct frame_hello h;
	int rc = frame_hello_decode(f, &h);
	uint8_t out[128];

	if (rc == FRAME_E_VERSION) {
		size_t n = frame_encode_error(out, sizeof(out),
					      FRAME_ERRCODE_VERSION,
					      "version-mismatch: this node "
					      "speaks version 1");

		log_warn("%s=%s c=%u %s hello version=%u ours=%u",
			 c->own->kind, c->own->name, c->id, c->what, h.version,
			 FRAME_VERSION);
		conn_write_now(c, out, n);
		conn_close(c, "version-mismatch");
		return;
	}
	if (rc) {
		conn_close(c, "bad-hello");
		return;
	}
	c->hello_seen = true;
	c->peer_hello = h;
	if (c->ls)
		listener_pending_end(c->ls, c);
	if (!c->decided)
		conn_decide(c, true);
	if (c->state != CONN_OPEN)
		return; /* deciding wrote our HELLO, and the write failed */
	if (c->h->on_hello)
		c->h->on_hello(c);
	if (log_enabled(LOG_DEBUG)) {
		char island[LOG_ESCAPE_MAX];

		log_debug("%s=%s c=%u %s hello role=%u node=%016llx island=%s",
			  c->own->kind, c->own->name, c->id, c->what, h.role,
			  (unsigned long long)h.node_id,
			  log_value(h.island, island, sizeof(island)));
	}
}

/* A PING is answered once per read, with the latest token (see
 * conn_send_pong): a peer that floods pings gets one PONG per read. */
static void conn_on_ping(struct conn *c, const struct frame *f)
{
	memcpy(c->pong_token, f->body, 8);
	c->pong_due = true;
}

static void conn_send_pong(struct conn *c)
{
	uint8_t pong[FRAME_HDR_LEN + 8];

	c->pong_due = false;
	frame_put_header(pong, FRAME_PONG, 8);
	memcpy(pong + FRAME_HDR_LEN, c->pong_token, 8);
	if (conn_send_bytes(c, pong, sizeof(pong)) == 0)
		conn_kick(c);
}

/* An ERROR frame: REFUSED is a request turned down, the link stays;
 * any other code comes before the peer closes. The text is the peer's:
 * escaped for the log. */
static void conn_on_error(struct conn *c, const struct frame *f)
{
	uint16_t code = f->len >= 2 ? get_be16(f->body) : 0;
	char text[LOG_ESCAPE_MAX];

	log_escape(f->len >= 2 ? f->body + 2 : f->body,
		   f->len >= 2 ? f->len - 2 : 0, text, sizeof(text));
	if (code >= FRAME_ERRCODE_REFUSAL) {
		/* One request refused (over a limit, or denied by the hub's
		 * ACL): the link stays up, since closing would only bring the
		 * same refusal after the reconnect. The first, then every
		 * power of two: a flood of refusals does not flood the log. */
		c->refusals++;
		if ((c->refusals & (c->refusals - 1)) == 0)
			log_warn("%s=%s c=%u %s peer error code=%u text=%s "
				 "refusals=%u",
				 c->own->kind, c->own->name, c->id, c->what,
				 code, text, c->refusals);
		return;
	}
	log_warn("%s=%s c=%u %s peer error code=%u text=%s", c->own->kind,
		 c->own->name, c->id, c->what, code, text);
	conn_close(c, "peer-error");
}

/* Decode every whole frame in the receive buffer, keep the partial rest. */
static void conn_read_frames(struct conn *c)
{
	size_t off = 0;

	while (c->state == CONN_OPEN && c->rx_mode == CONN_RX_FRAMES) {
		struct frame f;
		int rc = frame_decode(c->rx + off, c->rxlen - off, &f);

		if (rc == 0)
			break;
		if (rc < 0) {
			conn_close(c, c->hello_seen ? frame_strerror(rc)
						    : "bad-hello");
			return;
		}
		off += (size_t)rc;
		if (!c->hello_seen) {
			if (f.type != FRAME_HELLO)
				conn_close(c, "bad-hello");
			else
				conn_on_hello(c, &f);
			/* A sink that only needed the hello drops the rest. */
			if (c->hello_seen && c->conf.rx_framed != CONN_RX_FRAMES)
				c->rx_mode = c->conf.rx_framed;
			continue;
		}
		switch (f.type) {
		case FRAME_HELLO:
			conn_close(c, "bad-frame");
			break;
		case FRAME_ERROR:
			conn_on_error(c, &f);
			break;
		case FRAME_PING:
			conn_on_ping(c, &f);
			break;
		case FRAME_PONG:
			break;
		default:
			if (c->h->on_frame)
				c->h->on_frame(c, &f);
			else
				conn_close(c, "bad-frame-type");
			break;
		}
	}
	if (c->state != CONN_OPEN)
		return;
	c->rxlen -= (uint32_t)off;
	if (off && c->rxlen)
		memmove(c->rx, c->rx + off, c->rxlen);
	/* The buffer starts small and grows to the largest frame seen (the
	 * decoder has checked the length against its limit by now), so an
	 * idle or control-only link costs little memory. */
	if (c->rx_mode == CONN_RX_FRAMES && c->rxlen >= FRAME_HDR_LEN) {
		uint32_t need = FRAME_HDR_LEN + get_be32(c->rx);

		if (need > c->rxcap) {
			c->rx = xrealloc(c->rx, need);
			c->rxcap = need;
		}
	}
}

static void conn_on_link_read(struct link *l, ssize_t nread)
{
	struct conn *c = l->data;

	if (nread == 0 || c->state != CONN_OPEN)
		return;
	c->last_rx = uv_now(l->loop);
	if (nread < 0) {
		if (nread != UV_EOF)
			conn_close(c, nread == UV_ECONNRESET ? "reset"
							     : uv_err_name((int)nread));
		else if (c->rx_mode == CONN_RX_FRAMES && c->rxlen > 0)
			conn_close(c, "truncated");
		else
			conn_close(c, "eof");
		return;
	}
	if (c->messages) {
		conn_read_message(c, c->own->node->scratch, (size_t)nread);
		return;
	}
	switch (c->rx_mode) {
	case CONN_RX_DISCARD:
		break;
	case CONN_RX_RAW:
		c->h->on_data(c, c->own->node->scratch, (size_t)nread);
		break;
	case CONN_RX_FRAMES:
		c->rxlen += (uint32_t)nread;
		conn_read_frames(c);
		break;
	case CONN_RX_SNIFF: {
		/* auto framing: the peer's first bytes decide. */
		uint32_t before = c->rxlen;
		int sniff;

		c->rxlen += (uint32_t)nread;
		sniff = frame_sniff_hello(c->rx, c->rxlen);
		if (sniff < 0) {
			/* Raw after all: hand on every byte read so far. */
			if (!c->decided)
				conn_decide(c, false);
			else if (c->ls)
				listener_pending_end(c->ls, c);
			if (c->state != CONN_OPEN)
				break; /* its first write failed */
			c->rx_mode = c->conf.rx_raw;
			c->rxlen = 0;
			if (c->rx_mode == CONN_RX_RAW)
				c->h->on_data(c, c->rx, before + (uint32_t)nread);
		} else if (sniff > 0) {
			c->rx_mode = CONN_RX_FRAMES;
			conn_read_frames(c);
		}
		break;
	}
	}
	if (c->state == CONN_OPEN && c->pong_due)
		conn_send_pong(c);
	if (c->state == CONN_OPEN && c->h->on_read_end)
		c->h->on_read_end(c);
}

/* Would len more bytes and nctl more control copies go over the limit?
 * A control copy counts as the pooled buffer it holds. */
static bool conn_full(const struct conn *c, uint64_t len, uint32_t nctl)
{
	return c->q.bytes + len + (uint64_t)(c->nctl + nctl) * c->ctl_cost >
	       c->q.limit;
}

/* What a control copy in b holds: its header, headroom and capacity. */
static void conn_ctl_cost(struct conn *c, const struct buf *b)
{
	c->ctl_cost = (uint32_t)(sizeof(*b) + BUF_HEADROOM + b->cap);
}

/* Release written entries: as fanout_queue_advance/end, keeping nctl. */
static uint32_t conn_q_advance(struct conn *c, uint64_t nbytes)
{
	uint32_t before = c->q.count;
	uint32_t dgrams = fanout_queue_advance(&c->q, nbytes);

	c->nctl -= before - c->q.count - dgrams;
	return dgrams;
}

static uint32_t conn_q_end(struct conn *c)
{
	uint32_t before = c->q.count;
	uint32_t dgrams = fanout_queue_end(&c->q);

	c->nctl -= before - c->q.count - dgrams;
	return dgrams;
}

int conn_send_bytes(struct conn *c, const uint8_t *p, size_t n)
{
	struct buf *b = buf_get(&c->own->node->pool, n);
	int rc = -ENOBUFS;

	memcpy(b->data, p, n);
	b->len = (uint32_t)n;
	conn_ctl_cost(c, b);
	if (!conn_full(c, n, 1))
		rc = fanout_queue_push_ctl(&c->q, b, b->data, b->len);
	buf_unref(b);
	if (rc == 0) {
		c->nctl++;
		return 0;
	}
	/* A control frame must not be lost (a FORWARDER, a PONG): a peer
	 * that far behind is cut off, whatever the link. */
	conn_close(c, "slow-consumer");
	return rc;
}

int conn_send_data(struct conn *c, struct buf *b, const struct frame_data *d)
{
	size_t hlen = frame_data_header_len(d->ch.family);
	struct buf *h;

	h = buf_get(&c->own->node->pool, hlen);
	conn_ctl_cost(c, h);
	if (conn_full(c, hlen + b->len, 1)) {
		buf_unref(h);
		return -ENOBUFS;
	}
	frame_data_put_header(h->data, d);
	h->len = (uint32_t)hlen;
	/* The header is counted as a control entry, the payload as the
	 * datagram, so out_dgrams stays one per datagram. */
	(void)fanout_queue_push_ctl(&c->q, h, h->data, h->len);
	c->nctl++;
	buf_unref(h);
	return fanout_queue_push(&c->q, b, b->data, b->len);
}

int conn_send_channel(struct conn *c, uint8_t type, const struct channel *ch,
		      int active)
{
	uint8_t out[FRAME_HDR_LEN + CHANNEL_WIRE_MAX + 1];
	size_t n = frame_encode_channel(out, sizeof(out), type, ch, active);

	return conn_send_bytes(c, out, n);
}

int conn_send_span(struct conn *c, struct buf *b, uint8_t *p, uint32_t len)
{
	if (conn_full(c, len, 0))
		return -ENOBUFS;
	return fanout_queue_push(&c->q, b, p, len);
}

/* The conn's one timer: the hello deadline of a pending conn, and on an
 * auto sink the wait for the peer's HELLO: a peer silent that long is a
 * plain TCP peer. */
static void conn_on_wait(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(t->loop);

	if (c->state == CONN_CLOSING)
		return;
	if (c->pending && now >= c->hello_deadline) {
		c->ls->hello_timeouts++;
		conn_close(c, "hello-timeout");
		return;
	}
	if (c->state == CONN_OPEN && !c->decided &&
	    c->conf.framing == FRAMING_AUTO && c->conf.sends_data) {
		conn_decide(c, false);
		conn_kick(c);
	}
	if (c->pending)
		uv_timer_start(t, conn_on_wait, c->hello_deadline - now, 0);
}

static void conn_timer_start(struct conn *c, uint64_t ms)
{
	if (!c->wait.loop) {
		uv_timer_init(c->link->loop, &c->wait);
		c->wait.data = c;
		c->handles++;
	}
	uv_timer_start(&c->wait, conn_on_wait, ms, 0);
}

static void conn_open(struct conn *c)
{
	const struct conn_conf *cf = &c->conf;

	snprintf(c->peer, sizeof(c->peer), "%s", c->link->peer);
	link_set_buffers(c->link, cf->sndbuf, cf->rcvbuf);
	conn_set_state(c, CONN_OPEN);
	c->opened = c->last_rx = uv_now(c->link->loop);
	/* A relay's clients are the peers that came to it (viewers,
	 * publishers), not the upstream links it made itself. */
	if (c->ls || !c->own->clients_accepted_only) {
		(*c->own->clients)++;
		c->counted = true;
	}
	switch (cf->framing) {
	case FRAMING_RAW:
		c->rx_mode = cf->rx_raw;
		c->decided = true;
		break;
	case FRAMING_DATAGRAM:
		c->rx_mode = cf->rx_framed;
		conn_decide(c, true);
		break;
	case FRAMING_AUTO:
		c->rx_mode = CONN_RX_SNIFF;
		/* The receiving side speaks first; see conn.h. */
		if (!cf->sends_data) {
			conn_decide(c, true);
			break;
		}
		conn_timer_start(c, CONN_AUTO_WAIT_MS);
		break;
	}
	if (c->state != CONN_OPEN)
		return; /* deciding wrote the HELLO, and the write failed */
	/* Raw from the start, or an auto sink's viewer-to-be: pending only
	 * for the handshake, now done. */
	if ((cf->framing == FRAMING_RAW ||
	     (cf->framing == FRAMING_AUTO && cf->sends_data)) && c->ls)
		listener_pending_end(c->ls, c);
	if (c->rx_mode == CONN_RX_FRAMES || c->rx_mode == CONN_RX_SNIFF) {
		c->rxcap = CONN_RX_INITIAL;
		c->rx = xmalloc(c->rxcap);
	}
	if (c->messages)
		conn_msg_open(c);
	if (link_read_start(c->link) < 0) {
		conn_close(c, "read-failed");
		return;
	}
	conn_kick(c);
}

static void conn_on_link_connect(struct link *l, int status)
{
	struct conn *c = l->data;

	if (c->state == CONN_CLOSING)
		return;
	if (status == 0 && c->ls && c->state == CONN_CONNECTING)
		listener_ready(c->ls, c); /* accepted, after its handshake */
	if (status == 0)
		conn_open(c);
	if (c->h->on_connect)
		c->h->on_connect(c, status);
	else if (status < 0)
		conn_close(c, uv_err_name(status));
	/* An accepted link whose handshake failed has no dialer to close
	 * it: close it here, whatever the owner did. */
	if (status < 0 && c->ls && c->state != CONN_CLOSING)
		conn_close(c, uv_err_name(status));
}

void conn_accept(struct conn *c)
{
	/* The hello deadline runs from the accept, handshake included. */
	if (c->pending) {
		c->hello_deadline = uv_now(c->link->loop) + c->ls->hello_ms;
		conn_timer_start(c, c->ls->hello_ms);
	}
	/* A transport with a handshake reports readiness through
	 * on_connect later. */
	if (c->link->ready)
		conn_on_link_connect(c->link, 0);
	else
		conn_set_state(c, CONN_CONNECTING);
}

int conn_connect(struct conn *c, const struct sockaddr *sa)
{
	int rc;

	addr_format(sa, c->peer, sizeof(c->peer));
	rc = link_connect(c->link, sa);
	if (rc == 0)
		conn_set_state(c, CONN_CONNECTING);
	return rc;
}

int conn_send(struct conn *c, struct buf *b)
{
	/* auto framing on a sink: a peer that lets this much data wait
	 * without saying HELLO is not an mcferry node. A client that
	 * connected to us sends its HELLO with the connection, so a little
	 * is enough; a server we connected to answers one round trip after
	 * our connect, so it gets the whole queue's worth (or the timer). */
	if (!c->decided &&
	    c->q.bytes + b->len > (c->ls && c->q.limit > CONN_AUTO_WAIT_BYTES
					   ? CONN_AUTO_WAIT_BYTES
					   : c->q.limit))
		conn_decide(c, false);
	if (conn_full(c, b->len + (c->framed ? FRAME_HDR_LEN : 0), 0))
		return -ENOBUFS;
	if (!c->framed)
		return fanout_queue_push(&c->q, b, b->data, b->len);
	/* The header depends only on the length, so every framed client
	 * can share the bytes written into the headroom. */
	frame_put_header(b->data - FRAME_HDR_LEN, FRAME_DGRAM, b->len);
	return fanout_queue_push(&c->q, b, b->data - FRAME_HDR_LEN,
				 b->len + FRAME_HDR_LEN);
}

static void conn_on_link_write(struct link *l, int status)
{
	struct conn *c = l->data;
	uint32_t done;

	if (c->messages) {
		/* The message was counted when it was handed over. */
		c->wpending = false;
		if (status < 0)
			conn_close(c, uv_err_name(status));
		else
			conn_kick(c);
		return;
	}
	done = conn_q_end(c);

	if (status == 0) {
		*c->own->out_bytes += c->wbytes;
		*c->own->out_dgrams += done;
	}
	if (status < 0) {
		conn_close(c, status == UV_ECANCELED ? "shutdown"
						     : uv_err_name(status));
		return;
	}
	if (c->h->on_written)
		c->h->on_written(c);
	conn_kick(c);
}

/* Write what is queued: first straight from this loop turn with
 * link_try_write (a plain writev for TCP, no request to track), and only
 * what the transport would not take goes to link_write, which finishes it
 * when the socket is writable again. */
void conn_kick(struct conn *c)
{
	struct iovec iov[CONN_WRITE_IOV];
	uint64_t total;
	uint32_t n;
	int rc;

	if (c->messages) {
		conn_kick_messages(c);
		return;
	}
	/* Until the queue is empty or the socket refuses: the kernel send
	 * buffer is capped, so this ends within a few rounds, and nothing
	 * is left waiting for input that may never come. */
	for (;;) {
		if (c->state != CONN_OPEN || !c->decided)
			return;
		n = fanout_queue_begin(&c->q, iov, CONN_WRITE_IOV);
		if (n == 0)
			return;
		/* All that waits is in this write (the common case): the
		 * queue's byte count is its length. */
		total = c->q.bytes;
		if (n < c->q.count) {
			total = 0;
			for (uint32_t i = 0; i < n; i++)
				total += iov[i].iov_len;
		}
		rc = link_try_write(c->link, iov, n);
		if (rc < 0 && rc != UV_EAGAIN) {
			conn_q_end(c);
			conn_close(c, rc == UV_EPIPE || rc == UV_ECONNRESET
					      ? "reset"
					      : uv_err_name(rc));
			return;
		}
		if (rc > 0) {
			c->sent_bytes += (uint64_t)rc;
			*c->own->out_bytes += (uint64_t)rc;
			*c->own->out_dgrams +=
				conn_q_advance(c, (uint64_t)rc);
		}
		if ((uint64_t)(rc > 0 ? rc : 0) < total)
			break;
		if (c->q.count == 0)
			return;
	}
	if (c->q.sending == 0)
		return;
	/* The transport is full: hand it the rest of this batch. */
	n = fanout_queue_inflight(&c->q, iov);
	c->wbytes = 0;
	for (uint32_t i = 0; i < n; i++)
		c->wbytes += iov[i].iov_len;
	c->sent_bytes += c->wbytes;
	rc = link_write(c->link, iov, n);
	if (rc < 0) {
		conn_q_end(c);
		conn_close(c, uv_err_name(rc));
	}
}

void conn_keepalive(struct conn *c, uint64_t now)
{
	uint8_t ping[FRAME_HDR_LEN + 8];

	if (c->state != CONN_OPEN)
		return;
	if (now - c->last_rx > FRAME_DEAD_MS) {
		conn_close(c, "timeout");
		return;
	}
	if (now - c->last_ping < FRAME_PING_MS)
		return;
	c->last_ping = now;
	frame_put_header(ping, FRAME_PING, 8);
	put_be64(ping + FRAME_HDR_LEN, now);
	if (conn_send_bytes(c, ping, sizeof(ping)) == 0)
		conn_kick(c);
}

void conn_list_add(struct conn **head, struct conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

void conn_list_del(struct conn **head, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* ---- message links (LINK_CAP_MESSAGES: SRT, the udp link) -------------
 *
 * The queue is the same as on a stream; what changes is how it is cut.
 * Raw, every entry is one datagram and goes as one message. Framed, the
 * head entry starts a frame whose header gives its length, and the frame
 * is that entry and the ones after it that make up the length (a DATA
 * frame: header + payload; a DGRAM frame: one entry with its header in
 * the headroom). A frame that fits goes as one message; a longer one as
 * fragments (frag.h), the head frame's entries staying queued until the
 * last piece is out, so frag_off says how far it got. */

/* Read side of a stats hook: the label value of a conn id. */
static void conn_msg_stats_add(struct conn *c)
{
	struct stats *reg = &c->own->node->stats;
	char id[16];
	const char *const lb[] = { c->own->kind, c->own->name, "link", id,
				   NULL };

	snprintf(id, sizeof(id), "%u", c->id);
	c->msg_stats = true;
	(void)stats_add(reg, c->link, "mcferry_link_oversize_dropped_datagrams_total",
			lb, STATS_COUNTER,
			"raw datagrams longer than one message of the link, dropped",
			&c->msg_oversize);
	(void)stats_add(reg, c->link, "mcferry_link_fragment_lost_frames_total",
			lb, STATS_COUNTER,
			"frames that came in fragments with a piece missing, dropped",
			&c->frag.lost);
	if (c->link->ops->stats_add)
		c->link->ops->stats_add(c->link, reg, lb);
}

static void conn_on_ka(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == CONN_OPEN && c->decided && c->framed)
		conn_keepalive(c, uv_now(t->loop));
}

/* The conn opens over a message link. */
static void conn_msg_open(struct conn *c)
{
	frag_rx_init(&c->frag, FRAME_HDR_LEN + FRAME_BODY_MAX);
	conn_msg_stats_add(c);
	if (!(c->link->ops->caps & LINK_CAP_KEEPALIVE))
		return;
	uv_timer_init(c->link->loop, &c->ka);
	c->ka.data = c;
	c->handles++;
	uv_timer_start(&c->ka, conn_on_ka, FRAME_TICK_MS, FRAME_TICK_MS);
}

static void conn_msg_exit(struct conn *c)
{
	if (c->frag.frames || c->frag.lost || c->msg_oversize)
		log_info("%s=%s c=%u %s messages reassembled=%llu "
			 "fragment_lost=%llu oversize_dropped=%llu",
			 c->own->kind, c->own->name, c->id, c->what,
			 (unsigned long long)c->frag.frames,
			 (unsigned long long)c->frag.lost,
			 (unsigned long long)c->msg_oversize);
	frag_rx_exit(&c->frag);
	if (c->msg_stats)
		stats_remove_owner(&c->own->node->stats, c->link);
}

/* One raw message: one datagram for the owner. */
static void conn_msg_datagram(struct conn *c, const uint8_t *p, size_t n)
{
	struct frame f = { .type = FRAME_DGRAM, .len = (uint32_t)n, .body = p };

	if (c->h->on_frame)
		c->h->on_frame(c, &f);
	else if (c->h->on_data)
		c->h->on_data(c, p, n);
}

/* One framed message: a whole frame, or a fragment of one. The frame
 * goes through conn_read_frames like bytes of a stream, so HELLO, PING
 * and the owner's frames are handled in one place. */
static void conn_msg_frames(struct conn *c, const uint8_t *p, size_t n)
{
	if (frag_is(p, n)) {
		int rc = frag_rx_push(&c->frag, p, n);

		if (rc < 0) {
			conn_close(c, "bad-fragment");
			return;
		}
		if (rc == 0)
			return;
		p = c->frag.buf;
		n = c->frag.len;
	}
	if (n > c->rxcap) {
		c->rx = xrealloc(c->rx, n);
		c->rxcap = (uint32_t)n;
	}
	memcpy(c->rx, p, n);
	c->rxlen = (uint32_t)n;
	conn_read_frames(c);
	if (c->state != CONN_OPEN)
		return;
	/* A message holds whole frames: what is left over is broken. */
	if (c->rx_mode == CONN_RX_FRAMES && c->rxlen)
		conn_close(c, "truncated-message");
	c->rxlen = 0;
}

static void conn_read_message(struct conn *c, const uint8_t *p, size_t n)
{
	switch (c->rx_mode) {
	case CONN_RX_DISCARD:
		break;
	case CONN_RX_RAW:
		conn_msg_datagram(c, p, n);
		break;
	case CONN_RX_FRAMES:
		conn_msg_frames(c, p, n);
		break;
	case CONN_RX_SNIFF:
		/* auto framing: the first message decides; it is whole, so
		 * "too short to tell" means not a HELLO. */
		if (frame_sniff_hello(p, n) > 0) {
			c->rx_mode = CONN_RX_FRAMES;
			conn_msg_frames(c, p, n);
			break;
		}
		if (!c->decided)
			conn_decide(c, false);
		else if (c->ls)
			listener_pending_end(c->ls, c); /* a raw publisher */
		if (c->state != CONN_OPEN)
			break;
		c->rx_mode = c->conf.rx_raw;
		if (c->rx_mode == CONN_RX_RAW)
			conn_msg_datagram(c, p, n);
		break;
	}
	if (c->state == CONN_OPEN && c->h->on_read_end)
		c->h->on_read_end(c);
}

/* The first k queue entries were sent (or dropped): release them. */
static void conn_msg_release(struct conn *c, uint32_t k, uint64_t bytes,
			     bool sent)
{
	struct iovec tmp[CONN_WRITE_IOV];
	uint32_t done;

	fanout_queue_begin(&c->q, tmp, k);
	done = conn_q_end(c);
	if (!sent)
		return;
	c->sent_bytes += bytes;
	*c->own->out_bytes += bytes;
	*c->own->out_dgrams += done;
}

/* Hand one message to the link: at once, or (the transport full) as the
 * one pending write. 0, or a negative error (the conn is closed). */
static int conn_msg_write(struct conn *c, const struct iovec *iov,
			  unsigned n)
{
	int rc = link_try_write(c->link, iov, n);

	if (rc == UV_EAGAIN) {
		rc = link_write(c->link, iov, n);
		if (rc == 0)
			c->wpending = true;
	}
	if (rc < 0) {
		conn_close(c, rc == UV_ECONNRESET ? "reset" : uv_err_name(rc));
		return rc;
	}
	return 0;
}

/* The bytes [off, off + len) of the k entries from the head, as iovecs
 * from iov[at]; returns the number of iovecs. */
static unsigned conn_msg_span(const struct fanout_queue *q, uint32_t k,
			      uint32_t off, uint32_t len, struct iovec *iov)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < k && len; i++) {
		const struct fanout_entry *e =
			&q->ring[(q->head + i) & (q->cap - 1)];
		uint32_t take;

		if (off >= e->len) {
			off -= e->len;
			continue;
		}
		take = e->len - off < len ? e->len - off : len;
		iov[n].iov_base = e->p + off;
		iov[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return n;
}

static void conn_kick_messages(struct conn *c)
{
	uint32_t max = link_max_message(c->link);
	struct iovec iov[CONN_WRITE_IOV + 1];
	uint8_t fh[FRAG_HDR_LEN];

	while (c->state == CONN_OPEN && c->decided && !c->wpending &&
	       c->q.count > 0 && !c->q.sending) {
		const struct fanout_entry *e = &c->q.ring[c->q.head];
		uint32_t flen = e->len, k = 1, sum = e->len;

		if (!c->framed) {
			/* Raw: a datagram is a message, or is dropped. */
			if (flen > max || flen == 0) {
				c->msg_oversize += flen > 0;
				conn_msg_release(c, 1, 0, false);
				continue;
			}
			iov[0].iov_base = e->p;
			iov[0].iov_len = flen;
			if (conn_msg_write(c, iov, 1) < 0)
				return;
			conn_msg_release(c, 1, flen, true);
			continue;
		}
		/* Framed: the entries that make up the head frame. */
		flen = e->len >= FRAME_HDR_LEN ? FRAME_HDR_LEN + get_be32(e->p)
					       : 0;
		while (sum < flen && k < c->q.count && k < CONN_WRITE_IOV) {
			sum += c->q.ring[(c->q.head + k) & (c->q.cap - 1)].len;
			k++;
		}
		if (flen == 0 || sum != flen) {
			/* Entries are queued frame by frame (conn_send*). */
			conn_close(c, "bad-queue");
			return;
		}
		if (flen <= max) {
			unsigned n = conn_msg_span(&c->q, k, 0, flen, iov);

			if (conn_msg_write(c, iov, n) < 0)
				return;
			conn_msg_release(c, k, flen, true);
			continue;
		}
		/* In pieces, each one message. */
		while (c->frag_off < flen) {
			uint32_t len = flen - c->frag_off;
			unsigned n;

			if (len > max - FRAG_HDR_LEN)
				len = max - FRAG_HDR_LEN;
			frag_put_header(fh, c->frag_id, c->frag_index,
					c->frag_off + len == flen, len);
			iov[0].iov_base = fh;
			iov[0].iov_len = FRAG_HDR_LEN;
			n = conn_msg_span(&c->q, k, c->frag_off, len, iov + 1);
			if (conn_msg_write(c, iov, n + 1) < 0)
				return;
			c->frag_off += len;
			c->frag_index++;
			if (c->wpending && c->frag_off < flen)
				return; /* on_write brings us back here */
		}
		c->frag_off = 0;
		c->frag_index = 0;
		c->frag_id++;
		conn_msg_release(c, k, flen, true);
	}
}
