/* shard.c - a relay as N share-nothing shards on N threads; see shard.h. */
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "log.h"
#include "relay.h"
#include "util.h"

struct shard {
	struct shard_group *g;
	uv_loop_t loop;
	struct node *ctx;
	struct relay *relay;
	uv_async_t stop;
	uv_thread_t tid;
	bool thread;
	int ended;               /* set (atomically) when its loop ended */
};

/* The argument of one of the group's series: which relay counter. */
struct shard_series {
	const struct shard_group *g;
	const struct relay_metric *m;
};

struct shard_group {
	char *name;
	uint32_t n;              /* also the mcferry_relay_workers gauge */
	struct shard *shards;
	struct node *home;       /* the main loop's node */
	struct stats *reg;       /* the main loop's: the group's series */
	struct shard_series *series; /* one per relay_metrics[] entry */
	uv_async_t done;         /* on the main loop: a shard's loop ended */
	bool started, stopping;
};

static void shard_group_free(struct shard_group *g);
static int shard_group_stats_add(struct shard_group *g, char *err,
				 size_t errlen);

struct shard_group *shard_group_new(struct node *main, const char *name,
				    unsigned n, const struct uri *src,
				    const struct uri *sinks, size_t nsinks)
{
	struct shard_group *g = xcalloc(1, sizeof(*g));
	uint64_t node_id = main->node_id;

	g->name = xstrdup(name);
	/* Its loop is not known yet (main sets it in app_run): read
	 * g->home->loop at start. */
	g->home = main;
	g->reg = &main->stats;
	g->n = n;
	g->shards = xcalloc(n, sizeof(*g->shards));
	for (unsigned i = 0; i < n; i++) {
		struct shard *s = &g->shards[i];
		char sname[96];

		s->g = g;
		uv_loop_init(&s->loop);
		s->ctx = xcalloc(1, sizeof(*s->ctx));
		s->ctx->loop = &s->loop;
		s->ctx->node_id = node_id;
		s->ctx->epoch = (uint64_t)time(NULL);
		buf_pool_init(&s->ctx->pool);
		stats_init(&s->ctx->stats);
		snprintf(sname, sizeof(sname), "%s/%u", name, i + 1);
		s->relay = relay_new(s->ctx, sname, src, sinks, nsinks);
		s->relay->reuseport = true;
	}
	return g;
}

static void shard_on_stop(uv_async_t *a)
{
	struct shard *s = a->data;

	relay_stop(s->relay);
	uv_close((uv_handle_t *)&s->stop, NULL);
}

static void shard_main(void *arg)
{
	struct shard *s = arg;

	uv_run(&s->loop, UV_RUN_DEFAULT);
	__atomic_store_n(&s->ended, 1, __ATOMIC_RELEASE);
	/* The one call into the main loop from this thread. */
	uv_async_send(&s->g->done);
}

static void shard_on_done_closed(uv_handle_t *h)
{
	shard_group_free(h->data);
}

/* On the main loop: some shard's loop ended (signals may merge). */
static void shard_on_done(uv_async_t *a)
{
	struct shard_group *g = a->data;
	unsigned running = 0;

	for (unsigned i = 0; i < g->n; i++)
		running += g->shards[i].thread &&
			   !__atomic_load_n(&g->shards[i].ended,
					    __ATOMIC_ACQUIRE);
	if (running == 0 && g->stopping)
		uv_close((uv_handle_t *)&g->done, shard_on_done_closed);
}

