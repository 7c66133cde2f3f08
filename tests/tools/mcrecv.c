/* mcrecv: test-datagram receiver/verifier (UDP join or N TCP clients) reporting loss, dups, reorder, latency for mcferry tests. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "mctool.h"

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

#define MAX_DGRAM 65536
#define UDP_BATCH 64
#define MAX_SPAN_WORDS ((size_t)1 << 24) /* bitmap span cap: 2^30 sequence numbers */
#define RETRY_NS 100000000ull            /* tcp connect retry interval */
#define HIST_BUCKETS 976

enum mode { MODE_UDP, MODE_TCP };
enum cstate { C_IDLE, C_CONNECTING, C_RETRY, C_OPEN, C_CLOSED, C_FAILED };

struct opts {
    enum mode mode;
    const char *target;
    const char *iface;
    const char *source;
    unsigned clients;
    uint32_t size;
    double duration, idle, connect_retry, pause;
    uint64_t count, expect;
    bool have_expect;
    unsigned slow;
    const char *ready_file;
    const char *http;       /* tcp: send GET http and skip the response header */
    bool json;
    int rcvbuf;
};

struct stream {
    uint32_t id;
    uint64_t first_seq, last_seq, min_seq, max_seq, unique;
    uint64_t base;          /* sequence number of bit 0 of bits[0]; multiple of 64 */
    uint64_t *bits;
    size_t nwords;
};

struct client {
    int fd;
    enum cstate state;
    bool eof, reset, ever_connected, done, paused, pause_used;
    int err;
    uint64_t received, bytes, unique, dups, reordered, bad;
    uint64_t retry_at, resume_at;
    struct stream *streams;
    size_t nstreams, cap, last;
    uint8_t *partial;
    size_t plen;
    /* --http: response header still being read; its length, how much of
     * the terminating "\r\n\r\n" has been seen, and its first bytes */
    bool in_header;
    unsigned hlen, hmatch;
    char status[16];
};

struct hist {
    uint64_t b[HIST_BUCKETS];
    uint64_t count, max;
};

struct ctx {
    struct opts o;
    struct sockaddr_storage addr;
    socklen_t alen;
    int ep;
    struct client *c;
    unsigned n;
    unsigned connected, closed, done;
    uint8_t *pat;
    uint8_t *rbuf;
    size_t rbuf_size;
    struct hist h;
    uint64_t t_start, first_data, last_data;
    bool ready_written;
    const char *stop_reason;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mcrecv udp GROUP:PORT [--iface ADDR|NAME] [--source S] [common options]\n"
        "       mcrecv tcp HOST:PORT [--clients N] [--size S] [--http PATH] [common options]\n"
        "  udp: join GROUP (ASM) or (S,G) with --source (SSM); a unicast or any address\n"
        "       (e.g. 0.0.0.0:PORT) just receives unicast. IPv6 as [addr]:port.\n"
        "  tcp: N client connections reading a raw byte stream cut into S-byte records\n"
        "       (default N=1, S=1316).\n"
        "common options:\n"
        "  --duration SEC       hard stop (default 30)\n"
        "  --count N            stop when every client has >= N unique datagrams\n"
        "  --idle SEC           stop after SEC without data once data arrived (default 3, 0 = off)\n"
        "  --expect N           each stream should have N datagrams (seq 0..N-1); lost = N - unique\n"
        "  --ready-file PATH    create PATH once joined / all clients connected\n"
        "  --json               print the summary as one JSON object\n"
        "  --connect-retry SEC  tcp: keep retrying connect for up to SEC (default 5)\n"
        "  --rcvbuf BYTES       socket receive buffer (udp default 8 MiB; tcp default: kernel)\n"
        "  --slow K             tcp: clients 0..K-1 stop reading for --pause SEC after first data\n"
        "  --pause SEC          pause length for --slow clients (default 5)\n"
        "  --http PATH          tcp: each client sends 'GET PATH HTTP/1.0' and reads the\n"
        "                       body of a 200 response as the record stream (HTTP relays\n"
        "                       such as msd_lite or udpxy: --http /udp/GROUP:PORT)\n"
        "  --help               this text\n"
        "Stops on SIGINT/SIGTERM, on all TCP connections closed, and prints the summary.\n");
}

/* ---- addresses ---------------------------------------------------------- */

static bool is_multicast(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* ---- statistics --------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned m = (unsigned)(v >> (e - 4)) & 15u;
    return 16u + (e - 4u) * 16u + m;
}

