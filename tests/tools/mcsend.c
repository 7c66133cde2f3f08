/* mcsend: paced test-datagram sender (UDP unicast/multicast or raw TCP stream) for mcferry tests. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "mctool.h"

#define MAX_UDP_SIZE 65507
#define MAX_TCP_SIZE (16u * 1024 * 1024)
#define MAX_SIZES 64
#define BURST_NS 2000000.0 /* never catch up more than 2 ms worth in one burst */

struct opts {
    uint64_t count;
    double rate;
    uint32_t sizes[MAX_SIZES];
    size_t nsizes;
    int ttl;
    const char *iface;
    const char *bind_addr;
    uint32_t stream;
    int loop;
    bool tcp;
    bool quiet;
    bool ts;
    double connect_retry;
    const char *target;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mcsend [options] HOST:PORT\n"
        "  HOST is an IPv4 or IPv6 literal; IPv6 may be written [addr]:port\n"
        "options:\n"
        "  --count N          datagrams to send (default 1000, 0 = until SIGINT/SIGTERM)\n"
        "  --rate PPS         datagrams per second (default 1000, 0 = as fast as possible)\n"
        "  --size N           datagram size in bytes (default 1316, minimum 32)\n"
        "  --sizes A,B,C      cycle through these sizes (overrides --size)\n"
        "  --ttl N            multicast TTL / hop limit (default 1)\n"
        "  --iface ADDR|NAME  outgoing multicast interface\n"
        "  --bind ADDR        bind to this local source address\n"
        "  --stream ID        stream id written into every datagram (default 1)\n"
        "  --loop 0|1         IP_MULTICAST_LOOP (default 1)\n"
        "  --tcp              connect over TCP and write datagrams back to back\n"
        "  --connect-retry S  tcp: keep retrying connect for up to S seconds (default 5)\n"
        "  --quiet            no informational messages on stderr\n"
        "  --ts               magic \"GCSF\": the datagram starts with the MPEG-TS sync byte 0x47\n"
        "                     (for relays that drop anything else, such as msd_lite)\n"
        "  --help             this text\n"
        "prints `sent=N bytes=B seconds=S` on stdout when done\n");
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !mctool_stop)
        ;
}

static void sleep_us(unsigned us)
{
    sleep_until(mctool_mono_ns() + (uint64_t)us * 1000u);
}

static double parse_number(const char *opt, const char *s)
{
    return mctool_parse_double(opt, s, 1e12, "non-negative number");
}

