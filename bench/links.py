#!/usr/bin/env python3
"""One hop over each link, side by side: added latency and relay CPU.

    a1 mcsend --udp G--> gw A: relay udp://@G -> LINK --R--> gw B: relay LINK -> udp://G --> b1 (python)

LINK is tcp (framing=datagram), tls (PSK), srt (thread bridge and the
1 ms timer bridge, MCFERRY_SRT_POLL_MS=1), the udp link, and
srt-live-transmit doing the same hop in place of both relays. For each,
at 10 and 100 Mbit/s of 1316-byte datagrams: the latency from mcsend's
timestamp (CLOCK_MONOTONIC, shared by the namespaces) to the python
receiver on b1, p50 and p99, minus the same figure for a plain routed
path (multicast re-sent by nothing: a1 unicast straight to b1 through R),
and the CPU of the two relays (utime + stime over the run).

BENCH_LOSS=0.05 drops that share of the packets R forwards (iptables
statistic) while a row runs; BENCH_RATES="10" picks the rates.

Prints a table; asserts nothing. Needs root.
    sudo MCFERRY_BUILD=build python3 bench/links.py [SECONDS]
"""

import os
import shutil
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))

import topo as T          # noqa: E402
import procstat           # noqa: E402

GROUP, PORT = "239.1.1.1", 5000
G = "%s:%d" % (GROUP, PORT)
SIZE = 1316


def links(tmp):
    psk = os.path.join(tmp, "psk")
    with open(psk, "w") as f:
        f.write("bench:" + "ab" * 32 + "\n")
    os.chmod(psk, 0o600)
    gb = T.Islands.gw_wan("b")
    dg = "?framing=datagram"
    return [
        ("tcp", "tcp://%s:9000%s" % (gb, dg), "tcp://@:9000" + dg, {}),
        ("tls", "tls://%s:9000?psk-file=%s&framing=datagram" % (gb, psk),
         "tls://@:9000?psk-file=%s&framing=datagram" % psk, {}),
        ("srt", "srt://%s:9000%s" % (gb, dg), "srt://@:9000" + dg, {}),
        ("srt-timer1ms", "srt://%s:9000%s" % (gb, dg), "srt://@:9000" + dg,
         {"MCFERRY_SRT_POLL_MS": "1"}),
        ("udp-link", "udp://%s:9000%s" % (gb, dg), "udp://@:9000" + dg, {}),
        ("srt-live-transmit", None, None, {}),
    ]


def spawn_env(ns, argv, env, tag):
    if not env:
        return ns.spawn(argv, tag=tag)
    pre = ["env"] + ["%s=%s" % kv for kv in env.items()]
    return ns.spawn(pre + argv, tag=tag)


def start_hop(isl, name, uri_a, uri_b, env):
    ga, gb = isl.gw["a"], isl.gw["b"]
    if name == "srt-live-transmit":
        b = gb.spawn(["srt-live-transmit", "-q", "srt://:9000",
                      "udp://%s?adapter=%s&ttl=1" % (G, T.Islands.gw_lan("b"))],
                     tag="slt-b")
        time.sleep(0.3)
        a = ga.spawn(["srt-live-transmit", "-q",
                      "udp://@%s?adapter=%s" % (G, T.Islands.gw_lan("a")),
                      "srt://%s:9000" % T.Islands.gw_wan("b")], tag="slt-a")
        return a, b
    b = spawn_env(gb, [T.MCFERRY, "relay", "-q", uri_b,
                       "udp://%s?iface=br0" % G], env, "relay-b-" + name)
    time.sleep(0.3)
    a = spawn_env(ga, [T.MCFERRY, "relay", "-q", "udp://@%s?iface=br0" % G,
                       uri_a], env, "relay-a-" + name)
    return a, b


