"""Executor of MovieLensExampleGen: MovieLens ratings to tf.Examples in two splits.

Neither split protocol is a hash of single records (`random` is a seeded shuffle of all
ratings, `temporal` needs each user's ratings together), so the source is read and split once
in this process (numpy, seconds for ml-100k). The ratings become Arrow columns, which
tfx_bsl encodes to tf.Examples in C++; Beam then writes the shards in parallel, each a gzipped
TFRecord file, the format every TFX component reads. One Beam element per shard, not per
rating: TFX's per-record WriteSplit spent 20 s of Python on ml-100k.
"""

from __future__ import annotations

import collections
import functools
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

from components import features
from components.movielens import sources
from components.movielens.records import MovieLensData
from pipeline.config import DataConfig

DATA_CONFIG_KEY = "data_config"
SOURCE_FINGERPRINT_KEY = "source_fingerprint"
TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)
RATINGS_PER_SHARD = 500_000


def _one_per_row(values, value_type: pa.DataType) -> pa.LargeListArray:
    """A column of single-value lists, the shape tf.Example features have."""
    values = pa.array(values, type=value_type)
    return pa.LargeListArray.from_arrays(pa.array(np.arange(len(values) + 1)), values)


def to_record_batch(data: MovieLensData, activity: List[str]) -> pa.RecordBatch:
    """Every rating joined with its movie's metadata and its user's activity bucket."""
    movie_ids = data.movie_ids.tolist()
    titles = [data.movies[movie].title for movie in movie_ids]
    genres = ["|".join(data.movies[movie].genres) for movie in movie_ids]
    text = pa.large_binary()
    columns = {
        features.USER_ID: _one_per_row([u.encode() for u in data.user_ids.tolist()], text),
        features.MOVIE_ID: _one_per_row([m.encode() for m in movie_ids], text),
        features.RATING: _one_per_row(data.ratings.astype(np.float32), pa.float32()),
        features.TIMESTAMP: _one_per_row(data.timestamps.astype(np.int64), pa.int64()),
        features.MOVIE_TITLE: _one_per_row([t.encode() for t in titles], text),
        features.GENRES: _one_per_row([g.encode() for g in genres], text),
        features.USER_ACTIVITY: _one_per_row([a.encode() for a in activity], text),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), list(columns))


def activity_buckets(data: MovieLensData, is_eval: np.ndarray) -> List[str]:
    """Each rating's user bucket, by the user's number of ratings in the train split."""
    train_counts = collections.Counter(data.user_ids[~is_eval].tolist())
    return [features.activity_bucket(train_counts[user]) for user in data.user_ids.tolist()]


@functools.lru_cache(maxsize=1)
def split_batches(data_config: str) -> Dict[str, pa.RecordBatch]:
    """The rows of each split of the source `data_config` (DataConfig JSON) names.

    Cached: Beam's workers call it for their shards instead of receiving the rows through the
    pipeline, whose pickled form would hold every rating (and bz2-compressing it took 12 s).
    """
    config = DataConfig.from_json(data_config)
    data, is_eval = sources.load_split(config)
    logging.info(
        "MovieLensExampleGen: %d ratings from %s; %s split: %d train, %d eval",
        data.num_ratings, data.description, config.split,
        int((~is_eval).sum()), int(is_eval.sum()),
    )
    batch = to_record_batch(data, activity_buckets(data, is_eval))
    return {TRAIN: batch.filter(pa.array(~is_eval)), EVAL: batch.filter(pa.array(is_eval))}


Shard = Tuple[str, str, str, int, int]  # data config, split, file path, first row, row count


def shards(data_config: str, split: str, split_uri: str, num_rows: int) -> List[Shard]:
    """The shards of one split; at least one, possibly empty."""
    count = max(1, math.ceil(num_rows / RATINGS_PER_SHARD))
    size = math.ceil(num_rows / count)
    prefix = os.path.join(split_uri, write_split.DEFAULT_TF_RECORD_FILE_NAME)
    return [(data_config, split, f"{prefix}-{index:05d}-of-{count:05d}.gz", index * size, size)
            for index in range(count)]


def write_shard(shard: Shard) -> int:
    """Encodes one shard's rows as tf.Examples into a gzipped TFRecord file."""
    data_config, split, path, first, count = shard
    batch = split_batches(data_config)[split].slice(first, count)
    with tf.io.TFRecordWriter(path, options="GZIP") as out:
        for example in example_coder.RecordBatchToExamples(batch):
            out.write(example)
    return batch.num_rows


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads the configured MovieLens source and writes the `train` and `eval` splits."""

    def Do(self, input_dict: Dict[str, List[Artifact]], output_dict: Dict[str, List[Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        data_config = exec_properties[DATA_CONFIG_KEY]
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        work = []
        for split, batch in split_batches(data_config).items():
            split_uri = artifact_utils.get_split_uri([examples], split)
            tf.io.gfile.makedirs(split_uri)
            work += shards(data_config, split, split_uri, batch.num_rows)
        try:
            with self._make_beam_pipeline() as pipeline:
                _ = (pipeline
                     | "Shards" >> beam.Create(work, reshuffle=False)
                     | "WriteShard" >> beam.Map(write_shard))
        finally:
            split_batches.cache_clear()  # the local runner goes on to train in this process
        set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        set_file_format(examples, write_split.to_file_format_str(
            example_gen_pb2.FORMAT_TFRECORDS_GZIP))
