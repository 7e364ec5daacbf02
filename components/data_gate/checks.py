"""The data gate's verdict: TFDV's anomalies of each split, and eval's unseen ids, less the
anomalies the config accepts. Pure functions of the protos and numbers; no I/O."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping

from tensorflow_metadata.proto.v0 import anomalies_pb2

from common import features
from components.data_gate.config import UNSEEN_MOVIES, UNSEEN_USERS, ValidationConfig
from components.example_gen import layout

DATASET = "dataset"  # the feature named by an anomaly of a whole split (e.g. too few examples)
EVAL = "eval"


class DataAnomalies(Exception):
    """The data the run would train on has anomalies the config does not accept."""


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """One anomaly: where (split, feature), what (TFDV's type name) and TFDV's words."""

    split: str
    feature: str
    kind: str
    description: str

    @property
    def name(self) -> str:
        """SPLIT:FEATURE:TYPE, as `--accept-anomaly` takes it."""
        return f"{self.split}:{self.feature}:{self.kind}"

    def __str__(self) -> str:
        return f"split {self.split}, feature {self.feature}: {self.kind} ({self.description})"


def schema_anomalies(split: str, anomalies: anomalies_pb2.Anomalies) -> List[Anomaly]:
    """The anomalies ExampleValidator found in one split, one per reason."""
    found = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        found += [Anomaly(split, feature, anomalies_pb2.AnomalyInfo.Type.Name(reason.type),
                          (reason.description or reason.short_description).rstrip("."))
                  for reason in info.reason]
    found += [Anomaly(split, DATASET, anomalies_pb2.AnomalyInfo.Type.Name(reason.type),
                      (reason.description or reason.short_description).rstrip("."))
              for reason in anomalies.dataset_anomaly_info.reason]
    return found


def unseen(examples: Mapping[str, Any]) -> Dict[str, float]:
    """The fractions of eval's ratings whose user or movie train never rated, as the
    ExampleGen records them (`examples`: its Examples' custom properties), by the anomaly
    type each one's bound raises (UNSEEN_USERS, UNSEEN_MOVIES)."""
    return {UNSEEN_USERS: float(examples[layout.UNSEEN_USERS]),
            UNSEEN_MOVIES: float(examples[layout.UNSEEN_MOVIES])}


def unseen_anomalies(unseen: Mapping[str, float], config: ValidationConfig) -> List[Anomaly]:
    """Eval's users or movies mostly unseen in train. `unseen`: the fraction of eval's
    ratings whose user (UNSEEN_USERS) or movie (UNSEEN_MOVIES) has no rating in train."""
    found = []
    for kind, feature, bound, what in (
            (UNSEEN_USERS, features.USER_ID, config.max_unseen_users, "users"),
            (UNSEEN_MOVIES, features.MOVIE_ID, config.max_unseen_movies, "movies")):
        fraction = unseen[kind]
        if not fraction <= bound:
            found.append(Anomaly(EVAL, feature, kind,
                                 f"{fraction:.1%} of eval's ratings are of {what} with no "
                                 f"rating in train; at most {bound:.1%}"))
    return found


def describe_unseen(unseen: Mapping[str, float]) -> str:
    """One line for the run's output: the data passed, and how much of eval is unseen."""
    return (f"Data: passed the DataGate; of eval's ratings, {unseen[UNSEEN_USERS]:.1%} are of "
            f"users and {unseen[UNSEEN_MOVIES]:.1%} of movies unseen in train.")


def refused(anomalies: List[Anomaly], config: ValidationConfig) -> List[Anomaly]:
    """The anomalies the config does not accept."""
    return [anomaly for anomaly in anomalies if anomaly.name not in config.accepted_anomalies]


def verdict(schema: Dict[str, anomalies_pb2.Anomalies], unseen: Mapping[str, float],
            config: ValidationConfig) -> List[Anomaly]:
    """Every anomaly found, accepted or not: each split's (`schema`, split -> TFDV's
    anomalies) and eval's unseen ids."""
    found = [anomaly for split in sorted(schema) for anomaly in
             schema_anomalies(split, schema[split])]
    return found + unseen_anomalies(unseen, config)


def refusal(anomalies: List[Anomaly]) -> DataAnomalies:
    """The error naming every refused anomaly, on one line, with how to accept one."""
    return DataAnomalies(
        "; ".join(str(anomaly) for anomaly in anomalies)
        + f". Nothing was trained or pushed. If the data is right, accept an anomaly with "
          f"--accept-anomaly {anomalies[0].name}")
