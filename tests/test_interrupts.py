"""A run stopped by a signal in the middle of the Trainer (real processes): one line for
Ctrl-C and SIGTERM, and the next run reuses what had completed and never the stopped
Trainer's output."""

import os
import signal
import subprocess
import sys
import time

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import cli, local_runner
from pipeline.config import PipelineConfig

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = ["--synthetic-users", "60", "--synthetic-movies", "200", "--synthetic-ratings", "3000",
        "--gate", "max_rmse_over_baseline=3", "--gate", "min_top_k_over_baseline=0",
        "--model", "batch_size=256"]
BEFORE_TRAINER = ["MovieLensExampleGen", "MovieLensSchemaGen", "Transform"]


def _trainer_states(root):
    store = metadata_store.MetadataStore(
        local_runner.metadata_config(PipelineConfig(pipeline_root=root)))
    node = next(c for c in store.get_contexts_by_type("node") if c.name.endswith(".Trainer"))
    return [e.last_known_state
            for e in sorted(store.get_executions_by_context(node.id), key=lambda e: e.id)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_run_stopped_in_the_trainer_resumes_from_the_cache(tmp_path, signum, capsys):
    root, serving = str(tmp_path / "root"), str(tmp_path / "serving")
    where = ["--pipeline-root", root, "--serving-dir", serving]
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", *where, *DATA, "--model", "epochs=500"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in child.stderr:
        if "Component Trainer is running" in line:
            break
    time.sleep(5)  # into the training loop
    child.send_signal(signum)
    started = time.monotonic()
    err = child.stderr.read()
    code = child.wait(timeout=60)
    assert time.monotonic() - started < 30, "the run took long to stop"
    assert not os.path.exists(serving)
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert _trainer_states(root) == [metadata_store_pb2.Execution.RUNNING]
    else:
        assert code == 128 + signum, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            f"movielens-tfx run: interrupted ({signum.name}) during Trainer; "
            f"{', '.join(BEFORE_TRAINER)} completed and will be reused: the next run resumes "
            "there")
        assert _trainer_states(root) == [metadata_store_pb2.Execution.CANCELED]

    assert cli.main(["run", *where, *DATA, "--model", "epochs=2"]) == 0
    out = capsys.readouterr().out
    for name in BEFORE_TRAINER:
        assert f"  {name} (cached," in out
    assert "  Trainer (ran," in out and os.path.isdir(os.path.join(serving, "movielens", "1"))
    assert _trainer_states(root)[-1] == metadata_store_pb2.Execution.COMPLETE
