"""Operations: log formats, --name, run --check's meaning checks, the
systemd notify protocol, the unit files, install and the Debian package.

Runs inside the `solo` namespace: lan0 (10.9.0.1) <-> lan1 (10.9.0.2).
MCFERRY_TEST_DEB=0 skips the package build (about 40 s on two cores).
"""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import topo as T

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TS_RX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+) ")


def _relay(ns, args, tag, env=()):
    """mcferry relay udp://@:5030 udp://10.9.0.2:5031 with env; ready."""
    argv = ["env"] + list(env) + [T.MCFERRY, "relay"] + list(args) + [
        "udp://@:5030", "udp://10.9.0.2:5031"]
    p = ns.spawn(argv, tag=tag)
    p.wait_for_log(T.READY_RX)
    return p


def _lines(p):
    p.stop()
    return [l for l in p.raw_stderr().splitlines() if l.strip()]


# ---- logs -----------------------------------------------------------------

def test_log_text_lines_start_with_utc_millisecond_timestamps(solo,
                                                              mcferry_bin):
    before = datetime.datetime.now(datetime.timezone.utc)
    lines = _lines(_relay(solo.ns, [], "text"))
    after = datetime.datetime.now(datetime.timezone.utc)
    assert any(l.endswith(" info relay=relay ready") for l in lines), lines
    for l in lines:
        m = TS_RX.match(l)
        assert m, "no RFC 3339 timestamp at the start of %r" % l
        ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
        ts = ts.replace(tzinfo=datetime.timezone.utc)
        assert before - datetime.timedelta(seconds=1) <= ts <= \
            after + datetime.timedelta(seconds=1), (l, before, after)


def test_log_journald_priority_prefix_without_timestamp(solo, mcferry_bin):
    # JOURNAL_STREAM names stderr (its device and inode), as systemd does;
    # Proc opens the file with "wb", which keeps the inode made here.
    err = os.path.join(solo.ns.topo.logdir, "journal.err")
    open(err, "wb").close()
    st = os.stat(err)
    lines = _lines(_relay(solo.ns, [], "journal", env=[
        "JOURNAL_STREAM=%d:%d" % (st.st_dev, st.st_ino)]))
    assert "<6>info relay=relay ready" in lines, lines
    for l in lines:
        assert re.match(r"^<[3467]>(error|warn|info|debug|stats) ", l), l
    # A JOURNAL_STREAM that is not stderr (inherited by a child whose
    # stderr went elsewhere) changes nothing.
    lines = _lines(_relay(solo.ns, [], "notjournal", env=[
        "JOURNAL_STREAM=%d:%d" % (st.st_dev, st.st_ino + 1)]))
    assert all(TS_RX.match(l) for l in lines), lines


