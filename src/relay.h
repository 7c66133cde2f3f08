/* relay.h - a one-way pipeline from one source endpoint to many sinks.
 *
 * A source reads datagrams into shared buffers and hands each one to
 * relay_deliver(); every sink queues a reference. At the end of an input
 * batch the source calls relay_flush() so that sinks write what they
 * gathered (one writev per client, one sendmmsg per socket).
 */
#ifndef MCFERRY_RELAY_H
#define MCFERRY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "node.h"
#include "stats.h"
#include "uri.h"

struct relay_stats {
	uint64_t in_dgrams, in_bytes;
	uint64_t out_dgrams, out_bytes;
	uint64_t drops;       /* datagrams not delivered to a sink */
	uint64_t cutoffs;     /* clients cut off as slow consumers */
	uint64_t skips;       /* datagrams skipped for clients behind */
	uint64_t skip_episodes; /* times a client began to be skipped */
	uint64_t reconnects;  /* outbound connections re-established */
	uint64_t rejected;    /* connections refused or closed for bad input */
	uint32_t clients;     /* connected TCP peers right now */
};

/* One field of struct relay_stats as the registry knows it: the name and
 * help text of docs/metrics.md. The relay registers each one under the
 * label service=NAME; a --workers shard group registers the same names
 * over all its shards (input read from the first, the rest summed). */
struct relay_metric {
	const char *name;
	enum stats_kind kind;
	const char *help;
	size_t off;            /* of the field in struct relay_stats */
	bool u32;              /* a uint32_t field, else uint64_t */
	bool input;            /* every shard counts it alike: read one */
};

extern const struct relay_metric relay_metrics[];
extern const size_t relay_nmetrics;

struct relay;
struct control;

struct sink;
struct sink_ops {
	/* Queue one datagram; take a reference if it is kept. */
	void (*push)(struct sink *s, struct buf *b);
	/* An input batch ended: write what was queued. */
	void (*flush)(struct sink *s);
	/* Close every socket; the sink frees itself once they are closed. */
	void (*close)(struct sink *s);
	/* Optional: the first of its connections now (clients of a
	 * listening sink, the one link of a connecting sink), the rest
	 * through conn->next; NULL when none (the control API's
	 * link.list). */
	struct conn *(*conns)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	struct relay *relay;
	const struct uri *uri;
	/* Its transport's configuration (tcp, tls: its listener's or
	 * dialer's), reloaded on SIGHUP; NULL for udp. */
	struct link_conf *link;
};

struct source;
struct source_ops {
	/* Close every socket; the source frees itself once they are closed. */
	void (*close)(struct source *s);
	/* Optional: read what waits now and deliver it, without the
	 * end-of-batch flush (relay_poll_input). */
	void (*poll)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	struct relay *relay;
	const struct uri *uri;
	struct link_conf *link;  /* as struct sink's */
};

struct relay {
	char *name;
	struct conn_owner own; /* of its endpoints' connections */
	struct node *ctx;
	struct uri source_uri;
	struct uri *sink_uris;
	size_t nsinks;
	struct source *source;
	struct sink **sinks;
	struct relay_stats stats;
	bool stopping;         /* endpoints are closing: deliver nothing */
	int live;              /* endpoints opened and not yet gone */
	/* The last endpoint is gone after relay_stop: the owner may free
	 * the relay now (NULL: nobody to tell). */
	void (*on_closed)(struct relay *r);
	void *data;            /* the owner's */
	bool reuseport;        /* one shard of several: listeners share ports */
	char *control_path;    /* relay_set_control, or NULL */
	struct control *ctl;   /* open from relay_start to relay_stop */
};

/* A relay named name from source_uri to the sink URIs (copied). The URIs
 * must already be parsed and role-checked. */
struct relay *relay_new(struct node *ctx, const char *name,
			const struct uri *source_uri, const struct uri *sinks,
			size_t nsinks);
/* Register the relay's counters in its node's registry, then open every
 * endpoint (bind, join, listen, start connecting). Returns 0 or a
 * negative errno with a one-line reason in err; on failure the caller
 * stops the relay, which closes what was opened. */
int relay_start(struct relay *r, char *err, size_t errlen);
/* Serve the control API (control.h) on a unix socket at path, opened by
 * relay_start once the endpoints are: node.info, link.list (the
 * connections of its sinks), stats.get, events.subscribe. */
void relay_set_control(struct relay *r, const char *path);
/* Attach a sink that is an object of the caller, not opened from a URI
 * (an HTTP channel's viewers), after a successful relay_start: it counts
 * as an endpoint, so its close() must end in one relay_endpoint_gone(). */
void relay_add_sink(struct relay *r, struct sink *s);
/* Hand one datagram from the source to every sink. The caller keeps its
 * reference. */
void relay_deliver(struct relay *r, struct buf *b);
/* End of an input batch: every sink writes what it queued. */
void relay_flush(struct relay *r);
/* For sinks in the middle of a long round of writes: let the source read
 * what has arrived meanwhile (delivered, not flushed), so that input never
 * waits behind output; overload is then shed per client by its policy. */
void relay_poll_input(struct relay *r);
/* Drop the relay's counters from the registry (so that a relay of the same
 * name may start at once, as a reload does) and close every endpoint
 * (idempotent); on_closed runs once all are gone. */
void relay_stop(struct relay *r);
/* Free a relay that is closed (or never started); its counters leave the
 * registry first if they are still there. */
void relay_free(struct relay *r);
/* For endpoints: every *_open call ends in exactly one call of this, when
 * the endpoint is freed (at once when the open failed without leaving a
 * handle). */
void relay_endpoint_gone(struct relay *r);
/* SIGHUP for a relay that keeps running: every tcp/tls endpoint re-reads
 * its certificates (link_conf_reload) for the connections made from now
 * on; established ones keep theirs. A failure is logged and keeps the old
 * ones. */
void relay_reload(struct relay *r);
/* Log the relay's series in the registry as one stats line. */
void relay_log_stats(const struct relay *r);

/* Endpoint constructors: 0 or a negative errno with a reason in err. */
int source_udp_open(struct relay *r, const struct uri *u, struct source **out,
		    char *err, size_t errlen);
int source_tcp_open(struct relay *r, const struct uri *u, struct source **out,
		    char *err, size_t errlen);
int sink_udp_open(struct relay *r, const struct uri *u, struct sink **out,
		  char *err, size_t errlen);
int sink_tcp_open(struct relay *r, const struct uri *u, struct sink **out,
		  char *err, size_t errlen);

#endif
