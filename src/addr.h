/* addr.h - socket-address helpers (pure: no sockets, no name lookups).
 * Every module that parses, prints or measures a sockaddr uses these. */
#ifndef MCFERRY_ADDR_H
#define MCFERRY_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parse a numeric IPv4 or IPv6 address (no brackets) with a port into ss.
 * Returns true on success; ss is zeroed either way. */
bool addr_parse(const char *s, uint16_t port, struct sockaddr_storage *ss);
/* True when the address is an IPv4 or IPv6 multicast group. */
bool addr_is_multicast(const struct sockaddr_storage *ss);
/* Format an address and port as "a.b.c.d:p" or "[v6]:p" (v4-mapped IPv6
 * shown as IPv4); "?" for any other family. */
void addr_format(const struct sockaddr *sa, char *buf, size_t len);
/* The length to pass to bind/connect/sendto for this family. */
socklen_t addr_len(const struct sockaddr_storage *ss);
/* The port (host order) of an AF_INET or AF_INET6 address, else 0. */
uint16_t addr_port(const struct sockaddr_storage *ss);
/* Set the port of an AF_INET or AF_INET6 address. */
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);

#endif
