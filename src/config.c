/* config.c - strict parser for the `mcferry run` configuration file. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "util.h"

/* Files larger than this are refused rather than read into memory. */
#define CONFIG_FILE_MAX (1 << 20)

static int config_fail(char *err, size_t errlen, int line, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));

static int config_fail(char *err, size_t errlen, int line, const char *fmt,
		       ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %d: ", line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONFIG_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

/* Which kind of section the lines that follow belong to. */
enum section { SEC_NONE, SEC_RELAY, SEC_HUB, SEC_GATEWAY };

static bool name_taken(const struct config *cfg, const char *name, int *line)
{
	for (size_t i = 0; i < cfg->nrelays; i++)
		if (!strcmp(cfg->relays[i].name, name))
			return *line = cfg->relays[i].line, true;
	for (size_t i = 0; i < cfg->nhubs; i++)
		if (!strcmp(cfg->hubs[i].name, name))
			return *line = cfg->hubs[i].line, true;
	for (size_t i = 0; i < cfg->ngateways; i++)
		if (!strcmp(cfg->gateways[i].spec.name, name))
			return *line = cfg->gateways[i].line, true;
	return false;
}

static int parse_section(struct config *cfg, enum section *sec, char *s,
			 int line, char *err, size_t errlen)
{
	char *end = strchr(s, ']');
	char *name, *kind;
	int other;

	if (!end || trim(end + 1)[0])
		return config_fail(err, errlen, line,
				   "section header must end with ']'");
	*end = '\0';
	kind = trim(s + 1);
	name = kind + strcspn(kind, " \t");
	if (*name)
		*name++ = '\0';
	name = trim(name);
	if (!strcmp(kind, "hub") && !*name)
		name = "hub";
	if (strcmp(kind, "relay") && strcmp(kind, "hub") &&
	    strcmp(kind, "gateway"))
		return config_fail(err, errlen, line,
				   "unknown section '[%s%s%s]': want [relay NAME], "
				   "[hub] or [gateway NAME]",
				   kind, *name ? " " : "", name);
	if (!valid_name(name))
		return config_fail(err, errlen, line,
				   "bad %s name '%s': want [%s NAME] with 1-63 "
				   "of A-Z a-z 0-9 - _ .",
				   kind, name, kind);
	if (name_taken(cfg, name, &other))
		return config_fail(err, errlen, line,
				   "%s '%s' already defined on line %d", kind,
				   name, other);
	if (!strcmp(kind, "relay")) {
		struct config_relay *r;

		cfg->relays = xrealloc(cfg->relays, (cfg->nrelays + 1) *
							    sizeof(*cfg->relays));
		r = &cfg->relays[cfg->nrelays++];
		memset(r, 0, sizeof(*r));
		strcpy(r->name, name);
		r->line = line;
		r->workers = 1;
		*sec = SEC_RELAY;
	} else if (!strcmp(kind, "hub")) {
		struct config_hub *h;

		cfg->hubs = xrealloc(cfg->hubs,
				     (cfg->nhubs + 1) * sizeof(*cfg->hubs));
		h = &cfg->hubs[cfg->nhubs++];
		memset(h, 0, sizeof(*h));
		strcpy(h->name, name);
		h->line = line;
		*sec = SEC_HUB;
	} else {
		struct config_gateway *g;

		cfg->gateways = xrealloc(cfg->gateways, (cfg->ngateways + 1) *
								sizeof(*cfg->gateways));
		g = &cfg->gateways[cfg->ngateways++];
		gateway_spec_init(&g->spec, name);
		g->line = line;
		*sec = SEC_GATEWAY;
	}
	return 0;
}

static int parse_hub_key(struct config_hub *h, const char *key,
			 const char *val, int line, char *err, size_t errlen)
{
	char uerr[256];
	struct uri u;

	if (strcmp(key, "listen"))
		return config_fail(err, errlen, line,
				   "unknown key '%s' in [hub]: want listen", key);
	if (uri_parse(val, &u, uerr, sizeof(uerr)) ||
	    uri_check_role(&u, false, uerr, sizeof(uerr)))
		return config_fail(err, errlen, line, "bad listen URI '%s': %s",
				   val, uerr);
	if (u.scheme != URI_TCP || !u.local)
		return config_fail(err, errlen, line,
				   "bad listen URI '%s': want tcp://@[ADDR]:PORT",
				   val);
	if (h->nlisten == CONFIG_MAX_SINKS)
		return config_fail(err, errlen, line, "too many listen lines");
	h->listen = xrealloc(h->listen, (h->nlisten + 1) * sizeof(*h->listen));
	h->listen[h->nlisten++] = u;
	return 0;
}

static int parse_gateway_key(struct gateway_spec *g, const char *key,
			     const char *val, int line, char *err,
			     size_t errlen)
{
	char e[256];

	if (!strcmp(key, "hub")) {
		if (gateway_spec_set_hub(g, val, e, sizeof(e)) < 0)
			return config_fail(err, errlen, line, "%s", e);
	} else if (!strcmp(key, "iface")) {
		if (!*val || strlen(val) >= sizeof(g->iface))
			return config_fail(err, errlen, line, "bad iface '%s'",
					   val);
		strcpy(g->iface, val);
	} else if (!strcmp(key, "island")) {
		if (!*val || strlen(val) >= sizeof(g->island))
			return config_fail(err, errlen, line,
					   "bad island '%s': 1-64 characters",
					   val);
		strcpy(g->island, val);
	} else if (!strcmp(key, "ttl")) {
		char *end;
		long v = strtol(val, &end, 10);

		if (!*val || *end || v < 0 || v > 255)
			return config_fail(err, errlen, line,
					   "bad ttl '%s': want 0..255", val);
		g->ttl = (int)v;
	} else if (!strcmp(key, "group") || !strcmp(key, "export") ||
		   !strcmp(key, "import")) {
		if (gateway_spec_add(g, key, val, e, sizeof(e)) < 0)
			return config_fail(err, errlen, line, "%s", e);
	} else {
		return config_fail(err, errlen, line,
				   "unknown key '%s' in [gateway]: want hub, "
				   "iface, island, ttl, group, export or import",
				   key);
	}
	return 0;
}

static int parse_key(struct config *cfg, enum section sec, char *s, int line,
		     char *err, size_t errlen)
{
	char *eq = strchr(s, '='), *key, *val, uerr[256];
	struct config_relay *r;
	struct uri u;
	int is_source;

	if (!eq)
		return config_fail(err, errlen, line,
				   "expected 'key = value' or '[relay NAME]'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (sec == SEC_HUB)
		return parse_hub_key(&cfg->hubs[cfg->nhubs - 1], key, val, line,
				     err, errlen);
	if (sec == SEC_GATEWAY)
		return parse_gateway_key(&cfg->gateways[cfg->ngateways - 1].spec,
					 key, val, line, err, errlen);
	if (!strcmp(key, "source"))
		is_source = 1;
	else if (!strcmp(key, "sink") || !strcmp(key, "workers"))
		is_source = 0;
	else
		return config_fail(err, errlen, line,
				   "unknown key '%s': want source, sink or "
				   "workers",
				   key);
	if (sec == SEC_NONE)
		return config_fail(err, errlen, line,
				   "'%s' outside a [relay NAME] section", key);
	r = &cfg->relays[cfg->nrelays - 1];
	if (!strcmp(key, "workers")) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);

		if (*val < '0' || *val > '9' || *end || v < 1 || v > SHARD_MAX)
			return config_fail(err, errlen, line,
					   "bad workers '%s': want 1..%d", val,
					   SHARD_MAX);
		r->workers = (unsigned)v;
		return 0;
	}
	if (uri_parse(val, &u, uerr, sizeof(uerr)) ||
	    uri_check_role(&u, is_source, uerr, sizeof(uerr)))
		return config_fail(err, errlen, line, "bad %s URI '%s': %s",
				   key, val, uerr);
	if (is_source) {
		if (r->has_source)
			return config_fail(err, errlen, line,
					   "relay '%s' has a source already",
					   r->name);
		r->source = u;
		r->has_source = 1;
		return 0;
	}
	if (r->nsinks == CONFIG_MAX_SINKS)
		return config_fail(err, errlen, line,
				   "relay '%s' has more than %d sinks", r->name,
				   CONFIG_MAX_SINKS);
	r->sinks = xrealloc(r->sinks, (r->nsinks + 1) * sizeof(*r->sinks));
	r->sinks[r->nsinks++] = u;
	return 0;
}

