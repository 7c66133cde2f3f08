/* bare_recv: the cheapest possible multicast receiver, for the ingest table
 * of bench/bench.py. It joins GROUP on IFACE and counts datagrams with a
 * blocking recvmmsg loop (64 per call, like mcferry's udp_rx), touching no
 * payload. It is the "what the kernel can hand to one thread" reference the
 * relay's in_dgrams rate is compared with.
 *
 * usage: bare_recv GROUP:PORT IFACE [--duration S] [--idle S] [--rcvbuf B]
 *                  [--ready-file PATH]
 * Stops on SIGINT/SIGTERM, after --duration seconds (default 30), or once
 * data has arrived and then nothing for --idle seconds (default 1). Prints
 *   dgrams=N bytes=B seconds=S first_to_last=S drops=D
 * on stdout: seconds from the join to the stop, first_to_last from the
 * first to the last datagram, drops = the socket's receive-buffer overflows
 * (SO_RXQ_OVFL). Exit status 0, or 1 if the socket could not be set up. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bare_recv: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: bare_recv GROUP:PORT IFACE [--duration S] [--idle S] "
			"[--rcvbuf B] [--ready-file PATH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double duration = 30, idle = 1;
	int rcvbuf = 2 * 1024 * 1024; /* mcferry's default for a UDP source */
	const char *ready = NULL;
	if (argc < 3)
		usage();
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--duration"))
			duration = atof(argv[++i]);
		else if (!strcmp(argv[i], "--idle"))
			idle = atof(argv[++i]);
		else if (!strcmp(argv[i], "--rcvbuf"))
			rcvbuf = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ready-file"))
			ready = argv[++i];
		else
			usage();
	}

	char host[64];
	const char *colon = strrchr(argv[1], ':');
	if (!colon || (size_t)(colon - argv[1]) >= sizeof host)
		usage();
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		usage();
	unsigned ifindex = if_nametoindex(argv[2]);
	if (!ifindex)
		die(argv[2]);

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 }; /* bounded waits */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
		die("SO_RCVTIMEO");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("bind");
	struct group_req gr;
	memset(&gr, 0, sizeof gr);
	gr.gr_interface = ifindex;
	memcpy(&gr.gr_group, &sa, sizeof sa);
	if (setsockopt(fd, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr) != 0)
		die("join");

	struct sigaction act;
	memset(&act, 0, sizeof act);
	act.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	if (ready) {
		FILE *f = fopen(ready, "w");
		if (!f)
			die(ready);
		fclose(f);
	}

	static char bufs[BATCH][SLOT];
	static char ctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t dgrams = 0, bytes = 0, first = 0, last = 0;
	uint32_t drops = 0;
	const uint64_t t0 = mono_ns();
	const uint64_t tmax = t0 + (uint64_t)(duration * 1e9), tidle = (uint64_t)(idle * 1e9);

	while (!g_stop) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = SLOT;
			memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		uint64_t now = mono_ns();
		if (n > 0) {
			if (!first)
				first = now;
			last = now;
			dgrams += (uint64_t)n;
			for (int i = 0; i < n; i++)
				bytes += msgs[i].msg_len;
			/* SO_RXQ_OVFL: the socket's cumulative drop counter */
			struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[n - 1].msg_hdr);
			for (; c; c = CMSG_NXTHDR(&msgs[n - 1].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
					memcpy(&drops, CMSG_DATA(c), sizeof drops);
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			die("recvmmsg");
		}
		if (now >= tmax || (first && tidle && now - last >= tidle))
			break;
	}
	printf("dgrams=%llu bytes=%llu seconds=%.3f first_to_last=%.3f drops=%u\n",
	       (unsigned long long)dgrams, (unsigned long long)bytes,
	       (double)(mono_ns() - t0) / 1e9, first ? (double)(last - first) / 1e9 : 0.0,
	       (unsigned)drops);
	return 0;
}
