"""Drift between two data sets' statistics, with TFDV's own comparators. Pure functions of
the protos; no I/O."""

from __future__ import annotations

from typing import Dict, List

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from common import features
from components.data_gate.config import JS, L_INFINITY, ValidationConfig, drift_bounds

# TFDV's anomaly types of a distance past its bound.
DRIFT_TYPES = ("COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH")
_MEASURE = {JS: anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE,
            L_INFINITY: anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY}


def drift_schema(config: ValidationConfig) -> schema_pb2.Schema:
    """The curated schema with TFDV's drift comparators and the config's bounds."""
    schema = features.raw_schema()
    bounds = drift_bounds(config)
    for feature in schema.feature:
        if feature.name not in bounds:
            continue
        comparator, bound = bounds[feature.name]
        if comparator == JS:
            feature.drift_comparator.jensen_shannon_divergence.threshold = bound
        else:
            feature.drift_comparator.infinity_norm.threshold = bound
    return schema


def compare(current: statistics_pb2.DatasetFeatureStatisticsList,
            served: statistics_pb2.DatasetFeatureStatisticsList,
            config: ValidationConfig) -> anomalies_pb2.Anomalies:
    """TFDV's validation of `current` against `served` (the served version's training data):
    a drift_skew_info per measured feature, and an anomaly per distance past its bound (the
    schema's other anomalies are ExampleValidator's to report, and are left out)."""
    found = tfdv.validate_statistics(current, drift_schema(config), previous_statistics=served)
    for feature in list(found.anomaly_info):
        info = found.anomaly_info[feature]
        kept = [reason for reason in info.reason
                if anomalies_pb2.AnomalyInfo.Type.Name(reason.type) in DRIFT_TYPES]
        if not kept:
            del found.anomaly_info[feature]
        elif len(kept) < len(info.reason):
            del info.reason[:]
            info.reason.extend(kept)
    found.ClearField("dataset_anomaly_info")
    return found


def distances(anomalies: anomalies_pb2.Anomalies, config: ValidationConfig) -> Dict[str, float]:
    """Each measured feature -> its distance, by the comparator the config gives it."""
    found = {}
    bounds = drift_bounds(config)
    for info in anomalies.drift_skew_info:
        feature = info.path.step[0]
        for measurement in info.drift_measurements:
            if feature in bounds and measurement.type == _MEASURE[bounds[feature][0]]:
                found[feature] = measurement.value
    return found


def against_bounds(measured: Dict[str, float], config: ValidationConfig) -> List[Dict]:
    """Each measured feature, in the config's order: its distance, comparator, bound and
    whether it is past the bound."""
    return [{"feature": feature, "comparator": comparator, "bound": bound,
             "distance": measured[feature], "past": not measured[feature] <= bound}
            for feature, (comparator, bound) in drift_bounds(config).items()
            if feature in measured]


def describe(compared_with: str, not_compared: str, measured: Dict[str, float],
             config: ValidationConfig) -> str:
    """One line for the run's output: each distance and its bound, against which version,
    and what past a bound does."""
    if not compared_with:
        return f"Drift: not measured ({not_compared})."
    rows = against_bounds(measured, config)
    parts = [f"{row['feature']} {row['distance']:.4f} ({row['comparator']}, at most "
             f"{row['bound']})" for row in rows]
    past = [row["feature"] for row in rows if row["past"]]
    verdict = "within the bounds"
    if past:
        verdict = f"past the bound: {', '.join(past)}" + (
            "" if config.block_on_drift else
            " (reported only; --validation block_on_drift=true stops such a run)")
    return f"Drift from the data that trained {compared_with}: {'; '.join(parts)}: {verdict}."


def drifted(anomalies: anomalies_pb2.Anomalies) -> List[str]:
    """The features whose distance is past its bound (`compare`'s anomalies)."""
    return sorted(anomalies.anomaly_info)
