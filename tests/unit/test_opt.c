/* test_opt.c - unit tests for src/opt.c: the command line and the config
 * file take and refuse the same values with the same words; the table is
 * sane; --help and the man pages list every row. Run with the docs
 * directory as the first argument (tests/unit/meson.build does). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "opt.h"

static const char *docs_dir = "docs";

/* What each command needs besides the option under test, as argv words
 * and as the lines of a section of the same name. */
static const struct base {
	const char *cmd, *argv[8], *section, *lines;
} bases[] = {
	{ "relay", { "udp://@239.1.1.1:5000", "tcp://@:6000", NULL },
	  "[relay relay]",
	  "source = udp://@239.1.1.1:5000\nsink = tcp://@:6000\n" },
	{ "hub", { "--listen", "tcp://@:7000", NULL }, "[hub]",
	  "listen = tcp://@:7000\n" },
	{ "gateway",
	  { "--hub", "tcp://h:7000", "--iface", "eth0", "--group",
	    "239.1.1.1:5000", NULL },
	  "[gateway gateway]",
	  "hub = tcp://h:7000\niface = eth0\ngroup = 239.1.1.1:5000\n" },
};

static const struct base *base_of(const char *cmd)
{
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (!strcmp(bases[i].cmd, cmd))
			return &bases[i];
	fail_msg("no base for %s", cmd);
	return NULL;
}

/* mcferry CMD BASE... --KEY VALUE (for relay's sink: the URI as a second
 * SINK word). Returns the rc; the message, without "--KEY: ", in msg. */
static int cli_path(const char *cmd, const char *key, const char *value,
		    struct opt_cli *cli, char *msg, size_t len)
{
	const struct base *b = base_of(cmd);
	char *argv[16], flag[64], prefix[64], err[1024] = "";
	int argc = 0, rc;

	argv[argc++] = "mcferry";
	argv[argc++] = (char *)cmd;
	for (int i = 0; b->argv[i]; i++)
		argv[argc++] = (char *)b->argv[i];
	snprintf(flag, sizeof(flag), "--%s", key);
	if (strcmp(key, "sink"))
		argv[argc++] = flag;
	argv[argc++] = (char *)value;
	argv[argc] = NULL;
	rc = opt_cli_parse(argc, argv, cli, err, sizeof(err));
	snprintf(prefix, sizeof(prefix), "--%s: ", key);
	snprintf(msg, len, "%s",
		 strncmp(err, prefix, strlen(prefix)) ? err
						       : err + strlen(prefix));
	return rc;
}

/* The same as a file: the section, its base lines, "KEY = VALUE". The
 * message without "line N: ". */
static int config_path(const char *cmd, const char *key, const char *value,
		       struct config *cfg, char *msg, size_t len)
{
	const struct base *b = base_of(cmd);
	char text[2048], err[1024] = "";
	const char *p;
	int rc;

	snprintf(text, sizeof(text), "# test\n%s\n%s%s = %s\n", b->section,
		 b->lines, key, value);
	rc = config_parse(text, strlen(text), cfg, err, sizeof(err));
	p = err;
	if (!strncmp(p, "line ", 5) && strstr(p, ": "))
		p = strstr(p, ": ") + 2;
	snprintf(msg, len, "%s", p);
	return rc;
}

/* Both paths refuse value with the same message, which holds needle. */
static void same_bad(const char *cmd, const char *key, const char *value,
		     const char *needle)
{
	struct opt_cli cli;
	struct config cfg;
	char m1[1024], m2[1024];
	int r1 = cli_path(cmd, key, value, &cli, m1, sizeof(m1));
	int r2 = config_path(cmd, key, value, &cfg, m2, sizeof(m2));

	if (r1 != -EINVAL || r2 != -EINVAL || strcmp(m1, m2) ||
	    !strstr(m1, needle))
		print_error("%s %s='%s':\n  cli    (%d) '%s'\n  config (%d) '%s'\n"
			    "  want both -EINVAL with '%s'\n",
			    cmd, key, value, r1, m1, r2, m2, needle);
	assert_int_equal(r1, -EINVAL);
	assert_int_equal(r2, -EINVAL);
	assert_string_equal(m1, m2);
	assert_non_null(strstr(m1, needle));
}

