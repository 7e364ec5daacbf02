"""What the data gate refuses before anything is trained: its config."""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from common import features
from common.config_error import ConfigError, require
from common.json_config import JsonConfig

JS = "Jensen-Shannon divergence"
L_INFINITY = "L-infinity distance"
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

    Drift: the distances between this run's training data and the served version's (TFDV's
    Jensen-Shannon divergence of the ratings, L-infinity distance of the shares of movies,
    users and activity buckets) are measured and reported; past these bounds they stop the
    run only with `block_on_drift`. The bounds are set from MovieLens (docs/data.md): two
    samples of one release stay below half of each, a change of release exceeds some.
    """

    accepted_anomalies: Tuple[str, ...] = ()
    # Fractions of eval's ratings; MovieLens' own releases have at most 0.5% (docs/data.md).
    max_unseen_users: float = 0.2
    max_unseen_movies: float = 0.2
    max_rating_drift: float = 0.02  # Jensen-Shannon divergence of the stars
    max_movie_drift: float = 0.003  # L-infinity: the largest change of one movie's share
    max_user_drift: float = 0.01  # L-infinity: the largest change of one user's share
    max_activity_drift: float = 0.05  # L-infinity: of the activity buckets' shares
    block_on_drift: bool = False

    def __post_init__(self) -> None:
        for field in ("max_unseen_users", "max_unseen_movies", "max_rating_drift",
                      "max_movie_drift", "max_user_drift", "max_activity_drift"):
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


def drift_bounds(config: ValidationConfig) -> Dict[str, Tuple[str, float]]:
    """Each feature whose drift is measured -> (its comparator: JS or L_INFINITY, bound)."""
    return {features.RATING: (JS, config.max_rating_drift),
            features.MOVIE_ID: (L_INFINITY, config.max_movie_drift),
            features.USER_ID: (L_INFINITY, config.max_user_drift),
            features.USER_ACTIVITY: (L_INFINITY, config.max_activity_drift)}


def anomaly_types() -> Tuple[str, ...]:
    """Every anomaly type the gate can name: TFDV's, then the unseen-id ones."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return tuple(anomalies_pb2.AnomalyInfo.Type.keys()) + (UNSEEN_USERS, UNSEEN_MOVIES)
