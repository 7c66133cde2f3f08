/* test_http_path.c - unit tests for src/http_path.c: every URL form of
 * udpxy(1) with each separator, IPv6, SSM, ?iface=, the other paths, and
 * the bad ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_path.h"

static void path_ok(const char *t, enum http_route route, const char *chan,
		    const char *iface)
{
	struct http_path p;
	char err[256] = "", text[CHANNEL_TEXT_MAX];
	int rc = http_path_parse(t, strlen(t), &p, err, sizeof(err));

	if (rc != 0)
		print_error("http_path_parse('%s') failed: %s\n", t, err);
	assert_int_equal(rc, 0);
	assert_int_equal(p.route, route);
	if (chan) {
		channel_format(&p.ch, text, sizeof(text));
		if (strcmp(text, chan))
			print_error("'%s': channel '%s', want '%s'\n", t, text,
				    chan);
		assert_string_equal(text, chan);
	}
	assert_string_equal(p.iface, iface ? iface : "");
}

static void path_bad(const char *t, int want)
{
	struct http_path p;
	char err[256] = "";
	int rc = http_path_parse(t, strlen(t), &p, err, sizeof(err));

	if (rc != want)
		print_error("http_path_parse('%s') = %d, want %d (%s)\n", t, rc,
			    want, err);
	assert_int_equal(rc, want);
	assert_true(err[0] != '\0');
}

static void test_udpxy_forms(void **state)
{
	static const char seps[] = ":%~+-^";

	(void)state;
	for (const char *s = seps; *s; s++) {
		char t[64];

		snprintf(t, sizeof(t), "/udp/239.1.1.1%c5000", *s);
		path_ok(t, HTTP_ROUTE_UDP, "239.1.1.1:5000", NULL);
		snprintf(t, sizeof(t), "/rtp/224.0.2.23%c2300/", *s);
		path_ok(t, HTTP_ROUTE_RTP, "224.0.2.23:2300", NULL);
		snprintf(t, sizeof(t), "/udp/10.0.0.1@232.1.1.1%c1234", *s);
		path_ok(t, HTTP_ROUTE_UDP, "10.0.0.1@232.1.1.1:1234", NULL);
	}
	path_ok("/udp/[ff3e::1]:5000", HTTP_ROUTE_UDP, "[ff3e::1]:5000", NULL);
	path_ok("/udp/[2001:db8::1]@[ff3e::1]~5000", HTTP_ROUTE_UDP,
		"[2001:db8::1]@[ff3e::1]:5000", NULL);
	path_ok("/udp/239.1.1.1:5000?iface=eth0", HTTP_ROUTE_UDP,
		"239.1.1.1:5000", "eth0");
	path_ok("/udp/239.1.1.1:5000/?x=1&iface=10.0.0.2&y", HTTP_ROUTE_UDP,
		"239.1.1.1:5000", "10.0.0.2");
	path_ok("http://host:4022/udp/239.1.1.1:5000", HTTP_ROUTE_UDP,
		"239.1.1.1:5000", NULL);
}

static void test_pages(void **state)
{
	(void)state;
	path_ok("/", HTTP_ROUTE_STATUS, NULL, NULL);
	path_ok("/status", HTTP_ROUTE_STATUS, NULL, NULL);
	path_ok("/status/", HTTP_ROUTE_STATUS, NULL, NULL);
	path_ok("/status.json", HTTP_ROUTE_STATUS_JSON, NULL, NULL);
	path_ok("/metrics", HTTP_ROUTE_METRICS, NULL, NULL);
	path_ok("/metrics?x", HTTP_ROUTE_METRICS, NULL, NULL);
	path_ok("/playlist.m3u", HTTP_ROUTE_PLAYLIST, NULL, NULL);
	path_ok("/restart/", HTTP_ROUTE_RESTART, NULL, NULL);
}

static void test_bad(void **state)
{
	(void)state;
	path_bad("/udp/", -EINVAL);
	path_bad("/udp/239.1.1.1", -EINVAL);
	path_bad("/udp/239.1.1.1:", -EINVAL);
	path_bad("/udp/239.1.1.1:99999", -EINVAL);
	path_bad("/udp/239.1.1.1:0", -EINVAL);
	path_bad("/udp/239.1.1.1:50x0", -EINVAL);
	path_bad("/udp/239.1.1.1=5000", -EINVAL);
	path_bad("/udp/10.1.1.1:5000", -EINVAL);     /* not multicast */
	path_bad("/udp/239.1.1:5000", -EINVAL);
	path_bad("/udp/239.1.1.1.1:5000", -EINVAL);
	path_bad("/udp/[ff3e::1:5000", -EINVAL);
	path_bad("/udp/ff3e::1:5000", -EINVAL);
	path_bad("/udp/239.1.1.1@239.1.1.2:5000", -EINVAL); /* source mcast */
	path_bad("/udp/239.1.1.1:5000//", -EINVAL);
	path_bad("/udp/239.1.1.1:5000?iface=", -EINVAL);
	path_bad("/udp/239.1.1.1:5000?iface=a<b", -EINVAL);
	path_bad("/udp/host.example:5000", -EINVAL);
	path_bad("udp/239.1.1.1:5000", -EINVAL);
	path_bad("*", -EINVAL);
	path_bad("/nope", -ENOENT);
	path_bad("/udpx/239.1.1.1:5000", -ENOENT);
	path_bad("/statusx", -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udpxy_forms),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
