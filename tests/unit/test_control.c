/* test_control.c - unit tests for the request parser of src/control.c:
 * good requests, and bad ones refused with a reason (never a crash). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"

static int parse(const char *s, struct control_req *r, char *err)
{
	return control_parse(s, strlen(s), r, err, 256);
}

static void test_good(void **state)
{
	struct control_req r;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"id\":7,\"op\":\"link.add\",\"args\":"
			       "{\"uri\":\"tcp://h:7000\",\"cost\":20,"
			       "\"x\":true}}", &r, err), 0);
	assert_true(r.has_id);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.op, "link.add");
	assert_int_equal(r.nargs, 3);
	assert_string_equal(control_arg(&r, "uri"), "tcp://h:7000");
	assert_string_equal(control_arg(&r, "cost"), "20");
	assert_string_equal(control_arg(&r, "x"), "true");
	assert_null(control_arg(&r, "y"));
	assert_int_equal(parse(" { \"op\" : \"a\\\"b\" , \"args\" : { } } ",
			       &r, err), 0);
	assert_string_equal(r.op, "a\"b");
	assert_false(r.has_id);
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"", "x", "{", "{}", "[]", "{\"op\":1}", "{\"op\":\"\"}",
		"{\"id\":\"1\",\"op\":\"a\"}", "{\"id\":1.5,\"op\":\"a\"}",
		"{\"op\":\"a\"} x", "{\"op\":\"a\",\"args\":[1]}",
		"{\"op\":\"a\",\"args\":{\"k\":{}}}", "{\"op\":\"a\\q\"}",
		"{\"op\":\"a", "{\"args\":{}}", "{\"op\":\"a\",}",
	};
	struct control_req r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i], &r, err) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(err, "bad request"));
	}
}

static void test_json_str(void **state)
{
	struct stats_text t = { 0 };

	(void)state;
	control_json_str(&t, "a\"b\\c\n");
	assert_string_equal(t.data, "\"a\\\"b\\\\c\\u000a\"");
	stats_text_free(&t);
}

/* control_args_check: the args an op takes, by key and type; a refusal
 * names the op and the bad argument. */
static void args_bad(const char *line, const struct control_argdef *defs,
		     size_t n, const char *want)
{
	struct control_req r;
	char err[256] = "";

	assert_int_equal(parse(line, &r, err), 0);
	if (control_args_check(&r, defs, n, err, sizeof(err)) != -1 ||
	    strcmp(err, want))
		fail_msg("%s: got '%s', want '%s'", line, err, want);
}

static void test_args_check(void **state)
{
	static const struct control_argdef defs[] = {
		{ "uri", 's' }, { "link", 'x' }, { "on", 'b' }, { "cost", 'n' },
	};
	struct control_req r;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"op\":\"l\",\"args\":{\"uri\":\"u\","
			       "\"link\":3,\"on\":true,\"cost\":2}}", &r, err),
			 0);
	assert_int_equal(control_args_check(&r, defs, 4, err, sizeof(err)), 0);
	assert_int_equal(parse("{\"op\":\"l\",\"args\":{\"link\":\"p3\"}}",
			       &r, err), 0);
	assert_int_equal(control_args_check(&r, defs, 4, err, sizeof(err)), 0);
	assert_int_equal(parse("{\"op\":\"l\"}", &r, err), 0);
	assert_int_equal(control_args_check(&r, NULL, 0, err, sizeof(err)), 0);
	args_bad("{\"op\":\"l\",\"args\":{\"x\":1}}", defs, 4,
		 "l: unknown argument 'x' (want uri, link, on, cost)");
	args_bad("{\"op\":\"l\",\"args\":{\"x\":1}}", NULL, 0,
		 "l: unknown argument 'x' (it takes none)");
	args_bad("{\"op\":\"l\",\"args\":{\"uri\":5}}", defs, 4,
		 "l: uri must be a string");
	args_bad("{\"op\":\"l\",\"args\":{\"cost\":\"5\"}}", defs, 4,
		 "l: cost must be a number");
	args_bad("{\"op\":\"l\",\"args\":{\"on\":1}}", defs, 4,
		 "l: on must be a boolean");
	args_bad("{\"op\":\"l\",\"args\":{\"link\":false}}", defs, 4,
		 "l: link must be a string or a number");
	args_bad("{\"op\":\"l\",\"args\":{\"uri\":\"a\",\"uri\":\"b\"}}",
		 defs, 4, "l: uri given twice");
	/* A message that does not fit is cut, never overrun. */
	assert_int_equal(parse("{\"op\":\"l\",\"args\":{\"x\":1}}", &r, err),
			 0);
	assert_int_equal(control_args_check(&r, defs, 4, err, 12), -1);
	assert_string_equal(err, "l: unknown ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_args_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
