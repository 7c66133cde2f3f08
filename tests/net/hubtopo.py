"""Three multicast islands around a hub, for the hub/gateway tests.

Built on topo.py (Topology, Netns, Proc, UdpReceiver, mcsend/mcrecv
wrappers); see the picture in tests/README.md ("Topology hubnet").

    island x in a, b, c  (n = 1, 2, 3; island names A, B, C)
      switch ns  P+x       bridge br0 (mcast_snooping 0) = the island LAN
      gateway    P+x+gK    lan0 10.n.0.K/24, wan0 10.255.(10n+K).2/24 -> R
                           (island A has g1 and g2, B and C only g1)
      sender     P+x+s     lan0 10.n.0.11/24
      receiver   P+x+r     lan0 10.n.0.21/24   (mcrecv)
      watcher    P+x+w     lan0 10.n.0.22/24   (python receivers, timing)
    R       P+r  one /24 per gateway (10.255.(10n+K).1), 10.254.0.1 to the
                 hub host, 10.254.1.1 to the bad-peer host; forwards unicast
                 only (no multicast routing: multicast never crosses R)
    hub     P+h  wan0 10.254.0.2/24, default via R   (mcferry hub)
    bad     P+x  wan0 10.254.1.2/24, default via R   (raw TCP bad peers)

Every island host routes 224.0.0.0/4 to lan0.  LAN hosts that are not
gateways have a default route via 10.n.0.1 on lan0 (a realistic LAN; it
also makes reverse-path checks accept the SSM re-emission from a foreign
source address).  Gateway hosts have their default route via R.
P is the topology's prefix (test_hub.py uses "mh" + 4 hex digits).
"""

import re
import socket
import struct
import time

import topo as T

HUB_PORT = 7000
HUB_ADDR = "10.254.0.2"
BAD_ADDR = "10.254.1.2"
HUB_URI = "tcp://%s:%d" % (HUB_ADDR, HUB_PORT)
ISLANDS = ("a", "b", "c")
NUM = {"a": 1, "b": 2, "c": 3}
NAME = {"a": "A", "b": "B", "c": "C"}
NGW = {"a": 2, "b": 1, "c": 1}
GROUP = "239.1.1.1:5000"
STREAM = {"a": 11, "b": 22, "c": 33}     # mcsend --stream per island

ROLE_HOST = {"s": 11, "r": 21, "w": 22}


def lan_addr(x, role):
    """LAN address of island x's host: role "g1", "g2", "s", "r", "w"."""
    n = NUM[x]
    if role.startswith("g"):
        return "10.%d.0.%d" % (n, int(role[1:]))
    return "10.%d.0.%d" % (n, ROLE_HOST[role])


def wan_addr(x, k):
    return "10.255.%d.2" % (10 * NUM[x] + k)


def split_ch(ch):
    """'G:P' or 'S@G:P' -> (group, port, source or None)."""
    src = None
    if "@" in ch:
        src, ch = ch.split("@", 1)
    g, p = ch.rsplit(":", 1)
    return g, int(p), src


