/* mcsend: paced test-datagram sender (UDP unicast/multicast or raw TCP stream) for mcferry tests. */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
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

#define MCSF_MAGIC 0x4D435346u
#define HDR_SIZE 28
#define MIN_SIZE 32
#define MAX_UDP_SIZE 65507
#define MAX_TCP_SIZE (16u * 1024 * 1024)
#define MAX_SIZES 64
#define BURST_NS 2000000.0 /* never catch up more than 2 ms worth in one burst */

static volatile sig_atomic_t g_stop;

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
        "  --help             this text\n"
        "prints `sent=N bytes=B seconds=S` on stdout when done\n");
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcsend: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcsend: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs("usage: mcsend [options] HOST:PORT   (mcsend --help for details)\n", stderr);
    exit(2);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop)
        ;
}

static void sleep_us(unsigned us)
{
    sleep_until(mono_ns() + (uint64_t)us * 1000u);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t max)
{
    char *end;
    if (*s == '\0' || *s == '-' || *s == '+')
        usage_error("%s: expected a non-negative integer, got '%s'", opt, s);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v > max)
        usage_error("%s: bad value '%s' (integer 0..%llu)", opt, s, (unsigned long long)max);
    return v;
}

static double parse_double(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0) || v > 1e12)
        usage_error("%s: bad value '%s' (non-negative number)", opt, s);
    return v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* Parse a numeric IPv4/IPv6 literal (optionally in brackets, optionally with
 * %scope) plus a port into *ss. Returns 0 or -1. */
static int parse_ip(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* "1.2.3.4:5", "[ff15::1]:5", "ff15::1:5" (last colon splits). */
static int parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        port = rb + 2;
    } else {
        const char *c = strrchr(s, ':');
        if (!c || (size_t)(c - s) >= sizeof host)
            return -1;
        memcpy(host, s, (size_t)(c - s));
        host[c - s] = '\0';
        port = c + 1;
    }
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
        return -1;
    if (host[0] == '\0')
        strcpy(host, "0.0.0.0");
    return parse_ip(host, port, ss, len);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    size_t n = strlen(s);
    if (n >= sizeof host)
        return -1;
    if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
        memcpy(host, s + 1, n - 2);
        host[n - 2] = '\0';
    } else {
        memcpy(host, s, n + 1);
    }
    return parse_ip(host, "0", ss, len);
}

/* Resolve an interface given as a name or as one of its addresses.
 * Sets *ifindex (0 if unknown) and, if the text was an IPv4 address, *v4. */
static void resolve_iface(const char *s, unsigned *ifindex, struct in_addr *v4, bool *have_v4)
{
    struct sockaddr_storage ss;
    socklen_t len;
    *ifindex = 0;
    *have_v4 = false;
    if (parse_addr(s, &ss, &len) == 0) {
        struct ifaddrs *ifa, *i;
        if (ss.ss_family == AF_INET) {
            *v4 = ((struct sockaddr_in *)&ss)->sin_addr;
            *have_v4 = true;
        }
        if (getifaddrs(&ifa) != 0)
            die("getifaddrs: %s", strerror(errno));
        for (i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != ss.ss_family)
                continue;
            if (ss.ss_family == AF_INET &&
                ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == v4->s_addr)
                break;
            if (ss.ss_family == AF_INET6 &&
                memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                       &((struct sockaddr_in6 *)&ss)->sin6_addr, 16) == 0)
                break;
        }
        if (i)
            *ifindex = if_nametoindex(i->ifa_name);
        freeifaddrs(ifa);
        if (*ifindex == 0)
            die("--iface %s: no local interface has this address", s);
        return;
    }
    *ifindex = if_nametoindex(s);
    if (*ifindex == 0)
        die("--iface %s: unknown interface", s);
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void parse_sizes(struct opts *o, const char *s)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        usage_error("--sizes: list too long");
    strcpy(buf, s);
    o->nsizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->nsizes == MAX_SIZES)
            usage_error("--sizes: at most %d sizes", MAX_SIZES);
        o->sizes[o->nsizes++] = (uint32_t)parse_u64("--sizes", tok, MAX_TCP_SIZE);
    }
    if (o->nsizes == 0)
        usage_error("--sizes: empty list");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_COUNT = 256, O_RATE, O_SIZE, O_SIZES, O_TTL, O_IFACE, O_BIND, O_STREAM,
           O_LOOP, O_TCP, O_QUIET, O_RETRY, O_HELP };
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
        case O_COUNT: o->count = parse_u64("--count", optarg, UINT64_MAX); break;
        case O_RATE: o->rate = parse_double("--rate", optarg); break;
        case O_SIZE:
            if (!have_sizes) {
                o->sizes[0] = (uint32_t)parse_u64("--size", optarg, MAX_TCP_SIZE);
                o->nsizes = 1;
            }
            break;
        case O_SIZES: have_sizes = true; parse_sizes(o, optarg); break;
        case O_TTL: o->ttl = (int)parse_u64("--ttl", optarg, 255); break;
        case O_IFACE: o->iface = optarg; break;
        case O_BIND: o->bind_addr = optarg; break;
        case O_STREAM: o->stream = (uint32_t)parse_u64("--stream", optarg, UINT32_MAX); break;
        case O_LOOP: o->loop = (int)parse_u64("--loop", optarg, 1); break;
        case O_TCP: o->tcp = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_RETRY: o->connect_retry = parse_double("--connect-retry", optarg); break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default:
            if (optopt)
                usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
    {
        if (optind >= argc)
            usage_error("missing HOST:PORT");
        usage_error("too many arguments");
    }
    o->target = argv[optind];
    for (size_t i = 0; i < o->nsizes; i++) {
        if (o->sizes[i] < MIN_SIZE)
            usage_error("datagram size %u is too small (minimum %d)", o->sizes[i], MIN_SIZE);
        if (!o->tcp && o->sizes[i] > MAX_UDP_SIZE)
            usage_error("datagram size %u is too large for UDP (maximum %d)", o->sizes[i], MAX_UDP_SIZE);
    }
}

