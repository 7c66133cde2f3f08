/* main.c - the mcferry process: the command line (parsed by opt.c) into
 * services on one loop, run until SIGINT or SIGTERM, reload on SIGHUP. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>
#include <uv.h>

#include "caps.h"
#include "check.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "notify.h"
#include "opt.h"
#include "relay.h"
#include "service.h"
#include "util.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct app {
	struct node ctx;
	struct service_list svcs;    /* running */
	struct service_list retired; /* stopped by a reload (names only) */
	const char *config_path;     /* run: reread on SIGHUP */
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t stats_timer;
	uv_timer_t watchdog_timer; /* WATCHDOG=1 at half of $WATCHDOG_USEC */
	uv_timer_t status_timer;   /* STATUS= for systemctl status */
	unsigned stats_secs;
	bool stats_json;       /* --stats-json: JSON lines on stdout too */
	const char *user;      /* --user: drop privileges once open */
	struct caps_keep keep; /* ... keeping these capabilities */
	int status;
};

static void app_stop(struct app *app)
{
	for (size_t i = 0; i < app->svcs.n; i++)
		app->svcs.v[i].ops->stop(app->svcs.v[i].obj);
	if (!uv_is_closing((uv_handle_t *)&app->sigint)) {
		uv_close((uv_handle_t *)&app->sigint, NULL);
		uv_close((uv_handle_t *)&app->sigterm, NULL);
		uv_close((uv_handle_t *)&app->sighup, NULL);
		uv_close((uv_handle_t *)&app->stats_timer, NULL);
		uv_close((uv_handle_t *)&app->watchdog_timer, NULL);
		uv_close((uv_handle_t *)&app->status_timer, NULL);
	}
}

static void app_log_stats(const struct app *app)
{
	for (size_t i = 0; i < app->svcs.n; i++)
		app->svcs.v[i].ops->log_stats(app->svcs.v[i].obj);
	if (app->stats_json)
		service_write_stats_json(&app->ctx.stats, stdout);
}

/* Connected clients of every service, as the registry counts them: TCP
 * clients of relays and links of hubs. The registry renders, it does not
 * iterate, so the JSON lines are summed. */
static uint64_t app_clients(const struct app *app)
{
	struct stats_text t = { 0 };
	uint64_t n = 0;

	stats_render_json(&app->ctx.stats, &t, false);
	for (char *l = t.data; l && *l;) {
		char *nl = strchr(l, '\n'), *v;

		if (nl)
			*nl = '\0';
		if ((!strncmp(l, "{\"metric\":\"mcferry_relay_clients\"", 33) ||
		     !strncmp(l, "{\"metric\":\"mcferry_hub_links\"", 29)) &&
		    (v = strstr(l, "\"value\":")))
			n += strtoull(v + 8, NULL, 10);
		l = nl ? nl + 1 : NULL;
	}
	stats_text_free(&t);
	return n;
}

/* Tell systemd (Type=notify) what the process is doing: extra ("READY=1"
 * and the like, or "") and a STATUS= line for systemctl status. */
static void app_notify(const struct app *app, const char *extra)
{
	char msg[256];

	if (!notify_enabled())
		return;
	snprintf(msg, sizeof(msg), "%s%sSTATUS=%zu services running, %llu clients",
		 extra, extra[0] ? "\n" : "", app->svcs.n,
		 (unsigned long long)app_clients(app));
	(void)notify_send(msg);
}

static void app_on_status(uv_timer_t *t)
{
	app_notify(t->data, "");
}

/* From a loop timer: when the loop is stuck, the pings stop and systemd
 * restarts the service. */
static void app_on_watchdog(uv_timer_t *t)
{
	(void)notify_send("WATCHDOG=1");
}

/* SIGHUP: reread the file. A service whose configuration is unchanged
 * keeps running with its connections and re-reads the files it names
 * (certificates, keys, an ACL: service_ops.reload); a changed or removed
 * one is stopped, a changed or new one started. A bad file changes
 * nothing. Without a file (the command line) every service re-reads its
 * files. */
static void app_reload(struct app *app)
{
	struct service_list next = { 0 }, kept = { 0 };
	struct config cfg;
	unsigned stopped = 0, started = 0;
	char err[768];

	if (!app->config_path) {
		/* The command line cannot change, the files it names can. */
		log_info("SIGHUP: no configuration file; re-reading "
			 "certificates and ACLs");
		for (size_t i = 0; i < app->svcs.n; i++)
			app->svcs.v[i].ops->reload(app->svcs.v[i].obj);
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
			/* Its files may have changed under the same names:
			 * new certificates, a new ACL. */
			old->ops->reload(old->obj);
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
		char msg[64];

		/* systemd 253+ wants the time, to tell this reload from an
		 * older one. */
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
			 (unsigned long long)notify_monotonic_usec());
		(void)notify_send(msg);
		app_reload(app);
		app_notify(app, "READY=1");
		return;
	}
	log_info("signal %s: shutting down", strsignal(signum));
	(void)notify_send("STOPPING=1");
	if (app->stats_secs)
		app_log_stats(app);
	app_stop(app);
}

static void app_on_stats(uv_timer_t *t)
{
	app_log_stats(t->data);
}

/* Bind, join, then drop privileges: everything that needs root is open
 * by now, and only what a restart of a service needs is kept (caps.h).
 * Returns 0 or -1 with the reason logged. */
