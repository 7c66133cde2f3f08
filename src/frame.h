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

#define FRAME_HDR_LEN 8
#define FRAME_VERSION 1
#define FRAME_MAGIC "MCFY"
#define FRAME_ISLAND_MAX 64
/* Largest body of any frame: a 65535-byte datagram plus room for the
 * channel header of data frames. */
#define FRAME_BODY_MAX (65535 + 128)
#define FRAME_HELLO_MAX (17 + FRAME_ISLAND_MAX)

enum frame_type {
	FRAME_HELLO = 0x01, /* magic, version, role, node id, island */
	FRAME_ERROR = 0x02, /* u16 code, text: sent before closing */
	FRAME_PING = 0x03,  /* u64 token */
	FRAME_PONG = 0x04,  /* u64 token echoed */
	FRAME_DGRAM = 0x10, /* one datagram, body = payload (relay links) */
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

enum frame_error_code { FRAME_ERRCODE_VERSION = 1, FRAME_ERRCODE_PROTOCOL = 2 };

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

/* Encode whole frames into p (cap bytes); return the length written, or 0
 * when cap is too small. */
size_t frame_encode_hello(uint8_t *p, size_t cap, const struct frame_hello *h);
size_t frame_encode_error(uint8_t *p, size_t cap, uint16_t code,
			  const char *text);

#endif
