/* test_ctl.c - unit tests for src/ctl.c: the request line `mcferry ctl`
 * sends for OP ARGS (KEY=VALUE words or one JSON object). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "ctl.h"
#include "stats.h"

/* The request of args (n words), or NULL with the reason in err. */
static void request_is(int n, const char *const *args, const char *want)
{
	struct stats_text t = { 0 };
	char err[256] = "";
	struct control_req r;

	if (ctl_request(n, args, &t, err, sizeof(err)) < 0)
		fail_msg("refused: %s", err);
	if (strcmp(t.data, want))
		fail_msg("got  %swant %s", t.data, want);
	/* What it sends, the node parses (without the newline). */
	assert_int_equal(control_parse(t.data, t.len - 1, &r, err, sizeof(err)),
			 0);
	assert_string_equal(r.op, args[0]);
	stats_text_free(&t);
}

static void test_words(void **state)
{
	const char *a1[] = { "node.info" };
	const char *a2[] = { "link.add", "uri=tcp://h:7000", "cost=20",
			     "on=true" };
	const char *a3[] = { "channel.add", "import=239.1.1.1:5=239.2.2.2:6",
			     "x=-5", "q=a\"b" };

	(void)state;
	request_is(1, a1, "{\"id\":1,\"op\":\"node.info\",\"args\":{}}\n");
	request_is(4, a2, "{\"id\":1,\"op\":\"link.add\",\"args\":{\"uri\":"
			  "\"tcp://h:7000\",\"cost\":20,\"on\":true}}\n");
	/* The first '=' ends the key; "-5" is not all digits: a string. */
	request_is(4, a3, "{\"id\":1,\"op\":\"channel.add\",\"args\":{\"import\":"
			  "\"239.1.1.1:5=239.2.2.2:6\",\"x\":\"-5\",\"q\":"
			  "\"a\\\"b\"}}\n");
}

static void test_json(void **state)
{
	const char *a[] = { "channel.add", "{\"export\":\"239.1.1.1:5\"}" };

	(void)state;
	request_is(2, a, "{\"id\":1,\"op\":\"channel.add\",\"args\":"
			 "{\"export\":\"239.1.1.1:5\"}}\n");
}

static void test_bad(void **state)
{
	const char *a1[] = { "x", "novalue" };
	const char *a2[] = { "x", "=v" };
	const char *a3[] = { "x", "{\"a\":\n1}" };
	const char *const *bad[] = { a1, a2, a3 };
	const char *want[] = { "bad argument 'novalue'", "bad argument '=v'",
			       "newline" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct stats_text t = { 0 };
		char err[256] = "";

		assert_int_equal(ctl_request(2, bad[i], &t, err, sizeof(err)),
				 -1);
		if (!strstr(err, want[i]))
			fail_msg("got '%s', want '%s'", err, want[i]);
		stats_text_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