static int open_udp(const struct opts *o, const struct sockaddr_storage *dst)
{
    int fam = dst->ss_family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int sndbuf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int ttl = o->ttl, loop = o->loop;
    if (fam == AF_INET) {
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
            die("IP_MULTICAST_TTL: %s", strerror(errno));
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
            die("IP_MULTICAST_LOOP: %s", strerror(errno));
    } else {
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl) != 0)
            die("IPV6_MULTICAST_HOPS: %s", strerror(errno));
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) != 0)
            die("IPV6_MULTICAST_LOOP: %s", strerror(errno));
    }
    if (o->iface) {
        unsigned idx;
        struct in_addr a4;
        bool have4;
        resolve_iface(o->iface, &idx, &a4, &have4);
        if (fam == AF_INET) {
            struct ip_mreqn mr;
            memset(&mr, 0, sizeof mr);
            mr.imr_ifindex = (int)idx;
            if (have4)
                mr.imr_address = a4;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) != 0)
                die("IP_MULTICAST_IF %s: %s", o->iface, strerror(errno));
        } else {
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0)
                die("IPV6_MULTICAST_IF %s: %s", o->iface, strerror(errno));
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
    if (parse_addr(o->bind_addr, &ba, &blen) != 0)
        usage_error("--bind: '%s' is not an IP address", o->bind_addr);
    if (ba.ss_family != fam)
        usage_error("--bind %s: address family does not match %s", o->bind_addr, o->target);
    if (bind(fd, (struct sockaddr *)&ba, blen) != 0)
        die("bind %s: %s", o->bind_addr, strerror(errno));
}

static int open_tcp(const struct opts *o, const struct sockaddr_storage *dst, socklen_t dlen)
{
    uint64_t deadline = mono_ns() + (uint64_t)(o->connect_retry * 1e9);
    for (;;) {
        int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        do_bind(fd, o, dst->ss_family);
        if (connect(fd, (const struct sockaddr *)dst, dlen) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        int err = errno;
        close(fd);
        if (g_stop)
            exit(1);
        if ((err != ECONNREFUSED && err != ETIMEDOUT && err != EINTR && err != ENETUNREACH &&
             err != EHOSTUNREACH && err != ECONNRESET) || mono_ns() >= deadline)
            die("connect %s: %s", o->target, strerror(err));
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
    parse_args(argc, argv, &o);

    struct sockaddr_storage dst;
    socklen_t dlen;
    if (parse_hostport(o.target, &dst, &dlen) != 0)
        usage_error("bad destination '%s' (expected IPv4:PORT or [IPv6]:PORT)", o.target);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
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
    uint8_t *pat = malloc((size_t)maxsize + 256);
    if (!buf || !pat)
        die("out of memory");
    for (size_t i = 0; i < (size_t)maxsize + 256; i++)
        pat[i] = (uint8_t)i;

    if (!o.quiet)
        fprintf(stderr, "mcsend: %s %s count=%llu rate=%g stream=%u\n", o.tcp ? "tcp" : "udp",
                o.target, (unsigned long long)o.count, o.rate, o.stream);

    const double ns_per = o.rate > 0 ? 1e9 / o.rate : 0;
    uint64_t max_burst = o.rate > 0 ? (uint64_t)(o.rate * BURST_NS / 1e9) : 0;
    if (max_burst < 1)
        max_burst = 1;
    uint64_t seq = 0, bytes = 0;
    int rc = 0;
    const uint64_t t0 = mono_ns();
    double start = (double)t0;     /* schedule origin: datagram k is due at start + k*ns_per */
    uint64_t tend = t0;

    while (!g_stop && (o.count == 0 || seq < o.count)) {
        uint64_t n = 64;
        if (o.rate > 0) {
            uint64_t now = mono_ns();
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
        for (uint64_t k = 0; k < n && !g_stop; k++, seq++) {
            uint32_t size = o.sizes[seq % o.nsizes];
            put_be32(buf, MCSF_MAGIC);
            put_be32(buf + 4, o.stream);
            put_be64(buf + 8, seq);
            put_be32(buf + 24, size);
            memcpy(buf + HDR_SIZE, pat + (((uint32_t)(seq * 131u) + HDR_SIZE) & 0xff), size - HDR_SIZE);
            put_be64(buf + 16, mono_ns());
            if (!send_one(fd, o.tcp, buf, size, &dst, dlen, o.target)) {
                rc = 1;
                goto out;
            }
            bytes += size;
        }
    }
out:
    tend = mono_ns();
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
