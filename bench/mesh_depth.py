#!/usr/bin/env python3
"""Per-hop latency x depth of the mesh: one stream from an island at the
first hub of a line of six, received by islands 0 to 5 hub-to-hub hops
away. Prints a Markdown table per rate on stdout (progress on stderr).

    h1 ---- h2 ---- h3 ---- h4 ---- h5 ---- h6        (hub i+1 dials hub i)
    |  \\     |       |       |               |
    I1  I7   I2      I3      I4              I6
  (send) (depth 0) (1)     (2)     (3)             (5)

Namespaces and processes are tests/net/meshtopo.py's MeshNet (picture in
tests/README.md, "Topology meshnet") on tests/net/topo.py: every hub and
gateway host hangs off one router R, the mesh's links are the hubs'
--peer URIs. Island I7 is a second island on h1 (meshtopo attaches
island i to hub i; this script starts I7's gateway on h1 itself).

mcsend in I1 (I1's sender host) sends a paced stream of 1316-byte
datagrams to 239.1.1.1:5000 on I1's LAN; every datagram carries its
CLOCK_MONOTONIC send time, and one mcrecv per receiving island (its
receiver host, joined on its LAN) reports the latency p50 / p99 / max of
what it got. The path to depth d: I1's gateway reads the group and
exports it (its writes gathered for up to 1 ms, GATEWAY_PACE_MS), hub 1
forwards it (1 ms gathering, HUB_PACE_MS) and so do the d hubs after it,
then the importing gateway sends it on its LAN. I1's own receiver host
gets the stream straight off I1's LAN (no mcferry): the row "LAN".

The per-hop increment is the least-squares slope of p50 (and of p99)
over the depths 0, 1, 2, 3, 5. Host busy % is all CPUs over the send
window; CPU % per process is utime + stime over the same window, and
writes/s its write system calls (syscw of /proc/PID/io) over it.

This is a benchmark: it asserts nothing about speed and exits 0 when the
harness worked, whatever the figures (loss or duplicates are listed
under Notes), 1 only when the harness failed (a namespace, process,
converged mesh, open path or parseable mcrecv summary missing).

Usage (root):  python3 bench/mesh_depth.py [BUILD_DIR]
Environment:   BENCH_DEPTH_RATES  datagrams/s, one table each (default "1000 100")
               BENCH_DEPTH_SECS   seconds of data per rate (default 10)
               BENCH_DEPTH_SIZE   datagram bytes (default 1316)
               BENCH_KEEP=1       keep the logs (their directory on stderr)
"""

import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))

import procstat as PS   # noqa: E402

T = None    # tests/net/topo.py and meshtopo.py, imported once
M = None    # MCFERRY_BUILD is set

NHUBS = 6
SENDER = 1                       # island of the sender, at hub 1
# receiving island -> (hub it hangs off, hub-to-hub hops from hub 1)
RECEIVERS = {7: (1, 0), 2: (2, 1), 3: (3, 2), 4: (4, 3), 6: (6, 5)}


def log(msg):
    print("mesh_depth: " + msg, file=sys.stderr, flush=True)


def env_list(name, default):
    return [int(x) for x in os.environ.get(name, default).split()]


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def netns_names():
    r = T.run(["ip", "netns", "list"], check=False)
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def sweep(prefix):
    """Namespaces of this run that topo never registered (a signal between
    `ip netns add` and the end of Netns.__init__) and what runs in them:
    the prefix was free when the run began, so they are ours."""
    for name in netns_names():
        if not name.startswith(prefix):
            continue
        r = T.run(["ip", "netns", "pids", name], check=False)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        T.run(["ip", "netns", "del", name], check=False)
        log("swept namespace %s" % name)


def line_graph():
    return M.Graph(NHUBS, [(i + 1, i) for i in range(1, NHUBS)],
                   name="line%d" % NHUBS)


