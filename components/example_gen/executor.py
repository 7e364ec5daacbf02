"""Executor of MovieLensExampleGen: MovieLens ratings to tf.Examples in two splits.

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

import collections
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


def split_batches(data_config: str) -> Dict[str, pa.RecordBatch]:
    """The rows of each split of the source `data_config` (DataConfig JSON) names."""
    config = DataConfig.from_json(data_config)
    data, is_eval = sources.load_split(config)
    logging.info(
        "MovieLensExampleGen: %d ratings from %s; %s split: %d train, %d eval",
        data.num_ratings, data.description, config.split,
        int((~is_eval).sum()), int(is_eval.sum()),
    )
    batch = to_record_batch(data, activity_buckets(data, is_eval))
    return {TRAIN: batch.filter(pa.array(~is_eval)), EVAL: batch.filter(pa.array(is_eval))}


Shard = Tuple[str, str]  # the staged Arrow file of its rows, the TFRecord file to write


def stage_shards(split: str, batch: pa.RecordBatch, split_uri: str,
                 staging_dir: str) -> List[Shard]:
    """Writes one split's rows as Arrow files of at most RATINGS_PER_SHARD rows; at least
    one shard, possibly empty."""
    count = max(1, math.ceil(batch.num_rows / RATINGS_PER_SHARD))
    size = math.ceil(batch.num_rows / count)
    prefix = os.path.join(split_uri, write_split.DEFAULT_TF_RECORD_FILE_NAME)
    work = []
    for index in range(count):
        staged = os.path.join(staging_dir, f"{split}-{index:05d}.arrow")
        buffer = pa.BufferOutputStream()
        with pa.ipc.new_file(buffer, batch.schema) as writer:
            writer.write_batch(batch.slice(index * size, size))
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
        data_config = exec_properties[DATA_CONFIG_KEY]
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        staging_dir = os.path.join(examples.uri, ".staging")
        tf.io.gfile.makedirs(staging_dir)
        try:
            work = []
            for split, batch in split_batches(data_config).items():
                split_uri = artifact_utils.get_split_uri([examples], split)
                tf.io.gfile.makedirs(split_uri)
                work += stage_shards(split, batch, split_uri, staging_dir)
            with self._make_beam_pipeline() as pipeline:
                _ = (pipeline
                     | "Shards" >> beam.Create(work, reshuffle=False)
                     | "WriteShard" >> beam.Map(write_shard))
        finally:
            tf.io.gfile.rmtree(staging_dir)
        set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        set_file_format(examples, write_split.to_file_format_str(
            example_gen_pb2.FORMAT_TFRECORDS_GZIP))
