"""The udp link (udp:// with framing=datagram): the seed chain over it
byte-exact for every size, loss and reordering counted from its sequence
numbers, a silent peer closed by the keepalive, mtu= respected.

    chain:  gw A: relay udp://@G -> udp://R:1602?framing=datagram
            R:    relay udp://@:1602?framing=datagram -> udp://@:1603?framing=datagram
            gw B: relay udp://R:1603?framing=datagram -> udp://G --> b2
    loss:   gw A: relay udp://@G -> udp://gwB:9000?framing=datagram
            gw B: relay udp://@:9000?framing=datagram -> udp://G --> b1
            (iptables DROP in R)
"""

import signal
import time

import topo as T
from test_srt import G, GW_B, chain_sizes_exact, loss_run, stats_series

DG = "?framing=datagram"


def test_seed_chain_over_udp_link_sizes_exact(islands):
    ra, rb = T.Islands.r_addr("a"), T.Islands.r_addr("b")
    T.start_mcferry(islands.r, ["relay", "udp://@:1602" + DG,
                                "udp://@:1603" + DG], tag="splitter")
    T.start_mcferry(islands.gw["a"], ["relay", "udp://@%s?iface=br0" % G,
                                      "udp://%s:1602%s" % (ra, DG)],
                    tag="island-a")
    T.start_mcferry(islands.gw["b"], ["relay", "udp://%s:1603%s" % (rb, DG),
                                      "udp://%s?iface=br0" % G],
                    tag="island-b")
    chain_sizes_exact(islands)


def test_udp_link_small_mtu_sizes_exact(islands):
    """mtu=576: every frame above it goes in fragments, still exact."""
    T.start_mcferry(islands.gw["b"], ["relay", "udp://@:9000%s&mtu=576" % DG,
                                      "udp://%s?iface=br0" % G], tag="gw-b")
    T.start_mcferry(islands.gw["a"], ["relay", "udp://@%s?iface=br0" % G,
                                      "udp://%s:9000%s&mtu=576" % (GW_B, DG)],
                    tag="gw-a")
    chain_sizes_exact(islands)


def test_udp_link_counts_loss(islands, tools):
    """5 % loss on the router: the udp link retransmits nothing, the
    receiving link counts what it lost (at least what mcrecv missed)."""
    c, ra, rb = loss_run(islands, 0.05, 0, "udp://%s:9000%s" % (GW_B, DG),
                         "udp://@:9000" + DG)
    deadline = time.monotonic() + 5
    while True:
        lost = sum(stats_series(
            rb, "mcferry_link_udp_lost_datagrams_total").values())
        if lost >= c["lost"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    reordered = sum(stats_series(
        rb, "mcferry_link_udp_reordered_datagrams_total").values())
    print("udp link loss 0.05: mcrecv lost=%d link lost=%d reordered=%d" % (
        c["lost"], lost, reordered))
    assert c["lost"] > 0 and c["duplicates"] == 0 and c["bad"] == 0, c
    assert lost >= c["lost"], (lost, c)


def test_silent_peer_is_closed(islands):
    """A connecting peer that stops (SIGSTOP) is closed by the listener's
    keepalive within a few seconds; it comes back after SIGCONT."""
    rb = T.start_mcferry(islands.gw["b"], ["relay", "udp://@:9000" + DG,
                                           "udp://%s?iface=br0" % G],
                         tag="gw-b")
    ra = T.start_mcferry(islands.gw["a"], ["relay", "udp://@%s?iface=br0" % G,
                                           "udp://%s:9000%s" % (GW_B, DG)],
                         tag="gw-a")
    rb.wait_for_log(r"publisher connected .*via=udp", timeout=10)
    time.sleep(3)  # the keepalive holds a quiet link up
    assert not rb.log_matches(r"closed reason")
    ra.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    rb.wait_for_log(r"publisher closed reason=timeout", timeout=10)
    took = time.monotonic() - t0
    ra.send_signal(signal.SIGCONT)
    assert took < 5, took
    rb.wait_for_log(r"publisher connected .*via=udp", count=2, timeout=15)
