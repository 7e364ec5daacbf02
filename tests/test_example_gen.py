import os
import time

import pytest
import tensorflow as tf

from components import features
from components.example_gen.executor import to_example
from components.movielens import sources, synthetic
from components.movielens.records import Movie
from components.movielens.synthetic import SyntheticConfig
from pipeline.config import ConfigError, DataConfig


def test_a_rating_becomes_an_example_with_its_movie():
    movies = {"42": Movie("42", "Café (1995)", ("Comedy", "Drama"))}
    example = tf.train.Example.FromString(
        to_example(("7", "42", 4.0, 881250949, "heavy (150+)"), movies))
    feature = example.features.feature
    assert feature[features.USER_ID].bytes_list.value == [b"7"]
    assert feature[features.MOVIE_ID].bytes_list.value == [b"42"]
    assert feature[features.RATING].float_list.value == [4.0]
    assert feature[features.TIMESTAMP].int64_list.value == [881250949]
    assert feature[features.MOVIE_TITLE].bytes_list.value == ["Café (1995)".encode()]
    assert feature[features.GENRES].bytes_list.value == [b"Comedy|Drama"]
    assert feature[features.USER_ACTIVITY].bytes_list.value == [b"heavy (150+)"]
    assert set(feature) == {f.name for f in features.raw_schema().feature}


def test_data_config_round_trips_through_json(tmp_path):
    config = DataConfig(source=str(tmp_path), split="temporal", eval_fraction=0.25,
                        synthetic=SyntheticConfig(num_users=5, num_movies=9, num_ratings=20))
    assert DataConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "by-genre"}, "--split must be one of"),
    ({"eval_fraction": 1.0}, "eval_fraction"),
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
    assert [features.activity_bucket(n) for n in (0, 49, 50, 149, 150, 700)] == [
        "light (<50)", "light (<50)", "medium (50-149)", "medium (50-149)", "heavy (150+)",
        "heavy (150+)"]
