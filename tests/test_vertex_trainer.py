"""`compile kfp --trainer vertex`: the compiled spec's Trainer step is TFX's Vertex AI
Trainer with this project's worker pools and image, and the CustomJob that TFX's own code
makes of it runs, on every replica, the command that the local workers run
(tests/test_distributed.py). No Google Cloud is reachable here: the job is never submitted."""

import json

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.extensions.google_cloud_ai_platform import training_clients
from tfx.types import standard_artifacts
from tfx.utils import name_utils

from components.trainer import local_workers
from pipeline import cli

IMAGE = "gcr.io/project/movielens-tfx:test"
VERTEX = ["--trainer", "vertex", "--trainer-machine-type", "n1-highmem-16",
          "--trainer-replicas", "4", "--trainer-accelerator", "NVIDIA_TESLA_T4:2",
          "--region", "europe-west4", "--project", "my-project"]


def _compile(path, *extra):
    code = cli.main(["compile", "kfp", "--output", str(path), "--pipeline-root", "gs://b/root",
                     "--serving-dir", "gs://b/serving", "--image", IMAGE, *extra])
    assert code == 0
    with open(path) as compiled:
        return json_format.ParseDict(yaml.safe_load(compiled), pipeline_spec_pb2.PipelineSpec())


def _trainer(spec):
    """(the Trainer step's executor class, its custom_config)."""
    container = spec.deployment_spec.fields["executors"].struct_value.fields[
        "Trainer_executor"].struct_value.fields["container"].struct_value
    args = [value.string_value for value in container.fields["args"].list_value.values]
    assert container.fields["image"].string_value == IMAGE
    parameter = spec.root.dag.tasks["Trainer"].inputs.parameters["custom_config"]
    text = json_format.MessageToDict(parameter.runtime_value.constant_value).popitem()[1]
    return args[args.index("--executor_class_path") + 1], json.loads(text)


@pytest.fixture(scope="module")
def vertex(tmp_path_factory):
    return _trainer(_compile(tmp_path_factory.mktemp("vertex") / "pipeline.yaml", *VERTEX))


def test_the_trainer_step_is_tfxs_vertex_ai_trainer(vertex):
    executor, custom_config = vertex
    assert executor == "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    assert custom_config["ai_platform_enable_vertex"] is True
    assert custom_config["ai_platform_vertex_region"] == "europe-west4"
    assert custom_config["ai_platform_training_args"]["project"] == "my-project"
    assert "model_config" in custom_config  # run_fn's own config travels with it


def test_the_worker_pools_are_a_chief_and_the_other_replicas_on_the_image(vertex):
    pools = vertex[1]["ai_platform_training_args"]["job_spec"]["worker_pool_specs"]
    machine = {"machine_type": "n1-highmem-16", "accelerator_type": "NVIDIA_TESLA_T4",
               "accelerator_count": 2}
    assert pools == [
        {"machine_spec": machine, "replica_count": 1, "container_spec": {"image_uri": IMAGE}},
        {"machine_spec": machine, "replica_count": 3, "container_spec": {"image_uri": IMAGE}}]


def test_every_replica_runs_the_trainer_executor_the_local_workers_run(vertex):
    """The CustomJob as TFX's Vertex client builds it for submission (its constructor, which
    needs Google credentials, skipped: building the job does not use them)."""
    client = object.__new__(training_clients.VertexJobClient)
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = "gs://b/root/Trainer/model/1", "gs://b/root/Trainer/run/1"
    args = dict(vertex[1]["ai_platform_training_args"])
    args.pop("project")  # as TFX's runner does before building the job
    job = client.create_training_job({}, {"model": [model], "model_run": [model_run]},
                                     {"run_fn": "trainer.task.run_fn"},
                                     "tfx.components.trainer.executor.GenericExecutor",
                                     args, None, None)
    pools = job["job_spec"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 3]
    for pool in pools:
        command = pool["container_spec"]["command"]
        assert pool["container_spec"]["image_uri"] == IMAGE
        assert command[:3] == ["python", "-m", "tfx.scripts.run_executor"]
        assert command[command.index("--executor_class_path") + 1] == \
            name_utils.get_full_name(local_workers.WORKER_EXECUTOR)


def test_the_default_trains_in_the_steps_own_pod(tmp_path):
    executor, custom_config = _trainer(_compile(tmp_path / "pipeline.yaml"))
    assert executor == "tfx.components.trainer.executor.GenericExecutor"
    assert not [key for key in custom_config if key.startswith("ai_platform")]


@pytest.mark.parametrize("extra, message", [
    (["--trainer", "vertex", "--project", "p"], "--trainer vertex needs --region"),
    (["--trainer", "vertex", "--region", "r", "--project", "p", "--trainer-accelerator",
      "T4"], "--trainer-accelerator must be TYPE:COUNT"),
    (["--trainer", "vertex", "--region", "r", "--project", "p", "--trainer-replicas", "3"],
     "batch_size=1024 does not split into 3 equal replica batches"),
])
def test_a_vertex_option_that_cannot_work_is_one_line(tmp_path, capsys, extra, message):
    assert cli.main(["compile", "kfp", "--output", str(tmp_path / "p.yaml"), "--pipeline-root",
                     "gs://b/root", "--serving-dir", "gs://b/s", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.yaml").exists()
