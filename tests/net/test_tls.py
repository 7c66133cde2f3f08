"""tls:// endpoints: the seed chain over TLS 1.3, plain TLS viewers of a
listening sink, who is let in and who is refused (with the reason in the
log), and the start-up checks of key files.

Certificates are made with the openssl CLI into tmp_path: a CA, a server
and a client certificate, an expired client certificate (`openssl ca`
with -startdate/-enddate in the past) and a second CA with a client of
its own; PSK files hold IDENTITY:HEXKEY lines.

    seed chain (islands):  a1 --udp--> gw A: relay udp://@G -> tls://R:1602
                           R:    relay tls://@:1602 -> tls://@:1603
                           gw B: relay tls://R:1603 -> udp://G --> b2
    the rest (solo, loopback):
                           client relay udp://@:5001 -> tls://127.0.0.1:PORT
                           server relay tls://@:PORT -> udp://127.0.0.1:5002
"""

import os
import re
import socket
import subprocess
import time

import pytest

import topo as T

GROUP, PORT = "224.168.2.9", 1600
G = "%s:%d" % (GROUP, PORT)


# --------------------------------------------------------------------------
# a throwaway PKI

def _ssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key_csr(d, name, cn):
    _ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
         "-subj", "/CN=" + cn, cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def _ca(d, name):
    _ssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
         "-out", name + ".pem", "-days", "30", "-subj", "/CN=" + name, cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def _sign(d, name, ca, cn):
    _key_csr(d, name, cn)
    _ssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
         "-CAkey", ca + ".key", "-CAcreateserial", "-out", name + ".pem",
         "-days", "30", cwd=d)


def _sign_expired(d, name, ca, cn):
    """`openssl x509` takes no validity in the past; `openssl ca` does."""
    _key_csr(d, name, cn)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                "new_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\n"
                "policy = p\nunique_subject = no\n[p]\ncommonName = supplied\n"
                % (d, d, d))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    _ssl("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem",
         "-keyfile", ca + ".key", "-in", name + ".csr", "-out", name + ".pem",
         "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
         "-notext", cwd=d)


def _psk(d, name, lines):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("# test keys\n" + "".join(l + "\n" for l in lines))
    os.chmod(path, 0o600)
    return path


KEY_A = "00112233445566778899aabbccddeeff"
KEY_B = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    _ca(d, "ca")
    _ca(d, "otherca")
    _sign(d, "server", "ca", "splitter")
    _sign(d, "client", "ca", "island-a")
    _sign(d, "stranger", "otherca", "stranger")
    _sign_expired(d, "expired", "ca", "old-client")
    p = lambda n: os.path.join(d, n)
    return {
        "dir": d, "ca": p("ca.pem"), "otherca": p("otherca.pem"),
        "server": (p("server.pem"), p("server.key")),
        "client": (p("client.pem"), p("client.key")),
        "stranger": (p("stranger.pem"), p("stranger.key")),
        "expired": (p("expired.pem"), p("expired.key")),
        "psk_server": _psk(d, "server.psk", ["alpha:" + KEY_A,
                                              "beta:" + KEY_B]),
        "psk_alpha": _psk(d, "alpha.psk", ["alpha:" + KEY_A]),
        "psk_beta": _psk(d, "beta.psk", ["beta:" + KEY_B]),
        "psk_wrongkey": _psk(d, "wrong.psk", ["alpha:" + KEY_B]),
        "psk_unknown": _psk(d, "gamma.psk", ["gamma:" + KEY_A]),
    }


def q(ca=None, pair=None, psk=None, extra=""):
    """The query part of a tls URI."""
    parts = []
    if ca:
        parts.append("ca=" + ca)
    if pair:
        parts += ["cert=" + pair[0], "key=" + pair[1]]
    if psk:
        parts.append("psk-file=" + psk)
    if extra:
        parts.append(extra)
    return "?" + "&".join(parts)


# --------------------------------------------------------------------------
# 1. the seed chain over TLS