def measure(isl, rate_mbit, secs, dest=(GROUP, PORT), rx_group=True,
            on_open=None):
    a1, b1 = isl.hosts["a"][0], isl.hosts["b"][0]
    pps = int(rate_mbit * 1e6 / 8 / SIZE)
    if rx_group:
        rx = T.UdpReceiver(b1, GROUP, PORT, ifaddr=T.Islands.host_addr("b", 1))
        tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1))
    else:
        rx = UnicastReceiver(b1, PORT)
        tx = a1.socket()
    try:
        T.wait_path_open(tx, dest, rx, SIZE, timeout=15)
    finally:
        tx.close()
    rx.clear()
    if on_open:
        on_open()
    t0 = time.monotonic()
    n = pps * secs
    target = "%s:%d" % dest
    T.run_mcsend(a1, ["--count", n, "--rate", pps, "--size", SIZE]
                 + (["--iface", T.Islands.host_addr("a", 1)] if rx_group
                    else []) + [target], timeout=secs + 30)
    time.sleep(1.0)
    got = rx.snapshot()
    rx.close()
    lat = []
    for t, d in got:
        if len(d) >= 24 and d[:4] == b"MCSF":
            sent_ns = struct.unpack_from(">Q", d, 16)[0]
            lat.append(t * 1e3 - sent_ns / 1e6)
    return lat, n, time.monotonic() - t0


class UnicastReceiver(T.UdpReceiver):
    """T.UdpReceiver's thread and log on a plain unicast socket."""

    def __init__(self, ns, port):
        import socket
        import threading
        s = ns.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind(("0.0.0.0", port))
        s.settimeout(0.05)
        self.sock, self.got, self._stop = s, [], False
        self.cond = threading.Condition()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def main():
    secs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    tmp = tempfile.mkdtemp(prefix="mcferry-bench-links-")
    topo = T.Topology(os.path.join(tmp, "logs"))
    rows = []
    try:
        isl = T.Islands(topo, hosts=1)
        rates = [int(x) for x in os.environ.get("BENCH_RATES",
                                                 "10 100").split()]
        loss = os.environ.get("BENCH_LOSS")
        base = {}
        for mbit in rates:
            lat, n, _ = measure(isl, mbit, secs, dest=(
                T.Islands.host_addr("b", 1), PORT), rx_group=False)
            base[mbit] = (pct(lat, 50), pct(lat, 99))
        for name, ua, ub, env in links(tmp):
            if name == "srt-live-transmit" and not shutil.which(
                    "srt-live-transmit"):
                continue
            for mbit in rates:
                a, b = start_hop(isl, name, ua, ub, env)
                try:
                    time.sleep(0.5)
                    c0 = [procstat.cpu_ticks(p.pid) or 0 for p in (a, b)]
                    lat, n, wall = measure(isl, mbit, secs, on_open=(
                        lambda: isl.r.exec(
                            ["iptables", "-A", "FORWARD", "-m", "statistic",
                             "--mode", "random", "--probability", loss,
                             "-j", "DROP"])) if loss else None)
                    c1 = [procstat.cpu_ticks(p.pid) or 0 for p in (a, b)]
                    cpu = [(y - x) / procstat.HZ / wall * 100
                           for x, y in zip(c0, c1)]
                    rows.append((name, mbit, len(lat), n,
                                 pct(lat, 50) - base[mbit][0],
                                 pct(lat, 99) - base[mbit][1], cpu[0],
                                 cpu[1]))
                except Exception as e:  # a row that failed says so
                    rows.append((name, mbit, 0, 0, float("nan"),
                                 float("nan"), 0, 0))
                    print("%s %d Mbit/s: %s" % (name, mbit, e),
                          file=sys.stderr)
                finally:
                    if loss:
                        isl.r.exec(["iptables", "-F", "FORWARD"])
                    for p in (a, b):
                        p.stop()
    finally:
        topo.close()
    if loss:
        print("\nloss in R: %s of forwarded packets" % loss)
    print("\nbase (routed, no relay): p50 %s ms" % ", ".join(
        "%d Mbit/s %.3f / p99 %.3f" % (m, base[m][0], base[m][1])
        for m in sorted(base)))
    print("%-18s %6s %13s %9s %9s %8s %8s" % (
        "link", "Mbit/s", "recv/sent", "+p50 ms", "+p99 ms", "cpu A %",
        "cpu B %"))
    for r in rows:
        print("%-18s %6d %6d/%-6d %9.3f %9.3f %8.1f %8.1f" % r)


if __name__ == "__main__":
    main()
