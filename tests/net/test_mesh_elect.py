"""One designated forwarder per (island, channel) across the mesh
(docs/mesh.md, "One forwarder per island"): island 1 has two gateways,
each on its own hub; every hub computes the same winner from the
database, so the island injects and imports each datagram once.

Topology: meshtopo.MeshNet with three hubs in a triangle, islands 1 and 3,
plus a second gateway host on island 1's LAN (built here, not in
meshtopo.py):

        island 1 LAN (br0) ------------------------+
          |  g  (10.101.0.1) --> hub 1  ---+        |
          |  h  (10.101.0.2) --> hub 2  ---+-- hub 3 <-- g (island 3)
          |  s (mcsend), r (mcrecv), w      \\_ h1 - h2 linked too

Readiness comes from log lines and the control API; the fixed waits left
are observation windows.
"""

import json
import re
import socket
import time

import pytest

import hubtopo as H
import meshtopo as M
import topo as T
from meshtopo import GROUP

RATE = 1000
FWD = "mcferry_hub_mesh_out_datagrams_total"


class ElectNet(M.MeshNet):
    """MeshNet plus a second gateway host on island 1 ("h": lan0 .2,
    wan0 10.253.1.2 -> R)."""

    def __init__(self, topo, nhubs, islands):
        super().__init__(topo, nhubs, islands)
        # the island's switch, made by MeshNet
        sw = next(ns for ns in topo.namespaces
                  if ns.name == topo.prefix + "i1")
        h = topo.netns("i1h")
        topo.veth(h, "lan0", sw, "p5")
        sw.ip("link", "set", "p5", "master", "br0")
        T.add_addr(h, "lan0", M.lan_addr(1, 2) + "/24")
        h.ip("route", "add", "224.0.0.0/4", "dev", "lan0")
        topo.veth(h, "wan0", self.r, "gx1")
        T.add_addr(h, "wan0", "10.253.1.2/24")
        T.add_addr(self.r, "gx1", "10.253.1.1/24")
        h.ip("route", "add", "default", "via", "10.253.1.1")
        self.host[(1, "h")] = h

    def start_gateway2(self, hub):
        """Island 1's second gateway (name g1b), on hub `hub`."""
        args = ["gateway", "--name", "g1b", "--iface", "lan0",
                "--island", "I1", "--stats", "1", "--hub", M.hub_uri(hub),
                "--group", GROUP]
        p = T.start_mcferry(self.host[(1, "h")], args, tag="gw1b")
        self.gws["1b"] = p
        return p


@pytest.fixture
def mk(request, tmp_path, mcferry_bin, tools):
    made = M.Made(request, tmp_path, "me")
    yield lambda nhubs, islands: made.net(nhubs, islands, ElectNet)
    made.close()


summary, max_gap = M.summary, M.max_gap


def hub_stat(n, i, metric):
    """A hub-wide counter of hub i (stats.get on its control socket)."""
    st = n.ctl(i, "stats.get")
    assert st["ok"], st
    vals = [m["value"] for m in st["stats"] if m["metric"] == metric
            and "channel" not in m["labels"] and "link" not in m["labels"]]
    assert len(vals) == 1, (metric, vals)
    return vals[0]


def gw_stat(n, which, metric, timeout=5.0):
    """A channel counter of gateway `which` from its latest --stats line
    written after now (the gateways log one a second)."""
    p = n.gws[which]
    rx = re.compile(r"\b%s=(\d+)" % metric)
    before = len(rx.findall(p.stderr()))
    deadline = time.monotonic() + timeout
    while True:
        vals = rx.findall(p.stderr())
        if len(vals) > before:
            return int(vals[-1])
        if time.monotonic() > deadline:
            raise T.TopoError("no %s in gateway %s's stats" % (metric, which))
        time.sleep(0.1)


def start(n):
    """Triangle h1-h2-h3; island 1's gateways on h1 (g1) and h2 (g1b),
    island 3's on h3. Returns the gateway that is island 1's forwarder
    (1 or "1b") once both gateways' hubs agree, and the database."""
    n.start_hub(3)
    n.start_hub(1, [M.hub_uri(3)])
    n.start_hub(2, [M.hub_uri(3), M.hub_uri(1)])
    n.start_gateway(1, [1])
    n.start_gateway2(2)
    n.start_gateway(3, [3])
    n.wait_forwarder(3)
    n.wait_converged(3, members=3)
    return wait_one_forwarder(n)


