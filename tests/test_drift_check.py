"""Drift against the data that trained the served version: TFDV's comparators on real
statistics, and the pipeline that measures it, reports it, and stops on it only when asked."""

import dataclasses
import os

import numpy as np
import pyarrow as pa
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import anomalies_pb2

from common import features
from components.data_gate.config import ValidationConfig
from components.drift_check import drift
from components.example_gen import executor
from components.movielens import synthetic
from components.movielens.config import DataConfig
from components.movielens.synthetic import SyntheticConfig
from pipeline import cli, local_runner
from pipeline.config import PipelineConfig
from pipeline.pipeline import DRIFT_CHECK, TRAINER
from serving import contract
from tests import small_run

CONFIG = ValidationConfig()
DATA = DataConfig(synthetic=SyntheticConfig(num_users=300, num_movies=500, num_ratings=30_000))


def _statistics(seed, change=None):
    """TFDV's statistics of a seeded sample of 10,000 of DATA's train ratings, as the
    ExampleGen writes them, after `change` (column name -> new values) if any."""
    data, is_eval = executor.sources.load_split(DATA)
    encoded = executor.encode(data, is_eval)
    train = np.flatnonzero(~is_eval)
    batch = executor.record_batch(encoded, train[executor.sample(len(train), 10_000, seed)])
    if change:
        name, values = change(batch)
        offsets = pa.array(np.arange(len(values) + 1, dtype=np.int64))
        columns = list(batch.columns)
        columns[batch.schema.get_field_index(name)] = pa.LargeListArray.from_arrays(offsets,
                                                                                    values)
        batch = pa.RecordBatch.from_arrays(columns, batch.schema.names)
    return stats_impl.generate_statistics_in_memory(
        batch, tfdv.StatsOptions(schema=features.raw_schema()))


def _column(batch, name):
    return batch.column(batch.schema.get_field_index(name)).flatten()


def _half_five_stars(batch):
    stars = _column(batch, features.RATING).to_numpy().copy()
    stars[np.random.default_rng(0).random(len(stars)) < 0.5] = 5.0
    return features.RATING, pa.array(stars)


def _one_user_a_tenth(batch):
    users = _column(batch, features.USER_ID).to_pylist()
    chosen = np.random.default_rng(0).random(len(users)) < 0.1
    return features.USER_ID, pa.array([b"99999" if c else u for c, u in zip(chosen, users)],
                                      pa.large_binary())


def _renumbered(batch):
    movies = _column(batch, features.MOVIE_ID).to_pylist()
    return features.MOVIE_ID, pa.array([b"9" + movie for movie in movies], pa.large_binary())


@pytest.fixture(scope="module")
def served():
    return _statistics(seed=1)


def test_another_sample_of_the_same_data_does_not_drift(served):
    found = drift.compare(_statistics(seed=2), served, CONFIG)
    measured = drift.distances(found, CONFIG)
    assert sorted(measured) == sorted(
        [features.RATING, features.MOVIE_ID, features.USER_ID, features.USER_ACTIVITY])
    assert drift.drifted(found) == []
    # Well inside the bounds (noise of two samples of one data set).
    assert measured[features.RATING] < CONFIG.max_rating_drift / 10
    assert measured[features.USER_ID] < CONFIG.max_user_drift / 2
    assert "within the bounds" in drift.describe("/served/1", "", measured, CONFIG)


@pytest.mark.parametrize("change, feature", [
    (_half_five_stars, features.RATING),
    (_one_user_a_tenth, features.USER_ID),
    (_renumbered, features.MOVIE_ID),
])
def test_data_that_drifts_is_past_the_bound_of_its_feature(served, change, feature):
    found = drift.compare(_statistics(seed=2, change=change), served, CONFIG)
    assert drift.drifted(found) == [feature]
    measured = drift.distances(found, CONFIG)
    line = drift.describe("/served/1", "", measured, CONFIG)
    assert f"past the bound: {feature} (reported only; --validation block_on_drift=true" in line
    # Only the drift is reported: ExampleValidator reports the schema's anomalies.
    [reason] = found.anomaly_info[feature].reason
    assert anomalies_pb2.AnomalyInfo.Type.Name(reason.type) in drift.DRIFT_TYPES


def _five_stars(directory):
    """The small run's synthetic data with half its ratings turned into 5 stars."""
    data = synthetic.generate(SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000))
    stars = np.where(np.random.default_rng(0).random(data.num_ratings) < 0.5, 5.0,
                     data.ratings).astype(np.float32)
    synthetic.write_ml100k(dataclasses.replace(data, ratings=stars), str(directory))


@pytest.mark.slow
def test_the_run_measures_drift_from_the_served_version_and_blocks_only_when_asked(
        capsys, tmp_path):
    root, serving = str(tmp_path / "root"), str(tmp_path / "serving")
    where = ["--pipeline-root", root, "--serving-dir", serving, *small_run.ARGS,
             "--model", "epochs=1"]
    assert cli.main(["run", *where]) == 0
    first = capsys.readouterr().out
    assert "Drift: not measured (no served version yet)." in first
    version = os.path.join(serving, "movielens", "1")
    assert os.path.isfile(os.path.join(version, contract.ASSETS_EXTRA,
                                       contract.TRAINING_STATISTICS_FILE))
    # The same data again: measured against version 1, no drift.
    assert cli.main(["run", *where]) == 0
    assert (f"Drift from the data that trained {version}: rating 0.0000 (Jensen-Shannon "
            "divergence, at most 0.02)") in capsys.readouterr().out
    # Half the ratings became 5 stars: asked to block, the run stops before the Trainer.
    _five_stars(tmp_path / "five")
    drifting = ["--data", str(tmp_path / "five")]
    code = cli.main(["run", *where, *drifting, "--validation", "block_on_drift=true"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_DATA_ANOMALY, err
    assert ("movielens-tfx run: data anomalies: split train_sample, feature rating: "
            "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH (") in err
    config = PipelineConfig(pipeline_root=root)
    assert TRAINER not in [run.component for run in local_runner.latest_run(config)]
    # Not asked to block: the drift is reported and the run goes on.
    code = cli.main(["run", *where, *drifting])
    out = capsys.readouterr().out
    assert code in (0, cli.EXIT_NOT_BLESSED), out
    assert f"Drift from the data that trained {version}: rating " in out
    assert "past the bound: rating (reported only" in out
    ran = {run.component: run for run in local_runner.latest_run(config)}
    assert not ran[TRAINER].cached and ran[DRIFT_CHECK].properties["drift_anomalies"][
        "drifted"] == features.RATING
