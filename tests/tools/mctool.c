/* mctool: helpers shared by the test tools mcsend and mcrecv (see mctool.h). */
#include "mctool.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t mctool_stop;

static const char *g_prog = "mctool";
static const char *g_usage_hint = "";

void mctool_init(const char *prog, const char *usage_hint)
{
    g_prog = prog;
    g_usage_hint = usage_hint;
}

/* "NAME: <message>\n" on stderr. */
static void vmessage(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

static void vmessage(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", g_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void mctool_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    exit(1);
}

void mctool_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fputs(g_usage_hint, stderr);
    exit(2);
}

static void on_signal(int sig)
{
    (void)sig;
    mctool_stop = 1;
}

void mctool_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

uint64_t mctool_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mctool_parse_u64(const char *opt, const char *s, uint64_t max)
{
    char *end;
    if (*s == '\0' || *s == '-' || *s == '+')
        mctool_usage_error("%s: expected a non-negative integer, got '%s'", opt, s);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v > max)
        mctool_usage_error("%s: bad value '%s' (integer 0..%llu)", opt, s, (unsigned long long)max);
    return v;
}

double mctool_parse_double(const char *opt, const char *s, double max, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0) || v > max)
        mctool_usage_error("%s: bad value '%s' (%s)", opt, s, what);
    return v;
}

/* Numeric IPv4/IPv6 literal (optionally with %scope) plus a port into *ss. Returns 0 or -1. */
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

int mctool_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
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

int mctool_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
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

unsigned mctool_resolve_iface(const char *s, struct in_addr *v4, bool *have_v4)
{
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned idx = 0;
    if (have_v4)
        *have_v4 = false;
    if (mctool_parse_addr(s, &ss, &len) == 0) {
        struct ifaddrs *ifa, *i;
        if (ss.ss_family == AF_INET && v4 && have_v4) {
            *v4 = ((struct sockaddr_in *)&ss)->sin_addr;
            *have_v4 = true;
        }
        if (getifaddrs(&ifa) != 0)
            mctool_die("getifaddrs: %s", strerror(errno));
        for (i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != ss.ss_family)
                continue;
            if (ss.ss_family == AF_INET &&
                ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
                    ((struct sockaddr_in *)&ss)->sin_addr.s_addr)
                break;
            if (ss.ss_family == AF_INET6 &&
                memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                       &((struct sockaddr_in6 *)&ss)->sin6_addr, 16) == 0)
                break;
        }
        if (i)
            idx = if_nametoindex(i->ifa_name);
        freeifaddrs(ifa);
        if (idx == 0)
            mctool_die("--iface %s: no local interface has this address", s);
        return idx;
    }
    idx = if_nametoindex(s);
    if (idx == 0)
        mctool_die("--iface %s: unknown interface", s);
    return idx;
}

uint8_t *mctool_pattern_new(size_t max_size)
{
    /* A payload starts at one of 256 offsets (see mctool_payload). */
    uint8_t *pat = malloc(max_size + 256);
    if (!pat)
        mctool_die("out of memory");
    for (size_t i = 0; i < max_size + 256; i++)
        pat[i] = (uint8_t)i;
    return pat;
}
