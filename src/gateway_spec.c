/* gateway_spec.c - what a gateway is told to do: parsing and checks of
 * its hub, interface and channels (pure; used by the CLI and config). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"

void gateway_spec_init(struct gateway_spec *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->ttl = URI_DEFAULT_TTL;
}

int gateway_spec_set_hub(struct gateway_spec *s, const char *text, char *err,
			 size_t errlen)
{
	char e[256];

	if (uri_parse(text, &s->hub, e, sizeof(e)) < 0 ||
	    uri_check_role(&s->hub, false, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "bad hub URI '%s': %s", text, e);
		return -EINVAL;
	}
	if (s->hub.scheme != URI_TCP || s->hub.local) {
		snprintf(err, errlen, "bad hub URI '%s': want tcp://HOST:PORT",
			 text);
		return -EINVAL;
	}
	s->has_hub = true;
	return 0;
}

int gateway_spec_add(struct gateway_spec *s, const char *kind,
		     const char *arg, char *err, size_t errlen)
{
	struct gateway_chan_spec c = { 0 };
	char buf[2 * CHANNEL_TEXT_MAX], *eq;
	bool imp = !strcmp(kind, "import"), exp = !strcmp(kind, "export");

	if (!imp && !exp && strcmp(kind, "group")) {
		snprintf(err, errlen, "unknown channel kind '%s'", kind);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	if (eq) {
		if (!imp) {
			snprintf(err, errlen,
				 "'%s': only --import takes =LOCAL_GROUP:PORT",
				 arg);
			return -EINVAL;
		}
		*eq++ = '\0';
	}
	if (channel_parse(buf, &c.ch, err, errlen) < 0)
		return -EINVAL;
	c.local = c.ch;
	if (eq) {
		if (channel_parse(eq, &c.local, err, errlen) < 0)
			return -EINVAL;
		if (c.local.family != c.ch.family) {
			snprintf(err, errlen,
				 "'%s': local channel of another IP family",
				 arg);
			return -EINVAL;
		}
	}
	c.do_export = !imp;
	c.do_import = !exp;
	for (size_t i = 0; i < s->nchans; i++) {
		if (channel_equal(&s->chans[i].ch, &c.ch)) {
			snprintf(err, errlen, "channel '%s' given twice", buf);
			return -EINVAL;
		}
	}
	if (s->nchans == GATEWAY_MAX_CHANNELS) {
		snprintf(err, errlen, "more than %d channels",
			 GATEWAY_MAX_CHANNELS);
		return -EINVAL;
	}
	s->chans[s->nchans++] = c;
	return 0;
}

int gateway_spec_check(const struct gateway_spec *s, char *err, size_t errlen)
{
	if (!s->has_hub)
		snprintf(err, errlen, "gateway '%s' needs a hub", s->name);
	else if (!s->iface[0])
		snprintf(err, errlen, "gateway '%s' needs an iface", s->name);
	else if (s->nchans == 0)
		snprintf(err, errlen,
			 "gateway '%s' needs a group, export or import",
			 s->name);
	else
		return 0;
	return -EINVAL;
}
