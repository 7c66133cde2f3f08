/* stats.h - a registry of named counters and gauges, and its renderers.
 *
 * One registry per node (event loop), passed in. Every role registers the
 * counters it already keeps in its own structs: the data path increments a
 * plain uint64_t field, the registry holds only a pointer to it and reads it
 * when asked to render. Entries belong to an owner (any pointer: a relay, a
 * hub channel, a link); stats_remove_owner() drops all of them when the
 * owner goes away. The vocabulary is docs/metrics.md.
 *
 * Names follow the Prometheus conventions: counters end in _total, units
 * are base units (bytes, seconds). Labels are given as a NULL-terminated
 * list of key, value strings, e.g.
 *
 *     (const char *const[]){ "service", "hub", "channel", "239.1.1.1:5000", NULL }
 *
 * and are copied. The same name with the same labels (same keys, same order)
 * is one series; a family (one name) has one kind and one help text.
 *
 * Pure module: no libuv, no sockets, never logs; errors are negative errno.
 * Values are read with relaxed atomic loads, so an entry may point at a
 * counter that another thread (a --workers shard) increments.
 */
#ifndef MCFERRY_STATS_H
#define MCFERRY_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_LABELS_MAX 8      /* key, value pairs per series */

enum stats_kind {
	STATS_COUNTER,          /* only goes up; the name ends in _total */
	STATS_GAUGE,            /* a value right now; the name does not */
};

/* A growing, always NUL-terminated text buffer the renderers append to. */
struct stats_text {
	char *data;
	size_t len, cap;
};

struct stats_family;
struct stats_entry;

/* The registry. Its fields are private to stats.c. */
struct stats {
	struct stats_family *fams;
	size_t nfams, famcap;
	struct stats_entry *ents;
	size_t nents, entcap;
	uint32_t *famhash;      /* family index + 1, 0 = empty slot */
	size_t famhashcap;
	uint32_t *enthash;      /* entry index + 1, 0 = empty slot */
	size_t enthashcap;
};

/* An empty registry. */
void stats_init(struct stats *reg);
/* Free every entry and family; value pointers are not touched. */
void stats_exit(struct stats *reg);

/* Register the series name{labels} of owner, read from *value, which must
 * stay valid until stats_remove_owner(reg, owner). Returns 0, -EINVAL for a
 * bad name or label key, too many labels, a counter not named _total (or a
 * gauge that is), or a kind or help text that differs from the family's,
 * and -EEXIST when the series is already registered. */
int stats_add(struct stats *reg, const void *owner, const char *name,
	      const char *const *labels, enum stats_kind kind,
	      const char *help, const uint64_t *value);
/* The same for a 32-bit field (e.g. a number of connected clients). */
int stats_add_u32(struct stats *reg, const void *owner, const char *name,
		  const char *const *labels, enum stats_kind kind,
		  const char *help, const uint32_t *value);
/* The same for a value computed when read: fn(arg), e.g. a sum over
 * shards or a flag. fn must not call into the registry. */
int stats_add_fn(struct stats *reg, const void *owner, const char *name,
		 const char *const *labels, enum stats_kind kind,
		 const char *help, uint64_t (*fn)(const void *arg),
		 const void *arg);
/* Drop every series of owner (a link or channel going away). O(entries). */
void stats_remove_owner(struct stats *reg, const void *owner);

/* The value of name{labels} (labels as registered, NULL for none) in
 * *value: 0, or -ENOENT when there is no such series. */
int stats_get(const struct stats *reg, const char *name,
	      const char *const *labels, uint64_t *value);
/* Number of registered series. */
size_t stats_count(const struct stats *reg);

/* One log line (no newline) for owner: the labels of its first series as
 * key=value, then name=value for each of its series in registration order;
 * a series whose labels differ from the first's is written
 * name{key="value"}=value. Values with characters other than
 * [A-Za-z0-9._:/@%+[]-] are quoted and escaped. Nothing for an unknown
 * owner. */
void stats_render_line(const struct stats *reg, const void *owner,
		       struct stats_text *out);
/* stats_render_line() for every owner, in order of first registration,
 * each line ended by '\n' (the --stats lines). */
void stats_render_lines(const struct stats *reg, struct stats_text *out);
/* Every series as JSON, {"metric":"NAME","labels":{"k":"v"},"value":N}:
 * one object per line, each ended by '\n' (--stats-json), or with array
 * one JSON array on one line without newline (a control socket reply).
 * Series are grouped by family like the Prometheus text. */
void stats_render_json(const struct stats *reg, struct stats_text *out,
		       bool array);
/* The Prometheus text exposition format 0.0.4: per family (in order of
 * first registration) # HELP and # TYPE once, then its series in
 * registration order, however families were interleaved when registered.
 * Empty families are left out. */
void stats_render_prometheus(const struct stats *reg, struct stats_text *out);

/* Append len bytes (or a C string) to t, growing it. */
void stats_text_append(struct stats_text *t, const char *s, size_t len);
void stats_text_puts(struct stats_text *t, const char *s);
/* Forget the text but keep the memory. */
void stats_text_reset(struct stats_text *t);
/* Free the text; t is empty again. */
void stats_text_free(struct stats_text *t);

#endif
