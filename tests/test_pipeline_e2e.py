"""The local pipeline end to end on a small synthetic set, checked through ML Metadata."""

import collections
import dataclasses
import filecmp
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import artifact_utils, standard_artifacts

from common import features, storage
from components.data_gate.component import split_anomalies
from components.evaluator.config import GateConfig
from components.evaluator.gate import blessed_model_summary, gate_summary, slices
from components.example_gen import layout
from components.movielens import synthetic
from components.movielens.config import DataConfig
from components.movielens.records import DataFormatError
from components.movielens.synthetic import SyntheticConfig
from components.pusher import component as pusher
from components.resolver.strategy import RESOLVER_IDS
from components.servable_check import component as servable_check
from pipeline import cli, local_runner
from pipeline.config import PipelineConfig, ServingConfig
from serving import client
from serving.session_model import SessionModel
from tests import browser
from trainer import task
from trainer.config import ModelConfig

pytestmark = pytest.mark.slow

DATA = DataConfig(synthetic=SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000))
MODEL = ModelConfig(epochs=2, batch_size=256, embedding_dim=8, rating_layers=(16,),
                    learning_rate=0.01)


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


# Lenient bounds: this tiny model (2 epochs) must pass them; the change thresholds stay.
GATE = GateConfig(max_rmse_over_baseline=1.5, min_top_k_over_baseline=0.5)
COMPONENTS = ["MovieLensExampleGen", "MovieLensSchemaGen", "StatisticsGen", "ExampleValidator",
              "latest_push_resolver", "DriftCheck", "DataGate", "Transform", "Trainer",
              "latest_blessed_model_resolver", "Evaluator", "ServableCheck", "VersionedPusher",
              "RunReport"]


def _by_name(runs):
    return {r.component: r for r in runs}


def _versions(config):
    model_dir = os.path.join(config.serving.serving_dir, config.serving.model_name)
    return storage.versions(model_dir) if os.path.isdir(model_dir) else []


def _blessed(run):
    return os.path.exists(os.path.join(run.outputs["blessing"], "BLESSED"))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    config = PipelineConfig(pipeline_root=str(root), data=DATA, model=MODEL, gate=GATE,
                            serving=ServingConfig(str(root / "serving"), "movielens"))
    # The run's temp folder, to check what it leaves there.
    temp, tempfile.tempdir = tempfile.tempdir, str(tmp_path_factory.mktemp("temp"))
    try:
        runs = local_runner.run(config)
        left_in_temp = sorted(os.path.relpath(os.path.join(folder, name), tempfile.tempdir)
                              for folder, names, _ in os.walk(tempfile.tempdir) for name in names)
    finally:
        tempfile.tempdir = temp
    return config, runs, left_in_temp


def test_no_throwaway_tfx_build_is_made_or_left(first_run):
    *_, left_in_temp = first_run
    assert not [path for path in left_in_temp if path.endswith(os.path.join("build", "tfx"))
                or "build" in path.split(os.sep)], left_in_temp


def test_every_component_runs_and_is_recorded(first_run):
    config, runs, _ = first_run
    assert sorted(r.component for r in runs) == sorted(COMPONENTS)
    assert not any(r.cached for r in runs)
    store = metadata_store.MetadataStore(local_runner.metadata_config(config))
    executions = store.get_executions()
    assert len(executions) == len(COMPONENTS)
    assert all(e.last_known_state == metadata_store_pb2.Execution.COMPLETE for e in executions)
    [examples] = _example_gen_artifacts(config, store)
    assert examples.properties["split_names"].string_value == \
        '["train", "eval", "gate", "train_sample", "eval_sample"]'


def test_the_blessed_model_is_pushed_as_version_1(first_run):
    config, runs, _ = first_run
    assert _blessed(_by_name(runs)["Evaluator"])
    assert _versions(config) == [1]
    served = os.path.join(config.serving.serving_dir, "movielens", "1")
    assert not [n for n in os.listdir(os.path.dirname(served))
                if n.startswith(pusher.STAGING_PREFIX)]
    assert _by_name(runs)["VersionedPusher"].properties["pushed_model"]["pushed"] == 1


