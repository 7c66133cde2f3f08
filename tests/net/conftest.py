"""Fixtures for the mcferry namespace tests (see tests/README.md)."""

import os

import pytest

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
