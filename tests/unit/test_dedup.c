/* test_dedup.c - unit tests for src/dedup.c: the per-(origin, epoch)
 * duplicate window with its LRU bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dedup.h"

#define A 0xa1a1a1a1a1a1a1a1ull
#define B 0xb2b2b2b2b2b2b2b2ull

static void test_init_rejects_bad_sizes(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 100, 10), -EINVAL);  /* not 2^k */
	assert_int_equal(dedup_init(&d, 32, 10), -EINVAL);   /* under 64 */
	assert_int_equal(dedup_init(&d, 64, 0), -EINVAL);
	assert_int_equal(dedup_init(&d, 0, 10), 0);
	assert_int_equal(d.window, DEDUP_WINDOW_DEFAULT);
	dedup_exit(&d);
}

static void test_new_duplicate_too_old(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 1024, 4), 0);
	assert_int_equal(dedup_check(&d, A, 1, 5000, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 1, 5000, 0), DEDUP_DUPLICATE);
	/* Below the top but in the window: new once, then a duplicate. */
	assert_int_equal(dedup_check(&d, A, 1, 4000, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 1, 4000, 0), DEDUP_DUPLICATE);
	/* The lowest sequence in the window is top - W + 1. */
	assert_int_equal(dedup_check(&d, A, 1, 5000 - 1023, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 1, 5000 - 1024, 0), DEDUP_TOO_OLD);
	assert_int_equal(dedup_check(&d, A, 1, 0, 0), DEDUP_TOO_OLD);
	/* Another origin has a window of its own. */
	assert_int_equal(dedup_check(&d, B, 1, 5000, 0), DEDUP_NEW);
	assert_int_equal(d.origins, 2);
	assert_int_equal(d.evictions, 0);
	dedup_exit(&d);
}

/* Sequence 0 and a start near the top of the range work like any other. */
static void test_edges_of_range(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 64, 2), 0);
	assert_int_equal(dedup_check(&d, A, 0, 0, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 0, 0, 0), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, B, 0, UINT64_MAX - 1, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, B, 0, UINT64_MAX, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, B, 0, UINT64_MAX - 1, 0),
			 DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, B, 0, UINT64_MAX - 64, 0),
			 DEDUP_TOO_OLD);
	dedup_exit(&d);
}

/* In-order sequences across many 64-bit words and several turns of the
 * circular bitmap: each is new once, the window behind stays a duplicate,
 * and slots reused by the slide read as new. */
static void test_slide_across_words(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 256, 1), 0);
	for (uint64_t s = 0; s < 2000; s++) {
		assert_int_equal(dedup_check(&d, A, 7, s, s), DEDUP_NEW);
		assert_int_equal(dedup_check(&d, A, 7, s, s), DEDUP_DUPLICATE);
		if (s >= 255)
			assert_int_equal(dedup_check(&d, A, 7, s - 255, s),
					 DEDUP_DUPLICATE);
		if (s >= 256)
			assert_int_equal(dedup_check(&d, A, 7, s - 256, s),
					 DEDUP_TOO_OLD);
	}
	dedup_exit(&d);
}

/* Jumps that end in the middle of a word, start in the middle of one and
 * cross the bitmap's wrap point clear exactly the skipped sequences. */
static void test_partial_slides(void **state)
{
	static const uint64_t jumps[] = { 1, 3, 63, 64, 65, 100, 127, 128,
					  129, 200, 255 };
	struct dedup d;
	uint64_t top = 10;

	(void)state;
	assert_int_equal(dedup_init(&d, 256, 1), 0);
	/* Fill the whole window: every sequence in (top - 256, top]. */
	for (uint64_t s = 0; s <= top + 300; s++)
		dedup_check(&d, A, 0, s, 0);
	top += 300;
	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		uint64_t next = top + jumps[j];

		assert_int_equal(dedup_check(&d, A, 0, next, 0), DEDUP_NEW);
		/* Skipped ones are new, the rest of the window still seen. */
		for (uint64_t s = top + 1; s < next; s++)
			assert_int_equal(dedup_check(&d, A, 0, s, 0), DEDUP_NEW);
		for (uint64_t s = next - 255; s <= next; s++)
			assert_int_equal(dedup_check(&d, A, 0, s, 0),
					 DEDUP_DUPLICATE);
		top = next;
	}
	dedup_exit(&d);
}

/* A jump of 2^63 clears the window at once (not sequence by sequence:
 * this test would take centuries otherwise). */
static void test_huge_jump(void **state)
{
	struct dedup d;
	uint64_t far = 1ull << 63;

	(void)state;
	assert_int_equal(dedup_init(&d, 0, 1), 0);
	for (uint64_t s = 0; s < 100; s++)
		assert_int_equal(dedup_check(&d, A, 0, s, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 0, far, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 0, far, 0), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, A, 0, 50, 0), DEDUP_TOO_OLD);
	/* The bits of the old sequences (same positions mod W) are gone. */
	for (uint64_t s = far - 100; s < far; s++)
		assert_int_equal(dedup_check(&d, A, 0, s, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 0, UINT64_MAX, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 0, far, 0), DEDUP_TOO_OLD);
	dedup_exit(&d);
}

/* A restarted node (new epoch) starts again from sequence 0 and is not
 * suppressed by the window its previous run left. */
