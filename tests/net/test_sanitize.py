"""The `make asan` check itself: a sanitizer report from any process a test
starts fails that test (conftest.sanitizer_check). Proven with a throwaway
C program built with -fsanitize=address,undefined that leaks, overflows or
hits undefined behaviour on request. Runs only under MCFERRY_SANITIZE=1."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import topo as T

pytestmark = pytest.mark.skipif(not T.SANITIZE,
                                reason="sanitizer runs only (make asan)")

HERE = os.path.dirname(os.path.abspath(__file__))

BAD_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Out of line, and many times over: a stale copy of a pointer in a
 * register or stack slot hides that one block from LeakSanitizer, never
 * all of them. */
__attribute__((noinline)) static void lose(int i)
{
	char *volatile p = malloc(77 + i);

	memset(p, 1, 77);
	p = NULL;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "clean";
	char junk[256];

	if (!strcmp(m, "leak")) {
		for (int i = 0; i < 64; i++)
			lose(i);
		memset(junk, 0, sizeof(junk));
		__asm__ volatile("" : : "r"(junk) : "memory");
	} else if (!strcmp(m, "overflow")) {
		char *p = malloc(8);
		volatile int i = 8;

		p[i] = 1;
		free(p);
	} else if (!strcmp(m, "ub")) {
		volatile int x = 0x7fffffff;

		x += argc;
		return x == 0;
	}
	return 0;
}
"""


@pytest.fixture(scope="module")
def bad_bin(tmp_path_factory):
    cc = shutil.which("clang") or shutil.which("cc")
    d = tmp_path_factory.mktemp("sanbin")
    src = d / "bad.c"
    src.write_text(BAD_C)
    out = d / "bad"
    subprocess.run([cc, "-g", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", "-o", str(out),
                    str(src)], check=True)
    return str(out)


def _run(bad_bin, mode, logdir):
    p = T.Proc(None, [bad_bin, mode], str(logdir), "bad-" + mode)
    p.wait(20)
    p.close_files()
    # Checked here, not again by this test's own sanitizer_check.
    T.ALL_PROCS.remove(p)
    return p


@pytest.mark.parametrize("mode,words", [
    ("leak", "LeakSanitizer"),
    ("overflow", "heap-buffer-overflow"),
    ("ub", "runtime error: signed integer overflow"),
])
def test_report_is_found(bad_bin, tmp_path, mode, words):
    p = _run(bad_bin, mode, tmp_path)
    assert p.p.returncode == T.SAN_EXIT, p.describe()
    report = T.sanitizer_report([p], str(tmp_path / "none"))
    assert words in report, report
    assert os.path.join(str(tmp_path), "bad-%s." % mode) in report, report


def test_clean_process_has_no_report(bad_bin, tmp_path):
    p = _run(bad_bin, "clean", tmp_path)
    assert p.p.returncode == 0
    assert T.sanitizer_report([p], str(tmp_path / "none")) == ""


INNER = """
import topo as T

def test_inner(tmp_path):
    p = T.Proc(None, [%r, %r], str(tmp_path), "inner")
    assert p.wait(20) in (0, T.SAN_EXIT)
"""


@pytest.mark.parametrize("mode", ["leak", "ub", "clean"])
def test_fixture_fails_the_test(bad_bin, tmp_path, mode):
    """End to end: a test whose process leaks (or hits UB) errors in its
    teardown, naming the report file; a clean one passes."""
    f = tmp_path / "test_inner.py"
    f.write_text(textwrap.dedent(INNER % (bad_bin, mode)))
    env = dict(os.environ, PYTHONPATH=HERE, MCFERRY_SANITIZE="1")
    env.pop("ASAN_OPTIONS", None)
    env.pop("UBSAN_OPTIONS", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest",
                        "-q", "-p", "no:cacheprovider", str(f)],
                       cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    if mode == "clean":
        assert r.returncode == 0, r.stdout
        return
    assert r.returncode != 0, r.stdout
    assert "sanitizer report(s) from processes of" in r.stdout, r.stdout
    assert "inner.san." in r.stdout, r.stdout
    assert ("LeakSanitizer" if mode == "leak" else "runtime error") \
        in r.stdout, r.stdout
    assert "1 passed, 1 error" in r.stdout, r.stdout