/* Midpoint of bucket i in ns. */
static double hist_value(unsigned i)
{
    if (i < 16)
        return i;
    unsigned e = (i - 16) / 16 + 4, m = (i - 16) % 16;
    double lo = (double)((uint64_t)(16 + m) << (e - 4));
    double hi = (double)((uint64_t)(17 + m) << (e - 4));
    return (lo + hi) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static double hist_pct_us(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t target = (uint64_t)(p * (double)h->count + 0.999999);
    if (target < 1)
        target = 1;
    uint64_t cum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        cum += h->b[i];
        if (cum >= target) {
            double v = hist_value(i);
            if (v > (double)h->max)
                v = (double)h->max;
            return v / 1000.0;
        }
    }
    return (double)h->max / 1000.0;
}

/* Returns 1 if seq was new, 0 if already seen, -1 if out of the trackable span. */
static int bitmap_test_set(struct stream *s, uint64_t seq)
{
    if (s->nwords == 0) {
        s->nwords = 64;
        s->base = seq & ~63ull;
        s->bits = calloc(s->nwords, sizeof *s->bits);
        if (!s->bits)
            mctool_die("out of memory");
    }
    if (seq < s->base) {
        size_t need = (size_t)((s->base - (seq & ~63ull)) / 64);
        size_t extra = s->nwords > need ? s->nwords : need;
        if (extra > s->base / 64)
            extra = (size_t)(s->base / 64);
        if (extra < need)
            extra = need;
        if (s->nwords + extra > MAX_SPAN_WORDS)
            return -1;
        uint64_t *nb = calloc(s->nwords + extra, sizeof *nb);
        if (!nb)
            mctool_die("out of memory");
        memcpy(nb + extra, s->bits, s->nwords * sizeof *nb);
        free(s->bits);
        s->bits = nb;
        s->nwords += extra;
        s->base -= (uint64_t)extra * 64;
    }
    uint64_t off = seq - s->base;
    if (off / 64 >= s->nwords) {
        if (off / 64 >= MAX_SPAN_WORDS)
            return -1;
        size_t nn = s->nwords * 2;
        if (nn <= off / 64)
            nn = (size_t)(off / 64) + 1;
        if (nn > MAX_SPAN_WORDS)
            nn = MAX_SPAN_WORDS;
        uint64_t *nb = realloc(s->bits, nn * sizeof *nb);
        if (!nb)
            mctool_die("out of memory");
        memset(nb + s->nwords, 0, (nn - s->nwords) * sizeof *nb);
        s->bits = nb;
        s->nwords = nn;
    }
    uint64_t bit = 1ull << (off % 64);
    if (s->bits[off / 64] & bit)
        return 0;
    s->bits[off / 64] |= bit;
    return 1;
}

static struct stream *get_stream(struct client *c, uint32_t id)
{
    if (c->last < c->nstreams && c->streams[c->last].id == id)
        return &c->streams[c->last];
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i].id == id) {
            c->last = i;
            return &c->streams[i];
        }
    if (c->nstreams == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 2;
        struct stream *ns = realloc(c->streams, nc * sizeof *ns);
        if (!ns)
            mctool_die("out of memory");
        c->streams = ns;
        c->cap = nc;
    }
    struct stream *s = &c->streams[c->nstreams];
    memset(s, 0, sizeof *s);
    s->id = id;
    c->last = c->nstreams++;
    return s;
}

static void mark_done(struct ctx *x, struct client *c)
{
    if (!c->done) {
        c->done = true;
        x->done++;
    }
}

/* Verify and account one datagram / record. */
static void process(struct ctx *x, struct client *c, const uint8_t *p, size_t len, uint64_t now)
{
    c->received++;
    uint32_t id;
    uint64_t seq, sent;
    if (!mctool_hdr_get(p, len, &id, &seq, &sent)) {
        c->bad++;
        return;
    }
    if (memcmp(p + MCSF_HDR_SIZE, mctool_payload(x->pat, seq), len - MCSF_HDR_SIZE) != 0) {
        c->bad++;
        return;
    }
    struct stream *s = get_stream(c, id);
    int r = bitmap_test_set(s, seq);
    if (r < 0) {
        c->bad++;
        return;
    }
    if (r == 0) {
        c->dups++;
    } else {
        if (s->unique == 0) {
            s->first_seq = s->min_seq = s->max_seq = seq;
        } else {
            if (seq < s->max_seq)
                c->reordered++;
            if (seq < s->min_seq)
                s->min_seq = seq;
            if (seq > s->max_seq)
                s->max_seq = seq;
        }
        s->unique++;
        c->unique++;
        if (x->o.count && c->unique >= x->o.count)
            mark_done(x, c);
    }
    s->last_seq = seq;
    hist_add(&x->h, now > sent ? now - sent : 0);
}

