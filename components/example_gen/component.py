"""MovieLensExampleGen: a Beam-based ExampleGen whose input is a MovieLens source, not files.

It follows the shape of TFX's QueryBasedExampleGen (no input channel; the source is an
execution property) with its own spec, so the data configuration is one typed JSON value, and
a local source's fingerprint and a digest of the code are part of the cache key. Its output is
what every ExampleGen writes: `train` and `eval` splits of gzipped TFRecords of tf.Examples.
"""

from __future__ import annotations

from typing import Dict

from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import Channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.code_version import CODE_VERSION_KEY
from components.example_gen import executor
from components.movielens import sources
from components.movielens.config import DataConfig


class MovieLensExampleGenSpec(ComponentSpec):
    """MovieLensExampleGen's spec: the data config, the source's fingerprint and the code's
    digest as execution parameters; no inputs; one Examples output."""

    PARAMETERS = {
        executor.DATA_CONFIG_KEY: ExecutionParameter(type=str),
        executor.SOURCE_FINGERPRINT_KEY: ExecutionParameter(type=str),
        CODE_VERSION_KEY: ExecutionParameter(type=str),
    }
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


class MovieLensExampleGen(base_beam_component.BaseBeamComponent):
    """Emits tf.Examples (user_id, movie_id, rating, timestamp, movie_title, genres,
    user_activity)."""

    SPEC_CLASS = MovieLensExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, data: DataConfig, code_version: str) -> None:
        """`code_version`: the digest of the code it runs (components/code_version.py)."""
        spec = MovieLensExampleGenSpec(
            data_config=data.to_json(),
            source_fingerprint=sources.fingerprint(data),
            code_version=code_version,
            examples=Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
