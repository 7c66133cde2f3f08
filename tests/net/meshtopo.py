"""Hubs in a mesh, each with its own multicast island, for test_mesh.py.

Built on topo.py; picture in tests/README.md ("Topology meshnet").

    hub i (1..N)  P+h<i>   wan0 10.254.i.2/24 -> R (10.254.i.1)
                           mcferry hub --listen tcp://@:7000 --peer ...
                           --control LOGDIR/h<i>.ctl
    island i      P+i<i>   bridge br0 = the island's LAN (10.(100+i).0.0/24)
      gateway     P+i<i>g  lan0 .1, wan0 10.255.i.2/24 -> R (10.255.i.1)
      sender      P+i<i>s  lan0 .11 (mcsend)
      receiver    P+i<i>r  lan0 .21 (mcrecv)
      watcher     P+i<i>w  lan0 .22 (python receivers, timing)
    R             P+r      routes unicast between every /24; no multicast

Every hub host and gateway host hangs off R, so any hub can dial any
other: the mesh's links are the --peer URIs, not the wiring, and a link is
cut with iptables on a hub host (DROP) or closed through the control API.

Any graph (test_mesh_graphs.py): `Graph` is an edge list (a dials b, with
a cost both ends advertise), `random_graph(n, seed)` a seeded connected
one; `MeshNet.start_graph` starts its hubs and the islands' gateways and
waits until every hub holds the same database with exactly those edges.
Helpers read what the hubs say: digests, counters (stats.get), pruned
trees (routes.get channel=), and cut or heal one edge (link.del/link.add
on the dialing hub's control socket, or iptables DROP).
"""

import json
import os
import random
import secrets
import socket
import time

import hubtopo as H
import topo as T

HUB_PORT = 7000
GROUP = "239.1.1.1:5000"
OTHER = "239.1.1.2:5000"


def hub_addr(i):
    return "10.254.%d.2" % i


def hub_uri(i, cost=None):
    u = "tcp://%s:%d" % (hub_addr(i), HUB_PORT)
    return u + ("?cost=%d" % cost if cost else "")


def lan_addr(i, k):
    return "10.%d.0.%d" % (100 + i, k)


ROLE = {"g": 1, "s": 11, "r": 21, "w": 22}


class Graph:
    """Hubs 1..n and edges (a, b): hub a dials hub b (--peer), both ends
    advertising cost[(a, b)] (default 10)."""

    def __init__(self, n, edges, cost=None, name="graph"):
        self.n, self.name = n, name
        self.edges = [tuple(e) for e in edges]
        self.cost = dict(cost or {})
        seen = set()
        for a, b in self.edges:
            assert a != b and 1 <= a <= n and 1 <= b <= n, (a, b)
            assert frozenset((a, b)) not in seen, ("twice", a, b)
            seen.add(frozenset((a, b)))

    def __repr__(self):
        return self.name

    def edge(self, a, b):
        """The edge (dialer, dialed) between a and b."""
        for e in self.edges:
            if set(e) == {a, b}:
                return e
        raise KeyError((a, b))

    def cost_of(self, a, b):
        return self.cost.get(self.edge(a, b), 10)

    def adj(self, without=()):
        cut = {frozenset(e) for e in without}
        out = {i: set() for i in range(1, self.n + 1)}
        for a, b in self.edges:
            if frozenset((a, b)) not in cut:
                out[a].add(b)
                out[b].add(a)
        return out

    def components(self, without=()):
        adj, left, comps = self.adj(without), set(range(1, self.n + 1)), []
        while left:
            todo, comp = [min(left)], set()
            while todo:
                v = todo.pop()
                if v not in comp:
                    comp.add(v)
                    todo.extend(adj[v] - comp)
            comps.append(comp)
            left -= comp
        return comps

    def connected(self, without=()):
        return len(self.components(without)) == 1

    def edge_set(self, without=()):
        cut = {frozenset(e) for e in without}
        return {frozenset(e) for e in self.edges} - cut