/* Both paths take value and make the same section of it. */
static void same_good(const char *cmd, const char *key, const char *value)
{
	struct opt_cli cli;
	struct config cfg;
	char m1[1024], m2[1024];
	int r1 = cli_path(cmd, key, value, &cli, m1, sizeof(m1));
	int r2 = config_path(cmd, key, value, &cfg, m2, sizeof(m2));

	if (r1 || r2)
		print_error("%s %s='%s':\n  cli    (%d) '%s'\n  config (%d) '%s'\n",
			    cmd, key, value, r1, m1, r2, m2);
	assert_int_equal(r1, 0);
	assert_int_equal(r2, 0);
	assert_int_equal(cli.cfg.nrelays, cfg.nrelays);
	assert_int_equal(cli.cfg.nhubs, cfg.nhubs);
	assert_int_equal(cli.cfg.ngateways, cfg.ngateways);
	if (cfg.nrelays) {
		const struct config_relay *a = &cli.cfg.relays[0],
					  *b = &cfg.relays[0];

		assert_string_equal(a->name, b->name);
		assert_int_equal(a->workers, b->workers);
		assert_int_equal(a->nsinks, b->nsinks);
		for (size_t i = 0; i < a->nsinks; i++)
			assert_memory_equal(&a->sinks[i], &b->sinks[i],
					    sizeof(a->sinks[i]));
		assert_memory_equal(&a->source, &b->source, sizeof(a->source));
	}
	if (cfg.nhubs) {
		assert_int_equal(cli.cfg.hubs[0].nlisten, cfg.hubs[0].nlisten);
		for (size_t i = 0; i < cfg.hubs[0].nlisten; i++)
			assert_memory_equal(&cli.cfg.hubs[0].listen[i],
					    &cfg.hubs[0].listen[i],
					    sizeof(struct uri));
	}
	if (cfg.ngateways)
		assert_memory_equal(&cli.cfg.gateways[0].spec,
				    &cfg.gateways[0].spec,
				    sizeof(struct gateway_spec));
	config_free(&cli.cfg);
	config_free(&cfg);
}

static void test_same_ttl(void **state)
{
	(void)state;
	/* The config file took "+5" and "-0" (strtol), the command line
	 * refused them; a URI's ttl= refused them too. */
	same_bad("gateway", "ttl", "+5", "bad ttl '+5': want 0..255");
	same_bad("gateway", "ttl", "-0", "bad ttl '-0': want 0..255");
	same_bad("gateway", "ttl", "256", "bad ttl '256': want 0..255");
	same_bad("gateway", "ttl", "", "bad ttl '': want 0..255");
	same_bad("gateway", "ttl", "-1", "bad ttl '-1'");
	same_bad("gateway", "ttl", "0x10", "bad ttl '0x10'");
	same_bad("gateway", "ttl", "99999999999999999999", "bad ttl");
	same_good("gateway", "ttl", "0");
	same_good("gateway", "ttl", "255");
	same_good("gateway", "ttl", "007");
	/* And as a URI option, in a sink of a relay. */
	same_bad("relay", "sink", "udp://239.1.1.1:5000?ttl=+5",
		 "bad sink URI 'udp://239.1.1.1:5000?ttl=+5': bad ttl '+5': "
		 "want 0..255");
	same_bad("relay", "sink", "udp://239.1.1.1:5000?ttl=",
		 "bad ttl '': want 0..255");
	same_good("relay", "sink", "udp://239.1.1.1:5000?ttl=4");
}

static void test_same_workers(void **state)
{
	(void)state;
	same_bad("relay", "workers", "0", "bad workers '0': want 1..64");
	same_bad("relay", "workers", "65", "bad workers '65': want 1..64");
	same_bad("relay", "workers", "x", "bad workers 'x'");
	same_bad("relay", "workers", "", "bad workers ''");
	same_bad("relay", "workers", "+2", "bad workers '+2'");
	same_good("relay", "workers", "1");
	same_good("relay", "workers", "64");
}

