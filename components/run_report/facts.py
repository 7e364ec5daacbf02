"""What a run's report shows, read from the run's artifacts into plain values (numbers,
strings, lists and dicts: JSON-able). Each function reads one component's output."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2

from common import features, run_record
from components.data_gate import checks
from components.data_gate.config import UNSEEN_MOVIES, UNSEEN_USERS, ValidationConfig
from components.drift_check import drift as drift_lib
from components.drift_check.component import Measured
from components.evaluator import gate
from components.evaluator.config import GateConfig
from components.example_gen.layout import EVAL_SAMPLE, TRAIN_SAMPLE
from components.pusher.component import PushOutcome
from serving import client

SAMPLES = (TRAIN_SAMPLE, EVAL_SAMPLE)  # the splits StatisticsGen describes
MOST_RATED = 5  # titles listed per split


def _feature(dataset: statistics_pb2.DatasetFeatureStatistics, name: str
             ) -> statistics_pb2.FeatureNameStatistics:
    return next(f for f in dataset.features if f.path.step[0] == name)


def _counts(feature: statistics_pb2.FeatureNameStatistics) -> Dict[str, int]:
    """A string feature's values and their counts (TFDV's top values: all of a few buckets)."""
    return {value.value: int(value.frequency) for value in feature.string_stats.top_values}


def split_statistics(statistics: statistics_pb2.DatasetFeatureStatisticsList
                     ) -> Dict[str, Any]:
    """One split's numbers from TFDV's statistics: examples, distinct users and movies, the
    rating's mean and histogram, ratings by user activity and movie popularity, the most
    rated titles."""
    dataset = statistics.datasets[0]
    rating = _feature(dataset, features.RATING).num_stats
    histogram = next(h for h in rating.histograms
                     if h.type == statistics_pb2.Histogram.STANDARD)
    return {
        "examples": int(dataset.num_examples),
        "users": int(_feature(dataset, features.USER_ID).string_stats.unique),
        "movies": int(_feature(dataset, features.MOVIE_ID).string_stats.unique),
        "rating_mean": float(rating.mean),
        "rating_histogram": [[float(b.low_value), float(b.high_value), float(b.sample_count)]
                             for b in histogram.buckets],
        "activity": _counts(_feature(dataset, features.USER_ACTIVITY)),
        "popularity": _counts(_feature(dataset, features.MOVIE_POPULARITY)),
        "most_rated": [[value.value, int(value.frequency)] for value in
                       _feature(dataset, features.MOVIE_TITLE).string_stats.top_values
                       ][:MOST_RATED],
    }


def data(statistics: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList],
         anomalies: List[checks.Anomaly], unseen: Mapping[str, float],
         config: ValidationConfig) -> Dict[str, Any]:
    """The data section: each described split, the anomalies found (each marked accepted or
    not), and eval's unseen users and movies with their bounds."""
    accepted = set(config.accepted_anomalies)
    return {
        "splits": {split: split_statistics(statistics[split]) for split in SAMPLES
                   if split in statistics},
        "anomalies": [{"name": a.name, "text": str(a), "accepted": a.name in accepted}
                      for a in anomalies],
        "unseen_users": unseen[UNSEEN_USERS], "unseen_movies": unseen[UNSEEN_MOVIES],
        "max_unseen_users": config.max_unseen_users,
        "max_unseen_movies": config.max_unseen_movies,
    }


def drift(found: Measured, config: ValidationConfig) -> Dict[str, Any]:
    """The drift section: the version compared with (or why none), and each measured
    feature's distance, comparator and bound."""
    return {"compared_with": found.compared_with, "not_compared": found.not_compared,
            "blocking": config.block_on_drift,
            "rows": drift_lib.against_bounds(found.distances, config)}


def training(record: Mapping[str, Any]) -> Dict[str, Any]:
    """The training section, from the Trainer's training record (trainer/task.py)."""
    history = {name: [float(v) for v in values] for name, values in record["history"].items()}
    return {"epochs": int(record["epochs"]), "kept_epoch": int(record["kept_epoch"]),
            "stopped_because": record["stopped_because"], "seconds": float(record["seconds"]),
            "training_ratings": int(record["training_ratings"]),
            "examples_per_second": float(record["examples_per_second"]), "history": history,
            # Where it trained (trainer/distribution.py); a record before issue 25 has none.
            "devices": str(record.get("devices", ""))}


