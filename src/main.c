/* main.c - the mcferry command line: parse options, wire relays to the
 * loop, run until SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <time.h>
#include <uv.h>

#include "config.h"
#include "gateway.h"
#include "log.h"
#include "relay.h"
#include "service.h"
#include "shard.h"
#include "util.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: mcferry relay [-v|-q] [--stats SECONDS] [--workers N] SOURCE SINK [SINK...]\n"
	"       mcferry hub [-v|-q] [--stats SECONDS] --listen URI [--listen URI...]\n"
	"       mcferry gateway [-v|-q] [--stats SECONDS] --hub URI --iface IF\n"
	"               [--island NAME] [--ttl N] (--group CH | --export CH |\n"
	"               --import CH[=LOCAL_CH])...\n"
	"       mcferry run [--check] [-v|-q] [--stats SECONDS] FILE\n"
	"       mcferry --help | --version\n"
	"\n"
	"Carry IP multicast between islands over TCP.\n"
	"\n"
	"Endpoints (the '@' marks the local side: bind, join, listen):\n"
	"  udp://@GROUP:PORT[?source=S]  join a group (ASM, or SSM with source)\n"
	"  udp://@:PORT                  receive unicast datagrams\n"
	"  udp://HOST:PORT               send datagrams (multicast or unicast)\n"
	"  tcp://HOST:PORT               connect; reconnect with backoff\n"
	"  tcp://@[ADDR]:PORT            listen: one publisher as source,\n"
	"                                every client as sink\n"
	"Options, after '?' joined by '&':\n"
	"  iface=NAME|ADDR  ttl=N (default 1)  loop=0|1  rcvbuf=BYTES\n"
	"  sndbuf=BYTES  framing=raw|datagram (default raw)\n"
	"  chunk=BYTES (default 1316)  queue=BYTES (default 4194304)\n"
	"  soft=BYTES (default queue/2)  softsecs=N (default 10)\n"
	"  channel=CH (tcp://HUB:PORT?framing=datagram: publish or subscribe CH)\n"
	"\n"
	"Channels (hub and gateway): GROUP:PORT or SOURCE@GROUP:PORT (SSM).\n"
	"\n"
	"  -v, --verbose       log debug lines\n"
	"  -q, --quiet         log warnings and errors only\n"
	"      --stats SECS    log a line of counters every SECS seconds\n"
	"      --stats-json    with --stats: also write every counter as one\n"
	"                      JSON object per line on standard output\n"
	"      --check         (run) check FILE and print 'configuration OK'\n"
	"      --user USER     drop to USER's uid and gids once everything is open\n"
	"      --workers N     (relay) N threads, each joining the group and\n"
	"                      serving a share of the clients (multicast source,\n"
	"                      listening tcp sinks only; default 1)\n"
	"      --listen URI    (hub) accept gateways and relays on tcp://@[ADDR]:PORT\n"
	"      --hub URI       (gateway) the hub, tcp://HOST:PORT\n"
	"      --iface IF      (gateway) the island's LAN interface, name or address\n"
	"      --island NAME   (gateway) default: the LAN's IPv4 subnet\n"
	"      --ttl N         (gateway) TTL of re-multicast datagrams (default 1)\n"
	"      --group CH      (gateway) export and import CH\n"
	"      --export CH     (gateway) send the island's CH to the hub\n"
	"      --import CH[=LOCAL_CH]  (gateway) multicast CH here, maybe remapped\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"Example, the four seed tools:\n"
	"  mcferry relay udp://@224.168.2.9:1600 tcp://@:1601\n"
	"  mcferry relay udp://@224.168.2.9:1600 tcp://SPLITTER:1602\n"
	"  mcferry relay tcp://@:1602 tcp://@:1603\n"
	"  mcferry relay tcp://SPLITTER:1603 udp://224.168.2.9:1600\n"
	"See mcferry(1).\n";

struct app {
	struct node ctx;
	struct service_list svcs;    /* running */
	struct service_list retired; /* stopped by a reload (names only) */
	const char *config_path;     /* run: reread on SIGHUP */
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t stats_timer;
	unsigned stats_secs;
	bool stats_json;       /* --stats-json: JSON lines on stdout too */
	const char *user;      /* --user: drop privileges once open */
	int status;
};

noreturn static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

noreturn static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mcferry: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mcferry --help'.\n");
	exit(EXIT_USAGE);
}

