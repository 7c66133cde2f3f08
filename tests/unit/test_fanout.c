/* test_fanout.c - unit tests for src/fanout.c: the bounded per-client ring
 * of shared buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "buf.h"
#include "fanout.h"

static struct buf *make_buf(struct buf_pool *pool, uint32_t len, uint8_t fill)
{
	struct buf *b = buf_get(pool, len);

	memset(b->data, fill, len);
	b->len = len;
	return b;
}

static void test_empty(void **state)
{
	struct fanout_queue q;
	struct iovec iov[4];

	(void)state;
	fanout_queue_init(&q, 1000);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.limit, 1000);
	assert_int_equal(fanout_queue_begin(&q, iov, 4), 0);
	assert_int_equal(q.sending, 0);
	fanout_queue_end(&q);
	fanout_queue_exit(&q);
	assert_int_equal(q.limit, 1000);
}

static void test_limit(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct buf *b;
	int i;

	(void)state;
	buf_pool_init(&pool);
	b = make_buf(&pool, 1000, 1);
	fanout_queue_init(&q, 10 * 1000 + 500);
	for (i = 0; i < 10; i++)
		assert_int_equal(fanout_queue_push(&q, b, b->data, 1000), 0);
	assert_int_equal(q.bytes, 10000);
	assert_int_equal(b->refs, 11);
	/* The 11th would exceed the limit: refused, nothing queued. */
	assert_int_equal(fanout_queue_push(&q, b, b->data, 1000), -ENOBUFS);
	assert_int_equal(q.count, 10);
	assert_int_equal(q.bytes, 10000);
	assert_int_equal(b->refs, 11);
	/* A smaller one that exactly fills the limit fits. */
	assert_int_equal(fanout_queue_push(&q, b, b->data, 500), 0);
	assert_int_equal(q.bytes, 10500);
	assert_int_equal(fanout_queue_push(&q, b, b->data, 1), -ENOBUFS);
	assert_int_equal(q.count, 11);
	assert_int_equal(b->refs, 12);
	fanout_queue_exit(&q);
	assert_int_equal(b->refs, 1);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.bytes, 0);
	buf_unref(b);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_oversized_single(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct buf *b;

	(void)state;
	buf_pool_init(&pool);
	b = make_buf(&pool, 2000, 1);
	fanout_queue_init(&q, 1999);
	assert_int_equal(fanout_queue_push(&q, b, b->data, 2000), -ENOBUFS);
	assert_int_equal(q.count, 0);
	assert_int_equal(b->refs, 1);
	fanout_queue_exit(&q);
	buf_unref(b);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_begin_end(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct buf *b[5];
	struct iovec iov[3];

	(void)state;
	buf_pool_init(&pool);
	fanout_queue_init(&q, 1 << 20);
	for (int i = 0; i < 5; i++) {
		b[i] = make_buf(&pool, 100 + (uint32_t)i, (uint8_t)i);
		/* Entry spans: header in the headroom plus payload. */
		assert_int_equal(fanout_queue_push(&q, b[i], b[i]->data - 8,
						   b[i]->len + 8), 0);
		assert_int_equal(b[i]->refs, 2);
	}
	assert_int_equal(q.bytes, 5 * 108 + 10);

	assert_int_equal(fanout_queue_begin(&q, iov, 3), 3);
	assert_int_equal(q.sending, 3);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(iov[i].iov_base, b[i]->data - 8);
		assert_int_equal(iov[i].iov_len, 108 + i);
	}
	/* A second begin while a write is in flight gives nothing. */
	assert_int_equal(fanout_queue_begin(&q, iov, 3), 0);
	assert_int_equal(q.sending, 3);
	/* In-flight bytes stay counted. */
	assert_int_equal(q.bytes, 5 * 108 + 10);
	/* Pushing during a write is fine. */
	assert_int_equal(fanout_queue_push(&q, b[0], b[0]->data, 100), 0);
	assert_int_equal(q.count, 6);

	fanout_queue_end(&q);
	assert_int_equal(q.sending, 0);
	assert_int_equal(q.count, 3);
	assert_int_equal(q.bytes, 111 + 112 + 100);
	assert_int_equal(b[0]->refs, 2); /* the re-push */
	assert_int_equal(b[1]->refs, 1);
	assert_int_equal(b[2]->refs, 1);
	assert_int_equal(b[3]->refs, 2);

	assert_int_equal(fanout_queue_begin(&q, iov, 3), 3);
	assert_ptr_equal(iov[0].iov_base, b[3]->data - 8);
	assert_int_equal(iov[0].iov_len, 111);
	assert_ptr_equal(iov[1].iov_base, b[4]->data - 8);
	assert_int_equal(iov[1].iov_len, 112);
	assert_ptr_equal(iov[2].iov_base, b[0]->data);
	assert_int_equal(iov[2].iov_len, 100);
	fanout_queue_end(&q);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(fanout_queue_begin(&q, iov, 3), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(b[i]->refs, 1);
		buf_unref(b[i]);
	}
	fanout_queue_exit(&q);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_begin_fewer_than_max(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct buf *b;
	struct iovec iov[64];

	(void)state;
	buf_pool_init(&pool);
	fanout_queue_init(&q, 1 << 20);
	b = make_buf(&pool, 10, 0);
	assert_int_equal(fanout_queue_push(&q, b, b->data, 10), 0);
	assert_int_equal(fanout_queue_push(&q, b, b->data + 1, 9), 0);
	buf_unref(b);
	assert_int_equal(fanout_queue_begin(&q, iov, 64), 2);
	assert_int_equal(iov[1].iov_len, 9);
	fanout_queue_end(&q);
	assert_int_equal(pool.live, 0);
	fanout_queue_exit(&q);
	buf_pool_exit(&pool);
}

/* Interleave pushes, begins and ends so the ring grows past its first 16
 * slots while head is not at 0 and entries wrap around. Every entry carries
 * a sequence number in its first byte; they must come out in order. */
static void test_growth_wraparound(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct iovec iov[7];
	uint32_t next_in = 0, next_out = 0, max_cap = 0;

	(void)state;
	buf_pool_init(&pool);
	fanout_queue_init(&q, 1 << 30);
	for (int round = 0; round < 200; round++) {
		int pushes = (round % 3 == 0) ? 9 : 2 + round % 4;
		uint32_t n;

		for (int i = 0; i < pushes; i++) {
			struct buf *b = make_buf(&pool, 4, 0);

			b->data[0] = (uint8_t)next_in;
			b->data[1] = (uint8_t)(next_in >> 8);
			next_in++;
			assert_int_equal(fanout_queue_push(&q, b, b->data, 4),
					 0);
			buf_unref(b); /* the queue holds the only reference */
		}
		n = fanout_queue_begin(&q, iov, (uint32_t)(1 + round % 7));
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *p = iov[i].iov_base;

			assert_int_equal(iov[i].iov_len, 4);
			assert_int_equal(p[0] | (p[1] << 8), next_out & 0xffff);
			next_out++;
		}
		/* Grow while a write is in flight, sometimes. */
		if (round % 5 == 0) {
			struct buf *b = make_buf(&pool, 4, 0);

			b->data[0] = (uint8_t)next_in;
			b->data[1] = (uint8_t)(next_in >> 8);
			next_in++;
			assert_int_equal(fanout_queue_push(&q, b, b->data, 4),
					 0);
			buf_unref(b);
		}
		fanout_queue_end(&q);
		assert_int_equal(q.count, next_in - next_out);
		assert_int_equal(q.bytes, 4ull * (next_in - next_out));
		assert_int_equal(pool.live, q.count);
		assert_true(q.cap >= q.count);
		assert_int_equal(q.cap & (q.cap - 1), 0);
		if (q.cap > max_cap)
			max_cap = q.cap;
	}
	assert_true(max_cap > 16);
	/* Drain the rest. */
	for (;;) {
		uint32_t n = fanout_queue_begin(&q, iov, 7);

		if (n == 0)
			break;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *p = iov[i].iov_base;

			assert_int_equal(p[0] | (p[1] << 8), next_out & 0xffff);
			next_out++;
		}
		fanout_queue_end(&q);
	}
	assert_int_equal(next_out, next_in);
	assert_int_equal(pool.live, 0);
	fanout_queue_exit(&q);
	buf_pool_exit(&pool);
}

