"""The pipeline, defined once for every runner."""

from __future__ import annotations

from typing import Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components import code_version
from components.code_version import CODE_VERSION_KEY
from components.data_gate.component import DataGate
from components.drift_check.component import DriftCheck
from components.evaluator.gate import eval_config
from components.example_gen.component import MovieLensExampleGen
from components.example_gen.layout import EVAL, GATE, TRAIN
from components.pusher.component import VersionedPusher
from components.resolver.strategy import LATEST_PUSH, latest_blessed_baseline, latest_push
from components.run_report.component import RunReport
from components.schema_gen.component import MovieLensSchemaGen, schema_text
from components.servable_check.component import ServableCheck
from components.statistics_gen.component import SampleStatisticsGen
from components.trainer.component import placement_config, trainer_class
from pipeline.config import PipelineConfig
from trainer.task import MODEL_CONFIG_KEY

# The components' ids: the names ML Metadata, the run's output and Kubeflow show.
EXAMPLE_GEN = "MovieLensExampleGen"
SCHEMA_GEN = "MovieLensSchemaGen"
STATISTICS_GEN = "StatisticsGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DRIFT_CHECK = "DriftCheck"
DATA_GATE = "DataGate"
TRANSFORM = "Transform"
TRAINER = "Trainer"
EVALUATOR = "Evaluator"
SERVABLE_CHECK = "ServableCheck"
PUSHER = "VersionedPusher"
RUN_REPORT = "RunReport"

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "trainer.task.run_fn"


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    tfx_strategies_only: bool = False,
) -> tfx.dsl.Pipeline:
    """ExampleGen -> SchemaGen -> StatisticsGen -> ExampleValidator and DriftCheck ->
    DataGate; Transform; both -> Trainer -> Evaluator and ServableCheck -> Pusher ->
    RunReport.

    The resolvers use this project's strategies (components/resolver/strategy.py): the
    baseline is the latest blessed model other than the candidate, so that an unchanged
    re-run is wholly cached, and no push yet is no error. The Kubeflow v2 compiler translates
    only TFX's own strategies, so its runner passes `tfx_strategies_only`.
    """
    code = code_version.digests()
    example_gen = MovieLensExampleGen(data=config.data, code_version=code["example_gen"]
                                      ).with_id(EXAMPLE_GEN)
    schema_gen = MovieLensSchemaGen(schema_text=schema_text(), code_version=code["schema_gen"]
                                    ).with_id(SCHEMA_GEN)
    # TFX's data validation, on the seeded samples of train and eval (its cost stays a
    # second or two at any size; components/statistics_gen/statistics.py).
    statistics_gen = SampleStatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        exclude_splits=[TRAIN, EVAL, GATE], code_version=code["statistics_gen"]
    ).with_id(STATISTICS_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(EXAMPLE_VALIDATOR)
    # The served version's training data against this run's (the latest push record is
    # there so that a new push re-runs it; components/drift_check/component.py).
    pushed = latest_push(tfx_strategies_only)
    drift_check = DriftCheck(
        statistics=statistics_gen.outputs["statistics"],
        latest_push=pushed.outputs[LATEST_PUSH],
        serving_dir=config.serving.serving_dir, model_name=config.serving.model_name,
        validation_config=config.validation.to_json(), code_version=code["drift_check"]
    ).with_id(DRIFT_CHECK)
    data_gate = DataGate(examples=example_gen.outputs["examples"],
                         anomalies=example_validator.outputs["anomalies"],
                         drift_anomalies=drift_check.outputs["drift_anomalies"],
                         validation_config=config.validation.to_json(),
                         code_version=code["data_gate"]).with_id(DATA_GATE)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        # Pre/post-transform statistics cost a pass over the data each and nothing reads them;
        # the Trainer applies the graph itself (components/transform/preprocessing.py).
        disable_statistics=True,
        materialize=False,
        # Nothing gives Transform an analyzer cache to read, so writing one is work for
        # nothing.
        disable_analyzer_cache=True,
        custom_config={CODE_VERSION_KEY: code["transform"]},
    ).with_id(TRANSFORM)
    # In its own process, in several local worker processes, or as a Vertex AI job.
    trainer = trainer_class(config.trainer)(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        # Epochs and early stopping come from the model config; Keras decides the steps.
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config={MODEL_CONFIG_KEY: config.model.to_json(),
                       CODE_VERSION_KEY: code["trainer"],
                       **placement_config(config.trainer, config.image)},
    ).with_id(TRAINER)
    trainer.add_upstream_node(data_gate)  # nothing is trained on data the gate refused
    # The baseline for the Evaluator's change thresholds: the latest blessed model, if any.
    latest_blessed = latest_blessed_baseline(trainer.outputs["model"], tfx_strategies_only)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        example_splits=[GATE],
        model=trainer.outputs["model"],
        baseline_model=latest_blessed.outputs["model"],
        eval_config=eval_config(config.gate, code_version=code["evaluator"]),
    ).with_id(EVALUATOR)
    servable_check = ServableCheck(model=trainer.outputs["model"],
                                   code_version=code["servable_check"]).with_id(SERVABLE_CHECK)
    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=servable_check.outputs["infra_blessing"],
        statistics=statistics_gen.outputs["statistics"],
        serving_dir=config.serving.serving_dir,
        model_name=config.serving.model_name,
        pipeline_root=config.pipeline_root,
        replace_unknown_version=int(config.serving.replace_unknown_version),
        code_version=code["pusher"],
    ).with_id(PUSHER)
    # The run's page; on the local runner, with each component's time from ML Metadata.
    run_report = RunReport(
        examples=example_gen.outputs["examples"], statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        drift_anomalies=drift_check.outputs["drift_anomalies"],
        model=trainer.outputs["model"], model_run=trainer.outputs["model_run"],
        evaluation=evaluator.outputs["evaluation"],
        infra_blessing=servable_check.outputs["infra_blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        pipeline_name=config.pipeline_name, data_source=config.data.source,
        validation_config=config.validation.to_json(), gate_config=config.gate.to_json(),
        top_k=config.model.top_k,
        metadata_path=metadata_connection_config.sqlite.filename_uri
        if metadata_connection_config is not None
        and metadata_connection_config.HasField("sqlite") else "",
        code_version=code["run_report"]).with_id(RUN_REPORT)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[example_gen, schema_gen, statistics_gen, example_validator, pushed,
                    drift_check, data_gate,
                    transform, trainer, latest_blessed, evaluator,
                    servable_check, pusher, run_report],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args,
    )
