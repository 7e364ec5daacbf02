"""The data gate: StatisticsGen and TFX's ExampleValidator on the ExampleGen's samples, and
the DataGate that stops a run before the Trainer."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.example_validator import executor as validator_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx_bsl.coders import example_coder

from common import features
from common.config_error import ConfigError
from components.data_gate import checks
from components.data_gate.component import split_anomalies
from components.data_gate.config import UNSEEN_MOVIES, UNSEEN_USERS, ValidationConfig
from components.example_gen import executor
from components.movielens import synthetic
from components.movielens.records import Movie, MovieLensData
from components.movielens.synthetic import SyntheticConfig
from components.schema_gen.component import schema_text
from components.statistics_gen import executor as statistics_executor
from pipeline import cli, local_runner
from pipeline.config import PipelineConfig
from pipeline.pipeline import DATA_GATE, TRAINER
from tests import small_run

SEEN = {UNSEEN_USERS: 0.0, UNSEEN_MOVIES: 0.0}


def _artifact(artifact_type, uri, splits=None):
    artifact = artifact_type()
    artifact.uri = str(uri)
    os.makedirs(artifact.uri, exist_ok=True)
    if splits:
        artifact.split_names = artifact_utils.encode_split_names(splits)
    return artifact


def _write_split(examples, split, records):
    os.makedirs(os.path.join(examples.uri, f"Split-{split}"))
    with tf.io.TFRecordWriter(os.path.join(examples.uri, f"Split-{split}", "data.gz"),
                              options="GZIP") as out:
        for record in records:
            out.write(record.SerializeToString())


def _anomalies(tmp_path, train, evaluation):
    """The pipeline's StatisticsGen executor (TFDV's statistics, as TFX's own executor
    computes them: tests/test_statistics_gen.py) and TFX's ExampleValidator on two splits of
    tf.Examples, against the curated schema; their anomalies as the data gate reads them."""
    examples = _artifact(standard_artifacts.Examples, tmp_path / "examples",
                         [executor.TRAIN_SAMPLE, executor.EVAL_SAMPLE])
    _write_split(examples, executor.TRAIN_SAMPLE, train)
    _write_split(examples, executor.EVAL_SAMPLE, evaluation)
    schema = _artifact(standard_artifacts.Schema, tmp_path / "schema")
    with open(os.path.join(schema.uri, "schema.pbtxt"), "w", encoding="utf-8") as out:
        out.write(schema_text())
    statistics = _artifact(standard_artifacts.ExampleStatistics, tmp_path / "statistics")
    beam_args = PipelineConfig(pipeline_root=str(tmp_path)).beam_pipeline_args
    statistics_executor.Executor(statistics_executor.Executor.Context(
        beam_pipeline_args=beam_args)).Do(
        {"examples": [examples], "schema": [schema]}, {"statistics": [statistics]},
        {"exclude_splits": "[]"})
    anomalies = _artifact(standard_artifacts.ExampleAnomalies, tmp_path / "anomalies")
    validator_executor.Executor().Do({"statistics": [statistics], "schema": [schema]},
                                     {"anomalies": [anomalies]}, {"exclude_splits": "[]"})
    return split_anomalies(anomalies)


def _examples(ratings):
    """tf.Examples as the ExampleGen writes them, of 7 users' ratings of 5 movies."""
    count = len(ratings)
    data = MovieLensData(
        user_ids=np.array([str(i % 7) for i in range(count)]),
        movie_ids=np.array([str(i % 5) for i in range(count)]),
        ratings=np.array(ratings, np.float32), timestamps=np.arange(count),
        movies={str(m): Movie(str(m), f"Movie {m} (1995)", ("Drama",)) for m in range(5)},
        description="test")
    batch = executor.record_batch(executor.encode(data, np.zeros(count, bool)),
                                  np.arange(count))
    return [tf.train.Example.FromString(e) for e in example_coder.RecordBatchToExamples(batch)]


def test_tfdv_finds_out_of_domain_ratings_and_missing_and_extra_features(tmp_path):
    train = _examples([4.0] * 49 + [7.0])  # one rating above the schema's 5 stars
    evaluation = _examples([3.0] * 50)
    for example in evaluation:
        del example.features.feature[features.GENRES]
        example.features.feature["cover_art"].bytes_list.value.append(b"png")
    schema = _anomalies(tmp_path, train, evaluation)
    found = checks.verdict(schema, SEEN, ValidationConfig())
    assert sorted(anomaly.name for anomaly in found) == [
        "eval_sample:cover_art:SCHEMA_NEW_COLUMN",
        "eval_sample:genres:SCHEMA_MISSING_COLUMN",
        "train_sample:rating:FLOAT_TYPE_BIG_FLOAT"]
    rating = next(anomaly for anomaly in found if anomaly.feature == features.RATING)
    assert str(rating).startswith("split train_sample, feature rating: FLOAT_TYPE_BIG_FLOAT (")
    assert "7>5" in str(rating)  # TFDV's own words say what was out of range
    # Accepting one lets it through; the rest still stop the run, on one line.
    accepting = ValidationConfig(accepted_anomalies=("train_sample:rating:FLOAT_TYPE_BIG_FLOAT",))
    refused = checks.refused(found, accepting)
    assert [anomaly.feature for anomaly in refused] == ["cover_art", "genres"]
    message = str(checks.refusal(refused))
    assert "\n" not in message and "Nothing was trained or pushed" in message
    assert "--accept-anomaly eval_sample:cover_art:SCHEMA_NEW_COLUMN" in message
    # Clean splits: nothing found.
    assert checks.verdict(_anomalies(tmp_path / "clean", _examples([4.0] * 20),
                                     _examples([2.0] * 20)), SEEN, ValidationConfig()) == []


