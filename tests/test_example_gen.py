import os
import time

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts
from tfx_bsl.coders import example_coder

from common import features
from common.config_error import ConfigError
from components.example_gen import executor, layout
from components.movielens import sources, synthetic
from components.movielens.config import DataConfig
from components.movielens.records import Movie, MovieLensData
from components.movielens.synthetic import SyntheticConfig
from pipeline.config import PipelineConfig


def _examples(batch):
    return [tf.train.Example.FromString(e) for e in example_coder.RecordBatchToExamples(batch)]


def test_a_rating_becomes_an_example_with_its_movie_and_activity():
    data = MovieLensData(
        user_ids=np.array(["7", "8"]), movie_ids=np.array(["42", "43"]),
        ratings=np.array([4.0, 2.5], np.float32), timestamps=np.array([881250949, 5]),
        movies={"42": Movie("42", "Café (1995)", ("Comedy", "Drama")),
                "43": Movie("43", "Untitled", ())},
        description="test")
    is_eval = np.array([False, True])
    second, first = _examples(executor.record_batch(executor.encode(data, is_eval),
                                                    np.array([1, 0])))
    feature = first.features.feature
    assert feature[features.USER_ID].bytes_list.value == [b"7"]
    assert feature[features.MOVIE_ID].bytes_list.value == [b"42"]
    assert feature[features.RATING].float_list.value == [4.0]
    assert feature[features.TIMESTAMP].int64_list.value == [881250949]
    assert feature[features.MOVIE_TITLE].bytes_list.value == ["Café (1995)".encode()]
    assert feature[features.GENRES].bytes_list.value == [b"Comedy|Drama"]
    assert feature[features.USER_ACTIVITY].bytes_list.value == [b"light (<50)"]
    assert set(feature) == {f.name for f in features.raw_schema().feature}
    assert second.features.feature[features.GENRES].bytes_list.value == [b""]
    assert second.features.feature[features.RATING].float_list.value == [2.5]


def _read(pattern):
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(pattern)), compression_type="GZIP")]


def test_large_splits_are_written_in_shards_that_keep_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(executor, "RATINGS_PER_SHARD", 4)
    config = DataConfig(synthetic=SyntheticConfig(5, 9, 10), eval_fraction=0.2).to_json()
    encoded, rows = executor.split_rows(config)
    train = executor.record_batch(encoded, rows[executor.TRAIN])
    (tmp_path / "staging").mkdir()
    work = executor.stage_shards(executor.TRAIN, encoded, rows[executor.TRAIN], str(tmp_path),
                                 str(tmp_path / "staging"))
    assert [os.path.basename(path) for _, path in work] == [
        f"data_tfrecord-0000{i}-of-00002.gz" for i in range(2)]
    # A shard writer (a Beam worker) reads its staged rows only, never the source.
    monkeypatch.setattr(executor, "split_rows", None)
    monkeypatch.setattr(executor, "encode", None)
    assert sum(executor.write_shard(shard) for shard in work) == train.num_rows == 8
    assert _read(os.path.join(tmp_path, "*.gz")) == _examples(train)


