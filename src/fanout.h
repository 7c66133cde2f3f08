/* fanout.h - a bounded per-client queue of shared datagram buffers.
 *
 * Each entry holds one reference to a buffer and the span of it to send
 * (the payload, or the payload with its frame header in the headroom).
 * The first `sending` entries are in flight in one gathered write; they
 * stay counted in `bytes` until the write completes.
 *
 *   ring:  [head ........ head+sending ........ head+count)
 *           \__ in flight __/\______ waiting ______/
 */
#ifndef MCFERRY_FANOUT_H
#define MCFERRY_FANOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"

struct fanout_entry {
	struct buf *b;
	uint8_t *p;
	uint32_t len;
	bool ctl;           /* a control frame, not counted as a datagram */
};

struct fanout_queue {
	struct fanout_entry *ring;
	uint32_t cap;       /* ring slots, a power of two */
	uint32_t head;
	uint32_t count;     /* entries queued, in flight included */
	uint32_t sending;   /* leading entries in flight */
	uint64_t bytes;     /* bytes queued, in flight included */
	uint64_t limit;     /* hard limit on bytes */
};

/* An empty queue that refuses to grow past limit bytes. */
void fanout_queue_init(struct fanout_queue *q, uint64_t limit);
/* Drop every entry (releasing its reference) and free the ring. */
void fanout_queue_exit(struct fanout_queue *q);
/* Queue len bytes at p inside b, taking a reference on b. Returns 0, or
 * -ENOBUFS when the queue would exceed its limit (nothing is queued). */
int fanout_queue_push(struct fanout_queue *q, struct buf *b, uint8_t *p,
		      uint32_t len);
/* The same for a control frame (hello, ping): it is not counted as a
 * datagram by fanout_queue_advance or fanout_queue_end. */
int fanout_queue_push_ctl(struct fanout_queue *q, struct buf *b, uint8_t *p,
			  uint32_t len);
/* Queue a control frame ahead of every waiting entry (a HELLO that must
 * go first, so it is queued even past the limit: a few bytes over);
 * nothing may be in flight. */
void fanout_queue_push_front_ctl(struct fanout_queue *q, struct buf *b,
				 uint8_t *p, uint32_t len);
/* Every waiting datagram entry gains the hdr bytes in front of it (its
 * buffer's headroom), which fill(p, len) writes; for a queue that filled
 * up before its framing was known. Nothing may be in flight. */
void fanout_queue_reframe(struct fanout_queue *q, uint32_t hdr,
			  void (*fill)(uint8_t *p, uint32_t len));
/* Mark up to max waiting entries as in flight and describe them in iov.
 * Returns the number of entries; 0 when a write is already in flight or
 * nothing waits. */
uint32_t fanout_queue_begin(struct fanout_queue *q, struct iovec *iov,
			    uint32_t max);
/* The first nbytes of the in-flight entries were written: release the
 * entries they cover and trim a partly written one. Returns the number of
 * datagram (non-control) entries released; the rest stay in flight. */
uint32_t fanout_queue_advance(struct fanout_queue *q, uint64_t nbytes);
/* Describe the in-flight entries in iov (at most `sending` of them). */
uint32_t fanout_queue_inflight(const struct fanout_queue *q,
			       struct iovec *iov);
/* The in-flight write completed (or failed): release its entries. Returns
 * the number of datagram (non-control) entries released. */
uint32_t fanout_queue_end(struct fanout_queue *q);
/* Release every waiting datagram entry (control frames and the entries in
 * flight stay, in order): a client that is behind jumps to live. Only
 * entries in flight can be partly written, so what stays starts and ends
 * on datagram boundaries. Returns the number released. */
uint32_t fanout_queue_drop_waiting(struct fanout_queue *q);

#endif
