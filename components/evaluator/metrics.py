"""TFMA metrics that measure the model against naive baselines on the same eval examples.

The serving model's `serving_default` returns, beside each head's output, what a naive
baseline says for the same example (trainer/export.py): `baseline_rating`, the global mean
training rating, and `baseline_top_k_hit`, whether the example's movie is among the k most
rated training movies the user has not rated. The metrics here are the model's RMSE and
top-k accuracy, and their ratios to the baseline's, so one bound works on any data:

- `root_mean_squared_error`: RMSE of `rating` in stars;
- `rmse_over_baseline`: RMSE of `rating` / RMSE of `baseline_rating` (below 1: better);
- `top_k_accuracy`: the mean of `top_k_hit`;
- `top_k_over_baseline`: top-k accuracy / the most-popular ranking's (above 1: better);
- `catalogue_coverage`: the share of the catalogue in at least one example's top k (the
  recommendations of the slice's users), and `baseline_catalogue_coverage`, the most-popular
  ranking's; reported, not gated.

All six are read from one pass of one combiner over the examples (`_GateSums`): TFMA's own
MeanSquaredError and MeanPrediction each took a combiner a metric and output, with TFMA's
generic per-example conversion in each, and were most of the Evaluator's time (profiled on
ml-100k's 20,000 gate examples: 17.5 of 33 s, 14 of them in that conversion).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Set

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from serving import contract

RATING_OUTPUT = contract.RATING  # the serving_default outputs the gate reads
TOP_K_OUTPUT = contract.TOP_K_HIT
BASELINE_OUTPUTS = {RATING_OUTPUT: contract.BASELINE_RATING,
                    TOP_K_OUTPUT: contract.BASELINE_TOP_K_HIT}
ROOT_MEAN_SQUARED_ERROR = "root_mean_squared_error"  # as TFMA's Keras-wrapped one is named
RMSE_OVER_BASELINE = "rmse_over_baseline"
TOP_K_ACCURACY = "top_k_accuracy"
TOP_K_OVER_BASELINE = "top_k_over_baseline"
CATALOGUE_COVERAGE = "catalogue_coverage"
BASELINE_CATALOGUE_COVERAGE = "baseline_catalogue_coverage"
# The sums a gate combiner keeps, in this order: each output's squared error against the
# label (the example's stars) for the rating outputs, its value for the top-k outputs.
_SUMMED = (RATING_OUTPUT, BASELINE_OUTPUTS[RATING_OUTPUT], TOP_K_OUTPUT,
           BASELINE_OUTPUTS[TOP_K_OUTPUT])
_SQUARED = _SUMMED[:2]


def _of_model(tree: Any, model_name: str) -> Any:
    """TFMA's labels or predictions of one model: keyed first by model name when several
    models are evaluated (candidate and baseline)."""
    if model_name and isinstance(tree, dict) and model_name in tree:
        return tree[model_name]
    return tree


def _value(tree: Any, model_name: str, output: str) -> float:
    """An example's value of `output` in TFMA's labels or predictions of `model_name`."""
    tree = _of_model(tree, model_name)
    if isinstance(tree, dict):
        tree = tree[output]
    return float(np.asarray(tree).reshape(-1)[0])


@dataclasses.dataclass
class _Gate:
    """What the gate's combiner keeps for one model: _SUMMED's sums and the example count
    (`sums`), the catalogue rows in any example's top k (`recommended`) and in the most
    popular ranking's (`popular`), and the catalogue's size."""

    sums: np.ndarray
    recommended: Set[int]
    popular: Set[int]
    catalogue: int = 0


class _GateSums(beam.CombineFn):
    """For one model, in one pass over the examples: a _Gate."""

    def __init__(self, key: metric_types.MetricKey):
        self._key = key

    def create_accumulator(self) -> _Gate:
        return _Gate(np.zeros(len(_SUMMED) + 1), set(), set())

    def add_input(self, gate: _Gate, element: metric_types.StandardMetricInputs) -> _Gate:
        model = self._key.model_name
        label = _value(element.label, model, RATING_OUTPUT)
        prediction = _of_model(element.prediction, model)
        for i, output in enumerate(_SUMMED):
            value = _value(prediction, "", output)
            gate.sums[i] += (value - label) ** 2 if output in _SQUARED else value
        gate.sums[-1] += 1.0
        gate.recommended.update(np.asarray(prediction[contract.TOP_K_MOVIES]).ravel().tolist())
        gate.popular.update(
            np.asarray(prediction[contract.BASELINE_TOP_K_MOVIES]).ravel().tolist())
        gate.catalogue = max(gate.catalogue,
                             int(_value(prediction, "", contract.CATALOGUE_SIZE)))
        return gate

    def merge_accumulators(self, accumulators) -> _Gate:
        merged = self.create_accumulator()
        for gate in accumulators:
            merged.sums += gate.sums
            merged.recommended |= gate.recommended
            merged.popular |= gate.popular
            merged.catalogue = max(merged.catalogue, gate.catalogue)
        return merged

    def extract_output(self, gate: _Gate) -> Dict[metric_types.MetricKey, _Gate]:
        return {self._key: gate}


def _divide(model: float, baseline: float) -> float:
    if baseline == 0.0:
        return math.inf if model > 0 else 1.0
    return model / baseline


# A _Gate -> each metric's value. Its sums: the model's squared errors, the baseline's, the
# model's hits, the baseline's, the examples.
def _rmse(gate: _Gate) -> float:
    return math.sqrt(_divide(gate.sums[0], gate.sums[4]))


def _rmse_ratio(gate: _Gate) -> float:
    return math.sqrt(_divide(gate.sums[0], gate.sums[1]))


def _top_k_accuracy(gate: _Gate) -> float:
    return _divide(gate.sums[2], gate.sums[4])


def _top_k_ratio(gate: _Gate) -> float:
    return _divide(gate.sums[2], gate.sums[3])


def _coverage(gate: _Gate) -> float:
    return len(gate.recommended) / gate.catalogue if gate.catalogue else 0.0


def _baseline_coverage(gate: _Gate) -> float:
    return len(gate.popular) / gate.catalogue if gate.catalogue else 0.0


def _computations(name: str, value, eval_config=None, model_name: str = "",
                  output_name: str = "", example_weighted: bool = False,
                  sub_key: Optional[metric_types.SubKey] = None
                  ) -> metric_types.MetricComputations:
    """The shared _Gate (one computation a model, which TFMA runs once for all six metrics:
    it removes computations with equal keys) and `value` of it, the metric `name`."""
    del eval_config, sub_key
    sums = metric_types.MetricKey(name="_gate_sums", model_name=model_name,
                                  example_weighted=example_weighted)
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)

    def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
        return {key: value(metrics[sums])}

    return [metric_types.MetricComputation(keys=[sums], preprocessors=None,
                                           combiner=_GateSums(sums)),
            metric_types.DerivedMetricComputation(keys=[key], result=result)]


class _GateMetric(metric_types.Metric):
    def __init__(self, name: str, value):
        super().__init__(metric_util.merge_per_key_computations(_computations), name=name,
                         value=value)


class RootMeanSquaredError(_GateMetric):
    """RMSE of `rating` in stars. `code_version` is ignored (eval_config's docstring)."""

    def __init__(self, name: str = ROOT_MEAN_SQUARED_ERROR, code_version: str = ""):
        del code_version
        super().__init__(name, _rmse)


class RmseOverBaseline(_GateMetric):
    """The model's RMSE over the global-mean baseline's RMSE, on the same examples."""

    def __init__(self, name: str = RMSE_OVER_BASELINE):
        super().__init__(name, _rmse_ratio)


class TopKAccuracy(_GateMetric):
    """The mean of `top_k_hit`: how often the example's movie is in the user's top k."""

    def __init__(self, name: str = TOP_K_ACCURACY):
        super().__init__(name, _top_k_accuracy)


class TopKOverBaseline(_GateMetric):
    """The model's top-k accuracy over the most-popular ranking's, on the same examples."""

    def __init__(self, name: str = TOP_K_OVER_BASELINE):
        super().__init__(name, _top_k_ratio)


class CatalogueCoverage(_GateMetric):
    """The share of the catalogue that is in at least one example's top k."""

    def __init__(self, name: str = CATALOGUE_COVERAGE):
        super().__init__(name, _coverage)


class BaselineCatalogueCoverage(_GateMetric):
    """The same of the most-popular ranking (its top k less each user's seen movies)."""

    def __init__(self, name: str = BASELINE_CATALOGUE_COVERAGE):
        super().__init__(name, _baseline_coverage)
