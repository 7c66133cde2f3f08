/* test_acl.c - unit tests for src/acl.c: the access list parser and its
 * evaluation (identities, actions, channel patterns, deny wins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "acl.h"
#include "channel.h"

static const char *parse_err(const char *text)
{
	static char err[256];
	struct acl a;

	err[0] = '\0';
	if (acl_parse(text, strlen(text), &a, err, sizeof(err)) == 0) {
		acl_free(&a);
		return "";
	}
	assert_int_equal(a.n, 0);
	assert_null(a.v);
	return err;
}

static struct channel ch(const char *text)
{
	struct channel c;
	char err[128];

	assert_int_equal(channel_parse(text, &c, err, sizeof(err)), 0);
	return c;
}

static void parse_ok(const char *text, struct acl *a)
{
	char err[256] = "";

	if (acl_parse(text, strlen(text), a, err, sizeof(err)) != 0)
		fail_msg("acl_parse: %s", err);
}

static const char brief[] =
	"# the example of docs/security.md\n"
	"island  gw-a.example.net  A              # speaks for island A\n"
	"allow   gw-a.example.net  publish   239.1.0.0/16:*\n"
	"allow   *                 subscribe 239.1.0.0/16:5000-5999\n"
	"deny    gw-c.example.net  subscribe 239.1.2.3:5000\n"
	"peer    hub-b.example.net                # relays others' origins\n";

static void test_example(void **state)
{
	struct acl a;
	struct channel c1 = ch("239.1.2.3:5000"), c2 = ch("239.2.0.1:5000"),
		       c3 = ch("239.1.9.9:6000");

	(void)state;
	parse_ok(brief, &a);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.v[0].line, 2);
	assert_int_equal(a.v[4].line, 6);

	/* island rules */
	assert_true(acl_island_ok(&a, "gw-a.example.net", "A"));
	assert_false(acl_island_ok(&a, "gw-a.example.net", "B"));
	assert_false(acl_island_ok(&a, "gw-b.example.net", "A"));
	assert_false(acl_island_ok(&a, "", "A"));

	/* publish: only gw-a, only inside 239.1/16 */
	assert_true(acl_check(&a, "gw-a.example.net", ACL_PUBLISH, &c1));
	assert_true(acl_check(&a, "gw-a.example.net", ACL_PUBLISH, &c3));
	assert_false(acl_check(&a, "gw-a.example.net", ACL_PUBLISH, &c2));
	assert_false(acl_check(&a, "gw-b.example.net", ACL_PUBLISH, &c1));

	/* subscribe: any authenticated identity, ports 5000-5999 */
	assert_true(acl_check(&a, "gw-b.example.net", ACL_SUBSCRIBE, &c1));
	assert_false(acl_check(&a, "gw-b.example.net", ACL_SUBSCRIBE, &c3));
	assert_false(acl_check(&a, "gw-b.example.net", ACL_SUBSCRIBE, &c2));
	/* deny wins */
	assert_false(acl_check(&a, "gw-c.example.net", ACL_SUBSCRIBE, &c1));
	/* the anonymous link matches no '*' rule */
	assert_false(acl_check(&a, "", ACL_SUBSCRIBE, &c1));

	/* peer */
	assert_true(acl_is_peer(&a, "hub-b.example.net"));
	assert_false(acl_is_peer(&a, "gw-a.example.net"));
	assert_false(acl_is_peer(&a, ""));
	acl_free(&a);
	assert_int_equal(a.n, 0);
}

static void test_anonymous(void **state)
{
	struct acl a;
	struct channel c = ch("239.1.2.3:5000");

	(void)state;
	parse_ok("island - LAB\nallow - * *\ndeny * * *\npeer -\n", &a);
	assert_true(acl_island_ok(&a, "", "LAB"));
	assert_false(acl_island_ok(&a, "x", "LAB"));
	assert_true(acl_check(&a, "", ACL_PUBLISH, &c));
	assert_true(acl_check(&a, "", ACL_SUBSCRIBE, &c));
	/* '*' is every authenticated identity, not the anonymous one */
	assert_false(acl_check(&a, "x", ACL_PUBLISH, &c));
	assert_true(acl_is_peer(&a, ""));
	assert_false(acl_is_peer(&a, "x"));
	acl_free(&a);
}

