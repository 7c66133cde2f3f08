"""Trust at the hub (docs/security.md): the --acl identity x action
matrix, origins bound to links, island takeover and EMITTERS claims, and
certificates reloaded on SIGHUP without dropping established links.

    matrix (solo, loopback):
      publisher relay  udp://@:5001 -> tls://HUB:7000?channel=CH  (or tcp:7001)
      subscriber relay tls://HUB:7000?channel=CH -> udp://127.0.0.1:5002
      a trusted publisher (5011 ->) and subscriber (-> 5012) as the
      other end of each case
    islands (hubnet, tests/README.md): the hub on tls:// with an ACL,
      gateways with one certificate each, raw peers from the bad host
    reload (solo): a listening tls sink, a client relay streaming through
      it, openssl s_client as the new client
"""

import os
import re
import shutil
import signal
import socket
import ssl
import struct
import threading
import time

import pytest

import hubtopo as H
import topo as T
from hubtopo import GROUP, NAME, STREAM
from test_tls import _ca, _psk, _sign, q, streams, KEY_A, KEY_B

HUB_TLS, HUB_TCP = 7000, 7001


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("aclpki"))
    _ca(d, "ca")
    _ca(d, "otherca")
    names = {"server": "hub", "a": "island-a", "b": "island-b",
             "trusted": "trusted", "gwa1": "gw-a1", "gwa2": "gw-a2",
             "gwb1": "gw-b1", "gwc1": "gw-c1", "sink": "splitter",
             "sink2": "splitter-2", "client": "viewer"}
    for n, cn in names.items():
        _sign(d, n, "ca", cn)
    _sign(d, "stranger", "otherca", "island-a")  # right name, wrong CA
    p = lambda n: os.path.join(d, n)
    out = {"dir": d, "ca": p("ca.pem")}
    for n in list(names) + ["stranger"]:
        out[n] = (p(n + ".pem"), p(n + ".key"))
    out["psk_server"] = _psk(d, "server.psk", ["alpha:" + KEY_A,
                                                "beta:" + KEY_B])
    out["psk_alpha"] = _psk(d, "alpha.psk", ["alpha:" + KEY_A])
    out["psk_wrong"] = _psk(d, "wrong.psk", ["alpha:" + KEY_B])
    return out


def hub_stat(hub, name):
    """The last value of a hub-wide counter from its --stats lines."""
    ms = re.findall(r"^stats hub=\S+ .*\b%s=(\d+)" % re.escape(name),
                    hub.stderr(), re.M)
    return int(ms[-1]) if ms else None


def wait_stat(hub, name, pred, timeout=6.0):
    deadline = time.monotonic() + timeout
    while True:
        v = hub_stat(hub, name)
        if v is not None and pred(v):
            return v
        if time.monotonic() > deadline:
            raise T.TopoError("%s=%s\n%s" % (name, v, hub.describe()))
        time.sleep(0.1)


# --------------------------------------------------------------------------
# 1. the identity x action matrix

ACL = """\
# tests/net/test_acl.py
island  island-a  A
allow   island-a  publish   239.1.0.0/16:*
allow   *         subscribe 239.1.0.0/16:5000-5999
deny    island-b  subscribe 239.1.2.3:5000
allow   island-b  publish   239.2.0.0/16:*
allow   alpha     subscribe 239.1.0.0/16:*
allow   trusted   *         *
"""

