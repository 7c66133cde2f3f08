"""A listening TCP sink fanning one multicast group out to many clients.

    a1 (mcsend) --LAN A--> gw A: relay udp://@G?iface=br0 -> tcp://@:1601
        clients: mcrecv tcp (N connections) and socat, from other hosts
"""

import os
import re
import signal
import time

import statsjson as S
import topo as T

GROUP, PORT = "224.168.2.9", 1600
G = "%s:%d" % (GROUP, PORT)
CONNECTED_RX = r"\bc=(\d+) .*\bclient connected\b.*\bpeer=(\S+)"


def wait_file_size(path, size, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        have = os.path.getsize(path) if os.path.exists(path) else 0
        if have >= size:
            return have
        if time.monotonic() > deadline:
            raise T.TopoError("%s has %d of %d bytes after %.0fs%s" % (
                path, have, size, timeout,
                ("\n" + proc.describe()) if proc else ""))
        time.sleep(0.02)


def check_mcsf_stream(data, count, size=1316):
    """A raw byte stream of `count` back-to-back mcsend datagrams 0..count-1."""
    assert len(data) == count * size, "stream has %d bytes, want %d" % (
        len(data), count * size)
    for i in range(count):
        p = T.mcsf_parse(data[i * size:(i + 1) * size])
        assert p is not None, "record %d malformed" % i
        assert p[1] == i, "record %d has seq %d" % (i, p[1])


def test_multicast_tcp_relay_50_clients_and_socat(islands, tools):
    gw_a = islands.gw["a"]
    a1 = islands.hosts["a"][0]
    b1, b2 = islands.hosts["b"][0], islands.hosts["b"][1]
    relay = T.start_mcferry(gw_a, ["relay", "udp://@%s?iface=br0" % G,
                                   "tcp://@:1601"], tag="relay")
    lan = T.Islands.gw_lan("a")
    count, clients = 3000, 50
    # 50 clients from island B (through R), one socat from another host
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "3", "--duration", "60",
                             "--expect", count])
    socat = b2.spawn(["socat", "-u", "TCP:%s:1601" % lan, "-"], tag="socat")
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients + 1)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 3000, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=40)
    T.assert_exactly_once(summary, count, clients=clients,
                          what="50 tcp clients of a MulticastTCPRelay",
                          size=1316)
    assert all(c["trailing_bytes"] == 0 for c in summary["per_client"])
    wait_file_size(socat.out_path, count * 1316, timeout=10, proc=socat)
    # a clean stop closes every client: socat sees EOF and exits 0
    assert relay.stop(signal.SIGTERM, timeout=5) == 0, relay.describe()
    assert socat.wait(5) == 0, socat.describe()
    with open(socat.out_path, "rb") as f:
        check_mcsf_stream(f.read(), count)


def test_slow_consumer_cut_off_others_lose_nothing(islands, tools):
    """21 clients, one stopped with SIGSTOP; queue=256 KiB.

    The stopped client must be cut off with reason=slow-consumer; the 20
    others must get every datagram.
    """
    gw_a = islands.gw["a"]
    a1, a2, a3 = islands.hosts["a"]
    relay = T.start_mcferry(gw_a, [
        "relay", "--stats", "1", "--stats-json",
        "udp://@%s?iface=br0&rcvbuf=4194304" % G,
        "tcp://@:1601?queue=262144&slow=close"], tag="relay")
    lan = T.Islands.gw_lan("a")
    # 5000 pps x 1316 B for 4 s: the stopped client (16 KiB window) is cut
    # off within ~0.1 s, while a healthy client has several MB of slack
    # (queue + socket buffers), i.e. tolerates ~0.5 s of scheduling delay on
    # a busy 2-core machine.  (At 20000 pps x 20 clients a loaded machine
    # starves mcrecv itself, and the cut-offs become real.)
    count, rate, clients = 20000, 5000, 20
    mr = T.start_mcrecv(a2, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--rcvbuf", 4194304,
                             "--idle", "3", "--duration", "90",
                             "--expect", count])
    # the victim: a real TCP client with a small receive window, fixed port
    victim = a3.spawn(["socat", "-u",
                       "TCP:%s:1601,sourceport=41999,rcvbuf=16384" % lan,
                       "OPEN:/dev/null"], tag="victim")
    conns = relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients + 1)
    victim_ids = [m.group(1) for m in conns
                  if m.group(2).endswith(":41999")]
    assert len(victim_ids) == 1, [m.group(0) for m in conns]
    victim.send_signal(signal.SIGSTOP)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", rate, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G],
                        timeout=60)
    assert sent == count
    cut = relay.wait_for_log(
        r"\bc=(\d+) .*\bclosed\b.*\breason=slow-consumer\b", timeout=10)
    summary = T.mcrecv_result(mr, timeout=60)
    cuts = relay.log_matches(r"\bc=(\d+) .*\breason=slow-consumer\b")
    assert [m.group(1) for m in cuts] == victim_ids, (
        "only the stopped client may be cut off:\n" + relay.stderr())
    assert cut[0].group(1) == victim_ids[0]
    T.assert_exactly_once(summary, count, clients=clients,
                          what="20 healthy clients next to a stopped one",
                          size=1316)
    assert summary["eof_clients"] == 0 and summary["reset_clients"] == 0
    assert relay.alive()
    # the counters agree: while the 20 were still connected after the
    # stream, a stats report showed one cut-off and every datagram in
    R = S.RELAY
    got = S.reports(relay)
    assert any(r.get(R + "in_datagrams_total") == count and
               r.get(R + "clients") == clients and
               r.get(R + "cutoffs_total") == 1 for r in got), got


