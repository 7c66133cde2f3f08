"""Fixtures for the mcferry namespace tests (see tests/README.md)."""

import os
import secrets

import pytest

import hubtopo as H
import topo as T


def pytest_configure(config):
    config.addinivalue_line("markers", "tools: needs mcsend/mcrecv")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("namespace tests need root (ip netns, veth, bridges)")


@pytest.fixture(scope="session")
def mcferry_bin():
    _need_root()
    assert os.access(T.MCFERRY, os.X_OK), (
        "mcferry binary not found at %s (build with `make`, or set "
        "MCFERRY_BUILD)" % T.MCFERRY)
    return T.MCFERRY


@pytest.fixture(scope="session")
def tools():
    _need_root()
    for t in (T.MCSEND, T.MCRECV):
        assert os.access(t, os.X_OK), "test tool missing: %s" % t
    return T.MCSEND, T.MCRECV


@pytest.fixture
def topo(request, tmp_path):
    _need_root()
    t = T.Topology(tmp_path / "logs")
    try:
        yield t
    finally:
        T.print_logs_if_failed(request, t)
        t.close()


@pytest.fixture
def islands(topo):
    return T.Islands(topo, hosts=3)


@pytest.fixture
def solo(topo):
    return T.Solo(topo)


# Sanitizer check (`make asan`, see topo.SANITIZE): after each test, and
# after the topology fixture has stopped its processes (an autouse fixture
# is set up first, so it is torn down last), fail the test when a process
# it started left a sanitizer report. Processes started through Proc log
# to LOGDIR/TAG.san.PID; the rest (ns.exec, T.run) inherit options that
# log to TMP/sanitize/exec.san.PID.
@pytest.fixture(autouse=True)
def sanitizer_check(request, tmp_path):
    if not T.SANITIZE:
        yield
        return
    sandir = tmp_path / "sanitize"
    sandir.mkdir()
    saved = {k: os.environ.get(k) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")}
    os.environ.update(T.sanitizer_env(str(sandir / "exec"), base={}))
    first = len(T.ALL_PROCS)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    report = T.sanitizer_report(T.ALL_PROCS[first:], str(sandir / "exec"))
    if report:
        pytest.fail("sanitizer report(s) from processes of %s:\n%s" % (
            request.node.nodeid, report), pytrace=False)


@pytest.fixture
def net(request, tmp_path, mcferry_bin, tools):
    """A fresh hub topology (hubtopo.HubNet) under its own prefix ("mh" +
    4 hex digits); removes every process (by PID) and namespace it made,
    pass or fail."""
    t = T.Topology(tmp_path / "logs", prefix="mh" + secrets.token_hex(2))
    n = None
    try:
        n = H.HubNet(t)
        yield n
    finally:
        if n is not None:
            n.close()
        T.print_logs_if_failed(request, t)
        t.close()
