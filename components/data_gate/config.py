"""What the data gate refuses before anything is trained: its config."""

from __future__ import annotations

import dataclasses
from typing import Tuple

from common.config_error import ConfigError, require
from common.json_config import JsonConfig

# The anomalies of eval's ids that TFDV, which describes each split alone, cannot see.
UNSEEN_USERS = "EVAL_UNSEEN_USERS"
UNSEEN_MOVIES = "EVAL_UNSEEN_MOVIES"


@dataclasses.dataclass(frozen=True)
class ValidationConfig(JsonConfig):
    """What the data must be for the run to go on to the Trainer.

    TFDV's anomalies against the curated schema (common/features.py) stop the run, and so
    does an eval split whose ratings are mostly of users or movies never rated in train.
    `accepted_anomalies` lets named ones through, each written SPLIT:FEATURE:TYPE as the
    refusal names it (e.g. eval:movie_id:EVAL_UNSEEN_MOVIES).
    """

    accepted_anomalies: Tuple[str, ...] = ()
    # Fractions of eval's ratings; MovieLens' own releases have at most 0.5% (docs/data.md).
    max_unseen_users: float = 0.2
    max_unseen_movies: float = 0.2

    def __post_init__(self) -> None:
        for field in ("max_unseen_users", "max_unseen_movies"):
            require(0.0 <= getattr(self, field) <= 1.0, f"--validation {field}", "in [0, 1]",
                    getattr(self, field))
        for name in self.accepted_anomalies:
            parts = name.split(":")
            if len(parts) != 3 or not all(parts):
                raise ConfigError(f"--accept-anomaly {name!r}: expected SPLIT:FEATURE:TYPE, "
                                  "e.g. eval:movie_id:EVAL_UNSEEN_MOVIES")
            if parts[2] not in anomaly_types():
                raise ConfigError(f"--accept-anomaly {name!r}: no anomaly type {parts[2]!r}; "
                                  f"TFDV's AnomalyInfo.Type names one, or {UNSEEN_USERS}, "
                                  f"{UNSEEN_MOVIES}")


def anomaly_types() -> Tuple[str, ...]:
    """Every anomaly type the gate can name: TFDV's, then the unseen-id ones."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return tuple(anomalies_pb2.AnomalyInfo.Type.keys()) + (UNSEEN_USERS, UNSEEN_MOVIES)