class HubNet:
    def __init__(self, topo):
        self.topo = topo
        self.rx = []             # python receivers to close
        self.socks = []
        r = self.r = topo.netns("r")
        r.sysctl("net.ipv4.ip_forward", 1)
        # the hub host and the bad-peer host hang off R
        self.hub_ns = topo.netns("h")
        self.bad_ns = topo.netns("x")
        for ns, rif, net in ((self.hub_ns, "hub0", 0), (self.bad_ns, "bad0", 1)):
            topo.veth(ns, "wan0", r, rif)
            T.add_addr(r, rif, "10.254.%d.1/24" % net)
            T.add_addr(ns, "wan0", "10.254.%d.2/24" % net)
            ns.ip("route", "add", "default", "via", "10.254.%d.1" % net)
        self.sw = {}
        self.gw = {}             # x -> [gateway host ns, ...]
        self.host = {}           # (x, role) -> ns
        for x in ISLANDS:
            n = NUM[x]
            sw = self.sw[x] = topo.netns(x)
            topo.bridge(sw, "br0")
            port = 0
            roles = ["g%d" % k for k in range(1, NGW[x] + 1)] + ["s", "r", "w"]
            self.gw[x] = []
            for role in roles:
                port += 1
                h = topo.netns(x + role)
                topo.veth(h, "lan0", sw, "p%d" % port)
                sw.ip("link", "set", "p%d" % port, "master", "br0")
                T.add_addr(h, "lan0", lan_addr(x, role) + "/24")
                h.ip("route", "add", "224.0.0.0/4", "dev", "lan0")
                if role.startswith("g"):
                    k = int(role[1:])
                    rif = "w%d%d" % (n, k)
                    topo.veth(h, "wan0", r, rif)
                    T.add_addr(h, "wan0", wan_addr(x, k) + "/24")
                    T.add_addr(r, rif, "10.255.%d.1/24" % (10 * n + k))
                    h.ip("route", "add", "default", "via",
                         "10.255.%d.1" % (10 * n + k))
                    self.gw[x].append(h)
                else:
                    h.ip("route", "add", "default", "via", "10.%d.0.1" % n)
                self.host[(x, role)] = h
        self.hub = None
        self.gws = {}            # x -> [Proc per gateway host]
        self.gw_args = {}        # (x, k) -> argv used
        self.gw_extra = {}       # (x, k) -> the extra arguments

    # ---------------------------------------------------------------- mcferry
    def start_hub(self, tag="hub", ready=True, extra=()):
        """The hub on HUB_PORT with --stats 1 and `extra` arguments."""
        p = T.start_mcferry(self.hub_ns, [
            "hub", "--listen", "tcp://@:%d" % HUB_PORT, "--stats", "1"]
            + list(extra), tag=tag, ready=ready)
        self.hub = p
        return p

    def start_gateway(self, x, k, extra=(), tag=None):
        """Gateway k (1-based) of island x; waits for its `ready` line."""
        args = ["gateway", "--hub", HUB_URI, "--iface", "lan0",
                "--island", NAME[x], "--group", GROUP, "--stats", "1"]
        args += list(extra)
        self.gw_args[(x, k)] = args
        self.gw_extra[(x, k)] = list(extra)
        p = T.start_mcferry(self.gw[x][k - 1], args,
                            tag=tag or "gw%s%d" % (x, k))
        p.island, p.k = x, k
        self.gws.setdefault(x, [None] * NGW[x])[k - 1] = p
        return p

    def start_all(self, extra=None, timeout=10.0):
        """Hub plus every gateway; returns once every gateway is up at the
        hub and every (island, channel) has exactly one forwarder=yes."""
        extra = extra or {}
        self.start_hub()
        for x in ISLANDS:
            for k in range(1, NGW[x] + 1):
                self.start_gateway(x, k, extra.get(x, ()))
        self.hub.wait_for_log(r"\bgateway up\b", timeout=timeout,
                              count=sum(NGW.values()))
        for x in ISLANDS:
            for ch in self.channels(x):
                self.wait_forwarder(x, ch, timeout=timeout)
        return self.hub, self.gws

    def channels(self, x):
        """Inter-island channel names island x's gateways carry."""
        args = self.gw_args[(x, 1)]
        out = []
        for i, a in enumerate(args):
            if a in ("--group", "--export", "--import"):
                out.append(args[i + 1].split("=", 1)[0])
        return out

    @staticmethod
    def fwd_state(proc, ch):
        """Forwarder state a gateway last logged for ch on its current hub
        link: 'yes', 'standby' or None.  A gateway drops the role silently
        when its hub link closes, so only lines after the last `hub up`
        count."""
        rx = re.compile(r"\bchannel=%s forwarder=(yes|standby)\b"
                        % re.escape(ch))
        state = None
        for line in proc.stderr().splitlines():
            if re.search(r"\bhub up\b", line):
                state = None
                continue
            m = rx.search(line)
            if m:
                state = m.group(1)
        return state

    def forwarders(self, x, ch, procs=None):
        procs = procs if procs is not None else self.gws[x]
        return [p for p in procs if p is not None and p.alive()
                and self.fwd_state(p, ch) == "yes"]

    def wait_forwarder(self, x, ch, timeout=10.0, procs=None):
        """Wait until exactly one live gateway of island x says
        forwarder=yes for ch; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.forwarders(x, ch, procs)
            if len(f) == 1:
                return f[0]
            if len(f) > 1 or time.monotonic() > deadline:
                raise T.TopoError(
                    "island %s channel %s: %d forwarders (want 1)\n%s" % (
                        NAME[x], ch, len(f), self.topo.describe_procs()))
            time.sleep(0.01)

    # ------------------------------------------------------------ hub logs
    @staticmethod
    def hub_links(hub):
        """c=ID -> (peer ip, island, node) from `gateway up` lines."""
        out = {}
        for m in hub.log_matches(r"\bc=(\d+) gateway up peer=([\d.]+):\d+ "
                                 r"island=(\S+) node=([0-9a-f]+)"):
            out[int(m.group(1))] = (m.group(2), m.group(3), m.group(4))
        return out

    @staticmethod
    def hub_forwarder_cid(hub, ch, island):
        """The c=ID the hub last named forwarder of (island, ch)."""
        ms = hub.log_matches(r"\bchannel=%s island=%s (?:forwarder|failover to)"
                             r" c=(\d+)" % (re.escape(ch), re.escape(island)))
        return int(ms[-1].group(1)) if ms else None

    @staticmethod
    def channel_stats(hub, ch):
        """Every hub stats line of channel ch, as dicts of int counters."""
        out = []
        rx = re.compile(r"^stats hub=\S+ channel=%s (.*)$" % re.escape(ch))
        for line in hub.stderr().splitlines():
            m = rx.search(line)
            if m:
                out.append({k: int(v) for k, v in
                            re.findall(r"(\w+)=(\d+)", m.group(1))})
        return out

    @staticmethod
    def gateway_stats(gw, ch):
        """Every gateway stats line of channel ch, as dicts of int counters;
        the registry's gauge mcferry_gateway_channel_forwarder is also
        given under its old key, forwarder."""
        out = []
        rx = re.compile(r"^stats gateway=\S+ channel=%s (.*)$" % re.escape(ch))
        for line in gw.stderr().splitlines():
            m = rx.search(line)
            if m:
                d = {k: int(v) for k, v in
                     re.findall(r"(\w+)=(\d+)", m.group(1))}
                if "mcferry_gateway_channel_forwarder" in d:
                    d.setdefault("forwarder",
                                 d["mcferry_gateway_channel_forwarder"])
                out.append(d)
        return out

    def wait_channel_stats(self, hub, ch, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            s = self.channel_stats(hub, ch)
            if len(s) >= count:
                return s
            if time.monotonic() > deadline or not hub.alive():
                raise T.TopoError("%d stats lines for %s, want %d\n%s" % (
                    len(s), ch, count, hub.describe()))
            time.sleep(0.05)

    # ------------------------------------------------------- test endpoints
    def sender(self, x, ch=GROUP, count=0, rate=1000, size=512, stream=None,
               tag=None):
        """mcsend on island x's sender host (count 0 = until SIGTERM)."""
        h = self.host[(x, "s")]
        return h.spawn([T.MCSEND, "--count", count, "--rate", rate,
                        "--size", size, "--stream",
                        STREAM[x] if stream is None else stream,
                        "--iface", lan_addr(x, "s"), ch],
                       tag=tag or "mcsend-%s" % x)

    def mcrecv(self, x, ch=GROUP, expect=None, tag=None, role="r", idle=1):
        """mcrecv on island x's receiver host; it ends `idle` s after its
        last datagram (see end_mcrecv)."""
        g, p, src = split_ch(ch)
        args = ["udp", "%s:%d" % (g, p), "--iface", "lan0", "--idle", idle,
                "--duration", "120"]
        if src:
            args += ["--source", src]
        if expect is not None:
            args += ["--expect", expect]
        return T.start_mcrecv(self.host[(x, role)], args,
                              tag=tag or "mcrecv-%s" % x)

    def watch(self, x, ch=GROUP):
        """A python receiver (timestamps) on island x's watcher host."""
        g, p, src = split_ch(ch)
        w = T.UdpReceiver(self.host[(x, "w")], g, p,
                          ifaddr=lan_addr(x, "w"), source=src)
        self.rx.append(w)
        return w

    def tcp(self, ns=None):
        s = (ns or self.bad_ns).socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socks.append(s)
        return s

    def close(self):
        for w in self.rx:
            try:
                w.close()
            except Exception:
                pass
        for s in self.socks:
            try:
                s.close()
            except Exception:
                pass