def forwarder_of(n, which):
    """Is gateway `which` forwarder now (its last forwarder= log line)?"""
    said = re.findall(r"channel=\S+ forwarder=(yes|standby)",
                      n.gws[which].stderr())
    return bool(said) and said[-1] == "yes"


def wait_one_forwarder(n, timeout=10.0, gone=()):
    """Until exactly one of island 1's live gateways says forwarder=yes
    (and stays so for an observation window of 0.5 s)."""
    deadline = time.monotonic() + timeout
    alive = [g for g in (1, "1b") if g not in gone]
    while True:
        yes = [g for g in alive if forwarder_of(n, g)]
        if len(yes) == 1:
            time.sleep(0.5)
            if [g for g in alive if forwarder_of(n, g)] == yes:
                return yes[0]
        if time.monotonic() > deadline:
            raise T.TopoError("island 1 forwarders: %s\n%s" % (
                yes, n.topo.describe_procs()))
        time.sleep(0.05)


def node_of(n, i):
    return n.ctl(i, "node.info")["node"]


def tree_edges(n, at, root_hub, island):
    """Edges of root_hub's tree pruned for GROUP (islands but `island`),
    as hub `at` computes it (routes.get)."""
    r = n.ctl(at, "routes.get", root=node_of(n, root_hub), channel=GROUP,
              island=island)
    assert r["ok"], r
    return len(r["tree"]) - 1


# --------------------------------------------------------------------------
def test_two_gateways_two_hubs_exactly_once(mk):
    """Both ways exactly once: island 3 gets each of island 1's datagrams
    once (one of its two gateways exports), island 1 each of island 3's
    once (one imports); the standby gateway's exports are dropped as
    standby; every hub agrees on the forwarder; each datagram crosses
    exactly the edges of its pruned tree (from the counters)."""
    n = mk(3, (1, 3))
    fwd = start(n)
    fhub = 1 if fwd == 1 else 2
    # the pruned trees: island 3's reaches only the forwarder's hub
    e3 = tree_edges(n, 3, 3, "I3")
    e1 = tree_edges(n, 3, fhub, "I1")
    assert e3 == 1 and e1 == 1, (e3, e1)
    for at in (1, 2):
        assert tree_edges(n, at, 3, "I3") == e3
    out0 = sum(hub_stat(n, i, FWD) for i in (1, 2, 3))
    count = 2000
    rx = {i: n.mcrecv(i) for i in (1, 3)}
    snd = {i: n.sender(i, count=count) for i in (1, 3)}
    sent = {i: H.finish_sender(snd[i], timeout=count / RATE + 30)
            for i in (1, 3)}
    res = {i: summary(H.end_mcrecv(rx[i], timeout=15)) for i in (1, 3)}
    print("forwarder g%s on h%d; sent %s; got %s" % (
        fwd, fhub, sent, {i: r[1] for i, r in res.items()}))
    for i, o in ((1, 3), (3, 1)):
        c, streams = res[i]
        assert c["duplicates"] == 0 and c["bad"] == 0, res
        assert streams.get(100 + o) == sent[o], res
        assert streams.get(100 + i) == sent[i], res      # own: once only
    out = sum(hub_stat(n, i, FWD) for i in (1, 2, 3)) - out0
    print("hub-to-hub copies %d for %d datagrams (edges %d + %d)" % (
        out, sent[1] + sent[3], e1, e3))
    assert out == sent[1] * e1 + sent[3] * e3, (out, sent)
    # the standby gateway held its exports back (it was told it stands
    # by) and imported nothing
    sb = "1b" if fwd == 1 else 1
    held = gw_stat(n, sb, "mcferry_gateway_channel_standby_total")
    assert held > 0, "standby gateway counted no held-back datagrams"
    assert gw_stat(n, sb, "mcferry_gateway_channel_imported_total") == 0
    assert gw_stat(n, fwd, "mcferry_gateway_channel_imported_total") >= \
        sent[3]
    for i in (1, 2, 3):
        assert hub_stat(n, i, "mcferry_hub_duplicate_dropped_datagrams_total"
                        ) == 0, i
        assert hub_stat(n, i,
                        "mcferry_hub_not_on_tree_dropped_datagrams_total"
                        ) == 0, i
    assert not forwarder_of(n, "1b" if fwd == 1 else 1)


