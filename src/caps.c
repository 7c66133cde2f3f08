/* caps.c - least privilege after --user (caps.h): the capabilities a
 * configuration still needs, and the switch that keeps only those.
 *
 * No libcap: two raw syscalls (capget/capset, version 3) and prctl do
 * all of it, and the package needs no new build dependency. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "channel.h"

#define BIT(c) (1ull << (c))

/* Keep cap, saying why ("CAP_X for WHY"); the first reason is enough. */
static void why_add(struct caps_keep *k, int cap, const char *why)
{
	size_t len = strlen(k->why);
	char cname[32];

	if (k->set & BIT(cap))
		return;
	k->set |= BIT(cap);
	caps_format(BIT(cap), cname, sizeof(cname));
	snprintf(k->why + len, sizeof(k->why) - len, "%s%s for %s",
		 len ? ", " : "", cname, why);
}

static void why_port(struct caps_keep *k, const char *role, unsigned port)
{
	char why[64];

	snprintf(why, sizeof(why), "%s port %u", role, port);
	why_add(k, CAP_NET_BIND_SERVICE, why);
}

static void caps_for_uri(const struct uri *u, const char *role,
			 struct caps_keep *k)
{
	if (u->local && u->port < 1024)
		why_port(k, role, u->port);
}

void caps_for_config(const struct config *cfg, bool reloadable,
		     struct caps_keep *k)
{
	memset(k, 0, sizeof(*k));
	if (!reloadable) {
		snprintf(k->why, sizeof(k->why), "none (every socket is open; "
			 "SIGHUP only re-reads files)");
		return;
	}
	for (size_t i = 0; i < cfg->ngateways; i++) {
		const struct gateway_spec *s = &cfg->gateways[i].spec;

		char why[96];

		for (size_t j = 0; j < s->nchans; j++)
			if (s->chans[j].do_import &&
			    channel_is_ssm(&s->chans[j].local)) {
				snprintf(why, sizeof(why),
					 "ssm re-emission (gateway=%s)", s->name);
				why_add(k, CAP_NET_ADMIN, why);
			}
	}
	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct config_relay *r = &cfg->relays[i];

		if (r->has_source)
			caps_for_uri(&r->source, "relay", k);
		for (size_t j = 0; j < r->nsinks; j++)
			caps_for_uri(&r->sinks[j], "relay", k);
	}
	for (size_t i = 0; i < cfg->nhubs; i++)
		for (size_t j = 0; j < cfg->hubs[i].nlisten; j++)
			caps_for_uri(&cfg->hubs[i].listen[j], "hub", k);
	for (size_t i = 0; i < cfg->nhttps; i++) {
		const char *colon = strrchr(cfg->https[i].conf.listen, ':');
		unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;

		if (port && port < 1024)
			why_port(k, "http", (unsigned)port);
	}
	if (!k->set)
		snprintf(k->why, sizeof(k->why), "none (no service of the file "
			 "needs one to start again)");
}

/* Only the capabilities this code can name: what caps_for_config keeps. */
static const struct {
	int cap;
	const char *name;
} cap_names[] = {
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE" },
	{ CAP_NET_RAW, "CAP_NET_RAW" },
};

void caps_format(uint64_t set, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (set & BIT(cap_names[i].cap) && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "," : "",
						 cap_names[i].name);
	if (!buf[0])
		snprintf(buf, len, "none");
}

int caps_switch_user(const char *user, uid_t uid, gid_t gid, uint64_t keep,
		     const char **step)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	/* The bounding set first, while CAP_SETPCAP is still ours: nothing
	 * this process runs can gain what it does not keep. */
	*step = "capbset";
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (!(keep & BIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return -errno;
	*step = "keepcaps";
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	*step = "initgroups";
	if (initgroups(user, gid) < 0)
		return -errno;
	*step = "setgid";
	if (setgid(gid) < 0)
		return -errno;
	*step = "setuid";
	if (setuid(uid) < 0)
		return -errno;
	/* setuid kept the permitted set (KEEPCAPS) and emptied the
	 * effective one: permitted and effective become exactly keep. */
	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	*step = "capset";
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	*step = "keepcaps";
	if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	*step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
