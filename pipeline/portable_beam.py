"""Beam's portable path on this machine: a job service and an SDK worker pool, as processes.

Flink, Spark and Dataflow run a Beam pipeline through the portable job API: the pipeline is
submitted to a job service, which hands its stages to SDK workers. `--beam-runner portable`
runs the pipeline's Beam steps that way here, with Beam's own local job service
(`local_job_service_main`) and an external worker pool (`worker_pool_main`), each its own
process with this interpreter: the same protocol a cluster speaks, without the cluster.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator, List

STARTUP_SECONDS = 60.0


class PortableBeamError(RuntimeError):
    """A Beam service did not start; the message names it and its last output."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, name: str, log_path: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with socket.socket() as probe:
            if probe.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        tail = " | ".join(line.strip() for line in log.readlines()[-3:])
    state = (f"exited with {process.returncode}" if process.poll() is not None
             else f"not listening on port {port} after {STARTUP_SECONDS:.0f} s")
    raise PortableBeamError(f"Beam's {name} {state}: {tail or 'no output'}")


def _start(module: str, arguments: List[str], log_path: str) -> subprocess.Popen:
    environment = dict(os.environ)
    # The worker pool starts SDK workers with `python` from PATH: make it this venv's.
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    with open(log_path, "w", encoding="utf-8") as log:
        return subprocess.Popen([sys.executable, "-m", module, *arguments], stdout=log,
                                stderr=subprocess.STDOUT, env=environment,
                                start_new_session=True)  # Ctrl-C goes to the run, not these


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def services() -> Iterator[List[str]]:
    """Starts a job service and a worker pool; yields the Beam arguments that use them, and
    stops both on the way out, whatever happened."""
    job_port, pool_port = _free_port(), _free_port()
    processes: List[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="movielens-beam-") as scratch:
        try:
            for name, module, arguments, port in (
                    ("job service", "apache_beam.runners.portability.local_job_service_main",
                     ["--port", str(job_port)], job_port),
                    ("worker pool", "apache_beam.runners.worker.worker_pool_main",
                     ["--service_port", str(pool_port)], pool_port)):
                log_path = os.path.join(scratch, f"{module.rsplit('.', 1)[-1]}.log")
                processes.append(_start(module, arguments, log_path))
                _wait_for_port(port, processes[-1], name, log_path)
            yield ["--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
                   "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"]
        finally:
            for process in reversed(processes):
                _stop(process)
