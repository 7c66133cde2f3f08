/* mctool: code shared by the mcferry test tools mcsend and mcrecv: error exits
 * prefixed with the tool's name, option-value parsing, IPv4/IPv6 address and
 * interface lookup, the SIGINT/SIGTERM stop flag, the monotonic clock, and the
 * MCSF test-datagram format (header layout and payload pattern).
 *
 * MCSF datagram (all integers big-endian):
 *   0 magic "MCSF" | 4 stream id | 8 sequence number | 16 send time (CLOCK_MONOTONIC ns)
 *   | 24 datagram size | 28 payload: pattern bytes, starting at an offset that depends on seq
 * The magic is "GCSF" instead when mcsend runs with --ts: its first byte is 0x47, the MPEG-TS
 * sync byte, which relays built for MPEG-TS (msd_lite) want before they pass a datagram on. */
#ifndef MCTOOL_H
#define MCTOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MCSF_MAGIC 0x4D435346u
#define MCSF_MAGIC_TS 0x47435346u
#define MCSF_HDR_SIZE 28
#define MCSF_MIN_SIZE 32

/* Set by the handler mctool_catch_signals installs once SIGINT or SIGTERM arrives. */
extern volatile sig_atomic_t mctool_stop;

/* Name the tool (the "NAME: " prefix of every message) and the one-line usage hint mctool_usage_error prints; call first. */
void mctool_init(const char *prog, const char *usage_hint);

/* Print "NAME: <message>" on stderr and exit with status 1. */
__attribute__((format(printf, 1, 2), noreturn))
void mctool_die(const char *fmt, ...);

/* Print "NAME: <message>" and the usage hint on stderr and exit with status 2. */
__attribute__((format(printf, 1, 2), noreturn))
void mctool_usage_error(const char *fmt, ...);

/* Make SIGINT and SIGTERM set mctool_stop (without SA_RESTART) and ignore SIGPIPE. */
void mctool_catch_signals(void);

/* Current CLOCK_MONOTONIC time in nanoseconds. */
uint64_t mctool_mono_ns(void);

/* Value of option opt's decimal argument s, which must lie in 0..max; a usage error otherwise. */
uint64_t mctool_parse_u64(const char *opt, const char *s, uint64_t max);

/* Value of option opt's argument s, a number in 0..max; otherwise a usage error
 * "opt: bad value 's' (what)". */
double mctool_parse_double(const char *opt, const char *s, double max, const char *what);

/* Parse "1.2.3.4:5", "[ff15::1]:5" or "ff15::1:5" (the last colon splits; an empty
 * host is 0.0.0.0; numeric hosts only, %scope allowed) into *ss and *len; returns 0 or -1. */
int mctool_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Parse a numeric IPv4 or IPv6 address, optionally in brackets, with port 0 into *ss and *len; returns 0 or -1. */
int mctool_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Index of the interface named s or owning address s (dies if there is none); when s is
 * an IPv4 address and v4/have_v4 are not NULL, also stores it in *v4 and sets *have_v4. */
unsigned mctool_resolve_iface(const char *s, struct in_addr *v4, bool *have_v4);

/* A new malloc'd payload pattern that serves datagrams of up to max_size bytes (dies when out of memory). */
uint8_t *mctool_pattern_new(size_t max_size);

/* The payload bytes a datagram with sequence number seq carries, inside a pattern from mctool_pattern_new. */
static inline const uint8_t *mctool_payload(const uint8_t *pat, uint64_t seq)
{
    return pat + (((uint32_t)(seq * 131u) + MCSF_HDR_SIZE) & 0xff);
}

/* Store v big-endian at p[0..3]. */
static inline void mctool_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

/* Store v big-endian at p[0..7]. */
static inline void mctool_put_be64(uint8_t *p, uint64_t v)
{
    mctool_put_be32(p, (uint32_t)(v >> 32));
    mctool_put_be32(p + 4, (uint32_t)v);
}

/* The big-endian 32-bit value at p[0..3]. */
static inline uint32_t mctool_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The big-endian 64-bit value at p[0..7]. */
static inline uint64_t mctool_get_be64(const uint8_t *p)
{
    return (uint64_t)mctool_get_be32(p) << 32 | mctool_get_be32(p + 4);
}

/* Write the MCSF header (magic MCSF_MAGIC or MCSF_MAGIC_TS) of a size-byte datagram except its
 * send time (see mctool_hdr_stamp). */
static inline void mctool_hdr_put(uint8_t *buf, uint32_t magic, uint32_t stream, uint64_t seq,
                                  uint32_t size)
{
    mctool_put_be32(buf, magic);
    mctool_put_be32(buf + 4, stream);
    mctool_put_be64(buf + 8, seq);
    mctool_put_be32(buf + 24, size);
}

/* Write the send time ns into the MCSF header at buf. */
static inline void mctool_hdr_stamp(uint8_t *buf, uint64_t ns)
{
    mctool_put_be64(buf + 16, ns);
}

/* Read the header of the len-byte datagram p into *stream, *seq and *sent; false (outputs
 * untouched) unless len >= MCSF_MIN_SIZE, the magic is either MCSF magic and the size field equals len. */
static inline bool mctool_hdr_get(const uint8_t *p, size_t len, uint32_t *stream, uint64_t *seq,
                                  uint64_t *sent)
{
    if (len < MCSF_MIN_SIZE || mctool_get_be32(p + 24) != len)
        return false;
    if (mctool_get_be32(p) != MCSF_MAGIC && mctool_get_be32(p) != MCSF_MAGIC_TS)
        return false;
    *stream = mctool_get_be32(p + 4);
    *seq = mctool_get_be64(p + 8);
    *sent = mctool_get_be64(p + 16);
    return true;
}

#endif
