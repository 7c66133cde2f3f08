"""What the foundations promise: framing=auto between mcferry nodes and
raw bytes for everyone else, and one lifetime model (a service removed by a
reload lets go of its groups and sockets at once).

    a1 --LAN A--> gw A: relay udp://@G tcp://R:1602     (the seed's commands,
                  R:    relay tcp://@:1602 tcp://@:1603   default framing)
                  gw B: relay tcp://R:1603 udp://G --LAN B--> b2
"""

import os
import signal
import socket
import struct
import time

import topo as T
from test_chain import GROUP, PORT, open_path, start_seed_chain


def rtp_packet(seq, payload_len=1316):
    """An RTP packet as ffmpeg sends MPEG-TS: 12-byte header, type 33."""
    hdr = struct.pack(">BBHII", 0x80, 33, seq & 0xFFFF, seq * 3000,
                      0x5E57C0DE)
    return hdr + bytes([0x47]) + os.urandom(payload_len - 1)


def send_and_check(tx, rx, datagrams):
    """Send datagrams A -> B one by one; they arrive whole, once, in order."""
    for i, d in enumerate(datagrams):
        tx.sendto(d, (GROUP, PORT))
        n = i + 1
        assert rx.wait_for(lambda g: len(g) >= n, 5.0), (
            "datagram #%d (%d bytes) did not arrive; got sizes %s"
            % (i, len(d), [len(x) for _, x in rx.snapshot()][-5:]))
    sentinel = T.probe_payload("sentinel", 100)
    tx.sendto(sentinel, (GROUP, PORT))
    assert rx.wait_for(lambda g: g and g[-1][1] == sentinel, 5.0)
    got = [d for _, d in rx.snapshot()]
    assert [len(d) for d in got] == [len(d) for d in datagrams] + [100]
    assert got == list(datagrams) + [sentinel]


def test_seed_commands_carry_rtp_and_odd_sizes_exactly(islands):
    """The seed's four commands as in the README (no framing option): the
    two mcferry hops find each other by the HELLO, so 1328-byte RTP
    datagrams and every odd size cross byte-exact (raw framing would
    re-cut them into 1316-byte chunks)."""
    procs = start_seed_chain(islands, "auto")
    tx, rx = open_path(islands, 64)
    try:
        rtp = [rtp_packet(i) for i in range(200)]
        odd = [bytes([i % 251 + 1]) * sz for i, sz in
               enumerate([1, 2, 187, 1315, 1317, 1328, 1500, 2049, 9000,
                          65507])]
        send_and_check(tx, rx, rtp + odd)
    finally:
        rx.close()
        tx.close()
    for name in ("island-a", "splitter", "island-b"):
        assert procs[name].alive(), procs[name].describe()


def test_auto_sink_gives_a_plain_tcp_server_raw_bytes(islands):
    """A connecting sink with the default framing, towards a plain TCP
    server that never speaks: after its short wait it sends raw bytes,
    and the server never sees a HELLO."""
    port = 1700
    srv = islands.r.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(10)
    p = T.start_mcferry(islands.gw["a"],
                        ["relay", "udp://@%s:%d?iface=br0" % (GROUP, PORT),
                         "tcp://%s:%d" % (T.Islands.r_addr("a"), port)],
                        tag="island-a")
    conn, _ = srv.accept()
    conn.settimeout(5)
    a1 = islands.hosts["a"][0]
    tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1))
    try:
        first = b"F" * 100
        # Until the sink has decided (200 ms of silence), nothing is sent.
        deadline = time.monotonic() + 5
        got = b""
        while time.monotonic() < deadline and not got:
            tx.sendto(first, (GROUP, PORT))
            time.sleep(0.05)
            conn.setblocking(False)
            try:
                got = conn.recv(65536)
            except BlockingIOError:
                got = b""
            conn.setblocking(True)
        assert got, "the sink never sent anything"
        assert got.startswith(first), "first bytes %r are not the data" % (
            got[:16],)
        assert b"MCFY" not in got
        # From then on, datagrams are concatenated raw.
        conn.settimeout(5)
        sent = [bytes([0x30 + i % 10]) * (500 + i) for i in range(20)]
        for d in sent:
            tx.sendto(d, (GROUP, PORT))
        want = len(b"".join(sent))
        rest = b""
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            rest += chunk
            body = rest.lstrip(b"F")
            if len(body) >= want:
                break
        body = rest.lstrip(b"F")
        assert body[:want] == b"".join(sent)
        assert b"MCFY" not in rest
    finally:
        tx.close()
        conn.close()
        srv.close()
    assert p.alive(), p.describe()


def igmp_groups(ns):
    """Multicast groups joined in ns, from /proc/net/igmp, as dotted quads."""
    out = ns.exec(["cat", "/proc/net/igmp"]).stdout
    groups = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 1 and len(f[0]) == 8 and all(
                c in "0123456789ABCDEF" for c in f[0]):
            groups.add(socket.inet_ntoa(struct.pack("<I", int(f[0], 16))))
    return groups


def test_reload_removing_a_gateway_leaves_its_group_within_1s(solo,
                                                              mcferry_bin,
                                                              tmp_path):
    ns = solo.ns
    group = "239.77.7.7"
    conf = tmp_path / "gw.conf"
    gateway = ("[gateway gone]\nhub = tcp://127.0.0.1:9\niface = lan1\n"
               "island = X\ngroup = %s:5000\n" % group)
    keep = "[relay keep]\nsource = udp://@:6000\nsink = udp://127.0.0.1:6001\n"
    conf.write_text(keep + gateway)
    p = T.start_mcferry(ns, ["run", str(conf)], tag="reload")
    deadline = time.monotonic() + 5
    while group not in igmp_groups(ns):
        assert time.monotonic() < deadline, "gateway never joined %s" % group
        time.sleep(0.05)
    conf.write_text(keep)
    p.send_signal(signal.SIGHUP)
    t0 = time.monotonic()
    while group in igmp_groups(ns):
        assert time.monotonic() - t0 < 1.0, (
            "%s still joined 1 s after the reload:\n%s" % (group,
                                                           p.describe()))
        time.sleep(0.02)
    p.wait_for_log(r"reload done: 1 running, 1 stopped, 0 started")
    assert p.log_matches(r"gateway=gone stopped")
    assert p.alive()
