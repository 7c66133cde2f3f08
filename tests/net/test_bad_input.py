"""Bad input on the splitter closes that one connection with a reason.

(a-d) solo namespace: splitter `tcp://@:1602?framing=datagram ->
      tcp://@:1603?framing=datagram` on 10.9.0.1; python peers send bad
      bytes to 1602, then a good publisher and subscriber prove the splitter
      still works.
(e)   the islands chain: while island A's relay publishes to the splitter
      in R, a second publisher from gw B is refused (publisher-busy) and the
      stream to island B continues without loss.
"""

import os
import re
import socket
import struct

import pytest

import topo as T
from test_chain import G, open_path, start_seed_chain

Q = "?framing=datagram"
HOST = "10.9.0.1"


def connect(ns, host, port):
    s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((host, port))
    return s


def start_splitter(ns):
    return T.start_mcferry(ns, ["relay", "tcp://@:1602" + Q,
                                "tcp://@:1603" + Q], tag="splitter")


def closed_rx(reason, port):
    return r"\bc=\d+ .*\bclosed reason=%s(?=\s|$).*\bpeer=\S*:%d\b" % (
        re.escape(reason), port)


def read_frames(sock, n_dgrams, timeout=5):
    """Read frames until n_dgrams DGRAM frames arrived (or EOF)."""
    sock.settimeout(timeout)
    buf, frames = b"", []
    while sum(1 for t, _ in frames if t == T.FT_DGRAM) < n_dgrams:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got, buf = T.parse_frames(buf + chunk)
        frames += got
    return frames


def dgrams_of(frames):
    return [b for t, b in frames if t == T.FT_DGRAM]


def good_roundtrip(ns, splitter, n=20):
    """A real subscriber on 1603 gets what a good publisher sends to 1602."""
    before = len(splitter.log_matches(r"\bclient connected\b"))
    sub = connect(ns, HOST, 1603)
    sub.sendall(T.hello(island=b"sub"))
    splitter.wait_for_log(r"\bclient connected\b", timeout=5,
                          count=before + 1)
    pub = connect(ns, HOST, 1602)
    payloads = [os.urandom(1 + 97 * i) for i in range(n)]
    pub.sendall(T.hello(island=b"pub") + b"".join(T.dgram(p)
                                                  for p in payloads))
    frames = read_frames(sub, n)
    # the splitter's first frame is its own HELLO: magic, version 1, relay
    t0, h = frames[0]
    assert t0 == T.FT_HELLO, frames[0]
    assert h[:4] == b"MCFY" and h[4] == 1 and h[5] == 1, h
    assert len(h) == 17 + h[16], h
    assert dgrams_of(frames) == payloads, [(t, len(b)) for t, b in frames]
    pub.close()
    sub.close()
    return payloads


