"""The seed's chain: island A -> splitter (in router R) -> island B.

    a1 (mcsend) --LAN A--> gw A: relay udp://@G -> tcp://R:1602
                           R:    relay tcp://@:1602 -> tcp://@:1603  (splitter)
                           gw B: relay tcp://R:1603 -> udp://G --LAN B--> b1 (mcrecv), b2
"""

import os

import pytest

import topo as T

GROUP, PORT = "224.168.2.9", 1600
G = "%s:%d" % (GROUP, PORT)
N_RAW = 6000


def chain_uris(framing):
    q = "?framing=datagram" if framing == "datagram" else ""
    ra, rb = T.Islands.r_addr("a"), T.Islands.r_addr("b")
    return {
        "splitter": ["tcp://@:1602" + q, "tcp://@:1603" + q],
        "island-a": ["udp://@%s?iface=br0" % G, "tcp://%s:1602%s" % (ra, q)],
        "island-b": ["tcp://%s:1603%s" % (rb, q), "udp://%s?iface=br0" % G],
    }


def start_seed_chain(isl, framing="raw", via_config=False):
    """Start splitter, island A relay and island B relay; wait for ready."""
    uris = chain_uris(framing)
    where = {"splitter": isl.r, "island-a": isl.gw["a"],
             "island-b": isl.gw["b"]}
    procs = {}
    for name in ("splitter", "island-a", "island-b"):
        ns = where[name]
        src, sink = uris[name]
        if via_config:
            path = os.path.join(isl.topo.logdir, name + ".conf")
            with open(path, "w") as f:
                f.write("# %s of the seed chain\n[relay %s]\n"
                        "source = %s\nsink = %s\n" % (name, name, src, sink))
            p = T.start_mcferry(ns, ["run", path], tag=name, ready=False)
            p.wait_for_log(r"relay=%s\b.*\bready\b" % name, timeout=10)
        else:
            p = T.start_mcferry(ns, ["relay", src, sink], tag=name)
        procs[name] = p
    return procs


def open_path(isl, size):
    """Python sender on a1 and receiver on b2; returns once data flows."""
    a1 = isl.hosts["a"][0]
    b2 = isl.hosts["b"][1]
    tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1))
    rx = T.UdpReceiver(b2, GROUP, PORT, ifaddr=T.Islands.host_addr("b", 2))
    T.wait_path_open(tx, (GROUP, PORT), rx, size, timeout=15)
    return tx, rx


def stream_raw_and_check(isl, count=N_RAW, rate=3000):
    """mcsend 1316-byte datagrams on a1; mcrecv on b1 and python on b2."""
    a1, b1 = isl.hosts["a"][0], isl.hosts["b"][0]
    tx, rx = open_path(isl, 1316)
    try:
        mr = T.start_mcrecv(b1, ["udp", G, "--iface", "lan0", "--idle", "2",
                                 "--duration", "60", "--expect", count])
        sent = T.run_mcsend(a1, ["--count", count, "--rate", rate,
                                 "--size", 1316,
                                 "--iface", T.Islands.host_addr("a", 1), G])
        assert sent == count
        summary = T.mcrecv_result(mr, timeout=30)
        T.assert_exactly_once(summary, count, clients=1,
                              what="raw chain, mcrecv on b1", size=1316)
        # second, independent check on b2: byte-exact and in order
        got = [d for _, d in rx.snapshot()]
        parsed = [T.mcsf_parse(d) for d in got]
        bad = [i for i, p in enumerate(parsed) if p is None]
        assert not bad, "b2: %d malformed datagrams, first at %d (len %d)" % (
            len(bad), bad[0], len(got[bad[0]]))
        seqs = [p[1] for p in parsed]
        assert seqs == list(range(count)), "b2: %d datagrams, not 0..%d" % (
            len(seqs), count - 1)
    finally:
        rx.close()
        tx.close()


@pytest.mark.parametrize("via", ["relay", "config"])
def test_seed_chain_raw_1316(islands, tools, via):
    procs = start_seed_chain(islands, "raw", via_config=(via == "config"))
    stream_raw_and_check(islands)
    for name, p in procs.items():
        assert p.alive(), "%s died:\n%s" % (name, p.describe())


def test_seed_chain_datagram_sizes_exact(islands):
    start_seed_chain(islands, "datagram")
    tx, rx = open_path(islands, 64)
    try:
        sizes = [1, 200, 1500, 9000, 65507]
        sent = []
        for rep in range(3):
            for sz in sizes:
                # distinct random content; size-1 datagrams get distinct bytes
                d = bytes([rep + 1]) + os.urandom(sz - 1)
                sent.append(d)
                tx.sendto(d, (GROUP, PORT))
                n = len(sent)
                assert rx.wait_for(lambda g: len(g) >= n, 5.0), (
                    "datagram #%d (%d bytes) did not arrive; got sizes %s"
                    % (n, sz, [len(x) for _, x in rx.snapshot()]))
        # a sentinel flushes the path: any duplicate would be ahead of it
        sentinel = T.probe_payload("sentinel", 100)
        tx.sendto(sentinel, (GROUP, PORT))
        assert rx.wait_for(lambda g: g and g[-1][1] == sentinel, 5.0)
        got = [d for _, d in rx.snapshot()]
        assert [len(d) for d in got] == [len(d) for d in sent] + [100]
        for i, (a, b) in enumerate(zip(got, sent)):
            assert a == b, "datagram #%d (%d bytes) differs" % (i, len(b))
        assert got == sent + [sentinel]
    finally:
        rx.close()
        tx.close()


def test_seed_chain_datagram_zero_length(islands):
    """docs/protocol.md: any size from 0 bytes crosses a link byte-exact."""
    start_seed_chain(islands, "datagram")
    tx, rx = open_path(islands, 64)
    try:
        seq = [b"before", b"", b"after"]
        for d in seq:
            tx.sendto(d, (GROUP, PORT))
        assert rx.wait_for(lambda g: len(g) >= 3, 5.0), rx.snapshot()
        sentinel = T.probe_payload("sentinel", 100)
        tx.sendto(sentinel, (GROUP, PORT))
        assert rx.wait_for(lambda g: g and g[-1][1] == sentinel, 5.0)
        assert [d for _, d in rx.snapshot()] == seq + [sentinel]
    finally:
        rx.close()
        tx.close()