static void test_exit_releases_all(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct iovec iov[4];

	(void)state;
	buf_pool_init(&pool);
	fanout_queue_init(&q, 1 << 20);
	/* Wrap the ring first, then leave entries in flight and waiting. */
	for (int i = 0; i < 12; i++) {
		struct buf *b = make_buf(&pool, 50, 0);

		fanout_queue_push(&q, b, b->data, 50);
		buf_unref(b);
	}
	while (fanout_queue_begin(&q, iov, 4)) {
		fanout_queue_end(&q);
		if (q.count == 0)
			break;
	}
	for (int i = 0; i < 40; i++) {
		struct buf *b = make_buf(&pool, 50, 0);

		assert_int_equal(fanout_queue_push(&q, b, b->data, 50), 0);
		buf_unref(b);
	}
	assert_int_equal(fanout_queue_begin(&q, iov, 4), 4);
	assert_int_equal(pool.live, 40);
	fanout_queue_exit(&q);
	assert_int_equal(pool.live, 0);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.sending, 0);
	assert_int_equal(q.bytes, 0);
	assert_null(q.ring);
	/* The queue is reusable after exit, with the same limit. */
	assert_int_equal(q.limit, 1 << 20);
	{
		struct buf *b = make_buf(&pool, 50, 0);

		assert_int_equal(fanout_queue_push(&q, b, b->data, 50), 0);
		buf_unref(b);
	}
	fanout_queue_exit(&q);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

