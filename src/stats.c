/* stats.c - the counter registry: series that point at their owners'
 * counters, grouped into families, rendered as log lines, JSON lines or the
 * Prometheus text format.
 *
 * Layout: families (one per metric name) are never removed, so a family's
 * index is stable; series are a flat array in registration order, each with
 * its family's index and its labels packed as "key\0value\0key\0value\0".
 * Two open-addressing hash tables (linear probing, at most half full) find
 * a family by name and a series by (family, labels) in O(1), so adding n
 * series costs O(n) and a duplicate is refused at once.
 *
 * Rendering groups series with a counting sort (by family index, or by
 * owner for the log lines), which keeps registration order within a group
 * and is O(series + families): no renderer is quadratic.
 */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum stats_src { SRC_U64, SRC_U32, SRC_FN };

struct stats_family {
	char *name;
	char *help;
	enum stats_kind kind;
	uint32_t hash;
	size_t nents;            /* live series: an empty family is not shown */
};

struct stats_entry {
	const void *owner;
	uint32_t fam;
	uint32_t hash;           /* of (fam, labels) */
	enum stats_src src;
	union {
		const uint64_t *u64;
		const uint32_t *u32;
		struct {
			uint64_t (*fn)(const void *arg);
			const void *arg;
		} fn;
	} v;
	char *lab;               /* packed labels, NULL for none */
	size_t lablen;
};

/* ---- hashing ------------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

#define FNV_SEED 2166136261u

static uint32_t series_hash(uint32_t fam, const char *lab, size_t lablen)
{
	return fnv1a(fnv1a(FNV_SEED, &fam, sizeof(fam)), lab, lablen);
}

/* Insert index i with hash h into a table of cap slots (a power of two). */
static void slot_put(uint32_t *tab, size_t cap, uint32_t h, size_t i)
{
	size_t s = h & (cap - 1);

	while (tab[s])
		s = (s + 1) & (cap - 1);
	tab[s] = (uint32_t)(i + 1);
}

static void famhash_rebuild(struct stats *reg, size_t cap)
{
	free(reg->famhash);
	reg->famhash = xcalloc(cap, sizeof(*reg->famhash));
	reg->famhashcap = cap;
	for (size_t i = 0; i < reg->nfams; i++)
		slot_put(reg->famhash, cap, reg->fams[i].hash, i);
}

static void enthash_rebuild(struct stats *reg, size_t cap)
{
	free(reg->enthash);
	reg->enthash = xcalloc(cap, sizeof(*reg->enthash));
	reg->enthashcap = cap;
	for (size_t i = 0; i < reg->nents; i++)
		slot_put(reg->enthash, cap, reg->ents[i].hash, i);
}

static long family_find(const struct stats *reg, const char *name,
			uint32_t h)
{
	if (!reg->famhashcap)
		return -1;
	for (size_t s = h & (reg->famhashcap - 1); reg->famhash[s];
	     s = (s + 1) & (reg->famhashcap - 1)) {
		const struct stats_family *f = &reg->fams[reg->famhash[s] - 1];

		if (f->hash == h && !strcmp(f->name, name))
			return (long)(reg->famhash[s] - 1);
	}
	return -1;
}

static long entry_find(const struct stats *reg, uint32_t fam,
		       const char *lab, size_t lablen, uint32_t h)
{
	if (!reg->enthashcap)
		return -1;
	for (size_t s = h & (reg->enthashcap - 1); reg->enthash[s];
	     s = (s + 1) & (reg->enthashcap - 1)) {
		const struct stats_entry *e = &reg->ents[reg->enthash[s] - 1];

		if (e->hash == h && e->fam == fam && e->lablen == lablen &&
		    (lablen == 0 || !memcmp(e->lab, lab, lablen)))
			return (long)(reg->enthash[s] - 1);
	}
	return -1;
}

/* ---- names and labels ---------------------------------------------- */

static bool name_ok(const char *s, bool colon)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') ||
			     (*p >= 'A' && *p <= 'Z') || *p == '_' ||
			     (colon && *p == ':');

		if (!alpha && (p == s || *p < '0' || *p > '9'))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Pack labels as "k\0v\0..." into out (NULL: only measure), the length in
 * *lablen: 0, or -EINVAL for a bad key, a missing value or too many. */
