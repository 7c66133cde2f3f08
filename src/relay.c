/* relay.c - one source to many sinks: open, deliver, flush, stop. */
#include "relay.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "frame.h"
#include "log.h"
#include "util.h"

#define OFF(field) offsetof(struct relay_stats, field)

/* The relay section of docs/metrics.md, in its order, which is the order
 * of the stats line. */
const struct relay_metric relay_metrics[] = {
	{ .name = "mcferry_relay_in_datagrams_total", .kind = STATS_COUNTER,
	  .help = "Datagrams read from the source.",
	  .off = OFF(in_dgrams), .input = true },
	{ .name = "mcferry_relay_in_bytes_total", .kind = STATS_COUNTER,
	  .help = "Payload bytes read from the source.",
	  .off = OFF(in_bytes), .input = true },
	{ .name = "mcferry_relay_out_datagrams_total", .kind = STATS_COUNTER,
	  .help = "Datagrams written, one per sink or client copy.",
	  .off = OFF(out_dgrams) },
	{ .name = "mcferry_relay_out_bytes_total", .kind = STATS_COUNTER,
	  .help = "Bytes written to sinks (TCP: including frame headers).",
	  .off = OFF(out_bytes) },
	{ .name = "mcferry_relay_dropped_datagrams_total",
	  .kind = STATS_COUNTER,
	  .help = "Datagrams not delivered: truncated on input, a sink's "
		  "queue full or not connected, a send error.",
	  .off = OFF(drops) },
	{ .name = "mcferry_relay_cutoffs_total", .kind = STATS_COUNTER,
	  .help = "Clients closed as slow consumers.",
	  .off = OFF(cutoffs) },
	{ .name = "mcferry_relay_skipped_datagrams_total",
	  .kind = STATS_COUNTER,
	  .help = "Datagrams skipped for a client that was behind (slow=skip), "
		  "one per client copy.",
	  .off = OFF(skips) },
	{ .name = "mcferry_relay_skip_episodes_total", .kind = STATS_COUNTER,
	  .help = "Times a client fell behind and had datagrams skipped.",
	  .off = OFF(skip_episodes) },
	{ .name = "mcferry_relay_reconnects_total", .kind = STATS_COUNTER,
	  .help = "Outbound connections re-established after a loss.",
	  .off = OFF(reconnects) },
	{ .name = "mcferry_relay_rejected_connections_total",
	  .kind = STATS_COUNTER,
	  .help = "Connections refused (publisher-busy).",
	  .off = OFF(rejected) },
	{ .name = "mcferry_relay_clients", .kind = STATS_GAUGE,
	  .help = "Peers connected to the relay now (not its own upstream links).",
	  .off = OFF(clients), .u32 = true },
};

const size_t relay_nmetrics = sizeof(relay_metrics) / sizeof(*relay_metrics);

/* Every counter of r->stats under service=NAME in the node's registry:
 * 0, or the registry's negative errno with the reason in err. */
