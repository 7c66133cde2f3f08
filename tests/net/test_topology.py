"""The test network itself: unicast crosses R, multicast does not."""

import socket
import time

import topo as T

GROUP, PORT = "224.168.2.9", 1600


def test_unicast_crosses_router_multicast_does_not(islands):
    a1, a2 = islands.hosts["a"][0], islands.hosts["a"][1]
    b1 = islands.hosts["b"][0]
    # unicast: a1 -> b1 through gw A, R, gw B, over IPv4 and IPv6
    for v6 in (False, True):
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        addr = T.Islands.host_addr("b", 1, v6=v6)
        lsock = b1.socket(fam, socket.SOCK_STREAM)
        lsock.bind((addr, 7000))
        lsock.listen(1)
        c = a1.socket(fam, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect((addr, 7000))
        lsock.settimeout(5)
        conn, peer = lsock.accept()
        assert peer[0] == T.Islands.host_addr("a", 1, v6=v6)
        for s in (conn, c, lsock):
            s.close()

    # multicast with a generous TTL: island A hears it, island B does not
    near = T.UdpReceiver(a2, GROUP, PORT, ifaddr=T.Islands.host_addr("a", 2))
    far = T.UdpReceiver(b1, GROUP, PORT, ifaddr=T.Islands.host_addr("b", 1))
    try:
        tx = T.mcast_sender(a1, ifaddr=T.Islands.host_addr("a", 1), ttl=32)
        n = 50
        for i in range(n):
            tx.sendto(b"negative-check %04d" % i, (GROUP, PORT))
            time.sleep(0.001)
        assert near.wait_for(lambda g: len(g) >= n, 5.0), \
            "same-island receiver got %d of %d" % (len(near.got), n)
        assert len(near.snapshot()) == n
        # bounded negative window: B must stay silent
        assert far.wait_for(lambda g: len(g) > 0, 1.0) is None
        assert far.snapshot() == []
    finally:
        near.close()
        far.close()
