"""DataGate: stops the run before the Trainer when the data has anomalies.

TFX's ExampleValidator records anomalies but never fails a run (its `blessed` property is
read by nothing in TFX 1.16), and TFDV describes each split alone, so it cannot see an eval
split of users or movies that train never rated. This component reads ExampleValidator's
anomalies of every split, the unseen fractions the ExampleGen recorded and, when the config
asks (`block_on_drift`), the DriftCheck's drift, and raises DataAnomalies, one line naming
each split, feature and anomaly, unless the config accepts it.
The Trainer runs after it (`add_upstream_node`), on the local runner and on Kubeflow alike.
"""

import os
from typing import Dict

from absl import logging
from tensorflow_data_validation.utils import anomalies_util
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.components.example_validator.executor import DEFAULT_FILE_NAME
from tfx.types import artifact_utils, standard_artifacts

from common import run_record
from components.data_gate import checks
from components.data_gate.config import UNSEEN_MOVIES, UNSEEN_USERS, ValidationConfig


def split_anomalies(anomalies: standard_artifacts.ExampleAnomalies
                    ) -> Dict[str, anomalies_pb2.Anomalies]:
    """ExampleValidator's anomalies of each split, by split name."""
    return {split: anomalies_util.load_anomalies_binary(os.path.join(
                artifact_utils.get_split_uri([anomalies], split), DEFAULT_FILE_NAME))
            for split in artifact_utils.decode_split_names(anomalies.split_names)}


@tfx.dsl.components.component
def DataGate(
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    drift_anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    validation_config: tfx.dsl.components.Parameter[str],
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Raises checks.DataAnomalies on anomalies `validation_config` (ValidationConfig JSON)
    does not accept: ExampleValidator's `anomalies`, eval's unseen ids, and with
    `block_on_drift` the DriftCheck's `drift_anomalies`. `examples`: only its unseen-id
    properties are read, never its data. `code_version`: the digest of this code
    (components/code_version.py), a parameter only so that an edit to it changes the cache
    key."""
    del code_version
    config = ValidationConfig.from_json(validation_config)
    schema = split_anomalies(anomalies)
    unseen = checks.unseen(run_record.properties(examples.mlmd_artifact))
    found = checks.verdict(schema, unseen, config)
    if config.block_on_drift:
        found += [anomaly for split, drifts in split_anomalies(drift_anomalies).items()
                  for anomaly in checks.schema_anomalies(split, drifts)]
    for anomaly in found:
        logging.warning("DataGate: %s%s", anomaly,
                        "" if checks.refused([anomaly], config) else " (accepted)")
    refused = checks.refused(found, config)
    if refused:
        raise checks.refusal(refused)
    logging.info("DataGate: passed %s; eval's ratings of users unseen in train %.2f%%, of "
                 "movies %.2f%%", ", ".join(sorted(schema)), 100 * unseen[UNSEEN_USERS],
                 100 * unseen[UNSEEN_MOVIES])
