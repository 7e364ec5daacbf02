"""SampleStatisticsGen: TFX's StatisticsGen spec (inputs, parameters, the ExampleStatistics
output that ExampleValidator, the DriftCheck, ML Metadata and the Kubeflow UI read) with this
project's executor, which computes TFDV's statistics in memory on the bounded samples
(components/statistics_gen/statistics.py), and a digest of that code in the cache key."""

from __future__ import annotations

from typing import List

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.code_version import CODE_VERSION_KEY
from components.statistics_gen import executor


class SampleStatisticsGenSpec(standard_component_specs.StatisticsGenSpec):
    """TFX's StatisticsGen spec and the digest of the code that runs it."""

    PARAMETERS = {**standard_component_specs.StatisticsGenSpec.PARAMETERS,
                  CODE_VERSION_KEY: ExecutionParameter(type=str)}


class SampleStatisticsGen(base_beam_component.BaseBeamComponent):
    """TFDV's statistics of each split of `examples` but `exclude_splits`, against `schema`."""

    SPEC_CLASS = SampleStatisticsGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, schema: types.BaseChannel,
                 exclude_splits: List[str], code_version: str) -> None:
        """`code_version`: the digest of the code it runs (components/code_version.py)."""
        spec = SampleStatisticsGenSpec(
            examples=examples, schema=schema,
            exclude_splits=json_utils.dumps(exclude_splits), code_version=code_version,
            statistics=types.Channel(type=standard_artifacts.ExampleStatistics))
        super().__init__(spec=spec)