/* ---- small helpers ------------------------------------------------------ */

static void write_ready(struct ctx *x)
{
    if (x->ready_written)
        return;
    x->ready_written = true;
    if (!x->o.ready_file)
        return;
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", x->o.ready_file, (long)getpid()) >= sizeof tmp)
        mctool_die("--ready-file: path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        mctool_die("--ready-file %s: %s", tmp, strerror(errno));
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, x->o.ready_file) != 0)
        mctool_die("--ready-file %s: %s", x->o.ready_file, strerror(errno));
}

static void raise_nofile(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) {
        struct rlimit r2 = { want, want };
        if (setrlimit(RLIMIT_NOFILE, &r2) == 0)
            return;
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || want < (rlim_t)need + 16)
        fprintf(stderr, "mcrecv: warning: cannot raise RLIMIT_NOFILE to %u\n", need + 64);
}

static void ep_add(struct ctx *x, int fd, uint32_t events, unsigned idx)
{
    struct epoll_event ev = { .events = events, .data.u32 = idx };
    if (epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        mctool_die("epoll_ctl: %s", strerror(errno));
}

static void ep_mod(struct ctx *x, int fd, uint32_t events, unsigned idx)
{
    struct epoll_event ev = { .events = events, .data.u32 = idx };
    if (epoll_ctl(x->ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        mctool_die("epoll_ctl: %s", strerror(errno));
}

/* ---- UDP ---------------------------------------------------------------- */

static void udp_setup(struct ctx *x)
{
    struct opts *o = &x->o;
    int fam = x->addr.ss_family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        mctool_die("socket: %s", strerror(errno));
    int one = 1, zero = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rb = o->rcvbuf ? o->rcvbuf : 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    bool mc = is_multicast(&x->addr);
    unsigned ifindex = o->iface ? mctool_resolve_iface(o->iface, NULL, NULL) : 0;
    if (fam == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->addr;
        if ((IN6_IS_ADDR_MC_LINKLOCAL(&s6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) &&
            s6->sin6_scope_id == 0)
            s6->sin6_scope_id = ifindex;
        if (mc && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero) != 0)
            fprintf(stderr, "mcrecv: warning: IPV6_MULTICAST_ALL=0: %s\n", strerror(errno));
    } else if (mc && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) != 0) {
        fprintf(stderr, "mcrecv: warning: IP_MULTICAST_ALL=0: %s\n", strerror(errno));
    }
    if (bind(fd, (struct sockaddr *)&x->addr, x->alen) != 0)
        mctool_die("bind %s: %s", o->target, strerror(errno));
    if (mc) {
        int level = fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
        if (o->source) {
            struct group_source_req gsr;
            struct sockaddr_storage src;
            socklen_t slen;
            memset(&gsr, 0, sizeof gsr);
            if (mctool_parse_addr(o->source, &src, &slen) != 0)
                mctool_usage_error("--source: '%s' is not an IP address", o->source);
            if (src.ss_family != fam)
                mctool_usage_error("--source %s: address family does not match group", o->source);
            gsr.gsr_interface = ifindex;
            memcpy(&gsr.gsr_group, &x->addr, x->alen);
            memcpy(&gsr.gsr_source, &src, slen);
            if (setsockopt(fd, level, MCAST_JOIN_SOURCE_GROUP, &gsr, sizeof gsr) != 0)
                mctool_die("join (%s,%s): %s", o->source, o->target, strerror(errno));
        } else {
            struct group_req gr;
            memset(&gr, 0, sizeof gr);
            gr.gr_interface = ifindex;
            memcpy(&gr.gr_group, &x->addr, x->alen);
            if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof gr) != 0)
                mctool_die("join %s: %s", o->target, strerror(errno));
        }
    } else if (o->source) {
        mctool_usage_error("--source needs a multicast GROUP");
    }
    x->c[0].fd = fd;
    x->c[0].state = C_OPEN;
    x->c[0].ever_connected = true;
    x->connected = 1;
    ep_add(x, fd, EPOLLIN, 0);
}

