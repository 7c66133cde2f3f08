/* udp_rx.h - batched datagram reading with recvmmsg straight into pooled
 * buffers, shared by the udp source and the gateway.
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
#ifndef MCFERRY_UDP_RX_H
#define MCFERRY_UDP_RX_H

#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"

#define UDP_RX_BATCH 64
#define UDP_RX_SLOT 2048
#define UDP_RX_OVERFLOW (BUF_MAX_PAYLOAD - UDP_RX_SLOT)

/* Called for each datagram; b is lent for the call (take a reference to
 * keep it). from is the sender's address. */
typedef void (*udp_rx_fn)(void *ctx, struct buf *b,
			  const struct sockaddr_storage *from);
/* Called after each batch, so outputs can write what they gathered. */
typedef void (*udp_rx_batch_fn)(void *ctx);

struct udp_rx {
	struct buf_pool *pool;
	struct buf *slot[UDP_RX_BATCH];
	struct mmsghdr msgs[UDP_RX_BATCH];
	struct iovec iov[UDP_RX_BATCH][2];
	struct sockaddr_storage from[UDP_RX_BATCH];
	uint8_t *overflow;
	int used;              /* slots the last recvmmsg filled */
	uint64_t truncated;
};

/* Allocate the batch slots (the struct is large: allocate it). */
void udp_rx_init(struct udp_rx *rx, struct buf_pool *pool);
/* Release the slots. */
void udp_rx_exit(struct udp_rx *rx);
/* Read up to max_batches batches from fd (non-blocking), calling fn for
 * every datagram and batch_end after every batch. Returns 0 or a negative
 * errno other than EAGAIN. */
int udp_rx_read(struct udp_rx *rx, int fd, int max_batches, udp_rx_fn fn,
		udp_rx_batch_fn batch_end, void *ctx);

#endif
