"""What the Evaluator's gate asks of a candidate model: its config."""

from __future__ import annotations

import dataclasses
import math

from common.config_error import require
from common.json_config import JsonConfig


@dataclasses.dataclass(frozen=True)
class GateConfig(JsonConfig):
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
        def need(ok: bool, field: str, rule: str) -> None:
            require(ok, f"--gate {field}", rule, getattr(self, field))

        need(0.0 < self.max_rmse <= math.inf, "max_rmse", "above 0 (inf: no bound)")
        need(0.0 <= self.min_top_k_accuracy <= 1.0, "min_top_k_accuracy", "in [0, 1]")
        need(0.0 < self.max_rmse_over_baseline < math.inf, "max_rmse_over_baseline",
             "finite and above 0")
        for field in ("min_top_k_over_baseline", "max_rmse_increase",
                      "max_top_k_accuracy_decrease"):
            need(0.0 <= getattr(self, field) < math.inf, field, "finite and at least 0")
