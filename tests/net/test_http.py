"""The HTTP front: real players, a browser and a scraper in namespaces.

    src (ffmpeg | mcsend) --s0/n0 island LAN 10.10.0.0/24--> node
    node: mcferry http --listen :4022 --iface n0        (joins on n0)
    node --n1/c0 10.20.0.0/24 (unicast only, no multicast route)--> client
    client: curl, ffprobe, cvlc, chromium, 200 python sockets
    node: prometheus on 127.0.0.1 scrapes 127.0.0.1:4022/metrics
"""

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import topo as T

GROUP, PORT = "239.1.1.1", 5000
G = "%s:%d" % (GROUP, PORT)
NODE, CLIENT, SRC = "10.20.0.1", "10.20.0.2", "10.10.0.2"
BASE = "http://%s:4022" % NODE


class HttpTopo:
    def __init__(self, topo):
        self.topo = topo
        self.src = topo.netns("src")
        self.node = topo.netns("node")
        self.client = topo.netns("cli")
        topo.veth(self.src, "s0", self.node, "n0")
        topo.veth(self.node, "n1", self.client, "c0")
        T.add_addr(self.src, "s0", SRC + "/24")
        T.add_addr(self.node, "n0", "10.10.0.1/24")
        T.add_addr(self.node, "n1", NODE + "/24")
        T.add_addr(self.client, "c0", CLIENT + "/24")
        self.src.ip("route", "add", "224.0.0.0/4", "dev", "s0")

    def start_http(self, *extra, tag="http"):
        p = T.start_mcferry(self.node, ["http", "--listen", ":4022",
                                        "--iface", "n0"] + list(extra),
                            tag=tag)
        return p

    def ffmpeg(self, seconds=30, tag="ffmpeg"):
        return self.src.spawn(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
             "-i", "testsrc=size=320x240:rate=25", "-t", str(seconds),
             "-c:v", "mpeg2video", "-b:v", "1M", "-f", "mpegts",
             "udp://%s?localaddr=%s&pkt_size=1316&ttl=1" % (G, SRC)],
            tag=tag)

    def igmp_groups(self):
        """Groups the node's namespace is a member of, one entry per
        (interface, group) as /proc/net/igmp lists them."""
        out = self.node.exec(["cat", "/proc/net/igmp"], check=True).stdout
        want = "%08X" % int.from_bytes(socket.inet_aton(GROUP), "little")
        return [l for l in out.splitlines() if l.strip().startswith(want)]


@pytest.fixture
def ht(topo):
    return HttpTopo(topo)


def cli(ht, argv, timeout=30, check=True):
    p = ht.client.exec(argv, timeout=timeout)
    if check and p.returncode != 0:
        raise T.TopoError("%s -> %d\n%s%s" % (" ".join(argv), p.returncode,
                                               p.stdout, p.stderr))
    return p


def status_json(ht):
    p = cli(ht, ["curl", "-s", "-m", "5", BASE + "/status.json"])
    return json.loads(p.stdout)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise T.TopoError("timeout waiting for " + what)


def http_code(ht, path, head=False):
    argv = ["curl", "-g", "-s", "-o", "/dev/null", "-m", "3", "-w",
            "%{http_code}"]
    if head:
        argv.append("-I")
    p = cli(ht, argv + [BASE + path], check=False)
    return int(p.stdout or 0)


