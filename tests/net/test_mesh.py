"""A mesh of hubs (docs/mesh.md): each hub with its own island, hubs
linked by --peer; every island has real senders (mcsend) and receivers
(mcrecv, python watchers).

Topology: meshtopo.MeshNet (picture in tests/README.md "Topology
meshnet"). Readiness comes from log lines (`ready`, `forwarder=yes`) and
from the control API (every hub's database holds every hub, with one
digest); the fixed waits left are observation windows.
"""

import time

import pytest

import hubtopo as H
import meshtopo as M
from meshtopo import GROUP, OTHER

RATE = 1000


@pytest.fixture
def mk(request, tmp_path, mcferry_bin, tools):
    made = M.Made(request, tmp_path, "ms")
    yield made.net
    made.close()


summary, max_gap = M.summary, M.max_gap


def start_line(n):
    """h1 - h2 - h3: h1 and h3 dial h2. Islands 1 and 3 carry GROUP both
    ways, island 2 only OTHER (uninterested in GROUP)."""
    n.start_hub(2)
    n.start_hub(1, [M.hub_uri(2)])
    n.start_hub(3, [M.hub_uri(2)])
    n.start_gateway(1, [1])
    n.start_gateway(2, [2], chans=(("--group", OTHER),))
    n.start_gateway(3, [3])
    for i in (1, 2, 3):
        n.wait_forwarder(i)
    return n.wait_converged(3, members=3)


def start_triangle(n, c13=10):
    """h1, h2, h3 all linked (h1-h3 of cost c13); islands at 1 and 3."""
    n.start_hub(1)
    n.start_hub(2, [M.hub_uri(1)])
    n.start_hub(3, [M.hub_uri(1, c13), M.hub_uri(2)])
    n.start_gateway(1, [1])
    n.start_gateway(3, [3])
    n.wait_forwarder(1)
    n.wait_forwarder(3)
    return n.wait_converged(3, members=2)


# --------------------------------------------------------------------------
def test_line_transit_exactly_once(mk):
    """A line of 3 hubs: islands 1 and 3 exchange GROUP through hub 2,
    exactly once each way; island 2 (not interested) gets none of it;
    nothing comes back to its origin island; one digest everywhere."""
    n = mk(3, (1, 2, 3))
    infos = start_line(n)
    count = 2000
    rx = {i: n.mcrecv(i) for i in (1, 3)}
    w2 = n.watch(2)
    snd = {i: n.sender(i, count=count) for i in (1, 3)}
    sent = {i: H.finish_sender(snd[i], timeout=count / RATE + 30)
            for i in (1, 3)}
    res = {i: summary(H.end_mcrecv(rx[i], timeout=15)) for i in (1, 3)}
    print("sent %s; got %s; digests %s" % (
        sent, {i: r[1] for i, r in res.items()},
        {i: v["digest"] for i, v in infos.items()}))
    for i, o in ((1, 3), (3, 1)):
        c, streams = res[i]
        assert c["duplicates"] == 0 and c["bad"] == 0, res
        assert streams.get(100 + o) == sent[o], res      # from the other
        assert streams.get(100 + i) == sent[i], res      # own: once only
    time.sleep(0.5)      # observation window for the uninterested island
    assert len(w2.snapshot()) == 0, "island 2 got %d datagrams" % len(
        w2.snapshot())
    # the middle hub carried it; hub 2's island never joined GROUP
    d = set(n.digests().values())
    assert len(d) == 1, d


def _reroute(n, cut, bound):
    """Island 1 sends continuously, island 3 receives; after 1 s cut(),
    then 2 s more. Returns (gap, duplicates, unique, sent)."""
    rx = n.mcrecv(3)
    w = n.watch(3)
    s = n.sender(1, count=0)
    assert w.wait_for(H.Count([101], 500), 10), "no traffic before the cut"
    t_cut = time.monotonic()
    cut()
    time.sleep(2.0)      # observation window after the cut
    sent = H.stop_sender(s)
    c, streams = summary(H.end_mcrecv(rx, timeout=15))
    gap, got = max_gap(w, 101, t_cut - 0.5)
    print("cut: max gap %.3f s, dup %d, unique %d of %d sent, lost %d" % (
        gap, c["duplicates"], streams.get(101, 0), sent, c["lost"]))
    assert c["duplicates"] == 0, c
    assert gap is not None and gap <= bound, gap
    return gap, c, streams.get(101, 0), sent


def _cost_to(info, frm, to):
    """The cost hub frm's LSA (in a routes.get reply) gives its link to
    hub to, or None."""
    for a in info["database"]:
        if a["node"] == frm:
            for l in a["links"]:
                if l["node"] == to:
                    return l["cost"]
    return None


def test_dialed_cost_is_the_links_cost_both_ways(mk):
    """cost= on the dialing hub's --peer is the link's cost at both ends:
    the accepting hub takes it from the dialer's LSA; a link.set there
    makes that end's cost its own again."""
    n = mk(3, (1, 3))
    start_triangle(n, c13=30)
    id1 = n.ctl(1, "node.info")["node"]
    id3 = n.ctl(3, "node.info")["node"]
    deadline = time.monotonic() + 10
    while True:
        db = n.ctl(2, "routes.get")
        pair = (_cost_to(db, id3, id1), _cost_to(db, id1, id3))
        if pair == (30, 30):
            break
        assert time.monotonic() < deadline, \
            "link 3->1 dialed with cost=30, the LSAs say %s" % (pair,)
        time.sleep(0.05)
    assert n.hubs[1].log_matches(r"link cost=30 \(was 10\) as the dialing "
                                 r"hub says"), n.hubs[1].stderr()
    links = n.ctl(1, "link.list")["links"]
    to3 = [l for l in links if l["kind"] == "hub" and l["name"] == "h3"]
    assert to3 and n.ctl(1, "link.set", link=to3[0]["link"], cost=50)["ok"]
    deadline = time.monotonic() + 10
    while True:
        db = n.ctl(2, "routes.get")
        pair = (_cost_to(db, id3, id1), _cost_to(db, id1, id3))
        if pair == (30, 50):
            break
        assert time.monotonic() < deadline, \
            "after link.set cost=50 at hub 1 the LSAs say %s" % (pair,)
        time.sleep(0.05)