def test_burst_then_silence_delivers_everything(islands, tools):
    """A burst as fast as the sender can go, then nothing more: whatever was
    queued for each client must still go out (a queue must never wait for
    input that does not come)."""
    gw_a = islands.gw["a"]
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    relay = T.start_mcferry(gw_a, ["relay", "--stats", "1", "--stats-json",
                                   "udp://@%s?iface=br0" % G,
                                   # the whole burst (26 MB) fits the
                                   # queue, and the byte limit only: on
                                   # a loaded box a client may fall the
                                   # whole burst behind, for longer than
                                   # maxlag's default 2 s
                                   "tcp://@:1601?queue=67108864&maxlag=0"],
                            tag="relay")
    lan = T.Islands.gw_lan("a")
    count, clients = 20000, 10
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "5", "--duration", "60",
                             "--expect", count])
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 0, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=60)
    assert relay.stop(signal.SIGTERM, timeout=5) == 0, relay.describe()
    # The relay may lose some of the burst at its own socket, but every
    # datagram it took in must reach every client.
    taken = S.reports(relay)[-1][S.RELAY + "in_datagrams_total"]
    got = [c["unique"] for c in summary["per_client"]]
    assert taken > 0 and got == [taken] * clients, \
        "relay took %d, clients got %s" % (taken, got)
    assert summary["duplicates"] == 0 and summary["bad"] == 0, summary
    m = re.findall(r"client closed reason=\S+ peer=\S+ queued=(\d+)",
                   relay.stderr())
    assert m and all(q == "0" for q in m), \
        "data left queued at shutdown: %s" % m


def test_workers_share_clients_each_gets_everything(islands, tools):
    """--workers 2: two threads each join the group and serve a share of
    the clients (SO_REUSEPORT); every client still gets every datagram
    once, and the stats line counts the input once."""
    gw_a = islands.gw["a"]
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    relay = T.start_mcferry(gw_a, ["relay", "--workers", "2", "--stats", "1",
                                   "--stats-json", "udp://@%s?iface=br0" % G,
                                   "tcp://@:1601"], tag="relay")
    lan = T.Islands.gw_lan("a")
    count, clients = 3000, 40
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "3", "--duration", "60",
                             "--expect", count])
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients)
    per_worker = [len(relay.log_matches(r"relay=relay/%d c=\d+ client "
                                        r"connected" % w)) for w in (1, 2)]
    assert sum(per_worker) == clients and min(per_worker) > 0, per_worker
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 3000, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=40)
    T.assert_exactly_once(summary, count, clients=clients,
                          what="40 clients of a 2-worker relay", size=1316)
    assert relay.stop(signal.SIGTERM, timeout=5) == 0, relay.describe()
    last = S.reports(relay, service="relay")[-1]
    assert last[S.RELAY + "in_datagrams_total"] == count, last
    assert last[S.RELAY + "workers"] == 2, last


