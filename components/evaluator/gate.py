"""The Evaluator's gate: one TFMA EvalConfig that reads both the rating and retrieval heads.

Both are read from the raw eval examples through each model's own `serving_default`
(candidate and baseline apply their own Transform graphs, so different vocabularies compare
fairly): RMSE on the `rating` output against the example's stars, and the mean of the
`top_k_hit` output, which is the top-k accuracy. Each is also divided by the same metric of
the naive baseline outputs (components/evaluator/metrics.py), and the ratios are bounded, so the
default gate holds on any data set.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma

from common import features
from components.evaluator import metrics as gate_metrics
from components.evaluator.config import GateConfig
from serving import contract

# The slices the Evaluator reports beside the whole gate split (it gates on the whole only).
SLICED_BY = tuple(features.SLICE_BUCKETS)
RATING_OUTPUT = gate_metrics.RATING_OUTPUT
TOP_K_OUTPUT = gate_metrics.TOP_K_OUTPUT
RMSE = gate_metrics.ROOT_MEAN_SQUARED_ERROR
TOP_K_ACCURACY = gate_metrics.TOP_K_ACCURACY


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


def _metric(class_name: str, module: str = "", value: Optional[Dict[str, Any]] = None,
            change: Optional[tfma.GenericChangeThreshold] = None,
            config: str = "") -> tfma.MetricConfig:
    threshold = tfma.MetricThreshold()
    if value:
        threshold.value_threshold.CopyFrom(tfma.GenericValueThreshold(**value))
    if change is not None:
        threshold.change_threshold.CopyFrom(change)
    return tfma.MetricConfig(class_name=class_name, module=module, config=config,
                             per_slice_thresholds=_overall(threshold) if (value or change)
                             else [])


def eval_config(gate: GateConfig, code_version: str = "") -> tfma.EvalConfig:
    """The gate's TFMA config. `code_version`, the digest of the metrics' code
    (components/code_version.py), is passed to the first metric's constructor, which ignores
    it: it is there so that an edit to the metrics changes the Evaluator's cache key."""
    rmse = _metric("RootMeanSquaredError", gate_metrics.__name__,
                   value=_bounds(upper=gate.max_rmse),
                   change=tfma.GenericChangeThreshold(
                       direction=tfma.MetricDirection.LOWER_IS_BETTER,
                       absolute={"value": gate.max_rmse_increase}),
                   config=json.dumps({"code_version": code_version}) if code_version else "")
    top_k = _metric("TopKAccuracy", gate_metrics.__name__,
                    value=_bounds(lower=gate.min_top_k_accuracy),
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
        model_specs=[tfma.ModelSpec(signature_name=contract.SERVING_DEFAULT,
                                    label_keys={output: features.RATING for output in outputs})],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[feature])
                                              for feature in SLICED_BY],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"), rmse,
                                      rmse_ratio], output_names=[RATING_OUTPUT]),
            tfma.MetricsSpec(metrics=[top_k, top_k_ratio,
                                      _metric("CatalogueCoverage", gate_metrics.__name__),
                                      _metric("BaselineCatalogueCoverage",
                                              gate_metrics.__name__)],
                             output_names=[TOP_K_OUTPUT]),
        ])


# The gate's checks by (output, metric, against the baseline model?): the GateConfig field
# that sets each one's bound.
_CHECKS = {
    (RATING_OUTPUT, RMSE, False): "max_rmse",
    (RATING_OUTPUT, RMSE, True): "max_rmse_increase",
    (RATING_OUTPUT, gate_metrics.RMSE_OVER_BASELINE, False): "max_rmse_over_baseline",
    (TOP_K_OUTPUT, TOP_K_ACCURACY, False): "min_top_k_accuracy",
    (TOP_K_OUTPUT, TOP_K_ACCURACY, True): "max_top_k_accuracy_decrease",
    (TOP_K_OUTPUT, gate_metrics.TOP_K_OVER_BASELINE, False): "min_top_k_over_baseline",
}


def gate_summary(evaluation_uri: str) -> Dict[str, Any]:
    """The overall metrics the Evaluator measured (the baselines' derived from the ratios),
    whether they passed, whether a blessed model was compared with, and each failed check
    (see `failures`)."""
    result = tfma.load_eval_result(evaluation_uri)
    overall = next(metrics for slice_key, metrics in result.slicing_metrics if slice_key == ())

    def value(output: str, name: str) -> float:
        return overall[output][""][name]["doubleValue"]

    validation = tfma.load_validation_result(evaluation_uri)
    summary = {
        "rmse": value(RATING_OUTPUT, RMSE),
        "rmse_over_baseline": value(RATING_OUTPUT, gate_metrics.RMSE_OVER_BASELINE),
        "top_k_accuracy": value(TOP_K_OUTPUT, TOP_K_ACCURACY),
        "top_k_over_baseline": value(TOP_K_OUTPUT, gate_metrics.TOP_K_OVER_BASELINE),
        "example_count": value(RATING_OUTPUT, "example_count"),
        "passed": validation.validation_ok,
        # (TFX sets TFMA's rubber_stamp on every run; a baseline spec means one was read.)
        "compared_with_blessed_model": any(spec.is_baseline
                                           for spec in result.config.model_specs),
    }
    summary["baseline_rmse"] = summary["rmse"] / summary["rmse_over_baseline"]
    summary["baseline_top_k_accuracy"] = (summary["top_k_accuracy"]
                                          / summary["top_k_over_baseline"])
    summary["failures"] = failures(validation, summary)
    return summary


