"""Small topology library for the mcferry namespace tests.

Everything here builds real networks out of `ip netns`, veth pairs and
bridges, starts real processes inside them and tears all of it down again.
Names carry a per-topology random prefix ("mf" + 4 hex digits) so two runs
never collide and teardown only ever touches what this run created.

Python sockets are created *inside* a namespace by switching the calling
thread into it with setns(2) (see `Netns.entered`); a socket stays in the
namespace it was created in, so the test can use it from the root namespace
afterwards.
"""

import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
IP_ADD_SOURCE_MEMBERSHIP = 39          # missing from Python's socket module
_libc = ctypes.CDLL(None, use_errno=True)

BUILD = os.environ.get("MCFERRY_BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
BUILD = os.path.abspath(BUILD)
MCFERRY = os.path.join(BUILD, "mcferry")
# MCFERRY_TOOLS may point at another directory holding mcsend and mcrecv
TOOLS = os.path.abspath(os.environ.get("MCFERRY_TOOLS")
                        or os.path.join(BUILD, "tests", "tools"))
MCSEND = os.path.join(TOOLS, "mcsend")
MCRECV = os.path.join(TOOLS, "mcrecv")

# Sanitizer plumbing (`make asan`). With MCFERRY_SANITIZE=1, or when the
# build directory is build-asan, every process gets ASAN_OPTIONS and
# UBSAN_OPTIONS that send its reports to a file (LOGDIR/TAG.san.PID: the
# runtime adds the pid) and make it exit SAN_EXIT, and conftest.py fails
# the test whose processes left a report. Without it nothing changes.
# Both option strings name the same file and exit code: in a clang build
# the UBSan flags are parsed last and win for ASan and LeakSanitizer too.
SANITIZE = (os.environ.get("MCFERRY_SANITIZE") == "1"
            or os.path.basename(BUILD) == "build-asan")
SAN_EXIT = 66
# What a report looks like on stderr: a runtime that could not open its
# log file (a process that dropped privileges), or a GCC build, whose UBSan
# ignores log_path when linked with ASan, prints there instead.
SAN_STDERR_RX = re.compile(r"ERROR: \w*Sanitizer|runtime error:|"
                           r"SUMMARY: \w*Sanitizer")
# Every Proc started by this Python process, in order: the per-test check
# in conftest.py looks at the ones started during the test.
ALL_PROCS = []


def sanitizer_env(prefix, base=None):
    """The environment `base` (default os.environ) with sanitizer options
    that log reports to PREFIX.san.PID."""
    env = dict(os.environ if base is None else base)
    common = ["log_path=%s.san" % prefix, "halt_on_error=1",
              "abort_on_error=0", "print_stacktrace=1",
              "exitcode=%d" % SAN_EXIT]
    env["ASAN_OPTIONS"] = ":".join(common + ["detect_leaks=1"])
    env["UBSAN_OPTIONS"] = ":".join(common)
    return env


def sanitizer_logs(prefix):
    """Non-empty sanitizer report files written under PREFIX."""
    d, base = os.path.split(prefix)
    out = []
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return out
    for n in names:
        if not n.startswith(base + ".san."):
            continue
        path = os.path.join(d, n)
        if os.path.getsize(path) > 0:
            out.append(path)
    return out


SAN_HEAD_LINES = 25


def _san_head(text):
    lines = text.splitlines()
    return "\n".join("   | " + l for l in lines[:SAN_HEAD_LINES]) + (
        "\n   | ..." if len(lines) > SAN_HEAD_LINES else "")


def sanitizer_report(procs, exec_prefix):
    """Every sanitizer problem of procs (stopped first if still running)
    and every report under exec_prefix, as text naming each file with its
    first lines; "" when there is none."""
    problems = []
    for p in procs:
        if p.alive():
            p.stop(timeout=3)
        for where, text in p.sanitizer_problems():
            problems.append("%s (%s)\n%s" % (where, " ".join(p.argv),
                                              _san_head(text)))
    for path in sanitizer_logs(exec_prefix):
        with open(path, "rb") as f:
            problems.append("%s\n%s" % (path, _san_head(
                f.read().decode("utf-8", "replace"))))
    return "\n".join(problems)


class TopoError(Exception):
    pass


# mcferry starts each log line with an RFC 3339 UTC timestamp, e.g.
# "2026-12-01T22:16:43.123Z info relay=a ready" (mcferry(1), LOGS). Tests
# match what follows it, so patterns anchored at "^" keep working.
LOG_TS_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", re.M)


def strip_log_ts(text):
    """The log text without the timestamp at the start of each line."""
    return LOG_TS_RX.sub("", text)


def run(argv, check=True, timeout=20, **kw):
    """Run a short command in the root namespace; raise with its output."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise TopoError("%s -> %d\n%s%s" % (" ".join(argv), p.returncode,
                                            p.stdout, p.stderr))
    return p


def new_prefix():
    return "mf" + secrets.token_hex(2)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


# --------------------------------------------------------------------------
# processes

class Proc:
    """A process started inside a namespace; stdout/stderr go to files.

    `ip netns exec` execs the command directly, so `self.pid` is the
    process itself and signals go exactly where they are meant to.
    """

    def __init__(self, ns, argv, logdir, tag, stdin=None):
        self.ns = ns
        self.argv = list(argv)
        self.tag = tag
        self.out_path = os.path.join(logdir, tag + ".out")
        self.err_path = os.path.join(logdir, tag + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        full = ["ip", "netns", "exec", ns.name] + self.argv if ns else self.argv
        self.san_prefix = os.path.join(logdir, tag)
        env = sanitizer_env(self.san_prefix) if SANITIZE else None
        self.started = time.monotonic()
        self.p = subprocess.Popen(full, stdout=self._out, stderr=self._err,
                                  stdin=stdin if stdin is not None
                                  else subprocess.DEVNULL,
                                  start_new_session=True, env=env)
        self.pid = self.p.pid
        ALL_PROCS.append(self)

    # -- logs
    def raw_stderr(self):
        """stderr as written, timestamps included."""
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        """stderr without the log timestamps (see strip_log_ts)."""
        return strip_log_ts(self.raw_stderr())

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, regex, timeout=10.0, count=1, stream="stderr"):
        """Poll the log until `regex` has matched `count` lines.

        Returns the list of matches.  Raises TopoError (with the log) if the
        process dies first or the timeout passes.
        """
        deadline = time.monotonic() + timeout
        while True:
            exited = self.p.poll() is not None
            # read after the exit check: a last line may land just before exit
            found = self.log_matches(regex, stream)
            if len(found) >= count:
                return found
            if exited:
                raise TopoError("%s exited (rc=%s) before /%s/ x%d:\n%s" % (
                    self.tag, self.p.returncode, regex, count, self.describe()))
            if time.monotonic() > deadline:
                raise TopoError("timeout %.1fs waiting for /%s/ x%d in %s:\n%s"
                                % (timeout, regex, count, self.tag,
                                   self.describe()))
            time.sleep(0.01)

    def log_matches(self, regex, stream="stderr"):
        rx = re.compile(regex)
        text = self.stderr() if stream == "stderr" else self.stdout()
        return [m for m in (rx.search(l) for l in text.splitlines()) if m]

    def describe(self, tail=60):
        def t(s):
            lines = s.splitlines()
            return "\n".join(("   | " + l) for l in lines[-tail:])
        return "--- %s: %s (pid %d, rc=%s)\n  stdout:\n%s\n  stderr:\n%s" % (
            self.tag, " ".join(self.argv), self.pid, self.p.poll(),
            t(self.stdout()), t(self.raw_stderr()))

    def sanitizer_problems(self):
        """What the sanitizers said about this process: (where, text)
        pairs from its report files, its stderr and its exit code."""
        found = []
        for path in sanitizer_logs(self.san_prefix):
            with open(path, "rb") as f:
                found.append((path, f.read().decode("utf-8", "replace")))
        err = self.stderr()
        if SAN_STDERR_RX.search(err):
            found.append((self.err_path, err))
        rc = self.p.poll()
        if rc == SAN_EXIT and not found:
            found.append(("%s exit status" % self.tag,
                          "exited %d (a sanitizer exit code) with no report "
                          "file\n%s" % (rc, err)))
        return found

    # -- lifecycle
    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TopoError("%s still running after %.1fs:\n%s" % (
                self.tag, timeout, self.describe()))

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal by PID, wait; SIGKILL if it does not go.  Returns rc."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)   # in case it was stopped
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout=5)
        self.close_files()
        return self.p.returncode

    def close_files(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except Exception:
                pass


# --------------------------------------------------------------------------
# namespaces

class Netns:
    def __init__(self, topo, name):
        self.topo = topo
        self.name = name
        run(["ip", "netns", "add", name])
        self.ip("link", "set", "lo", "up")
        # no duplicate address detection: IPv6 addresses are usable at once
        self.sysctl("net.ipv6.conf.all.accept_dad", 0)
        self.sysctl("net.ipv6.conf.default.accept_dad", 0)

    def __repr__(self):
        return "Netns(%s)" % self.name

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.name] + [str(a) for a in args],
                   check=check)

    def sysctl(self, key, value):
        run(["ip", "netns", "exec", self.name, "sysctl", "-qw",
             "%s=%s" % (key, value)])

    def exec(self, argv, check=False, timeout=20, input=None):
        """Run a command to completion inside the namespace."""
        return run(["ip", "netns", "exec", self.name] + [str(a) for a in argv],
                   check=check, timeout=timeout, input=input)

    def spawn(self, argv, tag=None, stdin=None):
        return self.topo.spawn(self, argv, tag=tag, stdin=stdin)

    @contextlib.contextmanager
    def entered(self):
        """Switch the calling thread into this namespace for the block."""
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield self
            finally:
                _setns(orig)
        finally:
            os.close(target)
            os.close(orig)

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM):
        with self.entered():
            return socket.socket(family, type)

    def ifindex(self, ifname):
        with self.entered():
            return socket.if_nametoindex(ifname)

    def delete(self):
        run(["ip", "netns", "del", self.name], check=False)


class Topology:
    """Owns namespaces and processes; `close()` removes all of them."""

    def __init__(self, logdir, prefix=None):
        self.prefix = prefix or new_prefix()
        self.logdir = str(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self.namespaces = []
        self.procs = []
        self._tags = {}

    def netns(self, short):
        ns = Netns(self, self.prefix + short)
        self.namespaces.append(ns)
        return ns

    def veth(self, ns1, if1, ns2, if2):
        """A veth pair created straight inside two namespaces."""
        run(["ip", "link", "add", if1, "netns", ns1.name, "type", "veth",
             "peer", "name", if2, "netns", ns2.name])
        ns1.ip("link", "set", if1, "up")
        ns2.ip("link", "set", if2, "up")

    def bridge(self, ns, name):
        ns.ip("link", "add", name, "type", "bridge", "mcast_snooping", "0")
        ns.ip("link", "set", name, "up")

    def spawn(self, ns, argv, tag=None, stdin=None):
        base = tag or os.path.basename(str(argv[0]))
        n = self._tags.get(base, 0)
        self._tags[base] = n + 1
        p = Proc(ns, [str(a) for a in argv], self.logdir,
                 base if n == 0 else "%s.%d" % (base, n), stdin=stdin)
        self.procs.append(p)
        return p

    def describe_procs(self):
        return "\n".join(p.describe() for p in self.procs)

    def close(self):
        for p in reversed(self.procs):
            try:
                p.stop(timeout=3)
            except Exception:
                pass
        for ns in reversed(self.namespaces):
            ns.delete()
        self.namespaces = []


def print_logs_if_failed(request, t):
    """In a fixture's teardown: when the test's setup or call failed, print
    every process log of topology t (pytest shows it under "Captured stdout
    teardown")."""
    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    if failed:
        print("\n==== process logs (prefix %s, dir %s) ====" % (
            t.prefix, t.logdir))
        print(t.describe_procs())


def add_addr(ns, ifname, cidr):
    if ":" in cidr:
        ns.ip("-6", "addr", "add", cidr, "dev", ifname, "nodad")
    else:
        ns.ip("addr", "add", cidr, "dev", ifname)


def add_mcast_routes(ns, ifname):
    ns.ip("route", "add", "224.0.0.0/4", "dev", ifname)
    ns.ip("-6", "route", "add", "ff00::/8", "dev", ifname, "table", "main")


class Islands:
    """Two multicast islands joined only by a unicast router.

    Island X (X = a, b; n = 1, 2):
      gw namespace  P+X      bridge br0 = the island LAN, 10.n.0.1/24,
                             fd00:n::1/64; wan0 = 10.255.n.2/24,
                             fd00:ff0n::2/64 towards R
      host P+X+k  (k=1..)    lan0 = 10.n.0.(10+k)/24, fd00:n::(10+k)/64,
                             enslaved (peer end) to the gw's br0
    Router R (P+r): wan1 = 10.255.1.1/24, wan2 = 10.255.2.1/24, forwarding
    on for unicast only (no multicast routing daemon: multicast stays home).
    """

    def __init__(self, topo, hosts=2):
        self.topo = topo
        self.r = topo.netns("r")
        self.gw = {}
        self.hosts = {}
        for ns in (self.r,):
            ns.sysctl("net.ipv4.ip_forward", 1)
            ns.sysctl("net.ipv6.conf.all.forwarding", 1)
        for x, n in (("a", 1), ("b", 2)):
            gw = topo.netns(x)
            gw.sysctl("net.ipv4.ip_forward", 1)
            gw.sysctl("net.ipv6.conf.all.forwarding", 1)
            topo.bridge(gw, "br0")
            add_addr(gw, "br0", "10.%d.0.1/24" % n)
            add_addr(gw, "br0", "fd00:%d::1/64" % n)
            topo.veth(gw, "wan0", self.r, "wan%d" % n)
            add_addr(gw, "wan0", "10.255.%d.2/24" % n)
            add_addr(gw, "wan0", "fd00:ff0%d::2/64" % n)
            add_addr(self.r, "wan%d" % n, "10.255.%d.1/24" % n)
            add_addr(self.r, "wan%d" % n, "fd00:ff0%d::1/64" % n)
            gw.ip("route", "add", "default", "via", "10.255.%d.1" % n)
            gw.ip("-6", "route", "add", "default", "via", "fd00:ff0%d::1" % n)
            add_mcast_routes(gw, "br0")
            self.r.ip("route", "add", "10.%d.0.0/24" % n,
                      "via", "10.255.%d.2" % n)
            self.r.ip("-6", "route", "add", "fd00:%d::/64" % n,
                      "via", "fd00:ff0%d::2" % n)
            self.gw[x] = gw
            self.hosts[x] = []
            for k in range(1, hosts + 1):
                h = topo.netns("%s%d" % (x, k))
                topo.veth(h, "lan0", gw, "p%d" % k)
                gw.ip("link", "set", "p%d" % k, "master", "br0")
                add_addr(h, "lan0", "10.%d.0.%d/24" % (n, 10 + k))
                add_addr(h, "lan0", "fd00:%d::%d/64" % (n, 10 + k))
                h.ip("route", "add", "default", "via", "10.%d.0.1" % n)
                h.ip("-6", "route", "add", "default", "via", "fd00:%d::1" % n)
                add_mcast_routes(h, "lan0")
                self.hosts[x].append(h)

    # addresses, for readability in tests
    @staticmethod
    def host_addr(x, k, v6=False):
        n = 1 if x == "a" else 2
        return ("fd00:%d::%d" % (n, 10 + k)) if v6 else "10.%d.0.%d" % (n, 10 + k)

    @staticmethod
    def gw_lan(x, v6=False):
        n = 1 if x == "a" else 2
        return ("fd00:%d::1" % n) if v6 else "10.%d.0.1" % n

    @staticmethod
    def gw_wan(x, v6=False):
        n = 1 if x == "a" else 2
        return ("fd00:ff0%d::2" % n) if v6 else "10.255.%d.2" % n

    @staticmethod
    def r_addr(x, v6=False):
        n = 1 if x == "a" else 2
        return ("fd00:ff0%d::1" % n) if v6 else "10.255.%d.1" % n


class Solo:
    """One namespace with a veth pair looped inside it (lan0 <-> lan1).

    lan0 = 10.9.0.1/24, lan1 = 10.9.0.2/24; multicast routed out of lan0.
    For CLI tests that need a real interface but no second host.
    """

    def __init__(self, topo):
        self.ns = topo.netns("s")
        topo.veth(self.ns, "lan0", self.ns, "lan1")
        add_addr(self.ns, "lan0", "10.9.0.1/24")
        add_addr(self.ns, "lan1", "10.9.0.2/24")
        add_mcast_routes(self.ns, "lan0")


# --------------------------------------------------------------------------
# python multicast endpoints

def mcast_sender(ns, ifaddr=None, ifname=None, v6=False, ttl=1):
    """A UDP socket in `ns` that sends multicast out of the given interface."""
    if v6:
        s = ns.socket(socket.AF_INET6)
        idx = ns.ifindex(ifname)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    else:
        s = ns.socket(socket.AF_INET)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                     socket.inet_aton(ifaddr))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.bind((ifaddr, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


class UdpReceiver:
    """Joins a group inside a namespace and records every datagram.

    A background thread appends (monotonic_time, bytes) to `self.got`.
    """

    def __init__(self, ns, group, port, ifaddr=None, ifname=None,
                 v6=False, source=None, rcvbuf=8 << 20):
        self.group, self.port = group, port
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        s = ns.socket(fam)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if v6:
            idx = ns.ifindex(ifname)
            s.bind((group, port, 0, idx))
            mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack(
                "@I", idx)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        else:
            s.bind((group, port))
            # only this socket's memberships, not every group on the host
            s.setsockopt(socket.IPPROTO_IP, 49, 0)   # IP_MULTICAST_ALL
            if source:
                mreq = (socket.inet_aton(group) + socket.inet_aton(ifaddr)
                        + socket.inet_aton(source))
                s.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, mreq)
            else:
                mreq = socket.inet_aton(group) + socket.inet_aton(ifaddr)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.settimeout(0.05)
        self.sock = s
        self.got = []
        self.cond = threading.Condition()
        self._stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self._stop:
            try:
                data = self.sock.recv(70000)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.cond:
                self.got.append((time.monotonic(), data))
                self.cond.notify_all()

    def wait_for(self, pred, timeout):
        """Wait until pred(self.got) is true; returns its value or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.got)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def snapshot(self):
        with self.cond:
            return list(self.got)

    def clear(self):
        with self.cond:
            self.got = []

    def close(self):
        self._stop = True
        self.t.join(2)
        self.sock.close()


def probe_payload(tag, size):
    head = b"MFPROBE:" + tag.encode() + b":"
    return (head + b"p" * size)[:size] if size >= len(head) else head[:size]


def wait_path_open(send, dest, recv, size, timeout=15.0, interval=0.05):
    """End-to-end readiness: repeat a probe until it comes out at `recv`.

    Then send one final unique probe and wait for it, so that no probe is
    still in flight when the real test traffic starts (the paths keep order).
    Probes have `size` bytes so a raw-mode byte stream stays aligned to the
    chunk size.  Clears `recv` afterwards.  Returns seconds taken.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    probe = probe_payload("open", size)
    while True:
        send.sendto(probe, dest)
        if recv.wait_for(lambda got: any(d == probe for _, d in got),
                         interval):
            break
        if time.monotonic() > deadline:
            raise TopoError("path %s never opened within %.1fs" % (
                dest, timeout))
    final = probe_payload("last%s" % secrets.token_hex(3), size)
    send.sendto(final, dest)
    if not recv.wait_for(lambda got: any(d == final for _, d in got), 5.0):
        raise TopoError("final probe lost on an open path")
    recv.clear()
    return time.monotonic() - t0


# --------------------------------------------------------------------------
# mcsend / mcrecv

def parse_json_summary(text):
    """mcrecv --json prints its summary as one line, the last one."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise TopoError("no JSON summary in mcrecv output:\n" + text)


def wait_file(path, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and not proc.alive():
            raise TopoError("%s exited before writing %s:\n%s" % (
                proc.tag, path, proc.describe()))
        if time.monotonic() > deadline:
            raise TopoError("timeout waiting for %s%s" % (
                path, ("\n" + proc.describe()) if proc else ""))
        time.sleep(0.01)


# --------------------------------------------------------------------------
# mcferry and the test tools as processes

READY_RX = r"\bready\b"


def start_mcferry(ns, args, tag="mcferry", ready=True, timeout=10.0):
    """Start `mcferry ARGS` in ns; by default wait for its `ready` line."""
    p = ns.spawn([MCFERRY] + list(args), tag=tag)
    if ready:
        p.wait_for_log(READY_RX, timeout=timeout)
    return p


def start_mcrecv(ns, args, tag="mcrecv", timeout=10.0):
    """Start mcrecv with --json and a ready file; wait until it is ready."""
    ready = os.path.join(ns.topo.logdir, "%s.%s.ready" % (
        tag, secrets.token_hex(3)))
    p = ns.spawn([MCRECV] + list(args) + ["--json", "--ready-file", ready],
                 tag=tag)
    wait_file(ready, timeout, proc=p)
    return p


def mcrecv_result(p, timeout=30.0):
    """Wait for mcrecv to finish and return its JSON summary."""
    p.wait(timeout)
    return parse_json_summary(p.stdout())


def run_mcsend(ns, args, tag="mcsend", timeout=60.0):
    """Run mcsend to completion; returns the `sent=N` count."""
    p = ns.spawn([MCSEND] + list(args), tag=tag)
    rc = p.wait(timeout)
    out = p.stdout()
    m = re.search(r"sent=(\d+) bytes=(\d+)", out)
    if rc != 0 or not m:
        raise TopoError("mcsend failed (rc=%s):\n%s" % (rc, p.describe()))
    return int(m.group(1))


# mcsend's datagram: u32 magic 'MCSF', u32 stream, u64 seq, u64 send time,
# u32 size, then byte i (i >= 28) = (seq*131 + i) & 0xff.  Big-endian.
MCSF_MAGIC = 0x4D435346
_PAT = bytes(i & 0xff for i in range(70000 + 256))


def mcsf_parse(d):
    """(stream, seq) of a well-formed mcsend datagram, else None."""
    if len(d) < 32:
        return None
    magic, stream, seq, _t, size = struct.unpack_from(">IIQQI", d)
    if magic != MCSF_MAGIC or size != len(d):
        return None
    base = (seq * 131 + 28) & 0xff
    if d[28:] != _PAT[base:base + len(d) - 28]:
        return None
    return stream, seq


def assert_exactly_once(summary, sent, clients=None, what="", size=None):
    """mcrecv summary: every client got every datagram once, intact.

    With `size`, every client must also have got exactly sent*size bytes.
    """
    ctx = "%s\nmcrecv summary: %s" % (what, json.dumps(summary)[:3000])
    per = summary["per_client"]
    if clients is not None:
        assert summary["clients"] == clients, ctx
        assert len(per) == clients, ctx
    for i, c in enumerate(per):
        assert (c["unique"], c["duplicates"], c["bad"], c["lost"]) == \
            (sent, 0, 0, 0), "client %d: %s" % (i, ctx)
        assert c["received"] == sent, "client %d: %s" % (i, ctx)
        if size is not None:
            assert c["bytes"] == sent * size, "client %d: %s" % (i, ctx)
    n = len(per)
    assert summary["unique"] == sent * n, ctx
    assert summary["duplicates"] == 0 and summary["bad"] == 0, ctx


# --------------------------------------------------------------------------
# mcferry link protocol (framing=datagram), enough to build good and bad
# input: 8-byte header (u32 body length, u8 type, u8 flags, u16 reserved),
# then the body.  HELLO body: "MCFY", u8 version, u8 role, u16 reserved,
# u64 node id, u8 island length, island.  See docs/protocol.md.

FT_HELLO, FT_ERROR, FT_PING, FT_PONG, FT_DGRAM = 0x01, 0x02, 0x03, 0x04, 0x10


def frame(ftype, body, flags=0, reserved=0, length=None):
    n = len(body) if length is None else length
    return struct.pack(">IBBH", n, ftype, flags, reserved) + body


def hello(version=1, role=1, node=0x5E57, island=b"pytest", magic=b"MCFY"):
    body = (magic + bytes([version, role]) + b"\0\0" + struct.pack(">Q", node)
            + bytes([len(island)]) + island)
    return frame(FT_HELLO, body)


def dgram(payload):
    return frame(FT_DGRAM, payload)


def parse_frames(buf):
    """Split bytes into (type, body) frames; returns (frames, rest)."""
    out = []
    off = 0
    while len(buf) - off >= 8:
        n, ftype, _fl, _r = struct.unpack_from(">IBBH", buf, off)
        if len(buf) - off - 8 < n:
            break
        out.append((ftype, bytes(buf[off + 8:off + 8 + n])))
        off += 8 + n
    return out, bytes(buf[off:])


def read_until_closed(sock, timeout=5.0):
    """Read everything until the peer closes.

    Returns (bytes, how) with how in {"eof", "reset"}; raises TopoError if
    the connection is still open after `timeout`.
    """
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if time.monotonic() > deadline:
                raise TopoError("connection still open after %.1fs" % timeout)
            continue
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk


# --------------------------------------------------------------------------
# hub-link frames and raw protocol peers (test_exposure.py)

FT_DATA, FT_JOIN, FT_EXPORT, FT_FORWARDER = 0x11, 0x20, 0x22, 0x24
ERR_REFUSED = 18          # FRAME_ERRCODE_REFUSED: a JOIN/EXPORT over a cap


def channel_wire(group, port, source="0.0.0.0"):
    """An IPv4 channel as the wire has it: family, 0, port, group, source."""
    return (struct.pack(">BBH", 4, 0, port) + socket.inet_aton(group)
            + socket.inet_aton(source))


def join(group, port):
    return frame(FT_JOIN, channel_wire(group, port))


def export(group, port):
    return frame(FT_EXPORT, channel_wire(group, port))


def ping(token=0):
    return frame(FT_PING, struct.pack(">Q", token))


def data(group, port, origin, seq, payload, hops=0, sport=1234):
    """A DATA frame: hops, 0, sender port, origin, seq, channel, payload."""
    return frame(FT_DATA, struct.pack(">BBHQQ", hops, 0, sport, origin, seq)
                 + channel_wire(group, port) + payload)


def data_seq(body):
    """(origin, seq, payload) of a DATA frame's body."""
    _h, _z, _p, origin, seq = struct.unpack_from(">BBHQQ", body)
    return origin, seq, body[32:]


class RawPeer:
    """A python link-protocol peer on a TCP connection: sends HELLO, reads
    every frame into `frames` in a thread, and pings every `ping_every`
    seconds so a hub keeps it (0: never)."""

    def __init__(self, ns, host, port, role=3, island=b"py", node=0x5E57,
                 ping_every=0.5, rcvbuf=None, read=True):
        with ns.entered():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect((host, port))
        s.settimeout(None)
        self.sock = s
        self.frames = []
        self.cond = threading.Condition()
        self.closed = None            # "eof" or "reset" once it happened
        self._stop = False
        self._wlock = threading.Lock()
        self.send(hello(role=role, node=node, island=island))
        self.threads = []
        if read:
            self.threads.append(threading.Thread(target=self._read,
                                                 daemon=True))
        if ping_every:
            self._every = ping_every
            self.threads.append(threading.Thread(target=self._ping,
                                                 daemon=True))
        for t in self.threads:
            t.start()

    def send(self, b):
        with self._wlock:
            self.sock.sendall(b)

    def _read(self):
        buf = b""
        while not self._stop:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                chunk = None
            if not chunk:
                with self.cond:
                    self.closed = "eof" if chunk == b"" else "reset"
                    self.cond.notify_all()
                return
            got, buf = parse_frames(buf + chunk)
            if got:
                with self.cond:
                    self.frames += got
                    self.cond.notify_all()

    def _ping(self):
        k = 0
        while not self._stop and self.closed is None:
            try:
                self.send(ping(k))
            except OSError:
                return
            k += 1
            time.sleep(self._every)

    def of_type(self, ftype):
        with self.cond:
            return [b for t, b in self.frames if t == ftype]

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for t in self.threads:
            t.join(2)


def proc_rss_kib(pid):
    """VmRSS of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TopoError("no VmRSS for pid %d" % pid)


def proc_cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_nofile(n):
    """Raise this process's descriptor soft limit to n (within the hard
    limit); children inherit it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
