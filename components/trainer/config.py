"""Where the Trainer step trains: in its own process (the default), in several worker
processes on this machine, or as a Vertex AI Training job of several machines."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Tuple

from common.config_error import ConfigError, require

# The keys of the Trainer's custom_config that this config adds.
WORKERS_KEY = "local_workers"
# Vertex AI's machine types are "family-kind-cpus" (n1-standard-8, a2-highgpu-1g, ...).
_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_ACCELERATOR = re.compile(r"^([A-Z][A-Z0-9_]+):([1-9][0-9]*)$")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """`workers` > 1: that many worker processes on this machine (the local runner);
    `vertex`: a Vertex AI Training job of `replicas` machines of `machine_type` (a compiled
    pipeline), each with `accelerator` ("TYPE:COUNT", e.g. NVIDIA_TESLA_T4:1) if given."""

    workers: int = 1
    vertex: bool = False
    machine_type: str = "n1-standard-8"
    replicas: int = 1
    accelerator: str = ""
    region: str = ""
    project: str = ""

    def __post_init__(self) -> None:
        require(self.workers >= 1, "--trainer-workers", "at least 1", self.workers)
        require(self.replicas >= 1, "--trainer-replicas", "at least 1", self.replicas)
        if not self.vertex:
            return
        if self.workers > 1:
            raise ConfigError("--trainer-workers starts worker processes on this machine; "
                              "on Vertex AI give --trainer-replicas")
        require(bool(_MACHINE_TYPE.match(self.machine_type)), "--trainer-machine-type",
                "a Vertex AI machine type such as n1-standard-8", self.machine_type)
        require(not self.accelerator or bool(_ACCELERATOR.match(self.accelerator)),
                "--trainer-accelerator", "TYPE:COUNT such as NVIDIA_TESLA_T4:1",
                self.accelerator)
        for option, value in (("--region", self.region), ("--project", self.project)):
            if not value:
                raise ConfigError(f"--trainer vertex needs {option}: the Vertex AI Training "
                                  "job is created there")

    def accelerator_spec(self) -> Tuple[str, int]:
        """(accelerator type, count per machine); ("", 0) without one."""
        match = _ACCELERATOR.match(self.accelerator)
        return (match.group(1), int(match.group(2))) if match else ("", 0)

    def worker_pool_specs(self, image: str) -> List[Dict[str, Any]]:
        """Vertex AI's worker pools: the chief (pool 0) and the other replicas (pool 1), each
        running `image` (TFX sets their command: tfx.scripts.run_executor)."""
        machine: Dict[str, Any] = {"machine_type": self.machine_type}
        accelerator, count = self.accelerator_spec()
        if count:
            machine.update(accelerator_type=accelerator, accelerator_count=count)
        pool = {"machine_spec": machine, "container_spec": {"image_uri": image}}
        pools = [dict(pool, replica_count=1)]
        if self.replicas > 1:
            pools.append(dict(pool, replica_count=self.replicas - 1))
        return pools