static void udp_read(struct ctx *x)
{
    struct client *c = &x->c[0];
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    for (int round = 0; round < 16; round++) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i].iov_base = x->rbuf + (size_t)i * MAX_DGRAM;
            iov[i].iov_len = MAX_DGRAM;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(c->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                fprintf(stderr, "mcrecv: recvmmsg: %s\n", strerror(errno));
            return;
        }
        uint64_t now = mctool_mono_ns();
        if (!x->first_data)
            x->first_data = now;
        x->last_data = now;
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            c->bytes += len;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                c->received++;
                c->bad++;
                continue;
            }
            process(x, c, iov[i].iov_base, len, now);
        }
        if (n < UDP_BATCH)
            return;
    }
}

/* ---- TCP ---------------------------------------------------------------- */

static void tcp_close(struct ctx *x, struct client *c, enum cstate st)
{
    if (c->fd >= 0) {
        if (!c->paused)
            (void)epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->paused = false;
    c->state = st;
    x->closed++;
    mark_done(x, c);
}

static void tcp_start_connect(struct ctx *x, unsigned i, uint64_t now)
{
    struct client *c = &x->c[i];
    int fd = socket(x->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        mctool_die("socket: %s", strerror(errno));
    if (x->o.rcvbuf)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &x->o.rcvbuf, sizeof x->o.rcvbuf);
    c->fd = fd;
    if (connect(fd, (struct sockaddr *)&x->addr, x->alen) == 0 || errno == EINPROGRESS) {
        c->state = C_CONNECTING;
        ep_add(x, fd, EPOLLOUT, i);
        return;
    }
    c->err = errno;
    close(fd);
    c->fd = -1;
    c->state = C_RETRY;
    c->retry_at = now + RETRY_NS;
}

static void tcp_connected(struct ctx *x, unsigned i)
{
    struct client *c = &x->c[i];
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    if (err) {
        c->err = err;
        (void)epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->state = C_RETRY;
        c->retry_at = mctool_mono_ns() + RETRY_NS;
        return;
    }
    if (x->o.http) {
        /* A few dozen bytes on a fresh connection: the send buffer takes them. */
        char req[512];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: mcrecv\r\n\r\n", x->o.http);
        if (len < 0 || (size_t)len >= sizeof req || write(c->fd, req, (size_t)len) != len)
            mctool_die("client %u: cannot send the HTTP request: %s", i, strerror(errno));
        c->in_header = true;
    }
    c->state = C_OPEN;
    c->ever_connected = true;
    ep_mod(x, c->fd, EPOLLIN, i);
    if (++x->connected == x->n)
        write_ready(x);
}

/* Consume the HTTP response header at the start of p[0..n); returns how
 * many bytes it took, or -1 if the response is not a 200 or the header is
 * too long. Clears c->in_header once the blank line has been read. */
static ssize_t http_header(struct client *c, const uint8_t *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t k;
    for (k = 0; k < n && c->in_header; k++) {
        if (c->hlen < sizeof c->status - 1)
            c->status[c->hlen] = (char)p[k];
        if (++c->hlen > 16384)
            return -1;
        if (p[k] == (uint8_t)end[c->hmatch])
            c->hmatch++;
        else
            c->hmatch = p[k] == '\r' ? 1 : 0;
        if (c->hmatch == 4)
            c->in_header = false;
    }
    if (!c->in_header) {
        /* "HTTP/1.x 200" */
        if (strncmp(c->status, "HTTP/1.", 7) != 0 || strncmp(c->status + 8, " 200", 4) != 0)
            return -1;
    }
    return (ssize_t)k;
}

static void tcp_read(struct ctx *x, unsigned i)
{
    struct client *c = &x->c[i];
    const size_t S = x->o.size;
    memcpy(x->rbuf, c->partial, c->plen);
    ssize_t n = read(c->fd, x->rbuf + c->plen, x->rbuf_size - c->plen);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        c->err = errno;
        c->eof = true;
        c->reset = errno == ECONNRESET || errno == EPIPE;
        tcp_close(x, c, C_CLOSED);
        return;
    }
    if (n == 0) {
        c->eof = true;
        tcp_close(x, c, C_CLOSED);
        return;
    }
    if (c->in_header) {
        ssize_t h = http_header(c, x->rbuf + c->plen, (size_t)n);
        if (h < 0) {
            c->status[sizeof c->status - 1] = '\0';
            fprintf(stderr, "mcrecv: client %u: HTTP response is not a 200: '%.12s'\n", i,
                    c->status);
            c->err = EPROTO;
            tcp_close(x, c, C_FAILED);
            return;
        }
        memmove(x->rbuf + c->plen, x->rbuf + c->plen + h, (size_t)(n - h));
        n -= h;
        if (n == 0)
            return;
    }
    uint64_t now = mctool_mono_ns();
    if (!x->first_data)
        x->first_data = now;
    x->last_data = now;
    c->bytes += (uint64_t)n;
    size_t have = c->plen + (size_t)n, off = 0;
    for (; have - off >= S; off += S)
        process(x, c, x->rbuf + off, S, now);
    c->plen = have - off;
    memcpy(c->partial, x->rbuf + off, c->plen);
    if (i < x->o.slow && !c->pause_used && c->state == C_OPEN) {
        c->pause_used = true;
        c->paused = true;
        c->resume_at = now + (uint64_t)(x->o.pause * 1e9);
        (void)epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
    }
}

