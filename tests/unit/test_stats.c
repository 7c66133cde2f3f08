/* test_stats.c - unit tests for src/stats.c: registration, lookup, owner
 * removal, label escaping, family grouping and the three renderers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "stats.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define IN "mcferry_relay_in_datagrams_total"
#define OUTB "mcferry_relay_out_bytes_total"
#define CLIENTS "mcferry_relay_clients"

struct fake_relay {
	uint64_t in, out_bytes;
	uint32_t clients;
};

/* Two relays, "splitter" and "tap"; splitter's out_bytes is registered
 * after tap's series, so both families and owners are interleaved. */
static void register_two(struct stats *reg, struct fake_relay *a,
			 struct fake_relay *b)
{
	assert_int_equal(stats_add(reg, a, IN, L("service", "splitter"),
				   STATS_COUNTER, "Datagrams read.", &a->in), 0);
	assert_int_equal(stats_add_u32(reg, a, CLIENTS, L("service", "splitter"),
				       STATS_GAUGE, "Connected clients.",
				       &a->clients), 0);
	assert_int_equal(stats_add(reg, b, IN, L("service", "tap"),
				   STATS_COUNTER, "Datagrams read.", &b->in), 0);
	assert_int_equal(stats_add_u32(reg, b, CLIENTS, L("service", "tap"),
				       STATS_GAUGE, "Connected clients.",
				       &b->clients), 0);
	assert_int_equal(stats_add(reg, a, OUTB, L("service", "splitter"),
				   STATS_COUNTER, "Bytes written.",
				   &a->out_bytes), 0);
}

static void test_two_owners_prometheus(void **state)
{
	struct fake_relay a = { 10, 2048, 3 }, b = { 7, 0, 0 };
	struct stats reg;
	struct stats_text t = { 0 };

	(void)state;
	stats_init(&reg);
	register_two(&reg, &a, &b);
	stats_render_prometheus(&reg, &t);
	assert_string_equal(t.data,
		"# HELP mcferry_relay_in_datagrams_total Datagrams read.\n"
		"# TYPE mcferry_relay_in_datagrams_total counter\n"
		"mcferry_relay_in_datagrams_total{service=\"splitter\"} 10\n"
		"mcferry_relay_in_datagrams_total{service=\"tap\"} 7\n"
		"# HELP mcferry_relay_clients Connected clients.\n"
		"# TYPE mcferry_relay_clients gauge\n"
		"mcferry_relay_clients{service=\"splitter\"} 3\n"
		"mcferry_relay_clients{service=\"tap\"} 0\n"
		"# HELP mcferry_relay_out_bytes_total Bytes written.\n"
		"# TYPE mcferry_relay_out_bytes_total counter\n"
		"mcferry_relay_out_bytes_total{service=\"splitter\"} 2048\n");
	stats_text_free(&t);
	stats_exit(&reg);
}

static void test_two_owners_lines(void **state)
{
	struct fake_relay a = { 10, 2048, 3 }, b = { 7, 0, 0 };
	struct stats reg;
	struct stats_text t = { 0 };

	(void)state;
	stats_init(&reg);
	register_two(&reg, &a, &b);
	stats_render_lines(&reg, &t);
	assert_string_equal(t.data,
		"service=splitter mcferry_relay_in_datagrams_total=10 "
		"mcferry_relay_clients=3 mcferry_relay_out_bytes_total=2048\n"
		"service=tap mcferry_relay_in_datagrams_total=7 "
		"mcferry_relay_clients=0\n");
	stats_text_reset(&t);
	stats_render_line(&reg, &b, &t);
	assert_string_equal(t.data, "service=tap mcferry_relay_in_datagrams_total=7 "
				    "mcferry_relay_clients=0");
	stats_text_reset(&t);
	stats_render_line(&reg, &t, &t); /* not an owner */
	assert_string_equal(t.data, "");
	stats_text_free(&t);
	stats_exit(&reg);
}

