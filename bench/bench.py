#!/usr/bin/env python3
"""mcferry benchmark. Prints five Markdown tables on stdout (progress and
notes go to stderr, the notes are repeated on stdout under the tables):

  1. fan-out   one multicast stream -> mcferry relay (or a peer) -> N TCP clients
  2. ingest    datagrams/s the relay takes vs a bare recvmmsg loop (bare_recv)
  3. chain     the seed chain: multicast -> relay -> splitter -> relay -> multicast
  4. hub       3 islands, each a gateway, around one mcferry hub
  5. callgrind user-space instructions per delivered datagram per client

  source ns (P s)            relay ns (P r)                        clients ns (P c)
  mcsend -> 239.9.9.9:5000   mcferry relay / socat / msd_lite /    mcrecv tcp, N clients
                             udpxy / bare_recv
  src0 10.91.1.2 ========= rin0 10.91.1.1     rout0 10.91.2.1 ======= cli0 10.91.2.2
  (the hub table adds a hub ns and, per island, a gateway ns and a hosts ns)

Namespaces, veths and processes come from tests/net/topo.py, the same
library the namespace tests use. What is benchmarked is data: the matrices
below (rows of the fan-out table, ingest and chain configurations); the
peers (socat, MSD_LITE=, UDPXY=) are rows of bench/peers.py.

This is a benchmark, not a test: it asserts nothing about speed. It exits 0
when the harness worked, whatever the figures (mcferry losing data, cutting
clients off or crashing mid-run is reported under Notes, not as a failure),
and 1 only when the harness itself failed: a namespace could not be built, a
tool is missing, a process could not be started or became ready, a load
tool produced no parseable result.

Usage: python3 bench/bench.py [BUILD_DIR]     (make bench runs it on build)
Environment: see bench/README.md and ENV below.
"""

import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))

import peers     # noqa: E402
import procstat as PS   # noqa: E402

T = None         # tests/net/topo.py, imported once MCFERRY_BUILD is set

SIZE = 1316
# Kernel memory a 1316-byte datagram from a veth is charged in a UDP
# receive queue (skb truesize; measured on this machine, Linux 6.18: 2304 bytes), to
# turn /proc/net/udp's rx_queue into datagrams.
UDP_TRUESIZE = 2304
# The hub table's median rows: format of each cell after the label (None:
# not a number, no median).
HUB_MEDIAN_FMT = ["%d", "%d", "%.2f", "%.0f", "%.0f", "%.0f", "%.1f", "%.0f", "%.0f",
                  "%.1f", None, "%.1f", "%d", "%d", None, "%.0f"]
IDLE = 2
GROUP, GROUP2 = "239.9.9.9", "239.9.9.10"
UPORT, TPORT = 5000, 7000
RELAY_C, CLIENT_C = "10.91.2.1", "10.91.2.2"
IF_S, IF_SR, IF_CR, IF_C = "src0", "rin0", "rout0", "cli0"

# ---- what is measured -------------------------------------------------------
# Fan-out rows are (relay kind, Mbit/s in, clients); kind is mcferry,
# mcferry-wN (--workers N) or a peer of bench/peers.py. Ingest rows are
# (receiver, datagram bytes, TCP clients), chain rows (path, pps).

MATRICES = {
    "tiny": dict(
        rows=[("mcferry", 10, 1), ("mcferry", 10, 10), ("mcferry", 50, 20),
              ("mcferry-w2", 10, 10), ("socat", 10, 1)],
        secs=2, repeat=1, in_secs=1, in_repeat=1, ch_secs=1,
        hub_streams=2, hub_secs=2, cg_count=300,
        ingest=[("bare", 1316, 0), ("relay", 1316, 1)],
        chain=[("direct", 950), ("chain", 950), ("chaindg", 950)]),
    "default": dict(
        rows=[("mcferry", 10, 1), ("mcferry", 200, 100), ("mcferry", 50, 500),
              ("mcferry", 50, 100), ("mcferry", 10, 1000), ("mcferry", 1, 5000),
              ("mcferry-w2", 10, 1000), ("mcferry-w2", 1, 5000),
              ("mcferry", 10, 10), ("socat", 10, 1), ("socat", 10, 10)],
        secs=5, repeat=3, in_secs=3, in_repeat=3, ch_secs=4,
        hub_streams=10, hub_secs=5, cg_count=2000,
        ingest=[("bare", 1316, 0), ("relay", 1316, 0), ("relay", 1316, 1),
                ("bare", 64, 0), ("relay", 64, 0), ("relay", 64, 1)],
        chain=[("direct", 950), ("chain", 950), ("direct", 95000),
               ("chain", 95000), ("chaindg", 95000)]),
}

# environment knob -> (matrix key or None, type, default when no matrix key)
ENV = {
    "BENCH_SECONDS": ("secs", float, None),
    "BENCH_REPEAT": ("repeat", int, None),
    "BENCH_INGEST_SECONDS": ("in_secs", float, None),
    "BENCH_INGEST_REPEAT": ("in_repeat", int, None),
    "BENCH_CHAIN_SECONDS": ("ch_secs", float, None),
    "BENCH_HUB_STREAMS": ("hub_streams", int, None),
    "BENCH_HUB_SECONDS": ("hub_secs", float, None),
    "BENCH_CG_COUNT": ("cg_count", int, None),
    "BENCH_CG_CLIENTS": (None, int, 10),
    "BENCH_CG_RATE": (None, int, 400),
    "BENCH_BUDGET": (None, float, 330),
    "BENCH_TOTAL_BUDGET": (None, float, 480),
}

CHAIN_LABEL = {"direct": "direct multicast", "chain": "relay → splitter → relay",
               "chaindg": "same, framing=datagram"}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- formatting and statistics ------------------------------------------------

def fmt(x, f):
    return "-" if x is None or x == "-" else f % x


def nums(vals):
    return [v for v in vals if v is not None and v != "-"]


def median(vals):
    v = nums(vals)
    return statistics.median(v) if v else None


def num(cell):
    """A table cell as a number (None for "-" or text)."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def pctl(vals, q):
    """The Q-th percentile (nearest rank) of VALS."""
    v = sorted(nums(vals))
    return v[min(len(v) - 1, max(0, int(round(q / 100.0 * len(v))) - 1))] if v else None


def maxof(vals):
    v = nums(vals)
    return max(v) if v else None


def sumof(vals):
    v = nums(vals)
    return sum(v) if v else None


def mbps_pps(mb):
    return int(mb * 1e6 / (SIZE * 8) + 0.5)


def table(title, intro, cols, rows):
    """The one table printer: a Markdown table under a heading and a line
    of explanation; every row is a list of cells already formatted."""
    out = ["### " + title, "", intro, "",
           "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def kv(text, key):
    """KEY=value from a one-line key=value output (mcsend, bare_recv)."""
    m = re.findall(r"\b%s=([0-9.]+)" % key, text or "")
    return float(m[-1]) if m else None


# Old stats-line keys -> the registry's names (docs/metrics.md), which the
# stats line has printed since the registry came.
STAT_NAMES = {"in_dgrams": "mcferry_relay_in_datagrams_total",
              "out_dgrams": "mcferry_relay_out_datagrams_total",
              "drops": "mcferry_relay_dropped_datagrams_total",
              "cutoffs": "mcferry_relay_cutoffs_total",
              "skips": "mcferry_relay_skipped_datagrams_total",
              "episodes": "mcferry_relay_skip_episodes_total"}


def stat_field(text, key):
    """KEY=value from mcferry's last `stats relay=` line (KEY: the old
    short key or the registry's name)."""
    lines = [l for l in text.splitlines() if re.match(r"(\S+ )?stats relay=", l)
             or l.startswith("stats relay=")]
    if not lines:
        return None
    for k in (key, STAT_NAMES.get(key)):
        m = k and re.search(r"\b%s=(\d+)" % k, lines[-1])
        if m:
            return int(m.group(1))
    return None


def stat_sum(text, key):
    """Sum over channels of KEY in the last stats line of each channel."""
    last = {}
    for l in text.splitlines():
        if not l.startswith("stats ") or " channel=" not in l:
            continue
        ch = re.search(r"\bchannel=(\S+)", l).group(1)
        m = re.search(r"\b%s=(\d+)" % key, l)
        last[ch] = int(m.group(1)) if m else 0
    return sum(last.values())


def summary(p):
    try:
        return T.parse_json_summary(p.stdout())
    except Exception:
        return None


def kind_base(kind):
    """mcferry, or the peer's name, for a row's relay kind:
    mcferry[-wN][-before][?QUERY] (QUERY: options for the sink URI, with
    rcvbuf= going to the source's) or a peer of bench/peers.py."""
    return "mcferry" if kind.startswith("mcferry") else kind


def kind_parts(kind):
    """(workers, which binary: None, "before" or "alt", source options,
    sink options) of an mcferry kind."""
    k, _, q = kind.partition("?")
    m = re.search(r"-w(\d+)", k)
    opts = [o for o in q.split("&") if o]
    which = "before" if "-before" in k else "alt" if "-alt" in k else None
    return (int(m.group(1)) if m else 1, which,
            "".join("&" + o for o in opts if o.startswith("rcvbuf=")),
            "".join("&" + o for o in opts if not o.startswith("rcvbuf=")))


class HarnessError(Exception):
    pass


# ---- the run ------------------------------------------------------------------