static int labels_pack(const char *const *labels, char *out, size_t *lablen)
{
	size_t n = 0, len = 0;

	for (; labels && labels[0]; labels += 2) {
		size_t kl, vl;

		if (!labels[1] || ++n > STATS_LABELS_MAX ||
		    !name_ok(labels[0], false) ||
		    !strncmp(labels[0], "__", 2))
			return -EINVAL;
		kl = strlen(labels[0]) + 1;
		vl = strlen(labels[1]) + 1;
		if (out) {
			memcpy(out + len, labels[0], kl);
			memcpy(out + len + kl, labels[1], vl);
		}
		len += kl + vl;
	}
	*lablen = len;
	return 0;
}

/* Step through packed labels: *k and *v, false at the end. */
static bool label_next(const char *lab, size_t lablen, size_t *pos,
		       const char **k, const char **v)
{
	if (*pos >= lablen)
		return false;
	*k = lab + *pos;
	*pos += strlen(*k) + 1;
	*v = lab + *pos;
	*pos += strlen(*v) + 1;
	return true;
}

/* ---- the registry -------------------------------------------------- */

void stats_init(struct stats *reg)
{
	memset(reg, 0, sizeof(*reg));
}

void stats_exit(struct stats *reg)
{
	for (size_t i = 0; i < reg->nents; i++)
		free(reg->ents[i].lab);
	for (size_t i = 0; i < reg->nfams; i++) {
		free(reg->fams[i].name);
		free(reg->fams[i].help);
	}
	free(reg->ents);
	free(reg->fams);
	free(reg->famhash);
	free(reg->enthash);
	memset(reg, 0, sizeof(*reg));
}

static int family_get(struct stats *reg, const char *name,
		      enum stats_kind kind, const char *help, uint32_t *out)
{
	uint32_t h = fnv1a(FNV_SEED, name, strlen(name));
	long i = family_find(reg, name, h);
	struct stats_family *f;

	if (!help)
		help = "";
	if (i >= 0) {
		f = &reg->fams[i];
		if (f->kind != kind || strcmp(f->help, help))
			return -EINVAL;
		*out = (uint32_t)i;
		return 0;
	}
	if (reg->nfams == reg->famcap) {
		reg->famcap = reg->famcap ? 2 * reg->famcap : 16;
		reg->fams = xrealloc(reg->fams,
				     reg->famcap * sizeof(*reg->fams));
	}
	f = &reg->fams[reg->nfams++];
	*f = (struct stats_family){ .name = xstrdup(name),
				    .help = xstrdup(help),
				    .kind = kind,
				    .hash = h };
	if (2 * reg->nfams > reg->famhashcap)
		famhash_rebuild(reg, reg->famhashcap ? 2 * reg->famhashcap
						     : 32);
	else
		slot_put(reg->famhash, reg->famhashcap, h, reg->nfams - 1);
	*out = (uint32_t)(reg->nfams - 1);
	return 0;
}

/* Everything stats_add*() share: e->src and e->v are set by the caller. */
static int stats_add_entry(struct stats *reg, const void *owner,
			   const char *name, const char *const *labels,
			   enum stats_kind kind, const char *help,
			   const struct stats_entry *proto)
{
	struct stats_entry *e;
	size_t lablen;
	uint32_t fam, h;
	char *lab = NULL;
	int rc;

	if (!name_ok(name, true) ||
	    ends_with(name, "_total") != (kind == STATS_COUNTER))
		return -EINVAL;
	rc = labels_pack(labels, NULL, &lablen);
	if (rc < 0)
		return rc;
	if (lablen) {
		lab = xmalloc(lablen);
		labels_pack(labels, lab, &lablen);
	}
	rc = family_get(reg, name, kind, help, &fam);
	if (rc < 0)
		goto fail;
	h = series_hash(fam, lab, lablen);
	if (entry_find(reg, fam, lab, lablen, h) >= 0) {
		rc = -EEXIST;
		goto fail;
	}
	if (reg->nents == reg->entcap) {
		reg->entcap = reg->entcap ? 2 * reg->entcap : 64;
		reg->ents = xrealloc(reg->ents,
				     reg->entcap * sizeof(*reg->ents));
	}
	e = &reg->ents[reg->nents++];
	*e = *proto;
	e->owner = owner;
	e->fam = fam;
	e->hash = h;
	e->lab = lab;
	e->lablen = lablen;
	reg->fams[fam].nents++;
	if (2 * reg->nents > reg->enthashcap)
		enthash_rebuild(reg, reg->enthashcap ? 2 * reg->enthashcap
						     : 128);
	else
		slot_put(reg->enthash, reg->enthashcap, h, reg->nents - 1);
	return 0;
fail:
	free(lab);
	return rc;
}