def test_seed_chain_over_tls_datagram_sizes_exact(islands, pki, tools):
    isl = islands
    ra, rb = T.Islands.r_addr("a"), T.Islands.r_addr("b")
    srv = q(pki["ca"], pki["server"])
    cli = q(pki["ca"], pki["client"])
    T.start_mcferry(isl.r, ["relay", "tls://@:1602" + srv,
                            "tls://@:1603" + srv], tag="splitter")
    T.start_mcferry(isl.gw["a"], ["relay", "udp://@%s?iface=br0" % G,
                                  "tls://%s:1602%s" % (ra, cli)],
                    tag="island-a")
    gb = T.start_mcferry(isl.gw["b"], ["relay", "tls://%s:1603%s" % (rb, cli),
                                       "udp://%s?iface=br0" % G],
                         tag="island-b")
    gb.wait_for_log(r"upstream connected .*via=tls", timeout=10)
    a1, b1, b2 = isl.hosts["a"][0], isl.hosts["b"][0], isl.hosts["b"][1]
    tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1))
    rx = T.UdpReceiver(b2, GROUP, PORT, ifaddr=T.Islands.host_addr("b", 2))
    try:
        T.wait_path_open(tx, (GROUP, PORT), rx, 64, timeout=15)
        rx.clear()
        sizes = [1, 2, 200, 1316, 1500, 9000, 16383, 16384, 16385, 40000,
                 65507]
        sent = []
        for rep in range(2):
            for sz in sizes:
                d = bytes([rep + 1]) + os.urandom(sz - 1)
                sent.append(d)
                tx.sendto(d, (GROUP, PORT))
                n = len(sent)
                assert rx.wait_for(lambda g: len(g) >= n, 5.0), (
                    "datagram #%d (%d bytes) did not arrive over tls; got "
                    "sizes %s" % (n, sz, [len(x) for _, x in rx.snapshot()]))
        sentinel = T.probe_payload("sentinel", 100)
        tx.sendto(sentinel, (GROUP, PORT))
        assert rx.wait_for(lambda g: g and g[-1][1] == sentinel, 5.0)
        got = [d for _, d in rx.snapshot()]
        assert [len(d) for d in got] == [len(d) for d in sent] + [100], \
            "framing=auto over tls did not keep datagram boundaries"
        for i, (a, b) in enumerate(zip(got, sent)):
            assert a == b, "datagram #%d (%d bytes) differs" % (i, len(b))
        # a burst through the bounded ciphertext backlog, exactly once
        count = 4000
        mr = T.start_mcrecv(b1, ["udp", G, "--iface", "lan0", "--idle", "2",
                                 "--duration", "60", "--expect", count])
        n = T.run_mcsend(a1, ["--count", count, "--rate", 4000, "--size",
                              1316, "--iface", T.Islands.host_addr("a", 1),
                              G])
        assert n == count
        T.assert_exactly_once(T.mcrecv_result(mr, timeout=30), count,
                              clients=1, what="tls chain burst", size=1316)
    finally:
        rx.close()
        tx.close()


# --------------------------------------------------------------------------
# helpers of the loopback tests (solo namespace)

def udp_pair(ns, in_port=5001, out_port=5002):
    """A sender to the client relay's udp source and a receiver of the
    server relay's udp sink, both on 127.0.0.1."""
    tx = ns.socket()
    rx = ns.socket()
    rx.bind(("127.0.0.1", out_port))
    rx.settimeout(0.2)
    return tx, rx


def streams(tx, rx, timeout=6.0, in_port=5001):
    """True when a probe sent into the client relay comes out at rx."""
    deadline = time.monotonic() + timeout
    probe = b"probe-" + os.urandom(8)
    while time.monotonic() < deadline:
        tx.sendto(probe, ("127.0.0.1", in_port))
        try:
            while True:
                if rx.recv(70000) == probe:
                    return True
        except socket.timeout:
            pass
    return False


def start_server(solo, uri, tag="server"):
    return T.start_mcferry(solo.ns, ["relay", uri, "udp://127.0.0.1:5002"],
                           tag=tag)


def start_client(solo, uri, tag):
    return T.start_mcferry(solo.ns, ["relay", "udp://@127.0.0.1:5001", uri],
                           tag=tag)


# --------------------------------------------------------------------------
# 2. plain TLS viewers of a listening sink

def _viewer_bytes(solo, argv, tx, payloads, tag):
    """Run a TLS viewer, feed payloads into the relay, return its stdout."""
    p = solo.ns.spawn(argv, tag=tag, stdin=subprocess.PIPE)
    try:
        time.sleep(1.0)  # past the 200 ms auto-framing wait: raw bytes
        for d in payloads:
            tx.sendto(d, ("127.0.0.1", 5001))
            time.sleep(0.002)
        want = sum(len(d) for d in payloads)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.getsize(p.out_path) >= want:
                break
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        p.stop()
    with open(p.out_path, "rb") as f:
        return f.read(), p