def test_log_format_json_one_object_per_line(solo, mcferry_bin):
    p = _relay(solo.ns, ["--log-format", "json", "--stats", "1"], "json")
    p.wait_for_log(r'"level":"stats"')
    objs = [json.loads(l) for l in _lines(p)]
    for o in objs:
        assert set(o) == {"ts", "level", "msg"}, o
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["ts"]), o
        assert o["level"] in ("error", "warn", "info", "debug", "stats"), o
    assert {"ts": objs[0]["ts"], "level": "info",
            "msg": "relay=relay ready"} in [
        dict(o, ts=objs[0]["ts"]) for o in objs], objs
    stats = [o["msg"] for o in objs if o["level"] == "stats"]
    assert stats and stats[0].startswith("relay=relay "), stats
    r = subprocess.run([mcferry_bin, "relay", "--log-format", "xml",
                        "udp://@:5030", "udp://127.0.0.1:5031"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert "bad log-format 'xml': want text or json" in r.stderr, r.stderr


def test_name_names_relay_hub_and_gateway(solo, mcferry_bin):
    ns = solo.ns
    r = _relay(ns, ["--name", "cam-1"], "named")
    assert r.log_matches(r"\brelay=cam-1 ready$")
    hub = T.start_mcferry(ns, ["hub", "--name", "core", "--listen",
                               "tcp://@:7200"], tag="hub")
    gw = T.start_mcferry(ns, ["gateway", "--name", "lan-a", "--hub",
                              "tcp://10.9.0.1:7200", "--iface", "lan1",
                              "--group", "239.1.1.1:5000"], tag="gw")
    assert hub.log_matches(r"\bhub=core ready$"), hub.describe()
    assert gw.log_matches(r"\bgateway=lan-a ready$"), gw.describe()
    for p in (r, hub, gw):
        assert p.stop() == 0
    for bad in ("a b", "x" * 64, "x/y"):
        p = subprocess.run([mcferry_bin, "relay", "--name", bad,
                            "udp://@:5030", "udp://127.0.0.1:5031"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "--name: bad name" in p.stderr, p
    p = subprocess.run([mcferry_bin, "run", "--name", "x", "f.conf"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--name applies to" in p.stderr, p


# ---- run --check ----------------------------------------------------------

def test_run_check_reports_what_the_file_means(solo, mcferry_bin, tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("not a key\n")
    key.chmod(0o644)
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "[relay a]\n"                                               # 1
        "source = udp://@239.1.1.1:5000?iface=lan0\n"               # 2
        "sink = tcp://@:1601\n"                                     # 3
        "[relay b]\n"                                               # 4
        "source = udp://@239.1.1.2:5000?iface=nosuch0\n"            # 5
        "sink = tcp://@10.9.0.1:1601\n"                             # 6
        "sink = udp://10.9.0.2:6000?iface=lan0\n"                   # 7
        "[hub]\n"                                                   # 8
        "listen = tls://@:7000?cert=%s&key=%s&ca=%s/none.pem\n"     # 9
        "[gateway g]\n"                                             # 10
        "hub = tcp://10.9.0.1:7000\n"                               # 11
        "iface = nosuch1\n"                                         # 12
        "group = 239.1.1.1:5000\n" % (key, key, tmp_path))          # 13
    p = solo.ns.exec([T.MCFERRY, "run", "--check", str(conf)])
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "configuration OK" not in p.stdout
    got = p.stderr.splitlines()
    want = [
        (6, "relay=b sink listens on 10.9.0.1:1601: port 1601 is taken by "
            "relay=a sink on line 3"),
        (5, "relay=b source: no interface 'nosuch0' on this host"),
        (7, "relay=b sink: iface= needs a multicast group, and '10.9.0.2' "
            "is not one"),
        (9, "cannot read ca=%s/none.pem: No such file or directory"
            % tmp_path),
        (9, "key=%s may be read by group or others (mode 0644)" % key),
        (12, "gateway=g iface: no interface 'nosuch1' on this host"),
    ]
    for line, reason in want:
        head = "%s: line %d: %s" % (conf, line, reason)
        assert any(l.startswith(head) for l in got), \
            "missing %r in:\n%s" % (head, p.stderr)
    assert len(got) == len(want), p.stderr
    # the same file, fixed: OK (in the namespace, lan0 and lan1 exist)
    key.chmod(0o600)
    conf.write_text("[relay a]\nsource = udp://@239.1.1.1:5000?iface=lan0\n"
                    "sink = tcp://@:1601\n[relay b]\n"
                    "source = udp://@239.1.1.2:5000?iface=10.9.0.2\n"
                    "sink = tcp://@:1602\n")
    p = solo.ns.exec([T.MCFERRY, "run", "--check", str(conf)])
    assert p.returncode == 0 and "configuration OK" in p.stdout, p


# ---- systemd notify -------------------------------------------------------

class NotifySocket:
    """The manager's side of sd_notify: a unix datagram socket that keeps
    (monotonic time, message) of every datagram."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.got = []
        self.cond = threading.Condition()
        self._stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self._stop:
            try:
                d = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.cond:
                self.got.append((time.monotonic(), d.decode()))
                self.cond.notify_all()

    def wait(self, pred, timeout, after=0):
        """The first message from index `after` on with pred(msg): (index,
        time, fields dict)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.got)):
                    t, m = self.got[i]
                    f = dict(kv.split("=", 1) for kv in m.split("\n") if kv)
                    if pred(f):
                        return i, t, f
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no such notify message in %.1fs: %r"
                                         % (timeout, self.got[after:][-20:]))
                self.cond.wait(left)

    def between(self, t0, t1, key):
        with self.cond:
            return [t for t, m in self.got if t0 <= t <= t1
                    and key in m.split("\n")]

    def close(self):
        self._stop = True
        self.t.join(2)
        self.sock.close()


def test_notify_ready_status_watchdog_reload_stopping(solo, mcferry_bin,
                                                      tmp_path):
    ns = solo.ns
    conf = tmp_path / "n.conf"
    conf.write_text("[relay n]\nsource = udp://@:5032\nsink = tcp://@:1632\n")
    ns_path = str(tmp_path / "notify.sock")
    n = NotifySocket(ns_path)
    c = None
    try:
        p = ns.spawn(["env", "NOTIFY_SOCKET=" + ns_path,
                      "WATCHDOG_USEC=200000", T.MCFERRY, "run", str(conf)],
                     tag="notify")
        i, t_ready, f = n.wait(lambda f: f.get("READY") == "1", 10)
        assert f.get("STATUS") == "1 services running, 0 clients", f
        p.wait_for_log(r"\brelay=n ready$")
        p.wait_for_log(r"watchdog ping every 100 ms")

        # STATUS= follows the clients (every 5 s)
        c = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(("10.9.0.1", 1632))
        p.wait_for_log(r"relay=n c=\d+ client connected")
        n.wait(lambda f: f.get("STATUS") == "1 services running, 1 clients",
               8, after=i + 1)

        # WATCHDOG=1 at half of WATCHDOG_USEC: every 100 ms
        t0 = time.monotonic()
        time.sleep(1.0)
        pings = n.between(t0, time.monotonic(), "WATCHDOG=1")
        assert 7 <= len(pings) <= 13, "%d pings in 1 s" % len(pings)
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        assert 0.07 <= gaps[len(gaps) // 2] <= 0.15, gaps

        # ...from the loop: a stopped loop does not ping
        p.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        time.sleep(0.6)
        t1 = time.monotonic()
        p.send_signal(signal.SIGCONT)
        assert len(n.between(t0 + 0.05, t1, "WATCHDOG=1")) == 0
        n.wait(lambda f: f.get("WATCHDOG") == "1", 2,
               after=len(n.got))

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1
        mark = len(n.got)
        p.send_signal(signal.SIGHUP)
        j, t_rel, f = n.wait(lambda f: f.get("RELOADING") == "1", 5,
                             after=mark)
        usec = int(f["MONOTONIC_USEC"])
        assert abs(usec / 1e6 - t_rel) < 2.0, (usec, t_rel)
        k, _t, f = n.wait(lambda f: f.get("READY") == "1", 5, after=j + 1)
        assert f.get("STATUS", "").startswith("1 services running"), f
        assert p.log_matches(r"reload done: 1 running, 0 stopped, 0 started")

        p.send_signal(signal.SIGTERM)
        n.wait(lambda f: f.get("STOPPING") == "1", 5, after=k + 1)
        assert p.wait(5) == 0
    finally:
        if c:
            c.close()
        n.close()


# ---- units, install, package ---------------------------------------------

def _destdir_install(mcferry_bin, dest):
    r = subprocess.run(["meson", "install", "-C", T.BUILD, "--no-rebuild",
                        "--destdir", str(dest)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    found = {}
    for d, _dirs, files in os.walk(dest):
        for f in files:
            found[f] = os.path.join(d, f)
    return found


def test_install_destdir_has_binary_units_man_pages_examples(mcferry_bin,
                                                             tmp_path):
    found = _destdir_install(mcferry_bin, tmp_path / "root")
    for f in ("mcferry", "mcferry.service", "mcferry@.service", "mcferry.1",
              "mcferry.conf.5", "seed.conf", "islands.conf"):
        assert f in found, (f, sorted(found))
    r = subprocess.run([found["mcferry"], "--version"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("mcferry "), r


HARDENING = ["Type=notify", "DynamicUser=yes", "ProtectSystem=strict",
             "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
             "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
             "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
             "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
             "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID"]


def test_units_pass_systemd_analyze_verify(mcferry_bin, tmp_path):
    """systemd-analyze verify --root: the installed units in a throwaway
    root that holds the binary at /usr/bin/mcferry (where ExecStart looks)
    and the host's system units (targets the units refer to); --man=no as
    the man pages are not installed on the host. Verify prints warnings
    with exit 0, so its output must be empty too."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed (scripts/deps.sh)")
    found = _destdir_install(mcferry_bin, tmp_path / "dest")
    root = tmp_path / "root"
    os.makedirs(root / "usr/bin")
    os.makedirs(root / "etc/systemd/system")
    os.makedirs(root / "lib/systemd")
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system",
                    symlinks=True)
    shutil.copy(found["mcferry"], root / "usr/bin/mcferry")
    for u in ("mcferry.service", "mcferry@.service"):
        text = open(found[u]).read()
        for h in HARDENING:
            assert h in text, (u, h)
        shutil.copy(found[u], root / "etc/systemd/system" / u)
    assert "/etc/mcferry/%i.conf" in open(found["mcferry@.service"]).read()

    def verify(*units):
        return subprocess.run(["systemd-analyze", "verify", "--man=no",
                               "--root=%s" % root] + list(units),
                              capture_output=True, text=True, timeout=60,
                              cwd=str(tmp_path))
    r = verify("mcferry.service", "mcferry@test.service")
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        r.stdout + r.stderr
    # verify does look: without the binary it fails
    os.unlink(root / "usr/bin/mcferry")
    r = verify("mcferry.service")
    assert r.returncode != 0 and "/usr/bin/mcferry" in r.stderr, r


@pytest.mark.skipif(os.environ.get("MCFERRY_TEST_DEB") == "0",
                    reason="MCFERRY_TEST_DEB=0: no package build")
def test_make_deb_builds_a_package_that_runs(mcferry_bin, tmp_path):
    out = tmp_path / "deb"
    r = subprocess.run(["make", "-C", REPO, "deb", "DEB_OUT=%s" % out],
                       capture_output=True, text=True, timeout=900)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-5000:]
    assert not re.search(r"^E: ", log, re.M), log[-5000:]
    debs = [f for f in os.listdir(out) if re.match(r"mcferry_.*\.deb$", f)]
    assert len(debs) == 1, os.listdir(out)
    deb = str(out / debs[0])
    files = subprocess.run(["dpkg", "-c", deb], capture_output=True,
                           text=True, timeout=30).stdout
    for f in ("./usr/bin/mcferry", "/mcferry.service", "/mcferry@.service",
              "./usr/share/man/man1/mcferry.1.gz",
              "./usr/share/man/man5/mcferry.conf.5.gz",
              "./usr/share/doc/mcferry/examples/seed.conf"):
        assert f in files, (f, files)
    root = tmp_path / "x"
    subprocess.run(["dpkg", "-x", deb, str(root)], check=True, timeout=30)
    v = subprocess.run([str(root / "usr/bin/mcferry"), "--version"],
                       capture_output=True, text=True, timeout=10)
    assert v.returncode == 0 and re.match(r"mcferry \d+\.\d+", v.stdout), v
