/* service.h - what one mcferry process runs: relays, relay shard groups,
 * hubs, gateways and HTTP fronts, each behind one small ops table, kept in a list that
 * a configuration reload can diff.
 */
#ifndef MCFERRY_SERVICE_H
#define MCFERRY_SERVICE_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "gateway.h"
#include "relay.h"

/* One lifetime for every service: start (on failure the caller still
 * stops it), then stop, after which the service frees itself once its
 * last handle has closed; the list entry must not be used after stop. */
struct service_ops {
	int (*start)(void *obj, char *err, size_t errlen);
	void (*stop)(void *obj);            /* close; it frees itself */
	void (*log_stats)(const void *obj);
	/* SIGHUP, for a running service a reload keeps: re-read the files
	 * its configuration names (certificates and keys of every listener
	 * and dialer, a hub's ACL) for what comes next; established
	 * connections keep running. Failures are logged, the old stays. */
	void (*reload)(void *obj);
};

struct service {
	const struct service_ops *ops;
	void *obj;
	char *name;        /* "relay=NAME", for log lines */
	char *fingerprint; /* its whole configuration, canonical: a reload
			    * keeps a service whose fingerprint is unchanged */
};

struct service_list {
	struct service *v;
	size_t n;
};

/* Add a relay (a shard group when workers > 1), a hub or a gateway, not
 * yet started. URIs and spec are copied. control: the relay's control
 * socket path, "" for none (workers = 1 only: config.c refuses more). */
void service_add_relay(struct service_list *l, struct node *ctx,
		       const char *name, const struct uri *src,
		       const struct uri *sinks, size_t nsinks,
		       unsigned workers, const char *control);
void service_add_hub(struct service_list *l, struct node *ctx,
		     const struct config_hub *hub);
void service_add_gateway(struct service_list *l, struct node *ctx,
			 const struct gateway_spec *spec);
void service_add_http(struct service_list *l, struct node *ctx,
		      const struct http_conf *conf);
/* Add everything a configuration file describes. */
void service_add_config(struct service_list *l, struct node *ctx,
			const struct config *cfg);
/* Move service i of from to the end of to. */
void service_move(struct service_list *from, size_t i, struct service_list *to);
/* Empty the list (its services are stopped and gone by now). */
void service_list_free(struct service_list *l);
/* --stats-json: write every series of the registry to f as JSON lines
 * (stats_render_json) and flush, in one go so a reader sees whole lines;
 * a failed write is logged as a warning. */
void service_write_stats_json(const struct stats *reg, FILE *f);

#endif
