/* opt.c - the option table, its value parsers, the command line and
 * --help; see opt.h. */
#include "opt.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "shard.h"
#include "util.h"

/* ---- setters: options that add to a list or check more than a value -- */

static int set_relay_source(void *obj, const struct opt *o,
			    const union opt_value *v, char *err, size_t errlen)
{
	struct config_relay *r = obj;

	if (r->has_source)
		return err_invalid(err, errlen, "relay '%s' has a source already",
				r->name);
	r->source = v->uri;
	r->has_source = 1;
	return 0;
}

static int set_relay_sink(void *obj, const struct opt *o,
			  const union opt_value *v, char *err, size_t errlen)
{
	struct config_relay *r = obj;

	if (r->nsinks == CONFIG_MAX_SINKS)
		return err_invalid(err, errlen, "relay '%s' has more than %d sinks",
				r->name, CONFIG_MAX_SINKS);
	r->sinks = xrealloc(r->sinks, (r->nsinks + 1) * sizeof(*r->sinks));
	r->sinks[r->nsinks++] = v->uri;
	return 0;
}

static int set_hub_listen(void *obj, const struct opt *o,
			  const union opt_value *v, char *err, size_t errlen)
{
	struct config_hub *h = obj;

	if (h->nlisten == CONFIG_MAX_SINKS)
		return err_invalid(err, errlen, "too many listen lines");
	h->listen = xrealloc(h->listen, (h->nlisten + 1) * sizeof(*h->listen));
	h->listen[h->nlisten++] = v->uri;
	return 0;
}

static int set_hub_peer(void *obj, const struct opt *o,
			const union opt_value *v, char *err, size_t errlen)
{
	struct config_hub *h = obj;

	if (h->npeers == CONFIG_MAX_SINKS)
		return err_invalid(err, errlen, "too many peer lines");
	h->peers = xrealloc(h->peers, (h->npeers + 1) * sizeof(*h->peers));
	h->peers[h->npeers++] = v->uri;
	return 0;
}

static int set_gateway_hub(void *obj, const struct opt *o,
			   const union opt_value *v, char *err, size_t errlen)
{
	struct gateway_spec *s = obj;

	if (s->nhubs == GATEWAY_MAX_HUBS)
		return err_invalid(err, errlen, "more than %d hubs",
				GATEWAY_MAX_HUBS);
	for (size_t i = 0; i < s->nhubs; i++)
		if (!strcmp(s->hubs[i].text, v->uri.text))
			return err_invalid(err, errlen, "hub '%s' given twice",
					v->uri.text);
	s->hubs[s->nhubs++] = v->uri;
	s->hub = s->hubs[0];
	s->has_hub = true;
	return 0;
}

/* group, export and import: the row's name is the kind. */
static int set_gateway_chan(void *obj, const struct opt *o,
			    const union opt_value *v, char *err, size_t errlen)
{
	struct gateway_spec *s = obj;
	struct gateway_chan_spec c = { .ch = v->chan.ch, .local = v->chan.local };
	char name[CHANNEL_TEXT_MAX];

	c.do_export = strcmp(o->name, "import") != 0;
	c.do_import = strcmp(o->name, "export") != 0;
	for (size_t i = 0; i < s->nchans; i++) {
		if (channel_equal(&s->chans[i].ch, &c.ch)) {
			channel_format(&c.ch, name, sizeof(name));
			return err_invalid(err, errlen, "channel '%s' given twice",
					name);
		}
	}
	if (s->nchans == GATEWAY_MAX_CHANNELS)
		return err_invalid(err, errlen, "more than %d channels",
				GATEWAY_MAX_CHANNELS);
	s->chans[s->nchans++] = c;
	return 0;
}

/* listen of http: ADDR:PORT as a listening tcp endpoint takes it. */
static int set_http_listen(void *obj, const struct opt *o,
			   const union opt_value *v, char *err, size_t errlen)
{
	struct http_conf *c = obj;
	char text[sizeof(c->listen) + 16], e[256];
	struct uri u;

	snprintf(text, sizeof(text), "tcp://@%s", v->s);
	if (strlen(v->s) >= sizeof(c->listen) ||
	    uri_parse(text, &u, e, sizeof(e)) < 0)
		return err_invalid(err, errlen, "bad listen '%s': want ADDR:PORT, "
				"[V6]:PORT or :PORT", v->s);
	strcpy(c->listen, v->s);
	return 0;
}

static int set_http_allow(void *obj, const struct opt *o,
			  const union opt_value *v, char *err, size_t errlen)
{
	struct http_conf *c = obj;

	if (c->nallow == HTTP_ALLOW_MAX)
		return err_invalid(err, errlen, "more than %d allow entries",
				HTTP_ALLOW_MAX);
	if (http_allow_parse(v->s, &c->allow[c->nallow]) < 0)
		return err_invalid(err, errlen, "bad allow '%s': want ADDR/PREFIX",
				v->s);
	c->nallow++;
	return 0;
}

static int set_http_channel(void *obj, const struct opt *o,
			    const union opt_value *v, char *err, size_t errlen)
{
	return http_conf_add_named(obj, v->s, err, errlen);
}

/* udpxy -B: 65536, 32Kb, 1Mb (udpxy(1)), as the groups' receive buffer. */
static int set_udpxy_buffer(void *obj, const struct opt *o,
			    const union opt_value *v, char *err, size_t errlen)
{
	struct http_conf *c = obj;
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v->s, &end, 10);
	if (end == v->s || errno)
		goto bad;
	if (!strcasecmp(end, "kb") || !strcasecmp(end, "k"))
		n <<= 10;
	else if (!strcasecmp(end, "mb") || !strcasecmp(end, "m"))
		n <<= 20;
	else if (*end)
		goto bad;
	if (n < 1024 || n > INT_MAX / 2)
		goto bad;
	c->rcvbuf = (uint32_t)n;
	return 0;
bad:
	return err_invalid(err, errlen, "bad buffer '%s': want BYTES, NKb or NMb "
			"(1 KiB..1 GiB)", v->s);
}

/* --name: a name as a file's [relay NAME] takes it. */
static int set_cli_name(void *obj, const struct opt *o,
			const union opt_value *v, char *err, size_t errlen)
{
	struct opt_cli *cli = obj;

	if (!config_valid_name(v->s))
		return err_invalid(err, errlen, "bad name '%s': want 1-63 of "
				   "A-Z a-z 0-9 - _ .", v->s);
	snprintf(cli->name, sizeof(cli->name), "%s", v->s);
	return 0;
}

/* ---- the table ------------------------------------------------------- */

static const char *const client_cert_words[] = {
	[CLIENT_CERT_REQUIRE] = "require",
	[CLIENT_CERT_OPTIONAL] = "optional",
	NULL,
};

static const char *const srt_mode_words[] = {
	[SRT_MODE_CALLER] = "caller",
	[SRT_MODE_LISTENER] = "listener",
	[SRT_MODE_RENDEZVOUS] = "rendezvous",
	NULL,
};

/* pbkeylen=: the AES key length in bytes (link_srt.c maps the index). */
static const char *const srt_keylen_words[] = { "16", "24", "32", NULL };

static const char *const log_format_words[] = {
	[LOG_FORMAT_TEXT] = "text",
	[LOG_FORMAT_JSON] = "json",
	NULL,
};

static const char *const slow_words[] = {
	[URI_SLOW_SKIP] = "skip",
	[URI_SLOW_CLOSE] = "close",
	NULL,
};

static const char *const framing_words[] = {
	[FRAMING_RAW] = "raw",
	[FRAMING_DATAGRAM] = "datagram",
	[FRAMING_AUTO] = "auto",
	NULL,
};

#define FIELD(type, member)                                                 \
	.off = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define FLAG(type, member) .flag = offsetof(type, member)
