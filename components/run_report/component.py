"""RunReport: one self-contained HTML page of a run, as an output artifact.

It reads what the run's components wrote (the data's statistics and anomalies, the drift,
the training record, the evaluation, the servable check and the push), asks the Trainer's
model for a few users' recommendations through TF Serving's session loader, and writes the
page (components/run_report/page.py). TFX 1.16 has no such component.

The artifact's type is named `system.HTML`, and its URI is the page itself (a ValueArtifact,
one file): that is how the Kubeflow Pipelines UI finds an HTML artifact and shows it. On the
local runner, `movielens-tfx run` prints the page's path (pipeline/cli.py).
"""

import datetime
import os

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx
from tfx.components.statistics_gen.executor import DEFAULT_FILE_NAME as STATISTICS_FILE
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.value_artifact import ValueArtifact
from tfx.utils import path_utils

from common import run_record
from components.data_gate import checks
from components.data_gate.component import split_anomalies
from components.data_gate.config import ValidationConfig
from components.drift_check.component import measured
from components.evaluator.config import GateConfig
from components.example_gen.layout import EVAL_SAMPLE
from components.pusher.component import recorded_outcome
from components.run_report import facts, page
from components.servable_check import component as servable_check
from trainer.task import read_training_record


class HtmlReport(ValueArtifact):
    """An HTML page; the artifact's URI is the page's file."""

    TYPE_NAME = "system.HTML"  # the Kubeflow Pipelines UI's name for an HTML artifact

    def encode(self, value: str) -> bytes:
        """The page's UTF-8 bytes."""
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        """The page, from its file's bytes."""
        return serialized_value.decode("utf-8")


@tfx.dsl.components.component
def RunReport(
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    statistics: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleStatistics],
    anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    drift_anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_run: tfx.dsl.components.InputArtifact[standard_artifacts.ModelRun],
    evaluation: tfx.dsl.components.InputArtifact[standard_artifacts.ModelEvaluation],
    infra_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.InfraBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[standard_artifacts.PushedModel],
    report: tfx.dsl.components.OutputArtifact[HtmlReport],
    pipeline_name: tfx.dsl.components.Parameter[str],
    data_source: tfx.dsl.components.Parameter[str],
    validation_config: tfx.dsl.components.Parameter[str],
    gate_config: tfx.dsl.components.Parameter[str],
    top_k: tfx.dsl.components.Parameter[int],
    metadata_path: tfx.dsl.components.Parameter[str] = "",
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Writes the run's report. `metadata_path`: the local runner's SQLite ML Metadata, read
    for each component's time ("" on Kubeflow). `code_version`: the digest of this code
    (components/code_version.py), a parameter only so that an edit to it changes the cache
    key."""
    del code_version
    validation = ValidationConfig.from_json(validation_config)
    gate = GateConfig.from_json(gate_config)
    schema = split_anomalies(anomalies)
    unseen = checks.unseen(run_record.properties(examples.mlmd_artifact))
    statistics_by_split = {
        split: tfdv.load_stats_binary(os.path.join(
            artifact_utils.get_split_uri([statistics], split), STATISTICS_FILE))
        for split in artifact_utils.decode_split_names(statistics.split_names)
        if split in facts.SAMPLES}
    users = facts.sample_users(facts.read_examples(
        artifact_utils.get_split_uri([examples], EVAL_SAMPLE)))
    servable = bool(infra_blessing.get_int_custom_property(servable_check.BLESSED))
    found = {
        "pipeline": pipeline_name, "data_source": data_source,
        "written": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "data": facts.data(statistics_by_split, checks.verdict(schema, unseen, validation),
                           unseen, validation),
        "drift": facts.drift(measured(run_record.properties(drift_anomalies.mlmd_artifact)),
                             validation),
        "training": facts.training(read_training_record(model_run.uri)),
        "gate": facts.evaluation(evaluation.uri, gate, top_k),
        "outcome": facts.outcome(
            servable, infra_blessing.get_string_custom_property(servable_check.REASON),
            recorded_outcome(run_record.properties(pushed_model.mlmd_artifact))),
        "recommendations": facts.recommendations(
            path_utils.serving_model_path(model.uri), users),
        "times": facts.component_times(metadata_path),
    }
    report.write(page.render(found))
    print(f"RunReport: {report.uri}")