static int drop_privileges(const char *user, const struct caps_keep *keep)
{
	struct passwd *pw = getpwnam(user);
	const char *step;
	char names[128];
	int rc;

	if (!pw) {
		log_error("--user %s: no such user", user);
		return -1;
	}
	rc = caps_switch_user(pw->pw_name, pw->pw_uid, pw->pw_gid, keep->set,
			      &step);
	if (rc < 0) {
		log_error("--user %s: cannot switch: %s: %s", user, step,
			  strerror(-rc));
		return -1;
	}
	caps_format(keep->set, names, sizeof(names));
	log_info("running as user=%s uid=%u gid=%u capabilities=%s keeping %s",
		 user, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, names,
		 keep->why);
	return 0;
}

/* READY=1, then the STATUS= and WATCHDOG=1 timers. */
static void app_start_notify(struct app *app)
{
	uint64_t wd = notify_watchdog_usec();

	if (!notify_enabled())
		return;
	if (wd) {
		uint64_t ms = wd / 2000 ? wd / 2000 : 1;

		uv_timer_start(&app->watchdog_timer, app_on_watchdog, ms, ms);
		log_info("watchdog ping every %llu ms", (unsigned long long)ms);
	}
	uv_timer_start(&app->status_timer, app_on_status, 5000, 5000);
	app_notify(app, "READY=1");
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
	uv_signal_init(loop, &app->sigint);
	uv_signal_init(loop, &app->sigterm);
	uv_signal_init(loop, &app->sighup);
	uv_timer_init(loop, &app->stats_timer);
	uv_timer_init(loop, &app->watchdog_timer);
	uv_timer_init(loop, &app->status_timer);
	app->sigint.data = app->sigterm.data = app->sighup.data = app;
	app->stats_timer.data = app->status_timer.data = app;
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
	if (app->status == 0 && app->user && drop_privileges(app->user, &app->keep) < 0) {
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
		app_start_notify(app);
	}
	uv_run(loop, UV_RUN_DEFAULT);
	service_list_free(&app->svcs);
	service_list_free(&app->retired);
	buf_pool_exit(&app->ctx.pool);
	stats_exit(&app->ctx.stats);
	uv_loop_close(loop);
	return app->status;
}

/* A usage error: the reason, a pointer to --help, exit 2. */
noreturn static void usage_error(const char *msg)
{
	fprintf(stderr, "mcferry: %s\nTry 'mcferry --help'.\n", msg);
	exit(EXIT_USAGE);
}

/* What cli asks for, as services of app: the one section the command
 * line describes, or the file of run. Returns -1 to run, or the exit
 * status (--help, --version, --check, a bad file). */
static int app_setup(struct app *app, struct opt_cli *cli)
{
	struct config file;
	char err[768];

	if (cli->cmd == CMD_HELP) {
		opt_help(stdout);
		return 0;
	}
	if (cli->cmd == CMD_VERSION) {
		printf("mcferry %s (libuv %s)\n", MCFERRY_VERSION,
		       uv_version_string());
		return 0;
	}
	log_set_format((enum log_format)cli->log_format);
	if (cli->verbose)
		log_set_level(LOG_DEBUG);
	else if (cli->quiet)
		log_set_level(LOG_WARN);
	if (cli->stats_json && !cli->stats) {
		fprintf(stderr, "mcferry: --stats-json needs --stats SECONDS\n"
				"Try 'mcferry --help'.\n");
		return EXIT_USAGE;
	}
	/* udpxy -l and -n: the process's log file and priority. */
	if (cli->logfile[0] && !freopen(cli->logfile, "a", stderr)) {
		fprintf(stdout, "mcferry: -l %s: %s\n", cli->logfile,
			strerror(errno));
		return EXIT_USAGE;
	}
	if (cli->nice) {
		errno = 0;
		if (nice((int)cli->nice) == -1 && errno)
			log_warn("-n %u: %s", cli->nice, strerror(errno));
	}
	app->stats_secs = cli->stats;
	app->stats_json = cli->stats_json;
	app->user = cli->user[0] ? cli->user : NULL;
	if (cli->cmd != CMD_RUN) {
		service_add_config(&app->svcs, &app->ctx, &cli->cfg);
		caps_for_config(&cli->cfg, false, &app->keep);
		return -1;
	}
	if (config_load(cli->file, &file, err, sizeof(err)) < 0) {
		fprintf(stderr, "mcferry: %s\n", err);
		return EXIT_USAGE;
	}
	if (cli->check) {
		/* What the file means, on this host: every problem is a
		 * "FILE: line N: reason" line on stderr, and exit 2. */
		size_t bad = check_config(cli->file, &file, stderr);

		if (!bad)
			printf("configuration OK (%zu relays, %zu hubs, "
			       "%zu gateways, %zu http)\n",
			       file.nrelays, file.nhubs, file.ngateways,
			       file.nhttps);
		config_free(&file);
		return bad ? EXIT_USAGE : 0;
	}
	service_add_config(&app->svcs, &app->ctx, &file);
	/* A reload may start services again: keep what they need. */
	caps_for_config(&file, true, &app->keep);
	app->config_path = cli->file;
	config_free(&file);
	return -1;
}

int main(int argc, char **argv)
{
	struct opt_cli cli;
	struct app app = { 0 };
	char err[1024];
	int status;

	signal(SIGPIPE, SIG_IGN);
	/* The control client runs no services: its own small main. */
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc, argv);
	log_init();
	app.ctx.node_id = random_node_id();
	app.ctx.epoch = (uint64_t)time(NULL);
	/* Before any service exists: services register their counters. */
	stats_init(&app.ctx.stats);
	if (opt_cli_parse(argc, argv, &cli, err, sizeof(err)) < 0)
		usage_error(err);
	status = app_setup(&app, &cli);
	config_free(&cli.cfg);
	return status >= 0 ? status : app_run(&app);
}
