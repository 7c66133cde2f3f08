/* test_frag.c - unit tests for src/frag.c: frames cut into message-sized
 * fragments and put together again, with pieces lost, late or malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frag.h"
#include "frame.h"
#include "util.h"

#define MAXFRAG 200

struct msg {
	uint8_t p[2048];
	size_t n;
};

/* A DGRAM frame of len payload bytes, pattern by seed. */
static uint8_t *make_frame(uint32_t len, uint8_t seed, uint32_t *flen)
{
	uint8_t *f = malloc(FRAME_HDR_LEN + len + 1);

	frame_put_header(f, FRAME_DGRAM, len);
	for (uint32_t i = 0; i < len; i++)
		f[FRAME_HDR_LEN + i] = (uint8_t)(seed + i * 7);
	*flen = FRAME_HDR_LEN + len;
	return f;
}

/* Cut f into messages of at most max bytes, as conn.c does. */
static size_t cut(const uint8_t *f, uint32_t flen, uint32_t id, uint32_t max,
		  struct msg *out)
{
	uint32_t slice = max - FRAG_HDR_LEN, off = 0;
	size_t k = 0;

	while (off < flen) {
		uint32_t n = flen - off < slice ? flen - off : slice;

		assert_true(k < MAXFRAG);
		frag_put_header(out[k].p, id, (uint16_t)k, off + n == flen, n);
		memcpy(out[k].p + FRAG_HDR_LEN, f + off, n);
		out[k].n = FRAG_HDR_LEN + n;
		off += n;
		k++;
	}
	assert_int_equal(k, frag_count(flen, max));
	return k;
}

static void test_round_trip(void **state)
{
	static struct msg m[MAXFRAG];
	const uint32_t sizes[] = { 0, 1, 1431, 1432, 1433, 9000, 65507 };
	struct frag_rx r;

	(void)state;
	frag_rx_init(&r, FRAME_HDR_LEN + FRAME_BODY_MAX);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t flen;
		uint8_t *f = make_frame(sizes[s], (uint8_t)s, &flen);
		size_t k = cut(f, flen, (uint32_t)s, 1456, m);

		for (size_t i = 0; i < k; i++) {
			int rc = frag_rx_push(&r, m[i].p, m[i].n);

			if (rc != (i + 1 == k ? 1 : 0))
				print_error("size %u piece %zu/%zu: rc=%d\n",
					    sizes[s], i, k, rc);
			assert_int_equal(rc, i + 1 == k ? 1 : 0);
		}
		assert_int_equal(r.len, flen);
		assert_memory_equal(r.buf, f, flen);
		free(f);
	}
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.frames, 7);
	frag_rx_exit(&r);
}

static void test_lost_pieces(void **state)
{
	static struct msg a[MAXFRAG], b[MAXFRAG], c[MAXFRAG];
	struct frag_rx r;
	uint32_t la, lb, lc;
	uint8_t *fa = make_frame(5000, 1, &la), *fb = make_frame(5000, 2, &lb),
		*fc = make_frame(3000, 3, &lc);
	size_t ka = cut(fa, la, 10, 1456, a), kb = cut(fb, lb, 11, 1456, b),
	       kc = cut(fc, lc, 12, 1456, c);

	(void)state;
	frag_rx_init(&r, FRAME_HDR_LEN + FRAME_BODY_MAX);
	/* a loses its last piece, b its first; c arrives whole. */
	for (size_t i = 0; i + 1 < ka; i++)
		assert_int_equal(frag_rx_push(&r, a[i].p, a[i].n), 0);
	for (size_t i = 1; i < kb; i++)
		assert_int_equal(frag_rx_push(&r, b[i].p, b[i].n), 0);
	for (size_t i = 0; i < kc; i++)
		assert_int_equal(frag_rx_push(&r, c[i].p, c[i].n),
				 i + 1 == kc ? 1 : 0);
	assert_memory_equal(r.buf, fc, lc);
	assert_int_equal(r.lost, 2);
	/* a piece from the middle missing: the rest of the frame is dropped
	 * and it counts once. */
	for (size_t i = 0; i < ka; i++)
		if (i != 1)
			assert_int_equal(frag_rx_push(&r, a[i].p, a[i].n), 0);
	assert_int_equal(r.lost, 3);
	assert_int_equal(r.frames, 1);
	frag_rx_exit(&r);
	free(fa);
	free(fb);
	free(fc);
}

static void test_malformed(void **state)
{
	static struct msg m[MAXFRAG];
	struct frag_rx r;
	uint32_t flen;
	uint8_t *f = make_frame(3000, 9, &flen);
	uint8_t bad[64];

	(void)state;
	frag_rx_init(&r, 2000);
	cut(f, flen, 1, 1456, m);
	/* longer than the reassembler takes */
	assert_int_equal(frag_rx_push(&r, m[0].p, m[0].n), FRAG_E_BAD);
	frag_rx_exit(&r);
	frag_rx_init(&r, FRAME_HDR_LEN + FRAME_BODY_MAX);
	/* a length field that is not the message's */
	memcpy(bad, m[0].p, sizeof(bad));
	assert_int_equal(frag_rx_push(&r, bad, sizeof(bad)), FRAG_E_BAD);
	/* reserved bits */
	memcpy(bad, m[0].p, FRAG_HDR_LEN + 8);
	put_be32(bad, 16);
	bad[6] = 1;
	assert_int_equal(frag_rx_push(&r, bad, FRAG_HDR_LEN + 8), FRAG_E_BAD);
	/* a first piece too short for the frame header */
	frag_put_header(bad, 1, 0, false, 4);
	assert_int_equal(frag_rx_push(&r, bad, FRAG_HDR_LEN + 4), FRAG_E_BAD);
	/* "last" before the frame is whole, and more than the frame says */
	frag_put_header(bad, 1, 0, true, 12);
	frame_put_header(bad + FRAG_HDR_LEN, FRAME_DGRAM, 100);
	assert_int_equal(frag_rx_push(&r, bad, FRAG_HDR_LEN + 12), FRAG_E_BAD);
	frag_put_header(bad, 1, 0, false, 12);
	frame_put_header(bad + FRAG_HDR_LEN, FRAME_DGRAM, 2);
	assert_int_equal(frag_rx_push(&r, bad, FRAG_HDR_LEN + 12), FRAG_E_BAD);
	assert_false(frag_is((const uint8_t *)"\0\0\0\0\x10\0\0\0", 8));
	frag_rx_exit(&r);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_lost_pieces),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