static void test_empty_denies(void **state)
{
	struct acl a;
	struct channel c = ch("239.1.2.3:5000");

	(void)state;
	parse_ok("# nothing\n\n   \t\r\n", &a);
	assert_int_equal(a.n, 0);
	assert_false(acl_check(&a, "x", ACL_PUBLISH, &c));
	assert_false(acl_check(&a, "", ACL_SUBSCRIBE, &c));
	assert_false(acl_island_ok(&a, "x", "A"));
	assert_false(acl_is_peer(&a, "x"));
	acl_free(&a);
	parse_ok("", &a);
	assert_int_equal(a.n, 0);
	acl_free(&a);
}

static void test_island_star(void **state)
{
	struct acl a;

	(void)state;
	parse_ok("island root *\nisland * OPEN\n", &a);
	assert_true(acl_island_ok(&a, "root", "anything"));
	assert_true(acl_island_ok(&a, "someone", "OPEN"));
	assert_false(acl_island_ok(&a, "someone", "CLOSED"));
	assert_false(acl_island_ok(&a, "", "OPEN"));
	acl_free(&a);
}

static void test_channels(void **state)
{
	struct acl a;

	(void)state;
	parse_ok("allow p * 239.1.2.3:5000\n"
		 "allow q publish *:7000\n"
		 "allow r subscribe [ff3e::]/16:5000-5001\n"
		 "allow s * 10.0.0.0/8@232.0.0.0/8:*\n"
		 "allow t * *@232.1.1.1:9\n"
		 "allow u * *\n"
		 "allow v publish [ff3e::1]:5000\n",
		 &a);
	/* exact group and port; ASM and SSM of that group alike */
	{
		struct channel c = ch("239.1.2.3:5000");
		struct channel s = ch("10.1.1.1@239.1.2.3:5000");
		struct channel o = ch("239.1.2.3:5001");

		assert_true(acl_check(&a, "p", ACL_PUBLISH, &c));
		assert_true(acl_check(&a, "p", ACL_SUBSCRIBE, &c));
		assert_true(acl_check(&a, "p", ACL_SUBSCRIBE, &s));
		assert_false(acl_check(&a, "p", ACL_SUBSCRIBE, &o));
	}
	/* any group, one port, either family */
	{
		struct channel c4 = ch("224.9.9.9:7000");
		struct channel c6 = ch("[ff02::9]:7000");

		assert_true(acl_check(&a, "q", ACL_PUBLISH, &c4));
		assert_true(acl_check(&a, "q", ACL_PUBLISH, &c6));
		assert_false(acl_check(&a, "q", ACL_SUBSCRIBE, &c4));
	}
	/* IPv6 prefix and port range; an IPv4 channel never matches */
	{
		struct channel in = ch("[ff3e::1234]:5001");
		struct channel out = ch("[ff3f::1]:5000");
		struct channel v4 = ch("239.0.0.1:5000");
		struct channel hi = ch("[ff3e::1]:5002");

		assert_true(acl_check(&a, "r", ACL_SUBSCRIBE, &in));
		assert_false(acl_check(&a, "r", ACL_SUBSCRIBE, &out));
		assert_false(acl_check(&a, "r", ACL_SUBSCRIBE, &v4));
		assert_false(acl_check(&a, "r", ACL_SUBSCRIBE, &hi));
	}
	/* SSM source block: only SSM channels with a source inside */
	{
		struct channel ok = ch("10.2.3.4@232.1.1.1:5000");
		struct channel bad = ch("11.2.3.4@232.1.1.1:5000");
		struct channel asm_ = ch("232.1.1.1:5000");

		assert_true(acl_check(&a, "s", ACL_PUBLISH, &ok));
		assert_false(acl_check(&a, "s", ACL_PUBLISH, &bad));
		assert_false(acl_check(&a, "s", ACL_PUBLISH, &asm_));
	}
	/* '*@': any source, but SSM only */
	{
		struct channel ssm = ch("1.2.3.4@232.1.1.1:9");
		struct channel asm_ = ch("232.1.1.1:9");

		assert_true(acl_check(&a, "t", ACL_SUBSCRIBE, &ssm));
		assert_false(acl_check(&a, "t", ACL_SUBSCRIBE, &asm_));
	}
	/* '*' channels */
	{
		struct channel c = ch("[ff05::77]:1");

		assert_true(acl_check(&a, "u", ACL_PUBLISH, &c));
		assert_true(acl_check(&a, "u", ACL_SUBSCRIBE, &c));
	}
	/* a /128 */
	{
		struct channel c = ch("[ff3e::1]:5000");
		struct channel d = ch("[ff3e::2]:5000");

		assert_true(acl_check(&a, "v", ACL_PUBLISH, &c));
		assert_false(acl_check(&a, "v", ACL_PUBLISH, &d));
	}
	acl_free(&a);
}

