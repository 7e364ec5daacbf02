"""A run stopped by a signal in the middle of Transform, the Trainer or the push (real
processes): one line for Ctrl-C and SIGTERM, and the next run reuses what had completed,
never the stopped component's output, and the serving directory only ever holds complete
versions."""

import fcntl
import os
import signal
import sys
import time

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.pusher import component as pusher
from pipeline import cli, local_runner
from pipeline.config import PipelineConfig
from tests import small_run
from tests.children import Child

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = small_run.ARGS
# Each stopped component, what completed before it, and how long it runs on DATA.
BEFORE = {
    "Transform": ["MovieLensExampleGen", "MovieLensSchemaGen", "StatisticsGen"],
    "Trainer": ["MovieLensExampleGen", "MovieLensSchemaGen", "StatisticsGen", "Transform",
                "DriftCheck", "ExampleValidator", "DataGate"],
    "VersionedPusher": ["MovieLensExampleGen", "MovieLensSchemaGen", "StatisticsGen",
                        "Transform", "DriftCheck", "ExampleValidator", "DataGate", "Trainer",
                        "ServableCheck", "Evaluator"],
}
EPOCHS = {"Transform": 2, "Trainer": 500, "VersionedPusher": 2}  # the Trainer's: until killed
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


def _states(root, component):
    store = metadata_store.MetadataStore(
        local_runner.metadata_config(PipelineConfig(pipeline_root=root)))
    node = next(c for c in store.get_contexts_by_type("node")
                if c.name.endswith(f".{component}"))
    return [e.last_known_state
            for e in sorted(store.get_executions_by_context(node.id), key=lambda e: e.id)]


def _staged(model_dir):
    return [name for name in os.listdir(model_dir) if name.startswith(pusher.STAGING_PREFIX)]


def _wait_for_staged_copy(model_dir, child):
    """Until the Pusher has copied the model to its staging folder and waits for the lock
    this test holds."""
    deadline = time.monotonic() + 120
    while not _staged(model_dir):
        assert child.poll() is None and time.monotonic() < deadline, \
            f"no push started: {''.join(child.lines)[-2000:]}"
        time.sleep(0.05)
    time.sleep(2)  # the copy of a small model takes milliseconds; the lock wait is endless


def _stop(child, component, signum, model_dir):
    child.wait_for(f"Component {component} is running", timeout=300)
    if component == "VersionedPusher":
        _wait_for_staged_copy(model_dir, child)
    else:
        time.sleep({"Transform": 1.5, "Trainer": 5}[component])  # into its work
    assert child.poll() is None, f"the run ended before the signal: {child.finish(60)[1]}"
    child.send_signal(signum)


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
@pytest.mark.parametrize("component", sorted(BEFORE))
def test_a_stopped_run_resumes_from_the_cache(tmp_path, component, signum, capsys):
    root, serving = str(tmp_path / "root"), str(tmp_path / "serving")
    model_dir = os.path.join(serving, "movielens")
    os.makedirs(model_dir)
    where = ["--pipeline-root", root, "--serving-dir", serving]
    # Holding the push lock (as a second pipeline pushing would) keeps the Pusher waiting
    # with its staging copy written: a signal then lands in the middle of the push.
    with open(os.path.join(model_dir, pusher.LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Child gives the run SIGINT's default disposition even when this suite runs as a
        # background job, which inherits it ignored (`make test &`).
        child = Child([sys.executable, "-m", "pipeline.cli", "run", *where, *DATA,
                       "--model", f"epochs={EPOCHS[component]}"], cwd=REPO)
        try:
            _stop(child, component, signum, model_dir)
            started = time.monotonic()
            code, err = child.finish(timeout=60)
        finally:
            child.kill()
    assert time.monotonic() - started < 30, "the run took long to stop"
    assert not [name for name in os.listdir(model_dir) if name.isdigit()], "a version appeared"
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert _states(root, component) == [metadata_store_pb2.Execution.RUNNING]
        # A killed push leaves its staging copy, which TF Serving ignores (no version number).
        assert bool(_staged(model_dir)) == (component == "VersionedPusher")
    else:
        assert code == 128 + signum, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            f"movielens-tfx run: interrupted ({signum.name}) during {component}; "
            f"{', '.join(BEFORE[component])} completed and will be reused: the next run "
            "resumes there")
        assert _states(root, component) == [metadata_store_pb2.Execution.CANCELED]
        assert not _staged(model_dir)

    assert cli.main(["run", *where, *DATA, "--model", "epochs=2"]) == 0
    out = capsys.readouterr().out
    for name in BEFORE[component]:
        assert f"  {name} (cached," in out
    assert f"  {component} (ran," in out
    assert sorted(os.listdir(model_dir)) == sorted(["1", pusher.LOCK_FILE])
    assert os.path.isfile(os.path.join(model_dir, "1", "saved_model.pb"))
    assert _states(root, component)[-1] == metadata_store_pb2.Execution.COMPLETE