def test_an_eval_split_of_unseen_ids_is_an_anomaly_past_its_bound():
    config = ValidationConfig(max_unseen_users=0.1, max_unseen_movies=0.3)
    assert checks.unseen_anomalies({UNSEEN_USERS: 0.1, UNSEEN_MOVIES: 0.3}, config) == []
    users, movies = checks.unseen_anomalies({UNSEEN_USERS: 0.5, UNSEEN_MOVIES: 0.31}, config)
    assert (users.name, movies.name) == ("eval:user_id:EVAL_UNSEEN_USERS",
                                         "eval:movie_id:EVAL_UNSEEN_MOVIES")
    assert "31.0% of eval's ratings are of movies with no rating in train; at most 30.0%" in \
        str(movies)


@pytest.mark.parametrize("config, message", [
    (dict(accepted_anomalies=("eval:movie_id",)), "expected SPLIT:FEATURE:TYPE"),
    (dict(accepted_anomalies=("eval:movie_id:UNSEEN",)), "no anomaly type 'UNSEEN'"),
    (dict(max_unseen_movies=1.5), "--validation max_unseen_movies must be in [0, 1], got 1.5"),
    (dict(max_unseen_users=float("nan")), "--validation max_unseen_users must be in [0, 1]"),
])
def test_bad_validation_options_are_named(config, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ValidationConfig(**config)


def test_the_validation_config_round_trips_through_json():
    config = ValidationConfig(accepted_anomalies=("eval:movie_id:EVAL_UNSEEN_MOVIES",),
                              max_unseen_users=0.05)
    assert ValidationConfig.from_json(config.to_json()) == config


def _renumbered(directory):
    """Small data where 60% of the ratings were given new, unique movie ids (a release whose
    ids were renumbered): about 60% of eval's ratings are of movies train never rated."""
    data = synthetic.generate(SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000))
    renumbered = np.random.default_rng(0).random(data.num_ratings) < 0.6
    movie_ids = np.where(renumbered, (10_000 + np.arange(data.num_ratings)).astype(str),
                         data.movie_ids)
    movies = dict(data.movies)
    movies.update({movie: Movie(movie, f"Renumbered {movie} (1995)", ("Drama",))
                   for movie in movie_ids[renumbered]})
    synthetic.write_ml100k(dataclasses.replace(data, movie_ids=movie_ids, movies=movies),
                           str(directory))


@pytest.mark.slow
def test_an_anomaly_stops_the_run_before_the_trainer_until_it_is_accepted(capsys, tmp_path):
    _renumbered(tmp_path / "data")
    where = ["--data", str(tmp_path / "data"), "--pipeline-root", str(tmp_path / "root"),
             "--serving-dir", str(tmp_path / "serving"), *small_run.ARGS[6:],
             "--model", "epochs=1"]
    code = cli.main(["run", *where])
    err = capsys.readouterr().err
    assert code == cli.EXIT_DATA_ANOMALY == 5, err
    [line] = [line for line in err.splitlines() if "movielens-tfx" in line]
    assert line.startswith("movielens-tfx run: data anomalies: split eval, feature movie_id: "
                           "EVAL_UNSEEN_MOVIES (")
    assert "--accept-anomaly eval:movie_id:EVAL_UNSEEN_MOVIES" in line
    config = PipelineConfig(pipeline_root=str(tmp_path / "root"))
    assert local_runner.failed_components(config) == [DATA_GATE]
    assert TRAINER not in [run.component for run in local_runner.latest_run(config)]
    assert not (tmp_path / "serving").exists()
    # Accepted by name, the run goes on to train (the gate then judges the model).
    code = cli.main(["run", *where, "--accept-anomaly", "eval:movie_id:EVAL_UNSEEN_MOVIES"])
    assert code in (0, cli.EXIT_NOT_BLESSED), capsys.readouterr().err
    ran = {run.component: run for run in local_runner.latest_run(config)}
    assert not ran[TRAINER].cached and ran[DATA_GATE].cached is False
