"""Source-specific multicast and IPv6 groups.

SSM:  a1 (stream 1) and a2 (stream 2) both send to 232.1.2.3:5000 on LAN A.
      gw A: relay udp://@232.1.2.3:5000?source=10.1.0.11 -> tcp://@:1601
      b1: one TCP client (mcrecv tcp); a3: ASM control receiver (mcrecv udp).
IPv6: a1 -> ff15::1234 on LAN A -> gw A relay -> tcp over IPv6 through the
      splitter in R -> gw B relay -> ff15::1234 on LAN B -> b1, b2.
"""

import socket
import time

import pytest

import topo as T


def _streams(client):
    return {k: v["unique"] for k, v in client["streams"].items()}


def test_ssm_passes_only_the_chosen_source(islands, tools):
    a1, a2, a3 = islands.hosts["a"]
    b1 = islands.hosts["b"][0]
    group = "232.1.2.3:5000"
    s1 = T.Islands.host_addr("a", 1)
    relay = T.start_mcferry(islands.gw["a"], [
        "relay", "udp://@%s?source=%s&iface=br0" % (group, s1),
        "tcp://@:1601"], tag="relay-ssm")
    count = 2000
    client = T.start_mcrecv(b1, ["tcp", "%s:1601" % T.Islands.gw_lan("a"),
                                 "--size", 1316, "--idle", "2",
                                 "--duration", "40"], tag="mcrecv-tcp")
    relay.wait_for_log(r"\bclient connected\b", timeout=10)
    control = T.start_mcrecv(a3, ["udp", group, "--iface", "lan0",
                                  "--idle", "2", "--duration", "40",
                                  "--expect", count], tag="mcrecv-asm")
    senders = []
    for k, host in ((1, a1), (2, a2)):
        senders.append(host.spawn([
            T.MCSEND, "--count", count, "--rate", 2000, "--size", 1316,
            "--stream", k, "--iface", T.Islands.host_addr("a", k), group],
            tag="mcsend-%d" % k))
    for s in senders:
        assert s.wait(30) == 0, s.describe()
        assert "sent=%d " % count in s.stdout()
    ctl = T.mcrecv_result(control, timeout=30)
    got = T.mcrecv_result(client, timeout=30)
    # both streams really were on LAN A ...
    assert _streams(ctl["per_client"][0]) == {"1": count, "2": count}, ctl
    assert ctl["duplicates"] == 0 and ctl["bad"] == 0, ctl
    # ... and the (S1, G) relay passed only S1's, every datagram once
    c = got["per_client"][0]
    assert _streams(c) == {"1": count}, got
    assert (c["received"], c["unique"], c["duplicates"], c["bad"]) == \
        (count, count, 0, 0), got
    assert c["trailing_bytes"] == 0, got


def test_ipv6_group_end_to_end(islands, tools):
    a1 = islands.hosts["a"][0]
    b1, b2 = islands.hosts["b"][0], islands.hosts["b"][1]
    group, port = "ff15::1234", 5000
    G6 = "[%s]:%d" % (group, port)
    q = "?framing=datagram"
    ra6, rb6 = T.Islands.r_addr("a", v6=True), T.Islands.r_addr("b", v6=True)
    T.start_mcferry(islands.r, ["relay", "tcp://@[::]:1602" + q,
                                "tcp://@[::]:1603" + q], tag="splitter6")
    T.start_mcferry(islands.gw["a"], [
        "relay", "udp://@%s?iface=br0" % G6,
        "tcp://[%s]:1602%s" % (ra6, q)], tag="island-a6")
    T.start_mcferry(islands.gw["b"], [
        "relay", "tcp://[%s]:1603%s" % (rb6, q),
        "udp://%s?iface=br0" % G6], tag="island-b6")
    tx = T.mcast_sender(a1, ifname="lan0", v6=True)
    rx = T.UdpReceiver(b2, group, port, ifname="lan0", v6=True)
    try:
        T.wait_path_open(tx, (group, port), rx, 200, timeout=15)
        count = 3000
        sizes = "100,1316,1500,4000"
        mr = T.start_mcrecv(b1, ["udp", G6, "--iface", "lan0", "--idle", "2",
                                 "--duration", "40", "--expect", count])
        sent = T.run_mcsend(a1, ["--count", count, "--rate", 3000,
                                 "--sizes", sizes, "--iface", "lan0", G6])
        assert sent == count
        T.assert_exactly_once(T.mcrecv_result(mr), count, clients=1,
                              what="IPv6 group ff15::1234 across islands")
        got = [d for _, d in rx.snapshot()]
        want_sizes = [int(x) for x in sizes.split(",")]
        parsed = [T.mcsf_parse(d) for d in got]
        assert None not in parsed
        assert [p[1] for p in parsed] == list(range(count))
        assert [len(d) for d in got] == [want_sizes[i % 4]
                                         for i in range(count)]
    finally:
        rx.close()
        tx.close()


