"""Executor of MovieLensExampleGen: MovieLens ratings to tf.Examples in two splits.

It overrides `GenerateExamplesByBeam`, the hook TFX's base ExampleGen executor documents for
custom splitting, because neither protocol is a hash of single records: `random` is a seeded
shuffle of all ratings and `temporal` needs each user's ratings together. The source is read
and split once in this process (numpy, seconds for ml-100k); Beam then builds the tf.Examples
and writes each split as gzipped TFRecords, the format every TFX component reads.
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Mapping, Tuple

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx.components.example_gen import base_example_gen_executor

from components import features
from components.movielens import sources
from components.movielens.records import Movie
from pipeline.config import DataConfig

DATA_CONFIG_KEY = "data_config"
SOURCE_FINGERPRINT_KEY = "source_fingerprint"
TRAIN = "train"
EVAL = "eval"

Rating = Tuple[str, str, float, int, str]  # user, movie, stars, timestamp, activity bucket


def _bytes(value: str) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))


def to_example(rating: Rating, movies: Mapping[str, Movie]) -> bytes:
    """One rating joined with its movie's metadata, as a serialized tf.Example."""
    user_id, movie_id, stars, timestamp, activity = rating
    movie = movies[movie_id]
    feature = {
        features.USER_ID: _bytes(user_id),
        features.MOVIE_ID: _bytes(movie_id),
        features.RATING: tf.train.Feature(float_list=tf.train.FloatList(value=[stars])),
        features.TIMESTAMP: tf.train.Feature(int64_list=tf.train.Int64List(value=[timestamp])),
        features.MOVIE_TITLE: _bytes(movie.title),
        features.GENRES: _bytes("|".join(movie.genres)),
        features.USER_ACTIVITY: _bytes(activity),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads the configured MovieLens source and emits the `train` and `eval` splits."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("GenerateExamplesByBeam is overridden; this is never called")

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
    ) -> Dict[str, beam.pvalue.PCollection]:
        config = DataConfig.from_json(exec_properties[DATA_CONFIG_KEY])
        data, is_eval = sources.load_split(config)
        logging.info(
            "MovieLensExampleGen: %d ratings from %s; %s split: %d train, %d eval",
            data.num_ratings, data.description, config.split,
            int((~is_eval).sum()), int(is_eval.sum()),
        )
        train_counts = collections.Counter(data.user_ids[~is_eval].tolist())
        activity = [features.activity_bucket(train_counts[user]) for user in data.user_ids]
        rows = list(zip(data.user_ids.tolist(), data.movie_ids.tolist(),
                        data.ratings.tolist(), data.timestamps.tolist(), activity))
        result = {}
        for split, wanted in ((TRAIN, False), (EVAL, True)):
            split_rows = [row for row, in_eval in zip(rows, is_eval.tolist()) if in_eval == wanted]
            result[split] = (
                pipeline
                | f"Create[{split}]" >> beam.Create(split_rows, reshuffle=False)
                | f"ToExample[{split}]" >> beam.Map(to_example, data.movies)
            )
        return result