class Bench:
    def __init__(self, build):
        self.build = build
        self.matrix = os.environ.get("BENCH_MATRIX", "default")
        if self.matrix not in MATRICES:
            sys.exit("bench: BENCH_MATRIX must be one of %s, not '%s'"
                     % ("|".join(MATRICES), self.matrix))
        m = dict(MATRICES[self.matrix])
        for var, (key, typ, dflt) in ENV.items():
            v = os.environ.get(var)
            name = key or var[6:].lower()
            m[name] = typ(v) if v else (m[key] if key else dflt)
        self.m = m
        self.tables = os.environ.get(
            "BENCH_TABLES", "fanout ingest chain hub callgrind").split()
        self.syncookies = os.environ.get("BENCH_SYNCOOKIES", "0") == "1"
        self.keep = os.environ.get("BENCH_KEEP", "0") == "1"
        self.notes = []
        self.hfails = []
        self.bare = os.path.join(build, "bench", "bare_recv")
        self.binaries = {"socat": shutil.which("socat")}
        for kind, pe in peers.PEERS.items():
            if pe["env"]:
                self.binaries[kind] = os.environ.get(pe["env"]) or None
        self.before = os.environ.get("BENCH_BEFORE") or None
        self.alt = os.environ.get("BENCH_ALT") or None
        # Diagnostics (bench/README.md, "Where the time goes"): perf record
        # of the relay while data flows, the TCP queues on both sides, the
        # clients' receive buffer.
        self.perf_dir = os.environ.get("BENCH_PERF") or None
        self.queues = os.environ.get("BENCH_QUEUES", "0") == "1"
        self.recv_rcvbuf = os.environ.get("BENCH_RECV_RCVBUF") or None
        if self.recv_rcvbuf and not self.recv_rcvbuf.isdigit():
            sys.exit("bench: BENCH_RECV_RCVBUF must be a byte count")
        if self.perf_dir:
            if not shutil.which("perf"):
                sys.exit("bench: BENCH_PERF needs perf on PATH")
            os.makedirs(self.perf_dir, exist_ok=True)
        self.rows = self.fan_rows()

    # -- notes
    def note(self, msg):
        self.notes.append(msg)
        log("note: " + msg)

    def hfail(self, msg):
        self.hfails.append(msg)
        self.note("HARNESS: " + msg)

    def elapsed(self):
        return time.monotonic() - self.t_start

    def want(self, name):
        if name not in self.tables:
            return False
        if self.elapsed() >= self.m["total_budget"]:
            self.note("overall time budget (%.0f s) used up: skipped the %s table"
                      % (self.m["total_budget"], name))
            return False
        return True

    def section_done(self, name):
        t = time.monotonic()
        log("-- %s took %.0f s (total %.0f s)" % (name, t - self.t_sec,
                                                  self.elapsed()))
        self.t_sec = t

    def fan_rows(self):
        spec = os.environ.get("BENCH_ROWS")
        if spec:
            rows = []
            for r in spec.split():
                f = r.split(":")
                if (len(f) != 3 or not re.fullmatch(
                        r"mcferry(-w\d+)?(-before|-alt)?(\?\S+)?|" + "|".join(
                        peers.PEERS), f[0]) or not f[1].isdigit()
                        or not f[2].isdigit()):
                    sys.exit("bench: BENCH_ROWS: '%s' is not KIND:MBITPS:CLIENTS" % r)
                rows.append((f[0], int(f[1]), int(f[2])))
        else:
            rows = list(self.m["rows"])
            # MSD_LITE= and UDPXY= add a row beside every plain mcferry row
            for kind, pe in peers.PEERS.items():
                if not pe["env"] or not self.binaries.get(kind):
                    continue
                for (k, mb, n) in self.m["rows"]:
                    if k == "mcferry" and n <= pe["most"]:
                        rows.append((kind, mb, n))
        if os.environ.get("BENCH_SOCAT", "1") != "1":
            rows = [r for r in rows if r[0] != "socat"]
        out = []
        for r in rows:
            base = kind_base(r[0])
            if "-before" in r[0] and not self.before or \
                    "-alt" in r[0] and not self.alt:
                self.note("%s: no BENCH_BEFORE=PATH or BENCH_ALT=PATH (another "
                          "mcferry binary); row skipped" % r[0])
                continue
            if base != "mcferry" and not self.binaries.get(base):
                if base == "socat":
                    log("socat not found; skipping the socat rows")
                else:
                    self.note("%s: no binary (set %s=PATH); row skipped"
                              % (r[0], peers.PEERS[base]["env"]))
                continue
            out.append(r)
        return out

    # -- processes
    def stop(self, p, grace=5):
        if p is not None:
            p.stop(timeout=grace)

    def wait_proc(self, p, secs):
        """Wait for P to exit; stop it if it outlives SECS (False then)."""
        try:
            p.p.wait(timeout=secs)
            p.close_files()
            return True
        except Exception:
            log("pid %d outlived %.0fs, stopping it" % (p.pid, secs))
            p.stop(timeout=3)
            return False

    def start_mcferry(self, tag, ns, args, timeout=10, binary=None):
        try:
            if binary:
                p = ns.spawn([binary] + [str(a) for a in args], tag=tag)
                p.wait_for_log(T.READY_RX, timeout=timeout)
                return p
            return T.start_mcferry(ns, [str(a) for a in args], tag=tag,
                                   timeout=timeout)
        except T.TopoError as e:
            self.hfail("%s: mcferry %s did not become ready: %s" % (
                tag, " ".join(map(str, args)),
                " ".join(str(e).splitlines()[-3:])))
            return None

    def wait_until(self, pred, secs, proc=None):
        """Poll PRED every 0.1 s for up to SECS; False if PROC died first."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if pred():
                return True
            if proc is not None and not proc.alive():
                return pred()
            time.sleep(0.1)
        return pred()

    def ready_file(self, tag):
        path = os.path.join(self.tmp, tag + ".ready")
        if os.path.exists(path):
            os.unlink(path)
        return path

    def mcferry_log_notes(self, tag, text):
        w = [l for l in text.splitlines() if re.match(r"(warn|error)", l)]
        if w:
            counts = {}
            for l in w:
                l = re.sub(r" c=\d+| peer=\S+| queued=\d+| sent=\d+| node=[0-9a-f]+",
                           "", l)
                counts[l] = counts.get(l, 0) + 1
            top = sorted(counts.items(), key=lambda kv_: -kv_[1])[:3]
            self.note("%s: %d warn/error lines in mcferry's log: %s" % (
                tag, len(w), "".join("%d %s;" % (c, l) for l, c in top)))
        crash = [l for l in text.splitlines()
                 if re.search(r"assert|sanitizer|segmentation|abort", l, re.I)]
        if crash:
            self.note("%s: mcferry's log mentions a crash: %s" % (
                tag, ";".join(crash[:2])))

    def ns_text(self, ns, path):
        return ns.exec(["cat", path]).stdout

    def udpc(self, ns):
        return PS.udp_counters(self.ns_text(ns, "/proc/net/snmp"))

    @staticmethod
    def udpd(a, b):
        return None if a is None or b is None else b[0] - a[0]

    # -- topology
    def build_topology(self):
        self.t = T.Topology(self.tmp, prefix="mfb" + T.new_prefix()[2:])
        t = self.t
        log("building namespaces %ss (source) %sr (relay) %sc (clients)"
            % ((t.prefix,) * 3))
        self.s, self.r, self.c = t.netns("s"), t.netns("r"), t.netns("c")
        t.veth(self.s, IF_S, self.r, IF_SR)
        T.add_addr(self.s, IF_S, "10.91.1.2/24")
        T.add_addr(self.r, IF_SR, "10.91.1.1/24")
        t.veth(self.c, IF_C, self.r, IF_CR)
        T.add_addr(self.c, IF_C, CLIENT_C + "/24")
        T.add_addr(self.r, IF_CR, RELAY_C + "/24")
        # Multicast leaves the source namespace only through its veth; the
        # relay namespace sends the chain's output group back the same way.
        # No namespace has a default route: nothing reaches the host's networks.
        self.s.ip("route", "add", "224.0.0.0/4", "dev", IF_S)
        self.r.ip("route", "add", "224.0.0.0/4", "dev", IF_SR)
        # The only kernel setting the benchmark changes: SYN cookies off in
        # the relay namespace (per-namespace sysctl). Thousands of clients
        # connecting at once can overflow the listen queue; with cookies a
        # client whose final ACK is dropped believes it is connected while
        # the relay never hears of it (the relay speaks first, the client
        # only reads), so the row would silently measure fewer clients.
        # Without cookies the kernel retransmits the SYN-ACK.
        if not self.syncookies:
            try:
                self.r.sysctl("net.ipv4.tcp_syncookies", 0)
            except T.TopoError:
                log("could not turn SYN cookies off in %s" % self.r.name)

    # ==========================================================================
    # 1. Fan-out: one multicast stream -> relay -> N TCP clients

    def run_fan(self, kind, mb, n, rep, secs=None, marks=None):
        """One fan-out run. secs: its length (default the matrix's);
        marks: a list that gets (seconds since the send began, RSS kB)
        every 10 s (the soak table)."""
        m = self.m
        secs = secs or m["secs"]
        tag = "%s-%dM-%d.r%d" % (re.sub(r"[^\w.-]", "_", kind), mb, n, rep)
        base = kind_base(kind)
        pps = mbps_pps(mb)
        count = int(pps * secs)
        log("[%d/%d] fan-out %s %gMbit/s (%dpps) clients=%d seconds=%g"
            % (rep, m["repeat"], kind, mb, pps, n, secs))
        if n + 64 > self.nofile:
            self.note("%s: skipped, RLIMIT_NOFILE is %d (need %d)"
                      % (tag, self.nofile, n + 64))
            return None
        names = ("ListenOverflows", "ListenDrops", "SyncookiesSent")
        ns0 = PS.tcpext(self.ns_text(self.r, "/proc/net/netstat"), names)
        pe = dict(http=False, forks=False, ts=False)
        if base == "mcferry":
            workers, before, srcq, sinkq = kind_parts(kind)
            relay = self.start_mcferry(tag + ".relay", self.r, [
                "relay", "--stats", 1, "--workers", workers,
                "udp://@%s:%d?iface=%s%s" % (GROUP, UPORT, IF_SR, srcq),
                "tcp://@:%d?framing=raw%s" % (TPORT, sinkq)],
                binary={"before": self.before, "alt": self.alt}.get(before))
            if relay is None:
                return None
        else:
            pe = peers.PEERS[base]
            relay = self.r.spawn(peers.peer_argv(
                base, self.binaries[base], tport=TPORT, group=GROUP, uport=UPORT,
                ifname=IF_SR, logdir=self.tmp, clients=n), tag=tag + ".relay")
            if not self.wait_until(lambda: PS.tcp_listening(relay.pid, TPORT),
                                   10, relay):
                log(relay.describe())
                self.stop(relay)
                self.hfail("%s: %s did not start listening" % (tag, base))
                return None

        ready = self.ready_file(tag)
        recv_t0 = time.monotonic()
        args = [T.MCRECV, "tcp", "%s:%d" % (RELAY_C, TPORT), "--clients", n,
                "--size", SIZE, "--expect", count, "--count", count,
                "--idle", IDLE, "--duration", secs + 30, "--connect-retry", 30,
                "--ready-file", ready, "--json"]
        if pe["http"]:
            args += ["--http", "/udp/%s:%d" % (GROUP, UPORT)]
        if self.recv_rcvbuf:
            args += ["--rcvbuf", self.recv_rcvbuf]
        recv = self.c.spawn(args, tag=tag + ".recv")
        ok = self.wait_until(lambda: os.path.exists(ready), 40, recv)
        if not ok and not recv.alive():
            self.hfail("%s: mcrecv exited before connecting: %s"
                       % (tag, recv.stderr()[:300].replace("\n", " ")))
            self.stop(relay)
            return None
        if not ok:
            self.note("%s: mcrecv clients did not all connect within 40 s" % tag)
            self.stop(recv)
            self.stop(relay)
            return None
        # A client's connect() returns before the relay has accepted it:
        # wait until the relay itself has taken every client.
        if base == "mcferry":
            try:
                relay.wait_for_log(r"client connected", timeout=30, count=n)
            except T.TopoError:
                self.note("%s: after 30 s mcferry had accepted only %d of %d "
                          "clients that the kernel had connected" % (
                              tag, len(relay.log_matches("client connected")), n))
        elif pe["forks"]:
            if not self.wait_until(lambda: len(PS.children(relay.pid)) >= n, 30):
                self.note("%s: after 30 s %s had only %d of %d child processes"
                          % (tag, base, len(PS.children(relay.pid)), n))
        else:
            # one process: a descriptor per client, the listener, the group
            if not self.wait_until(lambda: PS.socket_fds(relay.pid) >= n + 2, 30):
                self.note("%s: after 30 s %s held only %d sockets for %d clients"
                          % (tag, base, PS.socket_fds(relay.pid), n))
        if pe["http"] and not self.wait_until(
                lambda: PS.udp_sockets(relay.pid, UPORT), 10):
            self.note("%s: %s had not joined the group 10 s after its clients "
                      "asked for it" % (tag, base))
        time.sleep(0.5)

        # UDP sockets of the relay on the group's port: inode -> (first, last)
        # drops, sampled while data flows (per-client sockets of forking
        # relays go away with their client).
        udp = {}

        def udp_sample():
            for ino, d in (PS.udp_sockets(relay.pid, UPORT) or {}).items():
                udp[ino] = (udp[ino][0] if ino in udp else d, d)
            for c in PS.children(relay.pid):
                for ino, d in (PS.udp_sockets(c, UPORT) or {}).items():
                    udp[ino] = (udp[ino][0] if ino in udp else d, d)

        udp_sample()
        cpu0 = PS.tree_ticks(relay.pid)
        sw0 = PS.tree_syscw(relay.pid)
        rd0 = PS.run_delay_ns(relay.pid)
        rrd0 = PS.run_delay_ns(recv.pid)
        rc0 = PS.cpu_ticks(recv.pid)
        h0 = PS.host_cpu()
        perf = None
        if self.perf_dir and not pe["forks"]:
            # perf runs in the root namespace and follows the relay by PID
            # (every thread) until the data has gone through, then SIGINT.
            pf = os.path.join(self.perf_dir, tag + ".perf.data")
            perf = subprocess.Popen(
                ["perf", "record", "-q", "-e", "cpu-clock", "-g", "-p",
                 str(relay.pid), "-o", pf], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(self.perf_dir, tag + ".perf.err"), "w"))
            time.sleep(0.3)  # attached before the first datagram
        # BENCH_QUEUES: the relay's UDP receive queue (bytes charged), and
        # per client socket the relay's send and the client's receive queue
        qu, qsnd, qrcv = [], [], []
        t0 = time.monotonic()
        send = self.s.spawn([T.MCSEND, "--count", count, "--rate", pps,
                             "--size", SIZE, "--ttl", 1, "--iface", IF_S, "--quiet"]
                            + (["--ts"] if pe["ts"] else [])
                            + ["%s:%d" % (GROUP, UPORT)], tag=tag + ".send")
        # Sample the relay's RSS and the receiver's CPU while data flows,
        # until the receiver ends (all data in, every client closed, or IDLE
        # s idle); hard limit secs + 35 (mcrecv's own --duration is secs + 30).
        rssmax = pssmax = 0
        rc1 = h1 = cpu1 = rrd1 = None
        i = 0
        next_mark = 10
        while recv.alive() and i < (secs + 35) * 10:
            rss_now = PS.tree_rss(relay.pid) or 0
            rssmax = max(rssmax, rss_now)
            if marks is not None and time.monotonic() - t0 >= next_mark:
                marks.append((next_mark, rss_now))
                log("  soak t=%ds rss=%dkB" % (next_mark, rss_now))
                next_mark += 10
            rcv = PS.cpu_ticks(recv.pid)
            if rcv is not None:
                rc1, h1 = rcv, PS.host_cpu()
                rrd1 = PS.run_delay_ns(recv.pid)
            if pe["forks"]:
                cpu1 = PS.tree_ticks(relay.pid)
                if i % 10 == 5:
                    pssmax = max(pssmax, PS.tree_pss(relay.pid))
            udp_sample()
            if self.queues and send.alive():
                u = PS.udp_rx_queue(relay.pid, UPORT)
                if u is not None:
                    qu.append(u)
                qsnd += [t for t, _r in PS.tcp_queues(relay.pid, TPORT, True) or []]
                qrcv += [r for _t, r in PS.tcp_queues(recv.pid, TPORT, False) or []]
            time.sleep(0.1)
            i += 1
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            try:
                perf.wait(timeout=30)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.wait()
        if not self.wait_proc(send, 5):
            self.note("%s: mcsend had to be stopped" % tag)
        if not self.wait_proc(recv, 5):
            self.note("%s: mcrecv had to be stopped" % tag)
        udp_sample()
        sw1 = PS.tree_syscw(relay.pid)
        rd1 = PS.run_delay_ns(relay.pid)
        if not pe["forks"]:
            cpu1 = PS.tree_ticks(relay.pid)
            rssmax = max(rssmax, PS.status_kb(relay.pid, "VmHWM") or 0)
        else:
            # the children exit once their client is gone; the parent reaps
            # them and their CPU moves into its cutime/cstime
            self.wait_until(lambda: not PS.children(relay.pid), 3)
            c1 = PS.tree_ticks(relay.pid)
            if c1 is not None:
                cpu1 = c1
        if not relay.alive():
            self.note("%s: the relay exited during the run (see its log)" % tag)
        self.stop(relay, 5)
        ns1 = PS.tcpext(self.ns_text(self.r, "/proc/net/netstat"), names)

        # ---- figures
        sent = kv(send.stdout(), "sent")
        ssecs = kv(send.stdout(), "seconds")
        js = summary(recv)
        if sent is None or ssecs is None or js is None:
            self.hfail("%s: missing output (mcsend: '%s' mcrecv: '%s')" % (
                tag, (send.stdout() + send.stderr()).replace("\n", " "),
                recv.stderr()[:300].replace("\n", " ")))
            return None
        uniq, stopr = js["unique"], js["stop_reason"]
        # Delivery window: from the first datagram sent to the last one
        # received (mcrecv's end, less its idle wait if that is what stopped
        # it); never shorter than the send itself.
        win = max((recv_t0 - t0) + js["seconds"] - (IDLE if stopr == "idle" else 0),
                  ssecs)
        exp = sent * n
        # Loss by cause, in datagram copies (one per client): dropped at
        # the relay's UDP socket (one shared socket loses a copy for every
        # client), skipped by the relay's policy (slow=skip), missing at
        # clients whose connection the relay closed (eof/reset: cut off),
        # and the rest, never delivered (still queued when mcrecv gave up,
        # clients that never got in).
        R_pc = js.get("per_client") or []
        R = dict(GBPS=js["bytes"] * 8 / win / 1e9,
                 DELIV=100.0 * uniq / exp if exp else 0.0,
                 LOSS=100.0 * (exp - uniq) / exp if exp else 0.0,
                 CPU=PS.pct(cpu0, cpu1, win), RCPU=PS.pct(rc0, rc1, win),
                 HOST=PS.host_busy(h0, h1), RSS=rssmax,
                 P50=js["latency_us"]["p50"], P99=js["latency_us"]["p99"])
        # Ingest drops: datagrams the kernel dropped at the relay's own UDP
        # socket(s). One shared socket (mcferry, msd_lite) loses a datagram
        # for every client; a socket per client (socat, udpxy) for one.
        drops = sum(b - a for a, b in udp.values()) if udp else None
        R["IDROPS"] = drops
        icopies = (drops if pe["forks"] else drops * n) if drops is not None else 0
        skips = stat_field(relay.stderr(), "skips") if base == "mcferry" else None
        cut = sum(max(sent - c["unique"] - (0 if pe["forks"] else (drops or 0)), 0)
                  for c in R_pc if c.get("eof") or c.get("reset"))
        miss = exp - uniq
        R["L_IN"] = 100.0 * icopies / exp if exp and drops is not None else None
        R["L_SKIP"] = 100.0 * (skips or 0) / exp if exp and skips is not None else None
        R["L_CUT"] = 100.0 * cut / exp if exp else None
        R["L_NEVER"] = (100.0 * max(miss - icopies - (skips or 0) - cut, 0) / exp
                        if exp else None)
        # Write system calls per delivered datagram copy (syscw of
        # /proc/PID/io; a forking peer's exited children are not counted):
        # the kernel work per write does not depend on the machine's noise
        # as CPU time does.
        R["WPD"] = (sw1 - sw0) / uniq if sw0 is not None and sw1 and uniq \
            and not pe["forks"] else None
        R["CPUGB"] = (R["CPU"] / R["GBPS"] if R["CPU"] is not None and R["GBPS"]
                      else None)
        # Time the relay was runnable but had no CPU (schedstat), in % of
        # the window: a relay below 100 % CPU that still falls behind was
        # waiting for the machine, not for its sockets, when this is high.
        R["RUNQ"] = (100.0 * (rd1 - rd0) / 1e9 / win
                     if rd0 is not None and rd1 is not None and not pe["forks"]
                     else None)
        # Queues while data flowed, as time (Little's law): the relay's UDP
        # receive queue at the input rate (bytes charged / UDP_TRUESIZE per
        # datagram), the relay's unacknowledged TCP send queue and the
        # clients' unread receive queue at the delivered rate per client.
        R["UDPQ"] = R["SNDQ"] = R["RCVQ"] = None
        pcr = js["bytes"] / win / n if n and win else 0

        def q_ms(b, rate):
            return 1000.0 * b / rate

        if qu and pps:
            R["UDPQ"] = q_ms(statistics.mean(qu) / UDP_TRUESIZE, pps)
        if qsnd and qrcv and pcr:
            R["SNDQ"] = q_ms(statistics.mean(qsnd), pcr)
            R["RCVQ"] = q_ms(statistics.mean(qrcv), pcr)
            log("  queues as ms, mean / p99 / max over samples: relay udp rxq "
                "%.1f / %.1f / %.1f (%d samples); per client socket (%.2f Mbit/s): "
                "relay sndq %.1f / %.1f / %.1f, clients' rcvq %.1f / %.1f / %.1f" % (
                    R["UDPQ"] or 0, q_ms(pctl(qu, 99) / UDP_TRUESIZE, pps),
                    q_ms(max(qu) / UDP_TRUESIZE, pps), len(qu), pcr * 8 / 1e6,
                    R["SNDQ"], q_ms(pctl(qsnd, 99), pcr), q_ms(max(qsnd), pcr),
                    R["RCVQ"], q_ms(pctl(qrcv, 99), pcr), q_ms(max(qrcv), pcr)))
        if base == "mcferry":
            rlog = relay.stderr()
            R["DROPS"] = stat_field(rlog, "drops")
            R["CUTS"] = stat_field(rlog, "cutoffs")
            R["SKIPS"] = skips
            R["EPIS"] = stat_field(rlog, "episodes")
            indg = stat_field(rlog, "in_dgrams")
            if indg is not None and indg != sent:
                self.note("%s: mcferry read %d of %d datagrams (the rest were lost "
                          "before the relay, e.g. UDP receive buffer)"
                          % (tag, indg, sent))
            outdg = stat_field(rlog, "out_dgrams")
            if outdg is not None and outdg != uniq:
                self.note("%s: mcferry counted out_dgrams=%d but the clients "
                          "received %d unique datagrams" % (tag, outdg, uniq))
            self.mcferry_log_notes(tag, rlog)
            # Clients that mcrecv closed (after IDLE s without data) while
            # the relay still held data for them: data stranded in the relay.
            q = [int(x) for x in re.findall(
                r"client closed reason=eof.*?queued=([1-9]\d*)", rlog)]
            if q:
                self.note("%s: %d clients were closed by mcrecv after %d s without "
                          "data while mcferry still had data queued for them "
                          "(queued bytes, min and max: %d %d): for %d s the relay "
                          "wrote nothing more to clients that were reading"
                          % (tag, len(q), IDLE, min(q), max(q), IDLE))
        else:
            R["DROPS"] = R["CUTS"] = R["SKIPS"] = R["EPIS"] = "-"
            if pe["forks"] and n > 1:
                self.note("%s: %s's %d processes: RSS sum %.1f MiB (shared pages "
                          "counted in every process), PSS sum %.1f MiB"
                          % (tag, base, n + 1, rssmax / 1024, pssmax / 1024))
            if base == "socat":
                err = [l for l in relay.stderr().splitlines() if " E " in l]
                if err:
                    self.note("%s: socat logged errors: %s" % (tag, ";".join(err[:2])))
        if stopr != "count":
            self.note("%s: mcrecv stopped by '%s' (connected=%d/%d, unique=%d of %d)"
                      % (tag, stopr, js["connected_clients"], n, uniq, exp))
        if ns0 and ns1 and ns0 != ns1:
            d = " ".join("%s +%d" % (k, ns1[k] - ns0[k]) for k in names
                         if ns1[k] != ns0[k])
            self.note("%s: the clients' connect burst overflowed the relay's "
                      "listen queue: %s (kernel counters of the relay namespace; "
                      "SYN cookies %s)" % (tag, d, "on" if self.syncookies
                                           else "off, so the kernel retried them"))
        if R["RCPU"] is not None and R["RCPU"] >= 90:
            self.note("%s: the receiver (mcrecv, one thread) used %.1f%% of a core: "
                      "the figures of this row are bounded by the load "
                      "generator/machine, not only by the relay" % (tag, R["RCPU"]))
        log("  sent=%d in %gs window=%.3fs unique=%d bytes=%d relay_cpu=%s%% "
            "recv_cpu=%s%% host_busy=%s%% rss=%dkB p50=%sus p99=%sus "
            "ingest_drops=%s runq_wait=%s%% recv_runq_wait=%s%% stop=%s" % (
                sent, ssecs, win, uniq, js["bytes"], fmt(R["CPU"], "%.1f"),
                fmt(R["RCPU"], "%.1f"), fmt(R["HOST"], "%.0f"), rssmax,
                R["P50"], R["P99"], drops, fmt(R["RUNQ"], "%.1f"),
                fmt(100.0 * (rrd1 - rrd0) / 1e9 / win if rrd0 is not None and rrd1
                    is not None else None, "%.1f"), stopr))
        return R

    def fanout(self):
        m = self.m
        configs = self.rows
        V = {}
        # Every configuration runs REPEAT times, round-robin over the rows
        # (so a burst of noise from other tenants hits different rows, not
        # one row three times), and within rows of the same rate and clients
        # the order of the relays rotates from one repetition to the next,
        # so drift lands on every relay. The table shows the median of each
        # column (drops and cutoffs: the sum, loss: the worst). No new run
        # starts after BENCH_BUDGET seconds.
        groups = []
        for cfg in configs:
            g = next((g for g in groups if (g[0][1], g[0][2]) == cfg[1:]), None)
            if g is None:
                groups.append([cfg])
            else:
                g.append(cfg)
        for rep in range(1, m["repeat"] + 1):
            for g in groups:
                k = (rep - 1) % len(g)
                for cfg in g[k:] + g[:k]:
                    if self.elapsed() >= m["budget"]:
                        self.note("fan-out time budget (%.0f s) used up: skipped "
                                  "%s:%d:%d run %d" % ((m["budget"],) + cfg + (rep,)))
                        continue
                    R = self.run_fan(*cfg, rep)
                    if R is not None:
                        V.setdefault(cfg, []).append(R)

        def col(cfg, key):
            return [R[key] for R in V.get(cfg, [])]

        med = {}
        for cfg in configs:
            if cfg in V:
                med[cfg] = {k: median(col(cfg, k)) for k in
                            ("GBPS", "DELIV", "P50", "P99", "UDPQ", "SNDQ", "RCVQ",
                             "RUNQ", "CPU",
                             "CPUGB", "WPD", "RSS",
                             "RCPU", "HOST", "L_IN", "L_SKIP", "L_CUT", "L_NEVER")}
                med[cfg]["LOSS"] = maxof(col(cfg, "LOSS"))
        # The 1-client row of each relay kind is the RSS baseline.
        base_rss = {}
        for cfg in configs:
            if cfg[2] == 1 and cfg in med and cfg[0] not in base_rss:
                base_rss[cfg[0]] = med[cfg]["RSS"]
        rows = []
        for cfg in configs:
            kind, mb, n = cfg
            if cfg not in V:
                rows.append([kind, mb, n, "failed (see notes)"] + ["-"] * 25)
                continue
            M = med[cfg]
            perc = "-"
            if n > 1 and kind in base_rss:
                perc = "%.1f" % ((M["RSS"] - base_rss[kind]) / (n - 1))
            drops, cuts = sumof(col(cfg, "DROPS")), sumof(col(cfg, "CUTS"))
            epis = sumof(col(cfg, "EPIS"))
            rows.append([kind, mb, n, fmt(M["GBPS"], "%.3f"), fmt(M["DELIV"], "%.2f"),
                         fmt(M["LOSS"], "%.2f"), fmt(M["L_IN"], "%.2f"),
                         fmt(M["L_SKIP"], "%.2f"), fmt(M["L_CUT"], "%.2f"),
                         fmt(M["L_NEVER"], "%.2f"),
                         fmt(M["CPU"], "%.1f"), fmt(M["RUNQ"], "%.1f"),
                         fmt(M["CPUGB"], "%.1f"), fmt(M["WPD"], "%.3f"),
                         "%.1f" % (M["RSS"] / 1024), perc,
                         fmt(M["P50"], "%.0f"), fmt(M["P99"], "%.0f"),
                         fmt(M["UDPQ"], "%.1f"), fmt(M["SNDQ"], "%.1f"),
                         fmt(M["RCVQ"], "%.1f"),
                         "-" if drops is None else drops,
                         "-" if cuts is None else cuts,
                         "-" if epis is None else epis,
                         fmt(sumof(col(cfg, "IDROPS")), "%d"),
                         fmt(M["RCPU"], "%.0f"), fmt(M["HOST"], "%.0f")])
            if len(V[cfg]) != m["repeat"]:
                self.note("%s:%d:%d: only %d of %d repetitions produced figures"
                          % (kind, mb, n, len(V[cfg]), m["repeat"]))

        def ratio(a, b, key):
            x, y = med[a][key], med[b][key]
            return "-" if x is None or y is None or y == 0 else "%.2fx" % (x / y)

        # Every mcferry row against every peer row of the same rate and
        # clients (and an mcferry-before row, when there is one).
        for cfg in configs:
            kind, mb, n = cfg
            if kind.startswith("mcferry") or cfg not in med:
                continue
            for mc in configs:
                if (not mc[0].startswith("mcferry") or mc[1:] != cfg[1:]
                        or mc not in med):
                    continue
                rows.append([mc[0] + "/" + kind, mb, n, ratio(mc, cfg, "GBPS"),
                             "-", "%s vs %s" % (fmt(med[mc]["LOSS"], "%.2f"),
                                                fmt(med[cfg]["LOSS"], "%.2f"))]
                            + ["-"] * 4 + [ratio(mc, cfg, "CPU"), ratio(mc, cfg, "RUNQ"),
                                           ratio(mc, cfg, "CPUGB"),
                                           ratio(mc, cfg, "WPD"),
                                           ratio(mc, cfg, "RSS"), "-",
                                           ratio(mc, cfg, "P50"),
                                           ratio(mc, cfg, "P99"),
                                           ratio(mc, cfg, "UDPQ"),
                                           ratio(mc, cfg, "SNDQ"),
                                           ratio(mc, cfg, "RCVQ")] + ["-"] * 6)
        return table(
            "1. Fan-out: multicast -> relay -> N TCP clients",
            "%d-byte datagrams, %g s per run; each row: median of %d run(s), "
            "round-robin (loss: worst run; drops, cutoffs: sum). RSS/client: "
            "(RSS - RSS of the same relay with 1 client) / (clients - 1). "
            "Loss by cause, in %% of the datagram copies the clients should "
            "have got (medians): ingest = dropped at the relay's UDP socket "
            "(/proc/net/udp; a shared socket loses a copy per client), skipped "
            "= the relay's slow=skip policy, cut-off = missing at clients the "
            "relay closed, never = the rest (still queued when mcrecv gave up). "
            "CPU/Gbit = relay CPU %% per delivered Gbit/s; writes/dgram = the "
            "relay's write system calls (/proc/PID/io syscw) per delivered "
            "copy. runq wait = time the relay was runnable without a CPU "
            "(/proc/PID/task/*/schedstat), %% of the window. udp rxq / sndq / rcvq ms (BENCH_QUEUES=1): means while data "
            "flowed of the relay's UDP receive queue (/proc/net/udp, at the "
            "input rate), its unacknowledged TCP send queue and the clients' "
            "unread receive queue per client (/proc/net/tcp, at the delivered "
            "rate per client), as time. Ratio rows: "
            "medians, < 1 = mcferry used less." % (SIZE, m["secs"], m["repeat"]),
            ["relay", "Mbit/s in", "clients", "delivered Gbit/s", "delivered %",
             "loss %", "ingest %", "skipped %", "cut-off %", "never %",
             "relay CPU %", "runq wait %", "CPU/Gbit", "writes/dgram",
             "relay RSS MiB",
             "RSS/client KiB",
             "p50 µs", "p99 µs", "udp rxq ms", "sndq ms", "rcvq ms", "drops",
             "cutoffs",
             "skip episodes",
             "ingest drops", "mcrecv CPU %", "host busy %"], rows)

    def soak(self):
        """A long fan-out run (BENCH_SOAK_SECONDS, default 60) of each
        BENCH_SOAK_ROWS row (default mcferry:200:100), RSS every 10 s."""
        secs = float(os.environ.get("BENCH_SOAK_SECONDS", "60"))
        spec = os.environ.get("BENCH_SOAK_ROWS", "mcferry:200:100").split()
        rows = []
        for r in spec:
            kind, mb, n = r.split(":")
            if kind_base(kind) != "mcferry" and not self.binaries.get(kind_base(kind)):
                self.note("soak %s: no binary; skipped" % r)
                continue
            marks = []
            R = self.run_fan(kind, int(mb), int(n), 1, secs=secs, marks=marks)
            if R is None:
                rows.append([kind, mb, n, "failed (see notes)"] + ["-"] * 8)
                continue
            rows.append([kind, mb, n, "%.3f" % R["GBPS"], fmt(R["LOSS"], "%.2f"),
                         fmt(R["L_IN"], "%.2f"), fmt(R["L_SKIP"], "%.2f"),
                         fmt(R["L_CUT"], "%.2f"), fmt(R["CPU"], "%.1f"),
                         " / ".join("%.1f" % (k / 1024) for _t, k in marks) or "-",
                         "%.1f" % (R["RSS"] / 1024)])
        return table(
            "Soak: %g s of fan-out, RSS every 10 s" % secs,
            "One run per row; RSS MiB sampled at 10, 20, ... s after the send "
            "began; peak = the larger of VmHWM and the samples.",
            ["relay", "Mbit/s in", "clients", "delivered Gbit/s", "loss %",
             "ingest %", "skipped %", "cut-off %", "relay CPU %",
             "RSS MiB every 10 s", "peak RSS MiB"], rows)

    # ==========================================================================
    # 2. Ingest: datagrams/s the relay takes vs a bare recvmmsg loop
    # mcsend --rate 0 for in_secs; rate = datagrams received / sender's seconds.

    def run_ingest(self, kind, size, n, rep):
        secs = self.m["in_secs"]
        tag = "ingest-%s-%d-%d.r%d" % (kind, size, n, rep)
        log("[%d/%d] ingest %s size=%d clients=%d seconds=%g"
            % (rep, self.m["in_repeat"], kind, size, n, secs))
        cl = None
        if kind == "bare":
            ready = self.ready_file(tag)
            rx = self.r.spawn([self.bare, "%s:%d" % (GROUP, UPORT), IF_SR,
                               "--duration", secs + 15, "--idle", 1,
                               "--ready-file", ready], tag=tag + ".rx")
            if not self.wait_until(lambda: os.path.exists(ready), 10, rx):
                self.hfail("%s: bare_recv did not start: %s"
                           % (tag, rx.stderr()[:300]))
                self.stop(rx)
                return None
        else:
            rx = self.start_mcferry(tag + ".rx", self.r, [
                "relay", "--stats", 1,
                "udp://@%s:%d?iface=%s" % (GROUP, UPORT, IF_SR),
                "tcp://@:%d?framing=raw" % TPORT])
            if rx is None:
                return None
            if n > 0:
                ready = self.ready_file(tag + ".c")
                cl = self.c.spawn([T.MCRECV, "tcp", "%s:%d" % (RELAY_C, TPORT),
                                   "--clients", n, "--size", size, "--idle", 0,
                                   "--duration", secs + 20, "--connect-retry", 10,
                                   "--json", "--ready-file", ready],
                                  tag=tag + ".recv")
                if not self.wait_until(lambda: os.path.exists(ready), 15, cl):
                    self.hfail("%s: mcrecv did not connect" % tag)
                    self.stop(cl)
                    self.stop(rx)
                    return None
                try:
                    rx.wait_for_log("client connected", timeout=10, count=n)
                except T.TopoError:
                    self.note("%s: mcferry did not log the client's connection" % tag)
        time.sleep(0.3)
        cpu0, h0, u0 = PS.cpu_ticks(rx.pid), PS.host_cpu(), self.udpc(self.r)
        send = self.s.spawn([T.MCSEND, "--count", 0, "--rate", 0, "--size", size,
                             "--ttl", 1, "--iface", IF_S, "--quiet",
                             "%s:%d" % (GROUP, UPORT)], tag=tag + ".send")
        time.sleep(secs)
        self.stop(send, 5)
        cpu1, h1 = PS.cpu_ticks(rx.pid), PS.host_cpu()
        sent, ssecs = kv(send.stdout(), "sent"), kv(send.stdout(), "seconds")
        if kind == "bare":
            if not self.wait_proc(rx, 10):
                self.note("%s: bare_recv had to be stopped" % tag)
            got = kv(rx.stdout(), "dgrams")
            cuts = "-"
        else:
            if not rx.alive():
                self.note("%s: the relay exited during the run (see its log)" % tag)
            # mcferry prints a last stats line when it shuts down
            time.sleep(0.2)
            self.stop(rx, 5)
            got = stat_field(rx.stderr(), "in_dgrams")
            cuts = stat_field(rx.stderr(), "cutoffs")
            self.mcferry_log_notes(tag, rx.stderr())
            if cl is not None and not self.wait_proc(cl, 5):
                self.note("%s: mcrecv had to be stopped" % tag)
        u1 = self.udpc(self.r)
        if sent is None or not ssecs or got is None:
            self.hfail("%s: missing output (mcsend: '%s' receiver: '%s')" % (
                tag, (send.stdout() + send.stderr()).replace("\n", " "),
                rx.stdout()[:200].replace("\n", " ")))
            return None
        R = dict(SENT=sent / ssecs, RATE=got / ssecs,
                 LOSS=100.0 * (sent - got) / sent if sent else 0.0,
                 CPU=PS.pct(cpu0, cpu1, ssecs), HOST=PS.host_busy(h0, h1),
                 DROPS=self.udpd(u0, u1), CUTS=cuts)
        # datagrams per second of receiver CPU: what one core would take if
        # the receiver had it to itself (the sender is as often the limit)
        R["PERCPU"] = R["RATE"] / (R["CPU"] / 100) if R["CPU"] else None
        log("  sent=%d in %gs received=%d rate=%.0f/s cpu=%s%% per-cpu-second=%s "
            "rcvbuf_drops=%s cutoffs=%s host_busy=%s%%" % (
                sent, ssecs, got, R["RATE"], fmt(R["CPU"], "%.1f"),
                fmt(R["PERCPU"], "%.0f"), R["DROPS"], cuts, fmt(R["HOST"], "%.0f")))
        return R

    def ingest(self):
        m = self.m
        configs = m["ingest"]
        V = {}
        for rep in range(1, m["in_repeat"] + 1):
            for cfg in configs:
                R = self.run_ingest(*cfg, rep)
                if R is not None:
                    V.setdefault(cfg, []).append(R)
        med = {cfg: {k: median([R[k] for R in V[cfg]]) for k in
                     ("SENT", "RATE", "LOSS", "CPU", "PERCPU", "HOST", "DROPS")}
               for cfg in V}
        rows = []
        for cfg in configs:
            kind, size, n = cfg
            if cfg not in V:
                rows.append([size, kind, n, "failed (see notes)"] + ["-"] * 9)
                continue
            M = med[cfg]
            rat = ratc = "-"
            b = med.get(("bare", size, 0))
            if kind == "relay" and b:
                if b["RATE"]:
                    rat = "%.2f" % (M["RATE"] / b["RATE"])
                if M["PERCPU"] is not None and b["PERCPU"]:
                    ratc = "%.2f" % (M["PERCPU"] / b["PERCPU"])
            cu = "-" if kind == "bare" else fmt(sumof([R["CUTS"] for R in V[cfg]]), "%d")
            rows.append([size, "bare_recv" if kind == "bare" else "mcferry relay", n,
                         fmt(M["SENT"], "%.0f"), fmt(M["RATE"], "%.0f"),
                         fmt(M["LOSS"], "%.1f"), rat, fmt(M["CPU"], "%.0f"),
                         fmt(M["PERCPU"], "%.0f"), ratc, fmt(M["DROPS"], "%.0f"),
                         cu, fmt(M["HOST"], "%.0f")])
        return table(
            "2. Ingest: datagrams/s taken from one multicast group",
            "mcsend --rate 0 (as fast as it can) for %g s; received/s = datagrams "
            "the receiver got (bare_recv's count, mcferry's in_dgrams) / sender's "
            "seconds; median of %d run(s). Both receivers use a 2 MiB receive "
            "buffer and 64-datagram recvmmsg. If received ≈ sent, the sender, not "
            "the receiver, was the limit." % (m["in_secs"], m["in_repeat"]),
            ["bytes", "receiver", "TCP clients", "sent/s", "received/s",
             "not received %", "relay/bare", "receiver CPU %",
             "received per CPU-second", "relay/bare per CPU-second",
             "rcvbuf drops", "cutoffs", "host busy %"], rows)

    # ==========================================================================
    # 3. Seed chain: multicast -> relay -> splitter -> relay -> multicast
    #   mcsend (s) -> 239.9.9.9 -> A: relay udp://@G tcp://10.91.2.2:1602 (r)
    #   -> splitter: relay tcp://@:1602 tcp://@:1603 (c)
    #   -> B: relay tcp://10.91.2.2:1603 udp://239.9.9.10?iface= (r) -> mcrecv udp (s)
    # direct: mcsend (s) -> 239.9.9.9 -> mcrecv udp (r), the one-hop baseline.

    def run_chain(self, mode, pps):
        secs = self.m["ch_secs"]
        tag = "chain-%s-%d" % (mode, pps)
        count = int(pps * secs)
        log("chain %s %dpps seconds=%g" % (mode, pps, secs))
        ready = self.ready_file(tag)
        # framing stays explicit: the CLI's default may change
        fr = "?framing=datagram" if mode == "chaindg" else "?framing=raw"
        hops = []
        recv_args = ["--expect", count, "--count", count, "--idle", IDLE,
                     "--duration", secs + 20, "--json", "--ready-file", ready]
        if mode != "direct":
            for hop, ns, args in (
                    ("split", self.c, ["tcp://@:1602" + fr, "tcp://@:1603" + fr]),
                    ("b", self.r, ["tcp://%s:1603%s" % (CLIENT_C, fr),
                                   "udp://%s:%d?iface=%s" % (GROUP2, UPORT, IF_SR)]),
                    ("a", self.r, ["udp://@%s:%d?iface=%s" % (GROUP, UPORT, IF_SR),
                                   "tcp://%s:1602%s" % (CLIENT_C, fr)])):
                p = self.start_mcferry("%s.%s" % (tag, hop), ns,
                                       ["relay", "--stats", 1] + args)
                if p is None:
                    for _h, q in hops:
                        self.stop(q)
                    return None
                hops.append((hop, p))
            split = hops[0][1]
            try:
                split.wait_for_log("publisher connected", timeout=10)
                split.wait_for_log("client connected", timeout=10)
            except T.TopoError:
                self.note("%s: the splitter did not log both connections within 10 s"
                          % tag)
            recv = self.s.spawn([T.MCRECV, "udp", "%s:%d" % (GROUP2, UPORT),
                                 "--iface", IF_S] + recv_args, tag=tag + ".recv")
        else:
            recv = self.r.spawn([T.MCRECV, "udp", "%s:%d" % (GROUP, UPORT),
                                 "--iface", IF_SR] + recv_args, tag=tag + ".recv")
        if not self.wait_until(lambda: os.path.exists(ready), 10, recv):
            self.hfail("%s: mcrecv udp did not start: %s" % (tag, recv.stderr()[:200]))
            for p in [recv] + [q for _h, q in hops]:
                self.stop(p)
            return None
        time.sleep(0.3)
        pids = [q.pid for _h, q in hops]
        c0 = sum(PS.cpu_ticks(p) or 0 for p in pids)
        h0, us0, ur0 = PS.host_cpu(), self.udpc(self.s), self.udpc(self.r)
        send = self.s.spawn([T.MCSEND, "--count", count, "--rate", pps, "--size", SIZE,
                             "--ttl", 1, "--iface", IF_S, "--quiet",
                             "%s:%d" % (GROUP, UPORT)], tag=tag + ".send")
        if not self.wait_proc(send, secs * 3 + 10):
            self.note("%s: mcsend had to be stopped" % tag)
        if not self.wait_proc(recv, IDLE + 20):
            self.note("%s: mcrecv had to be stopped" % tag)
        h1, us1, ur1 = PS.host_cpu(), self.udpc(self.s), self.udpc(self.r)
        c1 = sum(PS.cpu_ticks(p) or 0 for p in pids)
        hoptext = ""
        if mode != "direct":
            for _h, q in hops:
                if not q.alive():
                    self.note("%s: relay pid %d exited during the run" % (tag, q.pid))
            # mcferry prints a last stats line when it shuts down
            for _h, q in hops:
                q.send_signal(signal.SIGTERM)
            for hop in ("a", "split", "b"):
                q = dict(hops)[hop]
                self.stop(q, 3)
                e = q.stderr()
                hoptext += " %s: in=%s out=%s drops=%s cutoffs=%s;" % (
                    hop, stat_field(e, "in_dgrams"), stat_field(e, "out_dgrams"),
                    stat_field(e, "drops"), stat_field(e, "cutoffs"))
                self.mcferry_log_notes("%s.%s" % (tag, hop), e)
        sent, ssecs, js = kv(send.stdout(), "sent"), kv(send.stdout(), "seconds"), summary(recv)
        if sent is None or not ssecs or js is None:
            self.hfail("%s: missing output (mcsend: '%s' mcrecv: '%s')" % (
                tag, send.stdout().replace("\n", " "),
                recv.stderr()[:300].replace("\n", " ")))
            return None
        uniq, stopr = js["unique"], js["stop_reason"]
        hoptext += (" receiver: unique=%d bad=%d of %d sent; rcvbuf drops: receiver "
                    "ns %s, relay ns %s" % (uniq, js["bad"], sent,
                                            fmt(self.udpd(us0, us1), "%d"),
                                            fmt(self.udpd(ur0, ur1), "%d")))
        if stopr != "count":
            self.note("%s: mcrecv stopped by '%s' (unique=%d of %d, bad=%d)"
                      % (tag, stopr, uniq, sent, js["bad"]))
        R = dict(SENTM=sent * SIZE * 8 / ssecs / 1e6, DELM=uniq * SIZE * 8 / ssecs / 1e6,
                 LOSS=100.0 * (sent - uniq) / sent if sent else 0.0,
                 P50=js["latency_us"]["p50"], P99=js["latency_us"]["p99"],
                 CPU=None if mode == "direct" else PS.pct(c0, c1, ssecs),
                 HOST=PS.host_busy(h0, h1), HOPS=hoptext)
        log("  sent=%d in %gs unique=%d p50=%sus p99=%sus relays_cpu=%s%% "
            "host_busy=%s%% stop=%s%s" % (sent, ssecs, uniq, R["P50"], R["P99"],
                                          fmt(R["CPU"], "%.1f"),
                                          fmt(R["HOST"], "%.0f"), stopr, hoptext))
        return R

    def chain(self):
        m = self.m
        got = {}
        rows = []
        for mode, pps in m["chain"]:
            label = CHAIN_LABEL[mode]
            R = self.run_chain(mode, pps)
            if R is None:
                rows.append([label, "%d pps" % pps, "failed (see notes)"] + ["-"] * 8)
                continue
            got[(mode, pps)] = R
            add50 = add99 = "-"
            d = got.get(("direct", pps))
            if mode != "direct" and d:
                add50 = "%.0f" % (R["P50"] - d["P50"])
                add99 = "%.0f" % (R["P99"] - d["P99"])
            self.note("chain %s %dpps per hop (mcferry stats):%s" % (mode, pps, R["HOPS"]))
            rows.append([label, "%.0f" % (pps * SIZE * 8 / 1e6), "%.1f" % R["SENTM"],
                         "%.1f" % R["DELM"], "%.2f" % R["LOSS"], fmt(R["P50"], "%.0f"),
                         fmt(R["P99"], "%.0f"), add50, add99, fmt(R["CPU"], "%.1f"),
                         fmt(R["HOST"], "%.0f")])
        return table(
            "3. Seed chain: multicast → relay → TCP → splitter → TCP → relay → multicast",
            "%d-byte datagrams for %g s. \"direct\" is one multicast hop (sender → "
            "receiver in the next namespace), the baseline for \"added\". The chain "
            "uses the task page's URIs (raw framing, chunk=1316) unless the row says "
            "framing=datagram. Rates are over the sender's own send time; loss counts "
            "datagrams the receiver did not get intact (a misaligned chunk is not a "
            "datagram it was sent); 1 Gbit/s = 95000 pps." % (SIZE, m["ch_secs"]),
            ["path", "Mbit/s asked", "Mbit/s sent", "Mbit/s delivered", "loss %",
             "p50 µs", "p99 µs", "added p50 µs", "added p99 µs", "3 relays CPU %",
             "host busy %"], rows)

    # ==========================================================================
    # 4. Hub: 3 islands around one hub
    #   hub ns (P h)       mcferry hub --listen tcp://@:7000, isl<I> 10.92.I.1
    #   gateway ns (P gI)  mcferry gateway, wan0 10.92.I.2, lan0 10.93.I.1
    #   hosts ns (P xI)    mcsend / mcrecv, lan0 10.93.I.2 (224.0.0.0/4 via lan0)
    # Island I exports its own channels 239.10.I.K:5000 (K = 1..hub_streams)
    # and imports the other islands' channels; island 1 receives and counts.

    def hub(self):
        """The hub table: BENCH_HUB_REPEAT runs (default 1) of mcferry, and
        as many of BENCH_BEFORE's binary when it is set, interleaved (the
        order rotates per repetition) on the same namespaces."""
        m = self.m
        nstr, hsecs = m["hub_streams"], m["hub_secs"]
        t = self.t
        h = t.netns("h")
        gw, hosts = {}, {}
        for i in (1, 2, 3):
            gw[i], hosts[i] = t.netns("g%d" % i), t.netns("x%d" % i)
            t.veth(h, "isl%d" % i, gw[i], "wan0")
            T.add_addr(h, "isl%d" % i, "10.92.%d.1/24" % i)
            T.add_addr(gw[i], "wan0", "10.92.%d.2/24" % i)
            t.veth(gw[i], "lan0", hosts[i], "lan0")
            T.add_addr(gw[i], "lan0", "10.93.%d.1/24" % i)
            T.add_addr(hosts[i], "lan0", "10.93.%d.2/24" % i)
            gw[i].ip("route", "add", "224.0.0.0/4", "dev", "lan0")
            hosts[i].ip("route", "add", "224.0.0.0/4", "dev", "lan0")
        hpps = mbps_pps(10)
        hcount = int(hpps * hsecs)
        log("hub: 3 islands x %d streams x 10 Mbit/s (%dpps) for %gs"
            % (nstr, hpps, hsecs))
        runs = [("mcferry", None)]
        if self.before:
            runs.append(("mcferry-before", self.before))
        if self.alt:
            runs.append(("mcferry-alt", self.alt))
        if os.environ.get("BENCH_HUB_FLOOD", "0") == "1":
            runs += [(label + "+flood", b) for label, b in runs]
        reps = int(os.environ.get("BENCH_HUB_REPEAT", "1"))
        res = {}
        for rep in range(reps):
            k = rep % len(runs)
            for label, binary in runs[k:] + runs[:k]:
                log("hub run %d/%d: %s" % (rep + 1, reps, label))
                r = self.hub_once(h, gw, hosts, nstr, hsecs, hpps, hcount,
                                  label, binary, gw[1] if "+flood" in label else None)
                if r is not None:
                    res.setdefault(label, []).append(r)
        if not res:
            return "### 4. Hub\n\nfailed (see notes)\n"
        rows = []
        for label, _b in runs:
            for r in res.get(label, []):
                rows.append([label] + r)
            if len(res.get(label, [])) > 1:
                rows.append([label + " (median)"] + [
                    fmt(median([num(x[c]) for x in res[label]]), f) if f else "-"
                    for c, f in enumerate(HUB_MEDIAN_FMT)])
        return table(
            "4. Hub: 3 islands, %d channels of 10 Mbit/s" % (3 * nstr),
            "Each island's gateway exports its own %d channels and imports the "
            "other %d; each island sends %d streams of 10 Mbit/s (%d pps × %g s, "
            "%d B); island I1 receives the %d channels of I2 and I3. Hub: %d "
            "Mbit/s in, %d Mbit/s out. One row per run (mcferry-before, "
            "mcferry-alt: BENCH_BEFORE's, BENCH_ALT's hub, interleaved; the "
            "gateways are always this build's); reads/s and writes/s are the "
            "hub's read and write system calls (/proc/PID/io syscr, syscw); "
            "runq wait = time the hub was runnable without a CPU. +flood "
            "(BENCH_HUB_FLOOD=1): a fourth link floods the hub with PINGs, as "
            "fast as one Python thread sends them, for the whole run, reading "
            "its PONGs." % (
                nstr, 2 * nstr, nstr, hpps, hsecs, SIZE, 2 * nstr, 30 * nstr,
                60 * nstr),
            ["hub", "channels", "Mbit/s into hub", "loss % (I1 receivers)",
             "p50 µs (median of receivers)", "p99 µs (worst receiver)",
             "max µs (worst receiver)", "hub CPU %", "hub reads/s", "hub writes/s", "hub runq wait %",
             "gateway CPU % I1 / I2 / I3", "hub RSS MiB",
             "hub drops", "gateway drops", "gateway ingest drops I1 / I2 / I3",
             "host busy %"], rows)

    def hub_once(self, h, gw, hosts, nstr, hsecs, hpps, hcount, label, binary,
                 flood_ns=None):
        """One hub run with the hub binary BINARY (None: this build); the
        table row's cells after the label, or None if it failed. FLOOD_NS:
        a namespace from which a fourth link floods the hub with PINGs
        while the data flows."""
        failed = None
        mcf = []
        fl = dict(stop=False, sent=0, pongs=0, err=None)
        fthreads = []

        def flood(sock):
            block = b"".join(T.ping(i) for i in range(4096))   # 64 KiB
            try:
                sock.sendall(T.hello(role=3, island=b"flood"))
                while not fl["stop"]:
                    sock.sendall(block)
                    fl["sent"] += len(block)
            except OSError as e:
                if not fl["stop"]:
                    fl["err"] = str(e)

        def drain(sock):
            sock.settimeout(0.5)
            while not fl["stop"]:
                try:
                    d = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not d:
                    return
                fl["pongs"] += len(d)

        try:
            tag = "hub.%s" % label
            hubp = self.start_mcferry(tag + ".hub", h, ["hub", "--stats", 1, "--listen",
                                                        "tcp://@:%d" % TPORT],
                                      binary=binary)
            if hubp is None:
                return failed
            mcf.append(hubp)
            gwp = {}
            for i in (1, 2, 3):
                args = []
                for j in (1, 2, 3):
                    for k in range(1, nstr + 1):
                        args += ["--export" if j == i else "--import",
                                 "239.10.%d.%d:%d" % (j, k, UPORT)]
                p = self.start_mcferry(tag + ".gw%d" % i, gw[i], [
                    "gateway", "--stats", 1, "--hub", "tcp://10.92.%d.1:%d" % (i, TPORT),
                    "--iface", "lan0", "--island", "I%d" % i] + args)
                if p is None:
                    return failed
                gwp[i] = p
                mcf.append(p)
            try:
                hubp.wait_for_log("gateway up", timeout=15, count=3)
            except T.TopoError:
                self.note("hub: only %d of 3 gateways up after 15 s"
                          % len(hubp.log_matches("gateway up")))
            for i in (1, 2, 3):
                try:
                    gwp[i].wait_for_log("forwarder=yes", timeout=10, count=nstr)
                except T.TopoError:
                    self.note("hub: gateway I%d is forwarder for only %d of its %d "
                              "channels after 10 s" % (
                                  i, len(gwp[i].log_matches("forwarder=yes")), nstr))
            recvs = {}
            for j in (2, 3):
                for k in range(1, nstr + 1):
                    ready = self.ready_file(tag + ".recv%d.%d" % (j, k))
                    recvs[(j, k)] = (hosts[1].spawn([
                        T.MCRECV, "udp", "239.10.%d.%d:%d" % (j, k, UPORT),
                        "--iface", "lan0", "--expect", hcount, "--count", hcount,
                        "--idle", IDLE, "--duration", hsecs + 25, "--json",
                        "--ready-file", ready], tag=tag + ".recv%d.%d" % (j, k)), ready)
            for (j, k), (p, ready) in recvs.items():
                if not self.wait_until(lambda: os.path.exists(ready), 10, p):
                    self.hfail("hub: mcrecv for 239.10.%d.%d did not start" % (j, k))
                    return failed
            time.sleep(0.5)
            hc0 = PS.cpu_ticks(hubp.pid)
            hr0, hw0 = PS.tree_syscr(hubp.pid), PS.tree_syscw(hubp.pid)
            hq0 = PS.run_delay_ns(hubp.pid)
            gc0 = {i: PS.cpu_ticks(gwp[i].pid) for i in gwp}
            h0 = PS.host_cpu()
            if flood_ns is not None:
                fs = flood_ns.socket(socket.AF_INET, socket.SOCK_STREAM)
                fs.connect(("10.92.1.1", TPORT))
                fthreads = [threading.Thread(target=f, args=(fs,), daemon=True)
                            for f in (flood, drain)]
                for th in fthreads:
                    th.start()
            sends = {}
            for i in (1, 2, 3):
                for k in range(1, nstr + 1):
                    sends[(i, k)] = hosts[i].spawn([
                        T.MCSEND, "--count", hcount, "--rate", hpps, "--size", SIZE,
                        "--ttl", 1, "--iface", "lan0", "--stream", i * 100 + k,
                        "--quiet", "239.10.%d.%d:%d" % (i, k, UPORT)],
                        tag=tag + ".send%d.%d" % (i, k))
            t_fl = time.monotonic()
            hrss = 0
            hc1, gc1, h1 = hc0, dict(gc0), h0
            hr1, hw1, hq1 = hr0, hw0, hq0
            # Ingest drops at the gateways' own UDP sockets (their exported
            # channels, bound to the group's port): /proc/net/udp of each
            # gateway namespace, last sample while the gateway runs.
            gin = {i: 0 for i in gwp}

            def gw_ingest():
                for i in gwp:
                    d = PS.udp_sockets(gwp[i].pid, UPORT)
                    if d is not None:
                        gin[i] = sum(d.values())

            end = time.monotonic() + hsecs + 30
            while time.monotonic() < end and any(p.alive() for p, _r in recvs.values()):
                gw_ingest()
                hrss = max(hrss, PS.status_kb(hubp.pid, "VmRSS") or 0)
                hc1 = PS.cpu_ticks(hubp.pid)
                hr1, hw1 = PS.tree_syscr(hubp.pid), PS.tree_syscw(hubp.pid)
                hq1 = PS.run_delay_ns(hubp.pid)
                gc1 = {i: PS.cpu_ticks(gwp[i].pid) for i in gwp}
                h1 = PS.host_cpu()
                time.sleep(0.1)
            if fthreads:
                fl["stop"] = True
                fs.shutdown(socket.SHUT_RDWR)
                for th in fthreads:
                    th.join(5)
                fs.close()
                log("  flood: %.0f MiB of PINGs (%.0f MiB/s), %d bytes of PONGs "
                    "back%s" % (fl["sent"] / 2**20, fl["sent"] / 2**20 / max(
                        time.monotonic() - t_fl, 0.1), fl["pongs"],
                        ", ended: " + fl["err"] if fl["err"] else ""))
            for p in sends.values():
                if not self.wait_proc(p, 5):
                    self.note("hub: an mcsend had to be stopped")
            for p, _r in recvs.values():
                if not self.wait_proc(p, 5):
                    self.note("hub: an mcrecv had to be stopped")
            hsent = huniq = 0
            p50s, p99s, pmaxs = [], [], []
            ok = True
            for (j, k), (p, _r) in recvs.items():
                s = kv(sends[(j, k)].stdout(), "sent")
                js = summary(p)
                if s is None or js is None:
                    self.hfail("hub: missing output of the 239.10.%d.%d sender or "
                               "receiver" % (j, k))
                    ok = False
                    continue
                if js["stop_reason"] != "count":
                    self.note("hub: the 239.10.%d.%d receiver stopped by '%s' with %d "
                              "of %d datagrams" % (j, k, js["stop_reason"],
                                                   js["unique"], s))
                hsent += s
                huniq += js["unique"]
                p50s.append(js["latency_us"]["p50"])
                p99s.append(js["latency_us"]["p99"])
                pmaxs.append(js["latency_us"].get("max"))
            short = ["239.10.%d.%d sent %s" % (i, k, kv(p.stdout(), "sent"))
                     for (i, k), p in sorted(sends.items())
                     if kv(p.stdout(), "sent") != hcount]
            if short:
                self.note("hub: senders that did not send all %d datagrams: %s"
                          % (hcount, ", ".join(short)))
            smax = max([kv(p.stdout(), "seconds") or 0 for p in sends.values()])
            hwin = max(smax, hsecs)
            hloss = 100.0 * (hsent - huniq) / hsent if hsent else 0.0
            hcpu = PS.pct(hc0, hc1, hwin)
            gcpu = {i: PS.pct(gc0[i], gc1[i], hwin) for i in gwp}
            hhost = PS.host_busy(h0, h1)
            hrps = (hr1 - hr0) / hwin if hr0 is not None and hr1 is not None else None
            hwps = (hw1 - hw0) / hwin if hw0 is not None and hw1 is not None else None
            hrq = (100.0 * (hq1 - hq0) / 1e9 / hwin
                   if hq0 is not None and hq1 is not None else None)
            for p in mcf:
                if not p.alive():
                    self.note("hub: mcferry pid %d exited during the run" % p.pid)
            gw_ingest()
            # mcferry prints a last stats line when it shuts down
            for p in mcf:
                p.send_signal(signal.SIGTERM)
            for p in mcf:
                self.stop(p, 3)
            hlog = hubp.stderr()
            hdrop = stat_sum(hlog, "mcferry_hub_channel_dropped_total")
            gdrop = sum(stat_sum(gwp[i].stderr(), "mcferry_gateway_channel_dropped_total")
                        for i in gwp)
            hin = stat_sum(hlog, "mcferry_hub_channel_in_datagrams_total")
            hout = stat_sum(hlog, "mcferry_hub_channel_out_datagrams_total")
            gc = " / ".join(fmt(gcpu[i], "%.1f") for i in (1, 2, 3))
            gi = " / ".join("%d" % gin[i] for i in (1, 2, 3))
            log("  sent(to A)=%d unique=%d loss=%.2f%% hub_cpu=%s%% gw_cpu=%s%% hub "
                "in=%d out=%d drops=%d gw drops=%d gw ingest drops=%s host_busy=%s%%" % (
                    hsent, huniq, hloss, fmt(hcpu, "%.1f"), gc, hin, hout, hdrop,
                    gdrop, gi, fmt(hhost, "%.0f")))
            self.note("hub: hub stats in=%d out=%d datagrams (expected %d in, %d out), "
                      "hub drops=%d, gateway drops=%d, gateway ingest drops %s" % (
                          hin, hout, 3 * nstr * hcount, 6 * nstr * hcount, hdrop, gdrop,
                          gi))
            self.mcferry_log_notes(tag + ".hub", hlog)
            for i in gwp:
                self.mcferry_log_notes(tag + ".gw%d" % i, gwp[i].stderr())
            if not ok:
                return failed
            log("  %s: hub reads/s=%s writes/s=%s runq_wait=%s%%" % (
                label, fmt(hrps, "%.0f"), fmt(hwps, "%.0f"), fmt(hrq, "%.1f")))
            return [3 * nstr, 30 * nstr, "%.2f" % hloss, fmt(median(p50s), "%.0f"),
                    fmt(maxof(p99s), "%.0f"), fmt(maxof(pmaxs), "%.0f"),
                    fmt(hcpu, "%.1f"), fmt(hrps, "%.0f"),
                    fmt(hwps, "%.0f"), fmt(hrq, "%.1f"), gc,
                    "%.1f" % (hrss / 1024), hdrop, gdrop, gi, fmt(hhost, "%.0f")]
        finally:
            for p in mcf:
                self.stop(p, 3)

    # ==========================================================================
    # 5. callgrind: user-space instructions per datagram per client

    def callgrind(self):
        m = self.m
        cnt, ncl, rate = m["cg_count"], m["cg_clients"], m["cg_rate"]
        log("callgrind: %d datagrams at %dpps to %d clients" % (cnt, rate, ncl))
        tag = "callgrind"
        cgout = os.path.join(self.tmp, "cg.out")
        relay = self.r.spawn(["valgrind", "--tool=callgrind",
                              "--callgrind-out-file=" + cgout, T.MCFERRY, "relay",
                              "udp://@%s:%d?iface=%s" % (GROUP, UPORT, IF_SR),
                              "tcp://@:%d?framing=raw" % TPORT], tag=tag + ".relay")
        recv = None
        line = None
        try:
            try:
                relay.wait_for_log(T.READY_RX, timeout=30)
            except T.TopoError:
                self.hfail("callgrind: mcferry did not become ready under valgrind")
                return None
            recv = self.c.spawn([T.MCRECV, "tcp", "%s:%d" % (RELAY_C, TPORT),
                                 "--clients", ncl, "--size", SIZE, "--expect", cnt,
                                 "--count", cnt, "--idle", 5,
                                 "--duration", cnt // rate + 40,
                                 "--connect-retry", 20, "--json"], tag=tag + ".recv")
            try:
                relay.wait_for_log("client connected", timeout=30, count=ncl)
            except T.TopoError:
                self.note("callgrind: clients did not connect")
                return None
            time.sleep(0.5)
            # Count only the steady state: zero the counters once every client is in.
            if T.run(["callgrind_control", "-z", str(relay.pid)], check=False,
                     timeout=20).returncode:
                self.note("callgrind: callgrind_control -z failed; startup is "
                          "included in the count")
            send = self.s.spawn([T.MCSEND, "--count", cnt, "--rate", rate, "--size",
                                 SIZE, "--ttl", 1, "--iface", IF_S, "--quiet",
                                 "%s:%d" % (GROUP, UPORT)], tag=tag + ".send")
            if not self.wait_proc(send, cnt // rate + 20):
                self.note("callgrind: mcsend had to be stopped")
            if not self.wait_proc(recv, 25):
                self.note("callgrind: mcrecv had to be stopped")
            # Dump now, before shutdown work, then stop.
            if T.run(["callgrind_control", "-d", str(relay.pid)], check=False,
                     timeout=20).returncode:
                self.note("callgrind: callgrind_control -d failed; shutdown is "
                          "included in the count")
        finally:
            self.stop(relay, 20)
            self.stop(recv, 5)
        # Prefer the explicit dump (cg.out.1); fall back to the exit dump.
        f = cgout + ".1"
        if not os.path.exists(f) or os.path.getsize(f) == 0:
            f = cgout
        ir = None
        try:
            for l in open(f):
                if l.startswith(("summary:", "totals:")):
                    ir = int(l.split()[1])
                    break
        except OSError:
            pass
        js = summary(recv)
        uq = js["unique"] if js else 0
        if ir is None or not uq:
            self.hfail("callgrind: no result (Ir='%s' unique='%s'); BENCH_KEEP=1 "
                       "keeps the logs" % (ir, uq))
            return None
        line = ("%d datagrams x %d clients at %d pps, %d delivered: %d Ir total, "
                "**%.0f Ir per delivered datagram per client** (%.0f per datagram per "
                "client nominal)" % (cnt, ncl, rate, uq, ir, ir / uq, ir / (cnt * ncl)))
        if uq < cnt * ncl:
            self.note("callgrind: only %d of %d datagrams delivered under valgrind"
                      % (uq, cnt * ncl))
        return line

    # ==========================================================================

    def run(self):
        if os.geteuid() != 0:
            sys.exit("bench: needs root (it builds network namespaces); try: sudo make bench")
        if not shutil.which("ip"):
            sys.exit("bench: missing 'ip'")
        for f in (T.MCFERRY, T.MCSEND, T.MCRECV, self.bare):
            if not os.access(f, os.X_OK):
                sys.exit("bench: missing %s (run make; mcsend/mcrecv come from "
                         "tests/tools, bare_recv from bench)" % f)
        # 5000 clients need 5000+ descriptors in the relay and in mcrecv; as
        # root the hard limit can be raised too (up to fs.nr_open).
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
        except (ValueError, OSError):
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.tmp = tempfile.mkdtemp(prefix="mcferry-bench.")
        self.t = None
        out = []
        cg = None
        try:
            self.build_topology()
            self.t_start = self.t_sec = time.monotonic()
            if self.want("fanout"):
                out.append(self.fanout())
            self.section_done("fan-out")
            if self.want("soak"):
                out.append(self.soak())
            self.section_done("soak")
            if self.want("ingest"):
                out.append(self.ingest())
            self.section_done("ingest")
            if self.want("chain"):
                out.append(self.chain())
            self.section_done("chain")
            if self.want("hub"):
                out.append(self.hub())
            self.section_done("hub")
            do_cg = os.environ.get("BENCH_CALLGRIND", "auto")
            if do_cg == "auto":
                do_cg = "1" if shutil.which("valgrind") and shutil.which(
                    "callgrind_control") else "0"
            if do_cg == "1" and self.want("callgrind"):
                cg = self.callgrind()
            self.section_done("callgrind")
        except T.TopoError as e:
            self.hfail("topology: %s" % str(e).splitlines()[0])
        finally:
            if self.t is not None:
                self.t.close()
            if self.keep:
                log("logs kept in " + self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        total = self.elapsed() if hasattr(self, "t_start") else 0
        log("done in %.0f s" % total)
        print()
        print("## mcferry benchmark (%s matrix, %d CPUs, %s, %.0f s)"
              % (self.matrix, os.cpu_count(), platform.release(), total))
        print()
        for t in out:
            print(t)
        if cg:
            print("### 5. callgrind (user-space instructions of mcferry)\n\n%s\n" % cg)
        if self.notes:
            print("Notes:")
            for n in self.notes:
                print("- " + n)
        sys.stdout.flush()
        if self.hfails:
            print("\nThe harness failed:\n" + "".join("- %s\n" % f for f in self.hfails),
                  file=sys.stderr)
            return 1
        return 0


def main(argv):
    global T
    build = os.path.abspath(argv[1] if len(argv) > 1 else "build")
    if not os.path.isdir(build):
        sys.exit("bench: no build directory '%s' (run make first)" % build)
    os.environ["MCFERRY_BUILD"] = build
    import topo
    T = topo
    b = Bench(build)

    def on_term(_sig, _frame):
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, on_term)
    try:
        return b.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
