/* acl.c - the hub's access list: parser and evaluation; see acl.h. */
#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ACL_FIELDS_MAX 4
#define ACL_TOKEN_MAX 320

static bool acl_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* ---- fields ------------------------------------------------------------ */

/* IDENTITY: '*', '-' or 1..ACL_IDENTITY_MAX bytes, none of them a control
 * character (the tokenizer has taken out blanks and '#'). */
static int acl_parse_identity(const char *t, size_t line, char *err,
			      size_t errlen)
{
	size_t n = strlen(t);

	if (n > ACL_IDENTITY_MAX)
		return err_invalid_line(err, errlen, line,
				"identity longer than %d bytes",
				ACL_IDENTITY_MAX);
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return err_invalid_line(err, errlen, line,
					"identity has a control character");
	return 0;
}

/* ADDR[/LEN], ADDR an IPv4 address or a bracketed IPv6 one, or '*'. */
static int acl_parse_net(const char *t, struct acl_net *net, size_t line,
			 const char *what, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *addr = t, *slash;
	size_t alen, max;
	unsigned long len;
	char *end;

	memset(net, 0, sizeof(*net));
	if (!strcmp(t, "*"))
		return 0;
	if (t[0] == '[') {
		const char *close = strchr(t, ']');

		if (!close)
			return err_invalid_line(err, errlen, line,
					"bad %s '%s': want [IPv6]", what, t);
		addr = t + 1;
		alen = (size_t)(close - addr);
		slash = close[1] == '/' ? close + 1 : NULL;
		if (close[1] && !slash)
			return err_invalid_line(err, errlen, line,
					"bad %s '%s': junk after ']'", what, t);
		net->family = 6;
	} else {
		slash = strchr(t, '/');
		alen = slash ? (size_t)(slash - t) : strlen(t);
		net->family = 4;
	}
	if (alen == 0 || alen >= sizeof(buf))
		return err_invalid_line(err, errlen, line, "bad %s '%s'", what, t);
	memcpy(buf, addr, alen);
	buf[alen] = '\0';
	if (inet_pton(net->family == 4 ? AF_INET : AF_INET6, buf,
		      net->addr) != 1)
		return err_invalid_line(err, errlen, line,
				"bad %s '%s': not an IPv%u address", what, t,
				net->family);
	max = net->family == 4 ? 32 : 128;
	len = max;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return err_invalid_line(err, errlen, line,
					"bad %s '%s': want /LEN", what, t);
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > max)
			return err_invalid_line(err, errlen, line,
					"bad %s '%s': /LEN must be 0..%zu",
					what, t, max);
	}
	net->len = (uint8_t)len;
	for (size_t bit = len; bit < max; bit++)
		if (net->addr[bit / 8] & (0x80u >> (bit % 8)))
			return err_invalid_line(err, errlen, line,
					"bad %s '%s': bits set past /%lu",
					what, t, len);
	return 0;
}

static int acl_parse_port(const char *s, const char *end, uint16_t *port)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return -1;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* PORTS: '*', N or N-M. */
static int acl_parse_ports(const char *t, struct acl_rule *r, size_t line,
			   char *err, size_t errlen)
{
	const char *dash = strchr(t, '-'), *end = t + strlen(t);

	if (!strcmp(t, "*")) {
		r->port_lo = 1;
		r->port_hi = 65535;
		return 0;
	}
	if (acl_parse_port(t, dash ? dash : end, &r->port_lo) < 0 ||
	    acl_parse_port(dash ? dash + 1 : t, end, &r->port_hi) < 0 ||
	    r->port_lo > r->port_hi)
		return err_invalid_line(err, errlen, line,
				"bad ports '%s': want *, N or N-M "
				"(1..65535, N <= M)", t);
	return 0;
}