#define NOFLAG .flag = OPT_NOFLAG
#define BYTES_MAX (1ull << 34)

const struct opt opt_table[] = {
	/* The command line, every command. */
	{ "verbose", OPT_FLAG, .at = AT_CLI, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, verbose), NOFLAG, .letter = 'v',
	  .doc = "log debug lines (every connection state change)" },
	{ "quiet", OPT_FLAG, .at = AT_CLI, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, quiet), NOFLAG, .letter = 'q',
	  .doc = "log warnings and errors only" },
	{ "stats", OPT_UINT, 1, 86400, .at = AT_CLI, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, stats), NOFLAG, .arg = "SECONDS",
	  .doc = "log a line of counters every SECONDS seconds" },
	{ "stats-json", OPT_FLAG, .at = AT_CLI, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, stats_json), NOFLAG,
	  .doc = "with --stats: also write every counter as a JSON line on stdout" },
	{ "user", OPT_STRING, 1, 255, .at = AT_CLI, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, user), NOFLAG, .arg = "USER",
	  .doc = "drop to USER's uid and gids once everything is open" },
	{ "log-format", OPT_ENUM, .words = log_format_words, .def = "text",
	  .at = AT_CLI, .obj = OBJ_CLI, FIELD(struct opt_cli, log_format),
	  NOFLAG, .arg = "text|json",
	  .doc = "log lines as text or as JSON objects {\"ts\",\"level\",\"msg\"}" },
	{ "name", OPT_STRING, 1, CONFIG_NAME_MAX - 1,
	  .at = AT_CLI_RELAY | AT_CLI_HUB | AT_CLI_GATEWAY, .obj = OBJ_CLI,
	  .set = set_cli_name, NOFLAG, .arg = "NAME",
	  .def = "the command: relay, hub or gateway", .flags = OPTF_UNSET,
	  .doc = "the name log and stats lines give it (relay=NAME)" },
	{ "check", OPT_FLAG, .at = AT_CLI_RUN, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, check), NOFLAG,
	  .doc = "check FILE and print 'configuration OK'" },

	/* A relay: [relay NAME], mcferry relay SOURCE SINK... */
	{ "source", OPT_URI, .at = AT_CONF_RELAY, .obj = OBJ_RELAY,
	  .set = set_relay_source, NOFLAG, .reload = true, .arg = "URI",
	  .flags = OPTF_SOURCE, .doc = "where the relay reads, exactly once" },
	{ "sink", OPT_URI, .at = AT_CONF_RELAY, .obj = OBJ_RELAY,
	  .set = set_relay_sink, NOFLAG, .reload = true, .arg = "URI",
	  .flags = OPTF_MANY, .doc = "where the relay writes (up to 64)" },
	{ "workers", OPT_UINT, 1, SHARD_MAX, .def = "1", .reload = true,
	  .at = AT_CONF_RELAY | AT_CLI_RELAY, .obj = OBJ_RELAY,
	  FIELD(struct config_relay, workers), NOFLAG, .arg = "N",
	  .doc = "threads, each joining the group and serving a share of the "
		 "clients (multicast source, listening tcp sinks only)" },
	{ "control", OPT_STRING, 1, 107,
	  .at = AT_CONF_RELAY | AT_CLI_RELAY, .obj = OBJ_RELAY,
	  FIELD(struct config_relay, control), NOFLAG, .arg = "PATH",
	  .doc = "JSON-lines control socket (unix, mode 0660): node.info, "
		 "link.list (its clients), stats.get; workers = 1 only" },

	/* A hub: [hub], mcferry hub. */
	{ "listen", OPT_URI, AT_LINK & AT_SINK & AT_LISTEN, .at = AT_CONF_HUB | AT_CLI_HUB,
	  .obj = OBJ_HUB, .set = set_hub_listen, NOFLAG, .reload = true,
	  .arg = "tcp://@[ADDR]:PORT", .flags = OPTF_MANY,
	  .doc = "accept gateways and relays here (one or more; tls://@, "
		 "srt://@ and udp links too)" },
	{ "acl", OPT_STRING, 1, URI_PATH_MAX - 1,
	  .at = AT_CONF_HUB | AT_CLI_HUB, .obj = OBJ_HUB,
	  FIELD(struct config_hub, acl), NOFLAG, .reload = true,
	  .arg = "FILE", .doc = "who may speak for which islands and channels "
				"(docs/security.md); none: anybody" },

	{ "peer", OPT_URI, AT_LINK & AT_SINK & AT_CONNECT,
	  .at = AT_CONF_HUB | AT_CLI_HUB, .obj = OBJ_HUB,
	  .set = set_hub_peer, NOFLAG, .reload = true,
	  .arg = "URI", .flags = OPTF_MANY,
	  .doc = "dial this hub and route with it (a mesh; tcp://HOST:PORT"
		 "?cost=N, any link transport)" },
	{ "heartbeat", OPT_UINT, 10, 60000, .def = "250",
	  .at = AT_CONF_HUB | AT_CLI_HUB, .obj = OBJ_HUB,
	  FIELD(struct config_hub, heartbeat), NOFLAG, .arg = "MS",
	  .doc = "ping hub links every MS ms; 3 missed and the link is dead" },
	{ "control", OPT_STRING, 1, 107,
	  .at = AT_CONF_HUB | AT_CLI_HUB, .obj = OBJ_HUB,
	  FIELD(struct config_hub, control), NOFLAG, .arg = "PATH",
	  .doc = "JSON-lines control socket (unix, mode 0660; docs/mesh.md)" },

	/* A gateway: [gateway NAME], mcferry gateway. */
	{ "hub", OPT_URI, AT_LINK & AT_SINK & AT_CONNECT,
	  .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY, .obj = OBJ_GATEWAY,
	  .set = set_gateway_hub, NOFLAG, .reload = true,
	  .arg = "tcp://HOST:PORT", .flags = OPTF_MANY,
	  .doc = "a hub (tcp://, tls://, srt:// or a udp link); several: "
		 "dual-homed" },
	{ "iface", OPT_STRING, 1, URI_IFACE_MAX - 1,
	  .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY, .obj = OBJ_GATEWAY,
	  FIELD(struct gateway_spec, iface), NOFLAG, .reload = true,
	  .arg = "IF", .doc = "the island's LAN interface, name or address" },
	{ "island", OPT_STRING, 1, FRAME_ISLAND_MAX,
	  .def = "the LAN's IPv4 subnet", .flags = OPTF_UNSET,
	  .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY, .obj = OBJ_GATEWAY,
	  FIELD(struct gateway_spec, island), NOFLAG, .reload = true,
	  .arg = "NAME", .doc = "the island's name; gateways of one island "
				"share it" },
	{ "ttl", OPT_UINT, 0, 255, .def = "1",
	  .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY, .obj = OBJ_GATEWAY,
	  FIELD(struct gateway_spec, ttl), NOFLAG, .reload = true, .arg = "N",
	  .doc = "TTL of re-multicast datagrams" },
	{ "group", OPT_CHANNEL, .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY,
	  .obj = OBJ_GATEWAY, .set = set_gateway_chan, NOFLAG, .reload = true,
	  .arg = "CH", .flags = OPTF_MANY,
	  .doc = "export the island's CH to the hub and import CH" },
	{ "export", OPT_CHANNEL, .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY,
	  .obj = OBJ_GATEWAY, .set = set_gateway_chan, NOFLAG, .reload = true,
	  .arg = "CH", .flags = OPTF_MANY,
	  .doc = "send the island's CH to the hub" },
	{ "import", OPT_CHANNEL, .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY,
	  .obj = OBJ_GATEWAY, .set = set_gateway_chan, NOFLAG, .reload = true,
	  .arg = "CH[=LOCAL_CH]", .flags = OPTF_MANY | OPTF_REMAP,
	  .doc = "multicast the hub's CH here, maybe on another group" },
	{ "control", OPT_STRING, 1, 107,
	  .at = AT_CONF_GATEWAY | AT_CLI_GATEWAY, .obj = OBJ_GATEWAY,
	  FIELD(struct gateway_spec, control), NOFLAG, .arg = "PATH",
	  .doc = "JSON-lines control socket (unix, mode 0660): channel.add, "
		 "channel.del, link.add, link.del at run time (docs/mesh.md)" },

	/* An HTTP front: [http NAME], mcferry http (and udpxy, where a
	 * row has its letter), or --http beside a relay, hub or gateway. */
	{ "http", OPT_STRING, 1, URI_HOST_MAX + 6,
	  .at = AT_CLI_RELAY | AT_CLI_HUB | AT_CLI_GATEWAY, .obj = OBJ_HTTP,
	  .set = set_http_listen, NOFLAG, .arg = "ADDR:PORT",
	  .doc = "also serve HTTP here: /status, /metrics (every counter of "
		 "the process), /udp/" },
	{ "listen", OPT_STRING, 1, URI_HOST_MAX + 6,
	  .at = AT_CONF_HTTP | AT_CLI_HTTP, .obj = OBJ_HTTP,
	  .set = set_http_listen, NOFLAG, .arg = "ADDR:PORT",
	  .doc = "serve HTTP here ([V6]:PORT, :PORT for every address)" },
	{ "iface", OPT_STRING, 1, URI_IFACE_MAX - 1,
	  .def = "the kernel's choice", .flags = OPTF_UNSET,
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, iface), NOFLAG, .arg = "IF", .letter = 'm',
	  .doc = "join groups on this interface (name or address) unless a "
		 "request says ?iface=" },
	{ "hold", OPT_UINT, 0, 3600, .def = "5",
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, hold), NOFLAG, .arg = "SECONDS",
	  .doc = "keep a group joined this long after its last viewer left" },
	{ "max-viewers", OPT_UINT, 1, 100000, .def = "1000",
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, max_viewers), NOFLAG, .arg = "N",
	  .letter = 'c',
	  .doc = "viewers in all, one more gets 503 (udpxy: 3 unless -c)" },
	{ "max-channel-viewers", OPT_UINT, 1, 100000, .def = "1000",
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, max_chan_viewers), NOFLAG, .arg = "N",
	  .doc = "viewers of one channel; one more gets 503" },
	{ "allow", OPT_STRING, 1, 64, .def = "every group",
	  .flags = OPTF_UNSET | OPTF_MANY,
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  .set = set_http_allow, NOFLAG, .arg = "CIDR",
	  .doc = "serve only groups in CIDR (one or more); others get 403" },
	{ "channel", OPT_STRING, 1, HTTP_NAME_MAX + 512,
	  .flags = OPTF_MANY, .at = AT_CONF_HTTP | AT_CLI_HTTP,
	  .obj = OBJ_HTTP, .set = set_http_channel, NOFLAG, .arg = "NAME=URI",
	  .doc = "serve the relay source URI (a hub's tcp://HUB:PORT?channel="
		 "CH, tcp://, srt://, udp://) at /channel/NAME (one or more)" },
	{ "content-type", OPT_STRING, 1, HTTP_CTYPE_MAX - 1,
	  .def = "video/mp2t",
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, content_type), NOFLAG, .arg = "TYPE",
	  .doc = "Content-Type of a channel's body" },
	{ "queue", OPT_BYTES, 65536, BYTES_MAX, .def = "4194304",
	  .at = AT_CONF_HTTP | AT_CLI_HTTP | AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, queue), NOFLAG, .arg = "BYTES",
	  .doc = "per-viewer queue: full, or above half for 10 s, closes the "
		 "viewer as slow-consumer" },

	/* udpxy's flags (udpxy(1)), mapped onto the http service. */
	{ "port", OPT_UINT, 1, 65535, .at = AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, udpxy_port), NOFLAG, .arg = "PORT",
	  .letter = 'p', .doc = "udpxy -p: the port to listen on" },
	{ "address", OPT_STRING, 1, URI_HOST_MAX - 1, .def = "0.0.0.0",
	  .flags = OPTF_UNSET, .at = AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  FIELD(struct http_conf, udpxy_addr), NOFLAG, .arg = "ADDR|IF",
	  .letter = 'a', .doc = "udpxy -a: listen on this address or "
				 "interface" },
	{ "buffer", OPT_STRING, 1, 32, .def = "2 MiB", .flags = OPTF_UNSET,
	  .at = AT_CLI_UDPXY, .obj = OBJ_HTTP, .set = set_udpxy_buffer, NOFLAG,
	  .arg = "SIZE", .letter = 'B',
	  .doc = "udpxy -B: the groups' kernel receive buffer (65536, 32Kb, "
		 "1Mb)" },
	{ "renew", OPT_UINT, 0, 86400, .at = AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  NOFLAG, .arg = "SECONDS", .letter = 'M',
	  .doc = "udpxy -M: accepted, ignored: memberships are checked every "
		 "2 s and renewed when lost" },
	{ "foreground", OPT_FLAG, .at = AT_CLI_UDPXY, .obj = OBJ_HTTP, NOFLAG,
	  .letter = 'T',
	  .doc = "udpxy -T: accepted, ignored: mcferry never daemonizes" },
	{ "client-stats", OPT_FLAG, .at = AT_CLI_UDPXY, .obj = OBJ_HTTP,
	  NOFLAG, .letter = 'S',
	  .doc = "udpxy -S: accepted, ignored: /status always has them" },
	{ "logfile", OPT_STRING, 1, 255, .at = AT_CLI_UDPXY, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, logfile), NOFLAG, .arg = "FILE",
	  .letter = 'l', .doc = "udpxy -l: append the log to FILE" },
	{ "nice", OPT_UINT, 0, 19, .at = AT_CLI_UDPXY, .obj = OBJ_CLI,
	  FIELD(struct opt_cli, nice), NOFLAG, .arg = "N", .letter = 'n',
	  .doc = "udpxy -n: add N to the process's nice value" },
	{ "max-messages", OPT_STRING, 1, 16, .at = AT_CLI_UDPXY,
	  .obj = OBJ_HTTP, NOFLAG, .arg = "N", .letter = 'R',
	  .doc = "udpxy -R: accepted, ignored: writes are paced, not "
		 "counted" },
	{ "buffer-time", OPT_STRING, 1, 16, .at = AT_CLI_UDPXY,
	  .obj = OBJ_HTTP, NOFLAG, .arg = "SECONDS", .letter = 'H',
	  .doc = "udpxy -H: accepted, ignored: writes are paced, not held" },

	/* URI query options: udp://...?NAME=VALUE&... */
	{ "iface", OPT_STRING, 1, URI_IFACE_MAX - 1, .at = AT_UDP,
	  .obj = OBJ_URI, FIELD(struct uri, iface), NOFLAG, .reload = true,
	  .arg = "NAME|ADDR",
	  .doc = "the interface to join on or send from" },
	{ "source", OPT_ADDR, .at = AT_UDP_SOURCE, .obj = OBJ_URI,
	  FIELD(struct uri, source), FLAG(struct uri, has_source),
	  .reload = true, .arg = "S",
	  .doc = "join (S,GROUP), source-specific multicast" },
	{ "ttl", OPT_UINT, 0, 255, .def = "1", .flags = OPTF_UNSET,
	  .at = AT_UDP_SINK, .obj = OBJ_URI, FIELD(struct uri, ttl),
	  FLAG(struct uri, set_ttl), .reload = true, .arg = "N",
	  .doc = "TTL of multicast datagrams sent (unicast: the kernel's)" },
	{ "loop", OPT_BOOL, 0, 1, .def = "1", .flags = OPTF_UNSET,
	  .at = AT_UDP_SINK, .obj = OBJ_URI, FIELD(struct uri, loop),
	  FLAG(struct uri, set_loop), .reload = true, .arg = "0|1",
	  .doc = "deliver our multicast to sockets on this host" },
	{ "rcvbuf", OPT_BYTES, 1024, INT_MAX / 2, .flags = OPTF_UNSET,
	  .def = "16 MiB (relay udp source), 2 MiB (gateway)", .at = AT_URI, .obj = OBJ_URI,
	  FIELD(struct uri, rcvbuf), NOFLAG, .reload = true, .arg = "BYTES",
	  .doc = "kernel receive buffer" },
	{ "sndbuf", OPT_BYTES, 1024, INT_MAX / 2, .flags = OPTF_UNSET,
	  .def = "256 KiB (tcp sink client)", .at = AT_URI, .obj = OBJ_URI,
	  FIELD(struct uri, sndbuf), NOFLAG, .reload = true, .arg = "BYTES",
	  .doc = "kernel send buffer" },
	{ "framing", OPT_ENUM, .words = framing_words, .def = "auto",
	  .at = AT_STREAM | AT_SRT | AT_UDP | AT_UDPL, .obj = OBJ_URI, FIELD(struct uri, framing),
	  FLAG(struct uri, set_framing), .reload = true,
	  .arg = "auto|raw|datagram",
	  .doc = "datagram between mcferry nodes (HELLO), raw bytes otherwise; "
		 "on udp:// only datagram, which makes a udp link" },
	{ "chunk", OPT_BYTES, 1, 65507, .def = "1316", .at = AT_STREAM,
	  .obj = OBJ_URI, FIELD(struct uri, chunk), FLAG(struct uri, set_chunk),
	  .reload = true, .arg = "BYTES",
	  .doc = "raw bytes into datagrams of this size" },
	{ "queue", OPT_BYTES, 65536, BYTES_MAX, .def = "4194304",
	  .at = AT_LINK & AT_SINK, .obj = OBJ_URI, FIELD(struct uri, queue),
	  FLAG(struct uri, set_queue), .reload = true, .arg = "BYTES",
	  .doc = "per-connection queue limit of a sink" },
	{ "soft", OPT_BYTES, 1024, BYTES_MAX, .def = "queue/2",
	  .flags = OPTF_UNSET, .at = AT_LINK & AT_SINK & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, soft), FLAG(struct uri, set_soft), .reload = true,
	  .arg = "BYTES", .doc = "a client above this for softsecs is cut off" },
	{ "softsecs", OPT_UINT, 1, 86400, .def = "10",
	  .at = AT_LINK & AT_SINK & AT_LISTEN,
	  .obj = OBJ_URI, FIELD(struct uri, softsecs), FLAG(struct uri, set_soft),
	  .family = "soft", .reload = true, .arg = "SECONDS",
	  .doc = "how long a client may stay above soft" },
	{ "slow", OPT_ENUM, .words = slow_words, .def = "skip",
	  .at = AT_LINK & AT_SINK & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, slow), NOFLAG, .reload = true, .arg = "skip|close",
	  .doc = "a client behind (queue= or maxlag= reached): skip whole "
		 "datagrams for it until it catches up, or cut it off" },
	{ "maxlag", OPT_UINT, 0, 3600000, .def = "2000",
	  .at = AT_LINK & AT_SINK & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, maxlag), NOFLAG, .reload = true, .arg = "MS",
	  .doc = "a client whose oldest queued datagram is older is behind "
		 "(0: bytes only)" },
	{ "maxdelay", OPT_UINT, 0, 1000, .def = "auto",
	  .flags = OPTF_UNSET, .at = AT_LINK & AT_SINK & AT_LISTEN,
	  .obj = OBJ_URI, FIELD(struct uri, maxdelay),
	  FLAG(struct uri, set_maxdelay), .reload = true, .arg = "MS",
	  .doc = "longest a datagram waits for company before it is written "
		 "(auto: clients x 60 us, at most 6 ms)" },
	{ "hello-timeout", OPT_UINT, 1, 3600, .def = "5",
	  .at = (AT_STREAM | AT_SRT) & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, hello_timeout), NOFLAG, .reload = true,
	  .arg = "SECONDS",
	  .doc = "a peer that must send a HELLO (framing datagram or auto) "
		 "and has not within SECONDS of its accept is closed" },
	{ "max-conns", OPT_UINT, 1, 1000000,
	  .def = "10000 (relay), 1000 (hub)", .flags = OPTF_UNSET,
	  .at = (AT_STREAM | AT_SRT) & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, max_conns), NOFLAG, .reload = true, .arg = "N",
	  .doc = "connections at once; one more is accepted and closed" },
	{ "max-pending", OPT_UINT, 1, 1000000, .def = "256",
	  .at = (AT_STREAM | AT_SRT) & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, max_pending), NOFLAG, .reload = true, .arg = "N",
	  .doc = "connections not yet past their HELLO, in total" },
	{ "max-pending-per-addr", OPT_UINT, 1, 1000000, .def = "32",
	  .at = (AT_STREAM | AT_SRT) & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, max_pending_per_addr), NOFLAG, .reload = true,
	  .arg = "N",
	  .doc = "connections not yet past their HELLO from one address" },
	{ "idle-timeout", OPT_UINT, 1, 86400, .def = "10",
	  .at = (AT_STREAM | AT_SRT) & AT_SOURCE & AT_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, idle_timeout), NOFLAG, .reload = true,
	  .arg = "SECONDS",
	  .doc = "a publisher that sends nothing (no data, no ping) this long "
		 "is closed, freeing the slot" },
	{ "cost", OPT_UINT, 1, 1000000, .def = "10", .flags = OPTF_UNSET,
	  .at = AT_LINK & AT_SINK, .obj = OBJ_URI, FIELD(struct uri, cost),
	  NOFLAG, .reload = true, .arg = "N",
	  .doc = "a hub-to-hub link (--peer, --listen): its cost in the mesh" },
	{ "channel", OPT_CHANNEL, .at = AT_LINK & AT_CONNECT, .obj = OBJ_URI,
	  FIELD(struct uri, channel), FLAG(struct uri, has_channel),
	  .reload = true, .arg = "CH",
	  .doc = "a link to a hub: publish CH (sink) or subscribe to it (source)" },

	/* tls://...?NAME=FILE: secrets come from files only (link_tls.c). */
	{ "ca", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_TLS, .obj = OBJ_URI,
	  FIELD(struct uri, tls.ca), NOFLAG, .reload = true, .arg = "FILE",
	  .doc = "CA certificates (PEM) that verify the peer" },
	{ "cert", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_TLS, .obj = OBJ_URI,
	  FIELD(struct uri, tls.cert), NOFLAG, .reload = true, .arg = "FILE",
	  .doc = "our certificate chain (PEM)" },
	{ "key", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_TLS, .obj = OBJ_URI,
	  FIELD(struct uri, tls.key), NOFLAG, .reload = true, .arg = "FILE",
	  .doc = "our private key (PEM); refused when group or others may "
		 "read it" },
	{ "crl", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_TLS, .obj = OBJ_URI,
	  FIELD(struct uri, tls.crl), NOFLAG, .reload = true, .arg = "FILE",
	  .doc = "revoked certificates (PEM), checked for the peer's" },
	{ "psk-file", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_TLS,
	  .obj = OBJ_URI, FIELD(struct uri, tls.psk_file), NOFLAG,
	  .reload = true, .arg = "FILE",
	  .doc = "IDENTITY:HEXKEY lines: a client presents the first, a "
		 "server accepts any; refused when group or others may read it" },
	{ "client-cert", OPT_ENUM, .words = client_cert_words, .def = "require",
	  .at = AT_TLS_SINK_LISTEN, .obj = OBJ_URI,
	  FIELD(struct uri, tls.client_cert), NOFLAG, .reload = true,
	  .arg = "require|optional",
	  .doc = "optional: viewers without a certificate may connect "
		 "(one that has one must still pass ca=)" },

	/* srt://...?NAME=VALUE (link_srt.c). */
	{ "latency", OPT_UINT, 20, 60000, .def = "120", .at = AT_SRT,
	  .obj = OBJ_URI, FIELD(struct uri, srt.latency), NOFLAG,
	  .reload = true, .arg = "MS",
	  .doc = "SRT latency: how long a lost packet may be retransmitted "
		 "before it is given up (both ends agree on the larger)" },
	{ "passphrase-file", OPT_STRING, 1, URI_PATH_MAX - 1, .at = AT_SRT,
	  .obj = OBJ_URI, FIELD(struct uri, srt.passphrase_file), NOFLAG,
	  .reload = true, .arg = "FILE",
	  .doc = "AES: the passphrase (10..79 characters) is the file's first "
		 "line; refused when group or others may read it" },
	{ "pbkeylen", OPT_ENUM, .words = srt_keylen_words, .def = "16",
	  .at = AT_SRT, .obj = OBJ_URI, FIELD(struct uri, srt.pbkeylen),
	  FLAG(struct uri, srt.set_pbkeylen), .reload = true,
	  .arg = "16|24|32", .doc = "AES key length in bytes" },
	{ "streamid", OPT_STRING, 1, URI_STREAMID_MAX - 1,
	  .at = AT_SRT & AT_CONNECT, .obj = OBJ_URI,
	  FIELD(struct uri, srt.streamid), NOFLAG, .reload = true,
	  .arg = "TEXT", .doc = "the stream id a caller sends its listener" },
	{ "mode", OPT_ENUM, .words = srt_mode_words, .at = AT_SRT,
	  .obj = OBJ_URI, FIELD(struct uri, srt.mode),
	  FLAG(struct uri, srt.set_mode), .reload = true,
	  .arg = "caller|listener|rendezvous",
	  .doc = "unset, '@' listens and HOST is called; rendezvous: both "
		 "ends call each other from PORT" },
	{ "maxbw", OPT_BYTES, 0, BYTES_MAX, .def = "libsrt's",
	  .flags = OPTF_UNSET, .at = AT_SRT, .obj = OBJ_URI,
	  FIELD(struct uri, srt.maxbw), NOFLAG, .reload = true,
	  .arg = "BYTES", .doc = "SRT bandwidth cap, bytes per second, "
				 "retransmissions included" },

	/* udp://...?framing=datagram&NAME=VALUE: a udp link (link_udp.c). */
	{ "mtu", OPT_UINT, 576, 65507, .def = "1400", .at = AT_UDPL,
	  .obj = OBJ_URI, FIELD(struct uri, mtu), NOFLAG, .reload = true,
	  .arg = "BYTES", .doc = "largest datagram a udp link sends; longer "
				 "frames go as fragments" },

	/* Last, as --help lists them. */
	{ "help", OPT_FLAG, .at = AT_CLI, .obj = OBJ_CLI, NOFLAG,
	  .letter = 'h', .doc = "show this help" },
	{ "version", OPT_FLAG, .at = AT_CLI, .obj = OBJ_CLI, NOFLAG,
	  .letter = 'V', .doc = "show the version" },
};