int shard_group_start(struct shard_group *g, char *err, size_t errlen)
{
	int rc;

	uv_async_init(g->home->loop, &g->done, shard_on_done);
	g->done.data = g;
	g->started = true;
	rc = shard_group_stats_add(g, err, errlen);
	/* Handles are made here, on this thread, before each loop runs; from
	 * then on only the shard's thread touches its loop (uv_async_send
	 * is the one call other threads make). */
	for (unsigned i = 0; i < g->n && rc == 0; i++) {
		struct shard *s = &g->shards[i];

		uv_async_init(&s->loop, &s->stop, shard_on_stop);
		s->stop.data = s;
		rc = relay_start(s->relay, err, errlen);
		if (rc < 0) {
			uv_close((uv_handle_t *)&s->stop, NULL);
			relay_stop(s->relay);
			/* Let the failed shard close what it opened. */
			uv_run(&s->loop, UV_RUN_DEFAULT);
			break;
		}
		rc = uv_thread_create(&s->tid, shard_main, s);
		if (rc < 0) {
			snprintf(err, errlen, "cannot start worker thread: %s",
				 uv_strerror(rc));
			uv_async_send(&s->stop);
			uv_run(&s->loop, UV_RUN_DEFAULT);
			break;
		}
		s->thread = true;
	}
	if (rc == 0)
		log_info("relay=%s workers=%u", g->name, g->n);
	return rc;
}

void shard_group_stop(struct shard_group *g)
{
	if (g->stopping)
		return;
	g->stopping = true;
	/* At once, so that a group of the same name may start now. */
	stats_remove_owner(g->reg, g);
	if (!g->started) {
		shard_group_free(g);
		return;
	}
	for (unsigned i = 0; i < g->n; i++)
		if (g->shards[i].thread)
			uv_async_send(&g->shards[i].stop);
	/* Threads that already ended (or none started) are seen at once. */
	uv_async_send(&g->done);
}

static void shard_group_free(struct shard_group *g)
{
	stats_remove_owner(g->reg, g);
	for (unsigned i = 0; i < g->n; i++) {
		struct shard *s = &g->shards[i];

		if (s->thread)
			uv_thread_join(&s->tid);
		relay_free(s->relay);
		buf_pool_exit(&s->ctx->pool);
		stats_exit(&s->ctx->stats);
		uv_loop_close(&s->loop);
		free(s->ctx);
	}
	free(g->shards);
	free(g->series);
	free(g->name);
	free(g);
}

/* Counters are written by each shard's thread and read here, on the main
 * loop, without a lock: relaxed atomic loads of aligned words, so a line
 * may mix values a few datagrams apart, never torn ones. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* One series of the group: the input from the first shard (every shard
 * takes in every datagram), anything else summed over the shards. */
static uint64_t shard_series_value(const void *arg)
{
	const struct shard_series *ss = arg;
	const struct shard_group *g = ss->g;
	unsigned n = ss->m->input ? 1 : g->n;
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		const char *p = (const char *)&g->shards[i].relay->stats +
				ss->m->off;

		sum += ss->m->u32 ? LOAD(*(const uint32_t *)p)
				  : LOAD(*(const uint64_t *)p);
	}
	return sum;
}

/* The relay's series once for the whole group in the main registry, plus
 * mcferry_relay_workers: 0, or a negative errno with the reason in err. */
static int shard_group_stats_add(struct shard_group *g, char *err,
				 size_t errlen)
{
	const char *const labels[] = { "relay", g->name, NULL };
	const char *name = NULL;
	int rc = 0;

	g->series = xcalloc(relay_nmetrics, sizeof(*g->series));
	for (size_t i = 0; i < relay_nmetrics && rc == 0; i++) {
		const struct relay_metric *m = &relay_metrics[i];

		g->series[i] = (struct shard_series){ g, m };
		name = m->name;
		rc = stats_add_fn(g->reg, g, m->name, labels, m->kind, m->help,
				  shard_series_value, &g->series[i]);
	}
	if (rc == 0) {
		name = "mcferry_relay_workers";
		rc = stats_add_u32(g->reg, g, name, labels, STATS_GAUGE,
				   "Threads of a --workers relay.", &g->n);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot register %s: %s", name,
			 strerror(-rc));
	return rc;
}

void shard_group_log_stats(const struct shard_group *g)
{
	struct stats_text t = { 0 };

	stats_render_line(g->reg, g, &t);
	if (t.len)
		log_stats("%s", t.data);
	stats_text_free(&t);
}