@pytest.mark.parametrize("beam_workers", [
    pytest.param(0, id="in-process"),
    pytest.param(2, id="two-worker-processes", marks=pytest.mark.slow),  # ~10 s of start-up
])
def test_executor_writes_every_split_and_marks_the_artifact(tmp_path, beam_workers):
    """With worker processes (--beam-workers) each worker reads its staged shards; nothing
    staged is left behind."""
    config = DataConfig(synthetic=SyntheticConfig(20, 30, 400), eval_fraction=0.25,
                        gate_examples=40, statistics_examples=150)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    beam_args = PipelineConfig(pipeline_root=str(tmp_path),
                               beam_workers=beam_workers).beam_pipeline_args
    executor.Executor(executor.Executor.Context(beam_pipeline_args=beam_args)).Do(
        {}, {"examples": [examples]}, {executor.DATA_CONFIG_KEY: config.to_json()})
    splits = ["train", "eval", "gate", "train_sample", "eval_sample"]
    assert sorted(os.listdir(tmp_path)) == sorted(f"Split-{split}" for split in splits)
    assert artifact_utils.decode_split_names(examples.split_names) == splits
    assert examples.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
    train = _read(os.path.join(tmp_path, "Split-train", "*.gz"))
    evaluation = _read(os.path.join(tmp_path, "Split-eval", "*.gz"))
    assert (len(train), len(evaluation)) == (300, 100)
    data, is_eval = sources.load_split(config)
    expected = sorted(zip(data.user_ids[is_eval].tolist(), data.movie_ids[is_eval].tolist()))
    assert sorted((e.features.feature[features.USER_ID].bytes_list.value[0].decode(),
                   e.features.feature[features.MOVIE_ID].bytes_list.value[0].decode())
                  for e in evaluation) == expected
    gate = _read(os.path.join(tmp_path, "Split-gate", "*.gz"))
    assert len(gate) == 40
    assert all(example in evaluation for example in gate)
    # The statistics' samples: at most 150 of each split, all of a smaller one.
    train_sample = _read(os.path.join(tmp_path, "Split-train_sample", "*.gz"))
    assert len(train_sample) == 150 and all(example in train for example in train_sample)
    assert _read(os.path.join(tmp_path, "Split-eval_sample", "*.gz")) == evaluation
    # What TFDV cannot see, recorded for the data gate: each eval rating's user and movie
    # has train ratings in this data, so none is unseen.
    assert examples.get_float_custom_property(layout.UNSEEN_USERS) == 0.0
    assert examples.get_float_custom_property(layout.UNSEEN_MOVIES) == 0.0


def test_samples_are_seeded_bounded_and_all_of_a_small_split():
    assert executor.sample(999, 1000, 42).tolist() == list(range(999))
    sample = executor.sample(50_000, 1000, 42)
    assert len(sample) == len(set(sample.tolist())) == 1000
    assert sample.tolist() == sorted(sample.tolist()) and sample.max() < 50_000
    assert (sample == executor.sample(50_000, 1000, 42)).all()
    assert not (sample == executor.sample(50_000, 1000, 7)).all()
    assert not (sample == executor.sample(50_000, 1000, 42, stream=1)).all()


def test_unseen_fractions_count_eval_ratings_of_ids_train_never_rated():
    # Train: user 1 rates movie a. Eval: user 1 rates b (unseen movie), user 2 rates a
    # (unseen user) and b, user 1 rates a again (both seen).
    users, movies = ["1", "1", "2", "2", "1"], ["a", "b", "a", "b", "a"]
    data = MovieLensData(
        user_ids=np.array(users), movie_ids=np.array(movies),
        ratings=np.full(5, 3.0, np.float32), timestamps=np.arange(5),
        movies={m: Movie(m, m, ()) for m in "ab"}, description="test")
    is_eval = np.array([False, True, True, True, True])
    rows = {executor.TRAIN: np.flatnonzero(~is_eval), executor.EVAL: np.flatnonzero(is_eval)}
    assert executor.unseen_fractions(executor.encode(data, is_eval), rows) == {
        layout.UNSEEN_USERS: 0.5, layout.UNSEEN_MOVIES: 0.5}


def test_data_config_round_trips_through_json(tmp_path):
    config = DataConfig(source=str(tmp_path), split="temporal", eval_fraction=0.25,
                        synthetic=SyntheticConfig(num_users=5, num_movies=9, num_ratings=20))
    assert DataConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "by-genre"}, "--split must be one of"),
    ({"eval_fraction": 1.0}, "--eval-fraction must be between 0 and 1"),
    ({"gate_examples": 0}, "--gate-examples must be at least 1"),
    ({"statistics_examples": 0}, "--statistics-examples must be at least 1"),
    ({"source": "/no/such/movielens"}, "no such file or directory"),
])
def test_bad_data_options_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DataConfig(**kwargs)