int stats_add(struct stats *reg, const void *owner, const char *name,
	      const char *const *labels, enum stats_kind kind,
	      const char *help, const uint64_t *value)
{
	struct stats_entry e = { .src = SRC_U64, .v.u64 = value };

	return stats_add_entry(reg, owner, name, labels, kind, help, &e);
}

int stats_add_u32(struct stats *reg, const void *owner, const char *name,
		  const char *const *labels, enum stats_kind kind,
		  const char *help, const uint32_t *value)
{
	struct stats_entry e = { .src = SRC_U32, .v.u32 = value };

	return stats_add_entry(reg, owner, name, labels, kind, help, &e);
}

int stats_add_fn(struct stats *reg, const void *owner, const char *name,
		 const char *const *labels, enum stats_kind kind,
		 const char *help, uint64_t (*fn)(const void *arg),
		 const void *arg)
{
	struct stats_entry e = { .src = SRC_FN, .v.fn = { fn, arg } };

	return stats_add_entry(reg, owner, name, labels, kind, help, &e);
}

void stats_remove_owner(struct stats *reg, const void *owner)
{
	size_t kept = 0;

	for (size_t i = 0; i < reg->nents; i++) {
		struct stats_entry *e = &reg->ents[i];

		if (e->owner == owner) {
			reg->fams[e->fam].nents--;
			free(e->lab);
			continue;
		}
		reg->ents[kept++] = *e;
	}
	if (kept == reg->nents)
		return;
	reg->nents = kept;
	/* Indices moved: the series table is rebuilt (same size). */
	enthash_rebuild(reg, reg->enthashcap);
}

static uint64_t entry_value(const struct stats_entry *e)
{
	switch (e->src) {
	case SRC_U64:
		return __atomic_load_n(e->v.u64, __ATOMIC_RELAXED);
	case SRC_U32:
		return __atomic_load_n(e->v.u32, __ATOMIC_RELAXED);
	case SRC_FN:
		break;
	}
	return e->v.fn.fn(e->v.fn.arg);
}

int stats_get(const struct stats *reg, const char *name,
	      const char *const *labels, uint64_t *value)
{
	size_t lablen;
	char *lab = NULL;
	long fam, i = -1;

	fam = family_find(reg, name, fnv1a(FNV_SEED, name, strlen(name)));
	if (fam < 0 || labels_pack(labels, NULL, &lablen) < 0)
		return -ENOENT;
	if (lablen) {
		lab = xmalloc(lablen);
		labels_pack(labels, lab, &lablen);
	}
	i = entry_find(reg, (uint32_t)fam, lab, lablen,
		       series_hash((uint32_t)fam, lab, lablen));
	free(lab);
	if (i < 0)
		return -ENOENT;
	*value = entry_value(&reg->ents[i]);
	return 0;
}

size_t stats_count(const struct stats *reg)
{
	return reg->nents;
}

/* ---- text ---------------------------------------------------------- */

static void text_reserve(struct stats_text *t, size_t more)
{
	size_t need = t->len + more + 1;

	if (need <= t->cap)
		return;
	if (t->cap == 0)
		t->cap = 256;
	while (t->cap < need)
		t->cap *= 2;
	t->data = xrealloc(t->data, t->cap);
}

void stats_text_append(struct stats_text *t, const char *s, size_t len)
{
	text_reserve(t, len);
	memcpy(t->data + t->len, s, len);
	t->len += len;
	t->data[t->len] = '\0';
}

void stats_text_puts(struct stats_text *t, const char *s)
{
	stats_text_append(t, s, strlen(s));
}

static void text_putc(struct stats_text *t, char c)
{
	stats_text_append(t, &c, 1);
}

static void text_u64(struct stats_text *t, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	stats_text_append(t, num, (size_t)n);
}