#define NROWS (sizeof(opt_table) / sizeof(opt_table[0]))
_Static_assert(NROWS <= 64 * URI_GIVEN_WORDS,
	       "struct uri.given has a bit per row");
const size_t opt_count = NROWS;

/* ---- lookup, values, fields ------------------------------------------ */

const struct opt *opt_find(const char *name, unsigned at)
{
	for (size_t i = 0; i < NROWS; i++)
		if ((opt_table[i].at & at) && !strcmp(opt_table[i].name, name))
			return &opt_table[i];
	return NULL;
}

unsigned opt_uri_at(const struct uri *u, bool as_source)
{
	if (u->scheme == URI_UDP)
		return as_source ? AT_UDP_SOURCE : AT_UDP_SINK;
	if (u->scheme == URI_SRT) {
		if (as_source)
			return u->local ? AT_SRT_SOURCE_LISTEN
					: AT_SRT_SOURCE_CONNECT;
		return u->local ? AT_SRT_SINK_LISTEN : AT_SRT_SINK_CONNECT;
	}
	if (u->scheme == URI_UDPLINK) {
		if (as_source)
			return u->local ? AT_UDPL_SOURCE_LISTEN
					: AT_UDPL_SOURCE_CONNECT;
		return u->local ? AT_UDPL_SINK_LISTEN : AT_UDPL_SINK_CONNECT;
	}
	if (u->scheme == URI_TLS) {
		if (as_source)
			return u->local ? AT_TLS_SOURCE_LISTEN
					: AT_TLS_SOURCE_CONNECT;
		return u->local ? AT_TLS_SINK_LISTEN : AT_TLS_SINK_CONNECT;
	}
	if (as_source)
		return u->local ? AT_TCP_SOURCE_LISTEN : AT_TCP_SOURCE_CONNECT;
	return u->local ? AT_TCP_SINK_LISTEN : AT_TCP_SINK_CONNECT;
}