# ------------------------------------------------------------------ data
_HDR = struct.Struct(">IIQQI")


def mcsf(d):
    """(stream, seq, send time in s, CLOCK_MONOTONIC) or None."""
    if len(d) < 28:
        return None
    magic, stream, seq, t_ns, _size = _HDR.unpack_from(d)
    if magic != T.MCSF_MAGIC:
        return None
    return stream, seq, t_ns / 1e9


class Count:
    """Incremental predicate for UdpReceiver.wait_for: true once n
    datagrams of `streams` arrived at index >= start."""

    def __init__(self, streams, n, start=0):
        self.streams, self.n, self.pos, self.c = set(streams), n, start, 0

    def __call__(self, got):
        for i in range(self.pos, len(got)):
            m = mcsf(got[i][1])
            if m and m[0] in self.streams:
                self.c += 1
        self.pos = len(got)
        return self.c >= self.n


def seqs_of(got, stream):
    """[(arrival, seq, send time)] of one stream, in arrival order."""
    out = []
    for t, d in got:
        m = mcsf(d)
        if m and m[0] == stream:
            out.append((t, m[1], m[2]))
    return out


def stop_sender(p, timeout=10.0):
    """SIGTERM a continuous mcsend; returns its sent=N."""
    rc = p.stop(timeout=timeout)
    m = re.search(r"sent=(\d+)", p.stdout())
    if rc != 0 or not m:
        raise T.TopoError("mcsend failed (rc=%s):\n%s" % (rc, p.describe()))
    return int(m.group(1))


