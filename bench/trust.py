#!/usr/bin/env python3
"""What the trust work costs: TLS handshakes, TLS on the data path, and
the memory a stranger can make a relay hold.

1. Handshakes (solo namespace, 127.0.0.1): a python client connects, does
   the TLS 1.3 handshake (ECDSA P-256 certificate, no client certificate)
   and closes, one connection after another, for SECS seconds; the same
   with plain tcp (connect, close). Against a listening relay sink and a
   hub. Connections per second, and the server's CPU per connection
   (utime + stime from /proc/PID/stat over the run).
2. The data path (islands): a1 mcsend --udp--> gw A: relay udp://@G ->
   LINK --R--> gw B: relay LINK -> udp://G, LINK tcp or tls (PSK), both
   framing=datagram, at RATE Mbit/s of 1316-byte datagrams. CPU seconds
   per Gbit carried (= cores per Gbit/s), each relay and both, from the
   bytes relay B took in (--stats-json).
3. Memory (islands, relay on gw A, clients on a3): RSS delta / N for
   N=200 idle tcp clients of a listening sink, and for N=50 stalled ones
   (receive buffer 4 KiB, never read) while 20 Mbit/s flows, at the peak
   before the slow-consumer limit (queue=4 MiB) cuts them.

Prints a table; asserts nothing. Needs root.
    sudo MCFERRY_BUILD=build python3 bench/trust.py [SECS] [RATE_MBIT]
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))

import topo as T          # noqa: E402
import statsjson as S     # noqa: E402
import procstat           # noqa: E402

GROUP, PORT = "239.1.1.1", 5000
G = "%s:%d" % (GROUP, PORT)
SIZE = 1316


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
                    "-out", "srv.pem", "-days", "2", "-subj", "/CN=bench"],
                   cwd=d, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.chmod(os.path.join(d, "srv.key"), 0o600)
    psk = os.path.join(d, "psk")
    with open(psk, "w") as f:
        f.write("bench:" + "ab" * 32 + "\n")
    os.chmod(psk, 0o600)
    return os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"), psk


def handshakes(ns, port, tls, secs):
    """Connections/s completed against 127.0.0.1:port, one at a time."""
    ctx = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    n, fails = 0, 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            if ctx:
                s = ctx.wrap_socket(s, do_handshake_on_connect=True)
            n += 1
        except OSError:
            fails += 1
        finally:
            s.close()
    return n / (time.monotonic() - t0), fails


def bench_handshakes(topo, secs, cert, key):
    solo = T.Solo(topo)
    ns = solo.ns
    tq = "?cert=%s&key=%s&client-cert=optional" % (cert, key)
    # generous caps: the client is the only peer
    caps = "max-conns=100000&max-pending-per-addr=1000"
    rows = []
    servers = [
        ("relay sink", "tcp", ["relay", "udp://@127.0.0.1:5001",
                               "tcp://@127.0.0.1:1701?" + caps], 1701),
        ("relay sink", "tls", ["relay", "udp://@127.0.0.1:5002",
                               "tls://@127.0.0.1:1702" + tq + "&" + caps],
         1702),
        ("hub", "tcp", ["hub", "--listen",
                        "tcp://@127.0.0.1:1703?" + caps], 1703),
        ("hub", "tls", ["hub", "--listen",
                        "tls://@127.0.0.1:1704" + tq + "&" + caps], 1704),
    ]
    for what, kind, args, port in servers:
        p = T.start_mcferry(ns, args, tag="hs-%s-%s" % (what[:3], kind))
        c0 = procstat.cpu_ticks(p.pid)
        rate, fails = handshakes(ns, port, kind == "tls", secs)
        c1 = procstat.cpu_ticks(p.pid)
        cpu_ms = (c1 - c0) * 1000.0 / procstat.HZ / max(1, rate * secs)
        p.stop()
        rows.append((what, kind, rate, cpu_ms, fails))
        log("handshakes %s %s: %.0f/s, %.3f ms server CPU each, %d failed"
            % (what, kind, rate, cpu_ms, fails))
    return rows


def bench_datapath(isl, secs, rate_mbit, psk):
    ga, gb = isl.gw["a"], isl.gw["b"]
    a1 = isl.hosts["a"][0]
    wan_b = T.Islands.gw_wan("b")
    dg = "framing=datagram"
    pps = int(rate_mbit * 1e6 / 8 / SIZE)
    rows = []
    for kind, ua, ub in [
            ("tcp", "tcp://%s:9000?%s" % (wan_b, dg), "tcp://@:9000?" + dg),
            ("tls", "tls://%s:9000?psk-file=%s&%s" % (wan_b, psk, dg),
             "tls://@:9000?psk-file=%s&%s" % (psk, dg))]:
        b = T.start_mcferry(gb, ["relay", "--stats", "1",
                                 "--stats-json", ub,
                                 "udp://%s?iface=br0" % G], tag="dp-b-" + kind)
        a = T.start_mcferry(ga, ["relay", "udp://@%s?iface=br0&"
                                 "rcvbuf=8388608" % G, ua], tag="dp-a-" + kind)
        b.wait_for_log(r"\bclient connected\b|\bpublisher connected\b|"
                       r"\bconnected\b", timeout=10)
        time.sleep(0.5)
        ca0, cb0 = procstat.cpu_ticks(a.pid), procstat.cpu_ticks(b.pid)
        t0 = time.monotonic()
        T.run_mcsend(a1, ["--count", pps * secs, "--rate", pps, "--size",
                          SIZE, "--iface", T.Islands.host_addr("a", 1), G],
                     timeout=secs + 60)
        time.sleep(0.5)
        ca1, cb1 = procstat.cpu_ticks(a.pid), procstat.cpu_ticks(b.pid)
        wall = time.monotonic() - t0
        a.stop()
        b.stop()
        rep = S.reports(b)
        inb = rep[-1].get(S.RELAY + "in_bytes_total", 0) if rep else 0
        gbit = inb * 8 / 1e9
        cpu_a = (ca1 - ca0) / procstat.HZ
        cpu_b = (cb1 - cb0) / procstat.HZ
        rows.append((kind, inb * 8 / 1e6 / wall, gbit, cpu_a / gbit,
                     cpu_b / gbit, (cpu_a + cpu_b) / gbit,
                     inb / (pps * secs * SIZE)))
        log("datapath %s: %.3f Gbit carried in %.1f s (%.0f%% of sent), "
            "CPU a %.2f s b %.2f s" % (kind, gbit, wall,
                                       100.0 * inb / (pps * secs * SIZE),
                                       cpu_a, cpu_b))
    return rows


def bench_memory(isl):
    ga = isl.gw["a"]
    a1, a3 = isl.hosts["a"][0], isl.hosts["a"][2]
    lan = T.Islands.gw_lan("a")
    out = []
    # idle: connected, nothing flows
    p = T.start_mcferry(ga, ["relay", "udp://@%s?iface=br0" % G,
                             "tcp://@:1601?max-conns=1000"], tag="mem-idle")
    time.sleep(0.3)
    r0 = T.proc_rss_kib(p.pid)
    socks = []
    for _ in range(200):
        s = a3.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((lan, 1601))
        socks.append(s)
    deadline = time.monotonic() + 10
    while len(p.log_matches(r"\bclient connected\b")) < 200 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    r1 = T.proc_rss_kib(p.pid)
    out.append(("idle tcp client", 200, r0, r1, (r1 - r0) * 1024 / 200))
    for s in socks:
        s.close()
    p.stop()
    # stalled: never read, 4 KiB receive buffer, 20 Mbit/s flowing
    queue = 4 << 20
    p = T.start_mcferry(ga, ["relay",
                             "udp://@%s?iface=br0&rcvbuf=4194304" % G,
                             "tcp://@:1602?queue=%d" % queue], tag="mem-stall")
    time.sleep(0.3)
    socks = []
    for _ in range(50):
        s = a3.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((lan, 1602))
        socks.append(s)
    deadline = time.monotonic() + 10
    while len(p.log_matches(r"\bclient connected\b")) < 50 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    r0 = T.proc_rss_kib(p.pid)
    pps = int(20e6 / 8 / SIZE)
    snd = a1.spawn([T.MCSEND, "--count", pps * 6, "--rate", pps, "--size",
                    SIZE, "--iface", T.Islands.host_addr("a", 1), G],
                   tag="mem-send")
    peak = r0
    while snd.p.poll() is None:
        peak = max(peak, T.proc_rss_kib(p.pid))
        time.sleep(0.02)
    cut = len(p.log_matches(r"reason=slow-consumer"))
    out.append(("stalled tcp client (cut: %d)" % cut, 50, r0, peak,
                (peak - r0) * 1024 / 50))
    for s in socks:
        s.close()
    p.stop()
    return out


def main(argv):
    secs = int(argv[1]) if len(argv) > 1 else 5
    rate = int(argv[2]) if len(argv) > 2 else 300
    if os.geteuid() != 0:
        sys.exit("bench/trust.py needs root (namespaces)")
    tmp = tempfile.mkdtemp(prefix="mcferry-trust-")
    cert, key, psk = make_cert(tmp)
    topo = T.Topology(os.path.join(tmp, "logs"))
    try:
        hs = bench_handshakes(topo, secs, cert, key)
        isl = T.Islands(topo, hosts=3)
        dp = bench_datapath(isl, secs, rate, psk)
        mem = bench_memory(isl)
    finally:
        topo.close()
    print("\nhandshakes (one client, one at a time, %d s each)" % secs)
    print("%-11s %-4s %10s %18s" % ("server", "link", "conns/s",
                                     "server CPU/conn"))
    for what, kind, r, ms, fails in hs:
        print("%-11s %-4s %10.0f %15.3f ms%s" % (
            what, kind, r, ms, "  (%d failed)" % fails if fails else ""))
    print("\none relay hop at %d Mbit/s of %d-byte datagrams, %d s" % (
        rate, SIZE, secs))
    print("%-4s %10s %9s %14s %14s %14s" % (
        "link", "Mbit/s", "carried", "CPU-s/Gbit a", "CPU-s/Gbit b",
        "CPU-s/Gbit a+b"))
    for kind, mbps, gbit, ca, cb, cab, frac in dp:
        print("%-4s %10.0f %8.0f%% %14.2f %14.2f %14.2f" % (
            kind, mbps, 100 * frac, ca, cb, cab))
    print("\nmemory of a listening relay sink")
    print("%-30s %4s %10s %10s %14s" % ("clients", "N", "RSS KiB", "then",
                                        "bytes/client"))
    for what, n, r0, r1, per in mem:
        print("%-30s %4d %10d %10d %14.0f" % (what, n, r0, r1, per))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
