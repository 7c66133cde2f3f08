"""What strangers can hold: hello deadline, connection caps, running out of
descriptors, control-frame floods, channel caps, a squatting publisher and
log injection.  Thresholds are the bar of the trust issue (items 3-5).

(a) hubnet (tests/README.md "Topology hubnet"): 2,000 connections from the
    bad-peer host that never finish a HELLO, plus one real gateway pair
    (islands A and B): the real one streams exactly once, the others are
    closed at the 5 s deadline.
(b-g) solo namespace (10.9.0.1): a hub or a splitter and python peers
    (topo.RawPeer) speaking the link protocol, good and bad.
"""

import os
import re
import socket
import struct
import threading
import time

import pytest

import hubtopo as H
import topo as T

HOST = "10.9.0.1"
HUBP = 7000
Q = "?framing=datagram"


def tcp(ns, host, port, rcvbuf=None):
    with ns.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect((host, port))
    return s


def closed_count(proc, reason):
    return len(proc.log_matches(r"\bclosed reason=%s\b" % re.escape(reason)))


# --------------------------------------------------------------------------
def test_pending_conns_closed_at_deadline(net):
    """(a) 2,000 half-HELLOs are closed at the deadline; a real gateway
    pair streams exactly once meanwhile."""
    n_bad, n = 2000, 2000
    T.raise_nofile(8192)
    hub = T.start_mcferry(net.hub_ns, [
        "hub", "--listen", "tcp://@:%d?max-conns=5000&max-pending=3000"
        "&max-pending-per-addr=3000" % H.HUB_PORT, "--stats", "1"],
        tag="hub")
    net.hub = hub
    rss0 = T.proc_rss_kib(hub.pid)
    half = T.hello(island=b"slow")[:11]
    bad = []
    t0 = time.monotonic()
    for i in range(n_bad):
        s = tcp(net.bad_ns, H.HUB_ADDR, H.HUB_PORT)
        s.sendall(half)
        bad.append(s)
    t_open = time.monotonic() - t0
    hub.wait_for_log(r"\bconns=%d\b" % n_bad, timeout=10)
    rss1 = T.proc_rss_kib(hub.pid)
    # slowloris: a byte a second each, so the hub's 2.5 s silence rule
    # does not close them; only the hello deadline does
    hello_rest = T.hello(island=b"slow")[11:]
    stop = threading.Event()

    def drip():
        k = 0
        while not stop.wait(0.8):
            for b in bad:
                try:
                    b.send(hello_rest[k:k + 1])
                except OSError:
                    pass
            k += 1
    dt = threading.Thread(target=drip, daemon=True)
    dt.start()
    per_conn = (rss1 - rss0) * 1024 / n_bad
    # the real pair, while all of them wait
    ga = net.start_gateway("a", 1)
    gb = net.start_gateway("b", 1)
    net.wait_forwarder("a", H.GROUP, procs=[ga])
    net.wait_forwarder("b", H.GROUP, procs=[gb])
    rx = net.mcrecv("b", expect=n)
    sent = H.finish_sender(net.sender("a", count=n), timeout=n / 1000 + 30)
    s = H.end_mcrecv(rx)
    assert H.stream_unique(s, H.STREAM["a"]) == sent == n, s
    c = s["per_client"][0]
    assert (c["duplicates"], c["bad"]) == (0, 0), s
    # every bad one is closed at its deadline: 5 s after its accept
    hub.wait_for_log(r"\bclosed reason=hello-timeout\b", count=n_bad,
                     timeout=15)
    t_closed = time.monotonic() - t0
    stop.set()
    dt.join(5)
    closed = 0
    for b in bad:
        data, how = T.read_until_closed(b, timeout=2)
        closed += 1
        b.close()
    assert closed == n_bad
    assert closed_count(hub, "hello-timeout") == n_bad
    # the first was accepted at t0, the last at t_open: all by 5 s + slack
    assert t_closed < t_open + 5.0 + 3.0, (t_open, t_closed)
    print("2000 pending: opened in %.2fs, all closed %.2fs after the first "
          "(deadline 5 s); hub RSS %d -> %d KiB, %.0f bytes per pending conn"
          % (t_open, t_closed, rss0, rss1, per_conn))
    assert per_conn <= 16 * 1024, per_conn