static void parse_sizes(struct opts *o, const char *s)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        mctool_usage_error("--sizes: list too long");
    strcpy(buf, s);
    o->nsizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->nsizes == MAX_SIZES)
            mctool_usage_error("--sizes: at most %d sizes", MAX_SIZES);
        o->sizes[o->nsizes++] = (uint32_t)mctool_parse_u64("--sizes", tok, MAX_TCP_SIZE);
    }
    if (o->nsizes == 0)
        mctool_usage_error("--sizes: empty list");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_COUNT = 256, O_RATE, O_SIZE, O_SIZES, O_TTL, O_IFACE, O_BIND, O_STREAM,
           O_LOOP, O_TCP, O_QUIET, O_RETRY, O_TS, O_HELP };
    static const struct option lo[] = {
        { "count", required_argument, NULL, O_COUNT },
        { "rate", required_argument, NULL, O_RATE },
        { "size", required_argument, NULL, O_SIZE },
        { "sizes", required_argument, NULL, O_SIZES },
        { "ttl", required_argument, NULL, O_TTL },
        { "iface", required_argument, NULL, O_IFACE },
        { "bind", required_argument, NULL, O_BIND },
        { "stream", required_argument, NULL, O_STREAM },
        { "loop", required_argument, NULL, O_LOOP },
        { "tcp", no_argument, NULL, O_TCP },
        { "quiet", no_argument, NULL, O_QUIET },
        { "ts", no_argument, NULL, O_TS },
        { "connect-retry", required_argument, NULL, O_RETRY },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->count = 1000;
    o->rate = 1000;
    o->sizes[0] = 1316;
    o->nsizes = 1;
    o->ttl = 1;
    o->stream = 1;
    o->loop = 1;
    o->connect_retry = 5;
    bool have_sizes = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        switch (c) {
        case O_COUNT: o->count = mctool_parse_u64("--count", optarg, UINT64_MAX); break;
        case O_RATE: o->rate = parse_number("--rate", optarg); break;
        case O_SIZE:
            if (!have_sizes) {
                o->sizes[0] = (uint32_t)mctool_parse_u64("--size", optarg, MAX_TCP_SIZE);
                o->nsizes = 1;
            }
            break;
        case O_SIZES: have_sizes = true; parse_sizes(o, optarg); break;
        case O_TTL: o->ttl = (int)mctool_parse_u64("--ttl", optarg, 255); break;
        case O_IFACE: o->iface = optarg; break;
        case O_BIND: o->bind_addr = optarg; break;
        case O_STREAM: o->stream = (uint32_t)mctool_parse_u64("--stream", optarg, UINT32_MAX); break;
        case O_LOOP: o->loop = (int)mctool_parse_u64("--loop", optarg, 1); break;
        case O_TCP: o->tcp = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_TS: o->ts = true; break;
        case O_RETRY: o->connect_retry = parse_number("--connect-retry", optarg); break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default:
            if (optopt)
                mctool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
            mctool_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
    {
        if (optind >= argc)
            mctool_usage_error("missing HOST:PORT");
        mctool_usage_error("too many arguments");
    }
    o->target = argv[optind];
    for (size_t i = 0; i < o->nsizes; i++) {
        if (o->sizes[i] < MCSF_MIN_SIZE)
            mctool_usage_error("datagram size %u is too small (minimum %d)", o->sizes[i], MCSF_MIN_SIZE);
        if (!o->tcp && o->sizes[i] > MAX_UDP_SIZE)
            mctool_usage_error("datagram size %u is too large for UDP (maximum %d)", o->sizes[i], MAX_UDP_SIZE);
    }
}

static int open_udp(const struct opts *o, const struct sockaddr_storage *dst)
{
    int fam = dst->ss_family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        mctool_die("socket: %s", strerror(errno));
    int sndbuf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int ttl = o->ttl, loop = o->loop;
    if (fam == AF_INET) {
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
            mctool_die("IP_MULTICAST_TTL: %s", strerror(errno));
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
            mctool_die("IP_MULTICAST_LOOP: %s", strerror(errno));
    } else {
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl) != 0)
            mctool_die("IPV6_MULTICAST_HOPS: %s", strerror(errno));
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) != 0)
            mctool_die("IPV6_MULTICAST_LOOP: %s", strerror(errno));
    }
    if (o->iface) {
        struct in_addr a4;
        bool have4;
        unsigned idx = mctool_resolve_iface(o->iface, &a4, &have4);
        if (fam == AF_INET) {
            struct ip_mreqn mr;
            memset(&mr, 0, sizeof mr);
            mr.imr_ifindex = (int)idx;
            if (have4)
                mr.imr_address = a4;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) != 0)
                mctool_die("IP_MULTICAST_IF %s: %s", o->iface, strerror(errno));
        } else {
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0)
                mctool_die("IPV6_MULTICAST_IF %s: %s", o->iface, strerror(errno));
        }
    }
    return fd;
}

static void do_bind(int fd, const struct opts *o, int fam)
{
    struct sockaddr_storage ba;
    socklen_t blen;
    if (!o->bind_addr)
        return;
    if (mctool_parse_addr(o->bind_addr, &ba, &blen) != 0)
        mctool_usage_error("--bind: '%s' is not an IP address", o->bind_addr);
    if (ba.ss_family != fam)
        mctool_usage_error("--bind %s: address family does not match %s", o->bind_addr, o->target);
    if (bind(fd, (struct sockaddr *)&ba, blen) != 0)
        mctool_die("bind %s: %s", o->bind_addr, strerror(errno));
}

