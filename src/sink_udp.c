/* sink_udp.c - UDP as a sink: send each datagram to a group or host,
 * gathered into one sendmmsg per input batch. A datagram the kernel will
 * not take right now (full send buffer) is dropped and counted: a sink
 * never blocks the loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mcast.h"
#include "net.h"
#include "relay.h"
#include "util.h"

#define SINK_UDP_BATCH 64

struct sink_udp {
	struct sink base;
	int fd;
	unsigned npending;
	struct buf *pending[SINK_UDP_BATCH];
	struct mmsghdr msgs[SINK_UDP_BATCH];
	struct iovec iov[SINK_UDP_BATCH];
	bool warned;
};

static void sink_udp_flush(struct sink *base)
{
	struct sink_udp *s = (struct sink_udp *)base;
	struct relay_stats *st = &base->relay->stats;
	unsigned sent = 0;

	while (sent < s->npending) {
		int n = sendmmsg(s->fd, s->msgs + sent, s->npending - sent, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED is a stale ICMP error from a unicast
			 * peer that was down: skip just this datagram. */
			if (!s->warned) {
				log_warn("relay=%s udp sink send error=%s uri=%s",
					 base->relay->name, strerror(errno),
					 base->uri->text);
				s->warned = true;
			}
			st->drops++;
			sent++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			st->out_dgrams++;
			st->out_bytes += s->msgs[sent + (unsigned)i].msg_len;
		}
		s->warned = false;
		sent += (unsigned)n;
	}
	for (unsigned i = 0; i < s->npending; i++)
		buf_unref(s->pending[i]);
	s->npending = 0;
}

static void sink_udp_push(struct sink *base, struct buf *b)
{
	struct sink_udp *s = (struct sink_udp *)base;
	unsigned i = s->npending;

	s->pending[i] = buf_ref(b);
	s->iov[i].iov_base = b->data;
	s->iov[i].iov_len = b->len;
	if (++s->npending == SINK_UDP_BATCH)
		sink_udp_flush(base);
}

static void sink_udp_close(struct sink *base)
{
	struct sink_udp *s = (struct sink_udp *)base;
	struct relay *r = base->relay;

	sink_udp_flush(base);
	close(s->fd);
	free(s);
	relay_endpoint_gone(r);
}

static const struct sink_ops sink_udp_ops = {
	.push = sink_udp_push,
	.flush = sink_udp_flush,
	.close = sink_udp_close,
};

int sink_udp_open(struct relay *r, const struct uri *u, struct sink **out,
		  char *err, size_t errlen)
{
	struct sockaddr_storage dst;
	struct sink_udp *s;
	enum mcast_step step;
	int fd, rc;

	rc = net_resolve(u, &dst);
	if (rc < 0) {
		snprintf(err, errlen, "cannot resolve host '%s'", u->host);
		relay_endpoint_gone(r);
		return rc;
	}
	rc = mcast_open_send(u, &dst, &fd, &step);
	if (rc < 0) {
		mcast_strerror(step, rc, u, err, errlen);
		relay_endpoint_gone(r);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sink_udp_ops;
	s->base.relay = r;
	s->base.uri = u;
	s->fd = fd;
	for (int i = 0; i < SINK_UDP_BATCH; i++) {
		s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
		s->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	*out = &s->base;
	return 0;
}
