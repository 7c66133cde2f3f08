"""Splitter restart mid-stream: both ends reconnect on their own.

Same chain as test_chain.py.  mcsend streams continuously from a1; the
splitter in R is stopped with SIGTERM (by PID), restarted ~1 s later, and
the time from its new `ready` line to the first datagram at b2 is measured.
"""

import signal
import time

import pytest

import topo as T
from test_chain import G, GROUP, PORT, open_path, start_seed_chain

RESUME_BOUND = 2.0


@pytest.mark.parametrize("framing", ["raw", "datagram"])
def test_splitter_restart_resumes(islands, tools, framing):
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    procs = start_seed_chain(islands, framing)
    splitter = procs["splitter"]
    tx, rx = open_path(islands, 1316)
    tx.close()
    rate = 1000
    mr = T.start_mcrecv(b1, ["udp", G, "--iface", "lan0", "--idle", "3",
                             "--duration", "60"])
    sender = a1.spawn([T.MCSEND, "--count", 0, "--rate", rate, "--size", 1316,
                       "--iface", T.Islands.host_addr("a", 1), G],
                      tag="mcsend")
    try:
        # the stream flows before the restart
        assert rx.wait_for(lambda g: len(g) >= 200, 10), (
            "no stream before restart\n" + islands.topo.describe_procs())
        assert splitter.stop(signal.SIGTERM, timeout=5) == 0, \
            splitter.describe()
        t_killed = time.monotonic()
        time.sleep(1.0)       # the outage itself, not a readiness guess
        n_before = len(rx.snapshot())
        last_before = rx.snapshot()[-1][0]
        assert last_before < t_killed + 0.5, \
            "data still arriving 0.5 s after the splitter died"
        splitter2 = T.start_mcferry(
            islands.r, ["relay"] + _splitter_args(framing), tag="splitter2",
            ready=False)
        splitter2.wait_for_log(T.READY_RX, timeout=10)
        t_ready = time.monotonic()
        first = rx.wait_for(
            lambda g: next((t for t, _ in g[n_before:] if t > t_ready), None)
            if len(g) > n_before else None, 10)
        assert first is not None, (
            "no datagram within 10 s after the splitter came back\n"
            + islands.topo.describe_procs())
        delay = first - t_ready
        assert delay <= RESUME_BOUND, (
            "first datagram %.2f s after ready (bound %.1f s)\n%s" % (
                delay, RESUME_BOUND, islands.topo.describe_procs()))
        # and it keeps flowing: another second's worth arrives
        n_now = len(rx.snapshot())
        assert rx.wait_for(lambda g: len(g) >= n_now + rate // 2, 5)
        print("resumed %.3f s after ready (%d before outage)" % (
            delay, n_before))
    finally:
        sender.stop(signal.SIGTERM)
        rx.close()
    summary = T.mcrecv_result(mr, timeout=20)
    c = summary["per_client"][0]
    assert c["duplicates"] == 0, summary
    if framing == "datagram":
        # whole datagrams across the reconnects: nothing malformed
        assert c["bad"] == 0, summary
    # the same relay processes reconnected by themselves
    for name in ("island-a", "island-b"):
        assert procs[name].alive(), procs[name].describe()


def _splitter_args(framing):
    q = "?framing=datagram" if framing == "datagram" else ""
    return ["tcp://@:1602" + q, "tcp://@:1603" + q]