class Depth:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mcferry-bench-depth-")
        self.t = None
        self.net = None
        self.notes = []
        self.stream = 0

    # -- topology
    def build(self):
        taken = netns_names()
        while True:
            prefix = "mfd" + secrets.token_hex(2)
            if not any(n.startswith(prefix) for n in taken):
                break
        self.t = T.Topology(os.path.join(self.tmp, "logs"), prefix=prefix)
        log("building namespaces %s* (6 hubs, 6 islands, R)" % self.t.prefix)
        t0 = time.monotonic()
        islands = [SENDER] + sorted(RECEIVERS)
        self.net = n = M.MeshNet(self.t, NHUBS, islands)
        chans = ((("--group", M.GROUP),))
        # Every island but I7 at its own hub (start_graph), I7 at hub 1.
        n.start_graph(line_graph(), {i: chans for i in islands
                                     if RECEIVERS.get(i, (i,))[0] == i})
        n.start_gateway(7, [RECEIVERS[7][0]], chans=chans)
        n.wait_forwarder(7)
        n.wait_converged(NHUBS, members=len(islands))
        log("mesh up and converged in %.1f s" % (time.monotonic() - t0))

    def open_paths(self, size):
        """A probe from I1's sender host out of every receiving island (a
        python receiver on its watcher host), so the trees are in place
        before mcsend starts."""
        n = self.net
        g, p = M.GROUP.rsplit(":", 1)
        tx = T.mcast_sender(n.host[(SENDER, "s")],
                            ifaddr=M.lan_addr(SENDER, 11))
        try:
            for i in sorted(RECEIVERS):
                w = n.watch(i)
                try:
                    s = T.wait_path_open(tx, (g, int(p)), w, size,
                                         timeout=20)
                    log("path to I%d open after %.2f s" % (i, s))
                finally:
                    w.close()
                    n.rx.remove(w)
        finally:
            tx.close()

    # -- one rate
    def measure(self, rate, secs, size):
        n = self.net
        count = rate * secs
        self.stream += 1
        sid = 200 + self.stream
        rx = {}
        for i in [SENDER] + sorted(RECEIVERS):
            rx[i] = T.start_mcrecv(
                n.host[(i, "r")],
                ["udp", M.GROUP, "--iface", "lan0", "--idle", 3,
                 "--duration", secs + 60, "--expect", count],
                tag="mcrecv-r%d-I%d" % (rate, i))
        procs = {("hub", i): p for i, p in n.hubs.items()}
        procs.update({("gw", i): p for i, p in n.gws.items()})
        c0 = {k: PS.cpu_ticks(p.pid) for k, p in procs.items()}
        w0s = {k: PS.tree_syscw(p.pid) for k, p in procs.items()}
        h0 = PS.host_cpu()
        w0 = time.monotonic()
        log("%d datagrams/s x %d s of %d bytes" % (rate, secs, size))
        sent = T.run_mcsend(n.host[(SENDER, "s")],
                            ["--count", count, "--rate", rate, "--size", size,
                             "--stream", sid, "--iface",
                             M.lan_addr(SENDER, 11), "--quiet", M.GROUP],
                            tag="mcsend-r%d" % rate, timeout=secs + 60)
        wall = time.monotonic() - w0
        h1 = PS.host_cpu()
        c1 = {k: PS.cpu_ticks(p.pid) for k, p in procs.items()}
        w1s = {k: PS.tree_syscw(p.pid) for k, p in procs.items()}
        cpu = {k: (None if c0[k] is None or c1[k] is None else
                   (c1[k] - c0[k]) / PS.HZ / wall * 100) for k in procs}
        wps = {k: (None if w0s[k] is None or w1s[k] is None else
                   (w1s[k] - w0s[k]) / wall) for k in procs}
        res = {i: T.mcrecv_result(p, timeout=secs + 70)
               for i, p in rx.items()}
        for k, p in procs.items():
            if not p.alive():
                self.notes.append("%s %d exited during the %d/s run" % (
                    k[0], k[1], rate))
        return dict(rate=rate, secs=secs, size=size, sent=sent, wall=wall,
                    busy=PS.host_busy(h0, h1), cpu=cpu, wps=wps, res=res)

    # -- output
    def table(self, m):
        rate, sent = m["rate"], m["sent"]
        busy = "-" if m["busy"] is None else "%.0f" % m["busy"]
        out = ["### %d datagrams/s x %d s, %d bytes (%.1f Mbit/s), host busy %s %%"
               % (rate, m["secs"], m["size"], rate * m["size"] * 8 / 1e6,
                  busy), "",
               "| depth (hub hops) | hubs crossed | island | received / sent "
               "| lost | dup | p50 ms | p99 ms | max ms |",
               "|---|---|---|---|---|---|---|---|---|"]
        rows = [("LAN", "0 (no mcferry)", SENDER)] + [
            (str(d), str(d + 1), i) for i, (_h, d) in
            sorted(RECEIVERS.items(), key=lambda kv: kv[1][1])]
        xs, p50s, p99s = [], [], []
        for depth, hubs, i in rows:
            r = m["res"][i]
            lat = r["latency_us"]
            out.append("| %s | %s | I%d | %d / %d | %d | %d | %.2f | %.2f | %.2f |"
                       % (depth, hubs, i, r["unique"], sent, r["lost"],
                          r["duplicates"], lat["p50"] / 1e3, lat["p99"] / 1e3,
                          lat["max"] / 1e3))
            if r["lost"] or r["duplicates"] or r["bad"]:
                self.notes.append("%d/s: I%d lost %d, %d duplicates, %d bad"
                                  % (rate, i, r["lost"], r["duplicates"],
                                     r["bad"]))
            if depth != "LAN" and r["unique"]:
                xs.append(int(depth))
                p50s.append(lat["p50"] / 1e3)
                p99s.append(lat["p99"] / 1e3)
        out.append("")
        if len(xs) >= 2:
            d0 = m["res"][7]["latency_us"]["p50"] / 1e3
            lan = m["res"][SENDER]["latency_us"]["p50"] / 1e3
            out.append("Per hub-to-hub hop (least-squares slope over depths "
                       "%s): p50 +%.2f ms, p99 +%.2f ms. Depth 0 (gateway "
                       "export, one hub, gateway import) over the LAN: p50 "
                       "+%.2f ms." % (", ".join(map(str, xs)),
                                      slope(xs, p50s), slope(xs, p99s),
                                      d0 - lan))
        def per(what, d, fmt):
            def c(k):
                v = d.get(k)
                return "-" if v is None else fmt % v
            out.append("%s over the send window: hubs %s; gateways %s." % (
                what,
                " ".join("h%d %s" % (i, c(("hub", i)))
                         for i in range(1, NHUBS + 1)),
                " ".join("I%d %s" % (i, c(("gw", i)))
                         for i in [SENDER] + sorted(RECEIVERS))))
        per("CPU %", m["cpu"], "%.1f")
        per("Write system calls/s (syscw)", m["wps"], "%.0f")
        return "\n".join(out) + "\n"

    def run(self):
        rates = env_list("BENCH_DEPTH_RATES", "1000 100")
        secs = int(os.environ.get("BENCH_DEPTH_SECS", "10"))
        size = int(os.environ.get("BENCH_DEPTH_SIZE", "1316"))
        keep = os.environ.get("BENCH_KEEP") == "1"
        tables, failed = [], None
        t0 = time.monotonic()
        try:
            for tool in (T.MCFERRY, T.MCSEND, T.MCRECV):
                if not os.access(tool, os.X_OK):
                    raise T.TopoError("missing %s (build first)" % tool)
            self.build()
            self.open_paths(size)
            for rate in rates:
                tables.append(self.table(self.measure(rate, secs, size)))
        except (T.TopoError, OSError, ValueError, KeyError,
                AssertionError) as e:
            failed = "%s: %s" % (type(e).__name__, str(e).splitlines()[0]
                                 if str(e) else "")
            if self.t is not None:
                print(self.t.describe_procs(), file=sys.stderr)
        finally:
            # A second SIGTERM or ^C must not cut the cleanup short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for what in (self.net, self.t):
                try:
                    if what is not None:
                        what.close()
                except Exception as e:
                    log("cleanup: %s" % e)
            if self.t is not None:
                sweep(self.t.prefix)
            if keep:
                log("logs kept in " + self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        print("## mcferry mesh depth (line of %d hubs, %d CPUs, %s, %.0f s)\n"
              % (NHUBS, os.cpu_count(), platform.release(),
                 time.monotonic() - t0))
        for t in tables:
            print(t)
        if self.notes:
            print("Notes:")
            for s in self.notes:
                print("- " + s)
        sys.stdout.flush()
        if failed:
            print("\nThe harness failed: " + failed, file=sys.stderr)
            return 1
        return 0


def main(argv):
    global T, M
    build = os.path.abspath(argv[1] if len(argv) > 1 else "build")
    if not os.path.isdir(build):
        sys.exit("mesh_depth: no build directory '%s' (run make first)"
                 % build)
    os.environ["MCFERRY_BUILD"] = build
    import topo
    import meshtopo
    T, M = topo, meshtopo

    def on_term(_sig, _frame):
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, on_term)
    try:
        return Depth().run()
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
