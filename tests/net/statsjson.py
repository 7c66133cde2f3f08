"""Counters from mcferry --stats-json: one JSON object per series and line
on the process's stdout, every series written again at each report.

    {"metric":"mcferry_relay_in_datagrams_total","labels":{"relay":"relay"},"value":10}

Tests read counters here (names in docs/metrics.md), never from log prose.
"""

import json
import time

import topo as T

RELAY = "mcferry_relay_"


def reports(p, service="relay"):
    """Every report of service `service` in p's stdout, oldest first, each a
    dict {metric: value}. A report is the run of lines one tick wrote: a new
    one starts where a metric repeats. While p runs, the last report may
    still be being written: it counts only once it has as many series as
    an earlier, finished one."""
    done = p.p.poll() is not None   # before reading: then the text is whole
    out, cur = [], {}
    # the text after the last newline is a line still being written
    for line in p.stdout().split("\n")[:-1]:
        o = json.loads(line)
        if o["labels"].get("relay") != service:
            continue
        if o["metric"] in cur:
            out.append(cur)
            cur = {}
        cur[o["metric"]] = o["value"]
    if cur and (done or (out and len(cur) >= len(out[0]))):
        out.append(cur)
    return out


def wait_report(p, pred, service="relay", timeout=10.0, after=0):
    """The first report (from index `after` on) for which pred(report) is
    true; raises TopoError with every report seen if none comes in time."""
    deadline = time.monotonic() + timeout
    while True:
        exited = p.p.poll() is not None
        got = reports(p, service)
        for r in got[after:]:
            if pred(r):
                return r
        if exited or time.monotonic() > deadline:
            raise T.TopoError("no matching --stats-json report of %s (%s)"
                              "; reports:\n%s\n%s" % (
                                  service, "exited" if exited else "timeout",
                                  "\n".join(map(json.dumps, got[-10:])),
                                  p.describe()))
        time.sleep(0.02)
