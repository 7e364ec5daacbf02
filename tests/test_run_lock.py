"""One run per pipeline root: a second is refused at once naming the first; the lock of a
killed run is taken over (real processes)."""

import json
import os
import sys

import pytest

from pipeline import run_lock
from tests.children import Child

HOLDER = """
import sys, time
from pipeline import run_lock
with run_lock.held(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    child = Child([sys.executable, "-c", HOLDER, str(tmp_path)], stream="stdout",
                  cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child.wait_for("holding", timeout=60)
    yield child
    child.kill()


def test_a_second_run_is_refused_at_once_naming_the_first(tmp_path, holder):
    with pytest.raises(run_lock.RootInUse) as refused:
        with run_lock.held(str(tmp_path)):
            pytest.fail("the lock was taken twice")
    message = str(refused.value)
    assert f"is in use by run pid {holder.pid}" in message and f"kill {holder.pid}" in message


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, holder, caplog):
    holder.kill()
    with run_lock.held(str(tmp_path)):
        with open(tmp_path / run_lock.LOCK_FILE) as lock:
            assert json.load(lock)["pid"] == os.getpid()
    assert f"from run pid {holder.pid}" in caplog.text and "ended without finishing" in caplog.text
    assert (tmp_path / run_lock.LOCK_FILE).read_text() == ""  # a clean end leaves no holder


def test_runs_on_different_roots_do_not_wait_for_each_other(tmp_path, holder):
    with run_lock.held(str(tmp_path / "other")):
        pass


def test_run_on_a_root_in_use_exits_75_with_one_line(tmp_path, holder, capsys):
    from pipeline import cli

    code = cli.main(["run", "--pipeline-root", str(tmp_path), "--serving-dir",
                     str(tmp_path / "serving")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ROOT_IN_USE == 75
    assert err.startswith(f"movielens-tfx run: pipeline root {tmp_path} is in use by run pid "
                          f"{holder.pid}") and "Traceback" not in err
    assert not (tmp_path / "metadata.sqlite").exists()