/* Decimal digits only: no sign, no blank, no suffix, no hex. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_channel(const struct opt *o, const char *text,
			 union opt_value *v, char *err, size_t errlen)
{
	char buf[2 * CHANNEL_TEXT_MAX], e[256], *eq;

	if (strlen(text) >= sizeof(buf))
		return err_invalid(err, errlen, "bad %s: channel too long", o->name);
	strcpy(buf, text);
	eq = strchr(buf, '=');
	if (eq) {
		if (!(o->flags & OPTF_REMAP))
			return err_invalid(err, errlen,
					"bad %s '%s': only import takes "
					"=LOCAL_GROUP:PORT",
					o->name, text);
		*eq++ = '\0';
	}
	if (channel_parse(buf, &v->chan.ch, e, sizeof(e)) < 0)
		return err_invalid(err, errlen, "bad %s: %s", o->name, e);
	v->chan.local = v->chan.ch;
	if (!eq)
		return 0;
	if (channel_parse(eq, &v->chan.local, e, sizeof(e)) < 0)
		return err_invalid(err, errlen, "bad %s: %s", o->name, e);
	if (v->chan.local.family != v->chan.ch.family)
		return err_invalid(err, errlen,
				"bad %s '%s': local channel of another IP family",
				o->name, text);
	return 0;
}

static int parse_uri(const struct opt *o, const char *text,
		     union opt_value *v, char *err, size_t errlen)
{
	bool as_source = o->flags & OPTF_SOURCE;
	char e[256];

	if (uri_parse(text, &v->uri, e, sizeof(e)) < 0 ||
	    uri_check_role(&v->uri, as_source, e, sizeof(e)) < 0)
		return err_invalid(err, errlen, "bad %s URI '%s': %s", o->name,
				text, e);
	if (o->min && !(opt_uri_at(&v->uri, as_source) & o->min))
		return err_invalid(err, errlen, "bad %s URI '%s': want %s",
				o->name, text, o->arg);
	return 0;
}

int opt_parse(const struct opt *o, const char *text, union opt_value *v,
	      char *err, size_t errlen)
{
	size_t n = strlen(text);

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case OPT_UINT:
	case OPT_BYTES:
		if (!parse_uint(text, o->max, &v->u) || v->u < o->min)
			return err_invalid(err, errlen, "bad %s '%s': want %llu..%llu%s",
					o->name, text,
					(unsigned long long)o->min,
					(unsigned long long)o->max,
					o->type == OPT_BYTES ? " bytes" : "");
		return 0;
	case OPT_BOOL:
		if (strcmp(text, "0") && strcmp(text, "1"))
			return err_invalid(err, errlen, "bad %s '%s': want 0 or 1",
					o->name, text);
		v->u = text[0] == '1';
		return 0;
	case OPT_ENUM: {
		char want[128] = "";
		size_t k;

		for (k = 0; o->words[k]; k++) {
			if (!strcmp(text, o->words[k])) {
				v->u = k;
				return 0;
			}
		}
		for (size_t i = 0; i < k; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 "%s%s", i == 0 ? "" : i + 1 == k ? " or " : ", ",
				 o->words[i]);
		return err_invalid(err, errlen, "bad %s '%s': want %s", o->name,
				text, want);
	}
	case OPT_STRING:
		if (n < 1 || n > o->max)
			return err_invalid(err, errlen,
					"bad %s '%s': want 1..%llu characters",
					o->name, text, (unsigned long long)o->max);
		v->s = text;
		return 0;
	case OPT_CHANNEL:
		return parse_channel(o, text, v, err, errlen);
	case OPT_ADDR:
		if (!addr_parse(text, 0, &v->addr))
			return err_invalid(err, errlen,
					"bad %s '%s': not an IP address", o->name,
					text);
		return 0;
	case OPT_URI:
		return parse_uri(o, text, v, err, errlen);
	case OPT_FLAG:
		v->u = 1;
		return 0;
	}
	return err_invalid(err, errlen, "bad %s: unknown type", o->name);
}

static void store_uint(void *p, size_t size, uint64_t u)
{
	uint8_t u8 = (uint8_t)u;
	uint16_t u16 = (uint16_t)u;
	uint32_t u32 = (uint32_t)u;

	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &u, 8); break;
	}
}

/* Write v into o's field of obj (a row without a setter). */
static void opt_store(const struct opt *o, void *obj, const union opt_value *v)
{
	char *p = (char *)obj + o->off;

	switch (o->type) {
	case OPT_UINT:
	case OPT_BYTES:
	case OPT_BOOL:
	case OPT_ENUM:
	case OPT_FLAG:
		if (o->type == OPT_FLAG && o->size == sizeof(bool))
			*(bool *)p = true;
		else
			store_uint(p, o->size, v->u);
		break;
	case OPT_STRING:
		snprintf(p, o->size, "%s", v->s);
		break;
	case OPT_CHANNEL:
		memcpy(p, &v->chan.ch, sizeof(v->chan.ch));
		break;
	case OPT_ADDR:
		memcpy(p, &v->addr, sizeof(v->addr));
		break;
	case OPT_URI:
		memcpy(p, &v->uri, sizeof(v->uri));
		break;
	}
}