# --------------------------------------------------------------------------
def test_pending_caps_refuse_at_once(solo, mcferry_bin):
    """(b) max-pending-per-addr: the 9th pending peer of one address is
    accepted and closed at once; refusals are logged once a second."""
    hub = T.start_mcferry(solo.ns, [
        "hub", "--listen", "tcp://@:%d?max-pending-per-addr=8" % HUBP],
        tag="hub")
    socks = [tcp(solo.ns, HOST, HUBP) for _ in range(40)]
    t0 = time.monotonic()
    shut = 0
    for s in socks[8:]:
        T.read_until_closed(s, timeout=2)
        shut += 1
    took = time.monotonic() - t0
    time.sleep(0.3)
    for s in socks[:8]:
        # the first 8 wait for their deadline: the hub's HELLO and PINGs
        # come, no EOF
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            while True:
                assert s.recv(100)
    lines = hub.log_matches(r"refused reason=too-many-pending-per-addr\b")
    assert shut == 32 and took < 2.0, (shut, took)
    assert 1 <= len(lines) <= 2, lines
    # once they are gone, a peer of that address that says HELLO is welcome
    for s in socks[:8]:
        s.close()
    hub.wait_for_log(r"\bclosed reason=eof\b", count=8, timeout=5)
    p = T.RawPeer(solo.ns, HOST, HUBP, island=b"good")
    hub.wait_for_log(r"gateway up .*island=good", timeout=5)
    p.close()


# --------------------------------------------------------------------------
def test_hub_adjacencies_bounded(solo, mcferry_bin):
    """A hub takes at most 64 other hubs (the most children a tree gives
    it): the 65th hub HELLO gets ERROR too-many-hub-links and is closed,
    counted and logged; the 64 stay, and a gateway is still welcome."""
    hub = T.start_mcferry(solo.ns, [
        "hub", "--listen", "tcp://@:%d?max-pending-per-addr=1000" % HUBP,
        "--heartbeat", "20000",
        "--stats", "1", "--stats-json"], tag="hub")
    peers = []
    for i in range(64):
        s = tcp(solo.ns, HOST, HUBP)
        s.sendall(T.hello(role=2, node=0x4B0000 + i, island=b"h%d" % i))
        peers.append(s)
    hub.wait_for_log(r"\bhub up peer=", count=64, timeout=15)
    extra = tcp(solo.ns, HOST, HUBP)
    extra.sendall(T.hello(role=2, node=0x4B0FFF, island=b"one-more"))
    data, _how = T.read_until_closed(extra, timeout=5)
    frames, _ = T.parse_frames(data)
    errors = [b for t, b in frames if t == T.FT_ERROR]
    assert errors and b"too-many-hub-links" in errors[-1], frames
    hub.wait_for_log(r"hub link refused .*reason=too-many-hub-links "
                     r"links=64", timeout=5)
    assert len(hub.log_matches(r"\bhub up peer=")) == 64, hub.stderr()
    gw = T.RawPeer(solo.ns, HOST, HUBP, island=b"good")
    hub.wait_for_log(r"gateway up .*island=good", timeout=5)
    want = re.compile(r'"metric":"mcferry_hub_refused_hub_links_total",'
                      r'"labels":\{[^}]*\},"value":1\}')
    deadline = time.monotonic() + 5
    while not want.search(hub.stdout()):
        assert time.monotonic() < deadline, hub.stdout()[-2000:]
        time.sleep(0.2)
    gw.close()
    for s in peers:
        s.close()


# --------------------------------------------------------------------------
def test_ping_flood_that_never_reads(solo, mcferry_bin):
    """(c) a peer that floods PINGs and never reads is cut off as
    slow-consumer; the hub's RSS stays under queue + 16 MiB."""
    queue = 1 << 20
    hub = T.start_mcferry(solo.ns, [
        "hub", "--listen", "tcp://@:%d?queue=%d" % (HUBP, queue)], tag="hub")
    rss0 = T.proc_rss_kib(hub.pid)
    s = tcp(solo.ns, HOST, HUBP, rcvbuf=4096)
    s.sendall(T.hello(role=3, island=b"flood"))
    block = b"".join(T.ping(i) for i in range(4096))   # 64 KiB
    peak, sent = rss0, 0
    t0 = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - t0 < 30:
        try:
            s.sendall(block)
            sent += len(block)
        except (socket.timeout, OSError):
            pass
        if sent % (1 << 22) == 0:
            peak = max(peak, T.proc_rss_kib(hub.pid))
        if hub.log_matches(r"\bclosed reason=slow-consumer\b"):
            break
    peak = max(peak, T.proc_rss_kib(hub.pid))
    took = time.monotonic() - t0
    hub.wait_for_log(r"\bclosed reason=slow-consumer\b", timeout=5)
    s.close()
    time.sleep(0.5)
    after = T.proc_rss_kib(hub.pid)
    bound = rss0 + (queue + (16 << 20)) // 1024
    print("ping flood: %d MiB of PINGs in %.1fs, cut off; hub RSS %d -> "
          "peak %d -> %d KiB after (bound %d)" % (sent >> 20, took, rss0,
                                                   peak, after, bound))
    assert peak < bound and after < bound, (rss0, peak, after, bound)


