/* fuzz_frame.c - libFuzzer target for the link protocol decoder
 * (src/frame.c, with the channel wire form of src/channel.c): decode the input as a stream of frames, the way a
 * connection's read buffer is consumed, and check the decoder's contract. */
#include <string.h>

#include "frame.h"
#include "fuzz.h"

static void check_hello(const struct frame *f, const uint8_t *raw)
{
	struct frame_hello h;
	uint8_t out[FRAME_HDR_LEN + FRAME_HELLO_MAX];
	int rc = frame_hello_decode(f, &h);
	size_t n;

	FUZZ_CHECK(rc == 0 || rc == FRAME_E_LENGTH || rc == FRAME_E_MAGIC ||
		   rc == FRAME_E_VERSION);
	FUZZ_CHECK(frame_strerror(rc) != NULL);
	if (rc == FRAME_E_VERSION)
		FUZZ_CHECK(h.version != FRAME_VERSION);
	if (rc != 0)
		return;
	FUZZ_CHECK(h.version == FRAME_VERSION);
	FUZZ_CHECK(h.role >= FRAME_ROLE_RELAY && h.role <= FRAME_ROLE_GATEWAY);
	FUZZ_CHECK(strlen(h.island) <= FRAME_ISLAND_MAX);
	/* A hello that decodes re-encodes to the same bytes, unless its
	 * island name holds a NUL byte (the decoded string then stops early). */
	n = frame_encode_hello(out, sizeof(out), &h);
	FUZZ_CHECK(n > 0);
	if (!memchr(f->body + 17, 0, f->len - 17)) {
		FUZZ_CHECK(n == FRAME_HDR_LEN + f->len);
		FUZZ_CHECK(memcmp(out, raw, n) == 0);
	}
}

/* The decoders of the channel-carrying frames: what decodes re-encodes to
 * the same bytes. */
static void check_channel_frames(const struct frame *f, const uint8_t *raw)
{
	uint8_t out[FRAME_HDR_LEN + 1 + FRAME_EMITTERS_MAX * FRAME_EMITTER_LEN];
	int rc;

	if (f->type == FRAME_DATA) {
		struct frame_data d;
		size_t hlen;

		rc = frame_data_decode(f, &d);
		FUZZ_CHECK(rc == 0 || rc == FRAME_E_LENGTH ||
			   rc == FRAME_E_TOO_LARGE);
		if (rc != 0)
			return;
		FUZZ_CHECK(d.ch.family == 4 || d.ch.family == 6);
		hlen = frame_data_header_len(d.ch.family);
		FUZZ_CHECK(hlen + d.len == FRAME_HDR_LEN + f->len);
		FUZZ_CHECK(d.payload == raw + hlen);
		frame_data_put_header(out, &d);
		FUZZ_CHECK(memcmp(out, raw, hlen) == 0);
	} else if (f->type >= FRAME_JOIN && f->type <= FRAME_FORWARDER) {
		struct channel ch;
		int active = -1;
		size_t n;

		rc = frame_channel_decode(f, &ch, &active);
		FUZZ_CHECK(rc == 0 || rc == FRAME_E_LENGTH);
		if (rc != 0)
			return;
		if (f->type == FRAME_FORWARDER)
			FUZZ_CHECK(active == 0 || active == 1);
		n = frame_encode_channel(out, sizeof(out), f->type, &ch, active);
		FUZZ_CHECK(n == FRAME_HDR_LEN + f->len);
		FUZZ_CHECK(memcmp(out, raw, n) == 0);
	} else if (f->type == FRAME_EMITTERS) {
		struct frame_emitter e[FRAME_EMITTERS_MAX];
		size_t ne = 0, n;

		rc = frame_emitters_decode(f, e, &ne);
		FUZZ_CHECK(rc == 0 || rc == FRAME_E_LENGTH);
		if (rc != 0)
			return;
		FUZZ_CHECK(ne <= FRAME_EMITTERS_MAX);
		n = frame_encode_emitters(out, sizeof(out), e, ne);
		FUZZ_CHECK(n == FRAME_HDR_LEN + f->len);
		FUZZ_CHECK(memcmp(out, raw, n) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		struct frame f;
		int rc = frame_decode(data + pos, size - pos, &f);

		if (rc < 0) {
			FUZZ_CHECK(rc >= FRAME_E_VERSION);
			FUZZ_CHECK(frame_strerror(rc) != NULL);
			/* An error is found from the header alone. */
			FUZZ_CHECK(size - pos >= FRAME_HDR_LEN);
			FUZZ_CHECK(frame_decode(data + pos, FRAME_HDR_LEN, &f) ==
				   rc);
			break;
		}
		if (rc == 0) {
			/* Needs more bytes: never a whole frame's worth. */
			if (size - pos >= FRAME_HDR_LEN)
				FUZZ_CHECK(f.type == data[pos + 4]);
			break;
		}
		FUZZ_CHECK((size_t)rc >= FRAME_HDR_LEN);
		FUZZ_CHECK((size_t)rc <= size - pos);
		FUZZ_CHECK(f.len == (uint32_t)rc - FRAME_HDR_LEN);
		FUZZ_CHECK(f.len <= FRAME_BODY_MAX);
		FUZZ_CHECK(f.body == data + pos + FRAME_HDR_LEN);
		FUZZ_CHECK(f.flags == 0);
		if (f.type == FRAME_PING || f.type == FRAME_PONG)
			FUZZ_CHECK(f.len == 8);
		/* Every shorter prefix of a decodable frame asks for more. */
		{
			struct frame g;

			FUZZ_CHECK(frame_decode(data + pos, (size_t)rc - 1, &g) ==
				   0);
		}
		if (f.type == FRAME_HELLO)
			check_hello(&f, data + pos);
		else
			check_channel_frames(&f, data + pos);
		pos += (size_t)rc;
	}
	return 0;
}
