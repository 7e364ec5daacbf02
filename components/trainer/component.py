"""The Trainer step for a TrainerConfig: TFX's Trainer in the step's own process (the
default), the same in several local worker processes, or TFX's Vertex AI Trainer, whose
step starts a Vertex AI Training job (a CustomJob) of several machines running this
project's image. All three run `run_fn` with the same inputs and properties."""

from __future__ import annotations

from typing import Any, Dict

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.trainer import local_workers
from components.trainer.config import WORKERS_KEY, TrainerConfig


class LocalWorkersTrainer(tfx.components.Trainer):
    """TFX's Trainer whose executor runs `local_workers` worker processes."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(local_workers.Executor)


def trainer_class(config: TrainerConfig) -> type:
    """The Trainer component class that trains where `config` says."""
    if config.vertex:
        return tfx.extensions.google_cloud_ai_platform.Trainer
    if config.workers > 1:
        return LocalWorkersTrainer
    return tfx.components.Trainer


def placement_config(config: TrainerConfig, image: str) -> Dict[str, Any]:
    """The entries of the Trainer's custom_config that say where it trains: the worker
    count, or the Vertex AI job (region, project, worker pools running `image`)."""
    cloud = tfx.extensions.google_cloud_ai_platform
    if config.vertex:
        return {cloud.ENABLE_VERTEX_KEY: True, cloud.VERTEX_REGION_KEY: config.region,
                cloud.TRAINING_ARGS_KEY: {
                    "project": config.project,
                    "job_spec": {"worker_pool_specs": config.worker_pool_specs(image)}}}
    if config.workers > 1:
        return {WORKERS_KEY: config.workers}
    return {}