def finish_sender(p, timeout=30.0):
    """Wait for a counted mcsend to finish; returns its sent=N."""
    rc = p.wait(timeout)
    m = re.search(r"sent=(\d+)", p.stdout())
    if rc != 0 or not m:
        raise T.TopoError("mcsend failed (rc=%s):\n%s" % (rc, p.describe()))
    p.close_files()
    return int(m.group(1))


def end_mcrecv(p, timeout=10.0):
    """Wait for mcrecv to end by itself (--idle after the senders stopped),
    SIGTERM it if it has not within timeout; returns its JSON summary."""
    try:
        p.p.wait(timeout=timeout)
    except Exception:
        p.send_signal(15)
    return T.mcrecv_result(p, timeout=15.0)


class Scan:
    """Incremental predicate for UdpReceiver.wait_for: arrival time of the
    first datagram of one of `streams` that arrived after t0."""

    def __init__(self, t0, streams, start=0):
        self.t0, self.streams, self.pos = t0, set(streams), start

    def __call__(self, got):
        for i in range(self.pos, len(got)):
            t, d = got[i]
            if t > self.t0:
                m = mcsf(d)
                if m and m[0] in self.streams:
                    return t
        self.pos = len(got)
        return None


def stream_unique(summary, stream):
    """Unique datagrams of one stream at mcrecv's (only) client."""
    s = summary["per_client"][0]["streams"].get(str(stream))
    return s["unique"] if s else 0
