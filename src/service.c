/* service.c - relays, shard groups, hubs and gateways behind one ops
 * table; see service.h. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "hub.h"
#include "log.h"
#include "shard.h"
#include "util.h"

static int relay_start_op(void *o, char *err, size_t len)
{
	return relay_start(o, err, len);
}
static void relay_stop_op(void *o) { relay_stop(o); }
static void relay_stats_op(const void *o) { relay_log_stats(o); }
static void relay_reload_op(void *o) { relay_reload(o); }

static const struct service_ops relay_ops = {
	relay_start_op, relay_stop_op, relay_stats_op, relay_reload_op,
};

static int shards_start_op(void *o, char *err, size_t len)
{
	return shard_group_start(o, err, len);
}
static void shards_stop_op(void *o) { shard_group_stop(o); }
static void shards_stats_op(const void *o) { shard_group_log_stats(o); }
/* The shards' endpoints live on their own threads' loops, and a TLS
 * context's reference count is not shared across threads: they are not
 * reloaded in place. */
static void shards_reload_op(void *o)
{
	(void)o;
	log_warn("relay with workers > 1: certificates are not reloaded "
		 "in place; change its configuration to restart it");
}

static const struct service_ops shards_ops = {
	shards_start_op, shards_stop_op, shards_stats_op, shards_reload_op,
};

static int hub_start_op(void *o, char *err, size_t len)
{
	return hub_start(o, err, len);
}
static void hub_stop_op(void *o) { hub_stop(o); }
static void hub_stats_op(const void *o) { hub_log_stats(o); }
static void hub_reload_op(void *o) { hub_reload(o); }

static const struct service_ops hub_ops = {
	hub_start_op, hub_stop_op, hub_stats_op, hub_reload_op,
};

static int gateway_start_op(void *o, char *err, size_t len)
{
	return gateway_start(o, err, len);
}
static void gateway_stop_op(void *o) { gateway_stop(o); }
static void gateway_stats_op(const void *o) { gateway_log_stats(o); }
static void gateway_reload_op(void *o) { gateway_reload(o); }

static const struct service_ops gateway_ops = {
	gateway_start_op, gateway_stop_op, gateway_stats_op, gateway_reload_op,
};

static int http_start_op(void *o, char *err, size_t len)
{
	return http_start(o, err, len);
}
static void http_stop_op(void *o) { http_stop(o); }
static void http_stats_op(const void *o) { http_log_stats(o); }
static void http_reload_op(void *o) { http_reload(o); }

static const struct service_ops http_ops = {
	http_start_op, http_stop_op, http_stats_op, http_reload_op,
};

/* A growing string for fingerprints. */
struct text {
	char *p;
	size_t len;
};

static void text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);

	t->p = xrealloc(t->p, t->len + n + 2);
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len++] = '\n';
	t->p[t->len] = '\0';
}

static struct service *service_add(struct service_list *l,
				   const struct service_ops *ops, void *obj,
				   const char *kind, const char *name,
				   struct text *fp)
{
	struct service *s;
	char label[128];

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	s = &l->v[l->n++];
	snprintf(label, sizeof(label), "%s=%s", kind, name);
	s->ops = ops;
	s->obj = obj;
	s->name = xstrdup(label);
	s->fingerprint = fp->p;
	return s;
}

void service_add_relay(struct service_list *l, struct node *ctx,
		       const char *name, const struct uri *src,
		       const struct uri *sinks, size_t nsinks,
		       unsigned workers, const char *control)
{
	struct text fp = { 0 };
	char w[32];

	text_add(&fp, "relay");
	text_add(&fp, name);
	text_add(&fp, src->text);
	for (size_t i = 0; i < nsinks; i++)
		text_add(&fp, sinks[i].text);
	snprintf(w, sizeof(w), "workers=%u", workers);
	text_add(&fp, w);
	text_add(&fp, control);
	if (workers > 1) {
		service_add(l, &shards_ops,
			    shard_group_new(ctx, name, workers, src, sinks,
					    nsinks),
			    "relay", name, &fp);
	} else {
		struct relay *r = relay_new(ctx, name, src, sinks, nsinks);

		/* The relay is freed once it has closed. */
		r->on_closed = relay_free;
		if (control[0])
			relay_set_control(r, control);
		service_add(l, &relay_ops, r, "relay", name, &fp);
	}
}

