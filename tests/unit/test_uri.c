/* test_uri.c - unit tests for src/uri.c: every form of docs/cli-contract.md,
 * the bad ones, and the role checks. */
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

#include "uri.h"

/* Parse text, which must succeed; print the message otherwise. */
static void parse_ok(const char *text, struct uri *u)
{
	char err[256] = "";
	int rc = uri_parse(text, u, err, sizeof(err));

	if (rc != 0)
		print_error("uri_parse('%s') failed: %s\n", text, err);
	assert_int_equal(rc, 0);
	assert_string_equal(u->text, text);
}

/* Parse and check the role, both of which must succeed. */
static void role_ok(const char *text, bool as_source, struct uri *u)
{
	char err[256] = "";
	int rc;

	parse_ok(text, u);
	rc = uri_check_role(u, as_source, err, sizeof(err));
	if (rc != 0)
		print_error("uri_check_role('%s', %s) failed: %s\n", text,
			    as_source ? "source" : "sink", err);
	assert_int_equal(rc, 0);
}

/* Parsing must fail with a message containing needle. */
static void parse_bad(const char *text, const char *needle)
{
	struct uri u;
	char err[256] = "";

	assert_int_equal(uri_parse(text, &u, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		print_error("uri_parse('%s'): message '%s' lacks '%s'\n", text,
			    err, needle);
	assert_non_null(strstr(err, needle));
}

/* Parsing succeeds, the role check fails with needle in the message. */
static void role_bad(const char *text, bool as_source, const char *needle)
{
	struct uri u;
	char err[256] = "";

	parse_ok(text, &u);
	assert_int_equal(uri_check_role(&u, as_source, err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, needle))
		print_error("uri_check_role('%s'): message '%s' lacks '%s'\n",
			    text, err, needle);
	assert_non_null(strstr(err, needle));
}

static void check_v4(const struct sockaddr_storage *ss, const char *ip,
		     uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char got[INET_ADDRSTRLEN] = "";

	assert_int_equal(ss->ss_family, AF_INET);
	inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got));
	assert_string_equal(got, ip);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void check_v6(const struct sockaddr_storage *ss, const char *ip,
		     uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char got[INET6_ADDRSTRLEN] = "";

	assert_int_equal(ss->ss_family, AF_INET6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof(got));
	assert_string_equal(got, ip);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void check_defaults(const struct uri *u)
{
	assert_int_equal(u->ttl, -1);
	assert_int_equal(u->loop, -1);
	assert_int_equal(u->rcvbuf, 0);
	assert_int_equal(u->sndbuf, 0);
	/* framing=auto is the default of tcp; udp has no framing. */
	assert_int_equal(u->framing,
			 u->scheme == URI_TCP ? FRAMING_AUTO : FRAMING_RAW);
	assert_int_equal(u->chunk, URI_DEFAULT_CHUNK);
	assert_int_equal(u->queue, URI_DEFAULT_QUEUE);
	assert_string_equal(u->iface, "");
	assert_false(u->has_source);
	assert_false(u->set_ttl || u->set_loop || u->set_framing ||
		     u->set_chunk || u->set_queue);
}

/* ---- good forms ------------------------------------------------------ */

static void test_udp_asm_group(void **state)
{
	struct uri u;

	(void)state;
	role_ok("udp://@239.1.1.1:5000", true, &u);
	assert_int_equal(u.scheme, URI_UDP);
	assert_true(u.local);
	assert_string_equal(u.host, "239.1.1.1");
	assert_true(u.host_numeric);
	assert_int_equal(u.port, 5000);
	check_v4(&u.addr, "239.1.1.1", 5000);
	assert_true(addr_is_multicast(&u.addr));
	check_defaults(&u);
}

static void test_udp_ssm_group(void **state)
{
	struct uri u;

	(void)state;
	role_ok("udp://@232.1.2.3:1234?source=10.0.0.1", true, &u);
	assert_true(u.has_source);
	check_v4(&u.source, "10.0.0.1", 0);
	check_v4(&u.addr, "232.1.2.3", 1234);
	role_ok("udp://@232.1.2.3:1234?source=10.0.0.1&iface=eth0&rcvbuf=2097152",
		true, &u);
	assert_string_equal(u.iface, "eth0");
	assert_int_equal(u.rcvbuf, 2097152);
}

static void test_udp_unicast_receive(void **state)
{
	struct uri u;

	(void)state;
	role_ok("udp://@:5000", true, &u);
	assert_true(u.local);
	assert_string_equal(u.host, "");
	assert_true(u.host_numeric);
	/* The wildcard is a dual-stack v6 any address. */
	check_v6(&u.addr, "::", 5000);
	assert_false(addr_is_multicast(&u.addr));
	check_defaults(&u);

	role_ok("udp://@10.0.0.2:6000", true, &u);
	check_v4(&u.addr, "10.0.0.2", 6000);
	assert_false(addr_is_multicast(&u.addr));
	role_ok("udp://@[::1]:6000", true, &u);
	check_v6(&u.addr, "::1", 6000);
}

static void test_udp_sink(void **state)
{
	struct uri u;

	(void)state;
	role_ok("udp://239.1.1.1:5000", false, &u);
	assert_false(u.local);
	check_defaults(&u);

	role_ok("udp://239.1.1.1:5000?ttl=8&loop=0&iface=eth0", false, &u);
	assert_int_equal(u.ttl, 8);
	assert_true(u.set_ttl);
	assert_int_equal(u.loop, 0);
	assert_true(u.set_loop);
	assert_string_equal(u.iface, "eth0");

	role_ok("udp://239.1.1.1:5000?loop=1&ttl=0&iface=10.0.0.1&sndbuf=1024",
		false, &u);
	assert_int_equal(u.loop, 1);
	assert_int_equal(u.ttl, 0);
	assert_string_equal(u.iface, "10.0.0.1");
	assert_int_equal(u.sndbuf, 1024);
	role_ok("udp://239.1.1.1:5000?ttl=255", false, &u);
	assert_int_equal(u.ttl, 255);

	/* Unicast destinations, numeric or by name. */
	role_ok("udp://10.0.0.9:65535", false, &u);
	check_v4(&u.addr, "10.0.0.9", 65535);
	role_ok("udp://receiver.example:1", false, &u);
	assert_false(u.host_numeric);
	assert_string_equal(u.host, "receiver.example");
	assert_int_equal(u.port, 1);
}

static void test_ipv6_groups(void **state)
{
	struct uri u;

	(void)state;
	role_ok("udp://@[ff15::1]:5000?iface=veth0", true, &u);
	check_v6(&u.addr, "ff15::1", 5000);
	assert_string_equal(u.host, "ff15::1");
	assert_true(addr_is_multicast(&u.addr));
	assert_string_equal(u.iface, "veth0");

	role_ok("udp://@[ff3e::1234]:5000?source=2001:db8::1", true, &u);
	check_v6(&u.source, "2001:db8::1", 0);

	role_ok("udp://[ff15::abcd]:5001?ttl=4&loop=1", false, &u);
	check_v6(&u.addr, "ff15::abcd", 5001);
	assert_int_equal(u.ttl, 4);
}

static void test_tcp_connect(void **state)
{
	struct uri u;

	(void)state;
	role_ok("tcp://10.0.0.1:9000", true, &u);
	assert_int_equal(u.scheme, URI_TCP);
	assert_false(u.local);
	check_v4(&u.addr, "10.0.0.1", 9000);
	check_defaults(&u);
	role_ok("tcp://10.0.0.1:9000", false, &u);

	role_ok("tcp://relay-b.example.net:9000", true, &u);
	assert_false(u.host_numeric);
	assert_string_equal(u.host, "relay-b.example.net");
	assert_int_equal(u.port, 9000);
	role_ok("tcp://localhost:9000?framing=datagram", false, &u);
	assert_int_equal(u.framing, FRAMING_DATAGRAM);
	assert_true(u.set_framing);

	role_ok("tcp://[2001:db8::7]:9000", false, &u);
	check_v6(&u.addr, "2001:db8::7", 9000);
}

static void test_tcp_listen(void **state)
{
	struct uri u;

	(void)state;
	role_ok("tcp://@:9000", true, &u);
	assert_true(u.local);
	check_v6(&u.addr, "::", 9000);
	role_ok("tcp://@:9000", false, &u);
	role_ok("tcp://@[::1]:9000", false, &u);
	check_v6(&u.addr, "::1", 9000);
	assert_string_equal(u.host, "::1");
	role_ok("tcp://@[::]:9000", true, &u);
	check_v6(&u.addr, "::", 9000);
	role_ok("tcp://@0.0.0.0:9000", true, &u);
	check_v4(&u.addr, "0.0.0.0", 9000);
	role_ok("tcp://@127.0.0.1:9000", false, &u);
}

static void test_tcp_options(void **state)
{
	struct uri u;

	(void)state;
	role_ok("tcp://@:9000?framing=datagram&queue=1048576", false, &u);
	assert_int_equal(u.framing, FRAMING_DATAGRAM);
	assert_int_equal(u.queue, 1048576);
	assert_true(u.set_queue);

	role_ok("tcp://10.0.0.1:9000?framing=auto", true, &u);
	assert_int_equal(u.framing, FRAMING_AUTO);
	assert_true(u.set_framing);
	role_ok("tcp://@:9000?framing=auto", false, &u);
	assert_int_equal(u.framing, FRAMING_AUTO);

	role_ok("tcp://10.0.0.1:9000?framing=raw&chunk=188", true, &u);
	assert_int_equal(u.framing, FRAMING_RAW);
	assert_true(u.set_framing);
	assert_int_equal(u.chunk, 188);
	assert_true(u.set_chunk);

	role_ok("tcp://@:9000?chunk=1&rcvbuf=262144&sndbuf=1024", true, &u);
	assert_int_equal(u.chunk, 1);
	assert_int_equal(u.rcvbuf, 262144);
	assert_int_equal(u.sndbuf, 1024);

	role_ok("tcp://@:9000?chunk=65507&queue=65536", false, &u);
	assert_int_equal(u.chunk, 65507);
	assert_int_equal(u.queue, 65536);
	role_ok("tcp://@:9000?queue=17179869184", false, &u);
	assert_int_equal(u.queue, 1ull << 34);

	/* Later options override earlier ones; empty pieces are skipped. */
	role_ok("tcp://@:9000?chunk=100&&chunk=200&", false, &u);
	assert_int_equal(u.chunk, 200);
	role_ok("tcp://@:9000?", false, &u);
	check_defaults(&u);
}

static void test_parse_resets_struct(void **state)
{
	struct uri u;

	(void)state;
	parse_ok("udp://239.1.1.1:5000?ttl=9&iface=eth0", &u);
	parse_ok("udp://239.1.1.1:5000", &u);
	check_defaults(&u);
}

/* ---- bad forms ------------------------------------------------------- */

static void test_bad_port(void **state)
{
	(void)state;
	parse_bad("udp://@239.1.1.1", "missing port");
	parse_bad("tcp://host", "missing port");
	parse_bad("tcp://@[::1]", "port");
	parse_bad("tcp://@[::1]9000", "port");
	parse_bad("udp://@239.1.1.1:", "bad port ''");
	parse_bad("udp://@239.1.1.1:0", "bad port '0'");
	parse_bad("udp://@239.1.1.1:65536", "bad port '65536'");
	parse_bad("udp://@239.1.1.1:99999", "bad port '99999'");
	parse_bad("udp://@239.1.1.1:-1", "bad port '-1'");
	parse_bad("udp://@239.1.1.1:+80", "bad port '+80'");
	parse_bad("udp://@239.1.1.1:80x", "bad port '80x'");
	parse_bad("udp://@239.1.1.1: 80", "bad port");
	parse_bad("tcp://@:99999999999999999999999", "bad port");
	parse_bad("udp://", "missing port");
	parse_bad("udp://@", "missing port");
}

static void test_bad_scheme(void **state)
{
	(void)state;
	parse_bad("http://10.0.0.1:80", "unknown scheme in 'http://10.0.0.1:80'");
	parse_bad("rtp://@239.1.1.1:5000", "unknown scheme");
	parse_bad("UDP://@239.1.1.1:5000", "unknown scheme");
	parse_bad("udp:/@239.1.1.1:5000", "unknown scheme");
	parse_bad("239.1.1.1:5000", "unknown scheme");
	parse_bad("", "unknown scheme");
}

static void test_bad_options(void **state)
{
	(void)state;
	parse_bad("udp://@239.1.1.1:5000?foo=1", "unknown option 'foo'");
	parse_bad("udp://@239.1.1.1:5000?TTL=1", "unknown option 'TTL'");
	parse_bad("udp://@239.1.1.1:5000?=1", "unknown option ''");
	parse_bad("udp://239.1.1.1:5000?ttl", "option 'ttl' has no value");
	parse_bad("udp://239.1.1.1:5000?ttl=1&loop", "option 'loop' has no value");
	parse_bad("udp://239.1.1.1:5000?ttl=", "bad ttl ''");
	parse_bad("tcp://@:9000?framing=rtp", "bad framing 'rtp'");
	parse_bad("tcp://@:9000?framing=", "bad framing");
	parse_bad("tcp://@:9000?framing=RAW", "bad framing 'RAW'");
	parse_bad("tcp://@:9000?framing=AUTO",
		  "bad framing 'AUTO': want raw, datagram or auto");
	parse_bad("tcp://@:9000?chunk=0", "bad chunk '0'");
	parse_bad("tcp://@:9000?chunk=70000", "bad chunk '70000'");
	parse_bad("tcp://@:9000?chunk=65508", "bad chunk '65508'");
	parse_bad("tcp://@:9000?chunk=-5", "bad chunk");
	parse_bad("tcp://@:9000?chunk=1k", "bad chunk '1k'");
	parse_bad("udp://239.1.1.1:5000?ttl=256", "bad ttl '256'");
	parse_bad("udp://239.1.1.1:5000?ttl=-1", "bad ttl '-1'");
	parse_bad("udp://239.1.1.1:5000?loop=2", "bad loop '2'");
	parse_bad("udp://239.1.1.1:5000?loop=yes", "bad loop 'yes'");
	parse_bad("udp://239.1.1.1:5000?loop=01", "bad loop '01'");
	parse_bad("udp://@239.1.1.1:5000?rcvbuf=1023", "bad rcvbuf '1023'");
	parse_bad("udp://@239.1.1.1:5000?rcvbuf=99999999999", "bad rcvbuf");
	parse_bad("udp://239.1.1.1:5000?sndbuf=big", "bad sndbuf 'big'");
	parse_bad("tcp://@:9000?queue=65535", "bad queue '65535'");
	parse_bad("tcp://@:9000?queue=17179869185", "bad queue");
	parse_bad("udp://@239.1.1.1:5000?iface=", "bad iface");
	parse_bad("udp://@239.1.1.1:5000?iface="
		  "0123456789012345678901234567890123456789012345678901234567890123",
		  "bad iface");
	parse_bad("udp://@232.1.1.1:5000?source=host.example",
		  "bad source 'host.example'");
	parse_bad("udp://@232.1.1.1:5000?source=", "bad source");
	parse_bad("udp://@232.1.1.1:5000?source=[2001:db8::1]", "bad source");
}

static void test_bad_addresses(void **state)
{
	char text[600];

	(void)state;
	parse_bad("udp://@ff15::1:5000", "IPv6 address must be in brackets");
	parse_bad("tcp://2001:db8::1:9000", "brackets");
	parse_bad("tcp://@::1", "brackets");
	parse_bad("tcp://@[::1:9000", "unclosed '['");
	parse_bad("udp://@[ff15::1", "unclosed '['");
	parse_bad("tcp://@[::1]x:9000", "missing port after ']'");
	parse_bad("tcp://@localhost:9000", "local address 'localhost' must be numeric");
	parse_bad("udp://@group.example:5000", "must be numeric");
	parse_bad("tcp://bad_host:9000", "bad host 'bad_host'");
	parse_bad("tcp://a b:9000", "bad host 'a b'");
	parse_bad("tcp://@300.1.1.1:9000", "must be numeric");
	parse_bad("udp://user@239.1.1.1:5000", "bad host 'user@239.1.1.1'");

	/* Paths. */
	parse_bad("udp://@239.1.1.1:5000/", "unexpected path in 'udp://@239.1.1.1:5000/'");
	parse_bad("udp://@239.1.1.1:5000/stream", "unexpected path");
	parse_bad("tcp://10.0.0.1/x:9000", "unexpected path");
	parse_bad("tcp://10.0.0.1:9000/?chunk=1", "unexpected path");

	/* Lengths. */
	memset(text, 0, sizeof(text));
	strcpy(text, "tcp://");
	memset(text + 6, 'a', 300);
	strcat(text, ":9000");
	parse_bad(text, "host name too long");
	memset(text, 0, sizeof(text));
	strcpy(text, "tcp://10.0.0.1:9000?chunk=");
	memset(text + strlen(text), '1', 512 - strlen(text));
	assert_int_equal(strlen(text), 512);
	parse_bad(text, "URI too long");
	/* 511 characters is within the limit (and fails for another reason). */
	text[511] = '\0';
	parse_bad(text, "bad chunk");
}

static void test_long_but_valid(void **state)
{
	char text[512];
	struct uri u;
	size_t n;

	(void)state;
	/* A host name of 255 characters fits. */
	strcpy(text, "tcp://");
	n = strlen(text);
	memset(text + n, 'h', 255);
	strcpy(text + n + 255, ":9000");
	parse_ok(text, &u);
	assert_int_equal(strlen(u.host), 255);
	/* Exactly 511 characters. */
	strcpy(text, "tcp://10.0.0.1:9000?chunk=");
	n = strlen(text);
	memset(text + n, '0', 511 - n - 1);
	text[510] = '7';
	text[511] = '\0';
	parse_ok(text, &u);
	assert_int_equal(u.chunk, 7);
}

/* ---- roles ------------------------------------------------------------ */

static void test_role_checks(void **state)
{
	struct uri u;

	(void)state;
	role_bad("udp://239.1.1.1:5000", true, "must be local");
	role_bad("udp://239.1.1.1:5000", true, "udp://@239.1.1.1:5000");
	role_bad("udp://@239.1.1.1:5000", false, "needs a destination");
	role_bad("udp://@:5000", false, "needs a destination");
	role_bad("udp://@239.1.1.1:5000?ttl=3", true,
		 "option 'ttl' does not apply to a udp source");
	role_bad("udp://@239.1.1.1:5000?loop=1", true, "option 'loop'");
	role_bad("udp://239.1.1.1:5000?queue=65536", false,
		 "option 'queue' does not apply to a udp sink");
	role_bad("udp://239.1.1.1:5000?framing=datagram", false,
		 "a udp link (framing=datagram) is unicast");
	role_bad("udp://239.1.1.1:5000?chunk=188", false, "option 'chunk'");
	role_bad("udp://@239.1.1.1:5000?chunk=188", true, "option 'chunk'");
	role_bad("udp://239.1.1.1:5000?source=10.0.0.1", false,
		 "option 'source' does not apply to a udp sink");
	role_bad("udp://@10.0.0.1:5000?source=10.0.0.2", true,
		 "source= needs a multicast group, not '10.0.0.1'");
	role_bad("udp://@:5000?source=10.0.0.2", true,
		 "source= needs a multicast group, not '(any)'");
	role_bad("udp://@232.1.1.1:5000?source=2001:db8::1", true,
		 "different IP families");
	role_bad("udp://@[ff3e::1]:5000?source=10.0.0.1", true,
		 "different IP families");

	role_bad("tcp://10.0.0.1:9000?iface=eth0", true, "option 'iface'");
	role_bad("tcp://10.0.0.1:9000?ttl=2", false, "option 'ttl'");
	role_bad("tcp://10.0.0.1:9000?loop=0", false, "option 'loop'");
	/* A connecting sink's queue bounds what waits for a slow server. */
	role_ok("tcp://10.0.0.1:9000?queue=65536", false, &u);
	assert_int_equal(u.queue, 65536);
	/* The soft limit is for a listening sink's clients only. */
	role_bad("tcp://10.0.0.1:9000?soft=65536", false,
		 "option 'soft' does not apply to a tcp sink");
	role_bad("udp://239.1.1.1:5000?softsecs=3", false,
		 "option 'soft' does not apply to a udp sink");
	role_bad("tcp://@:9000?queue=1048576&soft=1048576", false,
		 "must be below queue");
	role_ok("tcp://@:9000?queue=1048576&soft=262144&softsecs=3", false, &u);
	assert_int_equal(u.soft, 262144);
	assert_int_equal(u.softsecs, 3);
	role_ok("tcp://@:9000", false, &u);
	assert_int_equal(u.soft, 0);
	assert_int_equal(u.softsecs, URI_DEFAULT_SOFTSECS);
	parse_bad("tcp://@:9000?softsecs=0", "bad softsecs '0'");
	parse_bad("tcp://@:9000?soft=12", "bad soft '12'");
	role_bad("tcp://@:9000?queue=65536", true,
		 "option 'queue' does not apply to a tcp source");
	role_bad("tcp://:9000", true, "missing host");
	role_bad("tcp://:9000", false, "missing host");
	role_bad("udp://:5000", false, "missing host");
}

/* Regressions: both were bugs found by these tests. */
static void test_tcp_source_refuses_source_option(void **state)
{
	struct uri u;
	char err[256] = "";

	(void)state;
	/* source= only means something for a udp group. It is refused on a
	 * tcp sink, but a tcp source to a multicast literal accepts it. */
	parse_ok("tcp://239.1.1.1:9000?source=10.0.0.1", &u);
	assert_int_equal(uri_check_role(&u, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "source"));
}

static void test_v6_hint_parses(void **state)
{
	struct uri u, hint;
	char err[256] = "", herr[256] = "";
	const char *p;

	(void)state;
	/* The "write udp://@..." hint for a v6 group must itself parse. */
	parse_ok("udp://[ff15::1]:5000", &u);
	assert_int_equal(uri_check_role(&u, true, err, sizeof(err)), -EINVAL);
	p = strstr(err, "udp://@");
	assert_non_null(p);
	assert_int_equal(uri_parse(p, &hint, herr, sizeof(herr)), 0);
}

static void test_addr_format(void **state)
{
	struct uri u;
	char out[64];
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6,
				       .sin6_port = htons(4000) };
	struct sockaddr unknown = { .sa_family = AF_UNIX };

	(void)state;
	parse_ok("udp://10.1.2.3:5000", &u);
	addr_format((struct sockaddr *)&u.addr, out, sizeof(out));
	assert_string_equal(out, "10.1.2.3:5000");
	parse_ok("udp://[ff15::1]:5001", &u);
	addr_format((struct sockaddr *)&u.addr, out, sizeof(out));
	assert_string_equal(out, "[ff15::1]:5001");
	inet_pton(AF_INET6, "::ffff:10.0.0.2", &mapped.sin6_addr);
	addr_format((struct sockaddr *)&mapped, out, sizeof(out));
	assert_string_equal(out, "10.0.0.2:4000");
	addr_format(&unknown, out, sizeof(out));
	assert_string_equal(out, "?");
	/* Truncation is safe. */
	parse_ok("udp://10.1.2.3:5000", &u);
	addr_format((struct sockaddr *)&u.addr, out, 5);
	assert_string_equal(out, "10.1");
}

static void test_is_multicast(void **state)
{
	struct uri u;
	struct sockaddr_storage none = { .ss_family = AF_UNSPEC };

	(void)state;
	parse_ok("udp://224.0.0.1:1", &u);
	assert_true(addr_is_multicast(&u.addr));
	parse_ok("udp://239.255.255.255:1", &u);
	assert_true(addr_is_multicast(&u.addr));
	parse_ok("udp://223.255.255.255:1", &u);
	assert_false(addr_is_multicast(&u.addr));
	parse_ok("udp://240.0.0.0:1", &u);
	assert_false(addr_is_multicast(&u.addr));
	parse_ok("udp://[ff02::1]:1", &u);
	assert_true(addr_is_multicast(&u.addr));
	parse_ok("udp://[fe80::1]:1", &u);
	assert_false(addr_is_multicast(&u.addr));
	assert_false(addr_is_multicast(&none));
}

static void test_small_error_buffer(void **state)
{
	struct uri u;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(uri_parse("udp://@239.1.1.1:0", &u, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* channel= names what a link to a hub publishes or subscribes to. */
static void test_channel_option(void **state)
{
	struct uri u;
	char name[CHANNEL_TEXT_MAX];

	(void)state;
	role_ok("tcp://10.0.0.1:7000?framing=datagram&channel=239.1.1.1:5000",
		false, &u);
	assert_true(u.has_channel);
	channel_format(&u.channel, name, sizeof(name));
	assert_string_equal(name, "239.1.1.1:5000");
	role_ok("tcp://hub:7000?channel=10.0.0.5@232.1.1.1:5000&framing=datagram",
		true, &u);
	assert_true(channel_is_ssm(&u.channel));
	parse_bad("tcp://h:7000?framing=datagram&channel=10.0.0.1:5000",
		  "not a multicast group");
	parse_bad("tcp://h:7000?framing=datagram&channel=239.1.1.1",
		  "bad channel");
	/* framing=raw cannot talk to a hub; the default (auto) and an
	 * explicit auto mean datagram towards a hub. */
	role_bad("tcp://h:7000?framing=raw&channel=239.1.1.1:5000", false,
		 "framing=datagram");
	role_bad("tcp://h:7000?channel=239.1.1.1:5000&framing=raw", true,
		 "framing=auto");
	role_ok("tcp://h:7000?channel=239.1.1.1:5000", false, &u);
	assert_int_equal(u.framing, FRAMING_DATAGRAM);
	assert_false(u.set_framing);
	role_ok("tcp://h:7000?framing=auto&channel=239.1.1.1:5000", true, &u);
	assert_int_equal(u.framing, FRAMING_DATAGRAM);
	assert_true(u.set_framing);
	role_bad("tcp://@:7000?framing=datagram&channel=239.1.1.1:5000", true,
		 "channel=");
	role_bad("udp://239.1.1.1:5000?channel=239.1.1.1:5000", false,
		 "channel=");
}

/* srt:// and the udp link: kinds, defaults, the options of each. */
static void test_srt_and_udp_link(void **state)
{
	struct uri u;

	(void)state;
	role_ok("srt://10.0.0.1:9000", false, &u);
	assert_int_equal(u.scheme, URI_SRT);
	assert_false(u.local);
	assert_int_equal(u.srt.latency, URI_DEFAULT_SRT_LATENCY);
	assert_int_equal(u.framing, FRAMING_AUTO);
	role_ok("srt://@:9000?latency=400&queue=1048576&soft=65536", false, &u);
	assert_true(u.local);
	assert_int_equal(u.srt.latency, 400);
	role_ok("srt://10.0.0.1:9000?mode=listener", true, &u);
	assert_true(u.local);
	role_ok("srt://h.example:9000?mode=rendezvous&streamid=cam1", true, &u);
	assert_int_equal(u.srt.mode, SRT_MODE_RENDEZVOUS);
	assert_string_equal(u.srt.streamid, "cam1");
	role_ok("srt://h:9000?passphrase-file=/k&pbkeylen=32&maxbw=1000000",
		false, &u);
	assert_int_equal(u.srt.pbkeylen, 2);
	assert_int_equal(u.srt.maxbw, 1000000);
	role_ok("srt://h:9000?channel=239.1.1.1:5000", false, &u);
	assert_int_equal(u.framing, FRAMING_DATAGRAM);
	parse_bad("srt://@:9000?mode=caller", "mode=caller needs");
	parse_bad("srt://h.example:9000?mode=listener", "numeric address");
	parse_bad("srt://@:9000?mode=rendezvous", "needs the peer");
	parse_bad("srt://h:9000?latency=5", "bad latency '5'");
	parse_bad("srt://h:9000?pbkeylen=20", "want 16, 24 or 32");
	role_bad("srt://h:9000?pbkeylen=24", false, "needs passphrase-file=");
	role_bad("srt://@:9000?streamid=x", false, "option 'streamid'");
	role_bad("srt://h:9000?iface=eth0", false, "option 'iface'");
	role_bad("srt://h:9000?chunk=188", true, "option 'chunk'");
	role_bad("tcp://h:9000?latency=100", false, "option 'latency'");

	/* udp:// stays the multicast endpoint unless framing=datagram. */
	role_ok("udp://10.0.0.1:5000", false, &u);
	assert_int_equal(u.scheme, URI_UDP);
	role_ok("udp://10.0.0.1:5000?framing=datagram", false, &u);
	assert_int_equal(u.scheme, URI_UDPLINK);
	assert_int_equal(u.mtu, URI_DEFAULT_MTU);
	role_ok("udp://@:5000?mtu=9000&framing=datagram", true, &u);
	assert_int_equal(u.scheme, URI_UDPLINK);
	assert_int_equal(u.mtu, 9000);
	role_ok("udp://@:5000?framing=datagram&queue=65536", false, &u);
	parse_bad("udp://10.0.0.1:5000?framing=raw", "takes only framing=datagram");
	role_bad("udp://10.0.0.1:5000?mtu=1000", false, "option 'mtu'");
	role_bad("udp://10.0.0.1:5000?framing=datagram&ttl=3", false,
		 "option 'ttl'");
	parse_bad("udp://10.0.0.1:5000?framing=datagram&mtu=100", "bad mtu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_asm_group),
		cmocka_unit_test(test_udp_ssm_group),
		cmocka_unit_test(test_udp_unicast_receive),
		cmocka_unit_test(test_udp_sink),
		cmocka_unit_test(test_ipv6_groups),
		cmocka_unit_test(test_tcp_connect),
		cmocka_unit_test(test_tcp_listen),
		cmocka_unit_test(test_tcp_options),
		cmocka_unit_test(test_parse_resets_struct),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_bad_scheme),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_long_but_valid),
		cmocka_unit_test(test_role_checks),
		cmocka_unit_test(test_srt_and_udp_link),
		cmocka_unit_test(test_tcp_source_refuses_source_option),
		cmocka_unit_test(test_v6_hint_parses),
		cmocka_unit_test(test_channel_option),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_is_multicast),
		cmocka_unit_test(test_small_error_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
