/* link.c - the table of transports, and what every link shares. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern const struct link_ops link_tcp_ops;
extern const struct link_ops link_tls_ops;
extern const struct link_ops link_srt_ops;
extern const struct link_ops link_udp_ops;

/* One row per scheme that has a transport; a new transport is a new file
 * and a new row here. */
static const struct link_ops *const link_table[] = {
	[URI_TCP] = &link_tcp_ops,
	[URI_TLS] = &link_tls_ops,
	[URI_SRT] = &link_srt_ops,
	[URI_UDPLINK] = &link_udp_ops,
};

const struct link_ops *link_ops_for(enum uri_scheme scheme)
{
	if ((size_t)scheme >= sizeof(link_table) / sizeof(link_table[0]))
		return NULL;
	return link_table[scheme];
}

int link_conf_open(struct link_conf *conf, const struct uri *u, char *err,
		   size_t errlen)
{
	memset(conf, 0, sizeof(*conf));
	conf->ops = link_ops_for(u->scheme);
	conf->uri = u;
	if (!conf->ops) {
		snprintf(err, errlen, "no transport for %s", u->text);
		return -EPROTONOSUPPORT;
	}
	return conf->ops->conf_open ? conf->ops->conf_open(conf, err, errlen)
				    : 0;
}

int link_conf_reload(struct link_conf *conf, char *err, size_t errlen)
{
	int rc;

	if (!conf->ops || !conf->ops->conf_reload || !conf->tctx)
		return 0;
	rc = conf->ops->conf_reload(conf, err, errlen);
	return rc < 0 ? rc : 1;
}

void link_conf_close(struct link_conf *conf)
{
	if (conf->ops && conf->ops->conf_close)
		conf->ops->conf_close(conf);
	conf->tctx = NULL;
}

void link_init(struct link *l, const struct link_ops *ops,
	       const struct link_conf *conf, uv_loop_t *loop)
{
	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->conf = conf;
	l->loop = loop;
	strcpy(l->peer, "?");
}

struct link *link_new(uv_loop_t *loop, const struct link_conf *conf)
{
	return conf->ops->create(loop, conf);
}

void link_attach(struct link *l, const struct link_events *ev, void *data)
{
	l->ev = ev;
	l->data = data;
}

void link_close(struct link *l)
{
	if (l->closing)
		return;
	l->closing = true;
	l->ops->close(l);
}