def test_ipv6_channel_through_hub(islands, tools):
    """An IPv6 channel through a hub: gateways talk to the hub over IPv6 and
    export/import [ff15::4321]:5000 between the two islands, once."""
    G6 = "[ff15::4321]:5000"
    T.start_mcferry(islands.r, ["hub", "--listen", "tcp://@[::]:7000"],
                    tag="hub6")
    gws = {}
    for x in ("a", "b"):
        gws[x] = T.start_mcferry(islands.gw[x], [
            "gateway", "--hub",
            "tcp://[%s]:7000" % T.Islands.r_addr(x, v6=True),
            "--iface", "br0", "--group", G6], tag="gw6" + x)
    for x in ("a", "b"):
        gws[x].wait_for_log(r"channel=\[ff15::4321\]:5000 forwarder=yes",
                            timeout=10)
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    count = 2000
    mr = T.start_mcrecv(b1, ["udp", G6, "--iface", "lan0", "--idle", "2",
                             "--duration", "40", "--expect", count])
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 2000,
                             "--size", 1316, "--iface", "lan0", G6])
    assert sent == count
    T.assert_exactly_once(T.mcrecv_result(mr), count, clients=1,
                          what="IPv6 channel through the hub")
    for x in ("a", "b"):
        assert not gws[x].log_matches(r"^(warn|error) "), gws[x].describe()


@pytest.mark.parametrize("source", [False, True], ids=["asm", "ssm"])
def test_rejoin_after_interface_recreated(islands, tools, source):
    """Linux drops a membership when its interface goes away; a re-created
    interface has a new index. The relay notices within a few seconds,
    joins again, logs it, and the stream flows again."""
    gw_a = islands.gw["a"]
    a1 = islands.hosts["a"][0]
    group, port = ("232.1.9.9" if source else "239.1.9.9"), 5009
    q = "?iface=br0" + ("&source=%s" % T.Islands.host_addr("a", 1)
                        if source else "")
    relay = T.start_mcferry(gw_a, ["relay", "--stats", "1",
                                   "udp://@%s:%d%s" % (group, port, q),
                                   "udp://10.1.0.1:5010"], tag="relay")
    tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1))
    rx = gw_a.socket()
    rx.bind(("10.1.0.1", 5010))
    try:
        rx.settimeout(3)
        tx.sendto(b"before", (group, port))
        assert rx.recv(100) == b"before"
        # The LAN goes away and comes back (a new ifindex): br0 is deleted
        # and made again with its address, route and ports.
        gw_a.ip("link", "del", "br0")
        islands.topo.bridge(gw_a, "br0")
        T.add_addr(gw_a, "br0", "10.1.0.1/24")
        gw_a.ip("route", "add", "224.0.0.0/4", "dev", "br0")
        for k in range(1, len(islands.hosts["a"]) + 1):
            gw_a.ip("link", "set", "p%d" % k, "master", "br0")
        relay.wait_for_log(r"udp source rejoined", timeout=8)
        deadline = time.monotonic() + 5
        got = None
        while got != b"after" and time.monotonic() < deadline:
            tx.sendto(b"after", (group, port))
            try:
                rx.settimeout(0.2)
                got = rx.recv(100)
            except socket.timeout:
                pass
        assert got == b"after", relay.describe()
    finally:
        rx.close()
        tx.close()