static int relay_stats_add(struct relay *r, char *err, size_t errlen)
{
	const char *const labels[] = { "relay", r->name, NULL };
	const char *base = (const char *)&r->stats;

	for (size_t i = 0; i < relay_nmetrics; i++) {
		const struct relay_metric *m = &relay_metrics[i];
		int rc = m->u32 ? stats_add_u32(&r->ctx->stats, r, m->name,
						labels, m->kind, m->help,
						(const uint32_t *)(base +
								   m->off))
				: stats_add(&r->ctx->stats, r, m->name, labels,
					    m->kind, m->help,
					    (const uint64_t *)(base + m->off));

		if (rc < 0) {
			snprintf(err, errlen, "cannot register %s: %s",
				 m->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

struct relay *relay_new(struct node *ctx, const char *name,
			const struct uri *source_uri, const struct uri *sinks,
			size_t nsinks)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup(name);
	r->ctx = ctx;
	r->own = (struct conn_owner){
		.node = ctx,
		.kind = "relay",
		.name = r->name,
		.island = r->name,
		.role = FRAME_ROLE_RELAY,
		.out_dgrams = &r->stats.out_dgrams,
		.out_bytes = &r->stats.out_bytes,
		.clients = &r->stats.clients,
		.clients_accepted_only = true,
		.reconnects = &r->stats.reconnects,
	};
	r->source_uri = *source_uri;
	r->sink_uris = xcalloc(nsinks ? nsinks : 1, sizeof(*sinks));
	if (nsinks)
		memcpy(r->sink_uris, sinks, nsinks * sizeof(*sinks));
	r->nsinks = nsinks;
	r->sinks = xcalloc(nsinks, sizeof(*r->sinks));
	return r;
}

static int relay_ctl(void *arg, const struct control_req *req,
		     struct stats_text *t, char *err, size_t errlen);

int relay_start(struct relay *r, char *err, size_t errlen)
{
	int rc = relay_stats_add(r, err, errlen);

	/* Sinks first, so the first datagram the source reads has
	 * somewhere to go. */
	for (size_t i = 0; i < r->nsinks && rc == 0; i++) {
		const struct uri *u = &r->sink_uris[i];

		r->live++;
		rc = u->scheme == URI_UDP
			     ? sink_udp_open(r, u, &r->sinks[i], err, errlen)
			     : sink_tcp_open(r, u, &r->sinks[i], err, errlen);
		if (rc == 0)
			log_info("relay=%s sink open uri=%s", r->name, u->text);
	}
	if (rc == 0) {
		const struct uri *u = &r->source_uri;

		r->live++;
		rc = u->scheme == URI_UDP
			     ? source_udp_open(r, u, &r->source, err, errlen)
			     : source_tcp_open(r, u, &r->source, err, errlen);
		if (rc == 0)
			log_info("relay=%s source open uri=%s", r->name,
				 u->text);
	}
	if (rc == 0 && r->control_path) {
		r->ctl = control_open(r->ctx, r->control_path, relay_ctl, r,
				      err, errlen);
		if (!r->ctl)
			rc = -EADDRINUSE;
	}
	return rc;
}

void relay_add_sink(struct relay *r, struct sink *s)
{
	r->sinks = xrealloc(r->sinks, (r->nsinks + 1) * sizeof(*r->sinks));
	r->sinks[r->nsinks++] = s;
	r->live++;
}

void relay_deliver(struct relay *r, struct buf *b)
{
	if (r->stopping)
		return;
	r->stats.in_dgrams++;
	r->stats.in_bytes += b->len;
	/* Stamped once for every client: how far behind a client is, is
	 * the age of the oldest datagram it still has queued (maxlag=). */
	b->t = uv_now(r->ctx->loop);
	for (size_t i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->push(r->sinks[i], b);
}

void relay_flush(struct relay *r)
{
	if (r->stopping)
		return;
	for (size_t i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->flush(r->sinks[i]);
}

void relay_poll_input(struct relay *r)
{
	if (!r->stopping && r->source && r->source->ops->poll)
		r->source->ops->poll(r->source);
}

void relay_endpoint_gone(struct relay *r)
{
	if (--r->live == 0 && r->stopping && r->on_closed)
		r->on_closed(r);
}

void relay_stop(struct relay *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	stats_remove_owner(&r->ctx->stats, r);
	control_close(r->ctl);
	r->ctl = NULL;
	if (r->source) {
		r->source->ops->close(r->source);
		r->source = NULL;
	}
	for (size_t i = 0; i < r->nsinks; i++) {
		if (r->sinks[i]) {
			r->sinks[i]->ops->close(r->sinks[i]);
			r->sinks[i] = NULL;
		}
	}
	if (r->live == 0 && r->on_closed)
		r->on_closed(r);
}

void relay_free(struct relay *r)
{
	stats_remove_owner(&r->ctx->stats, r);
	free(r->sinks);
	free(r->sink_uris);
	free(r->control_path);
	free(r->name);
	free(r);
}

static void relay_reload_link(struct relay *r, struct link_conf *conf,
			      const struct uri *u)
{
	char err[512];
	int rc;

	if (!conf)
		return;
	rc = link_conf_reload(conf, err, sizeof(err));
	if (rc < 0)
		log_error("relay=%s uri=%s certificates not reloaded, keeping "
			  "the old ones: %s", r->name, u->text, err);
	else if (rc > 0)
		log_info("relay=%s uri=%s certificates reloaded", r->name,
			 u->text);
}

void relay_reload(struct relay *r)
{
	if (r->stopping)
		return;
	if (r->source)
		relay_reload_link(r, r->source->link, r->source->uri);
	for (size_t i = 0; i < r->nsinks; i++)
		if (r->sinks[i])
			relay_reload_link(r, r->sinks[i]->link,
					  r->sinks[i]->uri);
}

void relay_log_stats(const struct relay *r)
{
	struct stats_text t = { 0 };

	stats_render_line(&r->ctx->stats, r, &t);
	if (t.len)
		log_stats("%s", t.data);
	stats_text_free(&t);
}

/* ---- the control API (control.h, docs/mesh.md) ----------------------- */

void relay_set_control(struct relay *r, const char *path)
{
	free(r->control_path);
	r->control_path = xstrdup(path);
}

static void relay_ctl_links(struct relay *r, struct stats_text *t)
{
	bool first = true;

	stats_text_puts(t, ",\"links\":[");
	for (size_t i = 0; i < r->nsinks; i++) {
		struct sink *s = r->sinks[i];

		if (!s || !s->ops->conns)
			continue;
		for (struct conn *c = s->ops->conns(s); c; c = c->next) {
			if (c->state != CONN_OPEN)
				continue;
			control_printf(t, "%s{\"sink\":%zu,\"uri\":",
				       first ? "" : ",", i);
			control_json_str(t, s->uri->text);
			control_printf(t, ",\"link\":%u,\"kind\":\"%s\","
				       "\"peer\":", c->id, c->what);
			control_json_str(t, c->peer);
			control_printf(t, ",\"framing\":\"%s\","
				       "\"queued_bytes\":%llu,"
				       "\"queued_datagrams\":%u,"
				       "\"sent_bytes\":%llu}",
				       !c->decided ? "undecided"
				       : c->framed ? "datagram" : "raw",
				       (unsigned long long)c->q.bytes,
				       c->q.count,
				       (unsigned long long)c->sent_bytes);
			first = false;
		}
	}
	stats_text_puts(t, "]");
}

static int relay_ctl(void *arg, const struct control_req *req,
		     struct stats_text *t, char *err, size_t errlen)
{
	struct relay *r = arg;

	if ((!strcmp(req->op, "node.info") || !strcmp(req->op, "link.list")) &&
	    control_args_check(req, NULL, 0, err, errlen) < 0)
		return -1;
	if (!strcmp(req->op, "node.info")) {
		control_printf(t, ",\"role\":\"relay\",\"name\":");
		control_json_str(t, r->name);
		control_printf(t, ",\"node\":\"%016llx\",\"epoch\":%llu,"
			       "\"source\":",
			       (unsigned long long)r->ctx->node_id,
			       (unsigned long long)r->ctx->epoch);
		control_json_str(t, r->source_uri.text);
		stats_text_puts(t, ",\"sinks\":[");
		for (size_t i = 0; i < r->nsinks; i++) {
			if (i)
				stats_text_puts(t, ",");
			control_json_str(t, r->sink_uris[i].text);
		}
		control_printf(t, "],\"clients\":%u,\"in_datagrams\":%llu,"
			       "\"out_datagrams\":%llu,\"dropped\":%llu",
			       r->stats.clients,
			       (unsigned long long)r->stats.in_dgrams,
			       (unsigned long long)r->stats.out_dgrams,
			       (unsigned long long)r->stats.drops);
		return 0;
	}
	if (!strcmp(req->op, "link.list")) {
		relay_ctl_links(r, t);
		return 0;
	}
	snprintf(err, errlen, "%s '%s' (a relay answers node.info, link.list, "
		 "stats.get, events.subscribe; its source and sinks change "
		 "through its configuration and a reload)",
		 strncmp(req->op, "link.", 5) && strncmp(req->op, "channel.", 8) &&
				 strcmp(req->op, "routes.get")
			 ? "unknown op"
			 : "not an op of a relay:",
		 req->op);
	return -1;
}
