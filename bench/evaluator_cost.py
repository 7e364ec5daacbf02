"""What the Evaluator's movie-popularity slices and catalogue-coverage metrics (issue 24) add
to its time: TFX's Evaluator executor, run twice in this process on one run's model and gate
split, with the pipeline's eval config and with that config less those (issue 23's: the
whole split and the user-activity slices, the gate's four metrics)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Dict, Sequence

import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from common import features
from components.evaluator import metrics as gate_metrics
from components.example_gen import layout

ADDED_METRICS = (gate_metrics.CatalogueCoverage.__name__,
                 gate_metrics.BaselineCatalogueCoverage.__name__)


def before_issue_24(config: tfma.EvalConfig) -> tfma.EvalConfig:
    """`config` without the movie-popularity slices and the catalogue-coverage metrics."""
    before = tfma.EvalConfig()
    before.CopyFrom(config)
    kept = [spec for spec in before.slicing_specs
            if list(spec.feature_keys) != [features.MOVIE_POPULARITY]]
    del before.slicing_specs[:]
    before.slicing_specs.extend(kept)
    for spec in before.metrics_specs:
        metrics = [m for m in spec.metrics if m.class_name not in ADDED_METRICS]
        del spec.metrics[:]
        spec.metrics.extend(metrics)
    return before


def seconds_to_evaluate(examples_uri: str, model_uri: str, config: tfma.EvalConfig,
                        beam_pipeline_args: Sequence[str]) -> float:
    """The wall time of TFX's Evaluator executor on the gate split of `examples_uri`."""
    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    examples.split_names = artifact_utils.encode_split_names(list(layout.SPLITS))
    model = standard_artifacts.Model()
    model.uri = model_uri
    with tempfile.TemporaryDirectory(prefix="evaluator-cost-") as scratch:
        evaluation = standard_artifacts.ModelEvaluation()
        evaluation.uri = os.path.join(scratch, "evaluation")
        blessing = standard_artifacts.ModelBlessing()
        blessing.uri = os.path.join(scratch, "blessing")
        for artifact in (evaluation, blessing):
            os.makedirs(artifact.uri)
        executor = evaluator_executor.Executor(base_beam_executor.BaseBeamExecutor.Context(
            beam_pipeline_args=list(beam_pipeline_args), tmp_dir=scratch, unique_id="1"))
        started = time.monotonic()
        executor.Do(
            {standard_component_specs.EXAMPLES_KEY: [examples],
             standard_component_specs.MODEL_KEY: [model]},
            {standard_component_specs.EVALUATION_KEY: [evaluation],
             standard_component_specs.BLESSING_KEY: [blessing]},
            {standard_component_specs.EVAL_CONFIG_KEY: json_format.MessageToJson(config),
             standard_component_specs.EXAMPLE_SPLITS_KEY: json.dumps([layout.GATE]),
             standard_component_specs.FEATURE_SLICING_SPEC_KEY: None,
             standard_component_specs.FAIRNESS_INDICATOR_THRESHOLDS_KEY: None})
        return time.monotonic() - started


def growth(examples_uri: str, model_uri: str, config: tfma.EvalConfig,
           beam_pipeline_args: Sequence[str]) -> Dict[str, float]:
    """The Evaluator's seconds with `config` ("now") and without issue 24's additions
    ("before"), and the difference ("growth")."""
    now = seconds_to_evaluate(examples_uri, model_uri, config, beam_pipeline_args)
    before = seconds_to_evaluate(examples_uri, model_uri, before_issue_24(config),
                                 beam_pipeline_args)
    return {"now": now, "before": before, "growth": now - before}
