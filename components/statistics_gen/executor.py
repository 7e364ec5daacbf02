"""StatisticsGen's executor for bounded samples: TFX's inputs, outputs and artifact layout
(`Split-<name>/FeatureStats.pb`), with TFDV's statistics computed in this process rather than
in a Beam pipeline (components/statistics_gen/statistics.py says why)."""

from __future__ import annotations

import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import tfxio_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils
from tfx_bsl.tfxio import dataset_options

from components.statistics_gen.statistics import describe

_TELEMETRY = ["movielens-tfx", "StatisticsGen"]
_BATCH = 4096  # ratings decoded at a time
# TFX's StatisticsGen options that change what it computes or writes, which this executor
# does not implement: a run that sets one is refused rather than silently changed.
_UNSUPPORTED = (standard_component_specs.STATS_OPTIONS_JSON_KEY,
                standard_component_specs.SHARDED_STATS_OUTPUT_KEY,
                standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Each split of the Examples but the excluded ones, described against the schema."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Writes `Split-<name>/FeatureStats.pb` for each described split, as TFX's executor
        does; refuses TFX's options it does not implement."""
        given = [key for key in _UNSUPPORTED if exec_properties.get(key) not in (None, False)]
        if given:
            raise ValueError(f"StatisticsGen: {', '.join(given)} is not supported by "
                             f"{__name__}, which computes TFDV's default statistics in memory")
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.EXAMPLES_KEY])
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
            artifact_utils.get_single_uri(input_dict[standard_component_specs.SCHEMA_KEY])))
        excluded = json_utils.loads(
            exec_properties.get(standard_component_specs.EXCLUDE_SPLITS_KEY) or "[]")
        splits = [split for split in artifact_utils.decode_split_names(examples.split_names)
                  if split not in excluded]
        if not splits:
            raise ValueError(f"StatisticsGen: no split of {examples.uri} is left to describe "
                             f"once {excluded} are excluded")
        statistics = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.STATISTICS_KEY])
        statistics.split_names = artifact_utils.encode_split_names(splits)
        statistics.span = examples.span
        statistics.set_json_value_custom_property(
            tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
            json_utils.dumps({split: 1.0 for split in splits}))  # as TFX's executor writes it
        for split in splits:
            source = tfxio_utils.get_split_tfxio([examples], split, _TELEMETRY)
            batches = source.RecordBatches(dataset_options.RecordBatchesOptions(
                batch_size=_BATCH, shuffle=False, num_epochs=1))
            io_utils.write_bytes_file(
                os.path.join(artifact_utils.get_split_uri([statistics], split),
                             tfx_executor.DEFAULT_FILE_NAME),
                describe(batches, schema).SerializeToString())
