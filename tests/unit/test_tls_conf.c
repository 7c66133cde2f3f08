/* test_tls_conf.c - unit tests for src/tls_conf.c: the PSK file parser
 * and the secret file-mode rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_conf.h"

static const char *parse_err(const char *text)
{
	static char err[256];
	struct tls_psk_table t;

	err[0] = '\0';
	if (tls_psk_parse(text, strlen(text), &t, err, sizeof(err)) == 0) {
		tls_psk_free(&t);
		return "";
	}
	assert_int_equal(t.n, 0);
	return err;
}

static void test_good_file(void **state)
{
	const char *text = "# keys\r\n\n  alpha:00112233445566778899aabbccddeeff  \r\n"
			   "beta:FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA9988"
			   "7766554433221100\n";
	struct tls_psk_table t;
	char err[256];
	const struct tls_psk *k;

	(void)state;
	assert_int_equal(tls_psk_parse(text, strlen(text), &t, err, sizeof(err)),
			 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.v[0].identity, "alpha");
	assert_int_equal(t.v[0].keylen, 16);
	assert_int_equal(t.v[0].key[15], 0xff);
	k = tls_psk_find(&t, (const uint8_t *)"beta", 4);
	assert_non_null(k);
	assert_int_equal(k->keylen, 32);
	assert_int_equal(k->key[0], 0xff);
	assert_null(tls_psk_find(&t, (const uint8_t *)"bet", 3));
	assert_null(tls_psk_find(&t, (const uint8_t *)"alphax", 6));
	tls_psk_free(&t);
	assert_int_equal(t.n, 0);
}

static void test_bad_files(void **state)
{
	(void)state;
	assert_string_equal(parse_err(""), "line 0: no IDENTITY:HEXKEY line");
	assert_string_equal(parse_err("# only\n"),
			    "line 1: no IDENTITY:HEXKEY line");
	assert_string_equal(parse_err("alpha\n"), "line 1: want IDENTITY:HEXKEY");
	assert_string_equal(parse_err("#\nalpha:0011\n"),
			    "line 2: key must be 16..64 bytes as hex digits");
	assert_string_equal(parse_err(":00112233445566778899aabbccddeeff\n"),
			    "line 1: identity must be 1..128 characters");
	assert_string_equal(parse_err("al pha:00112233445566778899aabbccddeeff"),
			    "line 1: identity has a blank or a non-printable "
			    "character");
	assert_string_equal(parse_err("a:00112233445566778899aabbccddeefg"),
			    "line 1: key has a character that is not a hex digit");
	assert_string_equal(parse_err("a:00112233445566778899aabbccddeef"),
			    "line 1: key must be 16..64 bytes as hex digits");
	assert_string_equal(parse_err("a:00112233445566778899aabbccddeeff\n"
				      "a:00112233445566778899aabbccddeeff\n"),
			    "line 2: identity 'a' given twice");
	assert_string_equal(parse_err("a:0011:2233445566778899aabbccddeeff001\n"),
			    "line 1: key has a character that is not a hex digit");
}

static void test_nul_and_long_identity(void **state)
{
	char text[300];
	struct tls_psk_table t;
	char err[128];

	(void)state;
	assert_int_not_equal(tls_psk_parse("a\0:b", 4, &t, err, sizeof(err)), 0);
	memset(text, 'x', 129);
	strcpy(text + 129, ":00112233445566778899aabbccddeeff");
	assert_string_equal(parse_err(text),
			    "line 1: identity must be 1..128 characters");
	text[1] = ':';
	memmove(text + 1, text + 128, strlen(text + 128) + 1);
	assert_string_equal(parse_err(text), "");
}

static void test_secret_mode(void **state)
{
	(void)state;
	assert_true(tls_secret_mode_ok(0100600));
	assert_true(tls_secret_mode_ok(0100400));
	assert_false(tls_secret_mode_ok(0100644));
	assert_false(tls_secret_mode_ok(0100640));
	assert_false(tls_secret_mode_ok(0100604));
	assert_false(tls_secret_mode_ok(0100601));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_nul_and_long_identity),
		cmocka_unit_test(test_secret_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
