"""The command line contract: exit codes, messages, --check, signals, stats.

Runs inside the `solo` namespace: lan0 (10.9.0.1) <-> lan1 (10.9.0.2).
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import statsjson as S
import topo as T


def cli(ns, args, timeout=5):
    try:
        return ns.exec([T.MCFERRY] + list(args), timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("mcferry %s still running after %ds (expected it to exit)"
                    % (" ".join(args), timeout))


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


BAD_URIS = [
    # (id, argv after "relay", regex the message must match)
    ("no-port", ["udp://@224.1.1.1", "tcp://@:1601"], r"224\.1\.1\.1|port"),
    ("port-range", ["udp://@224.1.1.1:5000", "tcp://@:99999"], r"99999"),
    ("scheme", ["foo://x:1", "tcp://@:1601"], r"foo"),
    ("unknown-option", ["udp://@224.1.1.1:5000?bogus=1", "tcp://@:1601"],
     r"bogus"),
    ("bad-framing", ["tcp://@:1602?framing=bogus", "tcp://@:1603"],
     r"framing|bogus"),
    ("bad-queue", ["udp://@224.1.1.1:5000", "tcp://@:1601?queue=lots"],
     r"queue|lots"),
    ("udp-send-uri-as-source", ["udp://224.1.1.1:5000", "tcp://@:1601"],
     r"udp://224\.1\.1\.1:5000|source"),
    ("udp-listen-uri-as-sink", ["tcp://@:1602", "udp://@224.1.1.1:5000"],
     r"udp://@224\.1\.1\.1:5000|sink"),
    ("ssm-non-multicast-group",
     ["udp://@10.1.2.3:5000?source=10.9.0.2", "tcp://@:1601"], r"10\.1\.2\.3"),
    ("missing-sink", ["udp://@224.1.1.1:5000"], r"sink|usage|SINK"),
]


@pytest.mark.parametrize("case", BAD_URIS, ids=[c[0] for c in BAD_URIS])
def test_bad_uri_exits_2_naming_it(solo, mcferry_bin, case):
    _id, argv, rx = case
    p = cli(solo.ns, ["relay"] + argv)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert re.search(rx, p.stderr), "stderr does not name the bad part " \
        "(/%s/):\n%s" % (rx, p.stderr)
    assert not re.search(T.READY_RX, p.stderr)


def test_unknown_option_and_subcommand_exit_2(solo, mcferry_bin):
    p = cli(solo.ns, ["relay", "--bogus", "udp://@224.1.1.1:5000",
                      "tcp://@:1601"])
    assert p.returncode == 2 and "bogus" in p.stderr, p.stderr
    p = cli(solo.ns, ["frobnicate"])
    assert p.returncode == 2 and "frobnicate" in p.stderr, p.stderr


def test_port_in_use_exits_1_with_one_line(solo, mcferry_bin):
    blocker = solo.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("0.0.0.0", 1601))
    blocker.listen(1)
    try:
        p = cli(solo.ns, ["relay", "udp://@224.1.1.1:5000?iface=lan0",
                          "tcp://@:1601"])
    finally:
        blocker.close()
    assert p.returncode == 1, (p.returncode, p.stderr)
    err = lines(p.stderr)
    assert len(err) == 1, "want a one-line error, got:\n" + p.stderr
    assert re.search(r"1601|in use", err[0]), err[0]


def test_unknown_interface_exits_1_naming_it(solo, mcferry_bin):
    p = cli(solo.ns, ["relay", "udp://@224.1.1.1:5000?iface=nosuch0",
                      "tcp://@:1601"])
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "nosuch0" in p.stderr, p.stderr


def test_help_and_version(solo, mcferry_bin):
    h = cli(solo.ns, ["--help"])
    assert h.returncode == 0, h.stderr
    text = h.stdout + h.stderr
    for word in ("relay", "run", "--stats", "--check"):
        assert word in text, "--help lacks %r:\n%s" % (word, text)
    v = cli(solo.ns, ["--version"])
    assert v.returncode == 0, v.stderr
    assert re.search(r"\b\d+\.\d+(\.\d+)?\b", v.stdout + v.stderr), v.stdout


def test_stats_json_needs_stats_and_is_in_help(solo, mcferry_bin):
    h = cli(solo.ns, ["--help"])
    assert "--stats-json" in h.stdout, h.stdout
    p = cli(solo.ns, ["relay", "--stats-json", "udp://@:5041",
                      "tcp://@:1641"])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--stats-json needs --stats" in p.stderr, p.stderr
    assert not re.search(T.READY_RX, p.stderr)


GOOD_CONF = """\
# the seed's four tools in one file
[relay mtcp]
source = udp://@224.168.2.9:1600?iface=lan0
sink = tcp://@:1601