# (id, credentials, action, channel, outcome): outcome "ok", "denied"
# (ERROR frame, counter, the link stays up, no data) or "refused" (the
# TLS handshake fails: never a link).
MATRIX = [
    ("anon-publish", "anon", "publish", "239.1.2.3:5000", "denied"),
    ("anon-subscribe", "anon", "subscribe", "239.1.2.3:5000", "denied"),
    ("wrongca-publish", "stranger", "publish", "239.1.2.3:5000", "refused"),
    ("wrongca-subscribe", "stranger", "subscribe", "239.1.2.3:5000",
     "refused"),
    ("a-publish-allowed", "a", "publish", "239.1.2.3:5000", "ok"),
    ("a-publish-denied", "a", "publish", "239.2.0.1:5000", "denied"),
    ("a-subscribe-allowed", "a", "subscribe", "239.1.2.3:5000", "ok"),
    ("a-subscribe-denied", "a", "subscribe", "239.1.2.3:6000", "denied"),
    ("b-publish-allowed", "b", "publish", "239.2.0.1:5000", "ok"),
    ("b-publish-denied", "b", "publish", "239.1.2.3:5000", "denied"),
    ("b-subscribe-allowed", "b", "subscribe", "239.1.2.4:5000", "ok"),
    ("b-subscribe-deny-wins", "b", "subscribe", "239.1.2.3:5000", "denied"),
    ("psk-subscribe-allowed", "psk_alpha", "subscribe", "239.1.2.3:6000",
     "ok"),
    ("psk-publish-denied", "psk_alpha", "publish", "239.1.2.3:5000",
     "denied"),
    ("wrongpsk-publish", "psk_wrong", "publish", "239.1.2.3:5000", "refused"),
    ("wrongpsk-subscribe", "psk_wrong", "subscribe", "239.1.2.3:5000",
     "refused"),
]


def hub_uri(pki, who, ch):
    """The link to the hub for credentials `who`, with channel=ch."""
    if who == "anon":
        return "tcp://127.0.0.1:%d?channel=%s" % (HUB_TCP, ch)
    if who.startswith("psk"):
        return "tls://127.0.0.1:%d%s" % (HUB_TLS, q(psk=pki[who],
                                                     extra="channel=" + ch))
    return "tls://127.0.0.1:%d%s" % (HUB_TLS, q(pki["ca"], pki[who],
                                                 extra="channel=" + ch))


def start_acl_hub(ns, pki, acl_path, tag="hub"):
    with open(acl_path, "w") as f:
        f.write(ACL)
    srv = q(pki["ca"], pki["server"], psk=pki["psk_server"])
    return T.start_mcferry(ns, [
        "hub", "--listen", "tls://@127.0.0.1:%d%s" % (HUB_TLS, srv),
        "--listen", "tcp://@127.0.0.1:%d" % HUB_TCP, "--acl", acl_path,
        "--stats", "1"], tag=tag)


def publisher(ns, uri, port, tag):
    return T.start_mcferry(ns, ["relay", "udp://@127.0.0.1:%d" % port, uri],
                           tag=tag)


def subscriber(ns, uri, port, tag):
    return T.start_mcferry(ns, ["relay", uri, "udp://127.0.0.1:%d" % port],
                           tag=tag)


def rx_socket(ns, port):
    s = ns.socket()
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    return s