def test_the_servable_check_is_a_component_that_writes_an_infra_blessing(first_run):
    """What ML Metadata records of the check: TFX's InfraBlessing, blessed, with its reason
    and TFX's marker file; the Pusher read it (an input of its execution)."""
    _, runs, _ = first_run
    check = _by_name(runs)["ServableCheck"]
    blessing = check.properties["infra_blessing"]
    assert blessing["blessed"] == 1 and blessing["servable_check"] == servable_check.SERVABLE
    assert os.path.isfile(os.path.join(check.outputs["infra_blessing"], "INFRA_BLESSED"))


def test_the_evaluator_measures_activity_and_popularity_slices(first_run):
    """Each slice's examples add up to the whole gate split's."""
    _, runs, _ = first_run
    rows = slices(_by_name(runs)["Evaluator"].outputs["evaluation"])
    assert rows[0]["slice"] == "all"
    popularity = [row for row in rows if row["slice"].startswith(features.MOVIE_POPULARITY)]
    activity = [row for row in rows if row["slice"].startswith(features.USER_ACTIVITY)]
    assert [row["slice"].split()[1] for row in popularity] == list(features.POPULARITY_BUCKETS)
    assert len(rows) == 1 + len(popularity) + len(activity) and activity
    for sliced in (popularity, activity):
        assert sum(row["examples"] for row in sliced) == rows[0]["examples"]
    assert all(0 < row["rmse"] < 5 and 0 <= row["top_k_accuracy"] <= 1 for row in rows)


def test_the_data_is_validated_by_tfx_before_the_trainer(first_run):
    """StatisticsGen described the samples of train and eval, ExampleValidator found no
    anomaly in either against the curated schema, and the DataGate passed before the Trainer
    started."""
    _, runs, _ = first_run
    by_name = _by_name(runs)
    statistics = by_name["StatisticsGen"].outputs["statistics"]
    assert sorted(os.listdir(statistics)) == ["Split-eval_sample", "Split-train_sample"]
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = by_name["ExampleValidator"].outputs["anomalies"]
    anomalies.split_names = artifact_utils.encode_split_names(["train_sample", "eval_sample"])
    assert all(not found.anomaly_info and not found.dataset_anomaly_info.reason
               for found in split_anomalies(anomalies).values())
    assert by_name["DataGate"].started < by_name["Trainer"].started
    unseen = by_name["MovieLensExampleGen"].properties["examples"]
    assert unseen[layout.UNSEEN_USERS] == 0.0 and 0.0 <= unseen[layout.UNSEEN_MOVIES] < 0.01


# What a user types to try the pushed model: saved_model_cli runs it with TF Serving's loader.
CLI_INPUTS = {
    "retrieve": ["--input_exprs", 'user_id=["1"]'],
    "recommend": ["--input_exprs", 'user_id=["1", "no-such-user"]'],
    "rate": ["--input_exprs", 'user_id=["1", "2"];movie_id=["1", "no-such-movie"]'],
    "lookup_movie": ["--input_exprs", 'movie=["1"]'],
    "serving_default": ["--input_examples", 'examples=[{"user_id":["1"],"movie_id":["1"]}]'],
}


