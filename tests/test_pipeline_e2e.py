"""The local pipeline end to end on a small synthetic set, checked through ML Metadata."""

import glob
import json
import os

import pytest
import tensorflow as tf
import tensorflow_transform as tft
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import features
from components.movielens import synthetic
from components.movielens.records import DataFormatError
from components.movielens.synthetic import SyntheticConfig
from pipeline import local_runner
from pipeline.config import DataConfig, ModelConfig, PipelineConfig

pytestmark = pytest.mark.slow

DATA = DataConfig(synthetic=SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000))
MODEL = ModelConfig(epochs=2, batch_size=256, embedding_dim=8, rating_layers=(16,))


def _read_split(examples_uri, split):
    files = glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in records]


def _example_gen_artifacts(config, store):
    produced_here = os.path.join(config.pipeline_root, "MovieLensExampleGen")
    return [a for a in store.get_artifacts_by_type("Examples") if a.uri.startswith(produced_here)]


def _pairs(examples):
    return {(e.features.feature[features.USER_ID].bytes_list.value[0],
             e.features.feature[features.MOVIE_ID].bytes_list.value[0]) for e in examples}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    config = PipelineConfig(pipeline_root=str(tmp_path_factory.mktemp("root")), data=DATA,
                            model=MODEL)
    return config, local_runner.run(config)


def test_every_component_runs_and_is_recorded(first_run):
    config, runs = first_run
    assert [r.component for r in runs] == ["MovieLensExampleGen", "MovieLensSchemaGen",
                                           "Transform", "Trainer"]
    assert not any(r.cached for r in runs)
    store = metadata_store.MetadataStore(local_runner.metadata_config(config))
    executions = store.get_executions()
    assert len(executions) == 4
    assert all(e.last_known_state == metadata_store_pb2.Execution.COMPLETE for e in executions)
    [examples] = _example_gen_artifacts(config, store)
    assert examples.properties["split_names"].string_value == '["train", "eval"]'


def test_examples_hold_both_splits_without_overlap(first_run):
    _, runs = first_run
    uri = runs[0].outputs["examples"]
    train, evaluation = _read_split(uri, "train"), _read_split(uri, "eval")
    assert (len(train), len(evaluation)) == (2400, 600)
    assert not _pairs(train) & _pairs(evaluation)
    feature = train[0].features.feature
    assert set(feature) == {f.name for f in features.raw_schema().feature}


def test_transform_output_has_vocabularies_and_transformed_splits(first_run):
    _, runs = first_run
    transform = runs[2].outputs
    output = tft.TFTransformOutput(transform["transform_graph"])
    train_users = {user for user, _ in _pairs(_read_split(runs[0].outputs["examples"], "train"))}
    assert set(output.vocabulary_by_name(features.USER_VOCABULARY)) == train_users
    transformed = _read_split(transform["transformed_examples"], "eval")
    assert len(transformed) == 600
    ratings = [e.features.feature[features.RATING_NORMALIZED].float_list.value[0]
               for e in transformed]
    assert min(ratings) >= 0.0 and max(ratings) <= 1.0


def test_trainer_exports_a_servable_model(first_run):
    _, runs = first_run
    serving = os.path.join(runs[3].outputs["model"], "Format-Serving")
    loaded = tf.saved_model.load(serving)
    assert set(loaded.signatures) == {"retrieve", "rate", "recommend", "serving_default"}
    top = loaded.signatures["retrieve"](user_id=tf.constant(["1"]))
    assert top["movie_ids"].shape == (1, MODEL.top_k)
    model_run = runs[3].outputs["model_run"]
    with open(os.path.join(model_run, "training.json")) as saved:
        assert json.load(saved)["epochs"] == MODEL.epochs
    event_files = glob.glob(os.path.join(model_run, "logs", "*", "events.out.tfevents.*"))
    assert event_files, "TensorBoard logs are written into the model run directory"


def test_second_run_is_served_from_cache(first_run):
    config, runs = first_run
    again = local_runner.run(config)
    assert all(r.cached for r in again)
    assert [r.outputs for r in again] == [r.outputs for r in runs]


def test_bad_input_fails_clearly_and_keeps_earlier_artifacts(first_run, tmp_path):
    config, runs = first_run
    data = synthetic.generate(SyntheticConfig(num_users=10, num_movies=20, num_ratings=100))
    synthetic.write_ml100k(data, str(tmp_path))
    with open(tmp_path / "u.data", "a") as out:
        out.write("3\t5\tseven\t881250949\n")
    bad = PipelineConfig(pipeline_root=config.pipeline_root,
                         data=DataConfig(source=str(tmp_path)), model=MODEL)
    with pytest.raises(DataFormatError, match=r"u\.data, line 101, field 'rating'"):
        local_runner.run(bad)
    store = metadata_store.MetadataStore(local_runner.metadata_config(config))
    live = [a for a in _example_gen_artifacts(config, store)
            if a.state == metadata_store_pb2.Artifact.LIVE]
    assert [a.uri for a in live] == [runs[0].outputs["examples"]]
    assert len(_read_split(runs[0].outputs["examples"], "train")) == 2400