# --------------------------------------------------------------------------
def _splitter_nofile(ns):
    p = ns.spawn(["prlimit", "--nofile=64:64", T.MCFERRY, "relay",
                  "tcp://@:1602" + Q, "tcp://@:1603" + Q +
                  "&max-pending=1000&max-pending-per-addr=1000"],
                 tag="splitter")
    p.wait_for_log(T.READY_RX, timeout=10)
    return p


def test_out_of_descriptors(solo, mcferry_bin):
    """(d) RLIMIT_NOFILE=64 and 200 connection attempts: CPU stays low and
    a live stream through the same process loses nothing."""
    ns = solo.ns
    sp = _splitter_nofile(ns)
    sub = tcp(ns, HOST, 1603)
    sub.sendall(T.hello(island=b"sub"))
    sp.wait_for_log(r"\bclient connected\b", timeout=5)
    pub = tcp(ns, HOST, 1602)
    pub.sendall(T.hello(island=b"pub"))
    sp.wait_for_log(r"publisher connected", timeout=5)
    got = []

    def reader():
        buf = b""
        sub.settimeout(15)
        try:
            while len(got) < n:
                chunk = sub.recv(65536)
                if not chunk:
                    return
                fr, buf = T.parse_frames(buf + chunk)
                got.extend(b for t, b in fr if t == T.FT_DGRAM)
        except OSError:
            return
    n = 3000
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    cpu0, w0 = T.proc_cpu_s(sp.pid), time.monotonic()
    attack = []
    for i in range(200):
        try:
            attack.append(tcp(ns, HOST, 1603))
        except OSError:
            pass
    # the stream goes on through the attack: 3000 datagrams over 3 s
    for i in range(n):
        pub.sendall(T.dgram(struct.pack(">I", i) + b"d" * 500))
        if i % 10 == 9:
            time.sleep(0.01)
    rt.join(20)
    cpu1, w1 = T.proc_cpu_s(sp.pid), time.monotonic()
    share = (cpu1 - cpu0) / (w1 - w0)
    refused = sp.log_matches(r"refused reason=no-descriptors .*count=(\d+)")
    print("RLIMIT_NOFILE=64, 200 attempts: splitter CPU %.1f %% of %.1f s; "
          "no-descriptors lines %d (last count %s); stream %d/%d" % (
              100 * share, w1 - w0, len(refused),
              refused[-1].group(1) if refused else "-", len(got), n))
    assert refused, sp.describe()
    assert [struct.unpack(">I", g[:4])[0] for g in got] == list(range(n))
    assert share < 0.10, share
    assert sp.alive()
    for s in attack:
        s.close()


