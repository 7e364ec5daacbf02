"""The Trainer step as several worker processes on this machine, over loopback.

Each worker runs what a Vertex AI Training replica runs: TFX's Trainer executor through
`python -m tfx.scripts.run_executor` with the step's inputs, outputs and properties, and a
`TF_CONFIG` laid out as Vertex AI lays it out (a chief, then workers). `run_fn` then trains
under MultiWorkerMirroredStrategy (trainer/distribution.py). On one machine the workers
share its cores; this is how a distributed Trainer is tried and tested before a cluster.
"""

from __future__ import annotations

import collections
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, name_utils, path_utils

import trainer
from components.trainer.config import WORKERS_KEY

# After one worker ends badly, how long the others get to notice (the coordination
# service's heartbeat finds a dead peer in about 10 s) before they are stopped.
GRACE_SECONDS = 60.0
# The class each worker runs, as on a Vertex AI replica.
WORKER_EXECUTOR = trainer_executor.GenericExecutor


class WorkerFailed(RuntimeError):
    """A training worker process failed: the step fails, and no model is left."""


def _die_with_parent() -> None:
    """In the worker, before it starts: the kernel kills it if this process dies, so that
    no worker outlives the step (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return int(probe.getsockname()[1])


def tf_configs(workers: int) -> List[Dict[str, Any]]:
    """Each worker's TF_CONFIG: a chief and `workers` - 1 workers on loopback ports."""
    addresses = [f"localhost:{_free_port()}" for _ in range(workers)]
    cluster = {"chief": addresses[:1], "worker": addresses[1:]}
    tasks = [("chief", 0)] + [("worker", index) for index in range(workers - 1)]
    return [{"cluster": cluster, "task": {"type": job, "index": index}} for job, index in tasks]


class _Worker:
    """One worker process: its name, and the last lines of its error stream."""

    def __init__(self, command: List[str], tf_config: Dict[str, Any], env: Dict[str, str],
                 show_progress: bool) -> None:
        task = tf_config["task"]
        address = (tf_config["cluster"][task["type"]])[task["index"]]
        self.name = f"{task['type']} {task['index']} ({address})"
        self.tail: Deque[str] = collections.deque(maxlen=40)
        self.process = subprocess.Popen(
            command, env=dict(env, TF_CONFIG=json.dumps(tf_config)), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        print(f"Trainer: started {self.name}, pid {self.process.pid}", flush=True)
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, show_progress),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, False),
                             daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, show: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.tail.append(line)
            if show:  # Keras' epoch lines, as the one-process Trainer prints them
                print(f"[{self.name}] {line}", flush=True)
            else:
                logging.info("[%s] %s", self.name, line)

    def finished(self) -> bool:
        return self.process.poll() is not None

    def outcome(self) -> str:
        """How it ended, in words: its signal, or its status and last error line."""
        code = self.process.returncode
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        for reader in self._readers:
            reader.join(timeout=5)
        errors = [line for line in self.tail if line.strip() and not line.startswith(" ")]
        return f"exited with status {code}" + (f": {errors[-1][:400]}" if errors else "")

    def stop(self) -> None:
        if self.finished():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _first_failure(workers: List[_Worker]) -> Optional[_Worker]:
    failed = [worker for worker in workers
              if worker.finished() and worker.process.returncode != 0]
    # A killed worker is the cause; the others' errors say they lost it.
    failed.sort(key=lambda worker: worker.process.returncode >= 0)
    return failed[0] if failed else None


def run_workers(commands: List[List[str]], configs: List[Dict[str, Any]],
                timeout: Optional[float] = None) -> None:
    """Runs each command with its TF_CONFIG and waits for all; raises WorkerFailed naming
    the first that failed (the others are stopped once they have had GRACE_SECONDS to
    notice), or when they have not all finished within `timeout` seconds, if given."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(trainer.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                      env.get("PYTHONPATH")]))
    workers: List[_Worker] = []
    try:
        for index, (command, tf_config) in enumerate(zip(commands, configs)):
            workers.append(_Worker(command, tf_config, env, show_progress=index == 0))
        failed_at = None
        started = time.monotonic()
        while not all(worker.finished() for worker in workers):
            if timeout is not None and time.monotonic() - started > timeout:
                raise WorkerFailed(f"{len(workers)} training workers did not finish within "
                                   f"{timeout:g} s")
            failure = _first_failure(workers)
            if failure is not None:
                failed_at = failed_at or time.monotonic()
                if time.monotonic() - failed_at > GRACE_SECONDS:
                    break
            time.sleep(0.2)
        failure = _first_failure(workers)
        if failure is not None:
            raise WorkerFailed(f"training worker {failure.name} {failure.outcome()}; "
                               f"{len(workers)} workers were training")
    finally:
        for worker in workers:
            worker.stop()


class Executor(trainer_executor.GenericExecutor):
    """TFX's Trainer executor, run in `local_workers` processes (custom_config) at once."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Runs the workers; on failure, removes whatever model the chief had written."""
        custom_config = json_utils.loads(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null") or {}
        workers = int(custom_config.get(WORKERS_KEY, 1))
        command = [sys.executable, "-m", "tfx.scripts.run_executor",
                   "--executor_class_path", name_utils.get_full_name(WORKER_EXECUTOR),
                   "--inputs", artifact_utils.jsonify_artifact_dict(input_dict),
                   "--outputs", artifact_utils.jsonify_artifact_dict(output_dict),
                   "--exec-properties", json.dumps(exec_properties, sort_keys=True)]
        started = time.monotonic()
        try:
            run_workers([command] * workers, tf_configs(workers))
        except BaseException:
            model = path_utils.serving_model_dir(artifact_utils.get_single_uri(
                output_dict[standard_component_specs.MODEL_KEY]))
            if fileio.exists(model):
                fileio.rmtree(model)
            raise
        logging.info("Trainer: %d workers trained in %.1f s", workers,
                     time.monotonic() - started)