[relay splitter]
source = tcp://@:1602
sink = tcp://@:1603
sink = tcp://@:1604?framing=datagram&queue=262144
"""

BAD_CONFS = [
    # (id, text, bad line number, regex for the message)
    ("bad-uri", "# x\n[relay a]\nsource = tcp://@:1602\n\nsink = foo://x:1\n",
     5, r"foo"),
    ("unknown-key", "[relay a]\nsource = tcp://@:1602\nsink = tcp://@:1603\n"
     "colour = blue\n", 4, r"colour"),
    ("no-section", "# x\nsource = tcp://@:1602\n", 2, r"."),
    ("garbage-line", "[relay a]\nsource = tcp://@:1602\nsink = tcp://@:1603\n"
     "\n\nthis is not a key value line\n", 6, r"."),
]


def _write(solo, name, text):
    path = os.path.join(solo.ns.topo.logdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_run_check_good_file(solo, mcferry_bin):
    path = _write(solo, "good.conf", GOOD_CONF)
    p = cli(solo.ns, ["run", "--check", path])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "configuration OK" in p.stdout + p.stderr
    # --check only checks: nothing is listening afterwards
    assert not re.search(T.READY_RX, p.stderr)


@pytest.mark.parametrize("case", BAD_CONFS, ids=[c[0] for c in BAD_CONFS])
def test_run_check_bad_file_names_line(solo, mcferry_bin, case):
    _id, text, lineno, rx = case
    path = _write(solo, "bad-%s.conf" % _id, text)
    p = cli(solo.ns, ["run", "--check", path])
    out = p.stdout + p.stderr
    assert p.returncode == 2, (p.returncode, out)
    assert re.search(r"(line\s*%d\b|:%d\b)" % (lineno, lineno), out), \
        "message does not name line %d:\n%s" % (lineno, out)
    assert re.search(rx, out), out
    assert "configuration OK" not in out
    # the same file without --check fails the same way, before binding
    p2 = cli(solo.ns, ["run", path])
    assert p2.returncode == 2, (p2.returncode, p2.stderr)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0_promptly(solo, mcferry_bin, sig):
    p = T.start_mcferry(solo.ns, ["relay", "udp://@224.1.1.1:5000?iface=lan0",
                                  "tcp://@:1601", "tcp://10.9.0.2:1700"])
    # a client is connected while it shuts down
    c = solo.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(("10.9.0.1", 1601))
    p.wait_for_log(r"\bclient connected\b", timeout=5)
    t0 = time.monotonic()
    p.send_signal(sig)
    rc = p.wait(5)
    took = time.monotonic() - t0
    assert rc == 0, p.describe()
    assert took < 2.0, "took %.2f s to exit" % took
    assert c.recv(100) == b""       # the client was closed
    c.close()


def test_stats_lines_count_exactly(solo, mcferry_bin):
    ns = solo.ns
    rx = ns.socket()
    rx.bind(("10.9.0.2", 5001))
    rx.settimeout(5)
    p = T.start_mcferry(ns, ["relay", "--stats", "1", "--stats-json",
                             "udp://@:5000", "udp://10.9.0.2:5001"],
                        tag="stats")
    tx = ns.socket()
    n, size = 100, 200
    try:
        for i in range(n):
            tx.sendto(bytes([i]) * size, ("10.9.0.1", 5000))
            assert rx.recv(2000) == bytes([i]) * size
    finally:
        tx.close()
        rx.close()
    R = S.RELAY
    keys = tuple(R + k for k in (
        "in_datagrams_total", "in_bytes_total", "out_datagrams_total",
        "out_bytes_total", "clients", "dropped_datagrams_total",
        "cutoffs_total", "reconnects_total"))
    vals = S.wait_report(p, lambda r: r.get(R + "in_datagrams_total") == n,
                         timeout=5)
    line = json.dumps(vals)
    for k in keys:
        assert k in vals, "stats report lacks %s: %s" % (k, line)
    assert vals[R + "in_bytes_total"] == n * size, line
    assert vals[R + "out_datagrams_total"] == n, line
    assert vals[R + "out_bytes_total"] == n * size, line
    assert vals[R + "dropped_datagrams_total"] == 0 and \
        vals[R + "cutoffs_total"] == 0, line
    # the next report: counters are totals, they keep their values
    seen = len(S.reports(p))
    nxt = S.wait_report(p, lambda r: True, timeout=5, after=seen)
    for k in ("in_datagrams_total", "in_bytes_total", "out_datagrams_total",
              "out_bytes_total"):
        assert nxt[R + k] == vals[R + k], (line, json.dumps(nxt))
    assert p.stop() == 0


def test_stats_json_counts_what_the_clients_received(solo, mcferry_bin,
                                                    tools):
    """--stats-json: under a known stream to a listening tcp sink, the
    relay's JSON counters are exactly what its mcrecv clients received;
    mcferry_relay_clients is the number connected (then 0 once they have
    gone), and the stats line carries the same values."""
    ns = solo.ns
    R = S.RELAY
    count, size, clients = 500, 1000, 3
    p = T.start_mcferry(ns, ["relay", "--stats", "1", "--stats-json",
                             "udp://@:5040", "tcp://@:1640"], tag="statsjson")
    mr = T.start_mcrecv(ns, ["tcp", "10.9.0.1:1640", "--clients", clients,
                             "--size", size, "--idle", "2", "--duration", "30",
                             "--expect", count])
    conns = p.wait_for_log(r"\bc=\d+ client connected\b", count=clients)
    S.wait_report(p, lambda r: r.get(R + "clients") == len(conns), timeout=5)
    sent = T.run_mcsend(ns, ["--count", count, "--rate", 2000,
                             "--size", size, "10.9.0.1:5040"])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=30)
    T.assert_exactly_once(summary, count, clients=clients, size=size,
                          what="%d tcp clients of a --stats-json relay"
                          % clients)
    per = summary["per_client"]
    last = S.wait_report(p, lambda r: r.get(R + "clients") == 0, timeout=5)
    line = json.dumps(last)
    assert last[R + "in_datagrams_total"] == sent, line
    assert last[R + "in_bytes_total"] == sent * size, line
    assert last[R + "out_datagrams_total"] == \
        sum(c["received"] for c in per), line
    assert last[R + "out_bytes_total"] == sum(c["bytes"] for c in per), line
    for k in ("dropped_datagrams_total", "cutoffs_total", "reconnects_total",
              "rejected_connections_total"):
        assert last[R + k] == 0, (k, line)
    assert p.stop() == 0
    # the report at shutdown, as JSON and as the stats line: the same totals
    final = S.reports(p)[-1]
    assert final == last, (json.dumps(final), line)
    text = re.findall(r"^stats relay=relay (.*)$", p.stderr(), re.M)[-1]
    assert {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)} == \
        final, text


@pytest.mark.parametrize("args,needle", [
    (["--workers", "2", "udp://@239.1.1.1:5000", "udp://10.9.0.2:5001"],
     "udp://10.9.0.2:5001"),
    (["--workers", "2", "tcp://@:5000", "tcp://@:5001"], "tcp://@:5000"),
    (["--workers", "0", "udp://@239.1.1.1:5000", "tcp://@:5001"], "--workers"),
    (["--workers", "x", "udp://@239.1.1.1:5000", "tcp://@:5001"], "--workers"),
])
def test_workers_refused_where_they_would_duplicate(mcferry_bin, args, needle):
    """--workers only for a multicast source with listening tcp sinks; the
    error names the endpoint that would get every datagram N times."""
    r = subprocess.run([mcferry_bin, "relay"] + args, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2, r
    assert needle in r.stderr, r.stderr


def test_user_drops_privileges_and_keeps_working(solo, mcferry_bin):
    """--user nobody: the relay binds as root, then runs as nobody, and
    still relays."""
    ns = solo.ns
    rx = ns.socket()
    rx.bind(("10.9.0.2", 5011))
    rx.settimeout(5)
    p = T.start_mcferry(ns, ["relay", "--user", "nobody", "udp://@:5010",
                             "udp://10.9.0.2:5011"], tag="user")
    try:
        with open("/proc/%d/status" % p.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        nobody = __import__("pwd").getpwnam("nobody").pw_uid
        assert uids == [str(nobody)] * 4, uids
        assert p.log_matches(r"running as user=nobody uid=%d" % nobody)
        tx = ns.socket()
        tx.sendto(b"still relaying", ("10.9.0.1", 5010))
        assert rx.recv(100) == b"still relaying"
        tx.close()
    finally:
        rx.close()
    assert p.stop() == 0


def test_user_unknown_exits_1(solo, mcferry_bin):
    r = subprocess.run([mcferry_bin, "relay", "--user", "no-such-user-x",
                        "udp://@:5012", "udp://127.0.0.1:5013"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert "no-such-user-x" in r.stderr, r.stderr


def _recv_exactly(sock, n, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed after %d of %d bytes" % (len(data), n)
        data += chunk
    return data


def test_sighup_reload_keeps_unchanged_relays(solo, mcferry_bin, tmp_path):
    """SIGHUP rereads the file: an unchanged relay keeps running with its
    clients, a changed one is restarted, a new one starts, and a bad file
    changes nothing."""
    ns = solo.ns
    conf = tmp_path / "reload.conf"
    keep = "[relay keep]\nsource = udp://@:5021\nsink = tcp://@:1621\n"
    conf.write_text(keep + "[relay change]\nsource = udp://@:5022\n"
                    "sink = tcp://@:1622\n")
    p = T.start_mcferry(ns, ["run", str(conf)], tag="reload")
    c = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    tx = ns.socket()
    try:
        c.connect(("10.9.0.1", 1621))
        p.wait_for_log(r"relay=keep c=\d+ client connected")
        tx.sendto(b"A" * 100, ("10.9.0.1", 5021))
        assert _recv_exactly(c, 100) == b"A" * 100

        conf.write_text(keep + "[relay change]\nsource = udp://@:5022\n"
                        "sink = tcp://@:1623\n[relay added]\n"
                        "source = udp://@:5024\nsink = tcp://@:1624\n")
        p.send_signal(signal.SIGHUP)
        done = p.wait_for_log(r"reload done: (\d+) running, (\d+) stopped, "
                              r"(\d+) started")[0]
        assert done.groups() == ("3", "1", "2"), done.string
        assert p.log_matches(r"relay=change stopped by reload")
        assert p.log_matches(r"relay=added ready \(reload\)")
        assert not p.log_matches(r"relay=keep .*closed"), p.describe()
        # the unchanged relay's client is still connected and served
        tx.sendto(b"B" * 100, ("10.9.0.1", 5021))
        assert _recv_exactly(c, 100) == b"B" * 100
        for port, up in ((1622, False), (1623, True), (1624, True)):
            s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                assert (s.connect_ex(("10.9.0.1", port)) == 0) == up, port
            finally:
                s.close()

        conf.write_text("[relay keep]\nsource = nonsense\n")
        p.send_signal(signal.SIGHUP)
        p.wait_for_log(r"reload failed, keeping the running configuration")
        tx.sendto(b"C" * 100, ("10.9.0.1", 5021))
        assert _recv_exactly(c, 100) == b"C" * 100
    finally:
        c.close()
        tx.close()
    assert p.stop() == 0


def test_gateway_iface_by_address_and_island_from_subnet(solo, mcferry_bin):
    """--iface takes an address as well as a name; the island name defaults
    to the interface's IPv4 subnet."""
    ns = solo.ns
    hub = T.start_mcferry(ns, ["hub", "--listen", "tcp://@:7100"], tag="hub")
    gw = T.start_mcferry(ns, ["gateway", "--hub", "tcp://10.9.0.1:7100",
                              "--iface", "10.9.0.2",
                              "--export", "239.1.1.1:5000"], tag="gw")
    gw.wait_for_log(r"gateway=gateway iface=10\.9\.0\.2 island=10\.9\.0\.0/24")
    hub.wait_for_log(r"gateway up .*island=10\.9\.0\.0/24")
    assert gw.stop() == 0 and hub.stop() == 0