static void test_two_owners_json(void **state)
{
	struct fake_relay a = { 10, 2048, 3 }, b = { 7, 0, 0 };
	struct stats reg;
	struct stats_text t = { 0 };

	(void)state;
	stats_init(&reg);
	register_two(&reg, &a, &b);
	stats_render_json(&reg, &t, false);
	assert_string_equal(t.data,
		"{\"metric\":\"mcferry_relay_in_datagrams_total\",\"labels\":{\"service\":\"splitter\"},\"value\":10}\n"
		"{\"metric\":\"mcferry_relay_in_datagrams_total\",\"labels\":{\"service\":\"tap\"},\"value\":7}\n"
		"{\"metric\":\"mcferry_relay_clients\",\"labels\":{\"service\":\"splitter\"},\"value\":3}\n"
		"{\"metric\":\"mcferry_relay_clients\",\"labels\":{\"service\":\"tap\"},\"value\":0}\n"
		"{\"metric\":\"mcferry_relay_out_bytes_total\",\"labels\":{\"service\":\"splitter\"},\"value\":2048}\n");
	stats_text_reset(&t);
	stats_remove_owner(&reg, &a);
	stats_render_json(&reg, &t, true);
	assert_string_equal(t.data,
		"[{\"metric\":\"mcferry_relay_in_datagrams_total\",\"labels\":{\"service\":\"tap\"},\"value\":7},"
		"{\"metric\":\"mcferry_relay_clients\",\"labels\":{\"service\":\"tap\"},\"value\":0}]");
	stats_remove_owner(&reg, &b);
	stats_text_reset(&t);
	stats_render_json(&reg, &t, true);
	assert_string_equal(t.data, "[]");
	stats_text_free(&t);
	stats_exit(&reg);
}

