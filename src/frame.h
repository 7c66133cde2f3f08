/* frame.h - the mcferry link protocol, version 1: encoder and a pure decoder.
 *
 * Every frame is an 8-byte header and a body (big-endian):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                      body length (bytes)                      |
 *   +---------------+---------------+-------------------------------+
 *   |     type      |     flags     |        reserved (zero)        |
 *   +---------------+---------------+-------------------------------+
 *   |                      body ...                                 |
 *
 * The first frame each side sends is HELLO; its body carries the magic
 * "MCFY" and the protocol version. See docs/protocol.md.
 */
#ifndef MCFERRY_FRAME_H
#define MCFERRY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

#define FRAME_HDR_LEN 8
#define FRAME_VERSION 1
#define FRAME_MAGIC "MCFY"
#define FRAME_ISLAND_MAX 64
/* Largest body of any frame: a 65535-byte datagram plus room for the
 * channel header of data frames. */
#define FRAME_BODY_MAX (65535 + 128)
#define FRAME_HELLO_MAX (17 + FRAME_ISLAND_MAX)
/* Keepalive on hub links: a PING every FRAME_PING_MS both ways; a link
 * that has read nothing for FRAME_DEAD_MS is closed (reason=timeout).
 * Checked every FRAME_TICK_MS, so a dead peer is noticed within
 * FRAME_DEAD_MS + FRAME_TICK_MS = 2.75 s. */
#define FRAME_PING_MS 1000
#define FRAME_DEAD_MS 2500
#define FRAME_TICK_MS 250

enum frame_type {
	FRAME_HELLO = 0x01, /* magic, version, role, node id, island */
	FRAME_ERROR = 0x02, /* u16 code, text: sent before closing */
	FRAME_PING = 0x03,  /* u64 token */
	FRAME_PONG = 0x04,  /* u64 token echoed */
	FRAME_DGRAM = 0x10, /* one datagram, body = payload (relay links) */
	FRAME_DATA = 0x11,  /* data header (channel, origin, seq, hops) + payload */
	FRAME_JOIN = 0x20,  /* interest in a channel: send it to me */
	FRAME_LEAVE = 0x21, /* interest withdrawn */
	FRAME_EXPORT = 0x22,   /* I can export this channel from my island */
	FRAME_UNEXPORT = 0x23, /* no longer */
	FRAME_FORWARDER = 0x24, /* hub -> gateway: channel + u8 active */
	FRAME_EMITTERS = 0x25,  /* addresses a gateway re-multicasts from */
	/* Hub-to-hub links only (both HELLOs role hub; docs/mesh.md). */
	FRAME_LSA = 0x30,       /* a node's link-state description (lsdb.h) */
	FRAME_DBSUM = 0x31,     /* database summary: n x (node, epoch, seq) */
};

/* Data frame header after the 8-byte frame header (big-endian):
 *
 *   +--------+--------+-----------------+
 *   |  hops  |   0    |  sender port    |
 *   +--------+--------+-----------------+
 *   |        origin node id (u64)       |
 *   |        sequence (u64, per origin) |
 *   +-----------------------------------+
 *   |  channel (12 or 36 bytes)         |
 *   +-----------------------------------+
 *   |  payload                          |
 *
 * Frame header + data header is 40 bytes for IPv4 and 64 for IPv6, so it
 * fits in a buffer's headroom and the payload is never copied to frame it.
 */
#define FRAME_DATA_FIXED 20
#define FRAME_EMITTERS_MAX 32
#define FRAME_EMITTER_LEN 20

struct frame_data {
	uint8_t hops;
	uint16_t sport;          /* the original sender's UDP port */
	uint64_t origin;         /* node id of the gateway that exported it */
	uint64_t seq;            /* per-origin sequence number */
	struct channel ch;
	const uint8_t *payload;
	uint32_t len;
};

struct frame_emitter {
	uint8_t family;          /* 4 or 6 */
	uint16_t port;
	uint8_t addr[16];
};

enum frame_role { FRAME_ROLE_RELAY = 1, FRAME_ROLE_HUB = 2, FRAME_ROLE_GATEWAY = 3 };

/* Decoder errors (negative). */
enum frame_err {
	FRAME_E_TOO_LARGE = -1, /* length over the limit for its type */
	FRAME_E_TYPE = -2,      /* unknown type */
	FRAME_E_RESERVED = -3,  /* reserved bits set */
	FRAME_E_LENGTH = -4,    /* body length invalid for its type */
	FRAME_E_MAGIC = -5,     /* hello without the magic */
	FRAME_E_VERSION = -6,   /* hello of another protocol version */
};