def assert_ts(data, what):
    assert len(data) > 188 * 100, "%s: only %d bytes" % (what, len(data))
    bad = [i for i in range(0, len(data) - len(data) % 188, 188)
           if data[i] != 0x47]
    assert not bad, "%s: %d of %d packets without sync byte (first at %d)" % (
        what, len(bad), len(data) // 188, bad[0])


def ffprobe_video(ht, url_or_file, ns=None):
    p = (ns or ht.client).exec(
        ["ffprobe", "-v", "error", "-rw_timeout", "5000000", "-show_streams",
         "-of", "json", url_or_file], timeout=30)
    assert p.returncode == 0, p.stderr
    streams = json.loads(p.stdout)["streams"]
    return [s for s in streams if s.get("codec_type") == "video"]


def test_curl_ffprobe_cvlc_watch_through_http(ht, tmp_path):
    node = ht.start_http()
    ff = ht.ffmpeg(seconds=40)
    # curl: the body is a TS stream
    body = subprocess.run(["ip", "netns", "exec", ht.client.name, "curl", "-s",
                           "-m", "3", "-D", str(tmp_path / "head.txt"),
                           BASE + "/udp/" + G], stdout=subprocess.PIPE,
                          timeout=10).stdout
    head = (tmp_path / "head.txt").read_text()
    assert head.startswith("HTTP/1.1 200 OK"), head
    assert "Content-Type: video/mp2t" in head and "Connection: close" in head
    assert_ts(body, "curl body")
    # ffprobe finds a video stream through the HTTP front
    video = ffprobe_video(ht, BASE + "/udp/" + G)
    assert video and video[0]["codec_name"] == "mpeg2video", video
    # cvlc (VLC refuses root: run it as nobody) decodes 5 s: the scene
    # filter writes decoded pictures as PNG files, the dump demux keeps
    # the TS it read. pytest's tmp is root's only, so nobody gets its own.
    out = tempfile.mkdtemp(prefix="mcferry-vlc-")
    os.chmod(out, 0o777)
    try:
        p = ht.client.exec(
            ["runuser", "-u", "nobody", "--", "env", "HOME=" + out, "cvlc",
             "--intf", "dummy", "--vout", "dummy", "--aout", "dummy",
             "--no-audio", "--video-filter", "scene", "--scene-path", out,
             "--scene-format", "png", "--scene-ratio", "25",
             "--scene-prefix", "pic", "--run-time", "5", "--play-and-exit",
             BASE + "/udp/" + G, "vlc://quit"], timeout=40)
        pics = [f for f in os.listdir(out) if f.endswith(".png")]
        assert pics, (p.returncode, p.stderr[-2000:])
        shutil.copy(os.path.join(out, sorted(pics)[-1]),
                    tmp_path / "vlc-picture.png")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ff.stop()
    assert node.alive(), node.describe()


def test_200_viewers_share_one_membership(ht):
    node = ht.start_http("--hold", "1", "--max-channel-viewers", "250")
    n, count, size = 200, 2000, 1316
    sel = selectors.DefaultSelector()
    socks = []
    with ht.client.entered():
        for i in range(n):
            s = socket.create_connection((NODE, 4022), timeout=5)
            s.sendall(("GET /udp/%s HTTP/1.1\r\nHost: %s\r\n\r\n"
                       % (G, NODE)).encode())
            s.setblocking(False)
            socks.append(s)
    got = {s: bytearray() for s in socks}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    wait_until(lambda: status_json(ht)["viewers"] == n, 15, "200 viewers")
    assert len(ht.igmp_groups()) == 1, ht.igmp_groups()
    sent = T.run_mcsend(ht.src, ["--count", count, "--rate", 2000, "--size",
                                 size, "--iface", SRC, G])
    assert sent == count
    deadline = time.monotonic() + 30
    done = set()
    while len(done) < n and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            d = key.fileobj.recv(1 << 20)
            got[key.fileobj] += d
            b = got[key.fileobj]
            hdr = b.find(b"\r\n\r\n")
            if hdr >= 0 and len(b) - hdr - 4 >= count * size:
                done.add(key.fileobj)
    short = [len(b) for b in got.values()
             if b.find(b"\r\n\r\n") < 0
             or len(b) - b.find(b"\r\n\r\n") - 4 != count * size]
    assert not short, "%d of %d viewers short: %s" % (len(short), n, short[:5])
    for b in got.values():
        body = bytes(b[b.find(b"\r\n\r\n") + 4:])
        seqs = [T.mcsf_parse(body[i:i + size])[1]
                for i in range(0, len(body), size)]
        assert seqs == list(range(count))
    # still one membership with 200 viewers; the last one leaving ends it
    # after the hold (1 s)
    assert len(ht.igmp_groups()) == 1
    for s in socks:
        s.close()
    wait_until(lambda: status_json(ht)["viewers"] == 0, 10, "viewers gone")
    t0 = time.monotonic()
    wait_until(lambda: not ht.igmp_groups(), 10, "membership dropped")
    assert time.monotonic() - t0 >= 0.5
    node.wait_for_log(r"channel=239\.1\.1\.1:5000 left hold=1s")
    assert len(node.log_matches(r"channel=239\.1\.1\.1:5000 joined")) == 1


def test_udpxy_url_grammar_and_limits(ht):
    node = ht.start_http("--allow", "239.0.0.0/8", "--allow", "ff3e::/16",
                         "--max-viewers", "2")
    for sep in ":%~+-^":
        for kind in ("udp", "rtp"):
            for path in ("/%s/%s%s%d" % (kind, GROUP, sep, PORT),
                         "/%s/%s%s%d/" % (kind, GROUP, sep, PORT),
                         "/%s/10.10.0.2@%s%s%d" % (kind, GROUP, sep, PORT),
                         "/%s/[ff3e::1]%s%d?iface=n0" % (kind, sep, PORT)):
                assert http_code(ht, path, head=True) == 200, path
    for path in ("/udp/", "/udp/239.1.1.1", "/udp/239.1.1.1:0",
                 "/udp/239.1.1.1:70000", "/udp/239.1.1.1=5000",
                 "/udp/10.1.1.1:5000", "/udp/239.1.1:5000",
                 "/udp/[ff3e::1:5000", "/udp/239.1.1.1:5000?iface=a%3Cb"):
        assert http_code(ht, path) == 400, path
    assert http_code(ht, "/nothing") == 404
    assert http_code(ht, "/restart") == 404    # udpxy mode only
    assert http_code(ht, "/udp/238.1.1.1:5000") == 403
    # a third viewer: 503
    with ht.client.entered():
        vs = [socket.create_connection((NODE, 4022), timeout=5)
              for _ in range(2)]
    for v in vs:
        v.sendall(("GET /udp/%s HTTP/1.1\r\n\r\n" % G).encode())
    wait_until(lambda: status_json(ht)["viewers"] == 2, 10, "2 viewers")
    assert http_code(ht, "/udp/" + G) == 503
    for v in vs:
        v.close()
    # a head that never ends: 408 within the deadline
    with ht.client.entered():
        s = socket.create_connection((NODE, 4022), timeout=10)
    s.sendall(b"GET /status HTTP/1.1\r\n")
    t0 = time.monotonic()
    reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert 4 <= time.monotonic() - t0 <= 7
    s.close()
    p = cli(ht, ["curl", "-s", "-X", "POST", "-o", "/dev/null", "-w",
                 "%{http_code}", BASE + "/status"], check=False)
    assert p.stdout == "405"
    assert node.alive()


def test_udpxy_command(ht, tmp_path):
    log = tmp_path / "udpxy.log"
    p = ht.node.spawn([T.MCFERRY, "udpxy", "-T", "-S", "-v", "-p", "4022",
                       "-a", "n1", "-m", "n0", "-c", "2", "-B", "1Mb",
                       "-M", "30", "-R", "-1", "-H", "-1", "-n", "1",
                       "-l", str(log)], tag="udpxy")
    wait_until(lambda: log.exists() and "ready" in log.read_text(), 10,
               "udpxy ready")
    ff = ht.ffmpeg(seconds=20)
    body = subprocess.run(["ip", "netns", "exec", ht.client.name, "curl", "-s",
                           "-m", "3", BASE + "/udp/" + G.replace(":", "%")],
                          stdout=subprocess.PIPE, timeout=10).stdout
    assert_ts(body, "udpxy body")
    assert http_code(ht, "/status/") == 200
    assert http_code(ht, "/restart/") == 200
    ff.stop()
    p.stop()
    assert "listening uri=tcp://@10.20.0.1:4022" in log.read_text()


def test_metrics_promtool_and_prometheus(ht, tmp_path):
    if not shutil.which("prometheus"):
        pytest.skip("prometheus not installed")
    node = ht.start_http()
    text = cli(ht, ["curl", "-s", BASE + "/metrics"]).stdout
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       text=True, capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'mcferry_http_requests_total{http="http",code="200"}' in text
    cfg = tmp_path / "prom.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                   "  - job_name: mcferry\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:4022']\n")
    prom = ht.node.spawn(["prometheus", "--config.file=%s" % cfg,
                          "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                          "--web.listen-address=127.0.0.1:19090"],
                         tag="prometheus")

    def query(q):
        p = ht.node.exec(["curl", "-s", "-m", "3",
                          "http://127.0.0.1:19090/api/v1/query?query=" + q])
        try:
            r = json.loads(p.stdout)["data"]["result"]
        except (ValueError, KeyError):
            return None
        return float(r[0]["value"][1]) if r else None

    q = "mcferry_http_out_bytes_total"
    first = wait_until(lambda: query(q) is not None and [query(q)], 30,
                       "a first scrape")[0]
    ff = ht.ffmpeg(seconds=20)
    viewer = ht.client.spawn(["curl", "-s", "-o", "/dev/null", "-m", "8",
                              BASE + "/udp/" + G], tag="viewer")
    moved = wait_until(lambda: (query(q) or 0) > first + 100000 and
                       [query(q)], 30, "the bytes counter to move")[0]
    assert moved > first
    up = wait_until(lambda: query("up") == 1.0, 10, "up == 1")
    assert up
    viewer.stop()
    ff.stop()
    prom.stop()
    assert node.alive()


def test_status_page_in_chromium(ht, tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("chromium not installed")
    node = ht.start_http()
    ff = ht.ffmpeg(seconds=40)
    viewer = ht.client.spawn(["curl", "-s", "-o", "/dev/null", "-m", "30",
                              BASE + "/udp/" + G], tag="viewer")
    wait_until(lambda: status_json(ht)["viewers"] == 1, 10, "a viewer")
    wait_until(lambda: status_json(ht)["channels"][0]["rate_bps"] > 0, 10,
               "a rate")
    chrome = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run",
              "--user-data-dir=%s" % (tmp_path / "chrome")]
    p = cli(ht, chrome + ["--dump-dom", BASE + "/status"], timeout=60)
    dom = p.stdout
    assert 'id="ch-%s"' % G in dom, dom[:3000]
    row = re.search(r'<tr class="(\w+)" id="ch-%s">(.*?)</tr>'
                    % re.escape(G), dom, re.S)
    assert row and row.group(1) == "live", dom[:3000]
    assert "joined" in row.group(2)
    assert '<meta http-equiv="refresh"' in dom
    shot = tmp_path / "status.png"
    cli(ht, chrome + ["--screenshot=%s" % shot, "--window-size=1200,600",
                      BASE + "/status"], timeout=60, check=False)
    assert shot.exists() and shot.stat().st_size > 1000
    # the playlist lists the channel served
    m3u = cli(ht, ["curl", "-s", BASE + "/playlist.m3u"]).stdout
    assert m3u.startswith("#EXTM3U") and "%s/udp/%s" % (BASE, G) in m3u, m3u
    viewer.stop()
    ff.stop()
    assert node.alive()


# --------------------------------------------------------------------------
# named channels: /channel/NAME from any relay source

class MeshTopo:
    """A hub with a gateway exporting a live channel of island A; an http
    node elsewhere subscribes through the hub (no multicast leaves A).

        src (ffmpeg) --s0/g0 10.10.0.0/24 (island A)--> gw: mcferry gateway
        gw --g1/h0 10.30.0.0/24--> hub: mcferry hub tcp://@:7000
        hub --h1/n0 10.40.0.0/24--> node: mcferry http --channel
                                          tv=tcp://10.40.0.1:7000?channel=G
        node --n1/c0 10.20.0.0/24--> client: curl, ffprobe
    """

    def __init__(self, topo):
        self.src = topo.netns("src")
        self.gw = topo.netns("gw")
        self.hub = topo.netns("hub")
        self.node = topo.netns("node")
        self.client = topo.netns("cli")
        topo.veth(self.src, "s0", self.gw, "g0")
        topo.veth(self.gw, "g1", self.hub, "h0")
        topo.veth(self.hub, "h1", self.node, "n0")
        topo.veth(self.node, "n1", self.client, "c0")
        for ns, ifn, a in ((self.src, "s0", SRC), (self.gw, "g0", "10.10.0.1"),
                           (self.gw, "g1", "10.30.0.1"),
                           (self.hub, "h0", "10.30.0.2"),
                           (self.hub, "h1", "10.40.0.1"),
                           (self.node, "n0", "10.40.0.2"),
                           (self.node, "n1", NODE),
                           (self.client, "c0", CLIENT)):
            T.add_addr(ns, ifn, a + "/24")
        self.src.ip("route", "add", "224.0.0.0/4", "dev", "s0")
        self.gw.ip("route", "add", "224.0.0.0/4", "dev", "g0")


def test_channel_from_a_hub(topo):
    m = MeshTopo(topo)
    ht = HttpTopo.__new__(HttpTopo)      # cli() and http_code() want these
    ht.client, ht.node = m.client, m.node
    hub = T.start_mcferry(m.hub, ["hub", "--listen", "tcp://@:7000"],
                          tag="hub")
    T.start_mcferry(m.gw, ["gateway", "--hub", "tcp://10.30.0.2:7000",
                           "--iface", "g0", "--island", "A", "--group", G],
                    tag="gw")
    hub.wait_for_log(r"\bgateway up\b")
    node = T.start_mcferry(m.node, [
        "http", "--listen", ":4022", "--hold", "1",
        "--channel", "tv=tcp://10.40.0.1:7000?channel=" + G], tag="http")
    ff = m.src.spawn(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
         "-i", "testsrc=size=320x240:rate=25", "-t", "40",
         "-c:v", "mpeg2video", "-b:v", "1M", "-f", "mpegts",
         "udp://%s?localaddr=%s&pkt_size=1316&ttl=1" % (G, SRC)], tag="ffmpeg")
    # the playlist lists it before anyone watched
    m3u = cli(ht, ["curl", "-s", BASE + "/playlist.m3u"]).stdout
    assert "%s/channel/tv" % BASE in m3u, m3u
    # curl: a TS stream (the first viewer opens the hub subscription; the
    # gateway starts forwarding once the hub has a subscriber)
    body = b""
    for _ in range(5):
        body = subprocess.run(["ip", "netns", "exec", m.client.name, "curl",
                               "-s", "-m", "4", BASE + "/channel/tv"],
                              stdout=subprocess.PIPE, timeout=10).stdout
        if len(body) > 188 * 100:
            break
    assert_ts(body, "curl /channel/tv")
    video = ffprobe_video(ht, BASE + "/channel/tv/")
    assert video and video[0]["codec_name"] == "mpeg2video", video
    assert http_code(ht, "/channel/nothing") == 404
    assert http_code(ht, "/channel/") == 404
    assert http_code(ht, "/channel/tv/x") == 404
    # the last viewer gone, the source closes after the hold
    node.wait_for_log(r"http=http channel=tv left hold=1s")
    st = status_json(ht)
    tv = [c for c in st["channels"] if c["channel"] == "tv"][0]
    assert tv["named"] and not tv["joined"] and tv["in_bytes"] > 0, tv
    assert node.log_matches(r"channel=tv opened uri=tcp://10\.40\.0\.1:7000")
    ff.stop()
    assert node.alive(), node.describe()


def test_sighup_keeps_an_unchanged_relay_restarts_http(ht, tmp_path):
    """[relay r] (the group to a listening tcp sink) and [http web] serving
    it as /channel/r: a changed [http web] restarts on SIGHUP while a
    viewer of the relay's sink counts every datagram across the reload."""
    conf = tmp_path / "mesh.conf"
    relay = ("[relay r]\nsource = udp://@%s?iface=n0\n"
             "sink = tcp://@127.0.0.1:1601\n" % G)
    web = ("[http web]\nlisten = :4022\nhold = %d\n"
           "channel = r=tcp://127.0.0.1:1601\n")
    conf.write_text(relay + web % 1)
    node = T.start_mcferry(ht.node, ["run", str(conf)], tag="run")
    count, size, rate = 6000, 1316, 1000
    direct = T.start_mcrecv(ht.node, ["tcp", "127.0.0.1:1601", "--size", size,
                                      "--expect", count, "--count", count,
                                      "--idle", 5, "--duration", 40],
                            tag="direct")
    viewer = T.start_mcrecv(ht.client, ["tcp", "%s:4022" % NODE, "--size",
                                        size, "--http", "/channel/r",
                                        "--idle", 0, "--duration", 40],
                            tag="viewer")
    send = ht.src.spawn([T.MCSEND, "--count", count, "--rate", rate, "--size",
                         size, "--iface", SRC, G], tag="mcsend")
    def served():
        chans = [c for c in status_json(ht)["channels"] if c["channel"] == "r"]
        return chans and chans[0]["in_datagrams"] >= 1000
    wait_until(served, 15, "a part of the stream served before the reload")
    conf.write_text(relay + web % 2)
    node.send_signal(signal.SIGHUP)
    done = node.wait_for_log(r"reload done: (\d+) running, (\d+) stopped, "
                             r"(\d+) started")[0]
    assert done.groups() == ("2", "1", "1"), done.string
    assert node.log_matches(r"http=web stopped by reload")
    assert not node.log_matches(r"relay=r stopped"), node.describe()
    # the http viewer was cut by the restart; a new one is served
    res = T.mcrecv_result(viewer, timeout=10)
    assert res["unique"] > 0, res
    again = T.start_mcrecv(ht.client, ["tcp", "%s:4022" % NODE, "--size",
                                       size, "--http", "/channel/r",
                                       "--count", 200, "--duration", 10],
                           tag="again")
    assert T.mcrecv_result(again, timeout=15)["unique"] >= 200
    assert send.wait(30) == 0
    res = T.mcrecv_result(direct, timeout=30)
    assert res["unique"] == count and res["lost"] == 0, res
    assert node.alive(), node.describe()


def test_run_check_http_sections(ht, tmp_path):
    """run --check: an http listen on a relay's port, two named channels
    listening on one port, an iface that is not there; a good file counts
    its http services."""
    bad = tmp_path / "bad.conf"
    bad.write_text("[relay r]\nsource = udp://@%s\nsink = tcp://@:4022\n\n"
                   "[http web]\nlisten = 10.20.0.1:4022\niface = nosuchif0\n"
                   "channel = a=tcp://@:1700\nchannel = b=tcp://@:1700\n" % G)
    p = ht.node.exec([T.MCFERRY, "run", "--check", str(bad)])
    assert p.returncode == 2, p
    lines = p.stderr.splitlines()
    assert any("line 5: http=web listen listens on 10.20.0.1:4022: port 4022 "
               "is taken by relay=r sink on line 3" in l for l in lines), lines
    assert any("http=web channel=b source listens on [::]:1700: port 1700 "
               "is taken by http=web channel=a source" in l for l in lines)
    assert any("http=web iface: no interface 'nosuchif0'" in l for l in lines)
    assert "configuration OK" not in p.stdout
    good = tmp_path / "good.conf"
    good.write_text("[relay r]\nsource = udp://@%s\nsink = tcp://@:1601\n\n"
                    "[http web]\nlisten = :4022\niface = n0\n"
                    "channel = r=tcp://127.0.0.1:1601\n\n"
                    "[http tv]\nlisten = :4023\n" % G)
    p = ht.node.exec([T.MCFERRY, "run", "--check", str(good)])
    assert p.returncode == 0, p
    assert "configuration OK (1 relays, 0 hubs, 0 gateways, 2 http)" in p.stdout


def test_http_beside_a_relay_serves_its_metrics_and_players(ht, tmp_path):
    """--http ADDR:PORT on a relay: one process, one loop; /metrics holds
    the relay's counters (moving with its traffic) next to the front's,
    and a player can watch /udp/ from the same port."""
    relay = T.start_mcferry(ht.node, [
        "relay", "--name", "tv", "--http", ":4022",
        "udp://@%s?iface=n0" % G, "udp://10.20.0.2:6000"], tag="relay")
    relay.wait_for_log(r"http=http listening uri=tcp://@:4022", timeout=5)
    ff = ht.ffmpeg(seconds=20)
    try:
        def relay_in():
            text = cli(ht, ["curl", "-s", "-m", "3", BASE + "/metrics"]).stdout
            m = re.search(r'^mcferry_relay_in_datagrams_total\{relay="tv"\} '
                          r'(\d+)$', text, re.M)
            return int(m.group(1)) if m else None, text

        first, text = relay_in()
        assert first is not None, text
        assert "mcferry_http_requests_total" in text, text
        p = subprocess.run(["promtool", "check", "metrics"], input=text,
                           text=True, capture_output=True)
        assert shutil.which("promtool") is None or p.returncode == 0, \
            p.stdout + p.stderr
        moved = wait_until(lambda: (relay_in()[0] or 0) > first + 50 and
                           [relay_in()[0]], 15, "the relay's counter to move")
        assert moved[0] > first
        out = tmp_path / "beside.ts"
        cli(ht, ["curl", "-s", "-m", "3", "-o", str(out),
                 BASE + "/udp/" + G + "?iface=n0"], check=False)
        assert_ts(out.read_bytes(), "/udp/ beside a relay")
    finally:
        ff.stop()
    assert relay.alive(), relay.describe()