int opt_set(const struct opt *o, void *obj, const char *text, char *err,
	    size_t errlen)
{
	union opt_value v;
	int rc = opt_parse(o, text, &v, err, errlen);

	if (rc < 0)
		return rc;
	if (o->set)
		return o->set(obj, o, &v, err, errlen);
	if (o->size == 0)
		return 0;
	opt_store(o, obj, &v);
	if (o->flag != OPT_NOFLAG)
		*(bool *)((char *)obj + o->flag) = true;
	return 0;
}

void opt_init(void *obj, enum opt_obj kind, unsigned at)
{
	for (size_t i = 0; i < NROWS; i++) {
		const struct opt *o = &opt_table[i];
		union opt_value v;
		char err[256];

		if (o->obj != kind || !(o->at & at) || !o->def || o->set ||
		    (o->flags & OPTF_UNSET))
			continue;
		/* The table's own defaults parse; test_opt.c checks it. */
		if (opt_parse(o, o->def, &v, err, sizeof(err)) == 0)
			opt_store(o, obj, &v);
	}
}

/* ---- the command line ------------------------------------------------ */

static const struct {
	const char *name;
	enum opt_cmd cmd;
	unsigned at;
} cli_cmds[] = {
	{ "relay", CMD_RELAY, AT_CLI_RELAY },
	{ "hub", CMD_HUB, AT_CLI_HUB },
	{ "gateway", CMD_GATEWAY, AT_CLI_GATEWAY },
	{ "run", CMD_RUN, AT_CLI_RUN },
	{ "http", CMD_HTTP, AT_CLI_HTTP },
	{ "udpxy", CMD_UDPXY, AT_CLI_UDPXY },
};
#define NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