def _takeover(n, kill, bound):
    """Both islands send continuously; after 1 s kill(), then 2.5 s more.
    Asserts no duplicates either way and gaps within bound."""
    rx = {i: n.mcrecv(i) for i in (1, 3)}
    w = {i: n.watch(i) for i in (1, 3)}
    snd = {i: n.sender(i, count=0) for i in (1, 3)}
    assert w[3].wait_for(H.Count([101], 500), 10), "no traffic 1 -> 3"
    assert w[1].wait_for(H.Count([103], 500), 10), "no traffic 3 -> 1"
    t_kill = time.monotonic()
    kill()
    time.sleep(2.5)      # observation window after the failure
    sent = {i: H.stop_sender(snd[i]) for i in (1, 3)}
    res = {i: summary(H.end_mcrecv(rx[i], timeout=15)) for i in (1, 3)}
    g31, _ = max_gap(w[3], 101, t_kill - 0.5)
    g13, _ = max_gap(w[1], 103, t_kill - 0.5)
    for i, o, g in ((3, 1, g31), (1, 3, g13)):
        c, streams = res[i]
        print("to island %d: gap %.3f s, dup %d, unique %d of %d, lost %d"
              % (i, g, c["duplicates"], streams.get(100 + o, 0), sent[o],
                 c["lost"]))
    for i, g in ((3, g31), (1, g13)):
        c, _ = res[i]
        assert c["duplicates"] == 0 and c["bad"] == 0, res
        assert g is not None and g <= bound, (i, g)
    # after the takeover the receivers got the streams again
    assert max(t for t, _s, _ in H.seqs_of(w[3].snapshot(), 101)) > \
        t_kill + 1.5
    assert max(t for t, _s, _ in H.seqs_of(w[1].snapshot(), 103)) > \
        t_kill + 1.5


def test_forwarder_gateway_killed(mk):
    """SIGKILL the forwarder gateway: the other one, on the other hub,
    takes over once the database says so; no duplicates, gap < 1 s."""
    n = mk(3, (1, 3))
    fwd = start(n)
    other = "1b" if fwd == 1 else 1

    def kill():
        n.gws[fwd].stop(sig=9)
    _takeover(n, kill, 1.0)
    assert wait_one_forwarder(n, gone=(fwd,)) == other


def test_forwarder_hub_killed(mk):
    """SIGKILL the forwarder's hub: the others see its links close, it
    is unreachable in their trees, and the gateway on the other hub takes
    over; no duplicates, gap < 1 s."""
    n = mk(3, (1, 3))
    fwd = start(n)
    fhub = 1 if fwd == 1 else 2
    other = "1b" if fwd == 1 else 1

    def kill():
        n.hubs[fhub].stop(sig=9)
    _takeover(n, kill, 1.0)
    assert forwarder_of(n, other)


def test_reconverged_event(mk):
    """events.subscribe: a hub link closed, then the routing tables
    settle and every subscriber hears reconverged with the measured gap,
    its trigger, and the database's digest."""
    n = mk(3, (1, 3))
    start(n)
    # the start's own episode (links coming up) is over first
    deadline = time.monotonic() + 10
    while (hub_stat(n, 1, "mcferry_hub_reconverging") or
           hub_stat(n, 1, "mcferry_hub_reconvergences_total") < 1):
        assert time.monotonic() < deadline, "h1 never settled"
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(n.ctl_path(1))
    s.sendall(b'{"id":1,"op":"events.subscribe"}\n')
    f = s.makefile("r")
    assert json.loads(f.readline())["ok"]
    before = hub_stat(n, 1, "mcferry_hub_reconvergences_total")
    t0 = time.monotonic()
    # from the side that dialed: its dialer stops, the link stays down
    assert n.ctl(1, "link.del", uri=M.hub_uri(3))["ok"]
    evs = []
    while True:
        line = f.readline()
        assert line, "events ended: %s" % evs
        ev = json.loads(line)
        evs.append(ev)
        if ev.get("event") == "reconverged":
            break
    took = time.monotonic() - t0
    s.close()
    print("events: %s; reconverged after %.3f s" % (evs, took))
    assert any(e.get("event") == "link.down" for e in evs), evs
    assert ev["trigger"] == "link.down", ev
    # from the close to our LSA's tree change: the 10 ms origination
    # delay and a flood, well under the 500 ms quiet time
    assert 0 <= ev["gap_ms"] < 1000, ev
    assert ev["changes"] >= 1 and ev["nodes"] == 3, ev
    assert len(ev["digest"]) == 16, ev
    assert hub_stat(n, 1, "mcferry_hub_reconvergences_total") == before + 1
    assert hub_stat(n, 1, "mcferry_hub_last_reconverge_gap_ms") == \
        ev["gap_ms"]
