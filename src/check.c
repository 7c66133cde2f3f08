/* check.c - the meaning checks of `mcferry run --check`; see check.h. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "mcast.h"
#include "tls_conf.h"
#include "util.h"

static void report(FILE *out, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(FILE *out, const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%s: line %d: ", path, line);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

/* ---- ports (pure) ---------------------------------------------------- */

static bool is_wildcard(const struct sockaddr_storage *s)
{
	if (s->ss_family == AF_INET)
		return ((const struct sockaddr_in *)s)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (s->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)s)->sin6_addr);
	return false;
}

/* An IPv4 address, or the IPv4 address of a v4-mapped IPv6 one, into *a4. */
static bool ipv4_of(const struct sockaddr_storage *s, struct in_addr *a4)
{
	const struct in6_addr *a6;

	if (s->ss_family == AF_INET) {
		*a4 = ((const struct sockaddr_in *)s)->sin_addr;
		return true;
	}
	if (s->ss_family != AF_INET6)
		return false;
	a6 = &((const struct sockaddr_in6 *)s)->sin6_addr;
	if (!IN6_IS_ADDR_V4MAPPED(a6))
		return false;
	memcpy(a4, &a6->s6_addr[12], 4);
	return true;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	struct in_addr x, y;

	if (ipv4_of(a, &x) && ipv4_of(b, &y))
		return x.s_addr == y.s_addr;
	if (a->ss_family == AF_INET6 && b->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* w is a wildcard: does its socket take x's address too? mcferry binds
 * the IPv6 wildcard dual-stack (IPV6_V6ONLY off), so [::] takes every
 * address; 0.0.0.0 takes the IPv4 ones, and clashes with [::] itself. */
static bool wildcard_covers(const struct sockaddr_storage *w,
			    const struct sockaddr_storage *x)
{
	struct in_addr a4;

	if (w->ss_family == AF_INET6)
		return true;
	return ipv4_of(x, &a4) || is_wildcard(x);
}

bool check_bind_overlap(const struct check_bind *a, const struct check_bind *b)
{
	if (a->proto != b->proto ||
	    addr_port(&a->addr) != addr_port(&b->addr))
		return false;
	return same_addr(&a->addr, &b->addr) ||
	       (is_wildcard(&a->addr) && wildcard_covers(&a->addr, &b->addr)) ||
	       (is_wildcard(&b->addr) && wildcard_covers(&b->addr, &a->addr));
}

struct bind_list {
	struct check_bind *v;
	size_t n;
};

static void bind_add(struct bind_list *l, int proto, const struct uri *u,
		     int line, const char *kind, const char *name,
		     const char *role)
{
	struct check_bind *b;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	b = &l->v[l->n++];
	b->proto = proto;
	b->addr = u->addr;
	b->line = line;
	snprintf(b->what, sizeof(b->what), "%s=%s %s", kind, name, role);
}

/* The sockets of a URI that binds: a listening tcp or tls endpoint, or a
 * udp source that receives unicast. Several udp sources of one group and
 * port are fine (each has its own membership and filter), so groups are
 * left out. */
static void bind_uri(struct bind_list *l, const struct uri *u, bool as_source,
		     int line, const char *kind, const char *name)
{
	const char *role = as_source ? "source" : "sink";

	if (!u->local)
		return;
	if (u->scheme != URI_UDP)
		bind_add(l, IPPROTO_TCP, u, line, kind, name, role);
	else if (as_source && !addr_is_multicast(&u->addr))
		bind_add(l, IPPROTO_UDP, u, line, kind, name, role);
}

static int line_of(const int *lines, size_t i, int fallback)
{
	return lines && lines[i] ? lines[i] : fallback;
}

/* The listen of an http section, and the source of each named channel
 * (parsed when they were set; one that does not parse binds nothing). */
static void bind_http(struct bind_list *l, const struct config_http *c)
{
	char text[sizeof(c->conf.listen) + 16], e[256];
	struct uri u;

	snprintf(text, sizeof(text), "tcp://@%s", c->conf.listen);
	if (uri_parse(text, &u, e, sizeof(e)) == 0)
		bind_add(l, IPPROTO_TCP, &u, c->line, "http", c->conf.name,
			 "listen");
	for (size_t i = 0; i < c->conf.nnamed; i++) {
		char what[sizeof(c->conf.name) + HTTP_NAME_MAX + 16];

		if (uri_parse(c->conf.named[i].uri, &u, e, sizeof(e)) < 0)
			continue;
		snprintf(what, sizeof(what), "%s channel=%s", c->conf.name,
			 c->conf.named[i].name);
		bind_uri(l, &u, true, c->line, "http", what);
	}
}

size_t check_ports(const char *path, const struct config *cfg, FILE *out)
{
	struct bind_list l = { 0 };
	size_t bad = 0;

	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct config_relay *r = &cfg->relays[i];

		bind_uri(&l, &r->source, true,
			 r->source_line ? r->source_line : r->line, "relay",
			 r->name);
		for (size_t j = 0; j < r->nsinks; j++)
			bind_uri(&l, &r->sinks[j], false,
				 line_of(r->sink_lines, j, r->line), "relay",
				 r->name);
	}
	for (size_t i = 0; i < cfg->nhubs; i++) {
		const struct config_hub *h = &cfg->hubs[i];

		for (size_t j = 0; j < h->nlisten; j++)
			bind_add(&l, IPPROTO_TCP, &h->listen[j],
				 line_of(h->listen_lines, j, h->line), "hub",
				 h->name, "listen");
	}
	for (size_t i = 0; i < cfg->nhttps; i++)
		bind_http(&l, &cfg->https[i]);
	for (size_t i = 1; i < l.n; i++) {
		for (size_t j = 0; j < i; j++) {
			char a[64];

			if (!check_bind_overlap(&l.v[i], &l.v[j]))
				continue;
			addr_format((const struct sockaddr *)&l.v[i].addr, a,
				    sizeof(a));
			report(out, path, l.v[i].line,
			       "%s %s %s: port %u is taken by %s on line %d",
			       l.v[i].what,
			       l.v[i].proto == IPPROTO_TCP ? "listens on"
							    : "binds",
			       a, addr_port(&l.v[i].addr), l.v[j].what,
			       l.v[j].line);
			bad++;
			break;
		}
	}
	free(l.v);
	return bad;
}

/* ---- control sockets (pure) ------------------------------------------- */

struct ctl_use {
	const char *path;
	int line;
	char what[96];
};

static void ctl_add(struct ctl_use **v, size_t *n, const char *path, int line,
		    const char *kind, const char *name)
{
	struct ctl_use *u;

	if (!path[0])
		return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	u = &(*v)[(*n)++];
	u->path = path;
	u->line = line;
	snprintf(u->what, sizeof(u->what), "%s=%s", kind, name);
}

size_t check_controls(const char *path, const struct config *cfg, FILE *out)
{
	struct ctl_use *v = NULL;
	size_t n = 0, bad = 0;

	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct config_relay *r = &cfg->relays[i];

		ctl_add(&v, &n, r->control,
			r->control_line ? r->control_line : r->line, "relay",
			r->name);
	}
	for (size_t i = 0; i < cfg->nhubs; i++) {
		const struct config_hub *h = &cfg->hubs[i];

		ctl_add(&v, &n, h->control,
			h->control_line ? h->control_line : h->line, "hub",
			h->name);
	}
	for (size_t i = 0; i < cfg->ngateways; i++) {
		const struct config_gateway *g = &cfg->gateways[i];

		ctl_add(&v, &n, g->spec.control,
			g->control_line ? g->control_line : g->line, "gateway",
			g->spec.name);
	}
	for (size_t i = 1; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i].path, v[j].path))
				continue;
			report(out, path, v[i].line,
			       "%s control=%s: the control socket of %s on "
			       "line %d already (one socket per service)",
			       v[i].what, v[i].path, v[j].what, v[j].line);
			bad++;
			break;
		}
	}
	free(v);
	return bad;
}

