"""Training across workers: the placement TF_CONFIG asks for, the batches each replica gets,
several replicas in one process, and the real thing: worker processes on loopback training
MovieLens 100k inside the pipeline, as Vertex AI's replicas would (the same executor, the
same command), one of them killed mid-training."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common import storage
from common.config_error import ConfigError
from components.evaluator import gate
from pipeline import local_runner
from pipeline.config import PipelineConfig
from tests.children import Child
from trainer import distribution
from trainer.data import Ratings
from trainer.task import read_training_record

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--model", "epochs=4"]


def _placement(error_task=("worker", 0)):
    cluster = (("chief", 0, "localhost:1001"), ("worker", 0, "localhost:1002"))
    return distribution.Placement(tf.distribute.get_strategy(), cluster, error_task, ("CPU:0",))


def test_a_lost_peer_is_named_with_its_address_in_one_line():
    error = tf.errors.UnavailableError(
        None, None, "Task /job:chief/replica:0/task:0 heartbeat timeout. This indicates that "
                    "the remote task has failed\nmore detail")
    message = str(_placement().lost(error))
    assert "\n" not in message
    assert message.startswith("training worker chief 0 (localhost:1001) failed or stopped "
                              "answering, so worker 0 (localhost:1002) stopped too and no "
                              "model was written (UnavailableError: Task /job:chief")


def test_the_chief_is_the_first_worker_and_alone_writes():
    chief, worker = _placement(("chief", 0)), _placement(("worker", 0))
    assert (chief.worker, chief.is_chief) == (0, True)
    assert (worker.worker, worker.is_chief) == (1, False)
    assert worker.describe().startswith("trained on 2 workers")


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}}', "TF_CONFIG names ps tasks"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 5}}',
     "TF_CONFIG's task worker 5 is not in its cluster"),
])
def test_a_bad_tf_config_is_a_clear_error(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError, match=message):
        distribution.place()


def test_without_tf_config_training_stays_in_this_process(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    placement = distribution.place()
    assert (placement.workers, placement.replicas, placement.is_chief) == (1, 1, True)
    assert placement.describe() == f"trained on {placement.devices[0]}"


def test_each_replica_gets_its_slice_of_the_same_batches():
    rng = np.random.default_rng(3)
    rows = Ratings(rng.integers(0, 50, 1000), rng.integers(0, 80, 1000),
                   rng.random(1000).astype(np.float32))

    def batches(**slicing):
        data = rows.dataset(64, shuffle_seed=5, user_run=4, **slicing)
        return [features["user_index"].numpy() for features, _ in data.take(6)]

    whole = batches()
    halves = [batches(slices=(index,), of=2) for index in (0, 1)]
    both = batches(slices=(0, 1), of=2)
    for step, batch in enumerate(whole[:3]):
        assert list(batch) == list(halves[0][step]) + list(halves[1][step])
        assert list(both[2 * step]) + list(both[2 * step + 1]) == list(batch)


def test_importing_the_trainer_leaves_tensorflow_unstarted():
    """TFX imports run_fn's module before calling it; several workers can only be configured
    while TensorFlow has run nothing."""
    done = subprocess.run(
        [sys.executable, "-c", "import trainer.task; from tensorflow.python.eager import "
                               "context; print(context.context()._context_handle is None)"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True"


MIRRORED = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from trainer import distribution, train
from trainer.config import ModelConfig
from trainer.data import Ratings
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
placement = distribution.Placement(strategy, (), ("worker", 0), ("/cpu:0", "/cpu:1"))
rng = np.random.default_rng(0)
rows = Ratings(rng.integers(0, 60, 4000), rng.integers(0, 90, 4000),
               rng.random(4000).astype(np.float32))
config = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=128, epochs=2)
result = train.fit(config, rows, 60, 90, verbose=0, placement=placement)
print(json.dumps({"replicas": result.model.distribute_strategy.num_replicas_in_sync,
                  "loss": result.history["loss"], "examples": result.examples_seen}))
"""