void service_add_hub(struct service_list *l, struct node *ctx,
		     const struct config_hub *c)
{
	struct text fp = { 0 };
	char line[URI_PATH_MAX + 128];
	struct hub *h;

	text_add(&fp, "hub");
	text_add(&fp, c->name);
	for (size_t i = 0; i < c->nlisten; i++)
		text_add(&fp, c->listen[i].text);
	/* The path, not the rules: a kept hub re-reads the file itself. */
	snprintf(line, sizeof(line), "acl=%s", c->acl);
	text_add(&fp, line);
	for (size_t i = 0; i < c->npeers; i++)
		text_add(&fp, c->peers[i].text);
	snprintf(line, sizeof(line), "heartbeat=%u control=%s", c->heartbeat,
		 c->control);
	text_add(&fp, line);
	h = hub_new(ctx, c->name, c->listen, c->nlisten, c->acl);
	hub_set_mesh(h, c->peers, c->npeers, c->heartbeat);
	if (c->control[0])
		hub_set_control(h, c->control);
	service_add(l, &hub_ops, h, "hub", c->name, &fp);
}

void service_add_gateway(struct service_list *l, struct node *ctx,
			 const struct gateway_spec *spec)
{
	struct text fp = { 0 };
	char line[2 * CHANNEL_TEXT_MAX + 32], ch[CHANNEL_TEXT_MAX],
		local[CHANNEL_TEXT_MAX];

	text_add(&fp, "gateway");
	text_add(&fp, spec->name);
	for (size_t i = 0; i < spec->nhubs; i++)
		text_add(&fp, spec->hubs[i].text);
	text_add(&fp, spec->control);
	text_add(&fp, spec->iface);
	text_add(&fp, spec->island);
	snprintf(line, sizeof(line), "ttl=%d", spec->ttl);
	text_add(&fp, line);
	for (size_t i = 0; i < spec->nchans; i++) {
		const struct gateway_chan_spec *c = &spec->chans[i];

		channel_format(&c->ch, ch, sizeof(ch));
		channel_format(&c->local, local, sizeof(local));
		snprintf(line, sizeof(line), "%s%s %s=%s",
			 c->do_export ? "export" : "",
			 c->do_import ? "import" : "", ch, local);
		text_add(&fp, line);
	}
	service_add(l, &gateway_ops, gateway_new(ctx, spec), "gateway",
		    spec->name, &fp);
}

void service_add_http(struct service_list *l, struct node *ctx,
		      const struct http_conf *c)
{
	struct text fp = { 0 };
	char line[512];

	text_add(&fp, "http");
	text_add(&fp, c->name);
	text_add(&fp, c->listen);
	snprintf(line, sizeof(line),
		 "iface=%s hold=%u max=%u/%u queue=%llu rcvbuf=%u ctype=%s "
		 "udpxy=%d",
		 c->iface, c->hold, c->max_viewers, c->max_chan_viewers,
		 (unsigned long long)c->queue, c->rcvbuf, c->content_type,
		 c->udpxy);
	text_add(&fp, line);
	for (size_t i = 0; i < c->nallow; i++) {
		snprintf(line, sizeof(line), "allow=%u/%u:%02x%02x%02x%02x",
			 c->allow[i].family, c->allow[i].prefix,
			 c->allow[i].addr[0], c->allow[i].addr[1],
			 c->allow[i].addr[2], c->allow[i].addr[3]);
		for (size_t k = 4; k < 16; k++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
				 "%02x", c->allow[i].addr[k]);
		text_add(&fp, line);
	}
	for (size_t i = 0; i < c->nnamed; i++) {
		snprintf(line, sizeof(line), "channel=%s=%s", c->named[i].name,
			 c->named[i].uri);
		text_add(&fp, line);
	}
	service_add(l, &http_ops, http_new(ctx, c), "http", c->name, &fp);
}

void service_add_config(struct service_list *l, struct node *ctx,
			const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct config_relay *r = &cfg->relays[i];

		service_add_relay(l, ctx, r->name, &r->source, r->sinks,
				  r->nsinks, r->workers, r->control);
	}
	for (size_t i = 0; i < cfg->nhubs; i++)
		service_add_hub(l, ctx, &cfg->hubs[i]);
	for (size_t i = 0; i < cfg->ngateways; i++)
		service_add_gateway(l, ctx, &cfg->gateways[i].spec);
	for (size_t i = 0; i < cfg->nhttps; i++)
		service_add_http(l, ctx, &cfg->https[i].conf);
}

void service_move(struct service_list *from, size_t i, struct service_list *to)
{
	to->v = xrealloc(to->v, (to->n + 1) * sizeof(*to->v));
	to->v[to->n++] = from->v[i];
	memmove(&from->v[i], &from->v[i + 1],
		(from->n - i - 1) * sizeof(*from->v));
	from->n--;
}

void service_list_free(struct service_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].fingerprint);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void service_write_stats_json(const struct stats *reg, FILE *f)
{
	struct stats_text t = { 0 };

	stats_render_json(reg, &t, false);
	if (t.len && (fwrite(t.data, 1, t.len, f) != t.len || fflush(f)))
		log_warn("--stats-json: cannot write: %s", strerror(errno));
	stats_text_free(&t);
}
