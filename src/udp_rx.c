/* udp_rx.c - recvmmsg into pooled buffers; see udp_rx.h. */
#include "udp_rx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void udp_rx_refill(struct udp_rx *rx, int i)
{
	rx->slot[i] = buf_get(rx->pool, UDP_RX_SLOT);
	rx->iov[i][0].iov_base = rx->slot[i]->data;
	rx->iov[i][0].iov_len = UDP_RX_SLOT;
}

void udp_rx_init(struct udp_rx *rx, struct buf_pool *pool)
{
	memset(rx, 0, sizeof(*rx));
	rx->pool = pool;
	rx->overflow = xmalloc((size_t)UDP_RX_BATCH * UDP_RX_OVERFLOW);
	for (int i = 0; i < UDP_RX_BATCH; i++) {
		udp_rx_refill(rx, i);
		rx->iov[i][1].iov_base =
			rx->overflow + (size_t)i * UDP_RX_OVERFLOW;
		rx->iov[i][1].iov_len = UDP_RX_OVERFLOW;
		rx->msgs[i].msg_hdr.msg_iov = rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 2;
		rx->msgs[i].msg_hdr.msg_name = &rx->from[i];
		rx->msgs[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
	}
}

void udp_rx_exit(struct udp_rx *rx)
{
	for (int i = 0; i < UDP_RX_BATCH; i++)
		buf_unref(rx->slot[i]);
	free(rx->overflow);
}

static void udp_rx_deliver(struct udp_rx *rx, int i, size_t len, udp_rx_fn fn,
			   void *ctx)
{
	struct buf *b = rx->slot[i];

	if (len <= UDP_RX_SLOT) {
		b->len = (uint32_t)len;
		fn(ctx, b, &rx->from[i]);
		buf_unref(b);
		udp_rx_refill(rx, i);
		return;
	}
	b = buf_get(rx->pool, len);
	memcpy(b->data, rx->slot[i]->data, UDP_RX_SLOT);
	memcpy(b->data + UDP_RX_SLOT, rx->overflow + (size_t)i * UDP_RX_OVERFLOW,
	       len - UDP_RX_SLOT);
	b->len = (uint32_t)len;
	fn(ctx, b, &rx->from[i]);
	buf_unref(b);
}

int udp_rx_read(struct udp_rx *rx, int fd, int max_batches, udp_rx_fn fn,
		udp_rx_batch_fn batch_end, void *ctx)
{
	for (int batch = 0; batch < max_batches; batch++) {
		int n;

		/* The kernel writes msg_namelen (and msg_flags, msg_len) of
		 * the slots it filled only: reset those, not all 64 (at a low
		 * rate a call takes one datagram). */
		for (int i = 0; i < rx->used; i++)
			rx->msgs[i].msg_hdr.msg_namelen = sizeof(rx->from[i]);
		rx->used = 0;
		n = recvmmsg(fd, rx->msgs, UDP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
		rx->used = n;
		for (int i = 0; i < n; i++) {
			if (rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				rx->truncated++;
				continue;
			}
			udp_rx_deliver(rx, i, rx->msgs[i].msg_len, fn, ctx);
		}
		/* Write after every batch: latency stays one batch deep. */
		if (n > 0)
			batch_end(ctx);
		if (n < UDP_RX_BATCH)
			break;
	}
	return 0;
}