/* CHANNELS: '*' or [SOURCE@]GROUP:PORTS. */
static int acl_parse_channels(char *t, struct acl_rule *r, size_t line,
			      char *err, size_t errlen)
{
	char *at, *colon, *group, *close;
	int rc;

	if (!strcmp(t, "*")) {
		r->any_channel = true;
		return 0;
	}
	group = t;
	at = strchr(t, '@');
	if (at) {
		*at = '\0';
		group = at + 1;
		r->has_source = true;
		rc = acl_parse_net(t, &r->source, line, "source", err, errlen);
		if (rc < 0)
			return rc;
	}
	colon = strrchr(group, ':');
	close = strchr(group, ']');
	if (!colon || (group[0] == '[' && (!close || colon < close)))
		return err_invalid_line(err, errlen, line,
				"bad channels '%s': want * or "
				"[SOURCE@]GROUP:PORTS", group);
	*colon = '\0';
	rc = acl_parse_net(group, &r->group, line, "group", err, errlen);
	if (rc < 0)
		return rc;
	if (r->has_source && r->source.family && r->group.family &&
	    r->source.family != r->group.family)
		return err_invalid_line(err, errlen, line,
				"source and group of different families");
	return acl_parse_ports(colon + 1, r, line, err, errlen);
}

static int acl_parse_action(const char *t, unsigned *actions, size_t line,
			    char *err, size_t errlen)
{
	if (!strcmp(t, "publish"))
		*actions = ACL_PUBLISH;
	else if (!strcmp(t, "subscribe"))
		*actions = ACL_SUBSCRIBE;
	else if (!strcmp(t, "*"))
		*actions = ACL_PUBLISH | ACL_SUBSCRIBE;
	else
		return err_invalid_line(err, errlen, line,
				"bad action '%s': want publish, subscribe or *",
				t);
	return 0;
}

/* ---- lines ------------------------------------------------------------- */

static int acl_want(size_t n, size_t want, const char *usage, size_t line,
		    char *err, size_t errlen)
{
	if (n == want)
		return 0;
	return err_invalid_line(err, errlen, line, "%s fields: want %s",
			n < want ? "too few" : "too many", usage);
}

/* One line's fields (n >= 1) into r. */
static int acl_rule_parse(char **f, size_t n, struct acl_rule *r, size_t line,
			  char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->line = (unsigned)line;
	if (!strcmp(f[0], "island")) {
		r->kind = ACL_ISLAND;
		rc = acl_want(n, 3, "island IDENTITY ISLAND", line, err,
			      errlen);
		if (rc == 0 && strlen(f[2]) > ACL_ISLAND_MAX)
			rc = err_invalid_line(err, errlen, line,
				      "island name longer than %d bytes",
				      ACL_ISLAND_MAX);
	} else if (!strcmp(f[0], "allow") || !strcmp(f[0], "deny")) {
		r->kind = f[0][0] == 'a' ? ACL_ALLOW : ACL_DENY;
		rc = acl_want(n, 4, "allow|deny IDENTITY ACTION CHANNELS",
			      line, err, errlen);
		if (rc == 0)
			rc = acl_parse_action(f[2], &r->actions, line, err,
					      errlen);
		if (rc == 0)
			rc = acl_parse_channels(f[3], r, line, err, errlen);
	} else if (!strcmp(f[0], "peer")) {
		r->kind = ACL_PEER;
		rc = acl_want(n, 2, "peer IDENTITY", line, err, errlen);
	} else {
		return err_invalid_line(err, errlen, line,
				"unknown rule '%.32s': want island, allow, "
				"deny or peer", f[0]);
	}
	if (rc == 0)
		rc = acl_parse_identity(f[1], line, err, errlen);
	if (rc < 0)
		return rc;
	r->identity = xstrdup(f[1]);
	if (r->kind == ACL_ISLAND)
		r->island = xstrdup(f[2]);
	return 0;
}

