/* caps.h - least privilege after --user: which capabilities a process
 * still needs once every socket of its configuration is open, and the
 * switch to an unprivileged user that keeps exactly those.
 *
 * What needs a capability, and when (mcferry(1), --user):
 *   CAP_NET_ADMIN         IP_TRANSPARENT on an SSM gateway's re-emission
 *                         socket (sending from the source's address), and
 *                         SO_RCVBUFFORCE/SO_SNDBUFFORCE (these fall back to
 *                         the plain options, capped by net.core.*mem_max)
 *   CAP_NET_BIND_SERVICE  binding a port below 1024
 * Every one of these happens when a service starts. The command-line
 * roles never start a service again (SIGHUP re-reads files only), so they
 * keep nothing; `mcferry run FILE` starts the services a reload changed,
 * so it keeps what the file's services need to start again.
 */
#ifndef MCFERRY_CAPS_H
#define MCFERRY_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* A set of capabilities, bit n = capability n of linux/capability.h. */
struct caps_keep {
	uint64_t set;
	char why[256];  /* "CAP_NET_ADMIN for ssm re-emission (gateway=g)",
			 * or "none (...)" */
};

/* What the services of cfg need after the switch: nothing unless
 * reloadable (a SIGHUP may start them again), else CAP_NET_ADMIN for a
 * gateway that imports an SSM channel and CAP_NET_BIND_SERVICE for a
 * listening or bound endpoint on a port below 1024. why says so, also
 * when nothing is kept. */
void caps_for_config(const struct config *cfg, bool reloadable,
		     struct caps_keep *k);

/* Switch to uid/gid with the supplementary groups of user, keeping the
 * capabilities of keep (permitted and effective; the bounding set is
 * cut down to them, and no_new_privs is set). The calling thread keeps
 * them; other threads end with none. 0, or a negative errno with the
 * failing step in *step ("initgroups", "setuid", "capset", ...). */
int caps_switch_user(const char *user, uid_t uid, gid_t gid, uint64_t keep,
		     const char **step);

/* The names of set, comma separated, or "none". */
void caps_format(uint64_t set, char *buf, size_t len);

#endif