static void test_prefix_bits(void **state)
{
	struct acl a;
	struct channel in = ch("239.1.127.1:1"), out = ch("239.1.128.1:1");

	(void)state;
	parse_ok("allow x * 239.1.0.0/17:*\nallow y * 0.0.0.0/0:*\n", &a);
	assert_true(acl_check(&a, "x", ACL_PUBLISH, &in));
	assert_false(acl_check(&a, "x", ACL_PUBLISH, &out));
	assert_true(acl_check(&a, "y", ACL_PUBLISH, &out));
	acl_free(&a);
}

static void test_deny_wins(void **state)
{
	struct acl a;
	struct channel c = ch("239.1.2.3:5000"), d = ch("239.1.2.4:5000");

	(void)state;
	/* the deny comes first or last: it wins either way */
	parse_ok("deny g * 239.1.2.3:*\nallow g * *\n", &a);
	assert_false(acl_check(&a, "g", ACL_PUBLISH, &c));
	assert_true(acl_check(&a, "g", ACL_PUBLISH, &d));
	acl_free(&a);
	parse_ok("allow g * *\ndeny * publish 239.1.2.3:5000\n", &a);
	assert_false(acl_check(&a, "g", ACL_PUBLISH, &c));
	assert_true(acl_check(&a, "g", ACL_SUBSCRIBE, &c));
	acl_free(&a);
}

