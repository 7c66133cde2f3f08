"""The hub's routing core: channel state comes only from JOIN and EXPORT,
and the duplicate window is per origin.

Topology hubnet (hubtopo.HubNet, picture in tests/README.md): islands A
(two gateways), B and C (one each) around one hub; a raw TCP peer on the
bad-peer host speaks the link protocol by hand.
"""

import os
import re
import signal
import socket
import struct
import time


import hubtopo as H
import topo as T
from hubtopo import GROUP, STREAM

RATE = 1000
FT_DATA = 0x11
FT_PING = 0x03
UNKNOWN = 4200       # more than the old table's 4096 channels


def data_frame(origin, seq, group, port, payload=b"x" * 32):
    """A DATA frame of an IPv4 any-source channel (docs/protocol.md)."""
    ch = bytes([4, 0]) + struct.pack(">H", port) + \
        socket.inet_aton(group) + b"\0" * 4
    body = bytes([0, 0]) + struct.pack(">HQQ", 4000, origin, seq) + ch + \
        payload
    return T.frame(FT_DATA, body)


def hub_lines(hub):
    """The hub-wide stats lines, as dicts of int values."""
    out = []
    for line in hub.stderr().splitlines():
        if re.match(r"^stats hub=\S+ mcferry_hub_links=", line):
            out.append({k: int(v) for k, v in
                        re.findall(r"(\w+)=(\d+)", line)})
    return out


def channel_names(hub):
    """Every channel that has appeared in a hub stats line."""
    return set(re.findall(r"^stats hub=\S+ channel=(\S+) ", hub.stderr(),
                          re.M))


def wait_hub_line(hub, pred, timeout=10.0, tick=None):
    """The first hub-wide stats line for which pred holds; tick() is
    called while waiting."""
    deadline = time.monotonic() + timeout
    while True:
        st = hub_lines(hub)
        if st and pred(st[-1]):
            return st[-1]
        assert time.monotonic() < deadline and hub.alive(), (
            st[-1:], hub.describe())
        if tick:
            tick()
        time.sleep(0.05)


def check_once(rx, stream, n):
    for x, p in rx.items():
        s = H.end_mcrecv(p)
        c = s["per_client"][0]
        what = "island %s: %s" % (H.NAME[x], s)
        assert H.stream_unique(s, stream) == n, what
        assert (c["duplicates"], c["bad"]) == (0, 0), what


