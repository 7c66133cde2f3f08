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
"""

import json
import os
import socket
import time

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
                    {i: (v["nodes"], v["digest"]) for i, v in infos.items()},
                    self.topo.describe_procs()))
            time.sleep(0.05)

    def wait_forwarder(self, i, timeout=10.0):
        self.gws[i].wait_for_log(r"forwarder=yes", timeout=timeout)

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