static void test_shared_between_queues(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q[3];
	struct iovec iov[1];
	struct buf *b;

	(void)state;
	buf_pool_init(&pool);
	b = make_buf(&pool, 1316, 7);
	for (int i = 0; i < 3; i++) {
		fanout_queue_init(&q[i], 1 << 20);
		assert_int_equal(fanout_queue_push(&q[i], b, b->data, 1316), 0);
	}
	buf_unref(b);
	assert_int_equal(b->refs, 3);
	assert_int_equal(fanout_queue_begin(&q[1], iov, 1), 1);
	fanout_queue_end(&q[1]);
	assert_int_equal(b->refs, 2);
	fanout_queue_exit(&q[0]);
	assert_int_equal(b->refs, 1);
	assert_int_equal(pool.live, 1);
	fanout_queue_exit(&q[2]);
	fanout_queue_exit(&q[1]);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

/* A partial write: advance releases the entries it covers and trims the
 * one it ends in; the rest stay in flight with the right spans. */
static void test_advance_partial(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct iovec iov[8];
	struct buf *b[3];

	(void)state;
	buf_pool_init(&pool);
	fanout_queue_init(&q, 1 << 20);
	for (int i = 0; i < 3; i++) {
		b[i] = make_buf(&pool, 100, (uint8_t)i);
		assert_int_equal(fanout_queue_push(&q, b[i], b[i]->data, 100), 0);
	}
	assert_int_equal(fanout_queue_begin(&q, iov, 8), 3);
	/* 150 bytes: the first entry and half of the second. */
	assert_int_equal(fanout_queue_advance(&q, 150), 1);
	assert_int_equal(b[0]->refs, 1);
	assert_int_equal(q.sending, 2);
	assert_int_equal(q.count, 2);
	assert_int_equal(q.bytes, 150);
	assert_int_equal(fanout_queue_inflight(&q, iov), 2);
	assert_ptr_equal(iov[0].iov_base, b[1]->data + 50);
	assert_int_equal(iov[0].iov_len, 50);
	assert_ptr_equal(iov[1].iov_base, b[2]->data);
	assert_int_equal(iov[1].iov_len, 100);
	/* Zero bytes changes nothing; the rest completes. */
	assert_int_equal(fanout_queue_advance(&q, 0), 0);
	assert_int_equal(fanout_queue_advance(&q, 150), 2);
	assert_int_equal(q.sending, 0);
	assert_int_equal(q.count, 0);
	assert_int_equal(q.bytes, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b[i]->refs, 1);
		buf_unref(b[i]);
	}
	fanout_queue_exit(&q);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

/* Control frames travel in the queue but are not counted as datagrams. */
static void test_ctl_not_counted(void **state)
{
	struct buf_pool pool;
	struct fanout_queue q;
	struct iovec iov[4];
	struct buf *b;

	(void)state;
	buf_pool_init(&pool);
	b = make_buf(&pool, 10, 7);
	fanout_queue_init(&q, 1000);
	assert_int_equal(fanout_queue_push_ctl(&q, b, b->data, 10), 0);
	assert_int_equal(fanout_queue_push(&q, b, b->data, 10), 0);
	assert_int_equal(fanout_queue_push(&q, b, b->data, 10), 0);
	assert_int_equal(fanout_queue_begin(&q, iov, 4), 3);
	assert_int_equal(fanout_queue_advance(&q, 15), 0);
	assert_int_equal(fanout_queue_end(&q), 2);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(b->refs, 1);
	buf_unref(b);
	fanout_queue_exit(&q);
	assert_int_equal(pool.live, 0);
	buf_pool_exit(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_oversized_single),
		cmocka_unit_test(test_begin_end),
		cmocka_unit_test(test_begin_fewer_than_max),
		cmocka_unit_test(test_growth_wraparound),
		cmocka_unit_test(test_exit_releases_all),
		cmocka_unit_test(test_shared_between_queues),
		cmocka_unit_test(test_advance_partial),
		cmocka_unit_test(test_ctl_not_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
