/* test_config.c - unit tests for src/config.c: the strict INI dialect of
 * `mcferry run`, including the places where it differs from inih. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static void parse_ok(const char *text, struct config *cfg)
{
	char err[512] = "";
	int rc = config_parse(text, strlen(text), cfg, err, sizeof(err));

	if (rc != 0)
		print_error("config_parse failed: %s\n--- text ---\n%s\n", err,
			    text);
	assert_int_equal(rc, 0);
}

/* Parsing must fail; the message starts with "line N: " and holds needle. */
static void parse_bad_n(const char *text, size_t len, int line,
			const char *needle)
{
	struct config cfg;
	char err[512] = "", prefix[32];

	assert_int_equal(config_parse(text, len, &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_null(cfg.relays);
	assert_int_equal(cfg.nrelays, 0);
	snprintf(prefix, sizeof(prefix), "line %d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, needle))
		print_error("got '%s', want '%s...%s'\n", err, prefix, needle);
	assert_memory_equal(err, prefix, strlen(prefix));
	assert_non_null(strstr(err, needle));
}

static void parse_bad(const char *text, int line, const char *needle)
{
	parse_bad_n(text, strlen(text), line, needle);
}

static void test_good_file(void **state)
{
	static const char text[] =
		"# mcferry run configuration\n"
		"; two relays\n"
		"\n"
		"[relay splitter]\n"
		"source = udp://@239.1.1.1:5000?iface=eth0\n"
		"sink = tcp://@:9000?framing=datagram\n"
		"sink = udp://239.2.2.2:5000?ttl=4\n"
		"sink=udp://10.0.0.9:6000\n"
		"\n"
		"[relay back-haul_2.v6]\n"
		"  source   =   tcp://relay-a.example:9000?framing=datagram  \n"
		"\tsink\t=\tudp://[ff15::1]:5000?iface=veth0\t\n";
	struct config cfg;
	const struct config_relay *r;

	(void)state;
	parse_ok(text, &cfg);
	assert_int_equal(cfg.nrelays, 2);

	r = &cfg.relays[0];
	assert_string_equal(r->name, "splitter");
	assert_int_equal(r->line, 4);
	assert_true(r->has_source);
	assert_string_equal(r->source.text, "udp://@239.1.1.1:5000?iface=eth0");
	assert_string_equal(r->source.iface, "eth0");
	assert_int_equal(r->nsinks, 3);
	assert_string_equal(r->sinks[0].text, "tcp://@:9000?framing=datagram");
	assert_int_equal(r->sinks[0].framing, FRAMING_DATAGRAM);
	assert_string_equal(r->sinks[1].text, "udp://239.2.2.2:5000?ttl=4");
	assert_int_equal(r->sinks[1].ttl, 4);
	assert_string_equal(r->sinks[2].text, "udp://10.0.0.9:6000");

	r = &cfg.relays[1];
	assert_string_equal(r->name, "back-haul_2.v6");
	assert_int_equal(r->line, 10);
	assert_string_equal(r->source.text,
			    "tcp://relay-a.example:9000?framing=datagram");
	assert_int_equal(r->nsinks, 1);
	assert_string_equal(r->sinks[0].text,
			    "udp://[ff15::1]:5000?iface=veth0");
	config_free(&cfg);
	assert_null(cfg.relays);
	assert_int_equal(cfg.nrelays, 0);
	/* Freeing twice is harmless. */
	config_free(&cfg);
}

static void test_comments_blank_crlf(void **state)
{
	static const char text[] =
		"\r\n"
		"   # indented comment\r\n"
		"\t; indented semicolon comment\r\n"
		"#[relay commented]\r\n"
		"[ relay   spaced ]\r\n"
		"source = udp://@:5000\r\n"
		";sink = udp://10.0.0.1:1\r\n"
		"sink = udp://10.0.0.1:6000\r\n"
		"   \t  \r\n"
		"sink = tcp://@[::1]:9000\r\n";
	struct config cfg;

	(void)state;
	parse_ok(text, &cfg);
	assert_int_equal(cfg.nrelays, 1);
	assert_string_equal(cfg.relays[0].name, "spaced");
	assert_int_equal(cfg.relays[0].line, 5);
	assert_int_equal(cfg.relays[0].nsinks, 2);
	/* No carriage return left at the end of a URI. */
	assert_string_equal(cfg.relays[0].sinks[0].text, "udp://10.0.0.1:6000");
	assert_string_equal(cfg.relays[0].sinks[1].text, "tcp://@[::1]:9000");
	config_free(&cfg);
}

static void test_no_final_newline(void **state)
{
	struct config cfg;

	(void)state;
	parse_ok("[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:6000",
		 &cfg);
	assert_int_equal(cfg.relays[0].nsinks, 1);
	config_free(&cfg);
}

/* Only len bytes are read: no terminator is needed. */
static void test_length_bounded(void **state)
{
	static const char text[] = "[relay a]\nsource = udp://@:5000\n"
				   "sink = udp://10.0.0.1:6000\ngarbage";
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(config_parse(text, sizeof(text) - 1 - 7, &cfg, err,
				      sizeof(err)), 0);
	config_free(&cfg);
	parse_bad(text, 4, "expected 'key = value'");
}

static void test_indented_lines_are_not_continuations(void **state)
{
	/* inih (INI_ALLOW_MULTILINE) would fold an indented line into the
	 * previous value. Here every line stands alone. */
	static const char text[] =
		"[relay a]\n"
		"source = udp://@239.1.1.1:5000\n"
		"sink = udp://10.0.0.1:6000\n"
		"    sink = udp://10.0.0.2:6000\n"
		"\t\tsink = udp://10.0.0.3:6000\n";
	struct config cfg;

	(void)state;
	parse_ok(text, &cfg);
	assert_int_equal(cfg.relays[0].nsinks, 3);
	assert_string_equal(cfg.relays[0].sinks[1].text, "udp://10.0.0.2:6000");
	assert_string_equal(cfg.relays[0].sinks[2].text, "udp://10.0.0.3:6000");
	config_free(&cfg);

	/* An indented bare value is an error, not a continuation. */
	parse_bad("[relay a]\n"
		  "source = udp://@239.1.1.1:5000\n"
		  "sink = udp://10.0.0.1:6000\n"
		  "    udp://10.0.0.2:6000\n",
		  4, "expected 'key = value' or '[relay NAME]'");
}

static void test_differs_from_inih(void **state)
{
	(void)state;
	/* inih strips inline comments (" ;"); here ';' only starts a whole-line
	 * comment, so it ends up in the URI, which is refused. */
	parse_bad("[relay a]\n"
		  "source = udp://@239.1.1.1:5000 ; the feed\n",
		  2, "bad source URI");
	/* inih accepts ':' as a delimiter. */
	parse_bad("[relay a]\nsource: udp://@239.1.1.1:5000\n", 2,
		  "expected 'key = value'");
	/* inih merges repeated sections; here a name is defined once. */
	parse_bad("[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:1\n"
		  "[relay a]\nsink = udp://10.0.0.2:1\n",
		  4, "relay 'a' already defined on line 1");
	/* inih is case-sensitive only by option; keys here are exact. */
	parse_bad("[relay a]\nSource = udp://@:5000\n", 2,
		  "unknown key 'Source'");
	parse_bad("[Relay a]\n", 1, "unknown section");
	/* inih silently truncates long lines (200 bytes by default); here a
	 * long line is an error (see test_long_line). inih skips a UTF-8 BOM;
	 * here it is an ordinary byte on line 1. */
	parse_bad("\xef\xbb\xbf[relay a]\n", 1, "expected 'key = value'");
	/* inih ignores keys before any section (or puts them in ""); here
	 * they are an error. */
	parse_bad("sink = udp://10.0.0.1:6000\n[relay a]\n", 1,
		  "'sink' outside a [relay NAME] section");
	/* inih allows a trailing comment after a section header. */
	parse_bad("[relay a] # main\n", 1, "section header must end with ']'");
}

static void test_errors_name_line(void **state)
{
	(void)state;
	parse_bad("# c\n[relays a]\n", 2, "unknown section '[relays a]'");
	parse_bad("[global]\n", 1, "unknown section '[global]'");
	parse_bad("[relay]\n", 1, "[relay NAME]");
	parse_bad("\n\n[relay a\n", 3, "section header must end with ']'");
	parse_bad("[relay a]x\n", 1, "section header must end with ']'");
	parse_bad("[relay a b]\n", 1, "bad relay name 'a b'");
	parse_bad("[relay a/b]\n", 1, "bad relay name 'a/b'");
	parse_bad("[relay a=b]\n", 1, "bad relay name 'a=b'");
	parse_bad("[relay "
		  "0123456789012345678901234567890123456789012345678901234567890123"
		  "]\n",
		  1, "bad relay name");
	parse_bad("[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:1\n"
		  "\n# again\n[relay b]\nsource = udp://@:5001\n"
		  "sink = udp://10.0.0.1:2\n[relay a]\n",
		  9, "relay 'a' already defined on line 1");
	parse_bad("source = udp://@:5000\n", 1,
		  "'source' outside a [relay NAME] section");
	parse_bad("[relay a]\nsource = udp://@:5000\ndest = udp://10.0.0.1:1\n",
		  3, "unknown key 'dest': want source, sink, workers or control");
	parse_bad("[relay a]\nsource = udp://@:5000\n = udp://10.0.0.1:1\n", 3,
		  "unknown key ''");
	parse_bad("[relay a]\nsource udp://@:5000\n", 2,
		  "expected 'key = value' or '[relay NAME]'");
	parse_bad("[relay a]\nsource = udp://@:0\n", 2,
		  "bad source URI 'udp://@:0': bad port '0': want 1..65535");
	parse_bad("[relay a]\nsource = udp://@:5000\nsink = udp://@:6000\n", 3,
		  "bad sink URI 'udp://@:6000': a udp sink needs a destination");
	parse_bad("[relay a]\nsource = udp://10.0.0.1:5000\n", 2,
		  "bad source URI 'udp://10.0.0.1:5000': a udp source must be local");
	parse_bad("[relay a]\nsource =\n", 2, "bad source URI ''");
	parse_bad("[relay a]\nsink = tcp://@:9000?chunk=0\n", 2, "bad chunk '0'");
	parse_bad("[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:1\n"
		  "source = udp://@:5001\n",
		  4, "relay 'a' has a source already");
	parse_bad("[relay a]\nsink = udp://10.0.0.1:1\n\n[relay b]\n"
		  "source = udp://@:5001\nsink = udp://10.0.0.1:2\n",
		  1, "relay 'a' has no source");
	parse_bad("[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:1\n"
		  "# b\n[relay b]\nsource = udp://@:5001\n",
		  5, "relay 'b' has no sink");
}

static void test_empty_files(void **state)
{
	(void)state;
	parse_bad_n("", 0, 0, "no [relay NAME], [hub] or [gateway NAME] section");
	parse_bad("\n", 1, "no [relay NAME], [hub] or [gateway NAME] section");
	parse_bad("# only\n; comments\n\n", 3, "no [relay NAME], [hub] or [gateway NAME] section");
}

static void test_long_line(void **state)
{
	char *text = malloc(4096);
	struct config cfg;
	char err[256];
	size_t n;

	(void)state;
	assert_non_null(text);
	/* A comment of exactly 1024 characters is fine... */
	strcpy(text, "[relay a]\nsource = udp://@:5000\nsink = udp://10.0.0.1:1\n#");
	n = strlen(text);
	memset(text + n, 'c', 1023);
	text[n + 1023] = '\0';
	assert_int_equal(config_parse(text, strlen(text), &cfg, err,
				      sizeof(err)), 0);
	config_free(&cfg);
	strcat(text, "\n");
	assert_int_equal(config_parse(text, strlen(text), &cfg, err,
				      sizeof(err)), 0);
	config_free(&cfg);
	/* ...one more is not. */
	text[n + 1023] = 'c';
	text[n + 1024] = '\n';
	text[n + 1025] = '\0';
	parse_bad(text, 4, "line longer than 1024 characters");
	text[n + 1024] = '\0';
	parse_bad(text, 4, "line longer than 1024 characters");
	free(text);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[relay a]\nsource = udp://@:5000\n"
				   "sink = udp://10.0.0.1:1\0junk\n";
	static const char text2[] = "[relay a]\nsource = udp://@:5000\n"
				    "sink = udp://10.0.0.1:1\n\0";

	(void)state;
	parse_bad_n(text, sizeof(text) - 1, 3, "NUL byte in line");
	parse_bad_n(text2, sizeof(text2) - 1, 4, "NUL byte in line");
	parse_bad_n("\0", 1, 1, "NUL byte");
}

static void test_max_sinks(void **state)
{
	char *text = malloc(64 * 1024);
	struct config cfg;
	size_t n;

	(void)state;
	assert_non_null(text);
	n = (size_t)sprintf(text, "[relay a]\nsource = udp://@:5000\n");
	for (int i = 0; i < CONFIG_MAX_SINKS; i++)
		n += (size_t)sprintf(text + n, "sink = udp://10.0.0.1:%d\n",
				     1000 + i);
	parse_ok(text, &cfg);
	assert_int_equal(cfg.relays[0].nsinks, CONFIG_MAX_SINKS);
	assert_int_equal(cfg.relays[0].sinks[63].port, 1063);
	config_free(&cfg);
	sprintf(text + n, "sink = udp://10.0.0.1:2000\n");
	parse_bad(text, 2 + CONFIG_MAX_SINKS + 1, "more than 64 sinks");
	free(text);
}

static void test_many_relays(void **state)
{
	char *text = malloc(64 * 1024);
	struct config cfg;
	size_t n = 0;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(text + n,
				     "[relay r%d]\nsource = udp://@:%d\n"
				     "sink = udp://10.0.0.1:%d\n",
				     i, 1000 + i, 2000 + i);
	parse_ok(text, &cfg);
	assert_int_equal(cfg.nrelays, 100);
	assert_string_equal(cfg.relays[99].name, "r99");
	assert_int_equal(cfg.relays[99].line, 99 * 3 + 1);
	config_free(&cfg);
	free(text);
}

static void test_workers(void **state)
{
	struct config cfg;

	(void)state;
	parse_ok("[relay a]\nsource = udp://@239.1.1.1:5000\n"
		 "sink = tcp://@:6000\nworkers = 2\n", &cfg);
	assert_int_equal(cfg.relays[0].workers, 2);
	config_free(&cfg);
	parse_ok("[relay a]\nsource = udp://@239.1.1.1:5000\n"
		 "sink = tcp://@:6000\n", &cfg);
	assert_int_equal(cfg.relays[0].workers, 1);
	config_free(&cfg);
	parse_bad("[relay a]\nsource = udp://@239.1.1.1:5000\n"
		  "sink = tcp://@:6000\nworkers = 0\n", 4, "bad workers '0'");
	parse_bad("[relay a]\nsource = udp://@239.1.1.1:5000\n"
		  "sink = tcp://@:6000\nworkers = 65\n", 4, "bad workers");
	/* A sink that every worker would feed is named, at the section. */
	parse_bad("# x\n[relay a]\nsource = udp://@239.1.1.1:5000\n"
		  "sink = udp://10.0.0.1:5000\nworkers = 2\n", 2,
		  "udp://10.0.0.1:5000");
	parse_bad("[relay a]\nsource = tcp://@:5000\nsink = tcp://@:6000\n"
		  "workers = 2\n", 1, "multicast group source");
	/* workers is a relay key only. */
	parse_bad("[hub]\nlisten = tcp://@:7000\nworkers = 2\n", 3,
		  "unknown key 'workers'");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
	char path[] = "/tmp/mcferry-test-config-XXXXXX";
	struct config cfg;
	char err[768];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "[relay a]\nsource = udp://@:5000\n"
			 "sink = udp://10.0.0.1:1\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nrelays, 1);
	config_free(&cfg);

	/* Errors name the file, then the line. */
	write_file(path, "[relay a]\nsource = udp://@:5000\nbogus\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_memory_equal(err, path, strlen(path));
	assert_non_null(strstr(err, ": line 3: expected"));
	assert_null(cfg.relays);
	unlink(path);

	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
}

static void test_load_too_big(void **state)
{
	char path[] = "/tmp/mcferry-test-config-XXXXXX";
	struct config cfg;
	char err[512];
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	while (ftell(f) <= (1 << 20))
		fputs("# ............................................................\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
}

/* control = in relay, hub and gateway sections: its line is kept for
 * run --check; a relay's needs workers = 1; a gateway with one may have
 * no channel. A [hub] key before its first listen is no listen line (it
 * wrote listen_lines[-1]). */
static void test_control_keys(void **state)
{
	struct config cfg;

	(void)state;
	parse_ok("[hub]\n"
		 "heartbeat = 300\n"
		 "control = /run/h.ctl\n"
		 "listen = tcp://@:7000\n"
		 "acl = /etc/a\n"
		 "listen = tcp://@:7001\n"
		 "[relay r]\n"
		 "source = udp://@239.1.1.1:5000\n"
		 "control = /run/r.ctl\n"
		 "sink = tcp://@:1601\n"
		 "[gateway g]\n"
		 "hub = tcp://10.0.0.1:7000\n"
		 "iface = lan0\n"
		 "control = /run/g.ctl\n", &cfg);
	assert_string_equal(cfg.hubs[0].control, "/run/h.ctl");
	assert_int_equal(cfg.hubs[0].control_line, 3);
	assert_int_equal(cfg.hubs[0].nlisten, 2);
	assert_int_equal(cfg.hubs[0].listen_lines[0], 4);
	assert_int_equal(cfg.hubs[0].listen_lines[1], 6);
	assert_string_equal(cfg.relays[0].control, "/run/r.ctl");
	assert_int_equal(cfg.relays[0].control_line, 9);
	assert_string_equal(cfg.gateways[0].spec.control, "/run/g.ctl");
	assert_int_equal(cfg.gateways[0].control_line, 14);
	assert_int_equal(cfg.gateways[0].spec.nchans, 0);
	config_free(&cfg);
	parse_bad("[relay r]\nsource = udp://@239.1.1.1:5000\n"
		  "sink = tcp://@:1601\nworkers = 2\ncontrol = /run/r.ctl\n",
		  5, "relay 'r': control needs workers = 1");
	parse_bad("[gateway g]\nhub = tcp://10.0.0.1:7000\niface = lan0\n", 1,
		  "needs a group, export or import (or a control socket");
	parse_bad("[gateway g]\ncontrol = \n", 2, "bad control");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_comments_blank_crlf),
		cmocka_unit_test(test_no_final_newline),
		cmocka_unit_test(test_length_bounded),
		cmocka_unit_test(test_indented_lines_are_not_continuations),
		cmocka_unit_test(test_differs_from_inih),
		cmocka_unit_test(test_errors_name_line),
		cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_max_sinks),
		cmocka_unit_test(test_many_relays),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_too_big),
		cmocka_unit_test(test_control_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
