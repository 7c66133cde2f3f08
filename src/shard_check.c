/* shard_check.c - can a relay run as shards? (pure; the config parser
 * calls it too, so it lives apart from the threads in shard.c) */
#include <errno.h>
#include <stdio.h>

#include "shard.h"

int shard_check(const struct uri *src, const struct uri *sinks, size_t n,
		char *err, size_t errlen)
{
	if (src->scheme != URI_UDP || !addr_is_multicast(&src->addr)) {
		snprintf(err, errlen,
			 "workers need a multicast group source, not '%s'",
			 src->text);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (sinks[i].scheme != URI_TCP || !sinks[i].local) {
			snprintf(err, errlen,
				 "workers need listening tcp sinks only, not '%s' "
				 "(it would get every datagram once per worker)",
				 sinks[i].text);
			return -EINVAL;
		}
	}
	return 0;
}
