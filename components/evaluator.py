"""The Evaluator's gate: one TFMA EvalConfig that reads both the rating and retrieval heads.

Both are read from the raw eval examples through each model's own `serving_default`
(candidate and baseline apply their own Transform graphs, so different vocabularies compare
fairly): RMSE on the `rating` output against the example's stars, and the mean of the
`top_k_hit` output, which is the top-k accuracy.
"""

from __future__ import annotations

from typing import Any, Dict

import tensorflow_model_analysis as tfma

from components import features
from pipeline.config import GateConfig

RATING_OUTPUT = "rating"
TOP_K_OUTPUT = "top_k_hit"
RMSE = "root_mean_squared_error"
TOP_K_ACCURACY = "mean_prediction"


def _overall(threshold: tfma.MetricThreshold) -> list:
    """Gate on the whole eval set; the activity slices are reported, not gated (a sparse
    slice would otherwise veto a model on noise)."""
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                         threshold=threshold)]


def eval_config(gate: GateConfig) -> tfma.EvalConfig:
    rmse = tfma.MetricConfig(
        class_name="RootMeanSquaredError",
        per_slice_thresholds=_overall(tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(upper_bound={"value": gate.max_rmse}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.LOWER_IS_BETTER,
                absolute={"value": gate.max_rmse_increase}))))
    top_k = tfma.MetricConfig(
        class_name="MeanPrediction",
        per_slice_thresholds=_overall(tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": gate.min_top_k_accuracy}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                absolute={"value": -gate.max_top_k_accuracy_decrease}))))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="serving_default",
            # top_k_hit needs no label; TFMA still asks for one per output, and stars will do.
            label_keys={RATING_OUTPUT: features.RATING, TOP_K_OUTPUT: features.RATING})],
        slicing_specs=[tfma.SlicingSpec(),
                       tfma.SlicingSpec(feature_keys=[features.USER_ACTIVITY])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), rmse],
                             output_names=[RATING_OUTPUT]),
            tfma.MetricsSpec(metrics=[top_k], output_names=[TOP_K_OUTPUT]),
        ])


def gate_summary(evaluation_uri: str) -> Dict[str, Any]:
    """The overall RMSE and top-k accuracy the Evaluator measured, and whether they passed."""
    result = tfma.load_eval_result(evaluation_uri)
    overall = next(metrics for slice_key, metrics in result.slicing_metrics if slice_key == ())
    return {
        "rmse": overall[RATING_OUTPUT][""][RMSE]["doubleValue"],
        "top_k_accuracy": overall[TOP_K_OUTPUT][""][TOP_K_ACCURACY]["doubleValue"],
        "example_count": overall[RATING_OUTPUT][""]["example_count"]["doubleValue"],
        "passed": tfma.load_validation_result(evaluation_uri).validation_ok,
    }
