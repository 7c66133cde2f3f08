/* test_frame.c - unit tests for src/frame.c: the link protocol encoder and
 * its pure decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A raw header with every field under the test's control. */
static void raw_header(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags,
		       uint16_t reserved)
{
	put32(p, len);
	p[4] = type;
	p[5] = flags;
	p[6] = (uint8_t)(reserved >> 8);
	p[7] = (uint8_t)reserved;
}

/* A HELLO frame with body fields under the test's control; returns its
 * total length. */
static size_t raw_hello(uint8_t *p, uint32_t frame_len, const char *magic,
			uint8_t version, uint8_t role, uint8_t ilen,
			const char *island)
{
	uint8_t *b = p + FRAME_HDR_LEN;

	raw_header(p, frame_len, FRAME_HELLO, 0, 0);
	memcpy(b, magic, 4);
	b[4] = version;
	b[5] = role;
	b[6] = b[7] = 0;
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(0x11 * (i + 1));
	b[16] = ilen;
	memcpy(b + 17, island, strlen(island));
	return FRAME_HDR_LEN + frame_len;
}

static void test_hello_round_trip(void **state)
{
	(void)state;
	for (int ilen = 0; ilen <= FRAME_ISLAND_MAX; ilen++) {
		struct frame_hello h = { 0 }, out;
		struct frame f;
		uint8_t buf[FRAME_HDR_LEN + FRAME_HELLO_MAX];
		size_t n;

		h.version = FRAME_VERSION;
		h.role = (uint8_t)(1 + ilen % 3);
		h.node_id = 0x0123456789abcdefull ^ (uint64_t)ilen;
		for (int i = 0; i < ilen; i++)
			h.island[i] = (char)('a' + i % 26);
		n = frame_encode_hello(buf, sizeof(buf), &h);
		assert_int_equal(n, FRAME_HDR_LEN + 17 + (size_t)ilen);
		/* One byte short of room: nothing written. */
		assert_int_equal(frame_encode_hello(buf, n - 1, &h), 0);
		assert_int_equal(frame_decode(buf, n, &f), (int)n);
		assert_int_equal(f.type, FRAME_HELLO);
		assert_int_equal(f.flags, 0);
		assert_int_equal(f.len, 17 + ilen);
		assert_ptr_equal(f.body, buf + FRAME_HDR_LEN);
		assert_int_equal(frame_hello_decode(&f, &out), 0);
		assert_int_equal(out.version, FRAME_VERSION);
		assert_int_equal(out.role, h.role);
		assert_int_equal(out.node_id, h.node_id);
		assert_string_equal(out.island, h.island);
	}
}

static void test_hello_encode_truncates_long_island(void **state)
{
	struct frame_hello h = { .version = 1, .role = FRAME_ROLE_HUB }, out;
	struct frame f;
	uint8_t buf[256];
	size_t n;

	(void)state;
	/* No terminator at all: the encoder stops at FRAME_ISLAND_MAX. */
	memset(h.island, 'z', sizeof(h.island));
	n = frame_encode_hello(buf, sizeof(buf), &h);
	assert_int_equal(n, FRAME_HDR_LEN + FRAME_HELLO_MAX);
	assert_int_equal(frame_decode(buf, n, &f), (int)n);
	assert_int_equal(frame_hello_decode(&f, &out), 0);
	assert_int_equal(strlen(out.island), FRAME_ISLAND_MAX);
}

static void test_error_round_trip(void **state)
{
	static const char *texts[] = { "", "x", "version-mismatch: want 1",
				       NULL };
	uint8_t buf[2048];
	char big[1200];

	(void)state;
	for (int i = 0; texts[i]; i++) {
		struct frame f;
		size_t tl = strlen(texts[i]);
		size_t n = frame_encode_error(buf, sizeof(buf),
					      FRAME_ERRCODE_VERSION, texts[i]);

		assert_int_equal(n, FRAME_HDR_LEN + 2 + tl);
		assert_int_equal(frame_encode_error(buf, n - 1, 1, texts[i]),
				 0);
		n = frame_encode_error(buf, sizeof(buf), FRAME_ERRCODE_PROTOCOL,
				       texts[i]);
		assert_int_equal(frame_decode(buf, n, &f), (int)n);
		assert_int_equal(f.type, FRAME_ERROR);
		assert_int_equal(f.len, 2 + tl);
		assert_int_equal((f.body[0] << 8) | f.body[1],
				 FRAME_ERRCODE_PROTOCOL);
		assert_memory_equal(f.body + 2, texts[i], tl);
	}
	/* Text is cut at 1000 bytes so the frame stays decodable. */
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		struct frame f;
		size_t n = frame_encode_error(buf, sizeof(buf), 0xbeef, big);

		assert_int_equal(n, FRAME_HDR_LEN + 2 + 1000);
		assert_int_equal(frame_decode(buf, n, &f), (int)n);
		assert_int_equal((f.body[0] << 8) | f.body[1], 0xbeef);
	}
}