def blessed_model_summary(evaluation_uri: str) -> Optional[Dict[str, float]]:
    """The latest blessed model's RMSE and top-k accuracy on the same examples, when the
    Evaluator compared the candidate with one (else None)."""
    config = tfma.load_eval_result(evaluation_uri).config
    baseline = next((spec.name for spec in config.model_specs if spec.is_baseline), None)
    if baseline is None:
        return None
    result = tfma.load_eval_result(evaluation_uri, model_name=baseline)
    overall = next(metrics for slice_key, metrics in result.slicing_metrics if slice_key == ())
    return {"rmse": overall[RATING_OUTPUT][""][RMSE]["doubleValue"],
            "top_k_accuracy": overall[TOP_K_OUTPUT][""][TOP_K_ACCURACY]["doubleValue"]}


def slices(evaluation_uri: str) -> List[Dict[str, Any]]:
    """Each slice the Evaluator measured, the whole gate split first, then SLICED_BY's buckets
    in order: {"slice": its name, "examples", "rmse", "rmse_over_baseline",
    "top_k_accuracy", "top_k_over_baseline", "coverage", "baseline_coverage"} (coverage: the
    share of the catalogue in the top k of at least one of the slice's examples)."""
    result = tfma.load_eval_result(evaluation_uri)
    rows = []
    for slice_key, metrics in result.slicing_metrics:
        def value(output: str, name: str) -> float:
            # TFMA writes a ratio's Infinity or NaN (no baseline hit in a slice) as text.
            return float(metrics[output][""][name]["doubleValue"])

        name = " ".join(features.slice_name(feature, bucket.decode()
                                            if isinstance(bucket, bytes) else bucket)
                        for feature, bucket in slice_key) or features.WHOLE
        rows.append({"slice": name, "key": slice_key,
                     "examples": int(value(RATING_OUTPUT, "example_count")),
                     "rmse": value(RATING_OUTPUT, RMSE),
                     "rmse_over_baseline": value(RATING_OUTPUT, gate_metrics.RMSE_OVER_BASELINE),
                     "top_k_accuracy": value(TOP_K_OUTPUT, TOP_K_ACCURACY),
                     "top_k_over_baseline": value(TOP_K_OUTPUT,
                                                  gate_metrics.TOP_K_OVER_BASELINE),
                     "coverage": value(TOP_K_OUTPUT, gate_metrics.CATALOGUE_COVERAGE),
                     "baseline_coverage": value(TOP_K_OUTPUT,
                                                gate_metrics.BASELINE_CATALOGUE_COVERAGE)})
    rows.sort(key=_slice_order)
    for row in rows:
        del row["key"]
    return rows


def _slice_order(row: Dict[str, Any]) -> tuple:
    """The whole first, then each SLICED_BY feature's buckets in their declared order."""
    if not row["key"]:
        return (-1, 0)
    [(feature, bucket)] = row["key"]
    bucket = bucket.decode() if isinstance(bucket, bytes) else str(bucket)
    order = features.SLICE_BUCKETS.get(feature, ())
    return (SLICED_BY.index(feature) if feature in SLICED_BY else len(SLICED_BY),
            order.index(bucket) if bucket in order else len(order))


def slice_table(rows: List[Dict[str, Any]], top_k: int) -> List[str]:
    """`slices` as aligned lines for the run's output."""
    width = max(len(row["slice"]) for row in rows)
    lines = [f"  {'slice':<{width}}  ratings    RMSE  x mean  top-{top_k:<3} x popular  "
             "coverage (popular's)"]
    lines += [f"  {row['slice']:<{width}}  {row['examples']:7,}  {row['rmse']:6.4f}  "
              f"{row['rmse_over_baseline']:6.2f}  {row['top_k_accuracy']:6.4f}  "
              f"{row['top_k_over_baseline']:9.2f}  {row['coverage']:8.1%} "
              f"({row['baseline_coverage']:.1%})" for row in rows]
    return lines


def failures(validation, summary: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The gate's failed checks in a TFMA ValidationResult, overall slice only, each as
    {"check": the GateConfig field of its bound, "value": the candidate's number (a ratio
    for the ratio checks), "blessed_model": the compared blessed model's number, for the
    checks against it}."""
    found = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            key = failure.metric_key
            check = _CHECKS.get((key.output_name, key.name, key.is_diff))
            if check is None:
                continue
            number = failure.metric_value.double_value.value
            if not key.is_diff:
                found.append({"check": check, "value": number, "blessed_model": None})
                continue
            candidate = summary["rmse" if key.name == RMSE else "top_k_accuracy"]
            found.append({"check": check, "value": candidate,
                          "blessed_model": candidate - number})
    return found


def describe_failure(failure: Dict[str, Any], gate: GateConfig, top_k: int) -> str:
    """One failed check in words, with the bound's option, e.g. "RMSE 0.9623 stars is
    0.0535 worse than the latest blessed model's 0.9088, more than --gate
    max_rmse_increase=0.02"."""
    check, value, blessed = failure["check"], failure["value"], failure["blessed_model"]
    bound = f"--gate {check}={getattr(gate, check)}"
    accuracy = f"top-{top_k} accuracy"
    if check == "max_rmse":
        return f"RMSE {value:.4f} stars is above {bound}"
    if check == "max_rmse_increase":
        return (f"RMSE {value:.4f} stars is {value - blessed:.4f} worse than the latest "
                f"blessed model's {blessed:.4f}, more than {bound}")
    if check == "max_rmse_over_baseline":
        return f"RMSE is {value:.2f} x the global mean rating's, above {bound}"
    if check == "min_top_k_accuracy":
        return f"{accuracy} {value:.4f} is below {bound}"
    if check == "max_top_k_accuracy_decrease":
        return (f"{accuracy} {value:.4f} is {blessed - value:.4f} below the latest blessed "
                f"model's {blessed:.4f}, more than {bound}")
    return f"{accuracy} is {value:.2f} x the most popular movies', below {bound}"