# --------------------------------------------------------------------------
def test_data_never_makes_channel_state(net):
    """4,200 DATA frames on channels nobody joined or exported, from a raw
    peer, are dropped and counted, and no channel appears at the hub, while
    A's stream reaches B and C exactly once."""
    n = 3000
    hub, gws = net.start_all()
    rx = {x: net.mcrecv(x, expect=n) for x in ("b", "c")}
    w = net.watch("b")
    snd = net.sender("a", count=n)
    assert w.wait_for(lambda g: len(g) >= 200, 10), "stream A -> B not up"

    s = net.tcp()
    s.settimeout(5)
    s.connect((H.HUB_ADDR, H.HUB_PORT))
    origin = int.from_bytes(os.urandom(8), "big")
    s.sendall(T.hello(role=3, island=b"raw", node=origin))
    hub.wait_for_log(r"\bgateway up peer=%s:\d+ island=raw\b"
                     % re.escape(H.BAD_ADDR), timeout=5)
    # every frame a channel of its own: 239.77.x.y:9000
    for i0 in range(0, UNKNOWN, 300):
        s.sendall(b"".join(
            data_frame(origin, i, "239.77.%d.%d" % (i // 250, i % 250 + 1),
                       9000)
            for i in range(i0, min(i0 + 300, UNKNOWN))))
        time.sleep(0.02)
    # keep the raw link alive (a ping) until the hub has counted them all
    last = wait_hub_line(
        hub, lambda d:
        d["mcferry_hub_unknown_channel_dropped_datagrams_total"] >= UNKNOWN,
        tick=lambda: s.sendall(T.frame(FT_PING, b"\0" * 8)))
    # a line of the raw link logged after it (the same stats tick or later)
    k = len(hub_lines(hub))
    wait_hub_line(hub, lambda d: len(hub_lines(hub)) > k,
                  tick=lambda: s.sendall(T.frame(FT_PING, b"\0" * 8)))
    assert last["mcferry_hub_unknown_channel_dropped_datagrams_total"] == \
        UNKNOWN, last
    assert last["mcferry_hub_channels"] == 1, last
    links = re.findall(r"^stats hub=\S+ link=\d+ island=raw \S+ (.*)$",
                       hub.stderr(), re.M)
    assert links, hub.describe()
    raw = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", links[-1])}
    assert raw["mcferry_hub_link_in_datagrams_total"] == UNKNOWN, raw
    assert raw["mcferry_hub_link_dropped_total"] == UNKNOWN, raw
    s.close()

    assert H.finish_sender(snd, timeout=n / RATE + 30) == n
    check_once(rx, STREAM["a"], n)
    assert channel_names(hub) == {GROUP}, sorted(channel_names(hub))[:5]
    st = net.channel_stats(hub, GROUP)[-1]
    assert st["mcferry_hub_channel_duplicates_total"] == 0, st
    assert hub.alive() and not hub.log_matches(r"too-many-channels")


# --------------------------------------------------------------------------
def test_restarted_gateway_is_a_new_origin(net):
    """SIGKILL island B's gateway and start it again: it comes back with a
    new node id and sequence numbers from 0 again, and what it exports and
    imports afterwards is delivered exactly once."""
    n = 1500
    hub, gws = net.start_all()
    rx = {x: net.mcrecv(x, expect=n) for x in ("a", "c")}
    assert H.finish_sender(net.sender("b", count=n)) == n
    check_once(rx, STREAM["b"], n)

    old = gws["b"][0]
    node0 = set(m.group(1) for m in hub.log_matches(
        r"\bgateway up peer=\S+ island=B node=([0-9a-f]+)"))
    n_up = len(hub.log_matches(r"\bgateway up\b"))
    os.kill(old.pid, signal.SIGKILL)
    old.p.wait(5)
    hub.wait_for_log(r"\bchannel=%s island=B forwarder=none\b"
                     % re.escape(GROUP), timeout=5)
    back = net.start_gateway("b", 1, tag="gwb1-back")
    hub.wait_for_log(r"\bgateway up\b", timeout=10, count=n_up + 1)
    node1 = set(m.group(1) for m in hub.log_matches(
        r"\bgateway up peer=\S+ island=B node=([0-9a-f]+)")) - node0
    assert len(node1) == 1, (node0, node1)
    net.wait_forwarder("b", GROUP, procs=[back])

    # B -> A, C through the new origin, and A -> B into the new gateway
    rx = {x: net.mcrecv(x, expect=n, tag="mcrecv2-%s" % x)
          for x in ("a", "b", "c")}
    snd = {x: net.sender(x, count=n, tag="mcsend2-%s" % x)
           for x in ("a", "b")}
    assert {x: H.finish_sender(snd[x], timeout=n / RATE + 30)
            for x in snd} == {"a": n, "b": n}
    res = {x: H.end_mcrecv(rx[x]) for x in rx}
    for x, y in (("a", "b"), ("c", "b"), ("b", "a"), ("c", "a")):
        c = res[x]["per_client"][0]
        what = "island %s, stream of %s: %s" % (H.NAME[x], H.NAME[y],
                                                res[x])
        assert H.stream_unique(res[x], STREAM[y]) == n, what
        assert (c["duplicates"], c["bad"]) == (0, 0), what
    deadline = time.monotonic() + 5
    while True:
        gst = net.gateway_stats(back, GROUP)
        if gst and gst[-1]["mcferry_gateway_channel_exported_total"] >= n:
            break
        assert time.monotonic() < deadline, gst[-1:]
        time.sleep(0.05)
    assert gst[-1]["mcferry_gateway_channel_exported_total"] == n, gst[-1]