/* ---- this host: interfaces, groups, files ----------------------------- */

/* The directory a control socket goes into must be there. */
static size_t check_control_dir(const char *path, int line, const char *what,
				const char *sock, FILE *out)
{
	char dir[108];
	const char *slash = strrchr(sock, '/');
	struct stat st;

	if (!sock[0] || !slash)
		return 0; /* "" or relative to the working directory */
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sock), sock);
	if (!dir[0])
		strcpy(dir, "/");
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	report(out, path, line, "%s control=%s: no directory '%s'", what, sock,
	       dir);
	return 1;
}

static size_t check_iface(const char *path, int line, const char *iface,
			  const char *what, FILE *out)
{
	unsigned idx;
	int rc;

	if (!iface[0])
		return 0;
	rc = mcast_iface_index(iface, &idx);
	if (rc == 0)
		return 0;
	if (rc == -ENODEV)
		report(out, path, line, "%s: no interface '%s' on this host",
		       what, iface);
	else
		report(out, path, line, "%s: cannot look up interface '%s': %s",
		       what, iface, strerror(-rc));
	return 1;
}

/* Can we read the file, and is a secret kept secret? */
static size_t check_file(const char *path, int line, const char *key,
			 const char *file, bool secret, FILE *out)
{
	struct stat st;
	int fd;

	if (!file[0])
		return 0;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report(out, path, line, "cannot read %s=%s: %s", key, file,
		       strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		report(out, path, line, "%s=%s is not a regular file", key,
		       file);
		return 1;
	}
	close(fd);
	if (secret && !tls_secret_mode_ok(st.st_mode)) {
		report(out, path, line,
		       "%s=%s may be read by group or others (mode %04o): "
		       "chmod 600 it", key, file, (unsigned)(st.st_mode & 07777));
		return 1;
	}
	return 0;
}

