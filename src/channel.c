/* channel.c - multicast channel parsing, formatting and wire form. */
#include "channel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"
#include "util.h"

static const uint8_t zero16[16];

static int parse_ip(const char *s, uint8_t *family, uint8_t *addr)
{
	char tmp[64];
	size_t n = strlen(s);

	if (n >= sizeof(tmp))
		return -EINVAL;
	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return -EINVAL;
		*family = 6;
		return 0;
	}
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return 0;
	}
	return -EINVAL;
}

int channel_parse(const char *text, struct channel *ch, char *err,
		  size_t errlen)
{
	char buf[CHANNEL_TEXT_MAX], *at, *group, *colon, *end;
	uint8_t sfam = 0;
	unsigned long port;
	struct sockaddr_storage ss;

	memset(ch, 0, sizeof(*ch));
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "channel '%s' too long", text);
		return -EINVAL;
	}
	strcpy(buf, text);
	group = buf;
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		group = at + 1;
		if (parse_ip(buf, &sfam, ch->source) < 0) {
			snprintf(err, errlen, "bad source '%s' in channel '%s'",
				 buf, text);
			return -EINVAL;
		}
	}
	colon = strrchr(group, ':');
	if (!colon || colon == group) {
		snprintf(err, errlen, "channel '%s' needs GROUP:PORT", text);
		return -EINVAL;
	}
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || port == 0 ||
	    port > 65535) {
		snprintf(err, errlen, "bad port '%s' in channel '%s'",
			 colon + 1, text);
		return -EINVAL;
	}
	ch->port = (uint16_t)port;
	if (parse_ip(group, &ch->family, ch->group) < 0) {
		snprintf(err, errlen, "bad group '%s' in channel '%s'", group,
			 text);
		return -EINVAL;
	}
	channel_group_addr(ch, &ss);
	if (!addr_is_multicast(&ss)) {
		snprintf(err, errlen, "'%s' in channel '%s' is not a multicast group",
			 group, text);
		return -EINVAL;
	}
	if (at && sfam != ch->family) {
		snprintf(err, errlen,
			 "source and group of channel '%s' differ in family",
			 text);
		return -EINVAL;
	}
	return 0;
}

void channel_format(const struct channel *ch, char *buf, size_t len)
{
	char g[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];
	int af = ch->family == 4 ? AF_INET : AF_INET6;
	const char *l = ch->family == 4 ? "" : "[", *r = ch->family == 4 ? "" : "]";

	inet_ntop(af, ch->group, g, sizeof(g));
	if (channel_is_ssm(ch)) {
		inet_ntop(af, ch->source, s, sizeof(s));
		snprintf(buf, len, "%s%s%s@%s%s%s:%u", l, s, r, l, g, r,
			 ch->port);
	} else {
		snprintf(buf, len, "%s%s%s:%u", l, g, r, ch->port);
	}
}

bool channel_is_ssm(const struct channel *ch)
{
	return memcmp(ch->source, zero16, ch->family == 4 ? 4 : 16) != 0;
}

bool channel_equal(const struct channel *a, const struct channel *b)
{
	size_t n = a->family == 4 ? 4 : 16;

	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->group, b->group, n) &&
	       !memcmp(a->source, b->source, n);
}

size_t channel_wire_len(uint8_t family)
{
	return 4 + 2 * (family == 4 ? 4u : 16u);
}

size_t channel_encode(const struct channel *ch, uint8_t *p)
{
	size_t n = ch->family == 4 ? 4 : 16;

	p[0] = ch->family;
	p[1] = 0;
	put_be16(p + 2, ch->port);
	memcpy(p + 4, ch->group, n);
	memcpy(p + 4 + n, ch->source, n);
	return 4 + 2 * n;
}

int channel_decode(struct channel *ch, const uint8_t *p, size_t n)
{
	size_t a;
	struct sockaddr_storage ss;

	memset(ch, 0, sizeof(*ch));
	if (n < 4 || (p[0] != 4 && p[0] != 6) || p[1] != 0)
		return -EBADMSG;
	a = p[0] == 4 ? 4 : 16;
	if (n < 4 + 2 * a)
		return -EBADMSG;
	ch->family = p[0];
	ch->port = get_be16(p + 2);
	memcpy(ch->group, p + 4, a);
	memcpy(ch->source, p + 4 + a, a);
	channel_group_addr(ch, &ss);
	if (ch->port == 0 || !addr_is_multicast(&ss))
		return -EBADMSG;
	return (int)(4 + 2 * a);
}

static void addr_of(uint8_t family, const uint8_t *a, uint16_t port,
		    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a, 16);
	}
}

void channel_group_addr(const struct channel *ch, struct sockaddr_storage *ss)
{
	addr_of(ch->family, ch->group, ch->port, ss);
}

void channel_source_addr(const struct channel *ch, uint16_t port,
			 struct sockaddr_storage *ss)
{
	addr_of(ch->family, ch->source, port, ss);
}
