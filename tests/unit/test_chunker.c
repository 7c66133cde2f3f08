/* test_chunker.c - unit tests for src/chunker.c: a byte stream cut into
 * fixed-size datagrams, whatever the pattern of pushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "chunker.h"

#define MAX_OUT 4096

struct sink {
	struct buf *out[MAX_OUT];
	size_t n;
};

static void collect(void *ctx, struct buf *b)
{
	struct sink *s = ctx;

	assert_true(s->n < MAX_OUT);
	assert_int_equal(b->refs, 1);
	s->out[s->n++] = b;
}

static void sink_release(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		buf_unref(s->out[i]);
	s->n = 0;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + seed + (i >> 8));
}

/* The emitted datagrams, concatenated, are the input; every one but the
 * last (when flushed) is exactly chunk bytes. */
static void check_output(const struct sink *s, const uint8_t *in, size_t n,
			 uint32_t chunk, int flushed)
{
	size_t off = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct buf *b = s->out[i];

		if (i + 1 < s->n || !flushed || n % chunk == 0)
			assert_int_equal(b->len, chunk);
		else
			assert_int_equal(b->len, n % chunk);
		assert_true(b->cap >= chunk);
		assert_true(off + b->len <= n);
		assert_memory_equal(b->data, in + off, b->len);
		off += b->len;
	}
	if (flushed)
		assert_int_equal(off, n);
	else
		assert_int_equal(off, n - n % chunk);
}

/* Push n bytes with the given split pattern (cycled), then flush. */
static void run_split(uint32_t chunk, size_t n, const size_t *splits,
		      size_t nsplits)
{
	struct buf_pool pool;
	struct chunker c;
	struct sink *s = calloc(1, sizeof(*s));
	uint8_t *in = malloc(n ? n : 1);
	size_t pos = 0, k = 0;

	assert_non_null(s);
	assert_non_null(in);
	fill_pattern(in, n, chunk);
	buf_pool_init(&pool);
	chunker_init(&c, &pool, chunk);
	while (pos < n) {
		size_t take = splits[k++ % nsplits];

		if (take > n - pos)
			take = n - pos;
		chunker_push(&c, in + pos, take, collect, s);
		pos += take;
		/* Whole chunks are out as soon as they fill. */
		assert_int_equal(s->n, pos / chunk);
		assert_int_equal(chunker_pending(&c), pos % chunk != 0);
	}
	check_output(s, in, n, chunk, 0);
	chunker_flush(&c, collect, s);
	assert_false(chunker_pending(&c));
	check_output(s, in, n, chunk, 1);
	assert_int_equal(s->n, (n + chunk - 1) / chunk);
	assert_int_equal(pool.live, s->n);
	sink_release(s);
	chunker_exit(&c);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
	free(in);
	free(s);
}

static void test_split_patterns(void **state)
{
	static const size_t one[] = { 1 };
	static const size_t whole[] = { 1316 };
	static const size_t odd[] = { 7, 1000, 3, 1316, 2632, 1, 500 };
	static const size_t big[] = { 100000 };
	static const size_t tcp[] = { 1448, 1448, 65536, 12 };

	(void)state;
	run_split(1316, 1316 * 10, one, 1);
	run_split(1316, 1316 * 10, whole, 1);
	run_split(1316, 1316 * 10 + 17, odd, 7);
	run_split(1316, 1316 * 50 + 1315, big, 1);
	run_split(1316, 200000, tcp, 4);
	run_split(188, 188 * 7 + 100, odd, 7);
	run_split(65507, 65507 * 3 + 5, tcp, 4);
	run_split(65535, 65535 * 2, big, 1);
	run_split(1316, 0, one, 1);
}

static void test_chunk_of_one(void **state)
{
	static const size_t splits[] = { 1, 2, 5, 100 };

	(void)state;
	run_split(1, 300, splits, 4);
}

static void test_flush_partial(void **state)
{
	struct buf_pool pool;
	struct chunker c;
	struct sink s = { .n = 0 };
	uint8_t in[10] = "abcdefghi";

	(void)state;
	buf_pool_init(&pool);
	chunker_init(&c, &pool, 1316);
	assert_false(chunker_pending(&c));
	/* Flushing nothing emits nothing. */
	chunker_flush(&c, collect, &s);
	assert_int_equal(s.n, 0);
	chunker_push(&c, in, 0, collect, &s);
	assert_false(chunker_pending(&c));
	chunker_push(&c, in, 3, collect, &s);
	assert_true(chunker_pending(&c));
	assert_int_equal(s.n, 0);
	chunker_push(&c, in + 3, 4, collect, &s);
	chunker_flush(&c, collect, &s);
	assert_false(chunker_pending(&c));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.out[0]->len, 7);
	assert_memory_equal(s.out[0]->data, "abcdefg", 7);
	/* After a flush a new datagram starts. */
	chunker_push(&c, in + 7, 2, collect, &s);
	chunker_flush(&c, collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.out[1]->len, 2);
	assert_memory_equal(s.out[1]->data, "hi", 2);
	chunker_flush(&c, collect, &s);
	assert_int_equal(s.n, 2);
	sink_release(&s);
	chunker_exit(&c);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_exact_fill_not_pending(void **state)
{
	struct buf_pool pool;
	struct chunker c;
	struct sink s = { .n = 0 };
	uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	buf_pool_init(&pool);
	chunker_init(&c, &pool, 4);
	chunker_push(&c, in, 8, collect, &s);
	assert_int_equal(s.n, 2);
	assert_false(chunker_pending(&c));
	assert_int_equal(pool.live, 2);
	chunker_flush(&c, collect, &s);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.out[1]->data, in + 4, 4);
	sink_release(&s);
	chunker_exit(&c);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_exit_drops_partial(void **state)
{
	struct buf_pool pool;
	struct chunker c;
	struct sink s = { .n = 0 };
	uint8_t in[100] = { 0 };

	(void)state;
	buf_pool_init(&pool);
	chunker_init(&c, &pool, 1316);
	chunker_push(&c, in, sizeof(in), collect, &s);
	assert_int_equal(pool.live, 1);
	chunker_exit(&c);
	assert_false(chunker_pending(&c));
	assert_int_equal(s.n, 0);
	assert_int_equal(pool.live, 0);
	/* Exit twice is harmless. */
	chunker_exit(&c);
	buf_pool_exit(&pool);
}

/* The emit callback may keep extra references (fan-out to several sinks). */
static void collect_twice(void *ctx, struct buf *b)
{
	struct sink *s = ctx;

	assert_true(s->n < MAX_OUT);
	s->out[s->n++] = buf_ref(b);
	assert_int_equal(b->refs, 2);
	buf_unref(b);
}

static void test_emit_owns_reference(void **state)
{
	struct buf_pool pool;
	struct chunker c;
	struct sink s = { .n = 0 };
	uint8_t in[30];

	(void)state;
	memset(in, 'x', sizeof(in));
	buf_pool_init(&pool);
	chunker_init(&c, &pool, 10);
	chunker_push(&c, in, sizeof(in), collect_twice, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(pool.live, 3);
	sink_release(&s);
	chunker_exit(&c);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_patterns),
		cmocka_unit_test(test_chunk_of_one),
		cmocka_unit_test(test_flush_partial),
		cmocka_unit_test(test_exact_fill_not_pending),
		cmocka_unit_test(test_exit_drops_partial),
		cmocka_unit_test(test_emit_owns_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
