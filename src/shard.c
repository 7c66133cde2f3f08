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

struct shard_group {
	char *name;
	unsigned n;
	struct shard *shards;
	struct node *home;       /* the main loop's node */
	uv_async_t done;         /* on the main loop: a shard's loop ended */
	bool started, stopping;
};

static void shard_group_free(struct shard_group *g);

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
	int rc = 0;

	uv_async_init(g->home->loop, &g->done, shard_on_done);
	g->done.data = g;
	g->started = true;
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
	free(g->name);
	free(g);
}

/* Counters are written by each shard's thread and read here without a
 * lock: relaxed atomic loads of aligned 64-bit words, so a line may mix
 * values a few datagrams apart, never torn ones. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void shard_group_log_stats(const struct shard_group *g)
{
	struct relay_stats t = { 0 };
	const struct relay_stats *first = &g->shards[0].relay->stats;

	t.in_dgrams = LOAD(first->in_dgrams);
	t.in_bytes = LOAD(first->in_bytes);
	for (unsigned i = 0; i < g->n; i++) {
		const struct relay_stats *s = &g->shards[i].relay->stats;

		t.out_dgrams += LOAD(s->out_dgrams);
		t.out_bytes += LOAD(s->out_bytes);
		t.drops += LOAD(s->drops);
		t.cutoffs += LOAD(s->cutoffs);
		t.reconnects += LOAD(s->reconnects);
		t.rejected += LOAD(s->rejected);
		t.clients += LOAD(s->clients);
	}
	log_stats("relay=%s in_dgrams=%llu in_bytes=%llu out_dgrams=%llu "
		  "out_bytes=%llu clients=%u drops=%llu cutoffs=%llu "
		  "reconnects=%llu rejected=%llu workers=%u",
		  g->name, (unsigned long long)t.in_dgrams,
		  (unsigned long long)t.in_bytes,
		  (unsigned long long)t.out_dgrams,
		  (unsigned long long)t.out_bytes, t.clients,
		  (unsigned long long)t.drops, (unsigned long long)t.cutoffs,
		  (unsigned long long)t.reconnects,
		  (unsigned long long)t.rejected, g->n);
}