int config_parse(const char *text, size_t len, struct config *cfg, char *err,
		 size_t errlen)
{
	char buf[CONFIG_LINE_MAX + 2];
	size_t pos = 0;
	int line = 0, rc = 0;
	enum section sec = SEC_NONE;

	memset(cfg, 0, sizeof(*cfg));
	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;
		char *s;

		line++;
		if (n > CONFIG_LINE_MAX) {
			rc = config_fail(err, errlen, line,
					 "line longer than %d characters",
					 CONFIG_LINE_MAX);
			break;
		}
		if (memchr(text + pos, '\0', n)) {
			rc = config_fail(err, errlen, line, "NUL byte in line");
			break;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		s = trim(buf);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[')
			rc = parse_section(cfg, &sec, s, line, err, errlen);
		else
			rc = parse_key(cfg, sec, s, line, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < cfg->nrelays; i++) {
		struct config_relay *r = &cfg->relays[i];

		if (!r->has_source)
			rc = config_fail(err, errlen, r->line,
					 "relay '%s' has no source", r->name);
		else if (r->nsinks == 0)
			rc = config_fail(err, errlen, r->line,
					 "relay '%s' has no sink", r->name);
		else if (r->workers > 1) {
			char e[400];

			if (shard_check(&r->source, r->sinks, r->nsinks, e,
					sizeof(e)))
				rc = config_fail(err, errlen, r->line,
						 "relay '%s': %s", r->name, e);
		}
	}
	for (size_t i = 0; rc == 0 && i < cfg->nhubs; i++)
		if (cfg->hubs[i].nlisten == 0)
			rc = config_fail(err, errlen, cfg->hubs[i].line,
					 "hub '%s' has no listen line",
					 cfg->hubs[i].name);
	for (size_t i = 0; rc == 0 && i < cfg->ngateways; i++) {
		char e[256];

		if (gateway_spec_check(&cfg->gateways[i].spec, e, sizeof(e)))
			rc = config_fail(err, errlen, cfg->gateways[i].line,
					 "%s", e);
	}
	if (rc == 0 && cfg->nrelays + cfg->nhubs + cfg->ngateways == 0)
		rc = config_fail(err, errlen, line,
				 "no [relay NAME], [hub] or [gateway NAME] "
				 "section");
	if (rc)
		config_free(cfg);
	return rc;
}

int config_load(const char *path, struct config *cfg, char *err,
		size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text, inner[512];
	size_t n;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	text = xmalloc(CONFIG_FILE_MAX + 1);
	n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_FILE_MAX) {
		free(text);
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 CONFIG_FILE_MAX);
		return -EFBIG;
	}
	rc = config_parse(text, n, cfg, inner, sizeof(inner));
	free(text);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, inner);
	return rc;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nrelays; i++)
		free(cfg->relays[i].sinks);
	free(cfg->relays);
	for (size_t i = 0; i < cfg->nhubs; i++)
		free(cfg->hubs[i].listen);
	free(cfg->hubs);
	free(cfg->gateways);
	memset(cfg, 0, sizeof(*cfg));
}
