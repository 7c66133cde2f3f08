#!/usr/bin/env python3
"""HTTP viewers of one channel: mcferry http beside udpxy and msd_lite.

    src ns  mcsend 10 Mbit/s (1316-byte datagrams, send time in each)
      --src0/rin0 10.92.1.0/24 (multicast)-->
    node ns mcferry http | udpxy | msd_lite, joined on rin0
      --rout0/cli0 10.92.2.0/24 (unicast)-->
    cli ns  mcrecv tcp --http PATH --clients N (one process, epoll)

Rows: N = 200 and 1000 viewers (BENCH_HTTP_VIEWERS="200 1000") of one
channel for BENCH_SECONDS (10) each. mcferry is measured twice: /udp/G:P
(the shared group receive) and /channel/tv (a named channel, here
udp://@G:P through the relay source code). udpxy and msd_lite rows appear
only when UDPXY= / MSD_LITE= name their binaries (bench/peers.py starts
them; none is ever required). Printed, not asserted:

  CPU      the server's CPU (its process tree for udpxy, which forks per
           viewer), % of one core over the delivery window
  RSS      the most resident memory seen (udpxy: summed over processes)
  drops    viewers that did not get every datagram (mcrecv per client)
  loss     datagrams missing over all viewers, %
  p50/p99  send-to-receive latency from mcsend's timestamps (mcrecv)
  rcv CPU  mcrecv's own CPU: near 100% means the load generator, not the
           server, bounds the row

Run as root: `MSD_LITE=/tmp/peers/msd_lite UDPXY=/tmp/peers/udpxy
bench/http_viewers.py build`.
"""

import json
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))

import peers              # noqa: E402
import procstat as PS     # noqa: E402

T = None                  # tests/net/topo.py, once MCFERRY_BUILD is set

GROUP, UPORT, HPORT = "239.9.9.9", 5000, 4022
NODE_C, CLIENT_C = "10.92.2.1", "10.92.2.2"
IF_S, IF_N, IF_NC, IF_C = "src0", "rin0", "rout0", "cli0"
SIZE, MBIT = 1316, 10
IDLE = 3


def log(msg):
    print("http_viewers: " + msg, file=sys.stderr, flush=True)


def fmt(v, f):
    return "-" if v is None else f % v


