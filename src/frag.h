/* frag.h - link frames in pieces over a message transport (SRT, the udp
 * link), and putting them together again. Pure: no sockets, no logs.
 *
 * A frame longer than one message goes as fragments, each one message:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 body length (8 + slice bytes)                 |
 *   +---------------+---------------+-------------------------------+
 *   |  type 0x05    | flags (1=last)|        reserved (zero)        |
 *   +---------------+---------------+-------------------------------+
 *   |                 frame id (per link, +1 per frame)             |
 *   +-------------------------------+-------------------------------+
 *   |         index (0, 1, ...)     |        reserved (zero)        |
 *   +-------------------------------+-------------------------------+
 *   |  slice: the next bytes of the frame (index 0 starts with its  |
 *   |  8-byte header, which gives the whole frame's length)         |
 *
 * It has the shape of a frame header, so a message is told apart by its
 * type byte; frame.c never sees a fragment. Fragments come in order (SRT
 * keeps it; on the udp link a reordered fragment counts as a loss): the
 * reassembler holds one frame at most, and a frame with a piece missing
 * is dropped and counted once.
 */
#ifndef MCFERRY_FRAG_H
#define MCFERRY_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAG_TYPE 0x05
#define FRAG_HDR_LEN 16
#define FRAG_LAST 0x01
/* Bad input: close the link. */
#define FRAG_E_BAD (-1)

/* What the reassembler holds. */
struct frag_rx {
	uint8_t *buf;           /* the frame so far */
	uint32_t cap;
	uint32_t len;           /* bytes in buf */
	uint32_t want;          /* the frame's length, from its header */
	uint32_t id;            /* the frame being put together */
	uint16_t next;          /* the index expected next */
	bool active;            /* a frame is being put together */
	bool skipping;          /* pieces of skip_id are being dropped */
	uint32_t skip_id;
	uint32_t max;           /* largest frame accepted, bytes */
	uint64_t lost;          /* frames dropped for a missing piece */
	uint64_t frames;        /* frames put together */
};

/* Does the message of n bytes at p carry a fragment? */
static inline bool frag_is(const uint8_t *p, size_t n)
{
	return n >= 8 && p[4] == FRAG_TYPE;
}

/* Number of fragments a frame of len bytes takes in messages of at most
 * max bytes (max > FRAG_HDR_LEN). */
uint32_t frag_count(uint32_t len, uint32_t max);
/* Write the FRAG_HDR_LEN-byte header of fragment index of frame id,
 * carrying slice bytes, at p. */
void frag_put_header(uint8_t *p, uint32_t id, uint16_t index, bool last,
		     uint32_t slice);

/* An empty reassembler for frames of at most max bytes. */
void frag_rx_init(struct frag_rx *r, uint32_t max);
/* Free what it holds. */
void frag_rx_exit(struct frag_rx *r);
/* Take the fragment message of n bytes at p. Returns 1 when a frame is
 * whole (r->buf, r->len, valid until the next call), 0 when more is
 * needed or the piece belongs to a frame already lost (counted in
 * r->lost), FRAG_E_BAD when the message is malformed. */
int frag_rx_push(struct frag_rx *r, const uint8_t *p, size_t n);

#endif