def test_several_local_replicas_train_one_model():
    """MirroredStrategy, as several GPUs would take it, on two logical CPUs."""
    done = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert all(np.isfinite(result["loss"])) and result["loss"][1] < result["loss"][0]
    # Every batch of the one-device run, split between the replicas: the same examples.
    assert result["examples"] == 2 * (3800 // 128) * 128


def _cli(root, *extra):
    return [sys.executable, "-m", "pipeline.cli", "run", "--pipeline-root", str(root),
            "--serving-dir", str(root / "serving"), *extra]


def _run(root, *extra):
    done = subprocess.run(_cli(root, *extra), cwd=REPO, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {run.component: run for run in local_runner.latest_run(
        PipelineConfig(pipeline_root=str(root)))}
    return done.stdout, runs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, ml100k_dir):
    """ml-100k trained in the Trainer's process, and by two worker processes."""
    one = tmp_path_factory.mktemp("one_worker")
    two = tmp_path_factory.mktemp("two_workers")
    return (_run(one, "--data", ml100k_dir, *QUICK),
            _run(two, "--data", ml100k_dir, "--trainer-workers", "2", *QUICK), two)


@pytest.mark.slow
def test_two_workers_train_one_model_that_serves_and_passes_the_gate(two_runs):
    _, (output, runs), root = two_runs
    assert "Trainer: started chief 0 (localhost:" in output
    assert "Trainer: started worker 0 (localhost:" in output
    # The chief's line of where it trained, among its epoch lines.
    assert "] Trainer: trained on 2 workers of 1 replica(s) each; this is chief 0, on " \
        in output
    assert os.path.isfile(os.path.join(runs["ServableCheck"].outputs["infra_blessing"],
                                       "INFRA_BLESSED"))
    assert os.path.isdir(root / "serving" / "movielens" / "1")
    record = read_training_record(runs["Trainer"].outputs["model_run"])
    assert (record["workers"], record["replicas"]) == (2, 2)
    assert record["devices"].startswith("trained on 2 workers of 1 replica(s) each; this is "
                                        "chief 0")
    # The other worker wrote nothing where the pipeline reads: the chief's logs and record.
    assert sorted(os.listdir(runs["Trainer"].outputs["model_run"])) == ["logs",
                                                                       "training.json"]


@pytest.mark.slow
def test_two_workers_match_the_one_worker_model(two_runs):
    """Both step through the same batches (each worker half of each); the Evaluator's numbers
    differ by rounding and the replicas' split of the batch means, far inside the spread of
    seeds (reports/ml-100k/distributed.md)."""
    (_, one), (_, two), _ = two_runs
    one = gate.gate_summary(one["Evaluator"].outputs["evaluation"])
    two = gate.gate_summary(two["Evaluator"].outputs["evaluation"])
    assert two["passed"]
    assert abs(two["rmse"] - one["rmse"]) / one["rmse"] < 0.02
    assert abs(two["top_k_accuracy"] - one["top_k_accuracy"]) / one["top_k_accuracy"] < 0.1


@pytest.mark.slow
def test_a_worker_killed_mid_training_fails_the_step_naming_it(two_runs, ml100k_dir, tmp_path):
    _, (_, runs), root = two_runs
    errors = tmp_path / "stderr.txt"
    with open(errors, "w") as stderr:
        child = Child(_cli(root, "--data", ml100k_dir, "--trainer-workers", "2",
                           "--model", "epochs=6", "--model", "seed=1"),
                      stream="stdout", stderr=stderr, cwd=REPO)
        started = child.wait_for("Trainer: started worker 0", timeout=600)
        pid = int(started.rsplit("pid ", 1)[1])
        child.wait_for("Epoch 2/6", timeout=600)
        os.kill(pid, signal.SIGKILL)
        code, _ = child.finish(timeout=300)
    lines = errors.read_text().strip().splitlines()
    assert code == 1
    assert lines[-1].startswith("movielens-tfx run: error: Trainer failed: WorkerFailed: "
                                "training worker worker 0 (localhost:")
    assert "was killed by SIGKILL; 2 workers were training" in lines[-1]
    models = root / "Trainer" / "model"
    with_a_model = [str(models / name) for name in os.listdir(models)
                    if os.path.exists(models / name / "Format-Serving")]
    # (TFX removes a failed step's outputs; the chief's export, had it begun, with them.)
    assert with_a_model == [runs["Trainer"].outputs["model"]]
    assert storage.versions(str(root / "serving" / "movielens")) == [1]  # nothing new pushed
