"""Readings from /proc for the benchmark: CPU, memory, children, counters.

Every function takes a PID and reads /proc/PID/...; a process that is gone
gives None (or 0 where a sum is asked for), never an exception, because a
relay may exit at any moment of a run and the benchmark reports that rather
than failing. /proc/PID/net/* shows the network namespace of PID, so the
relay namespace's counters are read through the relay's own PID without
entering the namespace.
"""

import os
import re

HZ = os.sysconf("SC_CLK_TCK")


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name; None if gone."""
    s = _read("/proc/%d/stat" % pid)
    if not s:
        return None
    return s[s.rindex(")") + 2:].split()


def alive(pid):
    f = _stat_fields(pid)
    return f is not None and f[0] not in ("Z", "X")


def cpu_ticks(pid):
    """utime + stime of PID in clock ticks."""
    f = _stat_fields(pid)
    return None if f is None else int(f[11]) + int(f[12])


def children(pid):
    """PIDs of PID's live children (every thread's list)."""
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        s = _read("/proc/%d/task/%s/children" % (pid, t))
        if s:
            out.extend(int(c) for c in s.split())
    return out


def tree_ticks(pid):
    """utime+stime of PID, of its reaped children (cutime+cstime) and of
    its live children."""
    f = _stat_fields(pid)
    if f is None:
        return None
    t = sum(int(x) for x in f[11:15])
    for c in children(pid):
        t += cpu_ticks(c) or 0
    return t


def tree_syscw(pid):
    """Write system calls (write, writev, sendfile, ...: syscw of
    /proc/PID/io) of PID and its live children; None if it is gone."""
    total = None
    for p in [pid] + children(pid):
        t = _read("/proc/%d/io" % p)
        m = t and re.search(r"^syscw: (\d+)", t, re.M)
        if m:
            total = (total or 0) + int(m.group(1))
    return total


def tree_syscr(pid):
    """Read system calls (read, readv, recvmsg, ...: syscr of /proc/PID/io)
    of PID and its live children; None if it is gone."""
    total = None
    for p in [pid] + children(pid):
        t = _read("/proc/%d/io" % p)
        m = t and re.search(r"^syscr: (\d+)", t, re.M)
        if m:
            total = (total or 0) + int(m.group(1))
    return total


def tcp_queues(pid, port, local):
    """[(tx_queue, rx_queue)] in bytes of the established TCP sockets of
    PID's namespace (/proc/net/tcp and tcp6: IPv4 peers of a dual-stack
    socket are in tcp6) whose local (LOCAL true) or remote port is PORT;
    None if PID is gone. tx_queue is what the socket's owner wrote that the
    peer has not acknowledged, rx_queue what arrived that its owner has not
    read yet (payload bytes)."""
    s = _read("/proc/%d/net/tcp" % pid)
    if s is None:
        return None
    s6 = _read("/proc/%d/net/tcp6" % pid) or ""
    out = []
    for line in s.splitlines()[1:] + s6.splitlines()[1:]:
        f = line.split()
        if len(f) < 5 or f[3] != "01":
            continue
        if int(f[1 if local else 2].split(":")[1], 16) != port:
            continue
        t, r = f[4].split(":")
        out.append((int(t, 16), int(r, 16)))
    return out


def udp_rx_queue(pid, port):
    """Sum of rx_queue of the UDP sockets bound to PORT in PID's namespace
    (/proc/net/udp): kernel memory charged for unread datagrams, their
    skb truesize, not their payload; None if PID is gone."""
    s = _read("/proc/%d/net/udp" % pid)
    if s is None:
        return None
    q = 0
    for line in s.splitlines()[1:]:
        f = line.split()
        if len(f) >= 13 and int(f[1].split(":")[1], 16) == port:
            q += int(f[4].split(":")[1], 16)
    return q


def run_delay_ns(pid):
    """Time PID's threads spent runnable but waiting for a CPU, ns (second
    field of /proc/PID/task/*/schedstat); None if it is gone."""
    total = None
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tasks:
        f = (_read("/proc/%d/task/%s/schedstat" % (pid, t)) or "").split()
        if len(f) >= 2:
            total = (total or 0) + int(f[1])
    return total


def status_kb(pid, field):
    """VmRSS / VmHWM of PID in kB."""
    s = _read("/proc/%d/status" % pid)
    for line in (s or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def tree_rss(pid):
    """VmRSS of PID plus its children, kB."""
    r = status_kb(pid, "VmRSS")
    if r is None:
        return None
    return r + sum(status_kb(c, "VmRSS") or 0 for c in children(pid))


def tree_pss(pid):
    """Pss of PID plus its children, kB (shared pages counted once overall)."""
    t = 0
    for p in [pid] + children(pid):
        for line in (_read("/proc/%d/smaps_rollup" % p) or "").splitlines():
            if line.startswith("Pss:"):
                t += int(line.split()[1])
    return t


def socket_fds(pid):
    """How many of PID's descriptors are sockets."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def udp_sockets(pid, port):
    """{inode: drops} of the UDP sockets bound to PORT in PID's namespace
    (/proc/net/udp, last column), or None if PID is gone."""
    s = _read("/proc/%d/net/udp" % pid)
    if s is None:
        return None
    out = {}
    for line in s.splitlines()[1:]:
        f = line.split()
        if len(f) >= 13 and int(f[1].split(":")[1], 16) == port:
            out[f[9]] = int(f[12])
    return out


def _proto_table(text, proto):
    """"Proto: names" / "Proto: values" line pairs as a dict."""
    names = vals = None
    for line in (text or "").splitlines():
        if line.startswith(proto + ":"):
            if names is None:
                names = line.split()[1:]
            else:
                vals = line.split()[1:]
    if not names or not vals:
        return {}
    return dict(zip(names, (int(v) for v in vals)))


def udp_counters(snmp):
    """(RcvbufErrors, InErrors) from the text of a /proc/net/snmp."""
    t = _proto_table(snmp, "Udp")
    return (t["RcvbufErrors"], t["InErrors"]) if t else None


def tcpext(netstat, names):
    """TcpExt counters NAMES from the text of a /proc/net/netstat."""
    t = _proto_table(netstat, "TcpExt")
    return {n: t.get(n, 0) for n in names} if t else None


def host_cpu():
    """(busy, total) jiffies of all CPUs (busy = all but idle + iowait)."""
    f = _read("/proc/stat").splitlines()[0].split()
    v = [int(x) for x in f[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def host_busy(h0, h1):
    """% of all CPUs busy between two host_cpu() readings."""
    if not h0 or not h1 or h1[1] <= h0[1]:
        return None
    return 100.0 * (h1[0] - h0[0]) / (h1[1] - h0[1])


def pct(t0, t1, secs):
    """CPU in % of one core between two tick readings over SECS."""
    if t0 is None or t1 is None or secs <= 0:
        return None
    return 100.0 * (t1 - t0) / HZ / secs


def tcp_listening(pid, port):
    """Whether a socket listens on TCP PORT in PID's namespace."""
    s = _read("/proc/%d/net/tcp" % pid) or ""
    for line in s.splitlines()[1:]:
        f = line.split()
        if len(f) > 3 and f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
            return True
    return False