void stats_text_reset(struct stats_text *t)
{
	t->len = 0;
	if (t->data)
		t->data[0] = '\0';
}

void stats_text_free(struct stats_text *t)
{
	free(t->data);
	*t = (struct stats_text){ 0 };
}

/* The exposition format escapes backslash and newline in HELP text, and
 * the double quote as well in label values. */
static void put_prom_escaped(struct stats_text *t, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			stats_text_puts(t, "\\\\");
		else if (*s == '\n')
			stats_text_puts(t, "\\n");
		else if (*s == '"' && quote)
			stats_text_puts(t, "\\\"");
		else
			text_putc(t, *s);
	}
}

/* A JSON string body: quote, backslash and every control character
 * escaped; other bytes (UTF-8) pass through. */
static void put_json_escaped(struct stats_text *t, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			text_putc(t, '\\');
			text_putc(t, (char)c);
		} else if (c == '\n') {
			stats_text_puts(t, "\\n");
		} else if (c == '\t') {
			stats_text_puts(t, "\\t");
		} else if (c == '\r') {
			stats_text_puts(t, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			stats_text_puts(t, esc);
		} else {
			text_putc(t, (char)c);
		}
	}
}

/* {k="v",k2="v2"}, or nothing without labels. */
static void put_prom_labels(struct stats_text *t, const struct stats_entry *e)
{
	const char *k, *v;
	size_t pos = 0;

	if (!e->lablen)
		return;
	text_putc(t, '{');
	while (label_next(e->lab, e->lablen, &pos, &k, &v)) {
		if (k != e->lab)
			text_putc(t, ',');
		stats_text_puts(t, k);
		stats_text_puts(t, "=\"");
		put_prom_escaped(t, v, true);
		text_putc(t, '"');
	}
	text_putc(t, '}');
}

/* Counting sort of series indices by key[i] < nkeys: stable, so
 * registration order holds within a key. Returns the order (free it). */
static size_t *order_by(const uint32_t *key, size_t n, size_t nkeys)
{
	size_t *start = xcalloc(nkeys + 1, sizeof(*start));
	size_t *order = xmalloc((n ? n : 1) * sizeof(*order));

	for (size_t i = 0; i < n; i++)
		start[key[i] + 1]++;
	for (size_t k = 0; k < nkeys; k++)
		start[k + 1] += start[k];
	for (size_t i = 0; i < n; i++)
		order[start[key[i]]++] = i;
	free(start);
	return order;
}

static size_t *order_by_family(const struct stats *reg)
{
	uint32_t *key = xmalloc((reg->nents ? reg->nents : 1) * sizeof(*key));
	size_t *order;

	for (size_t i = 0; i < reg->nents; i++)
		key[i] = reg->ents[i].fam;
	order = order_by(key, reg->nents, reg->nfams);
	free(key);
	return order;
}

void stats_render_prometheus(const struct stats *reg, struct stats_text *out)
{
	size_t *order = order_by_family(reg);
	uint32_t cur = UINT32_MAX;

	for (size_t j = 0; j < reg->nents; j++) {
		const struct stats_entry *e = &reg->ents[order[j]];
		const struct stats_family *f = &reg->fams[e->fam];

		if (e->fam != cur) {
			cur = e->fam;
			if (*f->help) {
				stats_text_puts(out, "# HELP ");
				stats_text_puts(out, f->name);
				text_putc(out, ' ');
				put_prom_escaped(out, f->help, false);
				text_putc(out, '\n');
			}
			stats_text_puts(out, "# TYPE ");
			stats_text_puts(out, f->name);
			stats_text_puts(out, f->kind == STATS_COUNTER
						     ? " counter\n"
						     : " gauge\n");
		}
		stats_text_puts(out, f->name);
		put_prom_labels(out, e);
		text_putc(out, ' ');
		text_u64(out, entry_value(e));
		text_putc(out, '\n');
	}
	free(order);
}