# --------------------------------------------------------------------------
def test_join_flood_refused_link_kept(solo, mcferry_bin):
    """(e) 100,000 JOINs on one link: refused past the cap with ERROR
    frames, the link and its channels stay, a live stream loses nothing."""
    # Each ERROR counts as its 2 KiB buffer in the flooder's queue: 4 MiB
    # holds ~1,900, and a python reader on a loaded box may fall further
    # behind than that, which is cut off (slow-consumer) by design. This
    # test is about refusing, so the queue is made roomy.
    hub = T.start_mcferry(solo.ns, [
        "hub", "--listen", "tcp://@:%d?queue=67108864" % HUBP], tag="hub")
    g, port, n = "239.9.9.9", 5000, 2000
    x = T.RawPeer(solo.ns, HOST, HUBP, island=b"X", node=0x11)
    y = T.RawPeer(solo.ns, HOST, HUBP, island=b"Y", node=0x22)
    x.send(T.export(g, port))
    y.send(T.join(g, port))
    assert x.wait_for(lambda p: p.of_type(T.FT_FORWARDER), 5)
    hub.wait_for_log(r"island=Y join channel=", timeout=5)
    f = T.RawPeer(solo.ns, HOST, HUBP, island=b"F", node=0x33,
                  rcvbuf=8 << 20)
    flood = b"".join(T.join("239.%d.%d.%d" % (1 + i // 65536,
                                              (i // 256) % 256, i % 256),
                            6000) for i in range(100000))
    ft = threading.Thread(target=f.send, args=(flood,), daemon=True)
    ft.start()
    for i in range(n):
        x.send(T.data(g, port, 0x11, i, struct.pack(">I", i) + b"v" * 200))
        if i % 20 == 19:
            time.sleep(0.01)
    ft.join(30)
    want = 100000 - 1024
    ok = f.wait_for(lambda p: len(p.of_type(T.FT_ERROR)) >= want, 20)
    errs = f.of_type(T.FT_ERROR)
    assert ok, (len(errs), f.closed, hub.log_matches(r"island=F.*closed"),
                hub.log_matches(r"link closed reason=\S+"))
    assert all(struct.unpack(">H", e[:2])[0] == T.ERR_REFUSED for e in errs)
    assert y.wait_for(lambda p: len(p.of_type(T.FT_DATA)) >= n, 10)
    seqs = [T.data_seq(b)[1] for b in y.of_type(T.FT_DATA)]
    assert seqs == list(range(n)), (len(seqs), seqs[:5])
    # the flooder's link is up and keeps its 1024 channels
    time.sleep(1.0)
    assert f.closed is None and hub.alive()
    assert not hub.log_matches(r"\bc=\d+ link closed\b")
    joins = hub.log_matches(r"island=F join channel=")
    refused = hub.log_matches(r"refused reason=too-many-channels")
    print("join flood: %d joined, %d ERROR REFUSED, %d refusal log lines, "
          "stream %d/%d" % (len(joins), len(errs), len(refused), len(seqs),
                            n))
    assert len(joins) == 1024 and len(errs) == want
    assert len(refused) < 40
    for p in (f, x, y):
        p.close()


# --------------------------------------------------------------------------
def test_squatting_publisher_freed(solo, mcferry_bin):
    """(f) the first publisher to connect and then sit idle is closed after
    idle-timeout; a real publisher gets the slot."""
    ns = solo.ns
    sp = T.start_mcferry(ns, ["relay", "tcp://@:1602" + Q + "&idle-timeout=2",
                              "tcp://@:1603" + Q], tag="splitter")
    squat = tcp(ns, HOST, 1602)
    squat.sendall(T.hello(island=b"squat"))
    sp.wait_for_log(r"publisher connected", timeout=5)
    t0 = time.monotonic()
    early = tcp(ns, HOST, 1602)
    early.sendall(T.hello(island=b"early"))
    sp.wait_for_log(r"reason=publisher-busy", timeout=5)
    early.close()
    T.read_until_closed(squat, timeout=5)
    took = time.monotonic() - t0
    sp.wait_for_log(r"\bclosed reason=idle-timeout\b", timeout=2)
    assert 1.5 < took < 4.0, took
    sub = tcp(ns, HOST, 1603)
    sub.sendall(T.hello(island=b"sub"))
    sp.wait_for_log(r"\bclient connected\b", timeout=5)
    pub = tcp(ns, HOST, 1602)
    payloads = [os.urandom(100 + i) for i in range(50)]
    pub.sendall(T.hello(island=b"real") + b"".join(T.dgram(p)
                                                   for p in payloads))
    buf, got = b"", []
    sub.settimeout(5)
    while len(got) < len(payloads):
        chunk = sub.recv(65536)
        assert chunk
        fr, buf = T.parse_frames(buf + chunk)
        got += [b for t, b in fr if t == T.FT_DGRAM]
    assert got == payloads
    squat.close()
    pub.close()
    sub.close()


# --------------------------------------------------------------------------
def test_log_injection_escaped(solo, mcferry_bin):
    """(g) a newline, ESC, BEL and 0xff in an island name or ERROR text
    stay on one escaped log line."""
    hub = T.start_mcferry(solo.ns, [
        "hub", "--listen", "tcp://@:%d" % HUBP], tag="hub")
    evil = b"ev\nwarn FORGED line\x1b[31m\x07\xff"
    p = T.RawPeer(solo.ns, HOST, HUBP, island=evil)
    hub.wait_for_log(r"gateway up .*island=ev", timeout=5)
    p.send(T.frame(T.FT_ERROR, struct.pack(">H", 2) +
                   b"bye\nerror FORGED too\x1b\x07\xff"))
    hub.wait_for_log(r"\bclosed reason=peer-error\b", timeout=5)
    p.close()
    with open(hub.err_path, "rb") as fh:
        raw = fh.read()
    for b in (b"\x1b", b"\x07", b"\xff"):
        assert b not in raw, b
    lines = raw.decode().splitlines()
    assert not [l for l in lines if "FORGED" in l and
                not re.match(r"^(?:\d{4}-\d\d-\d\dT[\d:.]+Z )?(info|warn) hub=",
                             l)], lines
    up = [l for l in lines if "gateway up" in l]
    # the island is a key=value field: its blanks are escaped too
    assert len(up) == 1 and "island=ev\\x0awarn\\x20FORGED\\x20line" \
        "\\x1b[31m\\x07\\xff " in up[0], up
    err = [l for l in lines if "peer error" in l]
    assert len(err) == 1 and "bye\\x0aerror FORGED too\\x1b\\x07\\xff" \
        in err[0], err