def test_fingerprint_follows_local_files(tmp_path):
    synthetic.write_ml100k(synthetic.generate(SyntheticConfig(10, 20, 200)), str(tmp_path))
    config = DataConfig(source=str(tmp_path))
    before = sources.fingerprint(config)
    assert sources.fingerprint(config) == before
    path = os.path.join(tmp_path, "u.data")
    with open(path, "a") as out:
        out.write("1\t1\t5\t881250949\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert sources.fingerprint(config) != before
    assert sources.fingerprint(DataConfig()) == "synthetic"


def test_load_split_masks_the_configured_protocol():
    config = DataConfig(synthetic=SyntheticConfig(30, 50, 600), split="temporal")
    data, is_eval = sources.load_split(config)
    assert data.num_ratings == 600 and is_eval.dtype == bool
    assert 0.15 < is_eval.mean() <= 0.2


def test_activity_buckets_by_training_ratings():
    assert features.activity_buckets(np.array([0, 49, 50, 149, 150, 700])).tolist() == [
        "light (<50)", "light (<50)", "medium (50-149)", "medium (50-149)", "heavy (150+)",
        "heavy (150+)"]


def test_popularity_buckets_hold_a_third_of_train_ratings_each():
    # A long tail, as MovieLens' (there: 119, 242 and 1,321 movies on ml-100k).
    counts = np.random.default_rng(0).permutation((3000 / np.arange(1, 3001) ** 0.9).astype(int))
    counts[:50] = 0  # movies rated only in eval
    buckets = features.popularity_buckets(counts)
    shares = {name: counts[buckets == name].sum() / counts.sum()
              for name in features.POPULARITY_BUCKETS}
    # Off a third by at most the ratings of one count's movies (equal counts go together).
    values, times = np.unique(counts, return_counts=True)
    largest = (values * times).max() / counts.sum()
    assert abs(shares["head"] - 1 / 3) <= largest and abs(shares["torso"] - 1 / 3) <= largest
    # More rated movies are never in a less popular bucket; unrated ones are tail.
    rank = {name: i for i, name in enumerate(features.POPULARITY_BUCKETS)}
    order = np.argsort(-counts, kind="stable")
    assert all(np.diff([rank[name] for name in buckets[order]]) >= 0)
    assert set(buckets[:50]) == {"tail"}
    assert (buckets == "head").sum() < (buckets == "torso").sum() < (buckets == "tail").sum()
    assert features.popularity_buckets(np.array([0, 0])).tolist() == ["tail", "tail"]


def test_each_rating_keeps_its_own_user_movie_and_bucket_in_any_shard():
    """Codes into the distinct users and movies, taken per shard, give back every rating."""
    config = DataConfig(synthetic=SyntheticConfig(30, 50, 600))
    data, is_eval = sources.load_split(config)
    encoded = executor.encode(data, is_eval)
    rows = np.random.default_rng(0).permutation(600)[:97]
    examples = _examples(executor.record_batch(encoded, rows))
    train_counts = {user: int(((data.user_ids == user) & ~is_eval).sum())
                    for user in set(data.user_ids.tolist())}
    movies = sorted(set(data.movie_ids.tolist()))
    popularity = dict(zip(movies, features.popularity_buckets(np.array(
        [int(((data.movie_ids == movie) & ~is_eval).sum()) for movie in movies]))))
    for row, example in zip(rows.tolist(), examples):
        feature = example.features.feature
        user, movie = data.user_ids[row], data.movie_ids[row]
        assert feature[features.USER_ID].bytes_list.value == [user.encode()]
        assert feature[features.MOVIE_ID].bytes_list.value == [movie.encode()]
        assert feature[features.MOVIE_TITLE].bytes_list.value == [
            data.movies[movie].title.encode()]
        assert feature[features.RATING].float_list.value == [data.ratings[row]]
        assert feature[features.USER_ACTIVITY].bytes_list.value == [
            features.activity_buckets(np.array([train_counts[user]]))[0].encode()]
        assert feature[features.MOVIE_POPULARITY].bytes_list.value == [
            popularity[movie].encode()]