static void test_epoch_change(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 1024, 8), 0);
	for (uint64_t s = 0; s < 100000; s++)
		dedup_check(&d, A, 1, s, 0);
	assert_int_equal(dedup_check(&d, A, 1, 5, 0), DEDUP_TOO_OLD);
	assert_int_equal(dedup_check(&d, A, 2, 5, 0), DEDUP_NEW);
	assert_int_equal(dedup_check(&d, A, 2, 5, 0), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, A, 1, 99999, 0), DEDUP_DUPLICATE);
	assert_int_equal(d.origins, 2);
	/* Forgetting one epoch leaves the other. */
	assert_int_equal(dedup_forget(&d, A, 1), 0);
	assert_int_equal(dedup_forget(&d, A, 1), -ENOENT);
	assert_int_equal(d.origins, 1);
	assert_int_equal(dedup_check(&d, A, 2, 5, 0), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, A, 1, 5, 0), DEDUP_NEW);
	dedup_exit(&d);
}

/* A full table evicts the least recently checked key, and a check makes a
 * key the most recent. */
static void test_lru_eviction_order(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 64, 3), 0);
	dedup_check(&d, 1, 0, 10, 1);
	dedup_check(&d, 2, 0, 10, 2);
	dedup_check(&d, 3, 0, 10, 3);
	dedup_check(&d, 1, 0, 11, 4);          /* order now 2, 3, 1 */
	assert_int_equal(dedup_check(&d, 4, 0, 10, 5), DEDUP_NEW); /* evicts 2 */
	assert_int_equal(d.evictions, 1);
	assert_int_equal(d.origins, 3);
	assert_int_equal(dedup_check(&d, 1, 0, 10, 6), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, 3, 0, 10, 7), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, 4, 0, 10, 8), DEDUP_DUPLICATE);
	/* 2 was forgotten: its old sequence reads as new (evicting 1). */
	assert_int_equal(dedup_check(&d, 2, 0, 10, 9), DEDUP_NEW);
	assert_int_equal(d.evictions, 2);
	assert_int_equal(dedup_forget(&d, 1, 0), -ENOENT);
	assert_int_equal(dedup_check(&d, 3, 0, 10, 10), DEDUP_DUPLICATE);
	/* A forgotten key frees a slot: no eviction for the next one. */
	assert_int_equal(dedup_forget(&d, 4, 0), 0);
	assert_int_equal(dedup_check(&d, 5, 0, 10, 11), DEDUP_NEW);
	assert_int_equal(d.evictions, 2);
	assert_int_equal(dedup_check(&d, 3, 0, 10, 12), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, 2, 0, 10, 13), DEDUP_DUPLICATE);
	dedup_exit(&d);
}

static void test_expire(void **state)
{
	struct dedup d;

	(void)state;
	assert_int_equal(dedup_init(&d, 64, 8), 0);
	dedup_check(&d, 1, 0, 1, 100);
	dedup_check(&d, 2, 0, 1, 200);
	dedup_check(&d, 3, 0, 1, 300);
	dedup_check(&d, 1, 0, 2, 400);
	/* Idle over 150 ms at 450: 2 (200) and 3 (300) go, 1 (400) stays. */
	assert_int_equal(dedup_expire(&d, 450, 150), 1);  /* only 2 */
	assert_int_equal(dedup_expire(&d, 451, 150), 1);  /* then 3 */
	assert_int_equal(d.origins, 1);
	assert_int_equal(dedup_check(&d, 1, 0, 2, 460), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(&d, 2, 0, 1, 460), DEDUP_NEW);
	/* A clock that went back expires nothing. */
	assert_int_equal(dedup_expire(&d, 10, 0), 0);
	assert_int_equal(d.evictions, 0);
	dedup_exit(&d);
}

/* 10,000 origins, each with a window of its own, and evictions exactly as
 * many as keys beyond the bound. */
static void test_many_origins(void **state)
{
	struct dedup d;
	const uint64_t n = 10000;

	(void)state;
	assert_int_equal(dedup_init(&d, 0, n), 0);
	for (uint64_t round = 0; round < 3; round++)
		for (uint64_t o = 0; o < n; o++)
			assert_int_equal(dedup_check(&d, o * 0x10001, o, round,
						     round),
					 DEDUP_NEW);
	assert_int_equal(d.origins, n);
	for (uint64_t o = 0; o < n; o++)
		assert_int_equal(dedup_check(&d, o * 0x10001, o, 1, 4),
				 DEDUP_DUPLICATE);
	assert_int_equal(d.evictions, 0);
	/* 5,000 more push out the 5,000 least recent: origins 0 ... 4999. */
	for (uint64_t o = n; o < n + n / 2; o++)
		assert_int_equal(dedup_check(&d, o * 0x10001, o, 0, 5),
				 DEDUP_NEW);
	assert_int_equal(d.origins, n);
	assert_int_equal(d.evictions, n / 2);
	assert_int_equal(dedup_forget(&d, 4999 * 0x10001, 4999), -ENOENT);
	assert_int_equal(dedup_forget(&d, 5000 * 0x10001, 5000), 0);
	dedup_exit(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_sizes),
		cmocka_unit_test(test_new_duplicate_too_old),
		cmocka_unit_test(test_edges_of_range),
		cmocka_unit_test(test_slide_across_words),
		cmocka_unit_test(test_partial_slides),
		cmocka_unit_test(test_huge_jump),
		cmocka_unit_test(test_epoch_change),
		cmocka_unit_test(test_lru_eviction_order),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_many_origins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
