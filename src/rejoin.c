/* rejoin.c - keeps multicast memberships up; see rejoin.h. */
#include "rejoin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcast.h"
#include "util.h"

static void rejoin_on_timer(uv_timer_t *t)
{
	struct rejoin *r = t->data;

	for (size_t i = 0; i < r->n; i++) {
		struct rejoin_sock *s = &r->socks[i];
		int rc;

		if (s->fd < 0)
			continue;
		rc = mcast_rejoin(s->fd, s->join);
		if (rc == 0)
			log_warn("%s=%s %s rejoined%s (its interface went away "
				 "and came back)",
				 r->kind, r->name, s->what, s->detail);
		else if (rc != -EADDRINUSE && rc != s->last)
			log_warn("%s=%s %s cannot rejoin%s: %s", r->kind,
				 r->name, s->what, s->detail, strerror(-rc));
		s->last = rc;
	}
}

void rejoin_start(struct rejoin *r, uv_loop_t *loop, const char *kind,
		  const char *name)
{
	r->kind = kind;
	r->name = name;
	r->socks = NULL;
	r->n = 0;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, rejoin_on_timer, REJOIN_MS, REJOIN_MS);
}

void rejoin_add(struct rejoin *r, int fd, const struct uri *join,
		const char *what, const char *detail)
{
	r->socks = xrealloc(r->socks, (r->n + 1) * sizeof(*r->socks));
	r->socks[r->n++] = (struct rejoin_sock){ .fd = fd, .join = join,
						 .what = what, .detail = detail,
						 .last = -EADDRINUSE };
}

void rejoin_remove(struct rejoin *r, int fd)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->socks[i].fd == fd) {
			memmove(&r->socks[i], &r->socks[i + 1],
				(r->n - i - 1) * sizeof(*r->socks));
			r->n--;
			return;
		}
	}
}

static void rejoin_on_closed(uv_handle_t *h)
{
	struct rejoin *r = h->data;

	free(r->socks);
	r->socks = NULL;
	r->n = 0;
	if (r->on_closed)
		r->on_closed(r->data);
}

void rejoin_close(struct rejoin *r, void (*on_closed)(void *data), void *data)
{
	r->on_closed = on_closed;
	r->data = data;
	uv_close((uv_handle_t *)&r->timer, rejoin_on_closed);
}