def ring(n, chords=(), cost=None):
    edges = [(i, i % n + 1) for i in range(1, n + 1)] + list(chords)
    return Graph(n, edges, cost, name="ring%d%s" % (
        n, "+chord" if chords else ""))


def full_mesh(n):
    return Graph(n, [(a, b) for b in range(1, n + 1)
                     for a in range(b + 1, n + 1)], name="full%d" % n)


def random_graph(n, seed, extra=None):
    """A connected graph: a random spanning tree (hub i dials a random
    earlier hub) plus `extra` (default n // 2) random other edges."""
    rnd = random.Random(seed)
    edges = [(i, rnd.randrange(1, i)) for i in range(2, n + 1)]
    have = {frozenset(e) for e in edges}
    want = len(edges) + (n // 2 if extra is None else extra)
    while len(edges) < want:
        a, b = rnd.sample(range(1, n + 1), 2)
        if frozenset((a, b)) not in have:
            have.add(frozenset((a, b)))
            edges.append((max(a, b), min(a, b)))
    return Graph(n, edges, name="random%d-seed%d" % (n, seed))


class MeshNet:
    def __init__(self, topo, nhubs, islands):
        """islands: hub index -> True for an island at that hub."""
        self.topo = topo
        self.n = nhubs
        self.rx = []
        r = self.r = topo.netns("r")
        r.sysctl("net.ipv4.ip_forward", 1)
        self.hub_ns = {}
        for i in range(1, nhubs + 1):
            ns = self.hub_ns[i] = topo.netns("h%d" % i)
            topo.veth(ns, "wan0", r, "hw%d" % i)
            T.add_addr(r, "hw%d" % i, "10.254.%d.1/24" % i)
            T.add_addr(ns, "wan0", hub_addr(i) + "/24")
            ns.ip("route", "add", "default", "via", "10.254.%d.1" % i)
        self.host = {}
        for i in islands:
            sw = topo.netns("i%d" % i)
            topo.bridge(sw, "br0")
            for port, role in enumerate("gsrw", 1):
                h = topo.netns("i%d%s" % (i, role))
                topo.veth(h, "lan0", sw, "p%d" % port)
                sw.ip("link", "set", "p%d" % port, "master", "br0")
                T.add_addr(h, "lan0", lan_addr(i, ROLE[role]) + "/24")
                h.ip("route", "add", "224.0.0.0/4", "dev", "lan0")
                if role == "g":
                    topo.veth(h, "wan0", r, "gw%d" % i)
                    T.add_addr(h, "wan0", "10.255.%d.2/24" % i)
                    T.add_addr(r, "gw%d" % i, "10.255.%d.1/24" % i)
                    h.ip("route", "add", "default", "via", "10.255.%d.1" % i)
                else:
                    h.ip("route", "add", "default", "via", lan_addr(i, 1))
                self.host[(i, role)] = h
        self.hubs = {}
        self.gws = {}
        self.graph = None
        self.node = {}        # hub index -> node id (hex, as the API says)

    # ----------------------------------------------------------- mcferry
    def ctl_path(self, i):
        return os.path.join(self.topo.logdir, "h%d.ctl" % i)

    def start_hub(self, i, peers=(), extra=()):
        args = ["hub", "--name", "h%d" % i, "--listen",
                "tcp://@:%d" % HUB_PORT, "--control", self.ctl_path(i),
                "--stats", "1"]
        for p in peers:
            args += ["--peer", p]
        args += list(extra)
        p = T.start_mcferry(self.hub_ns[i], args, tag="hub%d" % i)
        self.hubs[i] = p
        return p

    def start_gateway(self, i, hubs, chans=(("--group", GROUP),), extra=()):
        args = ["gateway", "--name", "g%d" % i, "--iface", "lan0",
                "--island", "I%d" % i, "--stats", "1"]
        for h in hubs:
            args += ["--hub", hub_uri(h)]
        for flag, ch in chans:
            args += [flag, ch]
        args += list(extra)
        p = T.start_mcferry(self.host[(i, "g")], args, tag="gw%d" % i)
        self.gws[i] = p
        return p

    def ctl(self, i, op, **args):
        """One control request to hub i; returns the reply as a dict."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.ctl_path(i))
        s.sendall((json.dumps({"id": 1, "op": op, "args": args}) + "\n")
                  .encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return json.loads(buf)

    def ctl_raw(self, i, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.ctl_path(i))
        s.sendall(line)
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return json.loads(buf) if buf else None

    def digests(self):
        return {i: self.ctl(i, "node.info")["digest"] for i in self.hubs}

    def wait_converged(self, nodes, timeout=10.0, members=None):
        """Until every hub's database holds `nodes` LSAs (and members
        gateways in all), with one digest."""
        deadline = time.monotonic() + timeout
        while True:
            infos = {i: self.ctl(i, "routes.get") for i in self.hubs}
            ds = {v["digest"] for v in infos.values()}
            ok = len(ds) == 1 and all(v["nodes"] == nodes
                                      for v in infos.values())
            if ok and members is not None:
                db = next(iter(infos.values()))["database"]
                ok = sum(len(a["members"]) for a in db) == members
            if ok:
                return infos
            if time.monotonic() > deadline:
                raise T.TopoError("mesh not converged: %s\n%s" % (
                    {i: (v["nodes"], v["digest"], self.db_text(v))
                     for i, v in infos.items()},
                    self.topo.describe_procs()))
            time.sleep(0.05)

    @staticmethod
    def db_text(info):
        """A database (routes.get) in short: name:seq>neighbour names."""
        names = {a["node"]: a["name"] for a in info["database"]}
        return " ".join("%s:%d>%s" % (
            a["name"], a["seq"], ",".join(names.get(l["node"], "?")
                                          for l in a["links"]))
            for a in info["database"])

    def wait_forwarder(self, i, timeout=10.0):
        self.gws[i].wait_for_log(r"forwarder=yes", timeout=timeout)

    # ------------------------------------------------------- any graph
    def start_graph(self, g, gateways, extra=()):
        """Hubs of graph g (its edges dialed by --peer), then a gateway on
        hub i for every i in gateways (i -> chans of start_gateway); waits
        for forwarders and a converged database with exactly g's edges."""
        self.graph = g
        for i in range(1, g.n + 1):
            peers = [hub_uri(b, g.cost.get((a, b))) for a, b in g.edges
                     if a == i]
            self.start_hub(i, peers, extra=extra)
        for i, chans in gateways.items():
            self.start_gateway(i, [i], chans=chans)
        for i in gateways:
            self.wait_forwarder(i)
        self.wait_converged(g.n, members=len(gateways))
        self.refresh_nodes()
        # The dialed end advertises the default cost: give it the edge's.
        for (a, b), c in g.cost.items():
            r = self.ctl(b, "link.set", link=self.link_to(b, a), cost=c)
            assert r["ok"], r
        return self.wait_graph()

    def refresh_nodes(self):
        self.node = {i: self.ctl(i, "node.info")["node"] for i in self.hubs}
        self.index = {v: k for k, v in self.node.items()}

    def link_to(self, i, j):
        """Link id (link.list) of hub i's adjacency to hub j, or None."""
        for l in self.ctl(i, "link.list")["links"]:
            if l["kind"] == "hub" and l["node"] == self.node[j]:
                return str(l["link"])
        return None

    def db_edges(self, info):
        """{frozenset(i, j): (cost i->j, cost j->i)} of the edges a database
        (a routes.get reply) holds: both ends list each other, neither at
        infinity. Nodes not in self.index (a dead hub's) are left out."""
        lists = {}
        for a in info["database"]:
            if a["node"] in self.index:
                lists[self.index[a["node"]]] = {
                    self.index.get(l["node"]): l["cost"] for l in a["links"]}
        out = {}
        for i, ls in lists.items():
            for j, c in ls.items():
                if j is None or i >= j or j not in lists:
                    continue
                back = lists[j].get(i)
                if back is not None and c != 0xffffffff and back != 0xffffffff:
                    out[frozenset((i, j))] = (c, back)
        return out

    def databases(self, hubs=None):
        return {i: self.ctl(i, "routes.get") for i in (hubs or self.hubs)}

    def wait_db(self, pred, hubs=None, timeout=15.0, poll=0.02):
        """Poll the databases of hubs (default all) until pred(infos) is
        true; returns (seconds waited, infos)."""
        t0 = time.monotonic()
        while True:
            infos = self.databases(hubs)
            if pred(infos):
                return time.monotonic() - t0, infos
            if time.monotonic() - t0 > timeout:
                raise T.TopoError("databases never matched: %s\n%s" % (
                    {i: (v["nodes"], v["digest"], self.db_text(v))
                     for i, v in infos.items()},
                    self.topo.describe_procs()))
            time.sleep(poll)

    def graph_pred(self, without=(), hubs=None, nodes=None):
        """pred for wait_db: one digest, `nodes` LSAs (default: the hubs
        asked), and exactly the graph's edges less `without` among hubs,
        each of its cost at both ends."""
        g = self.graph
        hubs = set(hubs or self.hubs)
        want = {}
        for e in g.edge_set(without):
            if e <= hubs:
                c = g.cost_of(*e)
                want[e] = (c, c)

        def pred(infos):
            if len({v["digest"] for v in infos.values()}) != 1:
                return False
            if any(v["nodes"] != (nodes or len(hubs)) for v in infos.values()):
                return False
            return self.db_edges(next(iter(infos.values()))) == want
        return pred

    def wait_graph(self, without=(), hubs=None, nodes=None, timeout=15.0):
        """Until hubs (default all) agree on one database holding the
        graph less `without`; returns (seconds, infos)."""
        return self.wait_db(self.graph_pred(without, hubs, nodes), hubs,
                            timeout)

    def tree(self, i, ch, island, at=None):
        """Edges (parent hub, child hub) of hub i's tree pruned to the hubs
        with an island other than `island` that wants ch, as hub `at`
        (default i) computes it."""
        r = self.ctl(at or i, "routes.get", root=self.node[i], channel=ch,
                     island=island)
        assert r["ok"], r
        return {(self.index[v["parent"]], self.index[v["node"]])
                for v in r["tree"] if "parent" in v}

    def stats(self, i):
        r = self.ctl(i, "stats.get")
        assert r["ok"], r
        return r["stats"]

    def counter(self, i, metric):
        """The hub-wide counter `metric` of hub i."""
        return sum(m["value"] for m in self.stats(i)
                   if m["metric"] == metric)

    def counters(self, metric, hubs=None):
        return {i: self.counter(i, metric) for i in (hubs or self.hubs)}

    def link_out(self):
        """{(hub i, hub j): data frames hub i queued to its link to j}."""
        out = {}
        for i in self.hubs:
            for m in self.stats(i):
                if m["metric"] != "mcferry_hub_link_out_datagrams_total":
                    continue
                j = self.index.get(m["labels"].get("node"))
                if j is not None:
                    out[(i, j)] = out.get((i, j), 0) + m["value"]
        return out

    def cut(self, a, b, how):
        """Cut the edge a-b: "del" closes it with link.del on the dialing
        hub (not redialed), "drop" black-holes it with iptables on a."""
        d, o = self.graph.edge(a, b)
        if how == "del":
            r = self.ctl(d, "link.del", uri=hub_uri(o, self.graph.cost.get(
                (d, o))))
            assert r["ok"], r
        else:
            self.iptables_drop(a, b)

    def heal(self, a, b, how):
        """Undo cut(a, b, how): link.add on the dialer (its cost again on
        both ends once up), or the iptables rules deleted."""
        d, o = self.graph.edge(a, b)
        c = self.graph.cost.get((d, o))
        if how == "del":
            r = self.ctl(d, "link.add", uri=hub_uri(o, c), **(
                {"cost": c} if c else {}))
            assert r["ok"] and r["added"], r
        else:
            self.iptables_drop(a, b, on=False)

    def wait_link(self, i, j, timeout=15.0):
        """Until hub i has an adjacency to hub j; returns its link id."""
        deadline = time.monotonic() + timeout
        while True:
            lk = self.link_to(i, j)
            if lk:
                return lk
            if time.monotonic() > deadline:
                raise T.TopoError("no link %d -> %d\n%s" % (
                    i, j, self.topo.describe_procs()))
            time.sleep(0.02)

    def restore_cost(self, a, b):
        """After a healed edge is up: the dialed end's cost again."""
        d, o = self.graph.edge(a, b)
        c = self.graph.cost.get((d, o))
        if c:
            lk = self.wait_link(o, d)
            r = self.ctl(o, "link.set", link=lk, cost=c)
            assert r["ok"], r

    # ------------------------------------------------------- endpoints
    def sender(self, i, ch=GROUP, count=0, rate=1000, size=256):
        return self.host[(i, "s")].spawn(
            [T.MCSEND, "--count", count, "--rate", rate, "--size", size,
             "--stream", 100 + i, "--iface", lan_addr(i, 11), ch],
            tag="mcsend%d" % i)

    def mcrecv(self, i, ch=GROUP, idle=2):
        g, p = ch.rsplit(":", 1)
        return T.start_mcrecv(self.host[(i, "r")],
                              ["udp", "%s:%s" % (g, p), "--iface", "lan0",
                               "--idle", idle, "--duration", "120"],
                              tag="mcrecv%d" % i)

    def watch(self, i, ch=GROUP):
        g, p = ch.rsplit(":", 1)
        w = T.UdpReceiver(self.host[(i, "w")], g, int(p),
                          ifaddr=lan_addr(i, 22))
        self.rx.append(w)
        return w

    def iptables_drop(self, i, peer, on=True):
        """DROP every packet between hub i and hub peer (both ways)."""
        op = "-A" if on else "-D"
        ns = self.hub_ns[i]
        for chain, flag in (("INPUT", "-s"), ("OUTPUT", "-d")):
            ns.exec(["iptables", op, chain, flag, hub_addr(peer), "-j",
                     "DROP"], check=True)

    def close(self):
        for w in self.rx:
            try:
                w.close()
            except Exception:
                pass


