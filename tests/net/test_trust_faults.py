"""The trust issue's fault tests: slow and stopped consumers, faults on the
link between a gateway and the hub, malformed frames next to healthy
streams, and what --user keeps.  Thresholds are the issue's bar.

(a) islands (tests/README.md "Topology islands"): gw A runs
    `relay udp://@G?iface=br0 -> tcp://@:1601?queue=Q`; a2 holds 50 fast
    clients (mcrecv), a3 ten stopped socats (SIGSTOP) and ten slow python
    readers.  The fast ones lose nothing, the others are cut off as
    slow-consumer soon after their queue and socket buffers fill, and the
    relay's RSS stays under clients x (queue + sndbuf) + 16 MiB.
(b) hubnet ("Topology hubnet"): loss (iptables statistic), a 2 Mbit/s tbf,
    a black hole and the link set down, each in R on gateway A1's hub
    link; after each one a fresh burst from island A reaches island B
    exactly once.  The black hole's detection times are printed.
(c) hubnet: every malformed frame of test_bad_input.py sent to the hub
    while ten relay subscribers and gateway B stream: they lose nothing.
(d) --user nobody: CapEff/CapPrm/CapBnd of a relay, an SSM gateway and a
    `run` file that needs CAP_NET_ADMIN and CAP_NET_BIND_SERVICE.
"""

import calendar
import os
import re
import secrets
import signal
import socket
import threading
import time

import pytest

import hubtopo as H
import statsjson as S
import topo as T
from test_bad_input import BAD_INPUTS

GROUP, PORT = "224.168.2.9", 1600
G = "%s:%d" % (GROUP, PORT)
CONNECTED_RX = r"\bc=(\d+) .*\bclient connected\b.*\bpeer=(\S+)"
CAP_NET_BIND_SERVICE, CAP_NET_ADMIN = 10, 12


def log_time(line):
    """Wall-clock seconds of a raw log line's RFC 3339 timestamp."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ", line)
    assert m, line
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) \
        + int(m.group(2)) / 1000.0


def raw_lines(proc, regex):
    """(wall-clock time, match) of every raw stderr line matching regex."""
    rx = re.compile(regex)
    out = []
    for line in proc.raw_stderr().splitlines():
        m = rx.search(line)
        if m:
            out.append((log_time(line), m))
    return out


@pytest.fixture
def net(request, tmp_path, mcferry_bin, tools):
    t = T.Topology(tmp_path / "logs", prefix="mq" + secrets.token_hex(2))
    n = None
    try:
        n = H.HubNet(t)
        yield n
    finally:
        if n is not None:
            n.close()
        T.print_logs_if_failed(request, t)
        t.close()


# --------------------------------------------------------------------------
# (d) least privilege

def caps_of(pid):
    """{'CapEff': int, 'CapPrm': int, 'CapBnd': int, 'Uid': str} of pid."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                out[k] = int(v.strip(), 16)
            elif k == "Uid":
                out[k] = v.split()[0]
    return out


def check_caps(p, want):
    c = caps_of(p.pid)
    assert c["Uid"] == "65534", c
    assert (c["CapEff"], c["CapPrm"], c["CapBnd"], c["CapInh"],
            c["CapAmb"]) == (want, want, want, 0, 0), (
        "%s: %s, want 0x%x\n%s" % (p.argv, {k: hex(v) for k, v in c.items()
                                             if k != "Uid"}, want,
                                   p.describe()))