static void test_bad_files(void **state)
{
	char longid[300];

	(void)state;
	assert_string_equal(parse_err("permit a * *\n"),
			    "line 1: unknown rule 'permit': want island, "
			    "allow, deny or peer");
	assert_string_equal(parse_err("# c\nisland a\n"),
			    "line 2: too few fields: want island IDENTITY "
			    "ISLAND");
	assert_string_equal(parse_err("island a B C\n"),
			    "line 1: too many fields: want island IDENTITY "
			    "ISLAND");
	assert_string_equal(parse_err("peer\n"),
			    "line 1: too few fields: want peer IDENTITY");
	assert_string_equal(parse_err("peer a b\n"),
			    "line 1: too many fields: want peer IDENTITY");
	assert_string_equal(parse_err("allow a * * x y\n"),
			    "line 1: too many fields");
	assert_string_equal(parse_err("allow a *\n"),
			    "line 1: too few fields: want allow|deny "
			    "IDENTITY ACTION CHANNELS");
	assert_string_equal(parse_err("allow a read * x\n"),
			    "line 1: too many fields: want allow|deny "
			    "IDENTITY ACTION CHANNELS");
	assert_string_equal(parse_err("allow a read *\n"),
			    "line 1: bad action 'read': want publish, "
			    "subscribe or *");
	assert_string_equal(parse_err("allow a * 239.1.2.3\n"),
			    "line 1: bad channels '239.1.2.3': want * or "
			    "[SOURCE@]GROUP:PORTS");
	assert_string_equal(parse_err("allow a * [ff3e::1]\n"),
			    "line 1: bad channels '[ff3e::1]': want * or "
			    "[SOURCE@]GROUP:PORTS");
	assert_string_equal(parse_err("allow a * [ff3e::1:5\n"),
			    "line 1: bad channels '[ff3e::1:5': want * or "
			    "[SOURCE@]GROUP:PORTS");
	assert_string_equal(parse_err("allow a * 239.1.2.300:1\n"),
			    "line 1: bad group '239.1.2.300': not an IPv4 "
			    "address");
	assert_string_equal(parse_err("allow a * 239.1.2.3/33:1\n"),
			    "line 1: bad group '239.1.2.3/33': /LEN must be "
			    "0..32");
	assert_string_equal(parse_err("allow a * 239.1.2.3/x:1\n"),
			    "line 1: bad group '239.1.2.3/x': want /LEN");
	assert_string_equal(parse_err("allow a * 239.1.2.3/16:1\n"),
			    "line 1: bad group '239.1.2.3/16': bits set past "
			    "/16");
	assert_string_equal(parse_err("allow a * [ff3e::]/129:1\n"),
			    "line 1: bad group '[ff3e::]/129': /LEN must be "
			    "0..128");
	assert_string_equal(parse_err("allow a * [ff3e::]x:1\n"),
			    "line 1: bad group '[ff3e::]x': junk after ']'");
	assert_string_equal(parse_err("allow a * [239.1.2.3]:1\n"),
			    "line 1: bad group '[239.1.2.3]': not an IPv6 "
			    "address");
	assert_string_equal(parse_err("allow a * 1.2.3.4@[ff3e::1]:1\n"),
			    "line 1: source and group of different families");
	assert_string_equal(parse_err("allow a * 1.2.3@232.1.1.1:1\n"),
			    "line 1: bad source '1.2.3': not an IPv4 address");
	assert_string_equal(parse_err("allow a * 239.1.2.3:0\n"),
			    "line 1: bad ports '0': want *, N or N-M "
			    "(1..65535, N <= M)");
	assert_string_equal(parse_err("allow a * 239.1.2.3:65536\n"),
			    "line 1: bad ports '65536': want *, N or N-M "
			    "(1..65535, N <= M)");
	assert_string_equal(parse_err("allow a * 239.1.2.3:6-5\n"),
			    "line 1: bad ports '6-5': want *, N or N-M "
			    "(1..65535, N <= M)");
	assert_string_equal(parse_err("allow a * 239.1.2.3:5-\n"),
			    "line 1: bad ports '5-': want *, N or N-M "
			    "(1..65535, N <= M)");
	assert_string_equal(parse_err("allow a * 239.1.2.3:\n"),
			    "line 1: bad ports '': want *, N or N-M "
			    "(1..65535, N <= M)");
	assert_string_equal(parse_err("island a 01234567890123456789012345"
				      "678901234567890123456789012345678901"
				      "234\n"),
			    "line 1: island name longer than 64 bytes");
	memset(longid, 'i', 256);
	memcpy(longid, "peer ", 5);
	longid[261] = '\0';
	memset(longid + 5, 'i', 256);
	assert_string_equal(parse_err(longid),
			    "line 1: identity longer than 255 bytes");
	assert_string_equal(parse_err("peer a\x01"
				      "b\n"),
			    "line 1: identity has a control character");
	{
		static const char nul[] = "peer a\n\npeer b\0c\n";
		char err[128];
		struct acl a;

		assert_int_equal(acl_parse(nul, sizeof(nul) - 1, &a, err,
					   sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "line 3: NUL byte");
	}
	/* the error is on the right line after good ones */
	assert_string_equal(parse_err("peer a\n# x\nisland a A\nallow\n"),
			    "line 4: too few fields: want allow|deny "
			    "IDENTITY ACTION CHANNELS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_empty_denies),
		cmocka_unit_test(test_island_star),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_prefix_bits),
		cmocka_unit_test(test_deny_wins),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
