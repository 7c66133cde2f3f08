/* source_udp.c - UDP as a source: join a group (or bind a port) and read
 * datagrams in batches with recvmmsg, straight into pooled buffers.
 *
 * Each batch slot reads into a 2 KiB pooled buffer, followed by an
 * overflow area for the rare larger datagram:
 *
 *   slot i:  iov[0] = pool buffer (2048 B)   iov[1] = overflow[i] (63.5 KiB)
 *
 * A datagram that fits (the common case: MPEG-TS, Ethernet MTU) is handed
 * on in the buffer it arrived in, with no copy; a larger one is copied
 * once into a buffer of its size. The overflow areas are virtual memory
 * that the kernel only touches for large datagrams. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mcast.h"
#include "relay.h"
#include "util.h"

#define SOURCE_UDP_BATCH 64
#define SOURCE_UDP_SLOT 2048
#define SOURCE_UDP_OVERFLOW (BUF_MAX_PAYLOAD - SOURCE_UDP_SLOT)
/* Batches per wakeup before other handles get their turn. */
#define SOURCE_UDP_MAX_BATCHES 16

struct source_udp {
	struct source base;
	int fd;
	uv_poll_t poll;
	struct buf *slot[SOURCE_UDP_BATCH];
	struct mmsghdr msgs[SOURCE_UDP_BATCH];
	struct iovec iov[SOURCE_UDP_BATCH][2];
	uint8_t *overflow;   /* SOURCE_UDP_BATCH areas of SOURCE_UDP_OVERFLOW */
};

static void source_udp_refill(struct source_udp *s, int i)
{
	s->slot[i] = buf_get(&s->base.relay->ctx->pool, SOURCE_UDP_SLOT);
	s->iov[i][0].iov_base = s->slot[i]->data;
	s->iov[i][0].iov_len = SOURCE_UDP_SLOT;
}

/* Hand slot i's datagram of len bytes to the relay. */
static void source_udp_deliver(struct source_udp *s, int i, size_t len)
{
	struct relay *r = s->base.relay;
	struct buf *b = s->slot[i];

	if (len <= SOURCE_UDP_SLOT) {
		b->len = (uint32_t)len;
		relay_deliver(r, b);
		buf_unref(b);
		source_udp_refill(s, i);
		return;
	}
	b = buf_get(&r->ctx->pool, len);
	memcpy(b->data, s->slot[i]->data, SOURCE_UDP_SLOT);
	memcpy(b->data + SOURCE_UDP_SLOT,
	       s->overflow + (size_t)i * SOURCE_UDP_OVERFLOW,
	       len - SOURCE_UDP_SLOT);
	b->len = (uint32_t)len;
	relay_deliver(r, b);
	buf_unref(b);
}

static void source_udp_on_readable(uv_poll_t *p, int status, int events)
{
	struct source_udp *s = p->data;
	struct relay *r = s->base.relay;

	if (status < 0) {
		log_error("relay=%s udp source poll error=%s", r->name,
			  uv_strerror(status));
		return;
	}
	for (int batch = 0; batch < SOURCE_UDP_MAX_BATCHES; batch++) {
		int n = recvmmsg(s->fd, s->msgs, SOURCE_UDP_BATCH, MSG_DONTWAIT,
				 NULL);

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("relay=%s udp source recv error=%s",
					 r->name, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				r->stats.drops++;
				continue;
			}
			source_udp_deliver(s, i, s->msgs[i].msg_len);
		}
		/* Write after every batch: latency stays one batch deep. */
		relay_flush(r);
		if (n < SOURCE_UDP_BATCH)
			break;
	}
}

static void source_udp_on_closed(uv_handle_t *h)
{
	struct source_udp *s = h->data;

	close(s->fd);
	for (int i = 0; i < SOURCE_UDP_BATCH; i++)
		buf_unref(s->slot[i]);
	free(s->overflow);
	free(s);
}

static void source_udp_close(struct source *base)
{
	struct source_udp *s = (struct source_udp *)base;

	if (uv_is_closing((uv_handle_t *)&s->poll))
		return;
	log_info("relay=%s udp source closed uri=%s", base->relay->name,
		 base->uri->text);
	uv_close((uv_handle_t *)&s->poll, source_udp_on_closed);
}

static const struct source_ops source_udp_ops = { .close = source_udp_close };

int source_udp_open(struct relay *r, const struct uri *u, struct source **out,
		    char *err, size_t errlen)
{
	struct source_udp *s;
	enum mcast_step step;
	int fd, rc;

	rc = mcast_open_recv(u, &fd, &step);
	if (rc < 0) {
		if (step == MCAST_STEP_IFACE)
			snprintf(err, errlen, "unknown interface '%s' in %s",
				 u->iface, u->text);
		else
			snprintf(err, errlen, "cannot %s %s: %s",
				 mcast_step_name(step), u->text, strerror(-rc));
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &source_udp_ops;
	s->base.relay = r;
	s->base.uri = u;
	s->fd = fd;
	s->overflow = xmalloc((size_t)SOURCE_UDP_BATCH * SOURCE_UDP_OVERFLOW);
	for (int i = 0; i < SOURCE_UDP_BATCH; i++) {
		source_udp_refill(s, i);
		s->iov[i][1].iov_base =
			s->overflow + (size_t)i * SOURCE_UDP_OVERFLOW;
		s->iov[i][1].iov_len = SOURCE_UDP_OVERFLOW;
		s->msgs[i].msg_hdr.msg_iov = s->iov[i];
		s->msgs[i].msg_hdr.msg_iovlen = 2;
	}
	uv_poll_init(r->ctx->loop, &s->poll, fd);
	s->poll.data = s;
	uv_poll_start(&s->poll, UV_READABLE, source_udp_on_readable);
	log_info("relay=%s udp source open uri=%s%s", r->name, u->text,
		 uri_addr_is_multicast(&u->addr) ? " joined=yes" : "");
	*out = &s->base;
	return 0;
}
