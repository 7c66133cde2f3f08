/* rejoin.h - keeps multicast memberships up. Linux silently drops a
 * membership when its interface goes away, and a re-created interface has
 * a new index: every REJOIN_MS each socket is joined again if it needs it,
 * and a change is logged once (rejoined, or why it cannot).
 *
 * One per owner (a udp source, a gateway), holding any number of sockets.
 * Lifetime: rejoin_start, rejoin_add per socket (rejoin_remove when one
 * closes before the owner stops), rejoin_close (the timer closes;
 * on_closed(data) runs after). The sockets stay the owner's.
 */
#ifndef MCFERRY_REJOIN_H
#define MCFERRY_REJOIN_H

#include <stddef.h>
#include <uv.h>

#include "uri.h"

#define REJOIN_MS 2000

struct rejoin_sock {
	int fd;                   /* -1: closed by its owner, skipped */
	const struct uri *join;   /* what it joined */
	const char *what;         /* "udp source", "channel=G:P" */
	const char *detail;       /* " uri=...", or "" */
	int last;                 /* last mcast_rejoin result */
};

struct rejoin {
	uv_timer_t timer;
	const char *kind, *name;  /* log lines say kind=name */
	struct rejoin_sock *socks;
	size_t n;
	void (*on_closed)(void *data);
	void *data;
};

/* Start checking every REJOIN_MS on loop (no sockets yet). */
void rejoin_start(struct rejoin *r, uv_loop_t *loop, const char *kind,
		  const char *name);
/* Keep fd joined to join's group; what and detail name it in log lines
 * (the strings and join must outlive r, or the rejoin_remove of fd). */
void rejoin_add(struct rejoin *r, int fd, const struct uri *join,
		const char *what, const char *detail);
/* Forget fd (its owner closes it now: a channel deleted at run time). */
void rejoin_remove(struct rejoin *r, int fd);
/* Stop; on_closed(data) runs once the timer has closed. */
void rejoin_close(struct rejoin *r, void (*on_closed)(void *data),
		  void *data);

#endif