SAME_VALUES = [
    # (id, flag words for `mcferry gateway`, config line, message)
    ("ttl-plus", ["--ttl", "+5"], "ttl = +5", "bad ttl '+5': want 0..255"),
    ("ttl-256", ["--ttl", "256"], "ttl = 256", "bad ttl '256': want 0..255"),
    ("ttl-empty", ["--ttl", ""], "ttl =", "bad ttl '': want 0..255"),
    ("iface-empty", ["--iface", ""], "iface =",
     "bad iface '': want 1..63 characters"),
    ("hub-listen", ["--hub", "tcp://@:7000"], "hub = tcp://@:7000",
     "bad hub URI 'tcp://@:7000': want tcp://HOST:PORT"),
]


@pytest.mark.parametrize("case", SAME_VALUES, ids=[c[0] for c in SAME_VALUES])
def test_flag_and_file_refuse_alike(mcferry_bin, tmp_path, case):
    """A value is refused on the command line and in a file with the same
    message: "mcferry: --KEY: MSG" and "FILE: line N: MSG"."""
    _id, flag, line, msg = case
    base = ["--hub", "tcp://10.9.0.1:7000", "--iface", "lo",
            "--group", "239.1.1.1:5000"]
    r = subprocess.run([mcferry_bin, "gateway"] + base + flag,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert "mcferry: %s: %s\n" % (flag[0], msg) in r.stderr, r.stderr
    conf = tmp_path / "g.conf"
    conf.write_text("[gateway g]\nhub = tcp://10.9.0.1:7000\niface = lo\n"
                    "group = 239.1.1.1:5000\n%s\n" % line)
    r = subprocess.run([mcferry_bin, "run", "--check", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert "%s: line 5: %s\n" % (conf, msg) in r.stderr, r.stderr


def test_help_lists_what_the_man_page_documents(mcferry_bin):
    """Every endpoint option and flag of mcferry(1) is in --help, and
    --help offers none that mcferry(1) does not document."""
    man = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                            "mcferry.1.scd")).read()
    h = subprocess.run([mcferry_bin, "--help"], capture_output=True,
                       text=True, timeout=10).stdout
    heads = [l for l in man.splitlines() if l.startswith("*")]
    man_uri = {m for l in heads for m in re.findall(r"\*(\w+)=", l)}
    help_uri = set(re.findall(r"^  (\w+)=", h, re.M))
    assert man_uri == help_uri, (man_uri ^ help_uri)
    man_flags = {m for l in heads for m in re.findall(r"\*(--[\w-]+)\*", l)
                 if not l.startswith("*mcferry")}
    help_flags = set(re.findall(r"^  (?:-\w, |    )(--[\w-]+)", h, re.M))
    assert man_flags == help_flags, (man_flags ^ help_flags)
    assert "framing=auto|raw|datagram" in h and "(default auto)" in h, h


def test_framing_auto_and_channel(mcferry_bin, tmp_path):
    """framing=auto is taken on tcp; channel= takes auto (the default) and
    datagram, never raw."""
    conf = tmp_path / "f.conf"
    conf.write_text("[relay a]\nsource = tcp://@:1602?framing=auto\n"
                    "sink = tcp://10.9.0.1:7000?channel=239.1.1.1:5000\n"
                    "sink = tcp://10.9.0.1:7000?framing=auto&"
                    "channel=239.1.1.2:5000\n")
    r = subprocess.run([mcferry_bin, "run", "--check", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r
    r = subprocess.run([mcferry_bin, "relay", "udp://@239.1.1.1:5000",
                        "tcp://10.9.0.1:7000?framing=raw&"
                        "channel=239.1.1.1:5000"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "channel=" in r.stderr, r