static int open_tcp(const struct opts *o, const struct sockaddr_storage *dst, socklen_t dlen)
{
    uint64_t deadline = mctool_mono_ns() + (uint64_t)(o->connect_retry * 1e9);
    for (;;) {
        int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            mctool_die("socket: %s", strerror(errno));
        do_bind(fd, o, dst->ss_family);
        if (connect(fd, (const struct sockaddr *)dst, dlen) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        int err = errno;
        close(fd);
        if (mctool_stop)
            exit(1);
        if ((err != ECONNREFUSED && err != ETIMEDOUT && err != EINTR && err != ENETUNREACH &&
             err != EHOSTUNREACH && err != ECONNRESET) || mctool_mono_ns() >= deadline)
            mctool_die("connect %s: %s", o->target, strerror(err));
        sleep_us(100000);
    }
}

/* Send one whole datagram; retry on ENOBUFS/EAGAIN. Returns false on fatal error. */
static bool send_one(int fd, bool tcp, const uint8_t *buf, size_t len,
                     const struct sockaddr_storage *dst, socklen_t dlen, const char *target)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n;
        if (tcp)
            n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        else
            n = sendto(fd, buf, len, 0, (const struct sockaddr *)dst, dlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK) {
                sleep_us(50);
                continue;
            }
            fprintf(stderr, "mcsend: send to %s: %s\n", target, strerror(errno));
            return false;
        }
        if (!tcp)
            return true;
        off += (size_t)n;
    }
    return true;
}

int main(int argc, char **argv)
{
    struct opts o;
    mctool_init("mcsend", "usage: mcsend [options] HOST:PORT   (mcsend --help for details)\n");
    parse_args(argc, argv, &o);

    struct sockaddr_storage dst;
    socklen_t dlen;
    if (mctool_parse_hostport(o.target, &dst, &dlen) != 0)
        mctool_usage_error("bad destination '%s' (expected IPv4:PORT or [IPv6]:PORT)", o.target);

    mctool_catch_signals();
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    int fd;
    if (o.tcp) {
        fd = open_tcp(&o, &dst, dlen);
    } else {
        fd = open_udp(&o, &dst);
        do_bind(fd, &o, dst.ss_family);
    }

    uint32_t maxsize = 0;
    for (size_t i = 0; i < o.nsizes; i++)
        if (o.sizes[i] > maxsize)
            maxsize = o.sizes[i];
    uint8_t *buf = malloc(maxsize);
    if (!buf)
        mctool_die("out of memory");
    uint8_t *pat = mctool_pattern_new(maxsize);

    if (!o.quiet)
        fprintf(stderr, "mcsend: %s %s count=%llu rate=%g stream=%u\n", o.tcp ? "tcp" : "udp",
                o.target, (unsigned long long)o.count, o.rate, o.stream);

    const double ns_per = o.rate > 0 ? 1e9 / o.rate : 0;
    uint64_t max_burst = o.rate > 0 ? (uint64_t)(o.rate * BURST_NS / 1e9) : 0;
    if (max_burst < 1)
        max_burst = 1;
    uint64_t seq = 0, bytes = 0;
    int rc = 0;
    const uint64_t t0 = mctool_mono_ns();
    double start = (double)t0;     /* schedule origin: datagram k is due at start + k*ns_per */
    uint64_t tend = t0;

    while (!mctool_stop && (o.count == 0 || seq < o.count)) {
        uint64_t n = 64;
        if (o.rate > 0) {
            uint64_t now = mctool_mono_ns();
            double el = (double)now - start;
            uint64_t due = el < 0 ? 0 : (uint64_t)(el / ns_per) + 1;
            if (due <= seq) {
                sleep_until((uint64_t)(start + (double)seq * ns_per));
                continue;
            }
            if (due - seq > max_burst) {
                /* Fell behind (stall); shift the schedule to keep bursts short. */
                start = (double)now - (double)(seq + max_burst - 1) * ns_per;
                due = seq + max_burst;
            }
            n = due - seq;
        }
        if (o.count && n > o.count - seq)
            n = o.count - seq;
        for (uint64_t k = 0; k < n && !mctool_stop; k++, seq++) {
            uint32_t size = o.sizes[seq % o.nsizes];
            mctool_hdr_put(buf, o.ts ? MCSF_MAGIC_TS : MCSF_MAGIC, o.stream, seq, size);
            memcpy(buf + MCSF_HDR_SIZE, mctool_payload(pat, seq), size - MCSF_HDR_SIZE);
            mctool_hdr_stamp(buf, mctool_mono_ns());
            if (!send_one(fd, o.tcp, buf, size, &dst, dlen, o.target)) {
                rc = 1;
                goto out;
            }
            bytes += size;
        }
    }
out:
    tend = mctool_mono_ns();
    if (o.tcp)
        shutdown(fd, SHUT_WR);
    close(fd);
    printf("sent=%llu bytes=%llu seconds=%.3f\n", (unsigned long long)seq,
           (unsigned long long)bytes, (double)(tend - t0) / 1e9);
    fflush(stdout);
    free(buf);
    free(pat);
    return rc;
}
