/* emitter.h - the emitter filter: the (family, address, port) sources an
 * island's gateways re-multicast from, so that a gateway does not export
 * again what it or another gateway of its island emitted. Pure.
 *
 * A bounded set with O(1) membership: a dense array of the members in the
 * order added (what an EMITTERS frame carries) and an open-addressing index
 * of slot numbers into it, at most half full.
 */
#ifndef MCFERRY_EMITTER_H
#define MCFERRY_EMITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frame.h"

struct emitter_set {
	struct frame_emitter *items; /* max members, in the order added */
	size_t n, max;
	uint32_t *index;             /* item index + 1, 0: empty slot */
	size_t nindex;               /* a power of two >= 2 * max */
};

/* Fill e from an AF_INET or AF_INET6 address (an IPv4-mapped IPv6 address
 * becomes family 4). Returns 0 or -EAFNOSUPPORT. */
int emitter_from_sockaddr(const struct sockaddr_storage *ss,
			  struct frame_emitter *e);
/* Set up an empty set of at most max (< 2^30) members. */
void emitter_init(struct emitter_set *s, size_t max);
/* Free the set's memory. */
void emitter_exit(struct emitter_set *s);
/* Add e (only the family's address bytes count): returns 0 when added,
 * -EEXIST when it was a member, -ENOSPC when full, -EINVAL when the
 * family is neither 4 nor 6. */
int emitter_add(struct emitter_set *s, const struct frame_emitter *e);
/* True when e is a member. O(1). */
bool emitter_has(const struct emitter_set *s, const struct frame_emitter *e);
/* Remove every member. */
void emitter_clear(struct emitter_set *s);
/* The members in the order added, *n of them (normalized: an IPv4
 * member's address bytes 4 ... 15 are zero). */
const struct frame_emitter *emitter_list(const struct emitter_set *s,
					 size_t *n);

#endif
