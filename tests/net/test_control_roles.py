"""The control API (--control PATH, docs/mesh.md) on gateways and relays.

A gateway gets channels added and deleted at run time (traffic starts and
stops across the hub, the group is joined and left on its LAN), a remap,
hubs added and deleted (a mesh of two hubs); a relay lists its clients;
`mcferry run` gives each service its own socket, and `run --check` refuses
one socket for two services. Bad requests get errors naming the bad part,
and the node goes on.

Topologies: hubtopo.HubNet (the `net` fixture: one hub, islands a, b, c)
and meshtopo.MeshNet (two hubs, used read-only); pictures in
tests/README.md. Readiness comes from log lines and from the control API
itself; the fixed waits left are observation windows for "nothing
arrives".
"""

import json
import os
import re
import secrets
import socket
import subprocess
import time

import pytest

import hubtopo as H
import meshtopo as M
import topo as T
from hubtopo import GROUP

G2 = "239.1.1.7:5007"          # the channel added at run time
REMAP = "239.9.9.9:6000"       # where island b puts it when remapped
MAX_CHANNELS = 256             # GATEWAY_MAX_CHANNELS


# ------------------------------------------------------------------ helpers
class Ctl:
    """One connection to a control socket: requests, replies, events."""

    def __init__(self, path, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.events = []
        self.next_id = 1

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("control socket closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return json.loads(ln)

    def send(self, op, **args):
        rid = self.next_id
        self.next_id += 1
        self.s.sendall((json.dumps({"id": rid, "op": op, "args": args})
                        + "\n").encode())
        return rid

    def reply(self, rid):
        """The reply to request rid; event lines before it are kept."""
        while True:
            m = self.line()
            if "event" in m:
                self.events.append(m)
                continue
            assert m.get("id") == rid, m
            return m

    def __call__(self, op, **args):
        return self.reply(self.send(op, **args))

    def raw(self, data):
        self.s.sendall(data)
        return self.line()

    def wait_event(self, pred, timeout=10.0):
        """The first event (kept or coming) for which pred is true."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if pred(e):
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise T.TopoError("no such event; got %s" % self.events)
            self.s.settimeout(left)
            try:
                self.events.append(self.line())
            except socket.timeout:
                pass

    def close(self):
        self.s.close()


def ctl(path, op, **args):
    c = Ctl(path)
    try:
        return c(op, **args)
    finally:
        c.close()


def igmp_groups(ns, ifname="lan0"):
    """Groups joined on ifname in ns, from /proc/net/igmp (dotted)."""
    out = ns.exec(["cat", "/proc/net/igmp"], check=True).stdout
    groups, cur = set(), None
    for ln in out.splitlines()[1:]:
        if not ln.startswith("\t"):
            f = ln.split()
            cur = f[1] if len(f) > 1 else None
            continue
        f = ln.split()
        if cur == ifname and f and len(f[0]) == 8:
            # the address in host byte order, as hex (little-endian here)
            groups.add(socket.inet_ntoa(bytes.fromhex(f[0])[::-1]))
    return groups


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise T.TopoError("timeout %.1fs: %s" % (timeout, what))
        time.sleep(0.02)


def count_stream(w, stream):
    return len(H.seqs_of(w.snapshot(), stream))


def settled_count(w, stream, quiet=0.5, timeout=10.0):
    """The watcher's count once nothing new came for `quiet` s."""
    deadline = time.monotonic() + timeout
    n = count_stream(w, stream)
    while True:
        time.sleep(quiet)
        m = count_stream(w, stream)
        if m == n:
            return n
        if time.monotonic() > deadline:
            raise T.TopoError("traffic did not stop: %d -> %d" % (n, m))
        n = m


def chan(reply, name):
    return [c for c in reply["channels"] if c["channel"] == name]


def start_two(net, tmp_path, hub_ctl=True):
    """Hub (with a control socket) and gateway 1 of islands a and b, both
    with control sockets and GROUP; waits for their forwarders."""
    paths = {x: str(tmp_path / ("gw%s.ctl" % x)) for x in ("a", "b")}
    hp = str(tmp_path / "hub.ctl")
    net.start_hub(extra=["--control", hp] if hub_ctl else [])
    for x in ("a", "b"):
        net.start_gateway(x, 1, extra=["--control", paths[x]])
    net.hub.wait_for_log(r"\bgateway up\b", count=2)
    for x in ("a", "b"):
        net.wait_forwarder(x, GROUP)
    return hp, paths


# -------------------------------------------------------------------- tests
def test_gateway_channel_add_del(net, tmp_path):
    """channel.add on both gateways starts G2 across the hub, joined on
    island a's LAN; channel.del leaves the group and the traffic stops,
    while the sender goes on. Both are idempotent."""
    hp, pa = start_two(net, tmp_path)
    gwa_ns = net.gw["a"][0]
    w = net.watch("b", G2)
    s = net.sender("a", ch=G2, rate=500)
    ev = Ctl(pa["a"])
    assert ev("events.subscribe")["ok"]
    time.sleep(0.5)          # observation window: nobody carries G2 yet
    assert count_stream(w, H.STREAM["a"]) == 0
    assert "239.1.1.7" not in igmp_groups(gwa_ns)

    r = ctl(pa["b"], "channel.add", **{"import": G2})
    assert r["ok"] and r["added"] is True and r["channel"] == G2, r
    t_add = time.monotonic()
    r = ctl(pa["a"], "channel.add", export=G2)
    assert r["ok"] and r["added"] is True, r
    r = ctl(pa["a"], "channel.add", export=G2)
    assert r["ok"] and r["added"] is False, r          # idempotent
    assert "239.1.1.7" in igmp_groups(gwa_ns)
    first = w.wait_for(H.Scan(t_add, [H.STREAM["a"]]), 10)
    assert w.wait_for(H.Count([H.STREAM["a"]], 200), 10), (
        "no G2 traffic after channel.add\n" + net.topo.describe_procs())
    print("first G2 datagram on island b %.3f s after channel.add"
          % (first - t_add))
    ev.wait_event(lambda e: e.get("event") == "channel.change"
                  and e["channel"] == G2 and e["added"])
    ev.wait_event(lambda e: e.get("event") == "forwarder.change"
                  and e["channel"] == G2 and e["forwarder"])

    # what the API says about it, on the gateway and on the hub
    ca = chan(ctl(pa["a"], "channel.list"), G2)
    assert len(ca) == 1 and ca[0]["direction"] == "export", ca
    assert ca[0]["local"] == G2 and ca[0]["joined"] is True
    assert ca[0]["forwarder"] is True and ca[0]["exported"] > 0, ca
    cb = chan(ctl(pa["b"], "channel.list"), G2)
    assert cb[0]["direction"] == "import" and cb[0]["imported"] > 0, cb
    links = ctl(pa["a"], "link.list")["links"]
    assert len(links) == 1 and links[0]["state"] == "connected", links
    assert G2 in links[0]["forwarder"] and links[0]["uri"] == H.HUB_URI
    hc = chan(ctl(hp, "channel.list"), G2)
    assert hc and hc[0]["exported"] == 1 and hc[0]["joined"] == 1, hc
    info = ctl(pa["a"], "node.info")
    assert info["role"] == "gateway" and info["island"] == "A", info
    assert info["channels"] == 2 and len(info["hubs"]) == 1, info
    assert re.fullmatch(r"[0-9a-f]{16}", info["node"]), info

    # del: the membership goes now, the traffic stops, the hub forgets
    r = ctl(pa["a"], "channel.del", channel=G2)
    assert r["ok"] and r["deleted"] is True, r
    t0 = time.monotonic()
    wait_until(lambda: "239.1.1.7" not in igmp_groups(gwa_ns), 2.0,
               "G2 still joined on island a's gateway after channel.del")
    print("group left %.3f s after the channel.del reply"
          % (time.monotonic() - t0))
    n = settled_count(w, H.STREAM["a"])
    time.sleep(1.0)          # observation window: the sender goes on
    assert count_stream(w, H.STREAM["a"]) == n, "traffic after channel.del"
    assert s.alive()
    assert not chan(ctl(pa["a"], "channel.list"), G2)
    wait_until(lambda: not [c for c in chan(ctl(hp, "channel.list"), G2)
                            if c["exported"]], 5.0,
               "the hub still has an exporter of G2")
    r = ctl(pa["a"], "channel.del", channel=G2)
    assert r["ok"] and r["deleted"] is False, r         # idempotent
    ev.wait_event(lambda e: e.get("event") == "channel.change"
                  and e["channel"] == G2 and not e["added"])
    # its counters left the registry with it
    st = ctl(pa["a"], "stats.get")["stats"]
    assert not [m for m in st if m.get("labels", {}).get("channel") == G2]
    assert [m for m in st if m.get("labels", {}).get("channel") == GROUP]

    # and it comes back
    r = ctl(pa["a"], "channel.add", export=G2)
    assert r["ok"] and r["added"] is True, r
    n = count_stream(w, H.STREAM["a"])
    assert w.wait_for(H.Count([H.STREAM["a"]], 100, start=0), 10)
    assert w.wait_for(lambda got: count_stream(w, H.STREAM["a"]) > n + 100,
                      10), "no traffic after channel.add again"
    ev.close()
    H.stop_sender(s)


def test_gateway_remap(net, tmp_path):
    """import=G2=REMAP on island b: G2 from island a is multicast there on
    REMAP, not on G2; group= on island a joins and exports it."""
    pa = start_two(net, tmp_path)[1]
    w_orig = net.watch("b", G2)
    w_map = net.watch("b", REMAP)
    s = net.sender("a", ch=G2, rate=500)
    r = ctl(pa["b"], "channel.add", **{"import": "%s=%s" % (G2, REMAP)})
    assert r["ok"] and r["added"], r
    r = ctl(pa["a"], "channel.add", group=G2)
    assert r["ok"] and r["added"], r
    assert w_map.wait_for(H.Count([H.STREAM["a"]], 200), 10), (
        "no traffic on the remapped group\n" + net.topo.describe_procs())
    assert count_stream(w_orig, H.STREAM["a"]) == 0
    cb = chan(ctl(pa["b"], "channel.list"), G2)
    assert cb[0]["local"] == REMAP and cb[0]["direction"] == "import", cb
    ca = chan(ctl(pa["a"], "channel.list"), G2)
    assert ca[0]["direction"] == "both" and ca[0]["local"] == G2, ca
    # the same name with another remap is a change, refused until del
    r = ctl(pa["b"], "channel.add", **{"import": "%s=239.9.9.8:6000" % G2})
    assert r["ok"] is False and "channel.del it first" in r["error"], r
    r = ctl(pa["b"], "channel.add", **{"import": "%s=%s" % (G2, REMAP)})
    assert r["ok"] and r["added"] is False, r
    H.stop_sender(s)


BAD = [
    (b"not json\n", "bad request"),
    (b'{"op":"nope"}\n', "unknown op 'nope'"),
    (b'{"op":"node.info","args":{"x":1}}\n', "unknown argument 'x'"),
    (b'{"op":"channel.add"}\n', "needs group=CH"),
    (b'{"op":"channel.add","args":{"group":5}}\n', "group must be a string"),
    (b'{"op":"channel.add","args":{"grop":"239.1.1.8:1"}}\n',
     "unknown argument 'grop'"),
    (b'{"op":"channel.add","args":{"group":"239.1.1.8:1",'
     b'"export":"239.1.1.8:1"}}\n', "give one of"),
    (b'{"op":"channel.add","args":{"group":"10.1.1.1:5"}}\n',
     "is not a multicast group"),
    (b'{"op":"channel.add","args":{"group":"239.1.1.8:0"}}\n',
     "bad port '0'"),
    (b'{"op":"channel.add","args":{"group":"239.1.1.8"}}\n', "bad group"),
    (b'{"op":"channel.add","args":{"import":"239.1.1.8:5=1.1.1.1:5"}}\n',
     "'1.1.1.1'"),
    (b'{"op":"channel.add","args":{"export":"239.1.1.1:5000"}}\n',
     "is there already"),
    (b'{"op":"channel.del"}\n', "needs channel=CH"),
    (b'{"op":"channel.del","args":{"channel":"x"}}\n', "'x'"),
    (b'{"op":"link.add"}\n', "needs uri="),
    (b'{"op":"link.add","args":{"uri":"udp://@:1"}}\n', "bad hub URI"),
    (b'{"op":"link.add","args":{"uri":"gopher://h:1"}}\n', "gopher"),
    (b'{"op":"link.add","args":{"uri":"tcp://10.254.0.2:7000","cost":5}}\n',
     "unknown argument 'cost'"),
    (b'{"op":"link.del","args":{"link":"abc"}}\n', "bad link 'abc'"),
    (b'{"op":"link.del"}\n', "needs uri=URI or link=ID"),
    (('{"op":"link.del","args":{"uri":"%s"}}\n' % H.HUB_URI).encode(),
     "only hub"),
    (b'{"op":"link.set","args":{"cost":3}}\n', "hub's op"),
    (b'{"op":"link.drain"}\n', "hub's op"),
    (b'{"op":"routes.get"}\n', "hub's op"),
]


def test_gateway_bad_requests(net, tmp_path):
    """Every bad request gets ok:false naming the bad part; nothing
    changes, the gateway keeps its flow; the channel bound holds."""
    pa = start_two(net, tmp_path)[1]
    w = net.watch("b", GROUP)
    s = net.sender("a", ch=GROUP, rate=500)
    assert w.wait_for(H.Count([H.STREAM["a"]], 100), 10)
    before = ctl(pa["a"], "channel.list")["channels"]
    c = Ctl(pa["a"])
    for line, want in BAD:
        r = c.raw(line)
        assert r["ok"] is False and want in r["error"], (line, r)
    c.close()
    r = Ctl(pa["a"]).raw(b"x" * 70000 + b"\n")      # too long: closed
    assert r["ok"] is False and "too long" in r["error"], r
    after = ctl(pa["a"], "channel.list")["channels"]
    assert [x["channel"] for x in after] == [x["channel"] for x in before]
    assert len(ctl(pa["a"], "link.list")["links"]) == 1

    # the bound: GATEWAY_MAX_CHANNELS in all, one more refused (imports:
    # no membership each), all pipelined on one connection
    c = Ctl(pa["a"], timeout=20)
    names = ["239.2.%d.%d:6000" % (i // 200, i % 200 + 1)
             for i in range(MAX_CHANNELS - 1)]
    ids = [c.send("channel.add", **{"import": n}) for n in names]
    for rid in ids:
        r = c.reply(rid)
        assert r["ok"] and r["added"], r
    r = c("channel.add", **{"import": "239.3.0.1:6000"})
    assert r["ok"] is False and "256 channels" in r["error"], r
    assert ctl(pa["a"], "node.info")["channels"] == MAX_CHANNELS
    ids = [c.send("channel.del", channel=n) for n in names]
    for rid in ids:
        r = c.reply(rid)
        assert r["ok"] and r["deleted"], r
    c.close()
    assert ctl(pa["a"], "node.info")["channels"] == 1

    # unharmed: alive, and GROUP still crosses
    n = count_stream(w, H.STREAM["a"])
    assert w.wait_for(lambda got: count_stream(w, H.STREAM["a"]) > n + 100,
                      10), "GROUP stopped after the bad requests"
    assert net.gws["a"][0].alive() and net.hub.alive()
    H.stop_sender(s)


def test_ctl_prints_json(net, tmp_path):
    """`mcferry ctl` prints the reply as one JSON line: 0 when ok, 1 with
    the error object when refused; events.subscribe streams events."""
    pa = start_two(net, tmp_path, hub_ctl=False)[1]
    p = T.run([T.MCFERRY, "ctl", pa["a"], "node.info"])
    r = json.loads(p.stdout)
    assert p.stdout.count("\n") == 1 and r["ok"] and r["role"] == "gateway"
    p = T.run([T.MCFERRY, "ctl", pa["a"], "channel.add", "group=239.1.1.1"],
              check=False)
    r = json.loads(p.stdout)
    assert p.returncode == 1 and r["ok"] is False and "bad group" in r["error"]
    p = T.run([T.MCFERRY, "ctl", pa["a"], "channel.add",
               '{"export":"%s"}' % G2])
    assert json.loads(p.stdout)["added"] is True
    p = T.run([T.MCFERRY, "ctl", pa["a"], "nope=1"], check=False)
    assert p.returncode == 1 and json.loads(p.stdout)["ok"] is False
    p = T.run([T.MCFERRY, "ctl", pa["a"], "node.info", "bad"], check=False)
    assert p.returncode == 2 and "KEY=VALUE" in p.stderr
    # events.subscribe: the reply, then event lines as they come
    sub = subprocess.Popen([T.MCFERRY, "ctl", pa["a"], "events.subscribe"],
                           stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(sub.stdout.readline())
        assert first["ok"], first
        assert ctl(pa["a"], "channel.del", channel=G2)["deleted"]
        ev = json.loads(sub.stdout.readline())
        assert ev == {"event": "channel.change", "channel": G2,
                      "added": False}, ev
    finally:
        sub.terminate()
        sub.wait(5)


@pytest.fixture
def mesh(request, tmp_path, mcferry_bin, tools):
    t = T.Topology(tmp_path / "logs", prefix="mc" + secrets.token_hex(2))
    n = None
    try:
        n = M.MeshNet(t, 2, (1, 2))
        yield n
    finally:
        if n is not None:
            n.close()
        T.print_logs_if_failed(request, t)
        t.close()


def test_gateway_link_add_del(mesh, tmp_path):
    """Two linked hubs, island 1's gateway on hub 1 only: link.add makes it
    dual-homed (hub 2 sees it), link.del of hub 1 leaves it on hub 2 with
    island 2 still getting its traffic; the last hub cannot go."""
    n = mesh
    gp = str(tmp_path / "g1.ctl")
    n.start_hub(1)
    n.start_hub(2, [M.hub_uri(1)])
    n.start_gateway(1, [1], extra=["--control", gp])
    n.start_gateway(2, [2])
    n.wait_forwarder(1)
    n.wait_forwarder(2)
    n.wait_converged(2, members=2)
    w = n.watch(2)
    s = n.sender(1, count=0, rate=500)
    assert w.wait_for(H.Count([101], 100), 10), "no traffic 1 -> 2"
    ev = Ctl(gp)
    assert ev("events.subscribe")["ok"]

    def gw_links(i):
        return [l for l in n.ctl(i, "link.list")["links"]
                if l["kind"] == "gateway" and l["name"] == "I1"]

    r = ctl(gp, "link.add", uri=M.hub_uri(2))
    assert r["ok"] and r["added"] is True and r["hub"] == 1, r
    r = ctl(gp, "link.add", uri=M.hub_uri(2))
    assert r["ok"] and r["added"] is False, r           # idempotent
    wait_until(lambda: [l["state"] for l in ctl(gp, "link.list")["links"]]
               == ["connected", "connected"], 10, "two hub links up")
    ev.wait_event(lambda e: e.get("event") == "link.up" and e["hub"] == 1)
    wait_until(lambda: gw_links(2), 5, "hub 2 sees island 1's gateway")
    info = ctl(gp, "node.info")
    assert [h["uri"] for h in info["hubs"]] == [M.hub_uri(1), M.hub_uri(2)]

    r = ctl(gp, "link.del", uri=M.hub_uri(1))
    assert r["ok"] and r["deleted"] is True, r
    ev.wait_event(lambda e: e.get("event") == "link.down" and e["hub"] == 0)
    wait_until(lambda: not gw_links(1), 5, "hub 1 still has the gateway")
    links = ctl(gp, "link.list")["links"]
    assert [l["uri"] for l in links] == [M.hub_uri(2)], links
    k = count_stream(w, 101)
    assert w.wait_for(lambda got: count_stream(w, 101) > k + 200, 10), (
        "island 2 lost island 1's traffic after link.del\n"
        + n.topo.describe_procs())
    r = ctl(gp, "link.del", uri=M.hub_uri(2))
    assert r["ok"] is False and "only hub" in r["error"], r
    r = ctl(gp, "link.del", uri=M.hub_uri(1))
    assert r["ok"] and r["deleted"] is False, r         # idempotent
    # the freed slot is taken again
    r = ctl(gp, "link.add", uri=M.hub_uri(1))
    assert r["ok"] and r["added"] is True and r["hub"] == 0, r
    wait_until(lambda: gw_links(1), 10, "hub 1 sees the gateway again")
    ev.close()
    H.stop_sender(s)


RELAY_GROUP = "239.1.1.9:5009"


def test_relay_control(net, tmp_path):
    """A relay's node.info and link.list: its source, sinks, and each
    client with its peer and queued bytes; a client that does not read
    shows a queue."""
    rp = str(tmp_path / "relay.ctl")
    host = net.host[("a", "w")]
    relay = T.start_mcferry(host, [
        "relay", "--name", "r1", "--control", rp,
        "udp://@%s?iface=lan0" % RELAY_GROUP, "tcp://@:9100?framing=raw"],
        tag="relay")
    s = net.sender("a", ch=RELAY_GROUP, rate=1000, size=1316)
    cl = net.host[("a", "r")].socket(socket.AF_INET, socket.SOCK_STREAM)
    cl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cl.connect((H.lan_addr("a", "w"), 9100))
    try:
        wait_until(lambda: ctl(rp, "node.info")["clients"] == 1, 5,
                   "the relay counts its client")
        info = ctl(rp, "node.info")
        assert info["role"] == "relay" and info["name"] == "r1", info
        assert info["source"] == "udp://@%s?iface=lan0" % RELAY_GROUP
        assert info["sinks"] == ["tcp://@:9100?framing=raw"], info
        links = ctl(rp, "link.list")["links"]
        assert len(links) == 1, links
        lk = links[0]
        assert lk["sink"] == 0 and lk["peer"].startswith(
            H.lan_addr("a", "r") + ":"), lk
        assert lk["framing"] == "raw" and isinstance(lk["queued_bytes"], int)
        # the client reads nothing: its queue grows past the kernel's
        wait_until(lambda: ctl(rp, "link.list")["links"][0]["queued_bytes"]
                   > 0, 10, "no queue for a client that does not read")
        st = ctl(rp, "stats.get")
        assert any(m["metric"] == "mcferry_relay_clients" for m in st["stats"])
        for line, want in ((b'{"op":"link.add","args":{"uri":"tcp://h:1"}}\n',
                            "not an op of a relay"),
                           (b'{"op":"channel.add"}\n', "not an op of a relay"),
                           (b'{"op":"x"}\n', "unknown op 'x'"),
                           (b'{"op":"link.list","args":{"a":1}}\n',
                            "unknown argument 'a'")):
            r = Ctl(rp).raw(line)
            assert r["ok"] is False and want in r["error"], (line, r)
    finally:
        cl.close()
    wait_until(lambda: ctl(rp, "node.info")["clients"] == 0, 5,
               "the client is gone")
    assert relay.alive()
    H.stop_sender(s)
    relay.stop()
    assert not os.path.exists(rp), "the socket file outlived the relay"


def test_run_sockets_and_check(net, tmp_path):
    """`mcferry run`: a gateway without channels (added by the API) and a
    relay, each on its own socket; a second process cannot take a live
    socket; run --check refuses one socket for two services."""
    gp, rp = str(tmp_path / "g.ctl"), str(tmp_path / "r.ctl")
    conf = tmp_path / "two.conf"
    conf.write_text(
        "[gateway gw]\nhub = %s\niface = lan0\nisland = A\ncontrol = %s\n"
        "[relay rl]\nsource = udp://@%s?iface=lan0\n"
        "sink = tcp://@:9101\ncontrol = %s\n" % (H.HUB_URI, gp, RELAY_GROUP,
                                                 rp))
    net.start_hub()
    p = T.start_mcferry(net.gw["a"][0], ["run", str(conf)], tag="run")
    assert ctl(gp, "node.info")["role"] == "gateway"
    assert ctl(rp, "node.info")["role"] == "relay"
    assert ctl(gp, "node.info")["channels"] == 0
    r = ctl(gp, "channel.add", group=GROUP)
    assert r["ok"] and r["added"], r
    p.wait_for_log(r"channel=%s forwarder=yes" % re.escape(GROUP))
    # the live socket is not taken by another process
    other = net.gw["a"][0].spawn([T.MCFERRY, "relay", "--control", gp,
                                  "udp://@%s?iface=lan0" % RELAY_GROUP,
                                  "tcp://@:9102"], tag="thief")
    assert other.wait(10) != 0
    assert "is in use" in other.stderr()
    assert ctl(gp, "node.info")["ok"]
    # SIGHUP with the file unchanged keeps the services and what the API
    # added
    p.send_signal(1)
    p.wait_for_log(r"reload done")
    assert ctl(gp, "node.info")["channels"] == 1
    p.stop()

    bad = tmp_path / "bad.conf"
    bad.write_text(
        "[gateway g1]\nhub = %s\niface = lo\ngroup = %s\ncontrol = %s\n"
        "[gateway g2]\nhub = %s\niface = lo\ngroup = %s\ncontrol = %s\n"
        "[relay r]\nsource = udp://@%s\nsink = tcp://@:9103\n"
        "control = /nonexistent-dir/r.ctl\n"
        % (H.HUB_URI, GROUP, gp, H.HUB_URI, GROUP, gp, RELAY_GROUP))
    c = T.run([T.MCFERRY, "run", "--check", str(bad)], check=False)
    assert c.returncode == 2, c
    assert re.search(r"line 10: gateway=g2 control=%s: the control socket of "
                     r"gateway=g1 on line 5" % re.escape(gp), c.stderr), \
        c.stderr
    assert "no directory '/nonexistent-dir'" in c.stderr, c.stderr