/* "'relay'" or "'relay' or 'run'": the commands of an at set. */
static void cmd_words(unsigned at, char *buf, size_t len)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < NCMDS; i++)
		n += (at & cli_cmds[i].at) != 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NCMDS; i++) {
		if (!(at & cli_cmds[i].at))
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s'%s'",
			 k == 0 ? "" : k + 1 == n ? " or " : ", ",
			 cli_cmds[i].name);
		k++;
	}
}

/* The one section a command describes, named after the command, so that
 * what follows is the same as for a file. */
static void cli_section(struct opt_cli *cli, void **objs)
{
	struct config *cfg = &cli->cfg;

	objs[OBJ_CLI] = cli;
	if (cli->cmd == CMD_RELAY) {
		cfg->relays = xcalloc(1, sizeof(*cfg->relays));
		cfg->nrelays = 1;
		strcpy(cfg->relays[0].name, "relay");
		opt_init(&cfg->relays[0], OBJ_RELAY, AT_CLI_RELAY);
		objs[OBJ_RELAY] = &cfg->relays[0];
	} else if (cli->cmd == CMD_HUB) {
		cfg->hubs = xcalloc(1, sizeof(*cfg->hubs));
		cfg->nhubs = 1;
		strcpy(cfg->hubs[0].name, "hub");
		objs[OBJ_HUB] = &cfg->hubs[0];
	} else if (cli->cmd == CMD_GATEWAY) {
		cfg->gateways = xcalloc(1, sizeof(*cfg->gateways));
		cfg->ngateways = 1;
		gateway_spec_init(&cfg->gateways[0].spec, "gateway");
		objs[OBJ_GATEWAY] = &cfg->gateways[0].spec;
	}
	if (cli->cmd == CMD_RELAY || cli->cmd == CMD_HUB ||
	    cli->cmd == CMD_GATEWAY) {
		/* --http ADDR:PORT: an HTTP front beside the service (its
		 * /status, /metrics of every counter of the process, /udp/),
		 * made only when the flag is given (see opt_cli_parse). */
		struct http_conf *h;

		cfg->https = xcalloc(1, sizeof(*cfg->https));
		h = &cfg->https[0].conf;
		strcpy(h->name, "http");
		opt_init(h, OBJ_HTTP, AT_CLI_HTTP);
		objs[OBJ_HTTP] = h;
	} else if (cli->cmd == CMD_HTTP || cli->cmd == CMD_UDPXY) {
		struct http_conf *h;

		cfg->https = xcalloc(1, sizeof(*cfg->https));
		cfg->nhttps = 1;
		h = &cfg->https[0].conf;
		strcpy(h->name, cli->cmd == CMD_HTTP ? "http" : "udpxy");
		opt_init(h, OBJ_HTTP, cli->cmd == CMD_HTTP ? AT_CLI_HTTP
							   : AT_CLI_UDPXY);
		if (cli->cmd == CMD_UDPXY) {
			/* udpxy's own defaults and pages. */
			h->udpxy = true;
			h->max_viewers = 3;
		}
		objs[OBJ_HTTP] = h;
	}
}

/* SOURCE SINK... of relay, FILE of run, nothing for hub and gateway; then
 * what must be there. */
