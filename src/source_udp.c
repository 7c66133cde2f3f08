/* source_udp.c - UDP as a source: join a group (or bind a port) and read
 * datagrams in batches (udp_rx.c), straight into pooled buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mcast.h"
#include "rejoin.h"
#include "relay.h"
#include "udp_rx.h"
#include "util.h"

/* Batches per wakeup before other handles get their turn: up to 4096
 * datagrams, so one wakeup after a long loop turn (a round of writes to
 * many clients) takes all the receive buffer gathered meanwhile. */
#define SOURCE_UDP_MAX_BATCHES 64

/* Kernel receive buffer unless rcvbuf= says otherwise (root lifts
 * net.core.rmem_max with SO_RCVBUFFORCE): about 350 ms of 200 Mbit/s of
 * 1316-byte datagrams, so a loop turn busy writing to a saturated fan-out,
 * or a moment off the CPU, does not lose input. It is a limit, not an
 * allocation: memory is used only while the relay is behind. */
#define SOURCE_UDP_DEFAULT_RCVBUF (16 * 1024 * 1024)

struct source_udp {
	struct source base;
	int fd;
	uv_poll_t poll;
	struct rejoin rejoin;    /* keeps the membership */
	char detail[8 + sizeof(((struct uri *)0)->text)]; /* " uri=..." */
	int handles;
	bool polling;            /* in source_udp_poll */
	struct udp_rx rx;
};

static void source_udp_on_datagram(void *ctx, struct buf *b,
				   const struct sockaddr_storage *from)
{
	struct source_udp *s = ctx;

	relay_deliver(s->base.relay, b);
}

static void source_udp_on_batch(void *ctx)
{
	struct source_udp *s = ctx;

	relay_flush(s->base.relay);
}

static void source_udp_on_readable(uv_poll_t *p, int status, int events)
{
	struct source_udp *s = p->data;
	struct relay *r = s->base.relay;
	uint64_t truncated = s->rx.truncated;
	int rc;

	if (status < 0) {
		log_error("relay=%s udp source poll error=%s", r->name,
			  uv_strerror(status));
		return;
	}
	rc = udp_rx_read(&s->rx, s->fd, SOURCE_UDP_MAX_BATCHES,
			 source_udp_on_datagram, source_udp_on_batch, s);
	if (rc < 0)
		log_warn("relay=%s udp source recv error=%s", r->name,
			 strerror(-rc));
	r->stats.drops += s->rx.truncated - truncated;
}

static void source_udp_no_flush(void *ctx)
{
}

/* relay_poll_input: a sink is busy writing; read what waits. */
static void source_udp_poll(struct source *base)
{
	struct source_udp *s = (struct source_udp *)base;
	uint64_t truncated = s->rx.truncated;

	if (s->polling || uv_is_closing((uv_handle_t *)&s->poll))
		return;
	s->polling = true;
	(void)udp_rx_read(&s->rx, s->fd, SOURCE_UDP_MAX_BATCHES,
			  source_udp_on_datagram, source_udp_no_flush, s);
	s->polling = false;
	base->relay->stats.drops += s->rx.truncated - truncated;
}

static void source_udp_release(void *data)
{
	struct source_udp *s = data;

	if (--s->handles > 0)
		return;
	close(s->fd);
	udp_rx_exit(&s->rx);
	relay_endpoint_gone(s->base.relay);
	free(s);
}

static void source_udp_on_closed(uv_handle_t *h)
{
	source_udp_release(h->data);
}

static void source_udp_close(struct source *base)
{
	struct source_udp *s = (struct source_udp *)base;

	if (uv_is_closing((uv_handle_t *)&s->poll))
		return;
	log_info("relay=%s udp source closed uri=%s", base->relay->name,
		 base->uri->text);
	uv_close((uv_handle_t *)&s->poll, source_udp_on_closed);
	rejoin_close(&s->rejoin, source_udp_release, s);
}

static const struct source_ops source_udp_ops = {
	.close = source_udp_close,
	.poll = source_udp_poll,
};

int source_udp_open(struct relay *r, const struct uri *u, struct source **out,
		    char *err, size_t errlen)
{
	struct source_udp *s;
	enum mcast_step step;
	struct uri uo = *u;
	int fd, rc;

	if (!uo.rcvbuf)
		uo.rcvbuf = SOURCE_UDP_DEFAULT_RCVBUF;
	rc = mcast_open_recv(&uo, &fd, &step);
	if (rc < 0) {
		mcast_strerror(step, rc, u, err, errlen);
		relay_endpoint_gone(r);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &source_udp_ops;
	s->base.relay = r;
	s->base.uri = u;
	s->fd = fd;
	udp_rx_init(&s->rx, &r->ctx->pool);
	uv_poll_init(r->ctx->loop, &s->poll, fd);
	s->poll.data = s;
	uv_poll_start(&s->poll, UV_READABLE, source_udp_on_readable);
	s->handles = 2;
	snprintf(s->detail, sizeof(s->detail), " uri=%s", u->text);
	rejoin_start(&s->rejoin, r->ctx->loop, "relay", r->name);
	rejoin_add(&s->rejoin, fd, u, "udp source", s->detail);
	log_info("relay=%s udp source open uri=%s%s", r->name, u->text,
		 addr_is_multicast(&u->addr) ? " joined=yes" : "");
	*out = &s->base;
	return 0;
}
