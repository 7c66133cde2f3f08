/* test_gateway_spec.c - unit tests for src/gateway_spec.c: one channel as
 * channel.add takes it (the command line's words), and what a gateway
 * spec needs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"

static void chan_ok(const char *kind, const char *text, const char *ch,
		    const char *local, bool exp, bool imp)
{
	struct gateway_chan_spec c;
	char err[256] = "", a[CHANNEL_TEXT_MAX], b[CHANNEL_TEXT_MAX];

	if (gateway_chan_parse(kind, text, &c, err, sizeof(err)) < 0)
		fail_msg("%s=%s refused: %s", kind, text, err);
	channel_format(&c.ch, a, sizeof(a));
	channel_format(&c.local, b, sizeof(b));
	assert_string_equal(a, ch);
	assert_string_equal(b, local);
	assert_int_equal(c.do_export, exp);
	assert_int_equal(c.do_import, imp);
}

static void chan_bad(const char *kind, const char *text, const char *want)
{
	struct gateway_chan_spec c;
	char err[256] = "";

	assert_int_equal(gateway_chan_parse(kind, text, &c, err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, want))
		fail_msg("%s=%s: got '%s', want '%s'", kind, text, err, want);
}

static void test_chan_parse(void **state)
{
	(void)state;
	chan_ok("group", "239.1.1.1:5000", "239.1.1.1:5000", "239.1.1.1:5000",
		true, true);
	chan_ok("export", "10.0.0.1@232.1.1.1:5000", "10.0.0.1@232.1.1.1:5000",
		"10.0.0.1@232.1.1.1:5000", true, false);
	chan_ok("import", "239.1.1.1:5000=239.9.9.9:6000", "239.1.1.1:5000",
		"239.9.9.9:6000", false, true);
	chan_ok("import", "[ff15::1]:5000", "[ff15::1]:5000", "[ff15::1]:5000",
		false, true);
	/* The command line's words, and a remap only where --import has it. */
	chan_bad("group", "239.1.1.1:5000=239.9.9.9:6000", "bad group");
	chan_bad("export", "10.1.1.1:5", "is not a multicast group");
	chan_bad("import", "239.1.1.1:0", "bad port '0'");
	chan_bad("import", "239.1.1.1:5=10.0.0.1:5", "'10.0.0.1'");
	chan_bad("join", "239.1.1.1:5", "unknown channel kind 'join'");
}

/* A gateway with a control socket may start without a channel. */
static void test_spec_check(void **state)
{
	struct gateway_spec *s = malloc(sizeof(*s));
	char err[256];

	(void)state;
	gateway_spec_init(s, "g");
	assert_int_equal(gateway_spec_set_hub(s, "tcp://10.0.0.1:7000", err,
					      sizeof(err)), 0);
	snprintf(s->iface, sizeof(s->iface), "lan0");
	assert_int_equal(gateway_spec_check(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs a group, export or import"));
	snprintf(s->control, sizeof(s->control), "/run/g.ctl");
	assert_int_equal(gateway_spec_check(s, err, sizeof(err)), 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chan_parse),
		cmocka_unit_test(test_spec_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
