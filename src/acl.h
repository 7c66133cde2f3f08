/* acl.h - the hub's access list (--acl FILE): which authenticated
 * identity may speak for which islands, publish or subscribe to which
 * channels, and relay other nodes' origins. Pure: text in, rules out, and
 * questions answered from the rules; no sockets, no files, no logging.
 *
 * One rule a line; '#' starts a comment; fields are separated by blanks:
 *
 *   island IDENTITY ISLAND            IDENTITY may say HELLO for ISLAND
 *   allow  IDENTITY ACTION CHANNELS   IDENTITY may ACTION those channels
 *   deny   IDENTITY ACTION CHANNELS   ... may not, whatever allows it
 *   peer   IDENTITY                   IDENTITY may carry others' origins
 *
 *   IDENTITY  a link's authenticated name, matched exactly; '*' is any
 *             authenticated identity; '-' is an anonymous link (plain
 *             tcp, or TLS without a client certificate), which nothing
 *             else matches.
 *   ISLAND    an island name, matched exactly, or '*' (any island).
 *   ACTION    publish (EXPORT, DATA), subscribe (JOIN) or '*' (both).
 *   CHANNELS  '*' (every channel), or [SOURCE@]GROUP:PORTS with
 *             GROUP and SOURCE '*', an IPv4 address or a bracketed IPv6
 *             address, each with an optional /LEN (bits past LEN must be
 *             zero), and PORTS '*', N or N-M. Without SOURCE@ a rule
 *             matches a channel by group and port whatever its source
 *             (ASM and SSM alike); with it, only SSM channels whose
 *             source is in SOURCE.
 *
 * Evaluation: a deny rule that matches wins over every allow rule; with
 * no matching allow rule the answer is no (default deny). The caller
 * decides what having no ACL at all means (the hub: open).
 */
#ifndef MCFERRY_ACL_H
#define MCFERRY_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"

#define ACL_IDENTITY_MAX 255
#define ACL_ISLAND_MAX 64
#define ACL_RULES_MAX 65536

enum acl_action { ACL_PUBLISH = 1u << 0, ACL_SUBSCRIBE = 1u << 1 };

enum acl_kind { ACL_ISLAND, ACL_ALLOW, ACL_DENY, ACL_PEER };

/* An address block: family 0 is '*' (any address of either family). */
struct acl_net {
	uint8_t family;          /* 0, 4 or 6 */
	uint8_t len;             /* prefix length */
	uint8_t addr[16];
};

struct acl_rule {
	enum acl_kind kind;
	unsigned line;
	char *identity;          /* "*", "-" or a name */
	char *island;            /* ACL_ISLAND: a name or "*" */
	unsigned actions;        /* ACL_ALLOW, ACL_DENY: enum acl_action bits */
	bool any_channel;        /* CHANNELS was '*' */
	bool has_source;         /* SOURCE@ was given */
	struct acl_net source, group;
	uint16_t port_lo, port_hi;
};

struct acl {
	struct acl_rule *v;
	size_t n;
};

/* Parse len bytes of text (NUL bytes are refused) into acl. 0, or
 * -EINVAL with "line N: reason" in err and acl empty. A file of comments
 * only is valid: it denies everything. */
int acl_parse(const char *text, size_t len, struct acl *acl, char *err,
	      size_t errlen);
/* Free what acl_parse made; acl is empty afterwards. */
void acl_free(struct acl *acl);
/* May identity ("" when anonymous) do action (one enum acl_action) on ch? */
bool acl_check(const struct acl *acl, const char *identity,
	       enum acl_action action, const struct channel *ch);
/* May identity say HELLO for island? */
bool acl_island_ok(const struct acl *acl, const char *identity,
		   const char *island);
/* May identity's links carry DATA of origins other than their own? */
bool acl_is_peer(const struct acl *acl, const char *identity);

#endif
