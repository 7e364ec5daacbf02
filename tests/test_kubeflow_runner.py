"""The Kubeflow Pipelines v2 compile: parsed back with the kfp-pipeline-spec protos."""

import dataclasses
import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from common.config_error import ConfigError
from components.movielens.config import DataConfig
from pipeline import kubeflow_runner
from pipeline.config import PipelineConfig, ServingConfig

IMAGE = "gcr.io/project/movielens-tfx:test"
CONFIG = PipelineConfig(pipeline_root="gs://bucket/root",
                        serving=ServingConfig("gs://bucket/serving", "movielens"), image=IMAGE)
# Each component and the one it must run after.
ORDER = [("StatisticsGen", "MovieLensExampleGen"), ("ExampleValidator", "StatisticsGen"),
         ("DriftCheck", "StatisticsGen"), ("DataGate", "ExampleValidator"),
         ("DataGate", "DriftCheck"), ("Trainer", "DataGate"),
         ("Transform", "MovieLensExampleGen"), ("Trainer", "Transform"),
         ("Evaluator", "Trainer"), ("ServableCheck", "Trainer"), ("VersionedPusher", "Evaluator"),
         ("VersionedPusher", "ServableCheck"), ("RunReport", "VersionedPusher")]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("kfp") / "pipeline.yaml")
    kubeflow_runner.compile_pipeline(CONFIG, path)
    with open(path) as compiled:
        return json_format.ParseDict(yaml.safe_load(compiled),
                                     pipeline_spec_pb2.PipelineSpec())


def test_yaml_is_a_pipeline_spec_with_the_components_in_order(spec):
    assert spec.pipeline_info.name == "movielens-recommender"
    tasks = spec.root.dag.tasks
    for component, after in ORDER:
        assert component in tasks, sorted(tasks)
        assert after in tasks[component].dependent_tasks
    assert "MovieLensSchemaGen" in tasks["Transform"].dependent_tasks


def test_the_pusher_takes_the_servable_checks_infra_blessing(spec):
    infra = spec.root.dag.tasks["VersionedPusher"].inputs.artifacts["infra_blessing"]
    assert infra.task_output_artifact.producer_task == "ServableCheck"
    assert "tfx.InfraBlessing" in json_format.MessageToJson(spec)


def test_the_run_report_is_an_html_artifact_the_kubeflow_ui_shows(spec):
    """KFP's UI shows an output artifact of type system.HTML whose URI is the page: the
    compiled output has that type, and the report reads no ML Metadata path (the UI shows
    each step's time)."""
    component = spec.components[spec.root.dag.tasks["RunReport"].component_ref.name]
    output = component.output_definitions.artifacts["report"].artifact_type
    assert yaml.safe_load(output.instance_schema)["title"] == "system.HTML"
    metadata_path = spec.root.dag.tasks["RunReport"].inputs.parameters["metadata_path"]
    assert metadata_path.runtime_value.constant.string_value == ""


def test_every_executor_uses_the_image_and_the_module_paths_are_set(spec):
    deployment = json_format.MessageToDict(spec.deployment_spec)
    containers = [e["container"] for e in deployment["executors"].values() if "container" in e]
    assert containers and all(c["image"] == IMAGE for c in containers)
    text = json_format.MessageToJson(spec)
    assert "components.transform.preprocessing.preprocessing_fn" in text
    assert "trainer.task.run_fn" in text


def test_statistics_gen_runs_this_projects_executor_in_the_image(spec):
    """The component is TFX's StatisticsGen (its spec and ExampleStatistics output); its
    executor is the in-memory one, which the image has."""
    container = spec.deployment_spec.fields["executors"].struct_value.fields[
        "StatisticsGen_executor"].struct_value.fields["container"].struct_value
    args = [value.string_value for value in container.fields["args"].list_value.values]
    assert args[args.index("--executor_class_path") + 1] == \
        "components.statistics_gen.executor.Executor"
    component = spec.components[spec.root.dag.tasks["StatisticsGen"].component_ref.name]
    output = component.output_definitions.artifacts["statistics"].artifact_type
    assert yaml.safe_load(output.instance_schema)["title"] == "tfx.ExampleStatistics"


def test_json_is_a_vertex_pipeline_job(tmp_path):
    path = str(tmp_path / "pipeline.json")
    kubeflow_runner.compile_pipeline(CONFIG, path)
    with open(path) as compiled:
        job = json.load(compiled)
    json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"


def test_yaml_carries_the_pipeline_root(spec):
    assert spec.default_pipeline_root == "gs://bucket/root"


def test_beam_workers_get_the_project_image_not_a_throwaway_tfx_build(spec):
    text = json_format.MessageToJson(spec)
    assert f"--sdk_container_image={IMAGE}" in text
    assert "--extra_package" not in text


def test_a_local_data_path_is_refused(tmp_path):
    local = tmp_path / "ml-100k"
    local.mkdir()
    config = dataclasses.replace(CONFIG, data=DataConfig(source=str(local)))
    with pytest.raises(ConfigError, match="cluster's pods cannot read"):
        kubeflow_runner.compile_pipeline(config, str(tmp_path / "pipeline.yaml"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]


def test_other_extensions_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="use a .json"):
        kubeflow_runner.compile_pipeline(CONFIG, str(tmp_path / "pipeline.txt"))
    assert not list(tmp_path.iterdir())


def test_the_image_gets_every_package_of_this_project():
    """A package left out of the Dockerfile would fail only on the cluster, at import."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    packages = {name for name in os.listdir(root) if name != "tests"
                and os.path.isfile(os.path.join(root, name, "__init__.py"))}
    with open(os.path.join(root, "Dockerfile")) as dockerfile:
        copied = {line.split()[1].rstrip("/") for line in dockerfile
                  if line.startswith("COPY ")}
    assert packages and packages <= copied, packages - copied


def _pusher_parameter(spec, name):
    value = spec.root.dag.tasks["VersionedPusher"].inputs.parameters[name].runtime_value
    return json_format.MessageToDict(value.constant_value).popitem()[1]


def test_the_pusher_knows_the_root_it_checks_served_versions_against(spec, tmp_path):
    from pipeline import cli

    assert _pusher_parameter(spec, "pipeline_root") == "gs://bucket/root"
    assert int(_pusher_parameter(spec, "replace_unknown_version")) == 0
    path = str(tmp_path / "pipeline.yaml")
    assert cli.main(["compile", "kfp", "--output", path, "--pipeline-root", "gs://b/r",
                     "--serving-dir", "gs://b/serving", "--pipeline-name", "movielens-temporal",
                     "--split", "temporal", "--replace-unknown-version"]) == 0
    with open(path) as compiled:
        other = json_format.ParseDict(yaml.safe_load(compiled), pipeline_spec_pb2.PipelineSpec())
    assert other.pipeline_info.name == "movielens-temporal"
    assert int(_pusher_parameter(other, "replace_unknown_version")) == 1