static void test_same_strings(void **state)
{
	char long_name[80];

	(void)state;
	/* --iface '' was taken, and then "needs an iface"; the file said
	 * "bad iface ''". */
	same_bad("gateway", "iface", "", "bad iface '': want 1..63 characters");
	memset(long_name, 'i', 64);
	long_name[64] = '\0';
	same_bad("gateway", "iface", long_name, "want 1..63 characters");
	same_good("gateway", "iface", "10.9.0.2");
	same_bad("gateway", "island", "", "bad island '': want 1..64 characters");
	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	same_bad("gateway", "island", long_name, "want 1..64 characters");
	long_name[64] = '\0';
	same_good("gateway", "island", long_name);
}

static void test_same_uris(void **state)
{
	(void)state;
	same_bad("gateway", "hub", "tcp://@:7000",
		 "bad hub URI 'tcp://@:7000': want tcp://HOST:PORT");
	same_bad("gateway", "hub", "udp://h:1", "bad hub URI 'udp://h:1'");
	same_bad("gateway", "hub", "tcp://h:0", "bad port '0'");
	same_bad("gateway", "hub", "tcp://h:7000?ttl=1", "option 'ttl'");
	same_good("gateway", "hub", "tcp://other:7001");
	same_bad("hub", "listen", "tcp://h:7000",
		 "bad listen URI 'tcp://h:7000': want tcp://@[ADDR]:PORT");
	same_bad("hub", "listen", "udp://@:7000", "a udp sink needs a destination");
	same_good("hub", "listen", "tcp://@[::1]:7001");
	/* URI options, as a relay's sink. */
	same_bad("relay", "sink", "tcp://@:6001?queue=1k", "bad queue '1k'");
	same_bad("relay", "sink", "tcp://@:6001?queue=65535",
		 "bad queue '65535': want 65536..17179869184 bytes");
	same_bad("relay", "sink", "tcp://@:6001?chunk=0", "bad chunk '0'");
	same_bad("relay", "sink", "tcp://@:6001?framing=bogus",
		 "bad framing 'bogus': want raw, datagram or auto");
	same_bad("relay", "sink", "udp://239.1.1.1:1?loop=2",
		 "bad loop '2': want 0 or 1");
	same_bad("relay", "sink", "tcp://@:6001?softsecs=0", "bad softsecs '0'");
	same_bad("relay", "sink", "tcp://@:6001?bogus=1",
		 "unknown option 'bogus'");
	same_good("relay", "sink", "tcp://@:6001?queue=65536&framing=auto");
	same_good("relay", "sink", "tcp://@:6001?framing=raw&soft=1024");
}

static void test_same_channels(void **state)
{
	(void)state;
	same_bad("gateway", "group", "10.0.0.1:5000", "not a multicast group");
	same_bad("gateway", "export", "239.1.1.1", "bad export: channel");
	same_bad("gateway", "export", "239.2.2.2:5000=239.3.3.3:5000",
		 "only import takes =LOCAL_GROUP:PORT");
	same_bad("gateway", "import", "239.2.2.2:5000=[ff15::1]:5000",
		 "local channel of another IP family");
	same_bad("gateway", "group", "239.1.1.1:5000",
		 "channel '239.1.1.1:5000' given twice");
	same_good("gateway", "import", "239.2.2.2:5000=239.3.3.3:5001");
	same_good("gateway", "export", "10.0.0.5@232.1.1.1:5000");
}

/* Out of place: a flag that the command does not take, a key that the
 * section does not have. */
