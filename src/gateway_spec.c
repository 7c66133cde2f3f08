/* gateway_spec.c - what a gateway is told to do: its hub, interface and
 * channels (pure; the values go through the option table, opt.c, so the
 * command line and a config file take exactly the same ones). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "opt.h"

void gateway_spec_init(struct gateway_spec *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	opt_init(s, OBJ_GATEWAY, AT_CONF_GATEWAY);
}

int gateway_spec_set_hub(struct gateway_spec *s, const char *text, char *err,
			 size_t errlen)
{
	return opt_set(opt_find("hub", AT_CONF_GATEWAY), s, text, err, errlen);
}

int gateway_spec_add(struct gateway_spec *s, const char *kind,
		     const char *arg, char *err, size_t errlen)
{
	const struct opt *o = NULL;

	if (!strcmp(kind, "group") || !strcmp(kind, "export") ||
	    !strcmp(kind, "import"))
		o = opt_find(kind, AT_CONF_GATEWAY);
	if (!o) {
		snprintf(err, errlen, "unknown channel kind '%s'", kind);
		return -EINVAL;
	}
	return opt_set(o, s, arg, err, errlen);
}

int gateway_chan_parse(const char *kind, const char *text,
		       struct gateway_chan_spec *c, char *err, size_t errlen)
{
	const struct opt *o = NULL;
	union opt_value v;

	if (!strcmp(kind, "group") || !strcmp(kind, "export") ||
	    !strcmp(kind, "import"))
		o = opt_find(kind, AT_CONF_GATEWAY);
	if (!o) {
		snprintf(err, errlen, "unknown channel kind '%s'", kind);
		return -EINVAL;
	}
	if (opt_parse(o, text, &v, err, errlen) < 0)
		return -EINVAL;
	*c = (struct gateway_chan_spec){
		.ch = v.chan.ch,
		.local = v.chan.local,
		.do_export = strcmp(kind, "import") != 0,
		.do_import = strcmp(kind, "export") != 0,
	};
	return 0;
}

int gateway_spec_check(const struct gateway_spec *s, char *err, size_t errlen)
{
	if (!s->has_hub)
		snprintf(err, errlen, "gateway '%s' needs a hub", s->name);
	else if (!s->iface[0])
		snprintf(err, errlen, "gateway '%s' needs an iface", s->name);
	else if (s->nchans == 0 && !s->control[0])
		/* With a control socket the channels may all come later
		 * (channel.add). */
		snprintf(err, errlen,
			 "gateway '%s' needs a group, export or import (or a "
			 "control socket to add them at run time)", s->name);
	else
		return 0;
	return -EINVAL;
}
