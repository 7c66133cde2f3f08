/* config.c - strict parser for the `mcferry run` configuration file. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
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

bool config_valid_name(const char *s)
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
enum section { SEC_NONE, SEC_RELAY, SEC_HUB, SEC_GATEWAY, SEC_HTTP };

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
	for (size_t i = 0; i < cfg->nhttps; i++)
		if (!strcmp(cfg->https[i].conf.name, name))
			return *line = cfg->https[i].line, true;
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
	    strcmp(kind, "gateway") && strcmp(kind, "http"))
		return config_fail(err, errlen, line,
				   "unknown section '[%s%s%s]': want [relay NAME], "
				   "[hub], [gateway NAME] or [http NAME]",
				   kind, *name ? " " : "", name);
	if (!config_valid_name(name))
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
		opt_init(r, OBJ_RELAY, AT_CONF_RELAY);
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
	} else if (!strcmp(kind, "http")) {
		struct config_http *hc;

		cfg->https = xrealloc(cfg->https,
				      (cfg->nhttps + 1) * sizeof(*cfg->https));
		hc = &cfg->https[cfg->nhttps++];
		memset(hc, 0, sizeof(*hc));
		strcpy(hc->conf.name, name);
		opt_init(&hc->conf, OBJ_HTTP, AT_CONF_HTTP);
		hc->line = line;
		*sec = SEC_HTTP;
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

/* The keys of a section, as "want a, b or c" lists them. */
static void section_keys(unsigned at, char *buf, size_t len)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < opt_count; i++)
		n += (opt_table[i].at & at) != 0;
	buf[0] = '\0';
	for (size_t i = 0; i < opt_count; i++) {
		if (!(opt_table[i].at & at))
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 k == 0 ? "" : k + 1 == n ? " or " : ", ",
			 opt_table[i].name);
		k++;
	}
}

/* Remember the line of a key that was just set, for run --check (check.c)
 * to name it: the source, each sink and listen, a gateway's hub, iface
 * and each channel. */
static void note_line(struct config *cfg, enum section sec,
		      const struct opt *o, int line)
{
	bool control = !strcmp(o->name, "control");

	if (sec == SEC_RELAY) {
		struct config_relay *r = &cfg->relays[cfg->nrelays - 1];

		if (control)
			r->control_line = line;
		else if (!strcmp(o->name, "source"))
			r->source_line = line;
		else if (!strcmp(o->name, "sink")) {
			r->sink_lines = xrealloc(r->sink_lines, r->nsinks *
							 sizeof(*r->sink_lines));
			r->sink_lines[r->nsinks - 1] = line;
		}
	} else if (sec == SEC_HUB) {
		struct config_hub *h = &cfg->hubs[cfg->nhubs - 1];

		if (control) {
			h->control_line = line;
		} else if (!strcmp(o->name, "listen")) {
			h->listen_lines = xrealloc(h->listen_lines,
						   h->nlisten *
							   sizeof(*h->listen_lines));
			h->listen_lines[h->nlisten - 1] = line;
		}
	} else if (sec == SEC_GATEWAY) {
		struct config_gateway *g = &cfg->gateways[cfg->ngateways - 1];

		if (control)
			g->control_line = line;
		else if (!strcmp(o->name, "hub"))
			g->hub_line = line;
		else if (!strcmp(o->name, "iface"))
			g->iface_line = line;
		else if (o->type == OPT_CHANNEL && g->spec.nchans > 0)
			g->chan_lines[g->spec.nchans - 1] = line;
	}
}

/* "key = value": a row of the option table for this section, parsed and
 * set by opt.c exactly as the command line does it. */
static int parse_key(struct config *cfg, enum section sec, char *s, int line,
		     char *err, size_t errlen)
{
	static const unsigned sec_at[] = { [SEC_NONE] = AT_CONF_RELAY,
					   [SEC_RELAY] = AT_CONF_RELAY,
					   [SEC_HUB] = AT_CONF_HUB,
					   [SEC_GATEWAY] = AT_CONF_GATEWAY,
					   [SEC_HTTP] = AT_CONF_HTTP };
	static const char *const sec_name[] = { [SEC_HUB] = "hub",
						[SEC_GATEWAY] = "gateway",
						[SEC_HTTP] = "http" };
	char *eq = strchr(s, '='), *key, *val, keys[256], e[768];
	const struct opt *o;
	void *obj;

	if (!eq)
		return config_fail(err, errlen, line,
				   "expected 'key = value' or '[relay NAME]'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	o = opt_find(key, sec_at[sec]);
	if (!o) {
		section_keys(sec_at[sec], keys, sizeof(keys));
		if (sec_name[sec])
			return config_fail(err, errlen, line,
					   "unknown key '%s' in [%s]: want %s",
					   key, sec_name[sec], keys);
		return config_fail(err, errlen, line,
				   "unknown key '%s': want %s", key, keys);
	}
	if (sec == SEC_NONE)
		return config_fail(err, errlen, line,
				   "'%s' outside a [relay NAME] section", key);
	if (sec == SEC_RELAY)
		obj = &cfg->relays[cfg->nrelays - 1];
	else if (sec == SEC_HUB)
		obj = &cfg->hubs[cfg->nhubs - 1];
	else if (sec == SEC_HTTP)
		obj = &cfg->https[cfg->nhttps - 1].conf;
	else
		obj = &cfg->gateways[cfg->ngateways - 1].spec;
	if (opt_set(o, obj, val, e, sizeof(e)) < 0)
		return config_fail(err, errlen, line, "%s", e);
	note_line(cfg, sec, o, line);
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
			else if (r->control[0])
				rc = config_fail(err, errlen, r->control_line,
						 "relay '%s': control needs "
						 "workers = 1 (the workers run "
						 "on threads of their own)",
						 r->name);
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
	for (size_t i = 0; rc == 0 && i < cfg->nhttps; i++) {
		char e[400];

		if (http_conf_check(&cfg->https[i].conf, e, sizeof(e)))
			rc = config_fail(err, errlen, cfg->https[i].line, "%s",
					 e);
	}
	if (rc == 0 &&
	    cfg->nrelays + cfg->nhubs + cfg->ngateways + cfg->nhttps == 0)
		rc = config_fail(err, errlen, line,
				 "no [relay NAME], [hub] or [gateway NAME] "
				 "section (nor [http NAME])");
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
	for (size_t i = 0; i < cfg->nrelays; i++) {
		free(cfg->relays[i].sinks);
		free(cfg->relays[i].sink_lines);
	}
	free(cfg->relays);
	for (size_t i = 0; i < cfg->nhubs; i++) {
		free(cfg->hubs[i].listen);
		free(cfg->hubs[i].peers);
		free(cfg->hubs[i].listen_lines);
	}
	free(cfg->hubs);
	free(cfg->gateways);
	free(cfg->https);
	memset(cfg, 0, sizeof(*cfg));
}