def evaluation(evaluation_uri: str, config: GateConfig, top_k: int) -> Dict[str, Any]:
    """The gate section: the overall numbers against the baselines and the latest blessed
    model, each failed check in words, and every slice."""
    summary = gate.gate_summary(evaluation_uri)
    blessed = gate.blessed_model_summary(evaluation_uri)
    return {
        "top_k": top_k,
        "passed": bool(summary["passed"]),
        "examples": int(summary["example_count"]),
        **{key: float(summary[key]) for key in (
            "rmse", "baseline_rmse", "rmse_over_baseline", "top_k_accuracy",
            "baseline_top_k_accuracy", "top_k_over_baseline")},
        "bounds": {"max_rmse_over_baseline": config.max_rmse_over_baseline,
                   "min_top_k_over_baseline": config.min_top_k_over_baseline,
                   "max_rmse_increase": config.max_rmse_increase,
                   "max_top_k_accuracy_decrease": config.max_top_k_accuracy_decrease},
        "blessed_model": blessed,
        "failures": [gate.describe_failure(failure, config, top_k)
                     for failure in summary["failures"]],
        "slices": gate.slices(evaluation_uri),
    }


def outcome(servable: bool, servable_reason: str, pushed: PushOutcome) -> Dict[str, Any]:
    """Whether TF Serving can serve the model, and what the Pusher did."""
    return {"servable": servable, "servable_reason": servable_reason,
            "pushed_to": pushed.destination, "push_reason": pushed.reason}


def component_times(metadata_path: str) -> Optional[List[Dict[str, Any]]]:
    """Each component of the run under way, as ML Metadata (the local runner's SQLite file at
    `metadata_path`) records it so far: its state and seconds. None without a path (on
    Kubeflow, whose run graph shows each step's time)."""
    if not metadata_path:
        return None
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = \
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    return [{"component": component, "state": run_record.state(execution),
             "seconds": run_record.seconds(execution)}
            for component, execution in run_record.latest_executions(store)
            if run_record.state(execution) != "running"]


def sample_users(examples: Sequence[Dict[str, Any]]) -> List[Dict]:
    """Users to show recommendations for: in each activity bucket, the user with the most
    ratings in `examples` (rows of user, activity, movie; ties to the smaller id), each with
    the movies of theirs that `examples` holds."""
    rated: Dict[str, set] = {}
    activity: Dict[str, str] = {}
    for row in examples:
        rated.setdefault(row["user"], set()).add(row["movie"])
        activity[row["user"]] = row["activity"]
    chosen = []
    for bucket in features.SLICE_BUCKETS[features.USER_ACTIVITY]:
        users = sorted((u for u in rated if activity[u] == bucket),
                       key=lambda u: (-len(rated[u]), u))
        chosen += [{"user": u, "activity": bucket, "rated": sorted(rated[u])}
                   for u in users[:1]]
    return chosen


def read_examples(split_uri: str) -> List[Dict[str, Any]]:
    """The user, user activity and movie of each example of one split's gzipped TFRecords."""
    spec = {name: tf.io.FixedLenFeature([], tf.string)
            for name in (features.USER_ID, features.USER_ACTIVITY, features.MOVIE_ID)}
    paths = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*.gz")))
    rows: List[Dict[str, Any]] = []
    for batch in tf.data.TFRecordDataset(paths, compression_type="GZIP").batch(8192).map(
            lambda records: tf.io.parse_example(records, spec)):
        users, activities, movies = (batch[name].numpy() for name in spec)
        rows += [{"user": u.decode(), "activity": a.decode(), "movie": m.decode()}
                 for u, a, m in zip(users, activities, movies)]
    return rows


def recommendations(serving_model: str, users: List[Dict]) -> List[Dict[str, Any]]:
    """Each user's recommendations from the Trainer's serving model, through TF Serving's
    session loader (the `recommend` signature): titles, predicted stars, and whether the
    user rated the movie in the sampled eval data."""
    if not users:
        return []
    with client.Recommender(client.LocalTransport("", directory=serving_model)) as model:
        answers = model.recommend([user["user"] for user in users])
    return [{"user": user["user"], "activity": user["activity"],
             "personalized": answer.personalized,
             "movies": [{"movie_id": movie.movie_id, "title": movie.title,
                         "stars": movie.stars, "rated_in_eval": movie.movie_id in user["rated"]}
                        for movie in answer.movies]}
            for user, answer in zip(users, answers)]