static void app_stop(struct app *app)
{
	for (size_t i = 0; i < app->svcs.n; i++)
		app->svcs.v[i].ops->stop(app->svcs.v[i].obj);
	if (!uv_is_closing((uv_handle_t *)&app->sigint)) {
		uv_close((uv_handle_t *)&app->sigint, NULL);
		uv_close((uv_handle_t *)&app->sigterm, NULL);
		uv_close((uv_handle_t *)&app->sighup, NULL);
		uv_close((uv_handle_t *)&app->stats_timer, NULL);
	}
}

static void app_log_stats(const struct app *app)
{
	for (size_t i = 0; i < app->svcs.n; i++)
		app->svcs.v[i].ops->log_stats(app->svcs.v[i].obj);
	if (app->stats_json)
		service_write_stats_json(&app->ctx.stats, stdout);
}

/* SIGHUP: reread the file. A service whose configuration is unchanged
 * keeps running with its connections; a changed or removed one is stopped,
 * a changed or new one started. A bad file changes nothing. */
static void app_reload(struct app *app)
{
	struct service_list next = { 0 }, kept = { 0 };
	struct config cfg;
	unsigned stopped = 0, started = 0;
	char err[768];

	if (!app->config_path) {
		log_info("SIGHUP: nothing to reload (no configuration file)");
		return;
	}
	if (config_load(app->config_path, &cfg, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s",
			  err);
		return;
	}
	service_add_config(&next, &app->ctx, &cfg);
	config_free(&cfg);
	while (app->svcs.n > 0) {
		struct service *old = &app->svcs.v[0];
		size_t j;

		for (j = 0; j < next.n; j++)
			if (!strcmp(next.v[j].fingerprint, old->fingerprint))
				break;
		if (j < next.n) {
			/* Unchanged: the running one stays, the twin goes. */
			struct service_list twin = { 0 };

			service_move(&next, j, &twin);
			twin.v[0].ops->stop(twin.v[0].obj); /* never started */
			service_list_free(&twin);
			service_move(&app->svcs, 0, &kept);
			continue;
		}
		log_info("%s stopped by reload", old->name);
		old->ops->stop(old->obj);
		service_move(&app->svcs, 0, &app->retired);
		stopped++;
	}
	free(app->svcs.v);
	app->svcs = kept;
	while (next.n > 0) {
		struct service *s = &next.v[0];

		if (s->ops->start(s->obj, err, sizeof(err)) < 0) {
			log_error("%s not started by reload: %s", s->name, err);
			s->ops->stop(s->obj);
			service_move(&next, 0, &app->retired);
			continue;
		}
		log_info("%s ready (reload)", s->name);
		service_move(&next, 0, &app->svcs);
		started++;
	}
	free(next.v);
	log_info("reload done: %zu running, %u stopped, %u started",
		 app->svcs.n, stopped, started);
}

static void app_on_signal(uv_signal_t *h, int signum)
{
	struct app *app = h->data;

	if (signum == SIGHUP) {
		app_reload(app);
		return;
	}
	log_info("signal %s: shutting down", strsignal(signum));
	if (app->stats_secs)
		app_log_stats(app);
	app_stop(app);
}

static void app_on_stats(uv_timer_t *t)
{
	app_log_stats(t->data);
}

/* Bind, join, then drop privileges: everything that needs root is open
 * by now. Returns 0 or -1 with the reason logged. */