@pytest.mark.parametrize("viewer", ["s_client", "socat"])
def test_plain_tls_viewer_gets_raw_stream(solo, pki, viewer):
    sink = "tls://@127.0.0.1:1603" + q(pair=pki["server"],
                                       extra="client-cert=optional")
    relay = T.start_mcferry(solo.ns, ["relay", "udp://@127.0.0.1:5001",
                                      sink], tag="sink")
    tx = solo.ns.socket()
    if viewer == "s_client":
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:1603",
                "-tls1_3", "-quiet", "-CAfile", pki["ca"],
                "-verify_return_error"]
    else:
        argv = ["socat", "-u",
                "OPENSSL-CONNECT:127.0.0.1:1603,cafile=%s,"
                "openssl-min-proto-version=TLS1.3,commonname=splitter"
                % pki["ca"], "STDOUT"]
    payloads = [bytes([i]) * 1 + os.urandom(1315) for i in range(200)]
    got, p = _viewer_bytes(solo, argv, tx, payloads, viewer)
    want = b"".join(payloads)
    assert got == want, "%s got %d bytes, want %d (prefix equal: %s)\n%s" % (
        viewer, len(got), len(want), want.startswith(got), p.describe())
    assert relay.log_matches(r"client connected .*via=tls")


def test_required_client_cert_refuses_plain_viewer(solo, pki):
    sink = "tls://@127.0.0.1:1603" + q(pki["ca"], pki["server"])
    relay = T.start_mcferry(solo.ns, ["relay", "udp://@127.0.0.1:5001",
                                      sink], tag="sink")
    r = solo.ns.exec(["openssl", "s_client", "-connect", "127.0.0.1:1603",
                      "-tls1_3", "-CAfile", pki["ca"]],
                     input="", timeout=10)
    relay.wait_for_log(r'closed reason="tls: peer did not return a '
                       r'certificate"', timeout=5)
    # and the one with a certificate of our CA streams
    tx = solo.ns.socket()
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:1603", "-tls1_3",
            "-quiet", "-CAfile", pki["ca"], "-cert", pki["client"][0],
            "-key", pki["client"][1]]
    payloads = [os.urandom(1316) for _ in range(50)]
    got, p = _viewer_bytes(solo, argv, tx, payloads, "s_client_cert")
    assert got == b"".join(payloads), p.describe()


# --------------------------------------------------------------------------
# 3. who gets in

CERT_CASES = [
    # (id, client pair, client ca, streams?, server log regex)
    ("valid", "client", "ca", True, None),
    ("wrong-ca", "stranger", "ca", False,
     r'reason="tls: certificate verify failed \(unable to get local '
     r'issuer certificate\)"'),
    ("expired", "expired", "ca", False,
     r'reason="tls: certificate verify failed \(certificate has '
     r'expired\)"'),
    ("client-distrusts-server", "client", "otherca", False,
     r'reason="tls: .*alert unknown ca"'),
]


@pytest.mark.parametrize("case", CERT_CASES, ids=[c[0] for c in CERT_CASES])
def test_certificate_matrix(solo, pki, case):
    name, pair, ca, ok, reason = case
    srv = start_server(solo, "tls://@127.0.0.1:1602" +
                       q(pki["ca"], pki["server"]))
    tx, rx = udp_pair(solo.ns)
    cl = start_client(solo, "tls://127.0.0.1:1602" + q(pki[ca], pki[pair]),
                      tag="client-" + name)
    if ok:
        assert streams(tx, rx), "%s\n%s" % (srv.describe(), cl.describe())
        return
    srv.wait_for_log(reason, timeout=8)
    # the client logs why as well, and nothing gets through
    cl.wait_for_log(r'upstream closed reason="tls: ', timeout=8)
    assert not streams(tx, rx, timeout=1.5), "refused client streamed"


PSK_CASES = [
    ("right-psk", "psk_alpha", True, None),
    ("right-psk-2", "psk_beta", True, None),
    ("wrong-psk-key", "psk_wrongkey", False, r'reason="tls: '),
    ("unknown-psk-identity", "psk_unknown", False,
     r'reason="tls: unknown psk identity \'gamma\'"'),
]


@pytest.mark.parametrize("case", PSK_CASES, ids=[c[0] for c in PSK_CASES])
def test_psk_matrix(solo, pki, case):
    name, psk, ok, reason = case
    srv = start_server(solo, "tls://@127.0.0.1:1604" +
                       q(psk=pki["psk_server"]))
    tx, rx = udp_pair(solo.ns)
    cl = start_client(solo, "tls://127.0.0.1:1604" + q(psk=pki[psk]),
                      tag="client-" + name)
    if ok:
        assert streams(tx, rx), "%s\n%s" % (srv.describe(), cl.describe())
        return
    srv.wait_for_log(reason, timeout=8)
    assert not streams(tx, rx, timeout=1.5), "refused PSK client streamed"