@pytest.mark.parametrize("case", MATRIX, ids=[c[0] for c in MATRIX])
def test_acl_matrix(solo, pki, tmp_path, case):
    name, who, action, ch, outcome = case
    ns = solo.ns
    hub = start_acl_hub(ns, pki, str(tmp_path / "hub.acl"))
    trusted = hub_uri(pki, "trusted", ch)
    tx = ns.socket()
    if action == "publish":
        # the peer under test publishes, a trusted subscriber listens
        sub = subscriber(ns, trusted, 5012, "trusted-sub")
        hub.wait_for_log(r"\bjoin channel=%s\b" % re.escape(ch), timeout=8)
        rx = rx_socket(ns, 5012)
        peer = publisher(ns, hub_uri(pki, who, ch), 5001, "peer-" + name)
        in_port = 5001
    else:
        # a trusted publisher, the peer under test subscribes; a trusted
        # subscriber proves the channel flows all the same
        pub = publisher(ns, trusted, 5011, "trusted-pub")
        sub = subscriber(ns, trusted, 5012, "trusted-sub")
        hub.wait_for_log(r"\bjoin channel=%s\b" % re.escape(ch), timeout=8)
        rx = rx_socket(ns, 5002)
        peer = subscriber(ns, hub_uri(pki, who, ch), 5002, "peer-" + name)
        in_port = 5011
    what = "%s\n%s" % (hub.describe(), peer.describe())
    if outcome == "ok":
        assert streams(tx, rx, in_port=in_port), what
        assert not hub.log_matches(r"\bdenied\b"), what
        return
    if outcome == "refused":
        hub.wait_for_log(r'link closed reason="tls: ', timeout=8)
        assert not hub.log_matches(r"\brelay up\b.*identity=(?!trusted)"), \
            what
        assert not streams(tx, rx, timeout=1.5, in_port=in_port), what
        return
    # denied: an ERROR frame with the code, a counter, no data, link up
    code = 16 if action == "publish" else 17
    hub.wait_for_log(r"\b%s denied channel=%s identity=%s " % (
        action, re.escape(ch), "-" if who == "anon" else r"\S+"), timeout=8)
    peer.wait_for_log(r"peer error code=%d text=%s-denied: %s" % (
        code, action, re.escape(ch)), timeout=5)
    if action == "subscribe":
        rx_trusted = rx_socket(ns, 5012)
        assert streams(tx, rx_trusted, in_port=in_port), \
            "the trusted subscriber gets nothing either\n" + what
    assert not streams(tx, rx, timeout=1.5, in_port=in_port), \
        "denied %s streamed\n%s" % (action, what)
    wait_stat(hub, "mcferry_hub_%s_denied_total" % action, lambda v: v >= 1)
    if action == "publish":
        # what it sends anyway is dropped, never routed
        wait_stat(hub, "mcferry_hub_unauthorized_dropped_datagrams_total",
                  lambda v: v >= 1)
    time.sleep(0.5)
    assert peer.alive() and not peer.log_matches(r"closed reason="), what
    assert len(peer.log_matches(r"upstream connected")) == 1, what


def test_acl_island_claim_refused(solo, pki, tmp_path):
    """A gateway whose identity has no `island` rule for its island gets
    ERROR code 3 and is closed (and counted); the authorized one is up."""
    ns = solo.ns
    hub = start_acl_hub(ns, pki, str(tmp_path / "hub.acl"))
    gw = lambda pair, island, tag: T.start_mcferry(ns, [
        "gateway", "--hub", "tls://127.0.0.1:%d%s" % (HUB_TLS,
                                                      q(pki["ca"], pki[pair])),
        "--iface", "lan0", "--island", island, "--group", "239.1.1.1:5000"],
        tag=tag)
    good = gw("a", "A", "gw-a")
    hub.wait_for_log(r"\bgateway up\b.*island=A .*identity=island-a\b",
                     timeout=8)
    bad = gw("b", "A", "gw-b-claims-a")
    hub.wait_for_log(r"island refused island=A identity=island-b ", timeout=8)
    hub.wait_for_log(r"link closed reason=island-refused", timeout=5)
    bad.wait_for_log(r"peer error code=3 text=island-refused", timeout=5)
    wait_stat(hub, "mcferry_hub_island_refused_total", lambda v: v >= 1)
    assert not hub.log_matches(r"\bgateway up\b.*identity=island-b\b")
    # the authorized gateway's link was not disturbed
    assert good.alive() and len(good.log_matches(r"\bhub up\b")) == 1
    # the anonymous link claims an island too: refused the same way
    s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(("127.0.0.1", HUB_TCP))
    s.sendall(T.hello(role=3, island=b"A", node=0x1234))
    data, _ = T.read_until_closed(s, timeout=5)
    s.close()
    frames, _ = T.parse_frames(data)
    errs = [b for t, b in frames if t == T.FT_ERROR]
    assert errs and struct.unpack(">H", errs[0][:2])[0] == 3, frames


# --------------------------------------------------------------------------
# 2. origins are bound to links (no ACL, plain tcp)

def data_frame(origin, seq, ch, payload, hops=0, sport=0):
    g, p, _ = H.split_ch(ch)
    chan = struct.pack(">BBH", 4, 0, p) + socket.inet_aton(g) + b"\0" * 4
    body = struct.pack(">BBHQQ", hops, 0, sport, origin, seq) + chan + payload
    return T.frame(0x11, body)


