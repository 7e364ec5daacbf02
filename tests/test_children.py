"""The test helper for child processes: SIGINT reaches a child even when the suite runs as a
background job, and no wait outlasts its limit."""

import signal
import subprocess
import sys
import time

import pytest

from tests.children import Child

SHOW_SIGINT = ("import signal, sys, time\n"
               "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)\n"
               "time.sleep(60)\n")


@pytest.fixture
def sigint_ignored():
    """This process as `make test &` starts it: SIGINT ignored, inherited by children."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_child_takes_ctrl_c_even_when_the_suite_ignores_it(sigint_ignored):
    child = Child([sys.executable, "-c", SHOW_SIGINT], stream="stdout",
                  stderr=subprocess.PIPE)
    try:
        assert child.wait_for("True", timeout=60).strip() == "True"
        child.send_signal(signal.SIGINT)
        code, _ = child.finish(timeout=30)
    finally:
        child.kill()
    assert code == -signal.SIGINT  # ended by Ctrl-C, not a child that ran on


def test_waiting_for_a_line_that_never_comes_ends_at_its_limit():
    child = Child([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    with pytest.raises(AssertionError, match="no line with 'never' within 1 s"):
        child.wait_for("never", timeout=1)
    assert time.monotonic() - started < 10
    assert child.poll() is not None  # killed, not left running


def test_a_child_that_outlives_its_limit_is_killed():
    child = Child([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(AssertionError, match="did not end within 1 s"):
        child.finish(timeout=1)
    assert child.poll() is not None
