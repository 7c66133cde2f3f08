/* test_channel.c - unit tests for src/channel.c: the text forms, the wire
 * form and the socket addresses of a channel. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "channel.h"

static void parse_ok(const char *text, struct channel *ch)
{
	char err[256] = "";
	int rc = channel_parse(text, ch, err, sizeof(err));

	if (rc != 0)
		print_error("channel_parse('%s') failed: %s\n", text, err);
	assert_int_equal(rc, 0);
}

/* Parse, format, parse again: the same channel and the same text. */
static void roundtrip(const char *text, const char *want)
{
	struct channel a, b;
	char out[CHANNEL_TEXT_MAX];

	parse_ok(text, &a);
	channel_format(&a, out, sizeof(out));
	assert_string_equal(out, want);
	parse_ok(out, &b);
	assert_true(channel_equal(&a, &b));
}

static void test_text_forms(void **state)
{
	roundtrip("239.1.1.1:5000", "239.1.1.1:5000");
	roundtrip("10.0.0.1@232.1.2.3:1234", "10.0.0.1@232.1.2.3:1234");
	roundtrip("[ff15::1]:5000", "[ff15::1]:5000");
	roundtrip("[fd00::5]@[ff35::9]:7", "[fd00::5]@[ff35::9]:7");
}

static void test_bad_text(void **state)
{
	const char *bad[] = { "", "239.1.1.1", "239.1.1.1:0", "239.1.1.1:65536",
			      "10.0.0.1:5000" /* not multicast */,
			      "ff15::1:5000" /* v6 without brackets */,
			      "x@239.1.1.1:5000", "10.0.0.1@[ff15::1]:5000",
			      "239.1.1.1:50x0" };
	struct channel ch;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (channel_parse(bad[i], &ch, err, sizeof(err)) != -EINVAL)
			print_error("channel_parse accepted '%s'\n", bad[i]);
		assert_int_equal(channel_parse(bad[i], &ch, err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0] != '\0'); /* a reason, always */
	}
}

static void test_ssm_and_equal(void **state)
{
	struct channel asm_ch, ssm, other_port;

	parse_ok("232.1.1.1:5000", &asm_ch);
	parse_ok("10.0.0.9@232.1.1.1:5000", &ssm);
	parse_ok("232.1.1.1:5001", &other_port);
	assert_false(channel_is_ssm(&asm_ch));
	assert_true(channel_is_ssm(&ssm));
	assert_false(channel_equal(&asm_ch, &ssm));
	assert_false(channel_equal(&asm_ch, &other_port));
	assert_true(channel_equal(&asm_ch, &asm_ch));
}

static void test_wire_roundtrip(void **state)
{
	const char *texts[] = { "239.1.1.1:5000", "10.0.0.1@232.1.2.3:1",
				"[ff15::1]:65535", "[fd00::5]@[ff35::9]:7" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct channel a, b;
		uint8_t wire[CHANNEL_WIRE_MAX + 4];
		size_t n;

		parse_ok(texts[i], &a);
		n = channel_encode(&a, wire);
		assert_int_equal(n, channel_wire_len(a.family));
		assert_int_equal(channel_decode(&b, wire, n), (int)n);
		assert_true(channel_equal(&a, &b));
		/* one byte short is refused */
		assert_int_equal(channel_decode(&b, wire, n - 1), -EBADMSG);
	}
}

static void test_wire_refuses(void **state)
{
	struct channel ch;
	uint8_t w[CHANNEL_WIRE_MAX];

	parse_ok("239.1.1.1:5000", &ch);
	channel_encode(&ch, w);
	w[0] = 5; /* family */
	assert_int_equal(channel_decode(&ch, w, sizeof(w)), -EBADMSG);
	parse_ok("239.1.1.1:5000", &ch);
	channel_encode(&ch, w);
	w[1] = 1; /* flags must be zero */
	assert_int_equal(channel_decode(&ch, w, sizeof(w)), -EBADMSG);
	parse_ok("239.1.1.1:5000", &ch);
	channel_encode(&ch, w);
	w[2] = w[3] = 0; /* port 0 */
	assert_int_equal(channel_decode(&ch, w, sizeof(w)), -EBADMSG);
	parse_ok("239.1.1.1:5000", &ch);
	channel_encode(&ch, w);
	w[4] = 10; /* group 10.1.1.1: not multicast */
	assert_int_equal(channel_decode(&ch, w, sizeof(w)), -EBADMSG);
	assert_int_equal(channel_decode(&ch, w, 3), -EBADMSG);
}

static void test_socket_addresses(void **state)
{
	struct channel ch;
	struct sockaddr_storage ss;
	char out[64];

	parse_ok("10.0.0.9@232.1.1.1:5000", &ch);
	channel_group_addr(&ch, &ss);
	addr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "232.1.1.1:5000");
	channel_source_addr(&ch, 77, &ss);
	addr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "10.0.0.9:77");
	parse_ok("[ff15::1]:9", &ch);
	channel_group_addr(&ch, &ss);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_true(addr_is_multicast(&ss));
	assert_int_equal(addr_port(&ss), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_forms),
		cmocka_unit_test(test_bad_text),
		cmocka_unit_test(test_ssm_and_equal),
		cmocka_unit_test(test_wire_roundtrip),
		cmocka_unit_test(test_wire_refuses),
		cmocka_unit_test(test_socket_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
