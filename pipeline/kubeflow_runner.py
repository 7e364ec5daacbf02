"""Compiles the same pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner).

`.json` is what KubeflowV2DagRunner writes: a Vertex AI PipelineJob (the PipelineSpec plus
its runtime config). `.yaml` is the bare PipelineSpec that an open-source KFP v2 backend (on
GKE) accepts for upload. Either file is written whole or not at all.
"""

from __future__ import annotations

import json
import os
import tempfile

import yaml
from tfx import v1 as tfx

from pipeline import files
from pipeline.config import ConfigError, PipelineConfig
from pipeline.pipeline import create_pipeline

DEFAULT_IMAGE = "gcr.io/YOUR_PROJECT/movielens-tfx:latest"


def compile_pipeline(config: PipelineConfig, output: str, image: str = DEFAULT_IMAGE) -> str:
    """Writes the compiled pipeline to `output` (.json or .yaml); returns its path."""
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".json", ".yaml", ".yml"):
        raise ConfigError(f"--output {output!r}: use a .json (Vertex PipelineJob) or .yaml "
                          "(KFP PipelineSpec) file name")
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=image)
    with tempfile.TemporaryDirectory() as scratch:
        tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json",
        ).run(create_pipeline(config, baseline_excludes_candidate=False))
        with open(os.path.join(scratch, "pipeline.json"), encoding="utf-8") as compiled:
            job = json.load(compiled)
    if extension == ".json":
        text = json.dumps(job, indent=2, sort_keys=True)
    else:
        text = yaml.safe_dump(job["pipelineSpec"], sort_keys=True)
    files.publish_text(output, text)
    return output