def test_soft_limit_cuts_a_client_that_stays_behind(islands, tools):
    """soft=/softsecs=: a client whose queue stays above the soft limit for
    softsecs is cut off (reason=slow-consumer) long before it reaches the
    hard limit; the others lose nothing."""
    gw_a = islands.gw["a"]
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    hard = 64 << 20
    relay = T.start_mcferry(gw_a, [
        "relay", "udp://@%s?iface=br0" % G,
        "tcp://@:1601?queue=%d&soft=524288&softsecs=1&slow=close" % hard], tag="relay")
    lan = T.Islands.gw_lan("a")
    count, clients = 20000, 6
    # client 0 stops reading for 8 s after its first data
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "3", "--duration", "60",
                             "--expect", count, "--slow", 1, "--pause", 8])
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 5000, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    cut = relay.wait_for_log(
        r"\bc=\d+ client closed reason=slow-consumer\b.*\bqueued=(\d+)",
        timeout=10)
    assert int(cut[0].group(1)) < hard // 4, cut[0].string
    summary = T.mcrecv_result(mr, timeout=60)
    healthy = summary["per_client"][1:]
    assert [c["unique"] for c in healthy] == [count] * (clients - 1), \
        [c["unique"] for c in healthy]
    assert all(c["duplicates"] == 0 and c["bad"] == 0 for c in healthy)
    assert len(relay.log_matches(r"reason=slow-consumer")) == 1


def test_slow_skip_keeps_a_paused_client_on_datagram_boundaries(islands, tools):
    """slow=skip (the default): a client that stops reading for 3 s keeps
    its connection; the relay skips whole datagrams for it while it is
    behind (one 'client behind' line, counted), and once it reads again
    it gets the stream back from a datagram boundary (no bad datagram, no
    partial one). The others lose nothing."""
    gw_a = islands.gw["a"]
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    relay = T.start_mcferry(gw_a, [
        "relay", "--stats", "1", "--stats-json", "udp://@%s?iface=br0" % G,
        "tcp://@:1601?queue=1048576"], tag="relay")
    lan = T.Islands.gw_lan("a")
    count, clients = 25000, 4
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "3", "--duration", "60",
                             "--expect", count, "--slow", 1, "--pause", 3])
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 5000, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=60)
    slow, healthy = summary["per_client"][0], summary["per_client"][1:]
    assert [c["unique"] for c in healthy] == [count] * (clients - 1), \
        [c["unique"] for c in healthy]
    # skipped while paused, then back: the tail of the stream arrived
    assert 0 < slow["unique"] < count, slow["unique"]
    assert slow["bad"] == 0 and slow["duplicates"] == 0, slow
    assert slow["trailing_bytes"] == 0, slow
    assert max(s["max_seq"] for s in slow["streams"].values()) == count - 1
    assert summary["eof_clients"] == 0 and summary["reset_clients"] == 0
    behind = relay.log_matches(r"\bc=(\d+) client behind, skipping\b")
    assert len(behind) == 1, relay.stderr()
    assert not relay.log_matches(r"reason=slow-consumer")
    # one viewer's pause is not the relay's overload
    assert not relay.log_matches(r"\boverloaded\b"), relay.stderr()
    R = S.RELAY
    last = S.reports(relay)[-1]
    assert last[R + "skip_episodes_total"] == 1, last
    assert last[R + "skipped_datagrams_total"] == count - slow["unique"], last
    assert last[R + "cutoffs_total"] == 0, last


def test_slow_skip_all_behind_at_once_is_overload(islands, tools):
    """Every client stops reading at once (as when the relay's host, not
    the viewers' links, is what is behind): the sink says it is
    overloaded (skip episodes for at least half its clients within a
    second), skips sooner while it is, and says so when it is over. No
    client is cut off; each gets the stream back on datagram boundaries
    up to its last datagram."""
    clients = 8
    relay, summary, count = _all_pause(islands, "?queue=262144", clients)
    over = relay.log_matches(r"\boverloaded: many clients behind at once\b"
                             r".*\bclients=8\b.*\blag_ms=40\b")
    assert len(over) >= 1, relay.stderr()
    assert relay.log_matches(r"\bno longer overloaded\b"), relay.stderr()
    for c in summary["per_client"]:
        assert max(s["max_seq"] for s in c["streams"].values()) == count - 1
    R = S.RELAY
    last = S.reports(relay)[-1]
    assert last[R + "skip_episodes_total"] >= clients, last
    assert last[R + "cutoffs_total"] == 0, last