@pytest.mark.parametrize("signature", sorted(CLI_INPUTS))
def test_saved_model_cli_runs_every_signature_of_the_pushed_model(first_run, signature):
    config, _, _ = first_run
    served = os.path.join(config.serving.serving_dir, "movielens", "1")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    done = subprocess.run(
        [cli, "run", "--dir", served, "--tag_set", "serve", "--signature_def", signature,
         *CLI_INPUTS[signature]], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    with SessionModel(served) as model:
        outputs = model.signatures[signature].outputs
    printed = re.findall(r"Result for output key (\w+):", done.stdout)
    assert sorted(printed) == sorted(outputs)


def test_examples_hold_both_splits_without_overlap(first_run):
    _, runs, _ = first_run
    uri = _by_name(runs)["MovieLensExampleGen"].outputs["examples"]
    train, evaluation = _read_split(uri, "train"), _read_split(uri, "eval")
    assert (len(train), len(evaluation)) == (2400, 600)
    assert not _pairs(train) & _pairs(evaluation)
    assert _pairs(_read_split(uri, "gate")) == _pairs(evaluation)  # eval < gate_examples
    feature = train[0].features.feature
    assert set(feature) == {f.name for f in features.raw_schema().feature}


def test_transform_writes_vocabularies_and_no_transformed_copy(first_run):
    _, runs, _ = first_run
    transform = _by_name(runs)["Transform"].outputs
    output = tft.TFTransformOutput(transform["transform_graph"])
    examples = _by_name(runs)["MovieLensExampleGen"].outputs["examples"]
    train_users = {user for user, _ in _pairs(_read_split(examples, "train"))}
    assert set(output.vocabulary_by_name(features.USER_VOCABULARY)) == train_users
    # The Trainer applies the graph to the raw examples; nothing else reads a copy.
    assert "transformed_examples" not in transform


def test_trainer_exports_a_servable_model(first_run):
    _, runs, _ = first_run
    trainer = _by_name(runs)["Trainer"]
    serving = os.path.join(trainer.outputs["model"], "Format-Serving")
    with SessionModel(serving) as model:
        assert set(model.signatures) == {"retrieve", "rate", "recommend", "lookup_movie",
                                         "serving_default"}
        top = model.run("retrieve", {"user_id": ["1"]})
    assert top["movie_ids"].shape == (1, MODEL.top_k)
    model_run = trainer.outputs["model_run"]
    training = task.read_training_record(model_run)
    assert training["epochs"] == MODEL.epochs
    assert training["training_ratings"] == 2400  # every raw train example, transformed
    assert 0 < training["validation_seconds"] < training["seconds"]
    assert set(training["step_flops"]) == {"retrieval softmax", "history sums", "rating MLP"}
    event_files = glob.glob(os.path.join(model_run, "logs", "*", "events.out.tfevents.*"))
    assert event_files, "TensorBoard logs are written into the model run directory"


def _shown(page, key, expected, spec=""):
    """The page shows the run's own number `expected` under `key`, formatted by `spec`."""
    text, value = page.facts[key]
    assert float(value) == pytest.approx(expected, rel=1e-12, abs=1e-12), key
    assert text == format(expected, spec), key


def test_the_run_report_shows_the_runs_own_numbers_in_a_browser(first_run):
    """Read in Chromium: no console error, every picture decodes, nothing fetched, and each
    number is the one the run recorded (the Evaluator's, the Trainer's, ML Metadata's, the
    examples', the served model's answers)."""
    config, runs, _ = first_run
    by_name = _by_name(runs)
    page = browser.read(cli.report_page(config, runs))
    assert page.errors == []
    assert len(page.images) == 4 and all(decoded for _, decoded in page.images), page.images
    assert page.fetched == []
    assert "Blessed and pushed to" in page.text and "Not measured: no served version yet" \
        in page.text and "ExampleValidator found no anomaly" in page.text
    evaluation = by_name["Evaluator"].outputs["evaluation"]
    gate = gate_summary(evaluation)
    for key in ("rmse", "baseline_rmse", "top_k_accuracy", "baseline_top_k_accuracy"):
        _shown(page, f"gate.{key}", gate[key], ".4f")
    _shown(page, "gate.examples", int(gate["example_count"]), ",")
    assert "gate.blessed_rmse" not in page.facts, "no blessed model yet"
    for row in slices(evaluation):
        for key, spec in (("examples", ","), ("rmse", ".4f"), ("top_k_accuracy", ".4f"),
                          ("coverage", ".1%")):
            _shown(page, f"slice.{row['slice']}.{key}", row[key], spec)
    record = task.read_training_record(by_name["Trainer"].outputs["model_run"])
    _shown(page, "training.epochs", record["epochs"])
    _shown(page, "training.kept_epoch", record["kept_epoch"])
    assert f"{record['devices'].capitalize()}." in page.text  # the device that trained
    for epoch, loss in enumerate(record["history"]["val_loss"], start=1):
        _shown(page, f"training.val_loss.{epoch}", loss, ".4f")
    times = {f"time.{run.component}": run.seconds for run in runs if run.component != "RunReport"}
    assert {key for key in page.facts if key.startswith("time.")} == set(times)
    for key, seconds in times.items():
        _shown(page, key, seconds, ".1f")
    examples = by_name["MovieLensExampleGen"].outputs["examples"]
    for split in (layout.TRAIN_SAMPLE, layout.EVAL_SAMPLE):
        _shown(page, f"data.{split}.examples", len(_read_split(examples, split)), ",")
    # The recommendations are the pushed model's (the same model) answers.
    shown = collections.defaultdict(dict)
    for key in page.facts:
        if key.startswith("recommend."):
            _, user, rank = key.rsplit(".", 2)
            shown[user][int(rank)] = float(page.facts[key][1])
    buckets = {e.features.feature[features.USER_ACTIVITY].bytes_list.value[0]
               for e in _read_split(examples, layout.EVAL_SAMPLE)}
    assert len(shown) == len(buckets) >= 2, "a user of each activity bucket eval holds"
    model_dir = os.path.join(config.serving.serving_dir, config.serving.model_name)
    with client.Recommender(client.LocalTransport(model_dir, 1)) as served:
        for answer in served.recommend(sorted(shown)):
            assert shown[answer.user_id] == {rank: movie.stars for rank, movie
                                             in enumerate(answer.movies, start=1)}
            assert all(movie.title in page.text for movie in answer.movies)


# They measure drift from the newest served version, or show it: the first run after a push
# re-runs them.
DRIFT_CHECKS = {"DriftCheck", "DataGate", "RunReport"}


def test_second_run_is_served_from_cache(first_run):
    """All but the drift check, which measures against the version the first run pushed (the
    first run had none to compare with), and the gate after it; then all."""
    config, runs, _ = first_run
    again = local_runner.run(config)
    assert {r.component for r in again if not r.cached} - set(RESOLVER_IDS) == DRIFT_CHECKS
    assert {r.component: r.outputs for r in again if r.component not in DRIFT_CHECKS} == \
        {r.component: r.outputs for r in runs if r.component not in DRIFT_CHECKS}
    assert _by_name(again)["DriftCheck"].properties["drift_anomalies"]["compared_with"] == \
        os.path.join(config.serving.serving_dir, config.serving.model_name, "1")
    assert all(r.cached for r in local_runner.run(config) if r.outputs)
    assert _versions(config) == [1], "nothing is pushed twice"


def test_a_removed_serving_directory_gets_the_blessed_model_again(first_run, tmp_path):
    """`mv serving_model elsewhere`, then the same run: everything but the report is cached,
    and the blessed model is pushed again as version 1."""
    config, runs, _ = first_run
    model_dir = os.path.join(config.serving.serving_dir, config.serving.model_name)
    shutil.move(config.serving.serving_dir, str(tmp_path / "elsewhere"))
    again = _by_name(local_runner.run(config))
    # The Pusher pushes again, and the report (which shows the push) is written again.
    assert not again["VersionedPusher"].cached and not again["RunReport"].cached
    assert all(r.cached for name, r in again.items()
               if r.outputs and name not in ("VersionedPusher", "RunReport"))
    assert _versions(config) == [1]
    assert again["VersionedPusher"].properties["pushed_model"]["pushed_destination"] == \
        os.path.join(model_dir, "1")
    assert filecmp.cmp(os.path.join(model_dir, "1", "saved_model.pb"),
                       str(tmp_path / "elsewhere" / config.serving.model_name / "1" /
                           "saved_model.pb"), shallow=False)
    # The drift check measures against the version pushed anew, once; then all is cached.
    assert {r.component for r in local_runner.run(config) if not r.cached} - \
        set(RESOLVER_IDS) == DRIFT_CHECKS
    assert all(r.cached for r in local_runner.run(config) if r.outputs)


def test_a_worse_candidate_is_not_blessed_and_serving_is_untouched(first_run):
    """Passes the absolute bounds but is much worse than the blessed model: the change
    thresholds against the latest blessed model stop it."""
    config, _, _ = first_run
    worse = dataclasses.replace(config, model=dataclasses.replace(
        MODEL, learning_rate=1e-7, epochs=1))
    runs = _by_name(local_runner.run(worse))
    assert not runs["Trainer"].cached and not _blessed(runs["Evaluator"])
    assert _versions(config) == [1]
    gate = gate_summary(runs["Evaluator"].outputs["evaluation"])
    assert gate["compared_with_blessed_model"] and gate["failures"]
    first = gate_summary(_by_name(first_run[1])["Evaluator"].outputs["evaluation"])
    against = [f for f in gate["failures"]
               if f["check"] in ("max_rmse_increase", "max_top_k_accuracy_decrease")]
    assert against, gate["failures"]
    for failure in against:  # named, with the blessed model's own number
        measured = first["rmse" if failure["check"] == "max_rmse_increase" else "top_k_accuracy"]
        assert failure["blessed_model"] == pytest.approx(measured, abs=1e-4)
    served = os.path.join(config.serving.serving_dir, "movielens", "1")
    assert tf.saved_model.load(served).signatures["retrieve"](user_id=tf.constant(["1"]))
    # The report says why, beside the blessed model's own numbers (the first run's).
    page = browser.read(cli.report_page(config, runs.values()))
    assert page.errors == [] and all(decoded for _, decoded in page.images)
    assert len(page.images) == 5, "the drift's picture too"
    assert "Not blessed, nothing pushed: " in page.text
    for failure in against:
        assert f"--gate {failure['check']}=" in page.text
    blessed = blessed_model_summary(runs["Evaluator"].outputs["evaluation"])
    _shown(page, "gate.blessed_rmse", blessed["rmse"], ".4f")
    _shown(page, "gate.blessed_top_k_accuracy", blessed["top_k_accuracy"], ".4f")
    # which is the first run's model measured again on the same examples.
    assert blessed["rmse"] == pytest.approx(first["rmse"], rel=1e-6)
    assert blessed["top_k_accuracy"] == pytest.approx(first["top_k_accuracy"], rel=1e-6)
    # and the drift from the data of the served version (the same data: no distance).
    drift = runs["DriftCheck"].properties["drift_anomalies"]
    assert drift["compared_with"] == served
    for feature in ("rating", "movie_id", "user_id", "user_activity"):
        _shown(page, f"drift.{feature}", drift[f"drift_{feature}"], ".4f")


@pytest.mark.parametrize("bounds", [dict(max_rmse=0.1), dict(max_rmse_over_baseline=0.2),
                                    dict(min_top_k_over_baseline=20.0)])
def test_a_candidate_failing_a_bound_is_not_pushed(first_run, bounds):
    config, _, _ = first_run
    strict = dataclasses.replace(config, gate=dataclasses.replace(GATE, **bounds),
                                 model=dataclasses.replace(MODEL, seed=1))
    runs = _by_name(local_runner.run(strict))
    assert not _blessed(runs["Evaluator"])
    assert _versions(config) == [1]
    failed = {f["check"] for f in gate_summary(runs["Evaluator"].outputs["evaluation"])["failures"]}
    assert set(bounds) <= failed


def test_the_gate_measures_the_naive_baselines_on_the_eval_split(first_run):
    """The ratios' baselines, recomputed from the eval examples and the training split."""
    _, runs, _ = first_run
    gate = gate_summary(_by_name(runs)["Evaluator"].outputs["evaluation"])
    examples = _by_name(runs)["MovieLensExampleGen"].outputs["examples"]
    train, evaluation = _read_split(examples, "train"), _read_split(examples, "eval")

    def column(rows, name, kind="bytes_list"):
        return [getattr(e.features.feature[name], kind).value[0] for e in rows]

    train_stars = np.array(column(train, features.RATING, "float_list"))
    eval_stars = np.array(column(evaluation, features.RATING, "float_list"))
    global_mean = 1 + 4 * np.clip((train_stars.mean() - 1) / 4, 0, 1)
    assert gate["baseline_rmse"] == pytest.approx(
        np.sqrt(np.mean((eval_stars - global_mean) ** 2)), rel=1e-3)
    counts = collections.Counter(column(train, features.MOVIE_ID))
    seen = collections.defaultdict(set)
    for user, movie in zip(column(train, features.USER_ID), column(train, features.MOVIE_ID)):
        seen[user].add(movie)
    hits = []
    for user, movie in zip(column(evaluation, features.USER_ID),
                           column(evaluation, features.MOVIE_ID)):
        ranked = sorted((m for m in counts if m not in seen[user]), key=lambda m: -counts[m])
        cutoff = counts[ranked[MODEL.top_k - 1]]  # ties at the cut may go either way
        hits.append(1.0 if counts.get(movie, 0) > cutoff else
                    0.5 if counts.get(movie, 0) == cutoff and movie not in seen[user] else 0.0)
    assert gate["baseline_top_k_accuracy"] == pytest.approx(np.mean(hits), abs=0.02)


def test_the_gates_numbers_are_the_models_outputs_on_the_gate_split(first_run):
    """RMSE, top-k accuracy and both ratios, recomputed from the candidate's serving_default
    outputs on the examples the Evaluator read."""
    _, runs, _ = first_run
    gate = gate_summary(_by_name(runs)["Evaluator"].outputs["evaluation"])
    examples = _read_split(_by_name(runs)["MovieLensExampleGen"].outputs["examples"], "gate")
    serving = os.path.join(_by_name(runs)["Trainer"].outputs["model"], "Format-Serving")
    with SessionModel(serving) as model:
        out = model.run("serving_default",
                        {"examples": [e.SerializeToString() for e in examples]})
    stars = np.array([e.features.feature[features.RATING].float_list.value[0]
                      for e in examples])
    rmse = {name: np.sqrt(np.mean((out[name].reshape(-1) - stars) ** 2))
            for name in ("rating", "baseline_rating")}
    hits = {name: np.mean(out[name]) for name in ("top_k_hit", "baseline_top_k_hit")}
    assert gate["example_count"] == len(examples)
    assert gate["rmse"] == pytest.approx(rmse["rating"], rel=1e-5)
    assert gate["rmse_over_baseline"] == pytest.approx(rmse["rating"] / rmse["baseline_rating"],
                                                       rel=1e-5)
    assert gate["top_k_accuracy"] == pytest.approx(hits["top_k_hit"], rel=1e-6)
    assert gate["top_k_over_baseline"] == pytest.approx(
        hits["top_k_hit"] / hits["baseline_top_k_hit"], rel=1e-6)
    # Catalogue coverage: the distinct movies of every example's top k, over the catalogue.
    [catalogue] = set(out["catalogue_size"].tolist())
    whole = slices(_by_name(runs)["Evaluator"].outputs["evaluation"])[0]
    for name, output in (("coverage", "top_k_movies"),
                         ("baseline_coverage", "baseline_top_k_movies")):
        assert whole[name] == pytest.approx(len(np.unique(out[output])) / catalogue)
    assert 0 < whole["baseline_coverage"] <= 1 and 0 < whole["coverage"] <= 1


def test_bad_input_fails_clearly_and_keeps_earlier_artifacts(first_run, tmp_path):
    config, runs, _ = first_run
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
    assert [a.uri for a in live] == [_by_name(runs)["MovieLensExampleGen"].outputs["examples"]]
    examples = _by_name(runs)["MovieLensExampleGen"].outputs["examples"]
    assert len(_read_split(examples, "train")) == 2400


def test_the_portable_beam_path_gives_the_same_artifacts(first_run, tmp_path):
    """Beam's job service and an external worker pool, as Flink, Spark and Dataflow run it."""
    config, runs, _ = first_run
    portable = dataclasses.replace(
        config, pipeline_root=str(tmp_path / "root"), beam_runner="portable",
        serving=ServingConfig(str(tmp_path / "serving"), "movielens"))
    again, direct = _by_name(local_runner.run(portable)), _by_name(runs)
    assert not any(r.cached for r in again.values() if r.outputs)
    for split in ("train", "eval"):
        assert _pairs(_read_split(again["MovieLensExampleGen"].outputs["examples"], split)) == \
            _pairs(_read_split(direct["MovieLensExampleGen"].outputs["examples"], split))
    for name in (features.USER_VOCABULARY, features.MOVIE_VOCABULARY):
        assert tft.TFTransformOutput(again["Transform"].outputs["transform_graph"]
                                     ).vocabulary_by_name(name) == \
            tft.TFTransformOutput(direct["Transform"].outputs["transform_graph"]
                                  ).vocabulary_by_name(name)
    gate = gate_summary(again["Evaluator"].outputs["evaluation"])
    assert gate["example_count"] == 600 and _blessed(again["Evaluator"])
