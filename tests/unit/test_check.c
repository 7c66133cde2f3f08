/* test_check.c - unit tests for src/check.c: which sockets of a
 * configuration clash (pure), and the lines check_config reports for
 * interfaces, groups and files of this host. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "addr.h"
#include "check.h"
#include "config.h"

static struct check_bind bind_of(int proto, const char *addr, uint16_t port)
{
	struct check_bind b = { .proto = proto };

	if (!addr_parse(addr, port, &b.addr)) {
		print_error("bad address in test: %s\n", addr);
		fail();
	}
	return b;
}

static void overlap(int proto_a, const char *a, uint16_t pa, int proto_b,
		    const char *b, uint16_t pb, bool want)
{
	struct check_bind x = bind_of(proto_a, a, pa), y = bind_of(proto_b, b, pb);
	bool got = check_bind_overlap(&x, &y), back = check_bind_overlap(&y, &x);

	if (got != want || back != want)
		print_error("%s:%u vs %s:%u: got %d (reversed %d), want %d\n", a,
			    pa, b, pb, got, back, want);
	assert_true(got == want && back == want);
}

static void test_bind_overlap(void **state)
{
	const int T = IPPROTO_TCP, U = IPPROTO_UDP;

	overlap(T, "0.0.0.0", 1601, T, "0.0.0.0", 1601, true);
	overlap(T, "0.0.0.0", 1601, T, "0.0.0.0", 1602, false);
	overlap(T, "0.0.0.0", 1601, U, "0.0.0.0", 1601, false);
	overlap(T, "10.0.0.1", 1601, T, "10.0.0.2", 1601, false);
	overlap(T, "10.0.0.1", 1601, T, "10.0.0.1", 1601, true);
	overlap(T, "0.0.0.0", 1601, T, "10.0.0.1", 1601, true);
	/* [::] is dual-stack: it takes IPv4 addresses too. */
	overlap(T, "::", 1601, T, "10.0.0.1", 1601, true);
	overlap(T, "::", 1601, T, "0.0.0.0", 1601, true);
	overlap(T, "::", 1601, T, "fd00::1", 1601, true);
	overlap(T, "0.0.0.0", 1601, T, "fd00::1", 1601, false);
	overlap(T, "0.0.0.0", 1601, T, "::ffff:10.0.0.1", 1601, true);
	overlap(T, "10.0.0.1", 1601, T, "::ffff:10.0.0.1", 1601, true);
	overlap(T, "fd00::1", 1601, T, "fd00::2", 1601, false);
	overlap(U, "::", 5000, U, "::", 5000, true);
}

/* check_ports on text: the lines it writes. */
static char *ports_of(const char *text, size_t *bad)
{
	struct config cfg;
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = config_parse(text, strlen(text), &cfg, err, sizeof(err));

	if (rc)
		print_error("config_parse: %s\n", err);
	assert_int_equal(rc, 0);
	*bad = check_ports("t.conf", &cfg, f);
	fclose(f);
	config_free(&cfg);
	return buf;
}

static void test_ports_clash_named_by_line(void **state)
{
	size_t bad;
	char *out = ports_of("[relay a]\n"
			     "source = udp://@239.1.1.1:5000\n"
			     "sink = tcp://@:1601\n"
			     "[relay b]\n"
			     "source = tcp://@:1602\n"
			     "sink = tcp://@:1603\n"
			     "sink = tcp://@:1601?framing=raw\n"
			     "[hub]\n"
			     "listen = tcp://@127.0.0.1:1602\n",
			     &bad);
	const char *want =
		"t.conf: line 7: relay=b sink listens on [::]:1601: port 1601 "
		"is taken by relay=a sink on line 3\n"
		"t.conf: line 9: hub=hub listen listens on 127.0.0.1:1602: port "
		"1602 is taken by relay=b source on line 5\n";

	if (bad != 2 || strcmp(out, want))
		print_error("got %zu:\n%s\nwant 2:\n%s\n", bad, out, want);
	assert_int_equal(bad, 2);
	assert_string_equal(out, want);
	free(out);
}

static void test_ports_fine(void **state)
{
	size_t bad;
	/* Two relays of one group and port, a unicast udp port that is also
	 * a tcp port, addresses that do not overlap: all fine. */
	char *out = ports_of("[relay a]\n"
			     "source = udp://@239.1.1.1:5000\n"
			     "sink = tcp://@127.0.0.1:1601\n"
			     "[relay b]\n"
			     "source = udp://@239.1.1.1:5000\n"
			     "sink = tcp://@127.0.0.2:1601\n"
			     "[relay c]\n"
			     "source = udp://@:1601\n"
			     "sink = udp://239.1.1.2:5000\n",
			     &bad);

	if (bad)
		print_error("%s", out);
	assert_int_equal(bad, 0);
	free(out);
}