def _all_pause(islands, query, clients=8, count=30000):
    """Every client of `relay ... tcp://@:1601?QUERY` stops reading for
    1.5 s at once; returns (relay, mcrecv summary, count)."""
    gw_a = islands.gw["a"]
    a1, b1 = islands.hosts["a"][0], islands.hosts["b"][0]
    relay = T.start_mcferry(gw_a, [
        "relay", "--stats", "1", "--stats-json", "udp://@%s?iface=br0" % G,
        "tcp://@:1601" + query], tag="relay")
    lan = T.Islands.gw_lan("a")
    mr = T.start_mcrecv(b1, ["tcp", "%s:1601" % lan, "--clients", clients,
                             "--size", 1316, "--idle", "3", "--duration", "60",
                             "--expect", count, "--slow", clients,
                             "--pause", 1.5])
    relay.wait_for_log(CONNECTED_RX, timeout=10, count=clients)
    sent = T.run_mcsend(a1, ["--count", count, "--rate", 5000, "--size", 1316,
                             "--iface", T.Islands.host_addr("a", 1), G])
    assert sent == count
    summary = T.mcrecv_result(mr, timeout=60)
    assert not relay.log_matches(r"reason=slow-consumer"), relay.stderr()
    assert summary["eof_clients"] == 0 and summary["reset_clients"] == 0
    for c in summary["per_client"]:
        assert 0 < c["unique"] < count, c["unique"]
        assert c["bad"] == 0 and c["duplicates"] == 0, c
        assert c["trailing_bytes"] == 0, c
    return relay, summary, count


def test_slow_skip_overload_is_seen_before_any_queue_fills(islands, tools):
    """With the default queue (4 MiB: 640 ms of this 52 Mbit/s stream) and
    maxlag (2000 ms), every client stopping at once is overload from the
    first datagrams: the sink says so while the clients are only tens of
    milliseconds behind, before any of them is skipped, and every episode
    starts on the 40 ms bound (reason=maxlag), none on a full queue, the
    first ones included. (Overload decided per second of skip episodes,
    as before, let the first episodes run until the queues were full.)"""
    relay, summary, count = _all_pause(islands, "")
    text = relay.stderr()
    over = re.search(r"\boverloaded: many clients behind at once\b.*"
                     r"\bclients=8\b.*\blag_ms=40\b", text)
    assert over, text
    first = re.search(r"\bclient behind, skipping\b", text)
    assert first and over.start() < first.start(), text
    reasons = [m.group(1) for m in relay.log_matches(
        r"\bclient behind, skipping\b.*\breason=(\w+)")]
    assert len(reasons) >= 8, text
    assert set(reasons) == {"maxlag"}, text
    assert relay.log_matches(r"\bno longer overloaded\b"), text
    R = S.RELAY
    last = S.reports(relay)[-1]
    assert last[R + "skip_episodes_total"] == len(reasons), last
    assert last[R + "cutoffs_total"] == 0, last


def test_slow_skip_episode_lines_capped_per_second(islands, tools):
    """150 clients behind at once begin 150 episodes within a second: at
    most 100 `client behind` lines are written in it, and the rest are
    told as a count in one line (an overloaded relay of 500 clients began
    thousands a second, each with its own line)."""
    relay, summary, count = _all_pause(islands, "", clients=150,
                                       count=20000)
    lines = relay.log_matches(r"\bclient behind, skipping\b")
    held = [int(m.group(1)) for m in relay.log_matches(
        r"\b(\d+) more clients behind in the last second\b")]
    last = S.reports(relay)[-1]
    episodes = last[S.RELAY + "skip_episodes_total"]
    assert held and sum(held) > 0, relay.stderr()[-3000:]
    assert 100 <= len(lines) < episodes, (len(lines), episodes)
    assert len(lines) + sum(held) <= episodes, (len(lines), held, episodes)


def test_slow_skip_maxlag_0_keeps_no_time_bound_under_overload(islands,
                                                                tools):
    """maxlag=0 (bytes only): the same stop of every client is never a
    time bound; clients are skipped only when their queue is full, and
    the sink does not call it overload."""
    relay, summary, count = _all_pause(islands, "?maxlag=0&queue=1048576")
    text = relay.stderr()
    assert not relay.log_matches(r"\boverloaded\b"), text
    reasons = [m.group(1) for m in relay.log_matches(
        r"\bclient behind, skipping\b.*\breason=(\w+)")]
    assert len(reasons) >= 8, text
    assert set(reasons) == {"queue"}, text