/* ---- output ------------------------------------------------------------- */

static uint64_t client_lost(const struct ctx *x, const struct client *c, uint32_t *ids, size_t nids)
{
    uint64_t lost = 0;
    if (x->o.have_expect) {
        for (size_t k = 0; k < nids; k++) {
            uint64_t u = 0;
            for (size_t j = 0; j < c->nstreams; j++)
                if (c->streams[j].id == ids[k])
                    u = c->streams[j].unique;
            if (u < x->o.expect)
                lost += x->o.expect - u;
        }
        if (nids == 0)
            lost = x->o.expect;
        return lost;
    }
    for (size_t j = 0; j < c->nstreams; j++) {
        const struct stream *s = &c->streams[j];
        if (s->unique)
            lost += (s->max_seq - s->min_seq + 1) - s->unique;
    }
    return lost;
}

static void report(struct ctx *x, double secs)
{
    const struct opts *o = &x->o;
    /* union of stream ids with global min/max */
    size_t nids = 0, cap = 4;
    uint32_t *ids = malloc(cap * sizeof *ids);
    uint64_t *mins = malloc(cap * sizeof *mins), *maxs = malloc(cap * sizeof *maxs);
    uint64_t *lost = calloc(x->n, sizeof *lost);
    if (!ids || !mins || !maxs || !lost)
        mctool_die("out of memory");
    for (unsigned i = 0; i < x->n; i++)
        for (size_t j = 0; j < x->c[i].nstreams; j++) {
            const struct stream *s = &x->c[i].streams[j];
            if (!s->unique)
                continue;
            size_t k;
            for (k = 0; k < nids && ids[k] != s->id; k++)
                ;
            if (k == nids) {
                if (nids == cap) {
                    cap *= 2;
                    ids = realloc(ids, cap * sizeof *ids);
                    mins = realloc(mins, cap * sizeof *mins);
                    maxs = realloc(maxs, cap * sizeof *maxs);
                    if (!ids || !mins || !maxs)
                        mctool_die("out of memory");
                }
                ids[k] = s->id;
                mins[k] = s->min_seq;
                maxs[k] = s->max_seq;
                nids++;
            }
            if (s->min_seq < mins[k])
                mins[k] = s->min_seq;
            if (s->max_seq > maxs[k])
                maxs[k] = s->max_seq;
        }
    uint64_t t_recv = 0, t_uniq = 0, t_dup = 0, t_lost = 0, t_reord = 0, t_bad = 0, t_bytes = 0;
    unsigned eofs = 0, resets = 0, conns = 0;
    for (unsigned i = 0; i < x->n; i++) {
        const struct client *c = &x->c[i];
        lost[i] = client_lost(x, c, ids, nids);
        t_recv += c->received;
        t_uniq += c->unique;
        t_dup += c->dups;
        t_lost += lost[i];
        t_reord += c->reordered;
        t_bad += c->bad;
        t_bytes += c->bytes;
        eofs += c->eof;
        resets += c->reset;
        conns += c->ever_connected;
    }
    double p50 = hist_pct_us(&x->h, 0.50), p99 = hist_pct_us(&x->h, 0.99);
    double mx = (double)x->h.max / 1000.0;
    if (o->json) {
        printf("{\"clients\": %u, \"received\": %llu, \"unique\": %llu, \"duplicates\": %llu, "
               "\"lost\": %llu, \"reordered\": %llu, \"bad\": %llu, \"bytes\": %llu, "
               "\"eof_clients\": %u, \"reset_clients\": %u, \"connected_clients\": %u, "
               "\"seconds\": %.3f, \"stop_reason\": \"%s\", "
               "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}, \"per_client\": [",
               x->n, (unsigned long long)t_recv, (unsigned long long)t_uniq,
               (unsigned long long)t_dup, (unsigned long long)t_lost,
               (unsigned long long)t_reord, (unsigned long long)t_bad,
               (unsigned long long)t_bytes, eofs, resets, conns, secs, x->stop_reason,
               p50, p99, mx);
        for (unsigned i = 0; i < x->n; i++) {
            const struct client *c = &x->c[i];
            printf("%s{\"received\": %llu, \"unique\": %llu, \"duplicates\": %llu, \"lost\": %llu, "
                   "\"reordered\": %llu, \"bad\": %llu, \"bytes\": %llu, \"eof\": %s, "
                   "\"reset\": %s, \"connected\": %s, \"trailing_bytes\": %zu, \"streams\": {",
                   i ? ", " : "", (unsigned long long)c->received, (unsigned long long)c->unique,
                   (unsigned long long)c->dups, (unsigned long long)lost[i],
                   (unsigned long long)c->reordered, (unsigned long long)c->bad,
                   (unsigned long long)c->bytes, c->eof ? "true" : "false",
                   c->reset ? "true" : "false", c->ever_connected ? "true" : "false", c->plen);
            bool first = true;
            for (size_t j = 0; j < c->nstreams; j++) {
                const struct stream *s = &c->streams[j];
                if (!s->unique)
                    continue;
                printf("%s\"%u\": {\"first_seq\": %llu, \"last_seq\": %llu, \"min_seq\": %llu, "
                       "\"max_seq\": %llu, \"unique\": %llu}", first ? "" : ", ", s->id,
                       (unsigned long long)s->first_seq, (unsigned long long)s->last_seq,
                       (unsigned long long)s->min_seq, (unsigned long long)s->max_seq,
                       (unsigned long long)s->unique);
                first = false;
            }
            printf("}}");
        }
        printf("], \"streams\": {");
        for (size_t k = 0; k < nids; k++)
            printf("%s\"%u\": {\"min_seq\": %llu, \"max_seq\": %llu}", k ? ", " : "", ids[k],
                   (unsigned long long)mins[k], (unsigned long long)maxs[k]);
        printf("}}\n");
    } else {
        printf("clients=%u received=%llu unique=%llu duplicates=%llu lost=%llu reordered=%llu "
               "bad=%llu bytes=%llu eof_clients=%u reset_clients=%u connected_clients=%u "
               "seconds=%.3f stop=%s\n",
               x->n, (unsigned long long)t_recv, (unsigned long long)t_uniq,
               (unsigned long long)t_dup, (unsigned long long)t_lost,
               (unsigned long long)t_reord, (unsigned long long)t_bad,
               (unsigned long long)t_bytes, eofs, resets, conns, secs, x->stop_reason);
        printf("latency_us p50=%.1f p99=%.1f max=%.1f\n", p50, p99, mx);
        for (size_t k = 0; k < nids; k++)
            printf("stream %u min_seq=%llu max_seq=%llu\n", ids[k], (unsigned long long)mins[k],
                   (unsigned long long)maxs[k]);
        for (unsigned i = 0; i < x->n && i < 32; i++) {
            const struct client *c = &x->c[i];
            printf("client %u received=%llu unique=%llu duplicates=%llu lost=%llu reordered=%llu "
                   "bad=%llu bytes=%llu eof=%d reset=%d\n",
                   i, (unsigned long long)c->received, (unsigned long long)c->unique,
                   (unsigned long long)c->dups, (unsigned long long)lost[i],
                   (unsigned long long)c->reordered, (unsigned long long)c->bad,
                   (unsigned long long)c->bytes, c->eof, c->reset);
        }
        if (x->n > 32)
            printf("(%u more clients; use --json for all)\n", x->n - 32);
    }
    fflush(stdout);
    free(ids);
    free(mins);
    free(maxs);
    free(lost);
}

