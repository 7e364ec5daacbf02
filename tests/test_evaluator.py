"""The gate's account of a refusal: which check failed, with both models' numbers and the
option that sets its bound."""

import pytest
from tensorflow_model_analysis.proto import validation_result_pb2

from components.evaluator import gate as evaluator
from components.evaluator import metrics as gate_metrics
from components.evaluator.config import GateConfig

SUMMARY = {"rmse": 0.9623, "top_k_accuracy": 0.0717}


def _validation(*failed):
    """A ValidationResult holding one failure per (output, metric, is_diff, value)."""
    result = validation_result_pb2.ValidationResult(validation_ok=not failed)
    per_slice = result.metric_validations_per_slice.add()
    for output, name, is_diff, value in failed:
        failure = per_slice.failures.add()
        failure.metric_key.output_name = output
        failure.metric_key.name = name
        failure.metric_key.is_diff = is_diff
        failure.metric_key.model_name = "candidate"
        failure.metric_value.double_value.value = value
    return result


def test_a_change_against_the_blessed_model_is_named_with_both_numbers():
    """The issue's case: both printed numbers pass their bounds, the hidden cause is the
    change against a blessed model."""
    validation = _validation(
        (evaluator.RATING_OUTPUT, evaluator.RMSE, True, 0.0535),
        (evaluator.TOP_K_OUTPUT, evaluator.TOP_K_ACCURACY, True, -0.0401))
    found = evaluator.failures(validation, SUMMARY)
    assert [f["check"] for f in found] == ["max_rmse_increase", "max_top_k_accuracy_decrease"]
    assert found[0]["blessed_model"] == pytest.approx(0.9088)
    assert found[1]["blessed_model"] == pytest.approx(0.1118)
    gate = GateConfig()
    assert evaluator.describe_failure(found[0], gate, 10) == (
        "RMSE 0.9623 stars is 0.0535 worse than the latest blessed model's 0.9088, more than "
        "--gate max_rmse_increase=0.02")
    assert evaluator.describe_failure(found[1], gate, 10) == (
        "top-10 accuracy 0.0717 is 0.0401 below the latest blessed model's 0.1118, more than "
        "--gate max_top_k_accuracy_decrease=0.01")


@pytest.mark.parametrize("output, name, value, check, words", [
    (evaluator.RATING_OUTPUT, evaluator.RMSE, 1.2, "max_rmse",
     "RMSE 1.2000 stars is above --gate max_rmse=inf"),
    (evaluator.RATING_OUTPUT, gate_metrics.RMSE_OVER_BASELINE, 0.97, "max_rmse_over_baseline",
     "RMSE is 0.97 x the global mean rating's, above --gate max_rmse_over_baseline=0.95"),
    (evaluator.TOP_K_OUTPUT, evaluator.TOP_K_ACCURACY, 0.01, "min_top_k_accuracy",
     "top-5 accuracy 0.0100 is below --gate min_top_k_accuracy=0.0"),
    (evaluator.TOP_K_OUTPUT, gate_metrics.TOP_K_OVER_BASELINE, 0.8, "min_top_k_over_baseline",
     "top-5 accuracy is 0.80 x the most popular movies', below --gate "
     "min_top_k_over_baseline=1.1"),
])
def test_each_bound_is_named_by_its_option(output, name, value, check, words):
    found = evaluator.failures(_validation((output, name, False, value)), SUMMARY)
    assert found == [{"check": check, "value": value, "blessed_model": None}]
    assert evaluator.describe_failure(found[0], GateConfig(), 5) == words


def test_a_passing_gate_has_no_failures():
    assert evaluator.failures(_validation(), SUMMARY) == []