HELLO_OK = T.hello()
BAD_INPUTS = [
    # (id, bytes sent, half-close afterwards, expected reason)
    ("garbage", b"GET / HTTP/1.0\r\nHost: splitter\r\n\r\n" + bytes(range(256)),
     False, "bad-hello"),
    ("hello-wrong-magic", T.hello(magic=b"XXXX"), False, "bad-hello"),
    ("data-before-hello", T.dgram(b"x" * 100), False, "bad-hello"),
    ("truncated-frame-then-eof",
     HELLO_OK + struct.pack(">IBBH", 1000, T.FT_DGRAM, 0, 0) + b"y" * 500,
     True, "truncated"),
    ("huge-length",
     HELLO_OK + struct.pack(">IBBH", 0x7FFFFFF0, T.FT_DGRAM, 0, 0) + b"z" * 64,
     False, "frame-too-large"),
    ("reserved-bits", HELLO_OK + T.frame(T.FT_DGRAM, b"r" * 10, reserved=7),
     False, "bad-frame"),
    # docs/protocol.md: unknown type -> bad-frame-type (cli-contract.md's
    # list of close reasons does not name it)
    ("unknown-type", HELLO_OK + T.frame(0x77, b"u" * 10), False,
     "bad-frame-type"),
    ("second-hello", HELLO_OK + HELLO_OK, False, "bad-frame"),
    ("ping-wrong-length", HELLO_OK + T.frame(T.FT_PING, b"p" * 5), False,
     "bad-frame"),
    ("wrong-version", T.hello(version=2), False, "version-mismatch"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_closes_that_connection(solo, mcferry_bin, case):
    _id, data, half_close, reason = case
    ns = solo.ns
    splitter = start_splitter(ns)
    # a bystander subscriber must stay connected through all of it
    bystander = connect(ns, HOST, 1603)
    bystander.sendall(T.hello(island=b"bystander"))
    splitter.wait_for_log(r"\bclient connected\b", timeout=5)
    s = connect(ns, HOST, 1602)
    port = s.getsockname()[1]
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass                          # closed under our feet is fine too
    reply, how = T.read_until_closed(s, timeout=5)
    s.close()
    splitter.wait_for_log(closed_rx(reason, port), timeout=5)
    assert splitter.alive(), splitter.describe()
    if reason == "version-mismatch":
        # the peer is told why before it is closed: an ERROR frame, code 1
        frames, _rest = T.parse_frames(reply)
        errors = [b for t, b in frames if t == T.FT_ERROR]
        assert errors, "no ERROR frame before close; got %r (%s)" % (
            [(t, b[:40]) for t, b in frames], how)
        assert struct.unpack(">H", errors[0][:2])[0] == 1, errors[0]
    # the splitter still works, and the bystander got that stream too
    payloads = good_roundtrip(ns, splitter)
    assert dgrams_of(read_frames(bystander, len(payloads))) == payloads
    bystander.close()


@pytest.mark.parametrize("framing", ["raw", "datagram"])
def test_second_publisher_refused_first_continues(islands, tools, framing):
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    procs = start_seed_chain(islands, framing)
    splitter = procs["splitter"]
    tx, rx = open_path(islands, 1316)
    tx.close()
    count, rate = 6000, 2000
    mr = T.start_mcrecv(b1, ["udp", G, "--iface", "lan0", "--idle", "2",
                             "--duration", "60", "--expect", count])
    sender = a1.spawn([T.MCSEND, "--count", count, "--rate", rate,
                       "--size", 1316, "--iface", T.Islands.host_addr("a", 1),
                       G], tag="mcsend")
    try:
        assert rx.wait_for(lambda g: len(g) >= 500, 10), \
            islands.topo.describe_procs()
        # the intruder: from gw B to the splitter's publisher port
        intruder = connect(islands.gw["b"], T.Islands.r_addr("a"), 1602)
        port = intruder.getsockname()[1]
        fake = [struct.pack(">IIQQI", T.MCSF_MAGIC, 9, i, 0, 1316)
                + b"\x55" * (1316 - 28) for i in range(20)]
        try:
            if framing == "datagram":
                intruder.sendall(T.hello(island=b"intruder")
                                 + b"".join(T.dgram(f) for f in fake))
            else:
                intruder.sendall(b"".join(fake))
        except OSError:
            pass
        T.read_until_closed(intruder, timeout=5)
        intruder.close()
        splitter.wait_for_log(
            r"\bc=\d+ .*\bpublisher refused reason=publisher-busy\b"
            r".*\bpeer=\S*:%d\b" % port, timeout=5)
        assert sender.wait(30) == 0, sender.describe()
        summary = T.mcrecv_result(mr, timeout=30)
    finally:
        sender.stop()
        rx.close()
    T.assert_exactly_once(summary, count, clients=1,
                          what="stream while a second publisher was refused")
    assert list(summary["per_client"][0]["streams"]) == ["1"], summary
    # the first publisher was never dropped
    assert not procs["island-a"].log_matches(r"\bclosed reason="), \
        procs["island-a"].stderr()
    assert not splitter.log_matches(
        r"\bclosed reason=.*\bpeer=%s:" % re.escape(islands.gw_wan("a"))), \
        splitter.stderr()
