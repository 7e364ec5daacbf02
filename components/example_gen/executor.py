"""Executor of MovieLensExampleGen: MovieLens ratings to tf.Examples in train and eval splits,
a bounded sample of eval for the gate, and bounded samples of both for the statistics.

Neither split protocol is a hash of single records (`random` is a seeded shuffle of all
ratings, `temporal` needs each user's ratings together), so the source is read and split once
in this process (numpy, seconds for ml-100k). The ratings become Arrow columns, staged as one
Arrow file per shard beside the output; Beam's workers each read their shard's file (never
the whole source), encode it to tf.Examples in C++ (tfx_bsl) and write one gzipped TFRecord
file, the format every TFX component reads. One Beam element per shard, not per rating:
TFX's per-record WriteSplit spent 20 s of Python on ml-100k, and rows sent through the
pipeline itself would be pickled and compressed whole.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Dict, List, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from absl import logging
from tfx.components.example_gen import write_split
from tfx.components.util.examples_utils import set_file_format, set_payload_format
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.artifact import Artifact
from tfx_bsl.coders import example_coder

from common import features
from components.example_gen.layout import (
    EVAL,
    EVAL_SAMPLE,
    GATE,
    SPLITS,
    TRAIN,
    TRAIN_SAMPLE,
    UNSEEN_MOVIES,
    UNSEEN_USERS,
)
from components.movielens import sources
from components.movielens.config import DataConfig
from components.movielens.records import MovieLensData

DATA_CONFIG_KEY = "data_config"
SOURCE_FINGERPRINT_KEY = "source_fingerprint"
RATINGS_PER_SHARD = 500_000


@dataclasses.dataclass(frozen=True)
class EncodedRatings:
    """The ratings as codes into small tables: a shard's rows become Arrow columns by `take`,
    and no column of all ratings (a title per rating is 750 MB at ml-25m size) is ever built.
    """

    users: pa.Array  # distinct user ids (bytes)
    user_codes: np.ndarray  # per rating: its user's row in `users`
    movies: pa.Array  # distinct movie ids (bytes)
    movie_codes: np.ndarray  # per rating: its movie's row in `movies`
    titles: pa.Array  # per distinct movie
    genres: pa.Array  # per distinct movie: genre names joined by '|'
    activity: pa.Array  # per distinct user: the bucket of their train-split rating count
    popularity: pa.Array  # per distinct movie: the bucket of its train-split rating count
    ratings: np.ndarray  # float32 stars
    timestamps: np.ndarray  # int64


def _dictionary(ids: np.ndarray) -> Tuple[pa.Array, np.ndarray]:
    """(distinct values as bytes, each id's code), hashed in C++ by Arrow."""
    strings = pa.array(np.asarray(ids, dtype=object), type=pa.large_string())
    encoded = strings.dictionary_encode()
    return (encoded.dictionary.cast(pa.large_binary()),
            encoded.indices.to_numpy(zero_copy_only=False))


def encode(data: MovieLensData, is_eval: np.ndarray) -> EncodedRatings:
    """Every rating joined with its movie's metadata and popularity bucket, and its user's
    activity bucket."""
    users, user_codes = _dictionary(data.user_ids)
    movies, movie_codes = _dictionary(data.movie_ids)
    catalogue = [data.movies[movie] for movie in movies.cast(pa.large_string()).to_pylist()]
    activity = features.activity_buckets(np.bincount(user_codes[~is_eval],
                                                     minlength=len(users)))
    return EncodedRatings(
        users=users, user_codes=user_codes, movies=movies, movie_codes=movie_codes,
        titles=pa.array([movie.title.encode() for movie in catalogue], pa.large_binary()),
        genres=pa.array(["|".join(movie.genres).encode() for movie in catalogue],
                        pa.large_binary()),
        activity=pa.array([name.encode() for name in activity], pa.large_binary()),
        popularity=pa.array([name.encode() for name in features.popularity_buckets(
            np.bincount(movie_codes[~is_eval], minlength=len(movies)))], pa.large_binary()),
        ratings=np.asarray(data.ratings, np.float32),
        timestamps=np.asarray(data.timestamps, np.int64))


def record_batch(encoded: EncodedRatings, rows: np.ndarray) -> pa.RecordBatch:
    """The tf.Example-shaped columns (one value per row) of the ratings `rows`."""
    offsets = pa.array(np.arange(len(rows) + 1, dtype=np.int64))
    user_codes = pa.array(encoded.user_codes[rows])
    movie_codes = pa.array(encoded.movie_codes[rows])
    columns = {
        features.USER_ID: encoded.users.take(user_codes),
        features.MOVIE_ID: encoded.movies.take(movie_codes),
        features.RATING: pa.array(encoded.ratings[rows]),
        features.TIMESTAMP: pa.array(encoded.timestamps[rows]),
        features.MOVIE_TITLE: encoded.titles.take(movie_codes),
        features.GENRES: encoded.genres.take(movie_codes),
        features.USER_ACTIVITY: encoded.activity.take(user_codes),
        features.MOVIE_POPULARITY: encoded.popularity.take(movie_codes),
    }
    return pa.RecordBatch.from_arrays(
        [pa.LargeListArray.from_arrays(offsets, values) for values in columns.values()],
        list(columns))


def split_rows(data_config: str) -> Tuple[EncodedRatings, Dict[str, np.ndarray]]:
    """The encoded ratings of the source `data_config` (DataConfig JSON) names, and the row
    numbers of each split."""
    config = DataConfig.from_json(data_config)
    data, is_eval = sources.load_split(config)
    logging.info(
        "MovieLensExampleGen: %d ratings from %s; %s split: %d train, %d eval",
        data.num_ratings, data.description, config.split,
        int((~is_eval).sum()), int(is_eval.sum()),
    )
    training, evaluation = np.flatnonzero(~is_eval), np.flatnonzero(is_eval)
    return encode(data, is_eval), {
        TRAIN: training, EVAL: evaluation,
        GATE: evaluation[sample(len(evaluation), config.gate_examples, config.split_seed)],
        TRAIN_SAMPLE: training[sample(len(training), config.statistics_examples,
                                      config.split_seed, 1)],
        EVAL_SAMPLE: evaluation[sample(len(evaluation), config.statistics_examples,
                                       config.split_seed, 1)]}


def sample(rows: int, size: int, seed: int, stream: int = 0) -> np.ndarray:
    """Row numbers of a seeded sample of `size` of `rows` rows, in order; every row when there
    are no more. `stream` tells apart samples of the same rows and seed."""
    if rows <= size:
        return np.arange(rows)
    rng = np.random.default_rng([seed, rows] + ([stream] if stream else []))
    return np.sort(rng.choice(rows, size, replace=False))


def unseen_fractions(encoded: EncodedRatings, rows: Dict[str, np.ndarray]) -> Dict[str, float]:
    """UNSEEN_USERS and UNSEEN_MOVIES: the fraction of eval's ratings whose user (movie) has
    no rating in train (0 when eval is empty)."""
    fractions = {}
    for name, codes, count in ((UNSEEN_USERS, encoded.user_codes, len(encoded.users)),
                               (UNSEEN_MOVIES, encoded.movie_codes, len(encoded.movies))):
        seen = np.bincount(codes[rows[TRAIN]], minlength=count) > 0
        evaluated = codes[rows[EVAL]]
        fractions[name] = float(np.mean(~seen[evaluated])) if len(evaluated) else 0.0
    return fractions


Shard = Tuple[str, str]  # the staged Arrow file of its rows, the TFRecord file to write


def stage_shards(split: str, encoded: EncodedRatings, rows: np.ndarray, split_uri: str,
                 staging_dir: str) -> List[Shard]:
    """Writes one split's rows as Arrow files of at most RATINGS_PER_SHARD rows; at least
    one shard, possibly empty."""
    count = max(1, math.ceil(len(rows) / RATINGS_PER_SHARD))
    size = math.ceil(len(rows) / count)
    prefix = os.path.join(split_uri, write_split.DEFAULT_TF_RECORD_FILE_NAME)
    work = []
    for index in range(count):
        batch = record_batch(encoded, rows[index * size:(index + 1) * size])
        staged = os.path.join(staging_dir, f"{split}-{index:05d}.arrow")
        buffer = pa.BufferOutputStream()
        with pa.ipc.new_file(buffer, batch.schema) as writer:
            writer.write_batch(batch)
        with tf.io.gfile.GFile(staged, "wb") as out:  # gfile: on Kubeflow this is gs://
            out.write(buffer.getvalue().to_pybytes())
        work.append((staged, f"{prefix}-{index:05d}-of-{count:05d}.gz"))
    return work


def write_shard(shard: Shard) -> int:
    """Encodes one staged shard's rows as tf.Examples into a gzipped TFRecord file."""
    staged, path = shard
    with tf.io.gfile.GFile(staged, "rb") as source:
        table = pa.ipc.open_file(pa.BufferReader(source.read())).read_all()
    with tf.io.TFRecordWriter(path, options="GZIP") as out:
        for batch in table.to_batches():
            for example in example_coder.RecordBatchToExamples(batch):
                out.write(example)
    return table.num_rows


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads the configured MovieLens source and writes the `train` and `eval` splits."""

    def Do(self, input_dict: Dict[str, List[Artifact]], output_dict: Dict[str, List[Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Splits the configured source into train, eval and gate, stages each split's rows as
        Arrow shards, and has Beam write each shard as gzipped tf.Examples."""
        data_config = exec_properties[DATA_CONFIG_KEY]
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        staging_dir = os.path.join(examples.uri, ".staging")
        tf.io.gfile.makedirs(staging_dir)
        try:
            work = []
            encoded, rows_by_split = split_rows(data_config)
            for name, fraction in unseen_fractions(encoded, rows_by_split).items():
                examples.set_float_custom_property(name, fraction)
            for split, rows in rows_by_split.items():
                split_uri = artifact_utils.get_split_uri([examples], split)
                tf.io.gfile.makedirs(split_uri)
                work += stage_shards(split, encoded, rows, split_uri, staging_dir)
            del encoded, rows_by_split  # the workers read the staged shards
            with self._make_beam_pipeline() as pipeline:
                _ = (pipeline
                     | "Shards" >> beam.Create(work, reshuffle=False)
                     | "WriteShard" >> beam.Map(write_shard))
        finally:
            tf.io.gfile.rmtree(staging_dir)
        set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        set_file_format(examples, write_split.to_file_format_str(
            example_gen_pb2.FORMAT_TFRECORDS_GZIP))
