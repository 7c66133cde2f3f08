/* check.h - `mcferry run --check`: what a configuration file means, beyond
 * its syntax (config.c has parsed it by then).
 *
 *   - two services that would listen on one port (an http section's
 *     listen and its named channels' listening sources count): the same protocol and
 *     port, and addresses that overlap (equal, or a wildcard that covers
 *     the other; tcp://@:PORT is the dual-stack [::], which covers every
 *     IPv4 and IPv6 address);
 *   - an interface that does not exist (iface= of a udp endpoint, the
 *     iface of a gateway or an http section), looked up now, by name or
 *     by address;
 *   - a unicast address where a multicast group is required (iface= joins
 *     a group, loop= loops multicast back);
 *   - a file that cannot be read (ca=, cert=, key=, crl=, psk-file=), and
 *     a secret (key=, psk-file=) that group or others may read, which the
 *     start would refuse;
 *   - two services on one control socket path (control =), and a
 *     control path whose directory does not exist.
 *
 * Each problem is one line "FILE: line N: reason\n"; every problem of the
 * file is reported, not only the first.
 */
#ifndef MCFERRY_CHECK_H
#define MCFERRY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config.h"

/* One socket a configuration would bind. */
struct check_bind {
	int proto;                    /* IPPROTO_TCP or IPPROTO_UDP */
	struct sockaddr_storage addr; /* address and port */
	int line;                     /* where the file says so */
	char what[96];                /* "relay=a sink", for the message */
};

/* True when a and b cannot both be bound: the same protocol and port, and
 * addresses that overlap. Pure. */
bool check_bind_overlap(const struct check_bind *a, const struct check_bind *b);

/* The port clashes of cfg (loaded from path), one line each to out; the
 * number of problems. Pure but for out. */
size_t check_ports(const char *path, const struct config *cfg, FILE *out);

/* The control = clashes of cfg: one path given to two services. Pure but
 * for out; the number of problems. */
size_t check_controls(const char *path, const struct config *cfg, FILE *out);

/* Every check above, one line per problem to out; the number of problems.
 * Looks at this host's interfaces and files. */
size_t check_config(const char *path, const struct config *cfg, FILE *out);

#endif