def test_user_keeps_only_what_a_restart_needs(solo, mcferry_bin, tmp_path):
    """--user nobody: the command-line roles keep no capability (their
    sockets, the SSM re-emission one included, are open before the
    switch and never reopened); `run FILE` keeps CAP_NET_ADMIN for an SSM
    gateway and CAP_NET_BIND_SERVICE for a port below 1024, because a
    reload may start those services again."""
    ns = solo.ns
    relay = T.start_mcferry(ns, [
        "relay", "--user", "nobody", "udp://@239.1.1.1:5000?iface=lan0",
        "tcp://@:1601"], tag="relay")
    relay.wait_for_log(r"running as user=nobody uid=65534 gid=\d+ "
                       r"capabilities=none keeping none\b")
    check_caps(relay, 0)
    hub = T.start_mcferry(ns, ["hub", "--listen", "tcp://@:7000"], tag="hub")
    ssm = "10.9.0.2@232.1.1.1:5000"
    gw = T.start_mcferry(ns, [
        "gateway", "--user", "nobody", "--hub", "tcp://10.9.0.1:7000",
        "--iface", "lan0", "--island", "A", "--import", ssm], tag="gw")
    gw.wait_for_log(r"capabilities=none keeping none\b")
    check_caps(gw, 0)
    hub.wait_for_log(r"\bgateway up\b")
    # the re-emission socket was made as root, before the switch
    assert not gw.log_matches(r"cannot send as the SSM source"), gw.stderr()
    conf = tmp_path / "caps.conf"
    conf.write_text("[relay low]\nsource = udp://@239.1.1.2:5000?iface=lan0\n"
                    "sink = tcp://@:80\n"
                    "[gateway g]\nhub = tcp://10.9.0.1:7000\niface = lan0\n"
                    "island = B\nimport = %s\n" % ssm)
    run = T.start_mcferry(ns, ["run", "--user", "nobody", str(conf)],
                          tag="run")
    m = run.wait_for_log(r"running as user=nobody .*capabilities=(\S+) "
                         r"keeping (.*)$")[0]
    assert m.group(1) == "CAP_NET_ADMIN,CAP_NET_BIND_SERVICE", m.group(0)
    assert "CAP_NET_ADMIN for ssm re-emission (gateway=g)" in m.group(2)
    assert "CAP_NET_BIND_SERVICE for relay port 80" in m.group(2)
    check_caps(run, (1 << CAP_NET_ADMIN) | (1 << CAP_NET_BIND_SERVICE))
    # a run file that needs nothing keeps nothing
    conf2 = tmp_path / "none.conf"
    conf2.write_text("[relay hi]\nsource = udp://@239.1.1.3:5000?iface=lan0\n"
                     "sink = tcp://@:1603\n")
    run2 = T.start_mcferry(ns, ["run", "--user", "nobody", str(conf2)],
                           tag="run2")
    run2.wait_for_log(r"capabilities=none keeping none \(no service")
    check_caps(run2, 0)
    for p in (relay, gw, run, run2):
        assert p.stop(signal.SIGTERM, timeout=5) == 0, p.describe()


# --------------------------------------------------------------------------
# (a) 50 fast, 10 stopped and 10 slow clients of one listening relay sink

def slow_reader(ns, host, port, stop, got, rcvbuf=16384, chunk=1316,
                every=0.05):
    """A python client that reads `chunk` bytes every `every` s (26 KB/s
    by default), far slower than the stream; returns (socket, thread)."""
    with ns.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect((host, port))

    def loop():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                d = s.recv(chunk)
                if not d:
                    return
                got[s.getsockname()[1]] = got.get(s.getsockname()[1], 0) \
                    + len(d)
            except socket.timeout:
                pass
            except OSError:
                return
            time.sleep(every)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return s, t