static size_t check_uri(const char *path, int line, const struct uri *u,
			const char *what, FILE *out)
{
	bool group = addr_is_multicast(&u->addr);
	const struct uri_tls *t = &u->tls;
	size_t bad = 0;

	if (u->scheme == URI_UDP) {
		bad += check_iface(path, line, u->iface, what, out);
		if (u->iface[0] && !group) {
			report(out, path, line,
			       "%s: iface= needs a multicast group, and '%s' "
			       "is not one", what, u->host[0] ? u->host : "(any)");
			bad++;
		}
		if (u->set_loop && !group) {
			report(out, path, line,
			       "%s: loop= needs a multicast group, and '%s' "
			       "is not one", what, u->host);
			bad++;
		}
	}
	if (u->scheme == URI_TLS) {
		bad += check_file(path, line, "ca", t->ca, false, out);
		bad += check_file(path, line, "cert", t->cert, false, out);
		bad += check_file(path, line, "key", t->key, true, out);
		bad += check_file(path, line, "crl", t->crl, false, out);
		bad += check_file(path, line, "psk-file", t->psk_file, true,
				  out);
	}
	return bad;
}

size_t check_config(const char *path, const struct config *cfg, FILE *out)
{
	size_t bad = check_ports(path, cfg, out) + check_controls(path, cfg, out);
	char what[128];

	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct config_relay *r = &cfg->relays[i];

		snprintf(what, sizeof(what), "relay=%s source", r->name);
		bad += check_uri(path, r->source_line ? r->source_line : r->line,
				 &r->source, what, out);
		snprintf(what, sizeof(what), "relay=%s sink", r->name);
		for (size_t j = 0; j < r->nsinks; j++)
			bad += check_uri(path, line_of(r->sink_lines, j, r->line),
					 &r->sinks[j], what, out);
		snprintf(what, sizeof(what), "relay=%s", r->name);
		bad += check_control_dir(path, r->control_line ? r->control_line
							       : r->line,
					 what, r->control, out);
	}
	for (size_t i = 0; i < cfg->nhubs; i++) {
		const struct config_hub *h = &cfg->hubs[i];

		snprintf(what, sizeof(what), "hub=%s listen", h->name);
		for (size_t j = 0; j < h->nlisten; j++)
			bad += check_uri(path, line_of(h->listen_lines, j, h->line),
					 &h->listen[j], what, out);
		snprintf(what, sizeof(what), "hub=%s", h->name);
		bad += check_control_dir(path, h->control_line ? h->control_line
							       : h->line,
					 what, h->control, out);
	}
	for (size_t i = 0; i < cfg->ngateways; i++) {
		const struct config_gateway *g = &cfg->gateways[i];

		snprintf(what, sizeof(what), "gateway=%s hub", g->spec.name);
		bad += check_uri(path, g->hub_line ? g->hub_line : g->line,
				 &g->spec.hub, what, out);
		snprintf(what, sizeof(what), "gateway=%s iface", g->spec.name);
		bad += check_iface(path, g->iface_line ? g->iface_line : g->line,
				   g->spec.iface, what, out);
		snprintf(what, sizeof(what), "gateway=%s", g->spec.name);
		bad += check_control_dir(path, g->control_line ? g->control_line
							       : g->line,
					 what, g->spec.control, out);
	}
	for (size_t i = 0; i < cfg->nhttps; i++) {
		const struct config_http *h = &cfg->https[i];

		snprintf(what, sizeof(what), "http=%s iface", h->conf.name);
		bad += check_iface(path, h->line, h->conf.iface, what, out);
		for (size_t j = 0; j < h->conf.nnamed; j++) {
			struct uri u;
			char e[256];

			snprintf(what, sizeof(what), "http=%s channel=%s",
				 h->conf.name, h->conf.named[j].name);
			if (uri_parse(h->conf.named[j].uri, &u, e, sizeof(e)) == 0)
				bad += check_uri(path, h->line, &u, what, out);
		}
	}
	return bad;
}