static void test_dgram_header(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 1316, 65535 };
	uint8_t *buf = malloc(FRAME_HDR_LEN + 65535);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct frame f;
		uint32_t len = sizes[i];

		frame_put_header(buf, FRAME_DGRAM, len);
		for (uint32_t j = 0; j < len; j++)
			buf[FRAME_HDR_LEN + j] = (uint8_t)(j * 7);
		assert_int_equal(buf[4], FRAME_DGRAM);
		assert_int_equal(buf[5], 0);
		assert_int_equal(buf[6], 0);
		assert_int_equal(buf[7], 0);
		assert_int_equal(frame_decode(buf, FRAME_HDR_LEN + len, &f),
				 (int)(FRAME_HDR_LEN + len));
		assert_int_equal(f.type, FRAME_DGRAM);
		assert_int_equal(f.len, len);
		assert_ptr_equal(f.body, buf + FRAME_HDR_LEN);
		if (len)
			assert_int_equal(f.body[len - 1],
					 (uint8_t)((len - 1) * 7));
	}
	free(buf);
}

static void test_ping_pong(void **state)
{
	uint8_t buf[16];
	struct frame f;

	(void)state;
	frame_put_header(buf, FRAME_PING, 8);
	memset(buf + 8, 0x42, 8);
	assert_int_equal(frame_decode(buf, 16, &f), 16);
	assert_int_equal(f.type, FRAME_PING);
	frame_put_header(buf, FRAME_PONG, 8);
	assert_int_equal(frame_decode(buf, 16, &f), 16);
	assert_int_equal(f.type, FRAME_PONG);
	assert_int_equal(f.len, 8);
}

/* Every strict prefix of a valid frame asks for more bytes. */
static void check_prefixes(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct frame f;

		assert_int_equal(frame_decode(p, k, &f), 0);
	}
}

static void test_need_more_bytes(void **state)
{
	uint8_t buf[FRAME_HDR_LEN + 1400];
	struct frame_hello h = { .version = 1, .role = 1, .node_id = 7,
				 .island = "north" };
	size_t n;

	(void)state;
	n = frame_encode_hello(buf, sizeof(buf), &h);
	check_prefixes(buf, n);
	n = frame_encode_error(buf, sizeof(buf), 2, "bye");
	check_prefixes(buf, n);
	frame_put_header(buf, FRAME_PING, 8);
	memset(buf + 8, 0, 8);
	check_prefixes(buf, 16);
	frame_put_header(buf, FRAME_DGRAM, 1316);
	memset(buf + 8, 0x47, 1316);
	check_prefixes(buf, FRAME_HDR_LEN + 1316);
	frame_put_header(buf, FRAME_DGRAM, 0);
	check_prefixes(buf, FRAME_HDR_LEN);
}

static void test_trailing_bytes_not_consumed(void **state)
{
	uint8_t buf[64] = { 0 };
	struct frame f;

	(void)state;
	frame_put_header(buf, FRAME_DGRAM, 3);
	frame_put_header(buf + 11, FRAME_PING, 8);
	assert_int_equal(frame_decode(buf, sizeof(buf), &f), 11);
	assert_int_equal(f.len, 3);
	assert_int_equal(frame_decode(buf + 11, sizeof(buf) - 11, &f), 16);
	assert_int_equal(f.type, FRAME_PING);
}

static int decode_header(uint32_t len, uint8_t type, uint8_t flags,
			 uint16_t reserved)
{
	uint8_t buf[FRAME_HDR_LEN];
	struct frame f;

	raw_header(buf, len, type, flags, reserved);
	/* Only the header is present: errors are found from it alone. */
	return frame_decode(buf, sizeof(buf), &f);
}

