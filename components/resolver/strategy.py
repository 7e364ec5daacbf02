"""The baseline for the Evaluator: the latest blessed model other than the candidate itself,
trained on the same data and split.

TFX's LatestBlessedModelStrategy returns the newest blessed model, which on a re-run with
nothing changed is the candidate itself (blessed by the previous run). The Evaluator's inputs
then differ from the previous run's, so it is not served from the cache, compares the model
with itself, and the Pusher pushes the same model again. Leaving the candidate out gives the
re-run the same inputs as the run before: everything is cached, nothing is pushed twice.

A blessed model trained on another data set or split is no fair baseline: a random split's
model has trained on much of a temporal split's eval set, and ids of another release mean
other users and movies. Such models are left out (the run says so); the candidate is then
compared with the latest blessed model of the same data and split, or gated on the absolute
bounds alone. What counts is the source and the split (`training_data`); new files in the
same source, or another gate sample size, keep the comparison.
"""

import json
from typing import Dict, List, Optional

from absl import logging
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx import v1 as tfx

from components.example_gen.executor import DATA_CONFIG_KEY
from components.pusher.component import PUSHED, PUSHED_DESTINATION

RESOLVER_ID = "latest_blessed_model_resolver"  # its node id: resolved anew on every run
LATEST_PUSH_ID = "latest_push_resolver"  # the Pusher's latest record, for the DriftCheck
RESOLVER_IDS = (RESOLVER_ID, LATEST_PUSH_ID)  # nodes with no outputs of their own to cache
LATEST_PUSH = "latest_push"
MODEL = "model"
MODEL_BLESSING = "model_blessing"
CANDIDATE = "candidate"


def training_data(store, model_id: int) -> Optional[str]:
    """What the model was trained on, in words: its Trainer's Examples' ExampleGen data
    config, by ML Metadata's lineage; None when the lineage is not there."""
    trainer = _producer(store, model_id)
    if trainer is None:
        return None
    inputs = [event.artifact_id for event in store.get_events_by_execution_ids([trainer])
              if event.type == metadata_store_pb2.Event.INPUT]
    examples_type = store.get_artifact_type("Examples").id
    for artifact in store.get_artifacts_by_id(inputs):
        example_gen = _producer(store, artifact.id) if artifact.type_id == examples_type \
            else None
        if example_gen is None:
            continue
        [execution] = store.get_executions_by_id([example_gen])
        if DATA_CONFIG_KEY in execution.custom_properties:
            return _describe(json.loads(execution.custom_properties[DATA_CONFIG_KEY].string_value))
    return None


def _producer(store, artifact_id: int) -> Optional[int]:
    outputs = [event.execution_id for event in store.get_events_by_artifact_ids([artifact_id])
               if event.type == metadata_store_pb2.Event.OUTPUT]
    return outputs[0] if outputs else None


def _describe(data: dict) -> str:
    """The DataConfig fields that choose the ratings and the split, in words: two models are
    comparable when these are equal (not the sample sizes, nor where TFDS caches its files)."""
    source = data.get("source")
    if source == "synthetic":
        source = "synthetic data ({})".format(", ".join(
            f"{name} {value}" for name, value in sorted(data.get("synthetic", {}).items())))
    elif source == "tfds":
        source = f"TFDS {data.get('tfds_dataset')}"
    return (f"{source}, {data.get('split')} split, eval fraction {data.get('eval_fraction')}, "
            f"seed {data.get('split_seed')}")


class LatestBlessedOtherModelStrategy(tfx.dsl.experimental.LatestBlessedModelStrategy):
    """LatestBlessedModelStrategy over every model except those in the `candidate` channel
    and those trained on other data or another split than the candidate."""

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        """TFX's latest blessed model among those that are not the candidate and were trained on
        its data and split (the others left out are logged); the candidate is passed through."""
        candidate_ids = {artifact.id for artifact in input_dict[CANDIDATE]}
        wanted = {training_data(store, model_id) for model_id in candidate_ids}
        others = [m for m in input_dict[MODEL] if m.id not in candidate_ids]
        fair = [m for m in others if training_data(store, m.id) in wanted]
        if len(fair) < len(others):
            logging.info("%s: %d model(s) trained on other data or another split than the "
                         "candidate (%s) are no baseline for it", RESOLVER_ID,
                         len(others) - len(fair), ", ".join(sorted(map(str, wanted))))
        result = super().resolve_artifacts(
            store, {MODEL: fair, MODEL_BLESSING: input_dict[MODEL_BLESSING]})
        if result is None:
            return None
        result[CANDIDATE] = input_dict[CANDIDATE]
        return result


def latest_blessed_baseline(candidate: types.BaseChannel,
                            tfx_strategies_only: bool = False) -> tfx.dsl.Resolver:
    """The baseline resolver: the latest blessed model other than `candidate`
    (LatestBlessedOtherModelStrategy); with `tfx_strategies_only`, TFX's own
    LatestBlessedModelStrategy, one of the two the Kubeflow Pipelines v2 compiler translates."""
    channels = {
        MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        MODEL_BLESSING: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    }
    strategy = tfx.dsl.experimental.LatestBlessedModelStrategy
    if not tfx_strategies_only:
        strategy = LatestBlessedOtherModelStrategy
        channels[CANDIDATE] = candidate
    return tfx.dsl.Resolver(strategy_class=strategy, **channels).with_id(RESOLVER_ID)


class ServedPushStrategy(tfx.dsl.experimental.ResolverStrategy):
    """The push record of the newest version this pipeline pushed: the first record naming
    the destination of the latest record that pushed one; none before the first push. Later
    runs that find the model already served write records of their own, which resolve to the
    same first one, so a re-run with nothing changed stays cached."""

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        """The first record of the newest pushed destination in each channel, or none."""
        result = {}
        for key, artifacts in input_dict.items():
            pushed = sorted((a for a in artifacts if a.get_int_custom_property(PUSHED) == 1),
                            key=lambda artifact: artifact.id)
            destinations = [a.get_string_custom_property(PUSHED_DESTINATION) for a in pushed]
            result[key] = ([pushed[destinations.index(destinations[-1])]] if pushed else [])
        return result


def latest_push(tfx_strategies_only: bool = False) -> tfx.dsl.Resolver:
    """The push record of the newest version this pipeline pushed (ServedPushStrategy). With
    `tfx_strategies_only`, TFX's own LatestArtifactStrategy instead (the latest record,
    pushed or not), the other of the two the Kubeflow Pipelines v2 compiler translates."""
    return tfx.dsl.Resolver(
        strategy_class=(tfx.dsl.experimental.LatestArtifactStrategy if tfx_strategies_only
                        else ServedPushStrategy),
        **{LATEST_PUSH: tfx.dsl.Channel(type=tfx.types.standard_artifacts.PushedModel)}
    ).with_id(LATEST_PUSH_ID)