def channel_frame(ftype, ch):
    g, p, _ = H.split_ch(ch)
    return T.frame(ftype, struct.pack(">BBH", 4, 0, p) +
                   socket.inet_aton(g) + b"\0" * 4)


def test_forged_origin_cannot_silence_an_island(net):
    """The red-team finding: one DATA frame per origin with sequence 2^63
    under a victim's origin used to fill the hub's duplicate window, so
    every real frame of that origin after it was 'old'. A raw peer on
    plain tcp, no ACL, sends exactly that for every gateway of island A
    while A streams to B: B loses nothing, the frames are counted."""
    n = 3000
    hub, gws = net.start_all()
    victims = sorted({int(node, 16) for _peer, island, node in
                      net.hub_links(hub).values() if island == "A"})
    assert len(victims) == 2, net.hub_links(hub)
    rx = net.mcrecv("b", expect=n)
    w = net.watch("b")
    snd = net.sender("a", count=n)
    assert w.wait_for(lambda g: len(g) >= 200, 10), "stream A -> B not up"
    s = net.tcp()
    s.settimeout(5)
    s.connect((H.HUB_ADDR, H.HUB_PORT))
    own = int.from_bytes(os.urandom(8), "big")
    s.sendall(T.hello(role=3, island=b"evil", node=own) +
              channel_frame(0x22, GROUP))          # EXPORT: its forwarder
    time.sleep(0.3)
    # its own origin is fine: not counted as forged
    s.sendall(data_frame(own, 1, GROUP, b"own-origin"))
    forged = 0
    for rnd in range(5):
        out = b""
        for v in victims:
            for seq in (2 ** 63, 2 ** 63 + 1, 2 ** 64 - 1):
                out += data_frame(v, seq, GROUP, b"forged" * 10)
                forged += 1
        s.sendall(out)
        pos = len(w.snapshot())
        assert w.wait_for(H.Count({STREAM["a"]}, 100, pos), 10), \
            "stream A -> B stalled after forged round %d" % rnd
    assert H.finish_sender(snd, timeout=n / 1000 + 30) == n
    got = H.end_mcrecv(rx)
    c = got["per_client"][0]
    what = "receiver on B: %s" % got
    assert H.stream_unique(got, STREAM["a"]) == n, what
    assert (c["duplicates"], c["lost"]) == (0, 0), what
    wait_stat(hub, "mcferry_hub_forged_origin_dropped_datagrams_total",
              lambda v: v >= forged)
    assert len(hub.log_matches(r"forged origin dropped peer=%s:" %
                               re.escape(H.BAD_ADDR))) == 1
    s.close()


# --------------------------------------------------------------------------
# 3. island takeover, with TLS and an ACL

ISLAND_ACL = """\
island gw-a1 A
island gw-a2 A
island gw-b1 B
island gw-c1 C
allow * * *
"""


def start_tls_islands(net, pki, tmp_path):
    acl = str(tmp_path / "islands.acl")
    with open(acl, "w") as f:
        f.write(ISLAND_ACL)
    srv = q(pki["ca"], pki["server"])
    net.hub = T.start_mcferry(net.hub_ns, [
        "hub", "--listen", "tls://@:%d%s" % (H.HUB_PORT, srv), "--acl", acl,
        "--stats", "1"], tag="hub")
    for x in H.ISLANDS:
        for k in range(1, H.NGW[x] + 1):
            uri = "tls://%s:%d%s" % (H.HUB_ADDR, H.HUB_PORT,
                                     q(pki["ca"], pki["gw%s%d" % (x, k)]))
            args = ["gateway", "--hub", uri, "--iface", "lan0", "--island",
                    NAME[x], "--group", GROUP, "--stats", "1"]
            net.gw_args[(x, k)] = args
            p = T.start_mcferry(net.gw[x][k - 1], args, tag="gw%s%d" % (x, k))
            net.gws.setdefault(x, [None] * H.NGW[x])[k - 1] = p
    net.hub.wait_for_log(r"\bgateway up\b", timeout=10, count=4)
    for x in H.ISLANDS:
        net.wait_forwarder(x, GROUP)
    return net.hub


