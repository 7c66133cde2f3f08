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
import re
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
        # slow=close: this is the cut-off policy's test (the default,
        # slow=skip, keeps a viewer that falls behind and skips for it)
        "tcp://@:1601?queue=%d&sndbuf=%d&slow=close" % (queue, sndbuf)],
        tag="relay")
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


# --------------------------------------------------------------------------
# (b) faults on gateway A1's hub link, applied in R (and on A1's wan0 for
#     the direction R cannot shape)

A_WAN = H.wan_addr("a", 1)     # 10.255.11.2
R_IF = "w11"                   # R's side of A1's wan link
FAULT_RATE, FAULT_SIZE = 200, 512          # 0.8 Mbit/s during the fault
BURST = 2000                               # the fresh burst afterwards


def ipt(ns, action, rule):
    ns.exec(["iptables", action] + rule, check=True)


def loss_rules(p):
    stat = ["-m", "statistic", "--mode", "random", "--probability", str(p),
            "-j", "DROP"]
    return [["FORWARD", "-i", R_IF, "-p", "tcp", "--dport",
             str(H.HUB_PORT)] + stat,
            ["FORWARD", "-o", R_IF, "-p", "tcp", "--sport",
             str(H.HUB_PORT)] + stat]


BLACKHOLE = [["FORWARD", "-i", R_IF, "-j", "DROP"],
             ["FORWARD", "-o", R_IF, "-j", "DROP"]]


class Fault:
    """One fault: apply() and clear() in R (and A1's namespace)."""

    def __init__(self, kind, arg=None, hold=8.0):
        self.kind, self.arg, self.hold = kind, arg, hold

    def apply(self, net):
        r, gw = net.r, net.gw["a"][0]
        if self.kind == "loss":
            for rule in loss_rules(self.arg):
                ipt(r, "-I", rule)
        elif self.kind == "tbf":
            for ns, dev in ((r, R_IF), (gw, "wan0")):
                ns.exec(["tc", "qdisc", "add", "dev", dev, "root", "tbf",
                         "rate", "2mbit", "burst", "32kbit", "latency",
                         "400ms"], check=True)
        elif self.kind == "blackhole":
            for rule in BLACKHOLE:
                ipt(r, "-I", rule)
        elif self.kind == "down":
            r.ip("link", "set", R_IF, "down")

    def clear(self, net):
        r, gw = net.r, net.gw["a"][0]
        if self.kind == "loss":
            for rule in loss_rules(self.arg):
                ipt(r, "-D", rule)
        elif self.kind == "tbf":
            for ns, dev in ((r, R_IF), (gw, "wan0")):
                ns.exec(["tc", "qdisc", "del", "dev", dev, "root"],
                        check=True)
        elif self.kind == "blackhole":
            for rule in BLACKHOLE:
                ipt(r, "-D", rule)
        elif self.kind == "down":
            r.ip("link", "set", R_IF, "up")


FAULTS = [
    ("loss-1pct", Fault("loss", 0.01)),
    ("loss-5pct", Fault("loss", 0.05)),
    # Known gap (docs/security.md): at 25 % loss the link is sometimes
    # re-made without the reconnect showing in the counters read here, and
    # what died in the old connection is then not counted; recovery and
    # exactly-once after it still hold. Not strict: it passes more often
    # than not, and a pass says nothing new.
    pytest.param(("loss-25pct", Fault("loss", 0.25)),
                 marks=pytest.mark.xfail(strict=False, reason=(
                     "in-flight loss on a re-made link is not counted"))),
    ("tbf-2mbit", Fault("tbf")),
    ("blackhole-5s", Fault("blackhole", hold=5.0)),
    ("link-down-3s", Fault("down", hold=3.0)),
]


def last_stats(stats):
    return stats[-1] if stats else {}


def key(d, short, full):
    return d.get(short, d.get(full, 0))


def wait_link_back(net, ga, ups_before, timeout=20.0):
    """Wait until A1 is (again) the forwarder on a live hub link, with at
    least ups_before `hub up` lines; returns the number of them."""
    deadline = time.monotonic() + timeout
    while True:
        ups = len(ga.log_matches(r"\bhub up\b"))
        if ups >= ups_before and H.HubNet.fwd_state(ga, H.GROUP) == "yes" \
                and len(net.hub.log_matches(r"\bgateway up\b")) >= \
                1 + ups:
            return ups
        if time.monotonic() > deadline:
            raise T.TopoError("gateway A1 not back\n%s"
                              % net.topo.describe_procs())
        time.sleep(0.05)


