/* http_path.c - the udpxy URL grammar and the HTTP front's other paths;
 * see http_path.h. */
#include "http_path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest target looked at; llhttp's adapter bounds it before this. */
#define HTTP_PATH_MAX 1024

static int path_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int path_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static bool is_sep(char c)
{
	return c && strchr(":%~+-^", c) != NULL;
}

/* One address at *s: "[v6]" (copied with its brackets) or dotted IPv4
 * digits. Advances *s; false when there is none. */
static bool take_addr(const char **s, const char *end, char *out, size_t cap)
{
	const char *p = *s;
	size_t n;

	if (p < end && *p == '[') {
		const char *q = memchr(p, ']', (size_t)(end - p));

		if (!q)
			return false;
		n = (size_t)(q - p) + 1;
	} else {
		while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
			p++;
		n = (size_t)(p - *s);
		p = *s;
	}
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	*s = p + n;
	return true;
}

/* [SRC@]GROUP<sep>PORT into ch, through channel_parse (which checks that
 * the group is multicast and the source is not). */
static int parse_chan(const char *s, const char *end, struct channel *ch,
		      char *err, size_t errlen)
{
	char src[64] = "", grp[64], text[CHANNEL_TEXT_MAX + 8], e[160];
	const char *start = s, *port;
	size_t plen;

	if (!take_addr(&s, end, grp, sizeof(grp)))
		goto bad;
	if (s < end && *s == '@') {
		memcpy(src, grp, sizeof(grp));
		s++;
		if (!take_addr(&s, end, grp, sizeof(grp)))
			goto bad;
	}
	if (s >= end || !is_sep(*s))
		goto bad;
	port = ++s;
	while (s < end && *s >= '0' && *s <= '9')
		s++;
	plen = (size_t)(s - port);
	if (plen == 0 || plen > 5 || s != end)
		goto bad;
	snprintf(text, sizeof(text), "%s%s%s:%.*s", src, *src ? "@" : "", grp,
		 (int)plen, port);
	if (channel_parse(text, ch, e, sizeof(e)) < 0)
		return path_fail(err, errlen, -EINVAL, "bad channel '%.*s': %s",
				 (int)(end - start), start, e);
	if (channel_is_ssm(ch) &&
	    (ch->family == 4 ? (ch->source[0] & 0xf0) == 0xe0
			     : ch->source[0] == 0xff))
		return path_fail(err, errlen, -EINVAL,
				 "bad channel '%.*s': the source is a group",
				 (int)(end - start), start);
	return 0;
bad:
	return path_fail(err, errlen, -EINVAL,
			 "bad channel '%.*s': want [SRC@]GROUP:PORT (or one of "
			 "%% ~ + - ^ for ':'; IPv6 in brackets)",
			 (int)(end - start), start);
}

static bool iface_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
	       c == ':';
}

/* key=value&...: iface= is ours, the rest is the player's. */
static int parse_query(const char *q, const char *end, struct http_path *p,
		       char *err, size_t errlen)
{
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(stop - q));

		if (eq && eq - q == 5 && !memcmp(q, "iface", 5)) {
			size_t n = (size_t)(stop - eq - 1);

			if (n == 0 || n >= sizeof(p->iface))
				return path_fail(err, errlen, -EINVAL,
						 "bad iface: want 1..%zu "
						 "characters",
						 sizeof(p->iface) - 1);
			for (size_t i = 0; i < n; i++)
				if (!iface_char(eq[1 + i]))
					return path_fail(err, errlen, -EINVAL,
							 "bad iface '%.*s'",
							 (int)n, eq + 1);
			memcpy(p->iface, eq + 1, n);
			p->iface[n] = '\0';
		}
		q = amp ? amp + 1 : end;
	}
	return 0;
}

static bool path_is(const char *s, size_t n, const char *word, bool slash)
{
	size_t w = strlen(word);

	return (n == w && !memcmp(s, word, w)) ||
	       (slash && n == w + 1 && !memcmp(s, word, w) && s[w] == '/');
}

int http_path_parse(const char *target, size_t len, struct http_path *p,
		    char *err, size_t errlen)
{
	const char *s = target, *end = target + len, *q;
	size_t n;
	int rc;

	memset(p, 0, sizeof(*p));
	if (len > HTTP_PATH_MAX)
		return path_fail(err, errlen, -EINVAL, "target too long");
	if (len >= 7 && !memcmp(s, "http://", 7)) {
		s = memchr(s + 7, '/', (size_t)(end - s - 7));
		if (!s)
			return path_fail(err, errlen, -EINVAL,
					 "absolute target without a path");
	}
	if (s >= end || *s != '/')
		return path_fail(err, errlen, -EINVAL, "target is not a path");
	q = memchr(s, '?', (size_t)(end - s));
	n = (size_t)((q ? q : end) - s);
	if (n >= 5 && (!memcmp(s, "/udp/", 5) || !memcmp(s, "/rtp/", 5))) {
		const char *ce = s + n;

		p->route = s[1] == 'u' ? HTTP_ROUTE_UDP : HTTP_ROUTE_RTP;
		if (ce > s + 5 && ce[-1] == '/')
			ce--;
		rc = parse_chan(s + 5, ce, &p->ch, err, errlen);
		if (rc == 0 && q)
			rc = parse_query(q + 1, end, p, err, errlen);
		return rc;
	}
	if (path_is(s, n, "/", false) || path_is(s, n, "/status", true))
		p->route = HTTP_ROUTE_STATUS;
	else if (path_is(s, n, "/status.json", false))
		p->route = HTTP_ROUTE_STATUS_JSON;
	else if (path_is(s, n, "/metrics", false))
		p->route = HTTP_ROUTE_METRICS;
	else if (path_is(s, n, "/playlist.m3u", false))
		p->route = HTTP_ROUTE_PLAYLIST;
	else if (path_is(s, n, "/restart", true))
		p->route = HTTP_ROUTE_RESTART;
	else
		return path_fail(err, errlen, -ENOENT, "no such path '%.*s'",
				 (int)(n > 200 ? 200 : n), s);
	return 0;
}