static int cli_finish(struct opt_cli *cli, int n, char **args, char *err,
		      size_t errlen)
{
	struct config *cfg = &cli->cfg;

	/* --name renames the one section; it was made before the flags. */
	if (cli->name[0] && cfg->nrelays)
		strcpy(cfg->relays[0].name, cli->name);
	if (cli->name[0] && cfg->nhubs)
		strcpy(cfg->hubs[0].name, cli->name);
	if (cli->name[0] && cfg->ngateways)
		snprintf(cfg->gateways[0].spec.name,
			 sizeof(cfg->gateways[0].spec.name), "%s", cli->name);
	switch (cli->cmd) {
	case CMD_RELAY: {
		struct config_relay *r = &cfg->relays[0];

		if (n < 2)
			return err_invalid(err, errlen, "relay needs a SOURCE and "
					"at least one SINK");
		if (opt_set(opt_find("source", AT_CONF_RELAY), r, args[0], err,
			    errlen) < 0)
			return -EINVAL;
		for (int i = 1; i < n; i++)
			if (opt_set(opt_find("sink", AT_CONF_RELAY), r, args[i],
				    err, errlen) < 0)
				return -EINVAL;
		if (r->workers > 1 &&
		    shard_check(&r->source, r->sinks, r->nsinks, err, errlen))
			return -EINVAL;
		if (r->workers > 1 && r->control[0])
			return err_invalid(err, errlen, "--control needs --workers 1 "
					"(the workers run on threads of their own)");
		return 0;
	}
	case CMD_HUB:
	case CMD_GATEWAY:
		if (n > 0)
			return err_invalid(err, errlen, "unexpected argument '%s'",
					args[0]);
		if (cli->cmd == CMD_HUB && cfg->hubs[0].nlisten == 0)
			return err_invalid(err, errlen, "hub needs --listen URI");
		if (cli->cmd == CMD_GATEWAY &&
		    gateway_spec_check(&cfg->gateways[0].spec, err, errlen))
			return -EINVAL;
		return 0;
	case CMD_HTTP:
	case CMD_UDPXY:
		if (n > 0)
			return err_invalid(err, errlen, "unexpected argument '%s'",
					args[0]);
		if (cli->cmd == CMD_UDPXY &&
		    http_conf_finish_udpxy(&cfg->https[0].conf, err, errlen))
			return -EINVAL;
		if (cli->cmd == CMD_HTTP && !cfg->https[0].conf.listen[0])
			return err_invalid(err, errlen, "http needs --listen ADDR:PORT");
		return http_conf_check(&cfg->https[0].conf, err, errlen);
	case CMD_RUN:
		if (n != 1)
			return err_invalid(err, errlen, "run needs exactly one FILE");
		cli->file = args[0];
		return 0;
	default:
		return 0;
	}
}

/* One flag of the command line: in scope for the command, then set. */
static int cli_flag(struct opt_cli *cli, unsigned cmd_at, const struct opt *o,
		    void **objs, const char *arg, char *err, size_t errlen)
{
	char words[64], e[512];

	/* A name several commands use (listen, iface) is one long option
	 * to getopt: take the row of this command. */
	if (!(o->at & cmd_at) && opt_find(o->name, cmd_at))
		o = opt_find(o->name, cmd_at);
	if (!(o->at & cmd_at)) {
		cmd_words(o->at, words, sizeof(words));
		if (o->at & AT_CONF)
			return err_invalid(err, errlen,
					"--%s applies to %s (in a file: %s = %s)",
					o->name, words, o->name, o->arg);
		return err_invalid(err, errlen, "--%s applies to %s", o->name,
				words);
	}
	if (!strcmp(o->name, "help") || !strcmp(o->name, "version")) {
		cli->cmd = o->name[0] == 'h' ? CMD_HELP : CMD_VERSION;
		return 1;
	}
	if (opt_set(o, objs[o->obj], arg ? arg : "", e, sizeof(e)) < 0)
		return err_invalid(err, errlen, "--%s: %s", o->name, e);
	return 0;
}

int opt_cli_parse(int argc, char **argv, struct opt_cli *cli, char *err,
		  size_t errlen)
{
	struct option longopts[NROWS + 1];
	const struct opt *byval[NROWS];
	char shorts[2 * NROWS + 2] = ":";
	void *objs[OBJ_CLI + 1] = { 0 };
	unsigned cmd_at = 0;
	size_t nlong = 0;
	int c, rc = 0;

	memset(cli, 0, sizeof(*cli));
	if (argc < 2)
		return err_invalid(err, errlen,
				"missing command (relay, hub, gateway, http, "
				"udpxy or run)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cli->cmd = CMD_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		cli->cmd = CMD_VERSION;
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++) {
		if (!strcmp(argv[1], cli_cmds[i].name)) {
			cli->cmd = cli_cmds[i].cmd;
			cmd_at = cli_cmds[i].at;
		}
	}
	if (!cmd_at)
		return err_invalid(err, errlen, "unknown command '%s' (want relay, "
				"hub, gateway, http, udpxy or run)", argv[1]);
	cli_section(cli, objs);

	/* Every command-line row is a long option, whatever the command,
	 * so that one out of place is named as such, not as unknown. */
	for (size_t i = 0; i < NROWS; i++) {
		const struct opt *o = &opt_table[i];

		if (!(o->at & AT_CLI))
			continue;
		byval[nlong] = o;
		longopts[nlong] = (struct option){
			o->name, o->type == OPT_FLAG ? no_argument
						     : required_argument,
			NULL, 256 + (int)nlong
		};
		nlong++;
		if (o->letter) {
			size_t k = strlen(shorts);

			shorts[k++] = o->letter;
			if (o->type != OPT_FLAG)
				shorts[k++] = ':';
			shorts[k] = '\0';
		}
	}
	longopts[nlong] = (struct option){ 0 };

	/* Scan from the word after the command; optind = 0 makes glibc
	 * start afresh, so this can run more than once (unit tests). */
	optind = 0;
	opterr = 0;
	while (rc == 0 &&
	       (c = getopt_long(argc - 1, argv + 1, shorts, longopts, NULL)) != -1) {
		const struct opt *o = NULL;

		if (c >= 256)
			o = byval[c - 256];
		for (size_t i = 0; !o && c < 256 && i < nlong; i++)
			if (byval[i]->letter == c)
				o = byval[i];
		if ((c == ':' || c == '?') && optopt >= 256)
			rc = err_invalid(err, errlen, "option '--%s' %s",
				      byval[optopt - 256]->name,
				      c == ':' ? "needs a value"
					       : "takes no value");
		else if (c == ':')
			rc = err_invalid(err, errlen, "option '-%c' needs a value",
				      optopt);
		else if (c == '?' && optopt)
			rc = err_invalid(err, errlen, "unknown option '-%c'",
				      optopt);
		else if (!o)
			rc = err_invalid(err, errlen, "unknown option '%s'",
				      argv[optind]);
		else
			rc = cli_flag(cli, cmd_at, o, objs, optarg, err, errlen);
	}
	if (rc == 0 && cli->cmd != CMD_HTTP && cli->cmd != CMD_UDPXY &&
	    cli->cfg.https && cli->cfg.https[0].conf.listen[0])
		cli->cfg.nhttps = 1; /* --http was given */
	if (rc == 0)
		rc = cli_finish(cli, argc - 1 - optind, argv + 1 + optind, err,
				errlen);
	if (rc != 0 || cli->cmd == CMD_HELP || cli->cmd == CMD_VERSION)
		config_free(&cli->cfg);
	return rc < 0 ? rc : 0;
}

/* ---- --help ---------------------------------------------------------- */

/* The usage lines are the SYNOPSIS of docs/mcferry.1.scd (test_opt.c
 * compares them). */