static void test_malformed_headers(void **state)
{
	(void)state;
	/* Reserved bits and flags. */
	assert_int_equal(decode_header(0, FRAME_DGRAM, 0, 1), FRAME_E_RESERVED);
	assert_int_equal(decode_header(0, FRAME_DGRAM, 0, 0x8000),
			 FRAME_E_RESERVED);
	assert_int_equal(decode_header(0, FRAME_DGRAM, 1, 0), FRAME_E_RESERVED);
	assert_int_equal(decode_header(0, FRAME_HELLO, 0x80, 0),
			 FRAME_E_RESERVED);
	/* Unknown types. */
	assert_int_equal(decode_header(0, 0x00, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x05, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x0f, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x12, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x1f, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x26, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0x80, 0, 0), FRAME_E_TYPE);
	assert_int_equal(decode_header(0, 0xff, 0, 0), FRAME_E_TYPE);
	/* Too large. */
	assert_int_equal(decode_header(65536, FRAME_DGRAM, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(65535 + 128, FRAME_DGRAM, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(0xffffffffu, FRAME_DGRAM, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(0x80000000u, FRAME_DGRAM, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(0xffffffffu, FRAME_HELLO, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(0xffffffffu, FRAME_PING, 0, 0),
			 FRAME_E_TOO_LARGE);
	assert_int_equal(decode_header(FRAME_BODY_MAX + 1, FRAME_DATA, 0, 0),
			 FRAME_E_TOO_LARGE);
	/* Wrong length for the type. */
	assert_int_equal(decode_header(7, FRAME_PING, 0, 0), FRAME_E_LENGTH);
	assert_int_equal(decode_header(9, FRAME_PING, 0, 0), FRAME_E_LENGTH);
	assert_int_equal(decode_header(0, FRAME_PING, 0, 0), FRAME_E_LENGTH);
	assert_int_equal(decode_header(0, FRAME_PONG, 0, 0), FRAME_E_LENGTH);
	assert_int_equal(decode_header(16, FRAME_PONG, 0, 0), FRAME_E_LENGTH);
	assert_int_equal(decode_header(FRAME_HELLO_MAX + 1, FRAME_HELLO, 0, 0),
			 FRAME_E_LENGTH);
	assert_int_equal(decode_header(1025, FRAME_ERROR, 0, 0),
			 FRAME_E_LENGTH);
	/* At the limits: valid headers that wait for their body. */
	assert_int_equal(decode_header(65535, FRAME_DGRAM, 0, 0), 0);
	assert_int_equal(decode_header(FRAME_HELLO_MAX, FRAME_HELLO, 0, 0), 0);
	assert_int_equal(decode_header(1024, FRAME_ERROR, 0, 0), 0);
	assert_int_equal(decode_header(8, FRAME_PING, 0, 0), 0);
}

static void test_error_needs_only_header(void **state)
{
	uint8_t buf[FRAME_HDR_LEN];
	struct frame f;

	(void)state;
	/* A header announcing 4 GiB is refused at once, not waited on. */
	raw_header(buf, 0xffffffffu, FRAME_DGRAM, 0, 0);
	assert_int_equal(frame_decode(buf, 7, &f), 0);
	assert_int_equal(frame_decode(buf, 8, &f), FRAME_E_TOO_LARGE);
}

static int decode_hello(const uint8_t *buf, size_t n, struct frame_hello *h)
{
	struct frame f;
	int rc = frame_decode(buf, n, &f);

	assert_int_equal(rc, (int)n);
	return frame_hello_decode(&f, h);
}

static void test_malformed_hello(void **state)
{
	uint8_t buf[256];
	struct frame_hello h;
	size_t n;

	(void)state;
	/* Valid, as a baseline. */
	n = raw_hello(buf, 17 + 3, "MCFY", 1, 1, 3, "abc");
	assert_int_equal(decode_hello(buf, n, &h), 0);
	assert_string_equal(h.island, "abc");
	assert_int_equal(h.node_id, 0x1122334455667788ull);

	n = raw_hello(buf, 17, "MCFX", 1, 1, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_MAGIC);
	n = raw_hello(buf, 17, "mcfy", 1, 1, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_MAGIC);

	n = raw_hello(buf, 17, "MCFY", 2, 1, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_VERSION);
	assert_int_equal(h.version, 2);
	n = raw_hello(buf, 17, "MCFY", 0, 1, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_VERSION);
	assert_int_equal(h.version, 0);
	/* A later version may carry a longer body; still a version error. */
	n = raw_hello(buf, 17 + 10, "MCFY", 2, 1, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_VERSION);
	assert_int_equal(h.version, 2);

	/* Island length byte disagrees with the frame length. */
	n = raw_hello(buf, 17 + 3, "MCFY", 1, 1, 2, "abc");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17 + 3, "MCFY", 1, 1, 4, "abc");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17, "MCFY", 1, 1, 1, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17 + 64, "MCFY", 1, 1, 255, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17 + 64, "MCFY", 1, 1, 65, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);

	/* Too short for the fixed part. */
	raw_header(buf, 16, FRAME_HELLO, 0, 0);
	memcpy(buf + 8, "MCFY", 4);
	buf[12] = 1;
	assert_int_equal(decode_hello(buf, 8 + 16, &h), FRAME_E_LENGTH);
	raw_header(buf, 0, FRAME_HELLO, 0, 0);
	assert_int_equal(decode_hello(buf, 8, &h), FRAME_E_LENGTH);

	/* Roles. */
	n = raw_hello(buf, 17, "MCFY", 1, 0, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17, "MCFY", 1, 9, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17, "MCFY", 1, 4, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
	n = raw_hello(buf, 17, "MCFY", 1, FRAME_ROLE_GATEWAY, 0, "");
	assert_int_equal(decode_hello(buf, n, &h), 0);
	assert_int_equal(h.role, FRAME_ROLE_GATEWAY);

	/* Reserved bytes inside the hello body. */
	n = raw_hello(buf, 17, "MCFY", 1, 1, 0, "");
	buf[8 + 7] = 1;
	assert_int_equal(decode_hello(buf, n, &h), FRAME_E_LENGTH);
}

static void test_hello_decode_wrong_type(void **state)
{
	uint8_t buf[64] = { 0 };
	struct frame f;
	struct frame_hello h;

	(void)state;
	raw_hello(buf, 17, "MCFY", 1, 1, 0, "");
	buf[4] = FRAME_ERROR;
	assert_int_equal(frame_decode(buf, 8 + 17, &f), 8 + 17);
	assert_int_equal(frame_hello_decode(&f, &h), FRAME_E_LENGTH);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(frame_strerror(FRAME_E_TOO_LARGE),
			    "frame-too-large");
	assert_string_equal(frame_strerror(FRAME_E_TYPE), "bad-frame-type");
	assert_string_equal(frame_strerror(FRAME_E_RESERVED), "bad-frame");
	assert_string_equal(frame_strerror(FRAME_E_LENGTH), "bad-frame");
	assert_string_equal(frame_strerror(FRAME_E_MAGIC), "bad-hello");
	assert_string_equal(frame_strerror(FRAME_E_VERSION),
			    "version-mismatch");
	assert_string_equal(frame_strerror(-99), "bad-frame");
	assert_string_equal(frame_strerror(0), "bad-frame");
}

/* A stream of frames decodes frame by frame. */
static void test_stream(void **state)
{
	uint8_t buf[4096];
	size_t n = 0, pos = 0;
	struct frame_hello h = { .version = 1, .role = 2, .island = "isl" };
	struct frame f;
	uint8_t types[5];
	int k = 0;

	(void)state;
	n += frame_encode_hello(buf + n, sizeof(buf) - n, &h);
	frame_put_header(buf + n, FRAME_DGRAM, 100);
	n += FRAME_HDR_LEN + 100;
	frame_put_header(buf + n, FRAME_PING, 8);
	n += FRAME_HDR_LEN + 8;
	frame_put_header(buf + n, FRAME_DGRAM, 0);
	n += FRAME_HDR_LEN;
	n += frame_encode_error(buf + n, sizeof(buf) - n, 1, "done");
	while (pos < n) {
		int rc = frame_decode(buf + pos, n - pos, &f);

		assert_true(rc > 0);
		assert_true(k < 5);
		types[k++] = f.type;
		pos += (size_t)rc;
	}
	assert_int_equal(k, 5);
	assert_int_equal(pos, n);
	assert_int_equal(types[0], FRAME_HELLO);
	assert_int_equal(types[1], FRAME_DGRAM);
	assert_int_equal(types[2], FRAME_PING);
	assert_int_equal(types[3], FRAME_DGRAM);
	assert_int_equal(types[4], FRAME_ERROR);
}

/* A DATA frame for ch with hops and a payload of plen bytes; returns its
 * total length. */
static size_t data_frame(uint8_t *buf, const char *ch, uint8_t hops,
			 uint32_t plen)
{
	struct frame_data d = { .hops = hops, .sport = 4321,
				.origin = 0x0102030405060708ull,
				.seq = 0xfffffffffffffff0ull, .len = plen };
	char err[128];
	size_t hlen;

	assert_int_equal(channel_parse(ch, &d.ch, err, sizeof(err)), 0);
	hlen = frame_data_header_len(d.ch.family);
	frame_data_put_header(buf, &d);
	for (uint32_t i = 0; i < plen; i++)
		buf[hlen + i] = (uint8_t)(i * 7);
	return hlen + plen;
}

/* Decode, forward into the headroom of a new buffer in front of the same
 * payload, decode again: every field the same but hops, one higher. */
static void test_data_forward(void **state)
{
	static const char *chans[] = { "239.1.2.3:5000",
				       "10.0.0.1@232.1.1.1:6000",
				       "[ff15::1]:7000",
				       "[2001:db8::1]@[ff3e::9]:7001" };
	static const uint8_t hops[] = { 0, 1, 7, 254 };

	(void)state;
	for (size_t c = 0; c < sizeof(chans) / sizeof(chans[0]); c++) {
		for (size_t h = 0; h < sizeof(hops); h++) {
			uint8_t in[256], out[256];
			struct frame f, g;
			struct frame_data d, e;
			size_t n = data_frame(in, chans[c], hops[h], 100);
			size_t hlen, m;

			assert_int_equal(frame_decode(in, n, &f), (int)n);
			assert_int_equal(frame_data_decode(&f, &d), 0);
			hlen = frame_data_header_len(d.ch.family);
			/* Garbage where the header goes: all of it is written. */
			memset(out, 0xa5, sizeof(out));
			assert_int_equal(frame_data_forward(out, &d), hlen);
			memcpy(out + hlen, d.payload, d.len);
			m = hlen + d.len;
			assert_int_equal(m, n);
			assert_int_equal(frame_decode(out, m, &g), (int)m);
			assert_int_equal(g.type, FRAME_DATA);
			assert_int_equal(frame_data_decode(&g, &e), 0);
			assert_int_equal(e.hops, d.hops + 1);
			assert_int_equal(e.sport, d.sport);
			assert_int_equal(e.origin, d.origin);
			assert_int_equal(e.seq, d.seq);
			assert_true(channel_equal(&e.ch, &d.ch));
			assert_int_equal(e.len, d.len);
			assert_memory_equal(e.payload, d.payload, d.len);
			/* The input is untouched. */
			assert_int_equal(in[FRAME_HDR_LEN], hops[h]);
		}
	}
}

/* At 255 the hop count stays 255: it never wraps to a fresh 0. */
static void test_data_forward_saturates(void **state)
{
	uint8_t in[128], out[128];
	struct frame f;
	struct frame_data d, e;
	size_t n = data_frame(in, "239.1.2.3:5000", 255, 10);

	(void)state;
	assert_int_equal(frame_decode(in, n, &f), (int)n);
	assert_int_equal(frame_data_decode(&f, &d), 0);
	frame_data_forward(out, &d);
	memcpy(out + frame_data_header_len(4), d.payload, d.len);
	assert_int_equal(frame_decode(out, n, &f), (int)n);
	assert_int_equal(frame_data_decode(&f, &e), 0);
	assert_int_equal(e.hops, 255);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_round_trip),
		cmocka_unit_test(test_hello_encode_truncates_long_island),
		cmocka_unit_test(test_error_round_trip),
		cmocka_unit_test(test_dgram_header),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_need_more_bytes),
		cmocka_unit_test(test_trailing_bytes_not_consumed),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_error_needs_only_header),
		cmocka_unit_test(test_malformed_hello),
		cmocka_unit_test(test_hello_decode_wrong_type),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_data_forward),
		cmocka_unit_test(test_data_forward_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