/* ERROR codes below FRAME_ERRCODE_REFUSAL come just before the sender
 * closes the link; from FRAME_ERRCODE_REFUSAL up they refuse one request
 * (a JOIN, an EXPORT) and the link stays up, its other state untouched.
 * See docs/protocol.md. */
enum frame_error_code {
	FRAME_ERRCODE_VERSION = 1,      /* HELLO of another version */
	FRAME_ERRCODE_PROTOCOL = 2,
	FRAME_ERRCODE_ISLAND = 3,       /* HELLO for an island the link's
					 * identity may not speak for */
	FRAME_ERRCODE_REFUSAL = 16,
	FRAME_ERRCODE_PUBLISH_DENIED = 16,   /* EXPORT refused by the ACL */
	FRAME_ERRCODE_SUBSCRIBE_DENIED = 17, /* JOIN refused by the ACL */
	FRAME_ERRCODE_REFUSED = 18,     /* a JOIN or EXPORT over a limit */
};

struct frame {
	uint8_t type;
	uint8_t flags;
	uint32_t len;           /* body length */
	const uint8_t *body;    /* points into the decoded bytes */
};

struct frame_hello {
	uint8_t version;
	uint8_t role;
	uint64_t node_id;
	char island[FRAME_ISLAND_MAX + 1];
};

/* Decode one frame from the n bytes at p. Returns the bytes consumed (> 0),
 * 0 when more bytes are needed, or a negative enum frame_err. Pure. */
int frame_decode(const uint8_t *p, size_t n, struct frame *f);

/* Decode a HELLO frame's body. Returns 0 or FRAME_E_LENGTH, FRAME_E_MAGIC,
 * FRAME_E_VERSION (h->version then holds the peer's version). */
int frame_hello_decode(const struct frame *f, struct frame_hello *h);

/* Short, grep-able reason for a decoder error, e.g. "frame-too-large". */
const char *frame_strerror(int err);

/* Write a header for a body of len bytes at p (FRAME_HDR_LEN bytes). */
void frame_put_header(uint8_t *p, uint8_t type, uint32_t len);

/* Bytes of frame header + data header for a channel of this family. */
size_t frame_data_header_len(uint8_t family);
/* Write the frame header and data header for d (payload length d->len)
 * at p, which must have frame_data_header_len() bytes. */
void frame_data_put_header(uint8_t *p, const struct frame_data *d);
/* Write the frame header and data header of d forwarded one hop further
 * (hops + 1, held at 255 so it never wraps to 0) at p, which must have
 * frame_data_header_len(d->ch.family) bytes, e.g. a buffer's headroom in
 * front of the payload. Returns that length. */
size_t frame_data_forward(uint8_t *p, const struct frame_data *d);
/* Decode a DATA frame. Returns 0, FRAME_E_LENGTH, or FRAME_E_TOO_LARGE
 * when the payload exceeds 65535 bytes. */
int frame_data_decode(const struct frame *f, struct frame_data *d);
/* Encode a JOIN, LEAVE, EXPORT, UNEXPORT frame; FORWARDER also carries
 * active. Returns the length written. */
size_t frame_encode_channel(uint8_t *p, size_t cap, uint8_t type,
			    const struct channel *ch, int active);
/* Decode the channel of such a frame; *active gets FORWARDER's flag.
 * Returns 0 or FRAME_E_LENGTH. */
int frame_channel_decode(const struct frame *f, struct channel *ch,
			 int *active);
/* Encode and decode an EMITTERS frame (n <= FRAME_EMITTERS_MAX). */
size_t frame_encode_emitters(uint8_t *p, size_t cap,
			     const struct frame_emitter *e, size_t n);
int frame_emitters_decode(const struct frame *f, struct frame_emitter *e,
			  size_t *n);

/* Encode whole frames into p (cap bytes); return the length written, or 0
 * when cap is too small. */
size_t frame_encode_hello(uint8_t *p, size_t cap, const struct frame_hello *h);
size_t frame_encode_error(uint8_t *p, size_t cap, uint16_t code,
			  const char *text);

/* framing=auto: do the first n bytes a peer sent start a HELLO frame?
 * Returns 1 (a HELLO header and magic), 0 (too few bytes to tell, but
 * they match so far) or -1 (not a HELLO: a plain byte stream). Pure. */
int frame_sniff_hello(const uint8_t *p, size_t n);

#endif
