"""Where training runs: this process alone, its several GPUs, or several worker processes.

The TFX Trainer runs the same `run_fn` with the same arguments in every process of a
training job (on Vertex AI Training, one per replica, each with `TF_CONFIG` naming the
cluster and its own task). With `TF_CONFIG` naming more than one worker, training is
synchronous data parallelism across them (`MultiWorkerMirroredStrategy`: TensorFlow's
collective ops over gRPC); with several local GPUs, across those (`MirroredStrategy`);
otherwise TensorFlow's default placement, which takes a GPU when there is one. Nothing here
pins a device.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Tuple

import tensorflow as tf

from common.config_error import ConfigError

# A worker's failure reaches the others as one of these, from the collective ops or from the
# coordination service's heartbeat (measured with a worker killed mid-training: UNAVAILABLE,
# "Task /job:worker/replica:0/task:1 heartbeat timeout", about 10 s after the kill).
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError,
               tf.errors.DeadlineExceededError, tf.errors.InternalError,
               tf.errors.CancelledError)
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


class WorkerLost(RuntimeError):
    """Another training worker failed or stopped answering; this one stopped too."""


@dataclasses.dataclass(frozen=True)
class Placement:
    """The strategy training runs under, and this process's part in it."""

    strategy: tf.distribute.Strategy
    cluster: Tuple[Tuple[str, int, str], ...]  # (job, index, address) of every worker
    task: Tuple[str, int]  # this process's (job, index); ("worker", 0) alone
    devices: Tuple[str, ...]  # the devices this process trains on

    @property
    def workers(self) -> int:
        """Processes training together (1 without TF_CONFIG)."""
        return max(len(self.cluster), 1)

    @property
    def replicas(self) -> int:
        """Model replicas over all workers: each takes an equal slice of every batch."""
        return int(self.strategy.num_replicas_in_sync)

    @property
    def local_replicas(self) -> int:
        """Replicas in this process (one a device)."""
        return self.replicas // self.workers

    @property
    def worker(self) -> int:
        """This process's position among the workers (the chief's is 0)."""
        jobs = [(job, index) for job, index, _ in self.cluster]
        return jobs.index(self.task) if self.task in jobs else 0

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the model and the training record."""
        return self.worker == 0

    def describe(self) -> str:
        """One line for the log and the training record: which devices trained."""
        where = ", ".join(self.devices)
        if self.workers == 1:
            return f"trained on {where}"
        job, index = self.task
        return (f"trained on {self.workers} workers of {self.local_replicas} replica(s) each; "
                f"this is {job} {index}, on {where}")

    def name(self, job: str, index: int) -> str:
        """`job index (address)`, as TF_CONFIG names that task."""
        address = {(j, i): a for j, i, a in self.cluster}.get((job, index))
        return f"{job} {index}" + (f" ({address})" if address else "")

    def lost(self, error: Exception) -> WorkerLost:
        """The one-line error for a failed peer, naming it when TensorFlow does."""
        peers = [(job, int(index)) for job, index in _TASK.findall(str(error))]
        peers = [peer for peer in peers if peer != self.task] or peers
        who = self.name(*peers[0]) if peers else "another worker"
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return WorkerLost(
            f"training worker {who} failed or stopped answering, so {self.name(*self.task)} "
            f"stopped too and no model was written ({type(error).__name__}: {detail[:200]})")


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not JSON ({error}): {raw[:200]!r}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"TF_CONFIG is not a JSON object: {raw[:200]!r}")
    return config


def _cluster(config: dict) -> Tuple[Tuple[str, int, str], ...]:
    """The training workers TF_CONFIG names: the chief first, then the workers."""
    cluster = config.get("cluster") or {}
    others = sorted(set(cluster) - {"chief", "worker", "evaluator"})
    if others:
        raise ConfigError(
            f"TF_CONFIG names {', '.join(others)} tasks; this trainer trains with "
            "synchronous workers only (MultiWorkerMirroredStrategy): name a chief and workers")
    return tuple((job, index, address) for job in ("chief", "worker")
                 for index, address in enumerate(cluster.get(job) or []))


def place() -> Placement:
    """The placement this process's environment asks for. Call it before TensorFlow runs
    anything: the collective ops of several workers are configured at program start."""
    config = _tf_config()
    cluster = _cluster(config)
    task_config = config.get("task") or {}
    task = (str(task_config.get("type", "worker")), int(task_config.get("index", 0)))
    if len(cluster) > 1:
        if task not in [(job, index) for job, index, _ in cluster]:
            raise ConfigError(f"TF_CONFIG's task {task[0]} {task[1]} is not in its cluster "
                              f"({', '.join(f'{j} {i}' for j, i, _ in cluster)})")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return Placement(strategy, cluster, task, tuple(strategy.extended.worker_devices))
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if len(gpus) > 1:
        return Placement(tf.distribute.MirroredStrategy(gpus), (), ("worker", 0), tuple(gpus))
    device = gpus[0] if gpus else tf.config.list_logical_devices("CPU")[0].name
    return Placement(tf.distribute.get_strategy(), (), ("worker", 0), (device,))


def barrier(placement: Placement) -> None:
    """Returns once every worker has called it (a collective sum of one per replica); at once
    for a single worker."""
    if placement.workers > 1:
        strategy = placement.strategy
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