def tls_raw_peer(net, pki, pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(pki["ca"])
    ctx.load_cert_chain(*pki[pair])
    s = net.tcp()
    s.settimeout(5)
    s.connect((H.HUB_ADDR, H.HUB_PORT))
    return ctx.wrap_socket(s)


def read_tls_until_closed(t, timeout=5.0):
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            b = t.recv(65536)
        except (socket.timeout, ssl.SSLError, ConnectionResetError):
            break
        if not b:
            break
        data += b
    return data


def test_island_takeover_refused_with_tls_acl(net, pki, tmp_path):
    """An authenticated gateway of C says HELLO for island B: refused
    (ERROR code 3, closed, counted) over and over as it redials, while
    B's real gateway keeps its forwarder role and B -> A loses nothing."""
    n = 3000
    hub = start_tls_islands(net, pki, tmp_path)
    fwd_b = net.wait_forwarder("b", GROUP)
    rx = net.mcrecv("a", expect=n)
    snd = net.sender("b", count=n)
    uri = "tls://%s:%d%s" % (H.HUB_ADDR, H.HUB_PORT,
                             q(pki["ca"], pki["gwc1"]))
    evil = T.start_mcferry(net.bad_ns, [
        "gateway", "--hub", uri, "--iface", "wan0", "--island", "B",
        "--group", GROUP], tag="evil-b")
    hub.wait_for_log(r"island refused island=B identity=gw-c1 ", timeout=8,
                     count=2)
    evil.wait_for_log(r"peer error code=3 text=island-refused", timeout=5)
    assert H.finish_sender(snd, timeout=n / 1000 + 30) == n
    got = H.end_mcrecv(rx)
    what = "receiver on A: %s\n%s" % (got, hub.describe())
    assert H.stream_unique(got, STREAM["b"]) == n, what
    assert got["per_client"][0]["lost"] == 0, what
    assert net.forwarders("b", GROUP) == [fwd_b], what
    assert not hub.log_matches(r"island=B failover"), what
    assert not hub.log_matches(r"\bgateway up\b.*island=B .*"
                               r"identity=(?!gw-b1\b)"), what
    assert wait_stat(hub, "mcferry_hub_island_refused_total",
                     lambda v: v >= 2)
    evil.stop()


def emitters_frame(addrs):
    body = bytes([len(addrs)])
    for a, port in addrs:
        body += struct.pack(">BBH", 4, 0, port) + socket.inet_aton(a) + \
            b"\0" * 12
    return T.frame(0x25, body)


def test_emitters_claim_for_another_island_refused(net, pki, tmp_path):
    """A valid identity of island C says HELLO for B and announces B's
    sender as an address B's gateways re-multicast from (which would make
    them stop exporting it): refused at the HELLO, the EMITTERS never
    count, and B's sender still reaches A."""
    n = 2000
    hub = start_tls_islands(net, pki, tmp_path)
    rx = net.mcrecv("a", expect=n)
    snd = net.sender("b", count=n)
    sender = H.lan_addr("b", "s")
    for pair in ("gwc1", "gwa1"):
        t = tls_raw_peer(net, pki, pair)
        t.sendall(T.hello(role=3, island=b"B",
                          node=int.from_bytes(os.urandom(8), "big")) +
                  emitters_frame([(sender, p) for p in range(1024, 1056)]))
        data = read_tls_until_closed(t)
        t.close()
        frames, _ = T.parse_frames(data)
        errs = [b for ty, b in frames if ty == T.FT_ERROR]
        assert errs and struct.unpack(">H", errs[0][:2])[0] == 3, frames
        assert b"island-refused" in errs[0], errs
    hub.wait_for_log(r"island refused island=B identity=gw-a1 ", timeout=5)
    assert H.finish_sender(snd, timeout=n / 1000 + 30) == n
    got = H.end_mcrecv(rx)
    assert H.stream_unique(got, STREAM["b"]) == n, got
    assert wait_stat(hub, "mcferry_hub_island_refused_total",
                     lambda v: v >= 2)


# --------------------------------------------------------------------------
# 4. SIGHUP reloads certificates, established links keep running

def s_client_subject(ns, port, pki):
    r = ns.exec(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                 "-tls1_3", "-showcerts", "-CAfile", pki["ca"],
                 "-verify_return_error"], input="", timeout=10)
    m = re.search(r"^subject=.*CN\s*=\s*([\w.-]+)", r.stdout, re.M)
    return m.group(1) if m else r.stdout + r.stderr