class Made:
    """The topologies and MeshNets one test made, for its fixture: net()
    makes one, close() (the teardown) closes them newest first, printing
    a failed test's logs."""

    def __init__(self, request, tmp_path, prefix):
        self.request, self.tmp_path, self.prefix = request, tmp_path, prefix
        self.made = []

    def net(self, nhubs, islands, cls=None):
        t = T.Topology(self.tmp_path / ("logs%d" % len(self.made)),
                       prefix=self.prefix + secrets.token_hex(2))
        self.made.append(t)
        n = (cls or MeshNet)(t, nhubs, islands)
        self.made.append(n)
        return n

    def close(self):
        for x in reversed(self.made):
            if not isinstance(x, MeshNet):
                T.print_logs_if_failed(self.request, x)
            x.close()


def summary(s):
    """mcrecv's summary: its first client and {stream: unique datagrams}."""
    c = s["per_client"][0]
    return c, {int(k): v["unique"] for k, v in c["streams"].items()}


def max_gap(w, stream, t0=0.0, t1=None):
    """Largest gap (s) between datagrams of stream at watcher w within
    [t0, t1], and how many arrived there."""
    ts = [t for t, _seq, _ in H.seqs_of(w.snapshot(), stream)
          if t >= t0 and (t1 is None or t <= t1)]
    return max((b - a for a, b in zip(ts, ts[1:])), default=None), len(ts)