static void test_scope(void **state)
{
	struct opt_cli cli;
	char err[512];
	char *a1[] = { "mcferry", "hub", "--listen", "tcp://@:7000",
		       "--workers", "2", NULL };
	char *a2[] = { "mcferry", "relay", "--ttl", "2", "udp://@:1",
		       "udp://h:1", NULL };
	char *a3[] = { "mcferry", "relay", "--check", "udp://@:1",
		       "udp://h:1", NULL };

	(void)state;
	assert_int_equal(opt_cli_parse(6, a1, &cli, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--workers applies to 'relay' "
				 "(in a file: workers = N)");
	assert_int_equal(opt_cli_parse(6, a2, &cli, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--ttl applies to 'gateway' "
				 "(in a file: ttl = N)");
	assert_int_equal(opt_cli_parse(5, a3, &cli, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--check applies to 'run'");
	assert_null(opt_find("workers", AT_CONF_HUB));
	assert_non_null(opt_find("workers", AT_CONF_RELAY));
	assert_null(opt_find("ttl", AT_CLI_RELAY));
	assert_non_null(opt_find("ttl", AT_UDP_SINK));
	assert_true(opt_find("iface", AT_UDP) != opt_find("iface", AT_CLI));
}

/* ---- the table itself ------------------------------------------------- */

static void test_table_sane(void **state)
{
	(void)state;
	assert_true(opt_count > 0);
	for (size_t i = 0; i < opt_count; i++) {
		const struct opt *o = &opt_table[i];
		union opt_value v;
		char err[256];

		if (!o->name || !o->doc || !o->at ||
		    (o->type != OPT_FLAG && !o->arg))
			fail_msg("row %zu (%s): name, doc, at and arg", i,
				 o->name ? o->name : "?");
		/* A name is one row wherever it applies. */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(opt_table[j].name, o->name) &&
			    (opt_table[j].at & o->at))
				fail_msg("rows %zu and %zu are both '%s'", j, i,
					 o->name);
		/* A default that is a value parses as one. */
		if (o->def && !(o->flags & OPTF_UNSET) &&
		    opt_parse(o, o->def, &v, err, sizeof(err)))
			fail_msg("default of %s: %s", o->name, err);
		/* A URI row belongs to URIs only, the others to no URI. */
		assert_int_equal(o->obj == OBJ_URI, (o->at & AT_URI) != 0);
		assert_false((o->at & AT_URI) && (o->at & ~AT_URI));
	}
}

/* The defaults a fresh struct holds are the table's. */
static void test_defaults(void **state)
{
	struct uri u;
	char err[256];
	struct gateway_spec *g = malloc(sizeof(*g));
	const struct opt *o;
	union opt_value v;

	(void)state;
	assert_int_equal(uri_parse("tcp://@:9000", &u, err, sizeof(err)), 0);
	o = opt_find("chunk", AT_URI);
	assert_int_equal(opt_parse(o, o->def, &v, err, sizeof(err)), 0);
	assert_int_equal(u.chunk, v.u);
	assert_int_equal(URI_DEFAULT_CHUNK, v.u);
	o = opt_find("queue", AT_URI);
	assert_int_equal(opt_parse(o, o->def, &v, err, sizeof(err)), 0);
	assert_int_equal(u.queue, v.u);
	assert_int_equal(URI_DEFAULT_QUEUE, v.u);
	o = opt_find("softsecs", AT_URI);
	assert_int_equal(opt_parse(o, o->def, &v, err, sizeof(err)), 0);
	assert_int_equal(u.softsecs, v.u);
	assert_int_equal(URI_DEFAULT_SOFTSECS, v.u);
	o = opt_find("framing", AT_URI);
	assert_int_equal(opt_parse(o, o->def, &v, err, sizeof(err)), 0);
	assert_int_equal(u.framing, FRAMING_AUTO);
	assert_int_equal(v.u, FRAMING_AUTO);
	assert_false(u.set_framing || u.set_chunk || u.set_queue);
	for (size_t i = 0; i < URI_GIVEN_WORDS; i++)
		assert_int_equal(u.given[i], 0);
	o = opt_find("ttl", AT_URI);
	assert_string_equal(o->def, "1");
	assert_int_equal(URI_DEFAULT_TTL, 1);

	gateway_spec_init(g, "g");
	assert_int_equal(g->ttl, 1);
	assert_string_equal(opt_find("ttl", AT_CONF_GATEWAY)->def, "1");
	free(g);
}

/* ---- --help and the man pages ------------------------------------------ */

static char *slurp(const char *name)
{
	char path[1024];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof(path), "%s/%s", docs_dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run with the docs directory as "
			 "argument)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* --help into a string; the caller frees it. */
static char *help_text(void)
{
	static char *buf;
	static size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	opt_help(f);
	fclose(f);
	return buf;
}

static void must_hold(const char *what, const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("%s lacks '%s'", what, needle);
}

static void test_every_row_documented(void **state)
{
	char *help = help_text(), *man1 = slurp("mcferry.1.scd"),
	     *man5 = slurp("mcferry.conf.5.scd"), needle[128];

	(void)state;
	for (size_t i = 0; i < opt_count; i++) {
		const struct opt *o = &opt_table[i];

		if (o->at & AT_CLI) {
			snprintf(needle, sizeof(needle), "--%s", o->name);
			must_hold("--help", help, needle);
			snprintf(needle, sizeof(needle), "*--%s*", o->name);
			must_hold("mcferry.1", man1, needle);
		}
		if (o->at & AT_URI) {
			snprintf(needle, sizeof(needle), "  %s=%s", o->name,
				 o->arg);
			must_hold("--help", help, needle);
			snprintf(needle, sizeof(needle), "*%s=", o->name);
			must_hold("mcferry.1", man1, needle);
		}
		if (o->at & AT_CONF) {
			snprintf(needle, sizeof(needle), "*%s =*", o->name);
			must_hold("mcferry.conf.5", man5, needle);
		}
	}
	must_hold("mcferry.1", man1, "framing=auto");
	must_hold("mcferry.conf.5", man5, "framing=auto");
	free(help);
	free(man1);
	free(man5);
}

/* Collapse blanks; drop scdoc's markup (*bold*, _underline_, \[). */
static void normalize(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 1 < len; p++) {
		bool alnum_before = p > in && ((p[-1] >= 'A' && p[-1] <= 'Z') ||
					       (p[-1] >= 'a' && p[-1] <= 'z'));
		bool alnum_after = (p[1] >= 'A' && p[1] <= 'Z') ||
				   (p[1] >= 'a' && p[1] <= 'z');

		if (*p == '*' || *p == '\\' ||
		    (*p == '_' && !(alnum_before && alnum_after)))
			continue;
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
			continue;
		}
		out[n++] = *p;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* The usage lines of --help are the SYNOPSIS of mcferry.1. */
static void test_help_matches_synopsis(void **state)
{
	char *help = help_text(), *man1 = slurp("mcferry.1.scd");
	char *syn = strstr(man1, "# SYNOPSIS\n"), *end, *usage_end, *usage;
	char a[4096], b[4096];

	(void)state;
	assert_non_null(syn);
	syn += strlen("# SYNOPSIS\n");
	end = strstr(syn, "\n# ");
	assert_non_null(end);
	*end = '\0';
	normalize(syn, b, sizeof(b));
	assert_memory_equal(help, "usage: ", 7);
	usage_end = strstr(help, "\n\n");
	assert_non_null(usage_end);
	usage = strndup(help + 7, (size_t)(usage_end - help) - 7);
	normalize(usage, a, sizeof(a));
	free(usage);
	if (strcmp(a, b))
		print_error("--help usage:\n  %s\nmcferry.1 SYNOPSIS:\n  %s\n", a,
			    b);
	assert_string_equal(a, b);
	free(help);
	free(man1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_ttl),
		cmocka_unit_test(test_same_workers),
		cmocka_unit_test(test_same_strings),
		cmocka_unit_test(test_same_uris),
		cmocka_unit_test(test_same_channels),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_table_sane),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_row_documented),
		cmocka_unit_test(test_help_matches_synopsis),
	};

	if (argc > 1)
		docs_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