static const char help_usage[] =
	"usage: mcferry relay [-v|-q] [--stats SECONDS] [--user USER] [--workers N]\n"
	"               [--name NAME] [--control PATH] SOURCE SINK [SINK...]\n"
	"       mcferry hub [-v|-q] [--stats SECONDS] [--user USER] [--name NAME]\n"
	"               --listen URI [--listen URI...] [--peer URI...] [--acl FILE]\n"
	"               [--heartbeat MS] [--control PATH]\n"
	"       mcferry gateway [-v|-q] [--stats SECONDS] [--user USER] [--name NAME]\n"
	"               --hub URI [--hub URI...] --iface IF [--island NAME] [--ttl N]\n"
	"               (--group CH | --export CH | --import CH[=LOCAL_CH])...\n"
	"               [--control PATH]\n"
	"       mcferry http [-v|-q] [--stats SECONDS] [--user USER]\n"
	"               --listen ADDR:PORT [--iface IF] [--hold SECONDS]\n"
	"       mcferry udpxy [-vTS] [-a ADDR|IF] -p PORT [-m IF] [-c N] [-l FILE]\n"
	"               [-B SIZE] [-n N] [-R N] [-H SECONDS] [-M SECONDS]\n"
	"       mcferry run [--check] [-v|-q] [--stats SECONDS] [--user USER] FILE\n"
	"       mcferry ctl SOCKET OP [KEY=VALUE...|JSON] [--dot]\n"
	"       mcferry --help | --version\n"
	"\n"
	"Carry IP multicast between islands over TCP, TLS, SRT or UDP links.\n"
	"\n"
	"Endpoints (the '@' marks the local side: bind, join, listen):\n"
	"  udp://@GROUP:PORT[?source=S]  join a group (ASM, or SSM with source)\n"
	"  udp://@:PORT                  receive unicast datagrams\n"
	"  udp://HOST:PORT               send datagrams (multicast or unicast)\n"
	"  tcp://HOST:PORT               connect; reconnect with backoff\n"
	"  tcp://@[ADDR]:PORT            listen: one publisher as source,\n"
	"                                every client as sink\n"
	"  tls://HOST:PORT, tls://@[ADDR]:PORT\n"
	"                                as tcp://, over TLS 1.3 with mutual\n"
	"                                authentication (ca= cert= key=, or\n"
	"                                psk-file=)\n"
	"  srt://HOST:PORT, srt://@[ADDR]:PORT\n"
	"                                SRT live mode (caller, listener): a\n"
	"                                listening sink serves every caller\n"
	"  udp://HOST:PORT?framing=datagram, udp://@:PORT?framing=datagram\n"
	"                                a udp link between mcferry nodes\n";

static const char help_tail[] =
	"\n"
	"Channels (hub and gateway): GROUP:PORT or SOURCE@GROUP:PORT (SSM).\n"
	"A configuration file (run) has the same keys: see mcferry.conf(5).\n"
	"\n"
	"Example, the four seed tools:\n"
	"  mcferry relay udp://@224.168.2.9:1600 tcp://@:1601\n"
	"  mcferry relay udp://@224.168.2.9:1600 tcp://SPLITTER:1602\n"
	"  mcferry relay tcp://@:1602 tcp://@:1603\n"
	"  mcferry relay tcp://SPLITTER:1603 udp://224.168.2.9:1600\n"
	"A player without multicast (http://HOST:4022/udp/239.1.1.1:5000):\n"
	"  mcferry http --listen :4022 --iface eth0\n"
	"See mcferry(1).\n";

/* Where a URI option applies, in words. */
static const char *uri_where(unsigned at)
{
	static const struct {
		unsigned at;
		const char *words;
	} w[] = {
		{ AT_URI, "" },
		{ AT_UDP, "udp" },
		{ AT_UDP_SOURCE, "udp source" },
		{ AT_UDP_SINK, "udp sink" },
		{ AT_TCP, "tcp" },
		{ AT_TCP & AT_SINK, "tcp sink" },
		{ AT_TCP & AT_CONNECT, "connecting tcp" },
		{ AT_TCP_SINK_LISTEN, "listening tcp sink" },
		{ AT_STREAM, "tcp or tls" },
		{ AT_STREAM & AT_SINK, "tcp or tls sink" },
		{ AT_STREAM & AT_CONNECT, "connecting tcp or tls" },
		{ AT_STREAM & AT_SINK & AT_LISTEN, "listening tcp or tls sink" },
		{ AT_TLS, "tls" },
		{ AT_TLS_SINK_LISTEN, "listening tls sink" },
		{ AT_STREAM & AT_LISTEN, "listening tcp or tls" },
		{ AT_STREAM & AT_SOURCE & AT_LISTEN, "listening tcp or tls source" },
		{ (AT_STREAM | AT_SRT) & AT_LISTEN, "listening tcp, tls or srt" },
		{ (AT_STREAM | AT_SRT) & AT_SOURCE & AT_LISTEN,
		  "listening tcp, tls or srt source" },
		{ AT_LINK & AT_SINK, "tcp, tls, srt or udp-link sink" },
		{ AT_LINK & AT_SINK & AT_LISTEN,
		  "listening tcp, tls, srt or udp-link sink" },
		{ AT_LINK & AT_CONNECT, "connecting tcp, tls, srt or udp link" },
		{ AT_STREAM | AT_SRT | AT_UDP | AT_UDPL, "" },
		{ AT_SRT, "srt" },
		{ AT_SRT & AT_CONNECT, "connecting srt" },
		{ AT_UDPL, "udp link" },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].at == at)
			return w[i].words;
	return "some endpoints";
}

/* "  LEFT   [where: ]doc (default D)", the text wrapped at 79 columns
 * under column 25, and starting on the next line when LEFT is too wide. */
static void help_row(FILE *f, const char *left, const char *where,
		     const struct opt *o)
{
	char text[512], *w, *save = NULL;
	int col = fprintf(f, "  %s", left);

	snprintf(text, sizeof(text), "%s%s%s", where, *where ? ": " : "",
		 o->doc);
	if (o->def)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 " (default %s)", o->def);
	if (col > 24) {
		fputc('\n', f);
		col = 0;
	}
	col += fprintf(f, "%*s", 25 - col, "");
	for (w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (col > 25 && col + 1 + (int)strlen(w) > 79) {
			fprintf(f, "\n%25s", "");
			col = 25;
		}
		col += fprintf(f, "%s%s", col > 25 ? " " : "", w);
	}
	fputc('\n', f);
}

void opt_help(FILE *f)
{
	char left[64], where[64];

	fputs(help_usage, f);
	fputs("Endpoint options, after '?' joined by '&':\n", f);
	for (size_t i = 0; i < NROWS; i++) {
		const struct opt *o = &opt_table[i];

		if (o->obj != OBJ_URI)
			continue;
		snprintf(left, sizeof(left), "%s=%s", o->name, o->arg);
		help_row(f, left, uri_where(o->at), o);
	}
	fputs("\nOptions:\n", f);
	for (size_t i = 0; i < NROWS; i++) {
		const struct opt *o = &opt_table[i];
		size_t k = 0;

		if (!(o->at & AT_CLI))
			continue;
		if (o->letter)
			snprintf(left, sizeof(left), "-%c, --%s", o->letter,
				 o->name);
		else
			snprintf(left, sizeof(left), "    --%s", o->name);
		if (o->arg)
			snprintf(left + strlen(left), sizeof(left) - strlen(left),
				 " %s", o->arg);
		where[0] = '\0';
		for (size_t j = 0; (o->at & AT_CLI) != AT_CLI && j < NCMDS; j++)
			if (o->at & cli_cmds[j].at)
				k += (size_t)snprintf(where + k, sizeof(where) - k,
						      "%s%s", k ? ", " : "",
						      cli_cmds[j].name);
		help_row(f, left, where, o);
	}
	fputs(help_tail, f);
}
