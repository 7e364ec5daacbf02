"""DriftCheck: how far this run's training data is from the data that trained the served
model.

TFX 1.16 has no component for it in its public API (its DistributionValidator is
experimental and not in `tfx.v1`), so this one runs TFDV's own comparators: the StatisticsGen's
statistics of `train_sample` against those the Pusher stored in the newest served version
(assets.extra/training_statistics.pb). It writes TFDV's Anomalies (a distance per measured
feature, an anomaly per distance past its bound) as an ExampleAnomalies artifact, the
distances and the version as its properties; the DataGate stops the run on them only when
asked to (ValidationConfig.block_on_drift).

The newest served version is read from the serving directory, which is no input TFX keys its
cache on, so the Pusher's latest record is an input: a new push re-runs the check.
"""

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import tensorflow as tf
import tensorflow_data_validation as tfdv
from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.components.example_validator.executor import DEFAULT_FILE_NAME as ANOMALIES_FILE
from tfx.components.statistics_gen.executor import DEFAULT_FILE_NAME as STATISTICS_FILE
from tfx.types import artifact_utils, standard_artifacts

from common import storage
from components.data_gate.config import ValidationConfig
from components.drift_check import drift
from components.example_gen.layout import TRAIN_SAMPLE
from serving import contract

COMPARED_WITH = "compared_with"  # the served version's path; "" when none was compared
NOT_COMPARED = "not_compared"  # why nothing was compared, when so
DRIFTED = "drifted"  # the features past their bound, comma-separated
DISTANCE_PREFIX = "drift_"  # + feature: its distance


@dataclasses.dataclass(frozen=True)
class Measured:
    """What a DriftCheck recorded: the version compared with ("" when none, and why not),
    and each measured feature's distance."""

    compared_with: str
    not_compared: str
    distances: Dict[str, float]


def measured(properties: Mapping[str, Any]) -> Measured:
    """The Measured of a DriftCheck's output (`properties`: its custom properties)."""
    return Measured(str(properties.get(COMPARED_WITH, "")),
                    str(properties.get(NOT_COMPARED, "")),
                    {key[len(DISTANCE_PREFIX):]: float(value)
                     for key, value in properties.items() if key.startswith(DISTANCE_PREFIX)})


def served_statistics_path(serving_dir: str, model_name: str) -> Tuple[Optional[str], str]:
    """(the newest served version, the path of its training statistics), or (None, why)."""
    model_dir = os.path.join(serving_dir, model_name)
    newest = storage.newest_complete_version(model_dir) if storage.exists(model_dir) else None
    if newest is None:
        return None, "no served version yet"
    path = os.path.join(newest, contract.ASSETS_EXTRA, contract.TRAINING_STATISTICS_FILE)
    if not tf.io.gfile.exists(path):
        return None, f"the served version {newest} records no training statistics"
    return newest, path


@tfx.dsl.components.component
def DriftCheck(
    statistics: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleStatistics],
    drift_anomalies: tfx.dsl.components.OutputArtifact[standard_artifacts.ExampleAnomalies],
    serving_dir: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
    validation_config: tfx.dsl.components.Parameter[str],
    latest_push: tfx.dsl.components.InputArtifact[standard_artifacts.PushedModel] = None,
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Measures the drift of `train_sample` from the newest served version's training data.
    `latest_push`: only a cache key (see the module's docstring). `code_version`: the digest
    of this code (components/code_version.py), a parameter only so that an edit to it
    changes the cache key."""
    del latest_push, code_version
    config = ValidationConfig.from_json(validation_config)
    drift_anomalies.split_names = artifact_utils.encode_split_names([TRAIN_SAMPLE])
    split_dir = artifact_utils.get_split_uri([drift_anomalies], TRAIN_SAMPLE)
    tf.io.gfile.makedirs(split_dir)
    version, served = served_statistics_path(serving_dir, model_name)
    found = anomalies_pb2.Anomalies()
    if version is None:
        drift_anomalies.set_string_custom_property(COMPARED_WITH, "")
        drift_anomalies.set_string_custom_property(NOT_COMPARED, served)
        logging.info("DriftCheck: nothing to compare with: %s", served)
    else:
        current = tfdv.load_stats_binary(os.path.join(
            artifact_utils.get_split_uri([statistics], TRAIN_SAMPLE), STATISTICS_FILE))
        found = drift.compare(current, tfdv.load_stats_binary(served), config)
        drift_anomalies.set_string_custom_property(COMPARED_WITH, version)
        for feature, distance in drift.distances(found, config).items():
            drift_anomalies.set_float_custom_property(DISTANCE_PREFIX + feature, distance)
        drift_anomalies.set_string_custom_property(DRIFTED, ",".join(drift.drifted(found)))
        logging.info("DriftCheck: against %s: %s", version, drift.distances(found, config))
    with tf.io.gfile.GFile(os.path.join(split_dir, ANOMALIES_FILE), "wb") as out:
        out.write(found.SerializeToString())
