/* channel.h - a multicast channel: group, port and, for SSM, a source.
 * Text forms "G:P", "S@G:P", "[v6]:P", "[S6]@[G6]:P"; a wire form used in
 * the link protocol's data and interest frames. Pure. */
#ifndef MCFERRY_CHANNEL_H
#define MCFERRY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Wire form, 4 + 2 * address bytes:
 *
 *   +--------+--------+----------------+
 *   | family | flags  |   group port   |
 *   +--------+--------+----------------+
 *   | group address (4 or 16 bytes)    |
 *   | source address (4 or 16 bytes; all zero for ASM) |
 */
#define CHANNEL_WIRE_MAX (4 + 32)
#define CHANNEL_TEXT_MAX 112

struct channel {
	uint8_t family;       /* 4 or 6 */
	uint16_t port;
	uint8_t group[16];
	uint8_t source[16];   /* zero: any source */
};

/* Parse "G:P" or "S@G:P" (IPv6 in brackets). Returns 0 or -EINVAL with a
 * reason in err. The group must be multicast. */
int channel_parse(const char *text, struct channel *ch, char *err,
		  size_t errlen);
/* Format as channel_parse reads it. */
void channel_format(const struct channel *ch, char *buf, size_t len);
/* True when ch names a source (SSM). */
bool channel_is_ssm(const struct channel *ch);
bool channel_equal(const struct channel *a, const struct channel *b);
/* Bytes of the wire form of a channel of this family. */
size_t channel_wire_len(uint8_t family);
/* Encode; returns the bytes written (cap must be >= channel_wire_len). */
size_t channel_encode(const struct channel *ch, uint8_t *p);
/* Decode from n bytes; returns the bytes used, or -EBADMSG. */
int channel_decode(struct channel *ch, const uint8_t *p, size_t n);
/* The group (and port) as a socket address. */
void channel_group_addr(const struct channel *ch, struct sockaddr_storage *ss);
/* The source (port given) as a socket address. */
void channel_source_addr(const struct channel *ch, uint16_t port,
			 struct sockaddr_storage *ss);

#endif
