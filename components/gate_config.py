"""What the Evaluator's gate asks of a candidate model: its config."""

from __future__ import annotations

import dataclasses
import math

from components.config_error import ConfigError


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """What a candidate model must reach to be blessed (and so pushed).

    By default, bounds relative to naive baselines on the same eval examples, so the gate
    works on any data: the model's RMSE over the global-mean rating's, its top-k accuracy
    over the most-popular ranking's (training movies excluded, as `retrieve` serves). Then
    changes against the latest blessed model (ignored on the first run, when there is none).
    Absolute bounds are optional (off by default). RMSE is in stars.
    """

    # The default model on ml-100k: RMSE 0.81 of the global mean's (0.909 / 1.122 stars),
    # top-10 accuracy 1.76 times the most-popular ranking's (0.164 / 0.093).
    max_rmse_over_baseline: float = 0.95
    min_top_k_over_baseline: float = 1.1
    max_rmse_increase: float = 0.02
    max_top_k_accuracy_decrease: float = 0.01
    max_rmse: float = math.inf  # absolute bound, stars; inf: none
    min_top_k_accuracy: float = 0.0  # absolute bound; 0: none

    def __post_init__(self) -> None:
        if self.max_rmse <= 0 or self.max_rmse_increase < 0:
            raise ConfigError("max_rmse must be > 0 and max_rmse_increase >= 0")
        if not 0 <= self.min_top_k_accuracy <= 1 or self.max_top_k_accuracy_decrease < 0:
            raise ConfigError("min_top_k_accuracy must be in [0, 1] and "
                              "max_top_k_accuracy_decrease >= 0")
        if self.max_rmse_over_baseline <= 0 or self.min_top_k_over_baseline < 0:
            raise ConfigError("max_rmse_over_baseline must be > 0 and min_top_k_over_baseline "
                              ">= 0")
