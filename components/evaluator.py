"""The Evaluator's gate: one TFMA EvalConfig that reads both the rating and retrieval heads.

Both are read from the raw eval examples through each model's own `serving_default`
(candidate and baseline apply their own Transform graphs, so different vocabularies compare
fairly): RMSE on the `rating` output against the example's stars, and the mean of the
`top_k_hit` output, which is the top-k accuracy. Each is also divided by the same metric of
the naive baseline outputs (components/gate_metrics.py), and the ratios are bounded, so the
default gate holds on any data set.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import tensorflow_model_analysis as tfma

from components import features, gate_metrics
from components.gate_config import GateConfig

RATING_OUTPUT = "rating"
TOP_K_OUTPUT = "top_k_hit"
RMSE = "root_mean_squared_error"
TOP_K_ACCURACY = "mean_prediction"


def _overall(threshold: tfma.MetricThreshold) -> list:
    """Gate on the whole eval set; the activity slices are reported, not gated (a sparse
    slice would otherwise veto a model on noise)."""
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                         threshold=threshold)]


def _bounds(upper: float = math.inf, lower: float = 0.0) -> Dict[str, Any]:
    """A value threshold's bounds; an infinite upper or a zero lower bound is no bound."""
    bounds = {}
    if math.isfinite(upper):
        bounds["upper_bound"] = {"value": upper}
    if lower > 0:
        bounds["lower_bound"] = {"value": lower}
    return bounds


def _metric(class_name: str, module: str = "", value: Dict[str, Any] = None,
            change: tfma.GenericChangeThreshold = None) -> tfma.MetricConfig:
    threshold = tfma.MetricThreshold()
    if value:
        threshold.value_threshold.CopyFrom(tfma.GenericValueThreshold(**value))
    if change is not None:
        threshold.change_threshold.CopyFrom(change)
    return tfma.MetricConfig(class_name=class_name, module=module,
                             per_slice_thresholds=_overall(threshold) if (value or change)
                             else [])


def eval_config(gate: GateConfig) -> tfma.EvalConfig:
    rmse = _metric("RootMeanSquaredError", value=_bounds(upper=gate.max_rmse),
                   change=tfma.GenericChangeThreshold(
                       direction=tfma.MetricDirection.LOWER_IS_BETTER,
                       absolute={"value": gate.max_rmse_increase}))
    top_k = _metric("MeanPrediction", value=_bounds(lower=gate.min_top_k_accuracy),
                    change=tfma.GenericChangeThreshold(
                        direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                        absolute={"value": -gate.max_top_k_accuracy_decrease}))
    rmse_ratio = _metric("RmseOverBaseline", gate_metrics.__name__,
                         value=_bounds(upper=gate.max_rmse_over_baseline))
    top_k_ratio = _metric("TopKOverBaseline", gate_metrics.__name__,
                          value=_bounds(lower=gate.min_top_k_over_baseline))
    # Every output's label is the example's stars: the top-k outputs need none, but TFMA
    # asks for one per output.
    outputs = (RATING_OUTPUT, TOP_K_OUTPUT, *gate_metrics.BASELINE_OUTPUTS.values())
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default",
                                    label_keys={output: features.RATING for output in outputs})],
        slicing_specs=[tfma.SlicingSpec(),
                       tfma.SlicingSpec(feature_keys=[features.USER_ACTIVITY])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), rmse,
                                      rmse_ratio], output_names=[RATING_OUTPUT]),
            tfma.MetricsSpec(metrics=[top_k, top_k_ratio], output_names=[TOP_K_OUTPUT]),
        ])


def gate_summary(evaluation_uri: str) -> Dict[str, Any]:
    """The overall metrics the Evaluator measured (the baselines' derived from the ratios),
    and whether they passed."""
    result = tfma.load_eval_result(evaluation_uri)
    overall = next(metrics for slice_key, metrics in result.slicing_metrics if slice_key == ())

    def value(output: str, name: str) -> float:
        return overall[output][""][name]["doubleValue"]

    summary = {
        "rmse": value(RATING_OUTPUT, RMSE),
        "rmse_over_baseline": value(RATING_OUTPUT, gate_metrics.RMSE_OVER_BASELINE),
        "top_k_accuracy": value(TOP_K_OUTPUT, TOP_K_ACCURACY),
        "top_k_over_baseline": value(TOP_K_OUTPUT, gate_metrics.TOP_K_OVER_BASELINE),
        "example_count": value(RATING_OUTPUT, "example_count"),
        "passed": tfma.load_validation_result(evaluation_uri).validation_ok,
    }
    summary["baseline_rmse"] = summary["rmse"] / summary["rmse_over_baseline"]
    summary["baseline_top_k_accuracy"] = (summary["top_k_accuracy"]
                                          / summary["top_k_over_baseline"])
    return summary