@pytest.mark.parametrize("case", FAULTS, ids=[
    (c.values[0] if hasattr(c, "values") else c)[0] for c in FAULTS])
def test_hub_link_fault_recovers_exactly_once(net, case):
    name, fault = case
    hub = net.start_hub()
    ga = net.start_gateway("a", 1)
    gb = net.start_gateway("b", 1)
    net.wait_forwarder("a", H.GROUP, procs=[ga])
    net.wait_forwarder("b", H.GROUP, procs=[gb])
    hub.wait_for_log(r"\bgateway up\b", count=2)
    # the stream through the fault
    rx = net.mcrecv("b", idle=0)      # no idle end: the fault is silence
    snd = net.sender("a", rate=FAULT_RATE, size=FAULT_SIZE)
    w = net.watch("b")
    assert w.wait_for(H.Count({H.STREAM["a"]}, 200), 10), \
        net.topo.describe_procs()
    ups0 = len(ga.log_matches(r"\bhub up\b"))
    t_fault = time.time()
    fault.apply(net)
    try:
        time.sleep(fault.hold)
    finally:
        fault.clear(net)
    t_clear = time.time()
    # back by itself: A1 on a hub link and forwarder again
    ups = wait_link_back(net, ga, ups0)
    t_back = time.time()
    time.sleep(1.0)
    sent = H.stop_sender(snd)
    s = H.end_mcrecv(rx, timeout=1.5)
    c = s["per_client"][0]
    got = H.stream_unique(s, H.STREAM["a"])
    # a fresh burst arrives exactly once
    rx2 = net.mcrecv("b", expect=BURST, tag="mcrecv-after", idle=2)
    sent2 = H.finish_sender(net.sender("a", count=BURST, rate=1000,
                                       size=FAULT_SIZE, stream=77,
                                       tag="mcsend-after"))
    s2 = H.end_mcrecv(rx2)
    time.sleep(1.2)     # one more stats line of each
    ga_st = last_stats(net.gateway_stats(ga, H.GROUP))
    hub_st = last_stats(net.channel_stats(hub, H.GROUP))
    gw_dropped = key(ga_st, "dropped", "mcferry_gateway_channel_dropped_total")
    gw_standby = key(ga_st, "standby", "mcferry_gateway_channel_standby_total")
    hub_dropped = key(hub_st, "dropped", "mcferry_hub_channel_dropped_total")
    reconnects = ups - 1
    cuts = len(hub.log_matches(r"reason=slow-consumer")) + \
        len(ga.log_matches(r"reason=slow-consumer"))
    # detection: when each side logged the close of this link
    det_hub = [t - t_fault for t, _ in raw_lines(
        hub, r"reason=timeout\b.*%s:" % re.escape(A_WAN)) if t >= t_fault]
    det_gw = [t - t_fault for t, _ in raw_lines(
        ga, r"upstream closed reason=timeout\b") if t >= t_fault]
    print("%s: sent %d, B got %d (lost %d, dup %d); A1 reconnects=%d "
          "dropped=%d standby=%d, hub dropped=%d, slow-consumer cuts=%d; "
          "back %.2f s after the fault ended; timeout detected by hub %s, "
          "gateway %s; burst %d/%d" % (
              name, sent, got, sent - got, c["duplicates"], reconnects,
              gw_dropped, gw_standby, hub_dropped, cuts, t_back - t_clear,
              "%.2f s" % det_hub[0] if det_hub else "-",
              "%.2f s" % det_gw[0] if det_gw else "-",
              H.stream_unique(s2, 77), sent2))
    # after recovery: exactly once
    c2 = s2["per_client"][0]
    assert H.stream_unique(s2, 77) == sent2 == BURST, s2
    assert (c2["duplicates"], c2["bad"]) == (0, 0), s2
    assert (c["duplicates"], c["bad"]) == (0, 0), s
    assert ga.alive() and gb.alive() and hub.alive()
    if reconnects == 0:
        # the link held: only the queue policy may have dropped, counted
        assert sent - got == gw_dropped + hub_dropped, (
            sent, got, gw_dropped, hub_dropped)
    else:
        # the link was re-made: what did not cross was lost at A1 while it
        # had no link or was not yet forwarder (counted), or in flight in
        # the dead connection (at most its queue: a few seconds at rate)
        lost = sent - got
        counted = gw_dropped + gw_standby + hub_dropped
        assert lost >= 0 and lost <= counted + FAULT_RATE * (
            t_clear - t_fault + 1), (lost, counted)
    if fault.kind == "blackhole":
        assert reconnects >= 1
        assert det_hub and det_hub[0] < 3.5, det_hub
        assert det_gw and det_gw[0] < 3.5, det_gw