class Pump:
    """Send a probe-numbered datagram every 2 ms until stopped."""

    def __init__(self, ns, port):
        self.s, self.port, self.sent = ns.socket(), port, 0
        self.stop_ = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_:
            self.s.sendto(struct.pack(">Q", self.sent) + b"x" * 200,
                          ("127.0.0.1", self.port))
            self.sent += 1
            time.sleep(0.002)

    def stop(self):
        self.stop_ = True
        self.t.join()


def test_sighup_reloads_certificates_keeps_links(solo, pki, tmp_path):
    ns = solo.ns
    cert, key = str(tmp_path / "sink.pem"), str(tmp_path / "sink.key")
    shutil.copy(pki["sink"][0], cert)
    shutil.copy(pki["sink"][1], key)
    os.chmod(key, 0o600)
    sink = T.start_mcferry(ns, [
        "relay", "--stats", "1", "udp://@127.0.0.1:5001",
        "tls://@127.0.0.1:1603" + q(pki["ca"], (cert, key),
                                    extra="client-cert=optional")],
        tag="sink")
    client = T.start_mcferry(ns, [
        "relay", "--stats", "1",
        "tls://127.0.0.1:1603" + q(pki["ca"], pki["client"]),
        "udp://127.0.0.1:5002"], tag="client")
    sink.wait_for_log(r"client authenticated .*identity=viewer\b", timeout=8)
    client.wait_for_log(r"upstream connected .*identity=splitter\b",
                        timeout=8)
    assert s_client_subject(ns, 1603, pki) == "splitter"
    rx = rx_socket(ns, 5002)
    pump = Pump(ns, 5001)
    got = []
    stop = [False]

    def drain():
        while not stop[0]:
            try:
                got.append(struct.unpack(">Q", rx.recv(70000)[:8])[0])
            except socket.timeout:
                pass

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    try:
        time.sleep(0.5)
        before = len(got)
        assert before > 50, "not streaming before the reload"
        # a new pair from the same CA, then SIGHUP
        shutil.copy(pki["sink2"][0], cert)
        shutil.copy(pki["sink2"][1], key)
        sink.send_signal(signal.SIGHUP)
        sink.wait_for_log(r"relay=\S+ uri=tls://@127\.0\.0\.1:1603\S* "
                          r"certificates reloaded", timeout=5)
        assert s_client_subject(ns, 1603, pki) == "splitter-2"
        # a bad certificate: logged, the new context stays
        with open(cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot one\n")
        sink.send_signal(signal.SIGHUP)
        sink.wait_for_log(r"certificates not reloaded, keeping the old "
                          r"ones: .*cert file", timeout=5)
        assert s_client_subject(ns, 1603, pki) == "splitter-2"
        mid = len(got)
        time.sleep(1.0)
        assert len(got) > mid + 100, "the old client stopped streaming"
    finally:
        pump.stop()
        time.sleep(0.3)
        stop[0] = True
        th.join()
    what = "%s\n%s" % (sink.describe(), client.describe())
    # the established link never dropped: one connect, no close, nothing
    # lost on loopback
    assert len(client.log_matches(r"upstream connected")) == 1, what
    assert not client.log_matches(r"closed reason="), what
    assert not sink.log_matches(r"client closed reason=(?!eof)"), what
    assert len(set(got)) == pump.sent, "sent %d, got %d unique\n%s" % (
        pump.sent, len(set(got)), what)
    assert sink.alive() and client.alive()