def test_fast_clients_lose_nothing_stopped_and_slow_are_cut(islands, tools):
    gw_a = islands.gw["a"]
    a1, a2, a3 = islands.hosts["a"]
    queue, sndbuf = 262144, 262144
    relay = T.start_mcferry(gw_a, [
        "relay", "--stats", "1", "--stats-json",
        "udp://@%s?iface=br0&rcvbuf=4194304" % G,
        "tcp://@:1601?queue=%d&sndbuf=%d" % (queue, sndbuf)], tag="relay")
    lan = T.Islands.gw_lan("a")
    # ~4.2 Mbit/s: 400 datagrams of 1316 bytes a second for 15 s
    count, rate, size = 6000, 400, 1316
    fast, n_stop, n_slow = 50, 10, 10
    mr = T.start_mcrecv(a2, ["tcp", "%s:1601" % lan, "--clients", fast,
                             "--size", size, "--rcvbuf", 4194304,
                             "--idle", "3", "--duration", "90",
                             "--expect", count])
    stopped = []
    for i in range(n_stop):
        stopped.append(a3.spawn([
            "socat", "-u", "TCP:%s:1601,sourceport=%d,rcvbuf=16384"
            % (lan, 42000 + i), "OPEN:/dev/null"], tag="stopped%d" % i))
    stop_ev, slow_got = threading.Event(), {}
    slow = [slow_reader(a3, lan, 1601, stop_ev, slow_got)
            for _ in range(n_slow)]
    slow_ports = {s.getsockname()[1] for s, _ in slow}
    relay.wait_for_log(CONNECTED_RX, timeout=15,
                       count=fast + n_stop + n_slow)
    for p in stopped:
        p.send_signal(signal.SIGSTOP)
    rss0 = T.proc_rss_kib(relay.pid)
    t_start = time.time()
    sender = a1.spawn([T.MCSEND, "--count", count, "--rate", rate,
                       "--size", size, "--iface", T.Islands.host_addr("a", 1),
                       G], tag="mcsend")
    peak = rss0
    try:
        while sender.p.poll() is None:
            peak = max(peak, T.proc_rss_kib(relay.pid))
            time.sleep(0.1)
        assert sender.wait(5) == 0, sender.describe()
        summary = T.mcrecv_result(mr, timeout=60)
    finally:
        stop_ev.set()
        for p in stopped:
            p.send_signal(signal.SIGCONT)
        for s, t in slow:
            t.join(2)
            s.close()
    cuts = raw_lines(relay, r"\bc=(\d+) client closed reason=slow-consumer "
                            r"peer=[\d.]+:(\d+) queued=(\d+)")
    stop_cuts = [(t, m) for t, m in cuts if 42000 <= int(m.group(2)) < 42100]
    slow_cuts = [(t, m) for t, m in cuts if int(m.group(2)) in slow_ports]
    # a stopped client's queue, the relay's send buffer (the kernel doubles
    # SO_SNDBUF) and the client's receive buffer hold this much; at the
    # stream's rate they fill in `fill` seconds after the first datagram
    rate_b = rate * size
    fill = (queue + 2 * sndbuf + 2 * 16384) / rate_b
    lat = sorted(t - t_start for t, _ in stop_cuts)
    print("stopped clients cut %s s after the stream began (fill %.2f s); "
          "slow clients cut at %s s; relay RSS %d -> peak %d KiB" % (
              ["%.2f" % x for x in lat], fill,
              ["%.2f" % (t - t_start) for t, _ in slow_cuts], rss0, peak))
    T.assert_exactly_once(summary, count, clients=fast,
                          what="50 fast clients next to 20 slow ones",
                          size=size)
    assert summary["eof_clients"] == 0 and summary["reset_clients"] == 0
    assert len(stop_cuts) == n_stop and len(slow_cuts) == n_slow, \
        relay.stderr()
    assert len(cuts) == n_stop + n_slow, "only those 20 may be cut"
    # each stopped one within 2 s of its queue and socket filling
    assert lat[-1] <= fill + 2.0, (lat, fill)
    # the cutoff counter agrees
    got = S.reports(relay)
    assert got[-1][S.RELAY + "cutoffs_total"] == n_stop + n_slow, got[-1]
    # memory: bounded by the caps, whatever the clients do
    clients = fast + n_stop + n_slow
    bound = rss0 + (clients * (queue + sndbuf) + (16 << 20)) // 1024
    assert peak < bound, (rss0, peak, bound)
    assert relay.alive()
