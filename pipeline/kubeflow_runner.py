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

from common import storage
from common.config_error import ConfigError
from pipeline import files
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline


def compile_pipeline(config: PipelineConfig, output: str) -> str:
    """Writes the compiled pipeline to `output` (.json or .yaml); returns its path. Every
    component runs `config.image`."""
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".json", ".yaml", ".yml"):
        raise ConfigError(f"--output {output!r}: use a .json (Vertex PipelineJob) or .yaml "
                          "(KFP PipelineSpec) file name")
    if config.data.is_local_path and not storage.is_url(config.data.source):
        raise ConfigError(f"--data {config.data.source!r} is a path on this machine, which the "
                          "cluster's pods cannot read: copy it to a bucket and give its URL "
                          "(e.g. gs://BUCKET/ml-100k.zip), or use --data synthetic")
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=config.image)
    with tempfile.TemporaryDirectory() as scratch:
        tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json",
        ).run(create_pipeline(config, tfx_strategies_only=True))
        with open(os.path.join(scratch, "pipeline.json"), encoding="utf-8") as compiled:
            job = json.load(compiled)
    if extension == ".json":
        text = json.dumps(job, indent=2, sort_keys=True)
    else:
        # The PipelineJob carries the root as gcsOutputDirectory; a bare spec needs it inside,
        # or a KFP upload runs with the cluster's default root.
        spec = dict(job["pipelineSpec"], defaultPipelineRoot=config.pipeline_root)
        text = yaml.safe_dump(spec, sort_keys=True)
    files.publish_text(output, text)
    return output
