"""StatisticsGen's in-memory executor against TFX's own Beam executor, on the same splits."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx_bsl.coders import example_coder

from components.example_gen import executor as example_gen
from components.example_gen.layout import EVAL_SAMPLE, TRAIN_SAMPLE
from components.movielens import synthetic
from components.movielens.synthetic import SyntheticConfig
from components.schema_gen.component import schema_text
from components.statistics_gen import executor
from pipeline.config import PipelineConfig


def _artifact(artifact_type, uri):
    artifact = artifact_type()
    artifact.uri = str(uri)
    os.makedirs(artifact.uri, exist_ok=True)
    return artifact


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Examples with a train and an eval sample (more distinct movies and users than TFDV's
    in-memory sketches hold by default: 1,024), and the curated schema."""
    root = tmp_path_factory.mktemp("statistics")
    data = synthetic.generate(SyntheticConfig(num_users=1500, num_movies=2500,
                                              num_ratings=12_000))
    count = len(data.ratings)
    encoded = example_gen.encode(data, np.arange(count) % 4 == 0)
    examples = _artifact(standard_artifacts.Examples, root / "examples")
    examples.split_names = artifact_utils.encode_split_names([TRAIN_SAMPLE, EVAL_SAMPLE])
    for split, rows in ((TRAIN_SAMPLE, np.flatnonzero(np.arange(count) % 4 != 0)),
                        (EVAL_SAMPLE, np.arange(count)[::4])):
        os.makedirs(root / "examples" / f"Split-{split}")
        batch = example_gen.record_batch(encoded, rows)
        with tf.io.TFRecordWriter(str(root / "examples" / f"Split-{split}" / "data.gz"),
                                  options="GZIP") as out:
            for record in example_coder.RecordBatchToExamples(batch):
                out.write(record)
    schema = _artifact(standard_artifacts.Schema, root / "schema")
    with open(os.path.join(schema.uri, "schema.pbtxt"), "w", encoding="utf-8") as out:
        out.write(schema_text())
    return root, examples, schema


def _statistics(executor_class, root, name, examples, schema, properties):
    statistics = _artifact(standard_artifacts.ExampleStatistics, root / name)
    beam_args = PipelineConfig(pipeline_root=str(root)).beam_pipeline_args
    executor_class(executor_class.Context(beam_pipeline_args=beam_args)).Do(
        {"examples": [examples], "schema": [schema]}, {"statistics": [statistics]},
        properties)
    return statistics


def _split(statistics, split):
    return tfdv.load_stats_binary(os.path.join(
        artifact_utils.get_split_uri([statistics], split), tfx_executor.DEFAULT_FILE_NAME))


def test_the_statistics_equal_tfx_beam_executors(inputs):
    root, examples, schema = inputs
    ours = _statistics(executor.Executor, root, "ours", examples, schema,
                       {"exclude_splits": "[]"})
    theirs = _statistics(tfx_executor.Executor, root, "theirs", examples, schema,
                         {"exclude_splits": "[]"})
    assert artifact_utils.decode_split_names(ours.split_names) == [TRAIN_SAMPLE, EVAL_SAMPLE]
    assert ours.split_names == theirs.split_names
    for split in (TRAIN_SAMPLE, EVAL_SAMPLE):
        mine, tfx = _split(ours, split), _split(theirs, split)
        movies = next(f for f in mine.datasets[0].features if f.path.step[0] == "movie_id")
        assert movies.string_stats.unique > 1024  # past the in-memory sketches' default size
        # Sums in another order differ in the last digits; every other number is the same.
        for numbers in (mine, tfx):
            for feature in numbers.datasets[0].features:
                if feature.HasField("num_stats"):
                    assert feature.num_stats.mean == pytest.approx(next(
                        f for f in tfx.datasets[0].features if f.path == feature.path
                    ).num_stats.mean, rel=1e-12)
        for feature in (f for d in (mine, tfx) for f in d.datasets[0].features):
            if feature.HasField("num_stats"):
                feature.num_stats.mean = round(feature.num_stats.mean, 6)
                feature.num_stats.std_dev = round(feature.num_stats.std_dev, 6)
        assert mine == tfx, split


def test_excluded_splits_are_not_described_and_a_tfx_option_it_lacks_is_refused(inputs):
    root, examples, schema = inputs
    ours = _statistics(executor.Executor, root, "train_only", examples, schema,
                       {"exclude_splits": f'["{EVAL_SAMPLE}"]'})
    assert artifact_utils.decode_split_names(ours.split_names) == [TRAIN_SAMPLE]
    assert os.listdir(ours.uri) == [f"Split-{TRAIN_SAMPLE}"]
    with pytest.raises(ValueError, match="sample_rate_by_split is not supported"):
        _statistics(executor.Executor, root, "sampled", examples, schema,
                    {"exclude_splits": "[]", "sample_rate_by_split": '{"train_sample": 0.5}'})
    with pytest.raises(ValueError, match="no split of .* is left to describe"):
        _statistics(executor.Executor, root, "none", examples, schema,
                    {"exclude_splits": f'["{TRAIN_SAMPLE}", "{EVAL_SAMPLE}"]'})
