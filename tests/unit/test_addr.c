/* test_addr.c - unit tests for src/addr.c: parsing, formatting, lengths
 * and ports of socket addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static void check_format(const char *host, uint16_t port, const char *want)
{
	struct sockaddr_storage ss;
	char out[64];

	assert_true(addr_parse(host, port, &ss));
	addr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_parse_and_format(void **state)
{
	check_format("10.1.2.3", 5000, "10.1.2.3:5000");
	check_format("ff15::1", 1, "[ff15::1]:1");
	check_format("::ffff:10.0.0.1", 80, "10.0.0.1:80"); /* v4-mapped */
	check_format("::", 65535, "[::]:65535");
}

static void test_parse_refuses(void **state)
{
	struct sockaddr_storage ss;
	const char *bad[] = { "", "10.1.2", "10.1.2.256", "[::1]", "host",
			      "1.2.3.4 ", "::g" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ss, 0xaa, sizeof(ss));
		if (addr_parse(bad[i], 1, &ss))
			print_error("addr_parse accepted '%s'\n", bad[i]);
		assert_false(addr_parse(bad[i], 1, &ss));
		assert_int_equal(ss.ss_family, 0); /* zeroed either way */
	}
}

static void test_format_other_family_and_short_buffer(void **state)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	char out[8];

	addr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "?");
	assert_true(addr_parse("192.168.100.200", 65535, &ss));
	addr_format((struct sockaddr *)&ss, out, 5);
	assert_string_equal(out, "192."); /* truncated, terminated */
}

static void test_multicast(void **state)
{
	struct sockaddr_storage ss = { 0 };
	const char *yes[] = { "224.0.0.1", "239.255.255.255", "ff02::1",
			      "ff15::abcd" };
	const char *no[] = { "223.255.255.255", "240.0.0.0", "10.0.0.1",
			     "fe80::1", "::1" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_true(addr_parse(yes[i], 0, &ss));
		assert_true(addr_is_multicast(&ss));
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		assert_true(addr_parse(no[i], 0, &ss));
		assert_false(addr_is_multicast(&ss));
	}
	memset(&ss, 0, sizeof(ss));
	assert_false(addr_is_multicast(&ss));
}

static void test_len_and_port(void **state)
{
	struct sockaddr_storage ss;

	assert_true(addr_parse("10.0.0.1", 1234, &ss));
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in));
	assert_int_equal(addr_port(&ss), 1234);
	addr_set_port(&ss, 0);
	assert_int_equal(addr_port(&ss), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, 0);
	assert_true(addr_parse("fd00::2", 65535, &ss));
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in6));
	assert_int_equal(addr_port(&ss), 65535);
	addr_set_port(&ss, 4000);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 4000);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(addr_port(&ss), 0);
	addr_set_port(&ss, 9); /* no effect, no crash */
	assert_int_equal(addr_port(&ss), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_format_other_family_and_short_buffer),
		cmocka_unit_test(test_multicast),
		cmocka_unit_test(test_len_and_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