static void test_ports_unicast_udp_clash(void **state)
{
	size_t bad;
	char *out = ports_of("[relay a]\nsource = udp://@:5000\n"
			     "sink = udp://127.0.0.1:6000\n"
			     "[relay b]\nsource = udp://@127.0.0.1:5000\n"
			     "sink = udp://127.0.0.1:6001\n",
			     &bad);

	if (bad != 1)
		print_error("%s", out);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(out, "t.conf: line 5: relay=b source binds "
				    "127.0.0.1:5000"));
	free(out);
}

/* check_config on text (loopback and files in /tmp). */
static char *config_of(const char *text, size_t *bad)
{
	struct config cfg;
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = config_parse(text, strlen(text), &cfg, err, sizeof(err));

	if (rc)
		print_error("config_parse: %s\n", err);
	assert_int_equal(rc, 0);
	*bad = check_config("t.conf", &cfg, f);
	fclose(f);
	config_free(&cfg);
	return buf;
}

static void must_hold(const char *out, const char *needle)
{
	if (!strstr(out, needle))
		print_error("output lacks '%s':\n%s\n", needle, out);
	assert_non_null(strstr(out, needle));
}

static void test_config_host_checks(void **state)
{
	char key[] = "/tmp/mcferry-test-check-XXXXXX", text[2048];
	int fd = mkstemp(key);
	size_t bad;
	char *out;

	assert_true(fd >= 0);
	close(fd);
	chmod(key, 0644);
	snprintf(text, sizeof(text),
		 "[relay a]\n"
		 "source = udp://@239.1.1.1:5000?iface=nosuch0\n"
		 "sink = udp://127.0.0.1:6000?iface=lo\n"
		 "sink = udp://127.0.0.1:6001?loop=0\n"
		 "sink = tls://@:7000?cert=%s&key=%s&ca=/nonexistent/ca.pem\n"
		 "[gateway g]\n"
		 "hub = tcp://127.0.0.1:7000\n"
		 "iface = nosuch1\n"
		 "group = 239.1.1.1:5000\n",
		 key, key);
	out = config_of(text, &bad);
	unlink(key);
	must_hold(out, "t.conf: line 2: relay=a source: no interface 'nosuch0'");
	must_hold(out, "t.conf: line 3: relay=a sink: iface= needs a multicast "
		       "group, and '127.0.0.1' is not one");
	must_hold(out, "t.conf: line 4: relay=a sink: loop= needs a multicast");
	must_hold(out, "t.conf: line 5: cannot read ca=/nonexistent/ca.pem: No "
		       "such file or directory");
	must_hold(out, "may be read by group or others (mode 0644)");
	must_hold(out, "t.conf: line 8: gateway=g iface: no interface 'nosuch1'");
	if (bad != 6)
		print_error("got %zu problems:\n%s\n", bad, out);
	assert_int_equal(bad, 6);
	free(out);
}

static void test_config_good(void **state)
{
	size_t bad;
	char *out = config_of("[relay a]\n"
			      "source = udp://@239.1.1.1:5000?iface=lo\n"
			      "sink = udp://239.1.1.2:5000?iface=127.0.0.1&loop=0\n"
			      "sink = tcp://@:1601\n",
			      &bad);

	if (bad)
		print_error("%s", out);
	assert_int_equal(bad, 0);
	free(out);
}

/* One control path for two services is named with both lines; distinct
 * paths and none at all are fine. */
static void test_controls(void **state)
{
	static const char text[] =
		"[hub]\n"
		"listen = tcp://@:7000\n"
		"control = /run/x.ctl\n"
		"[gateway g]\n"
		"hub = tcp://10.0.0.1:7000\n"
		"iface = lan0\n"
		"control = /run/x.ctl\n"
		"[relay r]\n"
		"source = udp://@239.1.1.1:5000\n"
		"sink = tcp://@:1601\n"
		"control = /run/r.ctl\n"
		"[relay s]\n"
		"source = udp://@239.1.1.1:5000\n"
		"sink = tcp://@:1602\n";
	const char *want =
		"t.conf: line 7: gateway=g control=/run/x.ctl: the control "
		"socket of hub=hub on line 3 already (one socket per service)\n";
	struct config cfg;
	char err[512] = "", *buf = NULL;
	size_t len = 0, bad;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(config_parse(text, strlen(text), &cfg, err,
				      sizeof(err)), 0);
	bad = check_controls("t.conf", &cfg, f);
	fclose(f);
	if (bad != 1 || strcmp(buf, want))
		print_error("got %zu:\n%s\nwant 1:\n%s\n", bad, buf, want);
	assert_int_equal(bad, 1);
	assert_string_equal(buf, want);
	free(buf);
	snprintf(cfg.gateways[0].spec.control,
		 sizeof(cfg.gateways[0].spec.control), "/run/g.ctl");
	f = open_memstream(&buf, &len);
	assert_int_equal(check_controls("t.conf", &cfg, f), 0);
	fclose(f);
	free(buf);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_overlap),
		cmocka_unit_test(test_ports_clash_named_by_line),
		cmocka_unit_test(test_ports_fine),
		cmocka_unit_test(test_ports_unicast_udp_clash),
		cmocka_unit_test(test_config_host_checks),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