void stats_render_json(const struct stats *reg, struct stats_text *out,
		       bool array)
{
	size_t *order = order_by_family(reg);

	if (array)
		text_putc(out, '[');
	for (size_t j = 0; j < reg->nents; j++) {
		const struct stats_entry *e = &reg->ents[order[j]];
		const char *k, *v;
		size_t pos = 0;

		if (array && j)
			text_putc(out, ',');
		stats_text_puts(out, "{\"metric\":\"");
		put_json_escaped(out, reg->fams[e->fam].name);
		stats_text_puts(out, "\",\"labels\":{");
		while (label_next(e->lab, e->lablen, &pos, &k, &v)) {
			if (k != e->lab)
				text_putc(out, ',');
			text_putc(out, '"');
			put_json_escaped(out, k);
			stats_text_puts(out, "\":\"");
			put_json_escaped(out, v);
			text_putc(out, '"');
		}
		stats_text_puts(out, "},\"value\":");
		text_u64(out, entry_value(e));
		text_putc(out, '}');
		if (!array)
			text_putc(out, '\n');
	}
	if (array)
		text_putc(out, ']');
	free(order);
}

/* ---- log lines ----------------------------------------------------- */

static bool line_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._:/@%+[]-", *s)))
			return false;
	return true;
}

static void put_line_value(struct stats_text *t, const char *v)
{
	if (line_safe(v)) {
		stats_text_puts(t, v);
		return;
	}
	text_putc(t, '"');
	put_json_escaped(t, v);
	text_putc(t, '"');
}

static bool same_labels(const struct stats_entry *a,
			const struct stats_entry *b)
{
	return a->lablen == b->lablen &&
	       (a->lablen == 0 || !memcmp(a->lab, b->lab, a->lablen));
}

/* One owner's line from its series ents[idx[0..n)], first one first. */
static void render_owner(const struct stats *reg, const size_t *idx, size_t n,
			 struct stats_text *out)
{
	const struct stats_entry *first = &reg->ents[idx[0]];
	const char *k, *v;
	size_t pos = 0;
	bool sep = false;

	while (label_next(first->lab, first->lablen, &pos, &k, &v)) {
		if (sep)
			text_putc(out, ' ');
		stats_text_puts(out, k);
		text_putc(out, '=');
		put_line_value(out, v);
		sep = true;
	}
	for (size_t j = 0; j < n; j++) {
		const struct stats_entry *e = &reg->ents[idx[j]];

		if (sep)
			text_putc(out, ' ');
		stats_text_puts(out, reg->fams[e->fam].name);
		if (!same_labels(e, first))
			put_prom_labels(out, e);
		text_putc(out, '=');
		text_u64(out, entry_value(e));
		sep = true;
	}
}

void stats_render_line(const struct stats *reg, const void *owner,
		       struct stats_text *out)
{
	size_t *idx = xmalloc((reg->nents ? reg->nents : 1) * sizeof(*idx));
	size_t n = 0;

	for (size_t i = 0; i < reg->nents; i++)
		if (reg->ents[i].owner == owner)
			idx[n++] = i;
	if (n)
		render_owner(reg, idx, n, out);
	free(idx);
}

static uint32_t ptr_hash(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	return fnv1a(FNV_SEED, &v, sizeof(v));
}

void stats_render_lines(const struct stats *reg, struct stats_text *out)
{
	size_t n = reg->nents, cap = 16, ngroups = 0;
	uint32_t *gid, *tab;
	const void **owners;
	size_t *order;

	if (!n)
		return;
	while (cap < 2 * n)
		cap *= 2;
	/* Owner -> group number in order of first appearance, through a
	 * scratch hash table, then a counting sort by group. */
	tab = xcalloc(cap, sizeof(*tab));
	owners = xmalloc(n * sizeof(*owners));
	gid = xmalloc(n * sizeof(*gid));
	for (size_t i = 0; i < n; i++) {
		const void *o = reg->ents[i].owner;
		size_t s = ptr_hash(o) & (cap - 1);

		while (tab[s] && owners[tab[s] - 1] != o)
			s = (s + 1) & (cap - 1);
		if (!tab[s]) {
			owners[ngroups] = o;
			tab[s] = (uint32_t)++ngroups;
		}
		gid[i] = tab[s] - 1;
	}
	order = order_by(gid, n, ngroups);
	for (size_t j = 0; j < n;) {
		size_t end = j + 1;

		while (end < n && gid[order[end]] == gid[order[j]])
			end++;
		render_owner(reg, order + j, end - j, out);
		text_putc(out, '\n');
		j = end;
	}
	free(order);
	free(gid);
	free(owners);
	free(tab);
}
