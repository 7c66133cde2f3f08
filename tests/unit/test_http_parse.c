/* test_http_parse.c - unit tests for src/http_parse.c: whole and split
 * heads, the Host header, and every refusal with its status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

static int feed(struct http_parser *hp, const char *s)
{
	return http_parser_feed(hp, s, strlen(s));
}

static void test_whole_and_split(void **state)
{
	const char *req = "GET /udp/239.1.1.1:5000 HTTP/1.1\r\n"
			  "User-Agent: VLC/3.0.18 LibVLC/3.0.18\r\n"
			  "Host: tv.example:4022\r\n\r\n";
	struct http_parser hp;

	(void)state;
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, req), 1);
	assert_int_equal(hp.req.method, HTTP_M_GET);
	assert_string_equal(hp.req.target, "/udp/239.1.1.1:5000");
	assert_string_equal(hp.req.host, "tv.example:4022");
	/* Byte by byte gives the same. */
	http_parser_init(&hp);
	for (size_t i = 0; i + 1 < strlen(req); i++)
		assert_int_equal(http_parser_feed(&hp, req + i, 1), 0);
	assert_int_equal(http_parser_feed(&hp, req + strlen(req) - 1, 1), 1);
	assert_string_equal(hp.req.target, "/udp/239.1.1.1:5000");
	assert_string_equal(hp.req.host, "tv.example:4022");
	/* Bytes after the request are ignored. */
	assert_int_equal(feed(&hp, "garbage"), 1);
}

static void test_head_and_10(void **state)
{
	struct http_parser hp;

	(void)state;
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, "HEAD /status HTTP/1.0\r\n\r\n"), 1);
	assert_int_equal(hp.req.method, HTTP_M_HEAD);
	assert_int_equal(hp.req.minor, 0);
	assert_string_equal(hp.req.host, "");
}

static void test_refusals(void **state)
{
	struct http_parser hp;
	char *big;

	(void)state;
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, "POST / HTTP/1.1\r\n\r\n"), -405);
	assert_int_equal(feed(&hp, "more"), -405);
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, "GET / HTTP/2.0\r\n\r\n"), -505);
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, "\x16\x03\x01 hello"), -400);
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, "GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
			 -400);
	big = malloc(HTTP_HEAD_MAX + 64);
	memset(big, 'a', HTTP_HEAD_MAX + 63);
	big[HTTP_HEAD_MAX + 63] = '\0';
	memcpy(big, "GET /", 5);
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, big), -414);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	http_parser_init(&hp);
	assert_int_equal(feed(&hp, big), -431);
	free(big);
	assert_string_equal(http_status_text(404), "Not Found");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_split),
		cmocka_unit_test(test_head_and_10),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