/* The registry reads the owner's field when it renders: no copies. */
static void test_values_are_live(void **state)
{
	struct fake_relay a = { 10, 2048, 3 }, b = { 7, 0, 0 };
	struct stats reg;
	uint64_t v = 0;

	(void)state;
	stats_init(&reg);
	register_two(&reg, &a, &b);
	assert_int_equal(stats_get(&reg, IN, L("service", "splitter"), &v), 0);
	assert_int_equal(v, 10);
	a.in += 5;
	b.clients = 9;
	assert_int_equal(stats_get(&reg, IN, L("service", "splitter"), &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(stats_get(&reg, CLIENTS, L("service", "tap"), &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(stats_get(&reg, IN, L("service", "nope"), &v), -ENOENT);
	assert_int_equal(stats_get(&reg, "mcferry_nope_total", NULL, &v), -ENOENT);
	assert_int_equal(stats_get(&reg, IN, NULL, &v), -ENOENT);
	assert_int_equal(stats_count(&reg), 5);
	stats_exit(&reg);
}

static void test_remove_owner(void **state)
{
	struct fake_relay a = { 10, 2048, 3 }, b = { 7, 0, 0 };
	struct stats reg;
	struct stats_text t = { 0 };
	uint64_t v;

	(void)state;
	stats_init(&reg);
	register_two(&reg, &a, &b);
	stats_remove_owner(&reg, &a);
	assert_int_equal(stats_count(&reg), 2);
	assert_int_equal(stats_get(&reg, IN, L("service", "splitter"), &v),
			 -ENOENT);
	assert_int_equal(stats_get(&reg, IN, L("service", "tap"), &v), 0);
	assert_int_equal(v, 7);
	/* The out_bytes family is empty now: not shown at all. */
	stats_render_prometheus(&reg, &t);
	assert_string_equal(t.data,
		"# HELP mcferry_relay_in_datagrams_total Datagrams read.\n"
		"# TYPE mcferry_relay_in_datagrams_total counter\n"
		"mcferry_relay_in_datagrams_total{service=\"tap\"} 7\n"
		"# HELP mcferry_relay_clients Connected clients.\n"
		"# TYPE mcferry_relay_clients gauge\n"
		"mcferry_relay_clients{service=\"tap\"} 0\n");
	stats_text_reset(&t);
	stats_render_lines(&reg, &t);
	assert_string_equal(t.data, "service=tap mcferry_relay_in_datagrams_total=7 "
				    "mcferry_relay_clients=0\n");
	/* The same series may be registered again once its owner is gone. */
	assert_int_equal(stats_add(&reg, &a, IN, L("service", "splitter"),
				   STATS_COUNTER, "Datagrams read.", &a.in), 0);
	assert_int_equal(stats_get(&reg, IN, L("service", "splitter"), &v), 0);
	assert_int_equal(v, 10);
	stats_remove_owner(&reg, &b); /* twice is harmless */
	stats_remove_owner(&reg, &b);
	assert_int_equal(stats_count(&reg), 1);
	stats_text_free(&t);
	stats_exit(&reg);
}

static void test_label_escaping(void **state)
{
	static const char bad[] = "a\"b\\c\nd\te";
	uint64_t n = 1;
	struct stats reg;
	struct stats_text t = { 0 };
	uint64_t v;

	(void)state;
	stats_init(&reg);
	assert_int_equal(stats_add(&reg, &n, "mcferry_hub_channel_in_datagrams_total",
				   L("service", "hub", "channel", bad),
				   STATS_COUNTER, "In \\ out\nsecond line", &n), 0);
	stats_render_prometheus(&reg, &t);
	assert_string_equal(t.data,
		"# HELP mcferry_hub_channel_in_datagrams_total In \\\\ out\\nsecond line\n"
		"# TYPE mcferry_hub_channel_in_datagrams_total counter\n"
		"mcferry_hub_channel_in_datagrams_total{service=\"hub\",channel=\"a\\\"b\\\\c\\nd\te\"} 1\n");
	stats_text_reset(&t);
	stats_render_json(&reg, &t, false);
	assert_string_equal(t.data,
		"{\"metric\":\"mcferry_hub_channel_in_datagrams_total\","
		"\"labels\":{\"service\":\"hub\",\"channel\":\"a\\\"b\\\\c\\nd\\te\"},\"value\":1}\n");
	stats_text_reset(&t);
	stats_render_lines(&reg, &t);
	assert_string_equal(t.data,
		"service=hub channel=\"a\\\"b\\\\c\\nd\\te\" "
		"mcferry_hub_channel_in_datagrams_total=1\n");
	/* Lookup takes the raw value, not the escaped one. */
	assert_int_equal(stats_get(&reg, "mcferry_hub_channel_in_datagrams_total",
				   L("service", "hub", "channel", bad), &v), 0);
	assert_int_equal(v, 1);
	stats_text_free(&t);
	stats_exit(&reg);
}

/* Log lines: an owner's series with other labels, and no labels at all. */
static void test_line_mixed_labels(void **state)
{
	uint32_t links = 2;
	uint64_t in = 5, up = 1;
	int hub, node;
	struct stats reg;
	struct stats_text t = { 0 };

	(void)state;
	stats_init(&reg);
	assert_int_equal(stats_add_u32(&reg, &hub, "mcferry_hub_links",
				       L("service", "hub"), STATS_GAUGE,
				       "Open links.", &links), 0);
	assert_int_equal(stats_add(&reg, &hub, "mcferry_hub_channel_in_datagrams_total",
				   L("service", "hub", "channel", "[ff3e::1]:5000"),
				   STATS_COUNTER, "In.", &in), 0);
	assert_int_equal(stats_add(&reg, &node, "mcferry_up", NULL, STATS_GAUGE,
				   "", &up), 0);
	assert_int_equal(stats_add(&reg, &node, "mcferry_empty_label", L("island", ""),
				   STATS_GAUGE, "", &up), 0);
	stats_render_lines(&reg, &t);
	assert_string_equal(t.data,
		"service=hub mcferry_hub_links=2 "
		"mcferry_hub_channel_in_datagrams_total{service=\"hub\",channel=\"[ff3e::1]:5000\"}=5\n"
		"mcferry_up=1 mcferry_empty_label{island=\"\"}=1\n");
	stats_text_reset(&t);
	stats_render_prometheus(&reg, &t);
	/* An empty help text has no # HELP line; no labels, no braces. */
	assert_non_null(strstr(t.data, "# TYPE mcferry_up gauge\nmcferry_up 1\n"));
	assert_null(strstr(t.data, "# HELP mcferry_up"));
	stats_text_free(&t);
	stats_exit(&reg);
}

static uint64_t sum_two(const void *arg)
{
	const uint64_t *v = arg;

	return v[0] + v[1];
}

static void test_fn_value(void **state)
{
	uint64_t shards[2] = { 3, 4 };
	struct stats reg;
	uint64_t v = 0;

	(void)state;
	stats_init(&reg);
	assert_int_equal(stats_add_fn(&reg, shards, "mcferry_relay_out_datagrams_total",
				      L("service", "r"), STATS_COUNTER, "Out.",
				      sum_two, shards), 0);
	assert_int_equal(stats_get(&reg, "mcferry_relay_out_datagrams_total",
				   L("service", "r"), &v), 0);
	assert_int_equal(v, 7);
	shards[1] = 40;
	assert_int_equal(stats_get(&reg, "mcferry_relay_out_datagrams_total",
				   L("service", "r"), &v), 0);
	assert_int_equal(v, 43);
	stats_exit(&reg);
}

static void test_refused(void **state)
{
	uint64_t x = 0;
	struct stats reg;

	(void)state;
	stats_init(&reg);
	assert_int_equal(stats_add(&reg, &x, "a_total", L("k", "v"),
				   STATS_COUNTER, "h", &x), 0);
	/* The same series again, even from another owner. */
	assert_int_equal(stats_add(&reg, &reg, "a_total", L("k", "v"),
				   STATS_COUNTER, "h", &x), -EEXIST);
	/* Same family, other kind or help. */
	assert_int_equal(stats_add(&reg, &x, "a_total", L("k", "w"),
				   STATS_GAUGE, "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "a_total", L("k", "w"),
				   STATS_COUNTER, "other", &x), -EINVAL);
	/* Counters end in _total, gauges do not. */
	assert_int_equal(stats_add(&reg, &x, "a_bytes", NULL, STATS_COUNTER,
				   "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "b_total", NULL, STATS_GAUGE,
				   "h", &x), -EINVAL);
	/* Bad metric names and label keys. */
	assert_int_equal(stats_add(&reg, &x, "9a_total", NULL, STATS_COUNTER,
				   "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "a-b_total", NULL, STATS_COUNTER,
				   "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "c_total", L("a-b", "v"),
				   STATS_COUNTER, "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "c_total", L("__k", "v"),
				   STATS_COUNTER, "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "c_total",
				   (const char *const[]){ "k", NULL },
				   STATS_COUNTER, "h", &x), -EINVAL);
	assert_int_equal(stats_add(&reg, &x, "c_total",
				   L("a", "1", "b", "2", "c", "3", "d", "4", "e",
				     "5", "f", "6", "g", "7", "h", "8", "i", "9"),
				   STATS_COUNTER, "h", &x), -EINVAL);
	assert_int_equal(stats_count(&reg), 1);
	stats_exit(&reg);
}

static size_t count_of(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* 10,000 series of two families registered interleaved, 5,000 owners:
 * each family renders once, grouped, and every series once. */
static void test_ten_thousand(void **state)
{
	enum { OWNERS = 5000 };
	static uint64_t in[OWNERS], out[OWNERS];
	struct stats reg;
	struct stats_text t = { 0 };
	const char *second;
	char id[16];
	uint64_t v;

	(void)state;
	stats_init(&reg);
	for (unsigned i = 0; i < OWNERS; i++) {
		in[i] = i;
		out[i] = 2 * i;
		snprintf(id, sizeof(id), "%u", i);
		assert_int_equal(stats_add(&reg, &in[i], "mcferry_hub_link_in_datagrams_total",
					   L("service", "hub", "link", id),
					   STATS_COUNTER, "In.", &in[i]), 0);
		assert_int_equal(stats_add(&reg, &in[i], "mcferry_hub_link_out_datagrams_total",
					   L("service", "hub", "link", id),
					   STATS_COUNTER, "Out.", &out[i]), 0);
	}
	assert_int_equal(stats_count(&reg), 2 * OWNERS);
	assert_int_equal(stats_get(&reg, "mcferry_hub_link_out_datagrams_total",
				   L("service", "hub", "link", "4321"), &v), 0);
	assert_int_equal(v, 8642);

	stats_render_prometheus(&reg, &t);
	assert_int_equal(count_of(t.data, "# TYPE "), 2);
	assert_int_equal(count_of(t.data, "\n"), 2 * OWNERS + 4);
	second = strstr(t.data, "# HELP mcferry_hub_link_out_datagrams_total");
	assert_non_null(second);
	/* Grouped: no in-series after the out header, no out-series before. */
	assert_null(strstr(second, "mcferry_hub_link_in_datagrams_total{"));
	assert_int_equal(count_of(t.data, "mcferry_hub_link_out_datagrams_total{"),
			 OWNERS);
	assert_non_null(strstr(t.data, "mcferry_hub_link_in_datagrams_total"
				       "{service=\"hub\",link=\"4999\"} 4999\n# HELP"));

	stats_text_reset(&t);
	stats_render_lines(&reg, &t);
	assert_int_equal(count_of(t.data, "\n"), OWNERS);
	assert_non_null(strstr(t.data, "\nservice=hub link=17 "
				       "mcferry_hub_link_in_datagrams_total=17 "
				       "mcferry_hub_link_out_datagrams_total=34\n"));

	stats_text_reset(&t);
	stats_render_json(&reg, &t, false);
	assert_int_equal(count_of(t.data, "\n"), 2 * OWNERS);

	for (unsigned i = 0; i < OWNERS; i += 2)
		stats_remove_owner(&reg, &in[i]);
	assert_int_equal(stats_count(&reg), OWNERS);
	assert_int_equal(stats_get(&reg, "mcferry_hub_link_in_datagrams_total",
				   L("service", "hub", "link", "4998"), &v), -ENOENT);
	assert_int_equal(stats_get(&reg, "mcferry_hub_link_in_datagrams_total",
				   L("service", "hub", "link", "4999"), &v), 0);
	assert_int_equal(v, 4999);
	stats_text_free(&t);
	stats_exit(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_owners_prometheus),
		cmocka_unit_test(test_two_owners_lines),
		cmocka_unit_test(test_two_owners_json),
		cmocka_unit_test(test_values_are_live),
		cmocka_unit_test(test_remove_owner),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_line_mixed_labels),
		cmocka_unit_test(test_fn_value),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ten_thousand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
