"""The trust issue's fault tests: slow and stopped consumers, faults on the
link between a gateway and the hub, malformed frames next to healthy
streams, and what --user keeps.  Thresholds are the issue's bar.

(a) islands (tests/README.md "Topology islands"): gw A runs
    `relay udp://@G?iface=br0 -> tcp://@:1601?queue=Q`; a2 holds 50 fast
    clients (mcrecv), a3 ten stopped socats (SIGSTOP) and ten slow python
    readers.  The fast ones lose nothing, the others are cut off as
    slow-consumer soon after their queue and socket buffers fill, and the
    relay's RSS stays under clients x (queue + sndbuf) + 16 MiB.
(b) hubnet ("Topology hubnet"): loss (iptables statistic), a 2 Mbit/s tbf,
    a black hole and the link set down, each in R on gateway A1's hub
    link; after each one a fresh burst from island A reaches island B
    exactly once.  The black hole's detection times are printed.
(c) hubnet: every malformed frame of test_bad_input.py sent to the hub
    while ten relay subscribers and gateway B stream: they lose nothing.
(d) --user nobody: CapEff/CapPrm/CapBnd of a relay, an SSM gateway and a
    `run` file that needs CAP_NET_ADMIN and CAP_NET_BIND_SERVICE.
"""

import calendar
import os
import re
import secrets
import signal
import socket
import threading
import time

import pytest

import hubtopo as H
import statsjson as S
import topo as T
from test_bad_input import BAD_INPUTS

GROUP, PORT = "224.168.2.9", 1600
G = "%s:%d" % (GROUP, PORT)
CONNECTED_RX = r"\bc=(\d+) .*\bclient connected\b.*\bpeer=(\S+)"
CAP_NET_BIND_SERVICE, CAP_NET_ADMIN = 10, 12


def log_time(line):
    """Wall-clock seconds of a raw log line's RFC 3339 timestamp."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ", line)
    assert m, line
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) \
        + int(m.group(2)) / 1000.0


def raw_lines(proc, regex):
    """(wall-clock time, match) of every raw stderr line matching regex."""
    rx = re.compile(regex)
    out = []
    for line in proc.raw_stderr().splitlines():
        m = rx.search(line)
        if m:
            out.append((log_time(line), m))
    return out


@pytest.fixture
def net(request, tmp_path, mcferry_bin, tools):
    t = T.Topology(tmp_path / "logs", prefix="mq" + secrets.token_hex(2))
    n = None
    try:
        n = H.HubNet(t)
        yield n
    finally:
        if n is not None:
            n.close()
        T.print_logs_if_failed(request, t)
        t.close()


# --------------------------------------------------------------------------
# (d) least privilege

def caps_of(pid):
    """{'CapEff': int, 'CapPrm': int, 'CapBnd': int, 'Uid': str} of pid."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                out[k] = int(v.strip(), 16)
            elif k == "Uid":
                out[k] = v.split()[0]
    return out


def check_caps(p, want):
    c = caps_of(p.pid)
    assert c["Uid"] == "65534", c
    assert (c["CapEff"], c["CapPrm"], c["CapBnd"], c["CapInh"],
            c["CapAmb"]) == (want, want, want, 0, 0), (
        "%s: %s, want 0x%x\n%s" % (p.argv, {k: hex(v) for k, v in c.items()
                                             if k != "Uid"}, want,
                                   p.describe()))


def test_user_keeps_only_what_a_restart_needs(solo, mcferry_bin, tmp_path):
    """--user nobody: the command-line roles keep no capability (their
    sockets, the SSM re-emission one included, are open before the
    switch and never reopened); `run FILE` keeps CAP_NET_ADMIN for an SSM
    gateway and CAP_NET_BIND_SERVICE for a port below 1024, because a
    reload may start those services again."""
    ns = solo.ns
    relay = T.start_mcferry(ns, [
        "relay", "--user", "nobody", "udp://@239.1.1.1:5000?iface=lan0",
        "tcp://@:1601"], tag="relay")
    relay.wait_for_log(r"running as user=nobody uid=65534 gid=\d+ "
                       r"capabilities=none keeping none\b")
    check_caps(relay, 0)
    hub = T.start_mcferry(ns, ["hub", "--listen", "tcp://@:7000"], tag="hub")
    ssm = "10.9.0.2@232.1.1.1:5000"
    gw = T.start_mcferry(ns, [
        "gateway", "--user", "nobody", "--hub", "tcp://10.9.0.1:7000",
        "--iface", "lan0", "--island", "A", "--import", ssm], tag="gw")
    gw.wait_for_log(r"capabilities=none keeping none\b")
    check_caps(gw, 0)
    hub.wait_for_log(r"\bgateway up\b")
    # the re-emission socket was made as root, before the switch
    assert not gw.log_matches(r"cannot send as the SSM source"), gw.stderr()
    conf = tmp_path / "caps.conf"
    conf.write_text("[relay low]\nsource = udp://@239.1.1.2:5000?iface=lan0\n"
                    "sink = tcp://@:80\n"
                    "[gateway g]\nhub = tcp://10.9.0.1:7000\niface = lan0\n"
                    "island = B\nimport = %s\n" % ssm)
    run = T.start_mcferry(ns, ["run", "--user", "nobody", str(conf)],
                          tag="run")
    m = run.wait_for_log(r"running as user=nobody .*capabilities=(\S+) "
                         r"keeping (.*)$")[0]
    assert m.group(1) == "CAP_NET_ADMIN,CAP_NET_BIND_SERVICE", m.group(0)
    assert "CAP_NET_ADMIN for ssm re-emission (gateway=g)" in m.group(2)
    assert "CAP_NET_BIND_SERVICE for relay port 80" in m.group(2)
    check_caps(run, (1 << CAP_NET_ADMIN) | (1 << CAP_NET_BIND_SERVICE))
    # a run file that needs nothing keeps nothing
    conf2 = tmp_path / "none.conf"
    conf2.write_text("[relay hi]\nsource = udp://@239.1.1.3:5000?iface=lan0\n"
                     "sink = tcp://@:1603\n")
    run2 = T.start_mcferry(ns, ["run", "--user", "nobody", str(conf2)],
                           tag="run2")
    run2.wait_for_log(r"capabilities=none keeping none \(no service")
    check_caps(run2, 0)
    for p in (relay, gw, run, run2):
        assert p.stop(signal.SIGTERM, timeout=5) == 0, p.describe()