int acl_parse(const char *text, size_t len, struct acl *acl, char *err,
	      size_t errlen)
{
	const char *p = text, *end = text + len;
	size_t line = 0, cap = 0;
	int rc = 0;

	acl->v = NULL;
	acl->n = 0;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *q;
		char tok[ACL_FIELDS_MAX + 1][ACL_TOKEN_MAX + 1];
		char *f[ACL_FIELDS_MAX + 1];
		size_t n = 0;

		line++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			rc = err_invalid_line(err, errlen, line, "NUL byte");
		for (q = p; rc == 0 && q < eol && *q != '#';) {
			const char *s;

			while (q < eol && acl_blank(*q))
				q++;
			if (q == eol || *q == '#')
				break;
			for (s = q; q < eol && !acl_blank(*q) && *q != '#';)
				q++;
			if (n == ACL_FIELDS_MAX + 1) {
				rc = err_invalid_line(err, errlen, line,
					      "too many fields");
				break;
			}
			if ((size_t)(q - s) > ACL_TOKEN_MAX) {
				rc = err_invalid_line(err, errlen, line,
					      "field longer than %d bytes",
					      ACL_TOKEN_MAX);
				break;
			}
			memcpy(tok[n], s, (size_t)(q - s));
			tok[n][q - s] = '\0';
			f[n] = tok[n];
			n++;
		}
		p = nl ? nl + 1 : end;
		if (rc < 0 || n == 0)
			continue;
		if (acl->n == ACL_RULES_MAX) {
			rc = err_invalid_line(err, errlen, line,
				      "more than %d rules", ACL_RULES_MAX);
			break;
		}
		if (acl->n == cap) {
			cap = cap ? 2 * cap : 16;
			acl->v = xrealloc(acl->v, cap * sizeof(*acl->v));
		}
		rc = acl_rule_parse(f, n, &acl->v[acl->n], line, err, errlen);
		if (rc == 0)
			acl->n++;
	}
	if (rc < 0)
		acl_free(acl);
	return rc;
}

void acl_free(struct acl *acl)
{
	for (size_t i = 0; i < acl->n; i++) {
		free(acl->v[i].identity);
		free(acl->v[i].island);
	}
	free(acl->v);
	acl->v = NULL;
	acl->n = 0;
}

/* ---- evaluation -------------------------------------------------------- */

/* '-' is the anonymous link alone; '*' any authenticated identity. */
static bool acl_identity_match(const char *pat, const char *id)
{
	if (!strcmp(pat, "-"))
		return id[0] == '\0';
	if (id[0] == '\0')
		return false;
	return !strcmp(pat, "*") || !strcmp(pat, id);
}

static bool acl_net_match(const struct acl_net *net, uint8_t family,
			  const uint8_t *addr)
{
	size_t full = net->len / 8u;
	unsigned rest = net->len % 8u;

	if (net->family == 0)
		return true;
	if (net->family != family || memcmp(net->addr, addr, full))
		return false;
	return rest == 0 ||
	       !((net->addr[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest));
}

static bool acl_channel_is_ssm(const struct channel *ch)
{
	for (size_t i = 0; i < sizeof(ch->source); i++)
		if (ch->source[i])
			return true;
	return false;
}

static bool acl_channel_match(const struct acl_rule *r,
			      const struct channel *ch)
{
	if (r->any_channel)
		return true;
	if (ch->port < r->port_lo || ch->port > r->port_hi)
		return false;
	if (!acl_net_match(&r->group, ch->family, ch->group))
		return false;
	if (!r->has_source)
		return true;
	return acl_channel_is_ssm(ch) &&
	       acl_net_match(&r->source, ch->family, ch->source);
}

bool acl_check(const struct acl *acl, const char *identity,
	       enum acl_action action, const struct channel *ch)
{
	bool allowed = false;

	for (size_t i = 0; i < acl->n; i++) {
		const struct acl_rule *r = &acl->v[i];

		if ((r->kind != ACL_ALLOW && r->kind != ACL_DENY) ||
		    !(r->actions & action) ||
		    !acl_identity_match(r->identity, identity) ||
		    !acl_channel_match(r, ch))
			continue;
		if (r->kind == ACL_DENY)
			return false;
		allowed = true;
	}
	return allowed;
}

bool acl_island_ok(const struct acl *acl, const char *identity,
		   const char *island)
{
	for (size_t i = 0; i < acl->n; i++) {
		const struct acl_rule *r = &acl->v[i];

		if (r->kind == ACL_ISLAND &&
		    acl_identity_match(r->identity, identity) &&
		    (!strcmp(r->island, "*") || !strcmp(r->island, island)))
			return true;
	}
	return false;
}

bool acl_is_peer(const struct acl *acl, const char *identity)
{
	for (size_t i = 0; i < acl->n; i++)
		if (acl->v[i].kind == ACL_PEER &&
		    acl_identity_match(acl->v[i].identity, identity))
			return true;
	return false;
}