def test_triangle_link_closed_reroutes(mk):
    """A triangle: the direct link 1-3 carries the traffic; closing it
    (TCP) moves the flow through hub 2 within 0.3 s, no duplicates."""
    n = mk(3, (1, 3))
    start_triangle(n)
    links = n.ctl(1, "link.list")["links"]
    to3 = [l for l in links if l["kind"] == "hub" and l["name"] == "h3"]
    assert to3, links

    def cut():
        r = n.ctl(1, "link.del", link=to3[0]["link"])
        assert r["ok"], r
    _reroute(n, cut, 0.3)
    n.wait_converged(3)


def test_triangle_silent_link_reroutes(mk):
    """The same with the link silently dropped (iptables DROP both ways):
    dead after 3 missed heartbeats (250 ms), traffic back within 1 s."""
    n = mk(3, (1, 3))
    start_triangle(n)
    _reroute(n, lambda: n.iptables_drop(3, 1), 1.0)


def test_drain_loses_nothing(mk):
    """link.drain raises the link's cost to infinity, waits for the new
    trees and only then closes it: the flow moves without a loss."""
    n = mk(3, (1, 3))
    start_triangle(n)
    links = n.ctl(3, "link.list")["links"]
    to1 = [l for l in links if l["kind"] == "hub" and l["name"] == "h1"]

    def cut():
        r = n.ctl(3, "link.drain", link=to1[0]["link"])
        assert r["ok"], r
    gap, c, uniq, sent = _reroute(n, cut, 0.3)
    assert c["lost"] == 0 and uniq == sent, (c, uniq, sent)


def test_dual_homed_gateway(mk):
    """Island 1's gateway is on hubs 1 and 2 (both linked to hub 3, where
    island 3 receives). Closing its link to hub 1 moves its export to hub
    2: no double injection, a bounded gap."""
    n = mk(3, (1, 3))
    n.start_hub(3)
    n.start_hub(1, [M.hub_uri(3)])
    n.start_hub(2, [M.hub_uri(3)])
    n.start_gateway(1, [1, 2])
    n.start_gateway(3, [3])
    n.wait_forwarder(1)
    n.wait_forwarder(3)
    n.wait_converged(3, members=3)
    gw = [l for l in n.ctl(1, "link.list")["links"] if l["kind"] == "gateway"]

    def cut():
        r = n.ctl(1, "link.del", link=gw[0]["link"])
        assert r["ok"], r
    _reroute(n, cut, 1.0)


def test_control_api(mk):
    """Two hubs, not linked: island 2 hears nothing of island 1 until
    link.add joins the hubs at run time; bad requests get errors."""
    n = mk(2, (1, 2))
    n.start_hub(1)
    n.start_hub(2)
    n.start_gateway(1, [1])
    n.start_gateway(2, [2])
    n.wait_forwarder(1)
    n.wait_forwarder(2)
    w = n.watch(2)
    s = n.sender(1, count=0)
    time.sleep(0.5)      # observation window: nothing crosses yet
    assert len(w.snapshot()) == 0
    r = n.ctl(1, "link.add", uri=M.hub_uri(2), cost=5)
    assert r["ok"] and r["added"], r
    r = n.ctl(1, "link.add", uri=M.hub_uri(2), cost=5)
    assert r["ok"] and not r["added"], r              # idempotent
    t0 = time.monotonic()
    assert w.wait_for(H.Count([101], 100), 5), "no traffic after link.add"
    print("traffic %.3f s after link.add" % (time.monotonic() - t0))
    H.stop_sender(s)
    infos = n.wait_converged(2, members=2)
    assert len({v["digest"] for v in infos.values()}) == 1
    r = n.ctl(1, "routes.get", channel=GROUP, island="I1")
    assert r["ok"] and len(r["tree"]) == 2, r
    st = n.ctl(1, "stats.get")
    assert st["ok"] and any(m["metric"] == "mcferry_hub_links"
                            for m in st["stats"]), st
    # bad requests: clear errors, the node stays up
    for line, want in ((b"not json\n", "bad request"),
                       (b'{"op":"nope"}\n', "unknown op"),
                       (b'{"id":"x","op":"node.info"}\n', "id"),
                       (b'{"op":"link.set","args":{"link":"999","cost":3}}\n',
                        "link"),
                       (b'{"op":"link.add","args":{"uri":"udp://@:1"}}\n', ""),
                       (b'{"op":"link.set","args":{"cost":0}}\n', "cost")):
        r = n.ctl_raw(1, line)
        assert r and r["ok"] is False and want in r["error"], (line, r)
    r = n.ctl_raw(1, b"x" * 70000 + b"\n")
    assert r is None or r["ok"] is False
    assert n.ctl(1, "node.info")["ok"]
    assert n.hubs[1].alive() and n.hubs[2].alive()