/* ---- main --------------------------------------------------------------- */

static double parse_seconds(const char *opt, const char *s)
{
    return mctool_parse_double(opt, s, 1e9, "non-negative number of seconds");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_IFACE = 256, O_SOURCE, O_CLIENTS, O_SIZE, O_DURATION, O_COUNT, O_IDLE,
           O_READY, O_JSON, O_RETRY, O_EXPECT, O_RCVBUF, O_SLOW, O_PAUSE, O_HTTP, O_HELP };
    static const struct option lo[] = {
        { "iface", required_argument, NULL, O_IFACE },
        { "source", required_argument, NULL, O_SOURCE },
        { "clients", required_argument, NULL, O_CLIENTS },
        { "size", required_argument, NULL, O_SIZE },
        { "duration", required_argument, NULL, O_DURATION },
        { "count", required_argument, NULL, O_COUNT },
        { "idle", required_argument, NULL, O_IDLE },
        { "ready-file", required_argument, NULL, O_READY },
        { "json", no_argument, NULL, O_JSON },
        { "connect-retry", required_argument, NULL, O_RETRY },
        { "expect", required_argument, NULL, O_EXPECT },
        { "rcvbuf", required_argument, NULL, O_RCVBUF },
        { "slow", required_argument, NULL, O_SLOW },
        { "pause", required_argument, NULL, O_PAUSE },
        { "http", required_argument, NULL, O_HTTP },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->clients = 1;
    o->size = 1316;
    o->duration = 30;
    o->idle = 3;
    o->connect_retry = 5;
    o->pause = 5;
    const char *pos[2];
    int npos = 0, c;
    bool tcp_only = false, udp_only = false;
    opterr = 0;
    /* GNU getopt permutes, so options may come before or after the positionals. */
    while ((c = getopt_long(argc, argv, "-h", lo, NULL)) != -1) {
        switch (c) {
        case 1:
            if (npos == 2)
                mctool_usage_error("unexpected argument '%s'", optarg);
            pos[npos++] = optarg;
            break;
        case O_IFACE: o->iface = optarg; udp_only = true; break;
        case O_SOURCE: o->source = optarg; udp_only = true; break;
        case O_CLIENTS:
            o->clients = (unsigned)mctool_parse_u64("--clients", optarg, 100000);
            if (o->clients == 0)
                mctool_usage_error("--clients must be at least 1");
            tcp_only = true;
            break;
        case O_SIZE:
            o->size = (uint32_t)mctool_parse_u64("--size", optarg, 16u << 20);
            if (o->size < MCSF_MIN_SIZE)
                mctool_usage_error("--size %u is too small (minimum %d)", o->size, MCSF_MIN_SIZE);
            tcp_only = true;
            break;
        case O_DURATION: o->duration = parse_seconds("--duration", optarg); break;
        case O_COUNT: o->count = mctool_parse_u64("--count", optarg, UINT64_MAX); break;
        case O_IDLE: o->idle = parse_seconds("--idle", optarg); break;
        case O_READY: o->ready_file = optarg; break;
        case O_JSON: o->json = true; break;
        case O_RETRY: o->connect_retry = parse_seconds("--connect-retry", optarg); break;
        case O_EXPECT:
            o->expect = mctool_parse_u64("--expect", optarg, UINT64_MAX);
            o->have_expect = true;
            break;
        case O_RCVBUF: o->rcvbuf = (int)mctool_parse_u64("--rcvbuf", optarg, INT_MAX); break;
        case O_SLOW: o->slow = (unsigned)mctool_parse_u64("--slow", optarg, 100000); tcp_only = true; break;
        case O_PAUSE: o->pause = parse_seconds("--pause", optarg); break;
        case O_HTTP: o->http = optarg; tcp_only = true; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default:
            mctool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (npos < 1)
        mctool_usage_error("missing mode (udp or tcp)");
    if (strcmp(pos[0], "udp") == 0)
        o->mode = MODE_UDP;
    else if (strcmp(pos[0], "tcp") == 0)
        o->mode = MODE_TCP;
    else
        mctool_usage_error("unknown mode '%s' (expected udp or tcp)", pos[0]);
    if (npos < 2)
        mctool_usage_error("missing %s", o->mode == MODE_UDP ? "GROUP:PORT" : "HOST:PORT");
    o->target = pos[1];
    if (o->mode == MODE_UDP && tcp_only)
        mctool_usage_error("--clients, --size, --slow and --http are only valid in tcp mode");
    if (o->mode == MODE_TCP && udp_only)
        mctool_usage_error("--iface and --source are only valid in udp mode");
    if (o->mode == MODE_UDP)
        o->clients = 1;
}

static int run(struct ctx *x)
{
    struct opts *o = &x->o;
    struct epoll_event evs[256];
    const uint64_t end = x->t_start + (uint64_t)(o->duration * 1e9);
    const uint64_t idle_ns = (uint64_t)(o->idle * 1e9);
    const uint64_t retry_end = x->t_start + (uint64_t)(o->connect_retry * 1e9);
    int rc = 0;

    for (;;) {
        uint64_t now = mctool_mono_ns();
        if (mctool_stop) { x->stop_reason = "signal"; break; }
        if (now >= end) { x->stop_reason = "duration"; break; }
        if (o->count && x->done == x->n) { x->stop_reason = "count"; break; }
        if (o->mode == MODE_TCP && x->closed == x->n) { x->stop_reason = "eof"; break; }
        if (idle_ns && x->first_data && now - x->last_data >= idle_ns) {
            x->stop_reason = "idle";
            break;
        }
        uint64_t next = end;
        if (idle_ns && x->first_data && x->last_data + idle_ns < next)
            next = x->last_data + idle_ns;
        if (o->mode == MODE_TCP && (x->connected < x->n || o->slow)) {
            unsigned scan = x->connected < x->n ? x->n : (o->slow < x->n ? o->slow : x->n);
            for (unsigned i = 0; i < scan; i++) {
                struct client *c = &x->c[i];
                if (c->state == C_RETRY) {
                    if (now >= retry_end) {
                        fprintf(stderr, "mcrecv: client %u: connect %s: %s (gave up after %g s)\n",
                                i, o->target, strerror(c->err), o->connect_retry);
                        c->state = C_FAILED;
                        rc = 1;
                    } else if (now >= c->retry_at) {
                        tcp_start_connect(x, i, now);
                    }
                    if (c->state == C_RETRY && c->retry_at < next)
                        next = c->retry_at;
                } else if (c->paused) {
                    if (now >= c->resume_at) {
                        c->paused = false;
                        ep_add(x, c->fd, EPOLLIN, i);
                    } else if (c->resume_at < next) {
                        next = c->resume_at;
                    }
                }
            }
            if (rc) {
                x->stop_reason = "connect-failed";
                break;
            }
        }
        int timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
        if (timeout > 100)
            timeout = 100;
        int n = epoll_wait(x->ep, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mctool_die("epoll_wait: %s", strerror(errno));
        }
        for (int k = 0; k < n; k++) {
            unsigned i = evs[k].data.u32;
            if (o->mode == MODE_UDP) {
                udp_read(x);
                continue;
            }
            struct client *c = &x->c[i];
            if (c->state == C_CONNECTING)
                tcp_connected(x, i);
            else if (c->state == C_OPEN && !c->paused)
                tcp_read(x, i);
        }
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct ctx x;
    memset(&x, 0, sizeof x);
    mctool_init("mcrecv", "usage: mcrecv udp GROUP:PORT [options] | mcrecv tcp HOST:PORT [options]"
                "   (mcrecv --help for details)\n");
    parse_args(argc, argv, &x.o);
    struct opts *o = &x.o;
    /* "@GROUP:PORT" (mcferry URI style) means the same as "GROUP:PORT". */
    if (mctool_parse_hostport(o->target + (o->target[0] == '@'), &x.addr, &x.alen) != 0)
        mctool_usage_error("bad address '%s' (expected IPv4:PORT or [IPv6]:PORT)", o->target);

    mctool_catch_signals();

    x.n = o->clients;
    x.stop_reason = "none";
    x.c = calloc(x.n, sizeof *x.c);
    if (o->mode == MODE_UDP)
        x.rbuf_size = (size_t)UDP_BATCH * MAX_DGRAM;
    else
        x.rbuf_size = o->size * 4 > (256u << 10) ? (size_t)o->size * 4 : (256u << 10);
    x.rbuf = malloc(x.rbuf_size);
    if (!x.c || !x.rbuf)
        mctool_die("out of memory");
    x.pat = mctool_pattern_new(o->mode == MODE_TCP && o->size > MAX_DGRAM ? o->size : MAX_DGRAM);
    raise_nofile(x.n);
    x.ep = epoll_create1(EPOLL_CLOEXEC);
    if (x.ep < 0)
        mctool_die("epoll_create1: %s", strerror(errno));

    x.t_start = mctool_mono_ns();
    if (o->mode == MODE_UDP) {
        udp_setup(&x);
        write_ready(&x);
    } else {
        for (unsigned i = 0; i < x.n; i++) {
            x.c[i].fd = -1;
            x.c[i].partial = malloc(o->size);
            if (!x.c[i].partial)
                mctool_die("out of memory");
            tcp_start_connect(&x, i, x.t_start);
        }
    }
    int rc = run(&x);
    double secs = (double)(mctool_mono_ns() - x.t_start) / 1e9;
    report(&x, secs);

    for (unsigned i = 0; i < x.n; i++) {
        if (x.c[i].fd >= 0)
            close(x.c[i].fd);
        for (size_t j = 0; j < x.c[i].nstreams; j++)
            free(x.c[i].streams[j].bits);
        free(x.c[i].streams);
        free(x.c[i].partial);
    }
    free(x.c);
    free(x.pat);
    free(x.rbuf);
    close(x.ep);
    return rc;
}