static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_error("--user %s: no such user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("--user %s: cannot switch: %s", user,
			  strerror(errno));
		return -1;
	}
	log_info("running as user=%s uid=%u gid=%u", user,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

/* Tell systemd (Type=notify) that every endpoint is up: one datagram to
 * $NOTIFY_SOCKET, the protocol of sd_notify(3), without linking libsystemd. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	strcpy(sun.sun_path, path);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun, len);
	close(fd);
}

static uint64_t random_node_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return id;
}

/* Start every relay, run the loop until a signal stops it; returns the
 * process exit status. */
static int app_run(struct app *app)
{
	uv_loop_t *loop = uv_default_loop();
	char err[512];

	app->ctx.loop = loop;
	srand((unsigned)app->ctx.node_id);
	buf_pool_init(&app->ctx.pool);
	stats_init(&app->ctx.stats);
	uv_signal_init(loop, &app->sigint);
	uv_signal_init(loop, &app->sigterm);
	uv_signal_init(loop, &app->sighup);
	uv_timer_init(loop, &app->stats_timer);
	app->sigint.data = app->sigterm.data = app->sighup.data = app;
	app->stats_timer.data = app;
	uv_signal_start(&app->sigint, app_on_signal, SIGINT);
	uv_signal_start(&app->sigterm, app_on_signal, SIGTERM);
	uv_signal_start(&app->sighup, app_on_signal, SIGHUP);

	for (size_t i = 0; i < app->svcs.n; i++) {
		struct service *sv = &app->svcs.v[i];

		if (sv->ops->start(sv->obj, err, sizeof(err)) < 0) {
			log_error("%s %s", sv->name, err);
			app->status = EXIT_RUNTIME;
			app_stop(app);
			break;
		}
	}
	if (app->status == 0 && app->user && drop_privileges(app->user) < 0) {
		app->status = EXIT_RUNTIME;
		app_stop(app);
	}
	if (app->status == 0) {
		if (app->stats_secs)
			uv_timer_start(&app->stats_timer, app_on_stats,
				       app->stats_secs * 1000ull,
				       app->stats_secs * 1000ull);
		for (size_t i = 0; i < app->svcs.n; i++)
			log_info("%s ready", app->svcs.v[i].name);
		notify_ready();
	}
	uv_run(loop, UV_RUN_DEFAULT);
	service_list_free(&app->svcs);
	service_list_free(&app->retired);
	buf_pool_exit(&app->ctx.pool);
	stats_exit(&app->ctx.stats);
	uv_loop_close(loop);
	return app->status;
}

static void parse_uri_arg(const char *text, bool as_source, struct uri *u)
{
	char err[256], msg[600];

	if (uri_parse(text, u, err, sizeof(err)) == 0 &&
	    uri_check_role(u, as_source, err, sizeof(err)) == 0)
		return;
	snprintf(msg, sizeof(msg), "bad %s URI '%s': %s",
		 as_source ? "source" : "sink", text, err);
	usage_error("%s", msg);
}

enum { OPT_STATS = 256, OPT_CHECK, OPT_USER, OPT_WORKERS, OPT_LISTEN, OPT_HUB, OPT_IFACE,
       OPT_ISLAND, OPT_TTL, OPT_GROUP, OPT_EXPORT, OPT_IMPORT,
       OPT_STATS_JSON };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "stats-json", no_argument, NULL, OPT_STATS_JSON },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "user", required_argument, NULL, OPT_USER },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "hub", required_argument, NULL, OPT_HUB },
		{ "iface", required_argument, NULL, OPT_IFACE },
		{ "island", required_argument, NULL, OPT_ISLAND },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "import", required_argument, NULL, OPT_IMPORT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct app app = { 0 };
	static struct gateway_spec gw;
	struct uri *listen = NULL;
	size_t nlisten = 0;
	const char *cmd;
	bool check = false;
	unsigned workers = 1;
	char err[768];
	int opt;

	signal(SIGPIPE, SIG_IGN);
	app.ctx.node_id = random_node_id();
	app.ctx.epoch = (uint64_t)time(NULL);
	if (argc < 2)
		usage_error("%s", "missing command (relay or run)");
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("mcferry %s (libuv %s)\n", MCFERRY_VERSION,
		       uv_version_string());
		return 0;
	}
	if (strcmp(cmd, "relay") && strcmp(cmd, "run") && strcmp(cmd, "hub") &&
	    strcmp(cmd, "gateway"))
		usage_error("unknown command '%s' (want relay, hub, gateway or "
			    "run)",
			    cmd);
	gateway_spec_init(&gw, "gateway");

	optind = 2;
	while ((opt = getopt_long(argc, argv, "vqhV", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'q':
			log_set_level(LOG_WARN);
			break;
		case OPT_STATS:
			v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v == 0 ||
			    v > 86400)
				usage_error("bad --stats '%s': want 1..86400 "
					    "seconds",
					    optarg);
			app.stats_secs = (unsigned)v;
			break;
		case OPT_STATS_JSON:
			app.stats_json = true;
			break;
		case OPT_CHECK:
			if (strcmp(cmd, "run"))
				usage_error("%s", "--check applies to 'run'");
			check = true;
			break;
		case OPT_USER:
			app.user = optarg;
			break;
		case OPT_WORKERS:
			if (strcmp(cmd, "relay"))
				usage_error("%s", "--workers applies to 'relay' "
						  "(in a file: workers = N)");
			v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 1 ||
			    v > SHARD_MAX)
				usage_error("bad --workers '%s': want 1..%d",
					    optarg, SHARD_MAX);
			workers = (unsigned)v;
			break;
		case OPT_LISTEN:
			if (strcmp(cmd, "hub"))
				usage_error("%s", "--listen applies to 'hub'");
			listen = xrealloc(listen, (nlisten + 1) * sizeof(*listen));
			if (uri_parse(optarg, &listen[nlisten], err, 256) ||
			    uri_check_role(&listen[nlisten], false, err, 256) ||
			    (!listen[nlisten].local &&
			     snprintf(err, 256, "want tcp://@[ADDR]:PORT")) ||
			    (listen[nlisten].scheme != URI_TCP &&
			     snprintf(err, 256, "want tcp://@[ADDR]:PORT")))
				usage_error("bad listen URI '%s': %s", optarg,
					    err);
			nlisten++;
			break;
		case OPT_HUB:
		case OPT_IFACE:
		case OPT_ISLAND:
		case OPT_TTL:
		case OPT_GROUP:
		case OPT_EXPORT:
		case OPT_IMPORT:
			if (strcmp(cmd, "gateway"))
				usage_error("%s applies to 'gateway'",
					    argv[optind - 1]);
			if (opt == OPT_HUB) {
				if (gateway_spec_set_hub(&gw, optarg, err,
							 sizeof(err)))
					usage_error("%s", err);
			} else if (opt == OPT_IFACE) {
				if (strlen(optarg) >= sizeof(gw.iface))
					usage_error("bad --iface '%s'", optarg);
				strcpy(gw.iface, optarg);
			} else if (opt == OPT_ISLAND) {
				if (!*optarg ||
				    strlen(optarg) >= sizeof(gw.island))
					usage_error("bad --island '%s': 1-64 "
						    "characters",
						    optarg);
				strcpy(gw.island, optarg);
			} else if (opt == OPT_TTL) {
				v = strtoul(optarg, &end, 10);
				if (*optarg < '0' || *optarg > '9' || *end ||
				    v > 255)
					usage_error("bad --ttl '%s': want 0..255",
						    optarg);
				gw.ttl = (int)v;
			} else if (gateway_spec_add(&gw,
						    opt == OPT_GROUP ? "group"
						    : opt == OPT_EXPORT ? "export"
									: "import",
						    optarg, err, sizeof(err))) {
				usage_error("%s", err);
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("mcferry %s\n", MCFERRY_VERSION);
			return 0;
		default:
			usage_error("%s", "bad option");
		}
	}
	if (app.stats_json && !app.stats_secs)
		usage_error("%s", "--stats-json needs --stats SECONDS");

	if (!strcmp(cmd, "hub")) {
		if (optind != argc)
			usage_error("unexpected argument '%s'", argv[optind]);
		if (nlisten == 0)
			usage_error("%s", "hub needs --listen URI");
		service_add_hub(&app.svcs, &app.ctx, "hub", listen, nlisten);
		free(listen);
	} else if (!strcmp(cmd, "gateway")) {
		if (optind != argc)
			usage_error("unexpected argument '%s'", argv[optind]);
		if (gateway_spec_check(&gw, err, sizeof(err)))
			usage_error("%s", err);
		service_add_gateway(&app.svcs, &app.ctx, &gw);
	} else if (!strcmp(cmd, "relay")) {
		struct uri src, *sinks;
		int nsinks = argc - optind - 1;

		if (nsinks < 1)
			usage_error("%s", "relay needs a SOURCE and at least "
					  "one SINK");
		parse_uri_arg(argv[optind], true, &src);
		sinks = xcalloc((size_t)nsinks, sizeof(*sinks));
		for (int i = 0; i < nsinks; i++)
			parse_uri_arg(argv[optind + 1 + i], false, &sinks[i]);
		if (workers > 1 &&
		    shard_check(&src, sinks, (size_t)nsinks, err, sizeof(err)))
			usage_error("%s", err);
		service_add_relay(&app.svcs, &app.ctx, "relay", &src, sinks,
				  (size_t)nsinks, workers);
		free(sinks);
	} else {
		struct config cfg;

		if (argc - optind != 1)
			usage_error("%s", "run needs exactly one FILE");
		if (config_load(argv[optind], &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "mcferry: %s\n", err);
			return EXIT_USAGE;
		}
		if (check) {
			printf("configuration OK (%zu relays, %zu hubs, %zu "
			       "gateways)\n",
			       cfg.nrelays, cfg.nhubs, cfg.ngateways);
			config_free(&cfg);
			return 0;
		}
		service_add_config(&app.svcs, &app.ctx, &cfg);
		app.config_path = argv[optind];
		config_free(&cfg);
	}
	return app_run(&app);
}