# --------------------------------------------------------------------------
# (c) every malformed frame of test_bad_input.py at the hub, while ten
#     clients stream: gateway B1 and nine relay subscribers

N_SUBS = 9


def test_bad_frames_at_hub_while_ten_clients_stream(net):
    hub = net.start_hub()
    ga = net.start_gateway("a", 1)
    gb = net.start_gateway("b", 1)
    net.wait_forwarder("a", H.GROUP, procs=[ga])
    net.wait_forwarder("b", H.GROUP, procs=[gb])
    # nine relays on the bad-peer host subscribe to the channel and send
    # it on as unicast to a mcrecv each
    subs, rxs = [], []
    for i in range(N_SUBS):
        port = 6100 + i
        rxs.append(T.start_mcrecv(net.bad_ns, [
            "udp", "%s:%d" % (H.BAD_ADDR, port), "--idle", "3",
            "--duration", "120"], tag="sub-rx%d" % i))
        subs.append(T.start_mcferry(net.bad_ns, [
            "relay", "%s?framing=datagram&channel=%s" % (H.HUB_URI, H.GROUP),
            "udp://%s:%d" % (H.BAD_ADDR, port)], tag="sub%d" % i))
    hub.wait_for_log(r"\bjoin channel=%s\b" % re.escape(H.GROUP),
                     count=2 + N_SUBS, timeout=15)
    rx_b = net.mcrecv("b", idle=3)
    count, rate = 8000, 500
    snd = net.sender("a", count=count, rate=rate)
    results = []
    try:
        for case_id, data, half_close, reason in BAD_INPUTS:
            s = net.tcp()
            s.settimeout(5)
            s.connect((H.HUB_ADDR, H.HUB_PORT))
            port = s.getsockname()[1]
            try:
                s.sendall(data)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            _reply, how = T.read_until_closed(s, timeout=8)
            s.close()
            m = hub.wait_for_log(r"\bc=\d+ .*\bclosed reason=(\S+)"
                                 r".*\bpeer=%s:%d\b" % (
                                     re.escape(H.BAD_ADDR), port),
                                 timeout=8)[0]
            results.append((case_id, reason, m.group(1), how))
            assert hub.alive(), hub.describe()
        sent = H.finish_sender(snd, timeout=count / rate + 30)
    finally:
        snd.stop()
    print("bad frames at the hub: %s" % "; ".join(
        "%s -> %s%s" % (c, got, "" if got == want else " (splitter: %s)"
                        % want) for c, want, got, _ in results))
    sb = H.end_mcrecv(rx_b)
    got = [H.stream_unique(sb, H.STREAM["a"])]
    dups = [sb["per_client"][0]["duplicates"]]
    for r in rxs:
        s = H.end_mcrecv(r)
        got.append(H.stream_unique(s, H.STREAM["a"]))
        dups.append(s["per_client"][0]["duplicates"])
    print("streaming clients got %s of %d" % (got, sent))
    assert got == [sent] * (1 + N_SUBS) and dups == [0] * (1 + N_SUBS), \
        (got, dups, sent)
    # none of the ten was closed meanwhile
    for p in [ga, gb] + subs:
        assert not p.log_matches(r"\bupstream closed\b"), p.stderr()
    assert len(results) == len(BAD_INPUTS)
    # the hub names each the way the splitter does
    assert [r[2] for r in results] == [r[1] for r in results], results
