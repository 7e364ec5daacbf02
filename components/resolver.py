"""The baseline for the Evaluator: the latest blessed model other than the candidate itself.

TFX's LatestBlessedModelStrategy returns the newest blessed model, which on a re-run with
nothing changed is the candidate itself (blessed by the previous run). The Evaluator's inputs
then differ from the previous run's, so it is not served from the cache, compares the model
with itself, and the Pusher pushes the same model again. Leaving the candidate out gives the
re-run the same inputs as the run before: everything is cached, nothing is pushed twice.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx

MODEL = "model"
MODEL_BLESSING = "model_blessing"
CANDIDATE = "candidate"


class LatestBlessedOtherModelStrategy(tfx.dsl.experimental.LatestBlessedModelStrategy):
    """LatestBlessedModelStrategy over every model except those in the `candidate` channel."""

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        candidate_ids = {artifact.id for artifact in input_dict[CANDIDATE]}
        others = {
            MODEL: [m for m in input_dict[MODEL] if m.id not in candidate_ids],
            MODEL_BLESSING: input_dict[MODEL_BLESSING],
        }
        result = super().resolve_artifacts(store, others)
        if result is None:
            return None
        result[CANDIDATE] = input_dict[CANDIDATE]
        return result


def latest_blessed_baseline(candidate: types.BaseChannel,
                            exclude_candidate: bool = True) -> tfx.dsl.Resolver:
    """The baseline resolver; `exclude_candidate=False` gives TFX's own strategy, the only
    one (with LatestArtifactStrategy) that the Kubeflow Pipelines v2 compiler translates."""
    channels = {
        MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        MODEL_BLESSING: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    }
    strategy = tfx.dsl.experimental.LatestBlessedModelStrategy
    if exclude_candidate:
        strategy = LatestBlessedOtherModelStrategy
        channels[CANDIDATE] = candidate
    return tfx.dsl.Resolver(strategy_class=strategy, **channels).with_id(
        "latest_blessed_model_resolver")