def test_psk_and_certificates_on_one_server(solo, pki):
    """A server with both takes a PSK client and a certificate client."""
    srv = start_server(solo, "tls://@127.0.0.1:1605" +
                       q(pki["ca"], pki["server"], pki["psk_server"]))
    tx, rx = udp_pair(solo.ns)
    c1 = start_client(solo, "tls://127.0.0.1:1605" + q(psk=pki["psk_beta"]),
                      tag="client-psk")
    assert streams(tx, rx), srv.describe()
    c1.stop()
    srv.wait_for_log(r"publisher closed", timeout=5)
    start_client(solo, "tls://127.0.0.1:1605" + q(pki["ca"], pki["client"]),
                 tag="client-cert")
    assert streams(tx, rx), srv.describe()


# --------------------------------------------------------------------------
# 4. start-up checks

def _cli(solo, args):
    return solo.ns.exec([T.MCFERRY] + args, timeout=5)


def test_readable_key_file_refused_at_start(solo, pki, tmp_path):
    key = tmp_path / "open.key"
    key.write_bytes(open(pki["server"][1], "rb").read())
    os.chmod(key, 0o644)
    r = _cli(solo, ["relay", "udp://@127.0.0.1:5001",
                    "tls://@127.0.0.1:1603" +
                    q(pki["ca"], (pki["server"][0], str(key)))])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert str(key) in r.stderr and "0644" in r.stderr, r.stderr
    psk = tmp_path / "open.psk"
    psk.write_text("alpha:" + KEY_A + "\n")
    os.chmod(psk, 0o640)
    r = _cli(solo, ["relay", "udp://@127.0.0.1:5001",
                    "tls://127.0.0.1:1603" + q(psk=str(psk))])
    assert r.returncode == 1 and str(psk) in r.stderr, (r.returncode, r.stderr)


def test_missing_cert_file_exits_with_clear_error(solo, pki, tmp_path):
    gone = str(tmp_path / "nosuch.pem")
    r = _cli(solo, ["relay", "udp://@127.0.0.1:5001",
                    "tls://@127.0.0.1:1603" +
                    q(pki["ca"], (gone, pki["server"][1]))])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert gone in r.stderr and "No such file" in r.stderr, r.stderr
    assert len([l for l in r.stderr.splitlines() if l.strip()]) == 1, r.stderr


def test_bad_psk_file_names_the_line(solo, pki, tmp_path):
    psk = tmp_path / "bad.psk"
    psk.write_text("# ok\nalpha:0011\n")
    os.chmod(psk, 0o600)
    r = _cli(solo, ["relay", "udp://@127.0.0.1:5001",
                    "tls://127.0.0.1:1603" + q(psk=str(psk))])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert str(psk) in r.stderr and "line 2" in r.stderr, r.stderr


@pytest.mark.parametrize("uri,rx", [
    ("tls://127.0.0.1:1603", r"cert=|psk-file="),
    ("tls://127.0.0.1:1603?cert=/x.pem", r"cert= and key="),
    ("tls://127.0.0.1:1603?cert=/x.pem&key=/x.key", r"ca="),
    ("tls://127.0.0.1:1603?psk-file=/x&client-cert=optional",
     r"client-cert"),
    ("tcp://127.0.0.1:1603?ca=/x.pem", r"'ca' does not apply to a tcp"),
])
def test_tls_uri_checks_exit_2(solo, uri, rx):
    r = _cli(solo, ["relay", "udp://@127.0.0.1:5001", uri])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert re.search(rx, r.stderr), r.stderr


def test_hub_and_gateway_over_tls(solo, pki):
    """tls through the same link table: hub --listen and gateway --hub."""
    hub = T.start_mcferry(solo.ns, ["hub", "--listen", "tls://@127.0.0.1:7000"
                                    + q(pki["ca"], pki["server"])], tag="hub")
    gw = T.start_mcferry(solo.ns, [
        "gateway", "--hub", "tls://127.0.0.1:7000" +
        q(pki["ca"], pki["client"]), "--iface", "lan0", "--group",
        "239.1.1.1:5000"], tag="gw")
    hub.wait_for_log(r"connected .*via=tls", timeout=10)
    gw.wait_for_log(r"connected .*via=tls", timeout=10)
    time.sleep(0.5)
    assert hub.alive() and gw.alive()