class Bench:
    def __init__(self, build):
        self.build = build
        self.secs = float(os.environ.get("BENCH_SECONDS") or 10)
        self.viewers = [int(x) for x in (os.environ.get("BENCH_HTTP_VIEWERS")
                                         or "200 1000").split()]
        self.kinds = ["mcferry", "mcferry-named"]
        self.bin = {}
        for kind in ("udpxy", "msd_lite"):
            b = os.environ.get(peers.PEERS[kind]["env"])
            if b:
                self.bin[kind] = b
                self.kinds.append(kind)
        self.notes = []

    def topology(self):
        self.t = T.Topology(self.tmp, prefix="mhv" + T.new_prefix()[2:])
        t = self.t
        self.s, self.n, self.c = t.netns("s"), t.netns("n"), t.netns("c")
        t.veth(self.s, IF_S, self.n, IF_N)
        t.veth(self.n, IF_NC, self.c, IF_C)
        T.add_addr(self.s, IF_S, "10.92.1.2/24")
        T.add_addr(self.n, IF_N, "10.92.1.1/24")
        T.add_addr(self.n, IF_NC, NODE_C + "/24")
        T.add_addr(self.c, IF_C, CLIENT_C + "/24")
        self.s.ip("route", "add", "224.0.0.0/4", "dev", IF_S)
        # 1000 connects at once: no SYN cookies, so a dropped final ACK is
        # retried rather than leaving a viewer the server never saw.
        self.n.sysctl("net.ipv4.tcp_syncookies", 0)

    def wait(self, pred, secs, proc=None):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if pred():
                return True
            if proc is not None and not proc.alive():
                break
            time.sleep(0.1)
        return pred()

    def start(self, kind, n, tag):
        """The server of KIND for N viewers: (proc, path, forks, ts)."""
        ch = "%s:%d" % (GROUP, UPORT)
        if kind.startswith("mcferry"):
            args = ["http", "--listen", ":%d" % HPORT, "--iface", IF_N,
                    "--max-viewers", n + 10, "--max-channel-viewers", n + 10,
                    "--stats", 1]
            path = "/udp/" + ch
            if kind == "mcferry-named":
                args += ["--channel", "tv=udp://@%s?iface=%s" % (ch, IF_N)]
                path = "/channel/tv"
            p = T.start_mcferry(self.n, [str(a) for a in args], tag=tag)
            return p, path, False, False
        pe = peers.PEERS[kind]
        p = self.n.spawn(peers.peer_argv(kind, self.bin[kind], tport=HPORT,
                                         group=GROUP, uport=UPORT,
                                         ifname=IF_N, logdir=self.tmp,
                                         clients=n), tag=tag)
        if not self.wait(lambda: PS.tcp_listening(p.pid, HPORT), 10, p):
            raise T.TopoError("%s did not listen:\n%s" % (kind, p.describe()))
        return p, "/udp/" + ch, pe["forks"], pe["ts"]

    def run_row(self, kind, n):
        tag = "%s-%d" % (kind, n)
        pps = MBIT * 1e6 / 8 / SIZE
        count = int(pps * self.secs)
        log("%s: %d viewers, %d Mbit/s (%d pps) for %gs"
            % (kind, n, MBIT, pps, self.secs))
        srv, path, forks, ts = self.start(kind, n, tag + ".srv")
        # udpxy's per-viewer process leaves a group silent for a few
        # seconds, and forking 1000 of them takes longer: a 50 pps warm-up
        # stream (stream 2, not counted) runs until the measured one ends.
        warm = None
        if forks:
            warm = self.s.spawn([T.MCSEND, "--count", 1000000, "--rate", 50,
                                 "--size", SIZE, "--ttl", 1, "--stream", 2,
                                 "--iface", IF_S, "--quiet",
                                 "%s:%d" % (GROUP, UPORT)], tag=tag + ".warm")
        ready = os.path.join(self.tmp, tag + ".ready")
        recv = self.c.spawn([T.MCRECV, "tcp", "%s:%d" % (NODE_C, HPORT),
                             "--clients", n, "--http", path, "--size", SIZE,
                             "--expect", count]
                            + ([] if forks else ["--count", count])
                            + ["--idle",
                             IDLE, "--duration", self.secs + 40,
                             "--connect-retry", 30, "--ready-file", ready,
                             "--json"], tag=tag + ".recv")
        row = None
        try:
            if not self.wait(lambda: os.path.exists(ready), 60, recv):
                self.notes.append("%s: mcrecv's viewers did not connect" % tag)
                return None
            # every viewer taken by the server, the group joined
            if forks:
                took = lambda: len(PS.children(srv.pid)) >= n  # noqa: E731
            else:
                took = lambda: PS.socket_fds(srv.pid) >= n + 2  # noqa: E731
            if not self.wait(took, 30, srv):
                self.notes.append("%s: the server took fewer than %d viewers"
                                  % (tag, n))
            self.wait(lambda: PS.udp_sockets(srv.pid, UPORT) or
                      any(PS.udp_sockets(c, UPORT)
                          for c in PS.children(srv.pid)), 10, srv)
            time.sleep(0.5)
            cpu0, rc0 = PS.tree_ticks(srv.pid), PS.cpu_ticks(recv.pid)
            t0 = time.monotonic()
            send = self.s.spawn([T.MCSEND, "--count", count, "--rate",
                                 int(pps), "--size", SIZE, "--ttl", 1,
                                 "--iface", IF_S, "--quiet"]
                                + (["--ts"] if ts else [])
                                + ["%s:%d" % (GROUP, UPORT)],
                                tag=tag + ".send")
            rss = 0
            cpu1 = rc1 = None
            while recv.alive() and time.monotonic() - t0 < self.secs + 45:
                rss = max(rss, PS.tree_rss(srv.pid) or 0)
                c = PS.tree_ticks(srv.pid)
                if c is not None:
                    cpu1 = c
                r = PS.cpu_ticks(recv.pid)
                if r is not None:
                    rc1 = r
                time.sleep(0.1)
                if warm and not send.alive():
                    warm.stop(timeout=3)
                    warm = None
            recv.wait(10)
            send.wait(10)
            if not forks:
                cpu1 = PS.tree_ticks(srv.pid) or cpu1
                rss = max(rss, PS.status_kb(srv.pid, "VmHWM") or 0)
            js = None
            for line in reversed(recv.stdout().splitlines()):
                if line.startswith("{"):
                    js = json.loads(line)
                    break
            if js is None:
                self.notes.append("%s: no mcrecv summary: %s"
                                  % (tag, recv.stderr()[:200]))
                return None
            win = max(js["seconds"] - (IDLE if js["stop_reason"] == "idle"
                                       else 0), self.secs)
            # the measured stream only (mcsend's default stream 1)
            got = [c["streams"].get("1", {}).get("unique", 0)
                   for c in js["per_client"]]
            short = sum(1 for g in got if g < count)
            exp = count * n
            row = dict(kind=kind, n=n, cpu=PS.pct(cpu0, cpu1, win),
                       rcpu=PS.pct(rc0, rc1, win), rss=rss / 1024.0,
                       drops=short, loss=100.0 * (exp - sum(got)) / exp,
                       p50=js["latency_us"]["p50"] / 1000.0,
                       p99=js["latency_us"]["p99"] / 1000.0,
                       connected=js["connected_clients"])
            if js["stop_reason"] != "count" and not forks:
                self.notes.append("%s: mcrecv stopped by '%s' (%d of %d "
                                  "viewers connected)" % (
                                      tag, js["stop_reason"],
                                      js["connected_clients"], n))
            log("  cpu=%s%% rss=%.1fMiB drops=%d loss=%.3f%% p50=%.2fms "
                "p99=%.2fms" % (fmt(row["cpu"], "%.1f"), row["rss"], short,
                                row["loss"], row["p50"], row["p99"]))
            return row
        finally:
            if warm:
                warm.stop(timeout=3)
            recv.stop(timeout=3)
            srv.stop(timeout=5)

    def run(self):
        if os.geteuid() != 0:
            sys.exit("http_viewers: needs root (network namespaces)")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(self.viewers) + 256
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (min(max(want, soft), hard), hard))
        self.tmp = tempfile.mkdtemp(prefix="mcferry-http-viewers-")
        self.topology()
        rows = []
        try:
            for n in self.viewers:
                for kind in self.kinds:
                    try:
                        r = self.run_row(kind, n)
                    except T.TopoError as e:
                        self.notes.append("%s-%d: %s" % (
                            kind, n, str(e).splitlines()[0]))
                        r = None
                    if r:
                        rows.append(r)
        finally:
            self.t.close()
        self.print_table(rows)
        return 0

    def print_table(self, rows):
        print("\n## HTTP viewers of one %d Mbit/s channel (%gs per row, "
              "%d-byte datagrams)\n" % (MBIT, self.secs, SIZE))
        cols = ("server", "viewers", "CPU %", "RSS MiB", "drops",
                "loss %", "p50 ms", "p99 ms", "rcv CPU %")
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r in rows:
            name = {"mcferry": "mcferry http /udp/",
                    "mcferry-named": "mcferry http /channel/"}.get(r["kind"],
                                                                r["kind"])
            print("| %s | %d | %s | %.1f | %d | %.3f | %.2f | %.2f | %s |" % (
                name, r["n"], fmt(r["cpu"], "%.1f"), r["rss"], r["drops"],
                r["loss"], r["p50"], r["p99"], fmt(r["rcpu"], "%.1f")))
        if self.notes:
            print("\nNotes:")
            for n in self.notes:
                print("- " + n)
        print()


def main(argv):
    global T
    build = os.path.abspath(argv[1] if len(argv) > 1 else "build")
    if not os.path.isdir(build):
        sys.exit("http_viewers: no build directory '%s'" % build)
    os.environ["MCFERRY_BUILD"] = build
    import topo
    T = topo
    return Bench(build).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
