"""Runs the pipeline on this machine: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from common import run_record
from components.resolver.strategy import RESOLVER_IDS, training_data
from pipeline import portable_beam, run_lock, vanished_pushes
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """What one component did in a pipeline run, read back from ML Metadata."""

    component: str
    cached: bool
    outputs: Dict[str, str]  # output name -> artifact URI
    properties: Dict[str, Dict[str, Any]]  # output name -> its custom properties
    seconds: float  # wall time, from ML Metadata's record of the execution
    started: float  # seconds since 1970, when the execution was recorded as started


def metadata_config(config: PipelineConfig) -> metadata_store_pb2.ConnectionConfig:
    """The connection config of the pipeline root's SQLite ML Metadata."""
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)


def run(config: PipelineConfig) -> List[ComponentRun]:
    """Runs the pipeline to completion and returns what each component of this run did.
    Raises run_lock.RootInUse at once if another run holds the pipeline root."""
    with run_lock.held(config.pipeline_root):
        vanished_pushes.forget(metadata_store.MetadataStore(metadata_config(config)))
        if config.beam_runner == "portable":
            with portable_beam.services() as beam_args:
                _run(dataclasses.replace(
                    config, beam_runner="direct",
                    extra_beam_args=config.extra_beam_args + tuple(beam_args)))
        else:
            _run(config)
        return latest_run(config)


def _run(config: PipelineConfig) -> None:
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(config, metadata_connection_config=metadata_config(config)))


def latest_run(config: PipelineConfig) -> List[ComponentRun]:
    """What each component of the latest pipeline run did, in the order they started, read
    back from ML Metadata."""
    store = metadata_store.MetadataStore(metadata_config(config))
    summary = []
    for node, execution in run_record.latest_executions(store):
        outputs, properties = {}, {}
        events = store.get_events_by_execution_ids([execution.id])
        output_events = [e for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        artifacts = {a.id: a for a in store.get_artifacts_by_id(
            [e.artifact_id for e in output_events])}
        for event in output_events:
            artifact = artifacts[event.artifact_id]
            outputs[event.path.steps[0].key] = artifact.uri
            properties[event.path.steps[0].key] = run_record.properties(artifact)
        summary.append(ComponentRun(
            component=node,
            cached=execution.last_known_state == metadata_store_pb2.Execution.CACHED,
            outputs=outputs,
            properties=properties,
            seconds=run_record.seconds(execution),
            started=execution.create_time_since_epoch / 1000.0,
        ))
    return summary


def unfair_latest_blessed(config: PipelineConfig, candidate_uri: str) -> Optional[str]:
    """When the latest blessed model other than the candidate was trained on other data or
    another split (so the resolver left it out, components/resolver/strategy.py): one clause saying
    so, naming both; else None."""
    store = metadata_store.MetadataStore(metadata_config(config))
    blessed = [int(b.custom_properties["current_model_id"].int_value)
               for b in store.get_artifacts_by_type("ModelBlessing")
               if b.custom_properties["blessed"].int_value == 1]
    candidate = [m.id for m in store.get_artifacts_by_uri(candidate_uri)]
    others = [model_id for model_id in blessed if model_id not in candidate]
    if not candidate or not others:
        return None
    latest = max(others)
    theirs, ours = (training_data(store, model_id) or "data ML Metadata does not record"
                    for model_id in (latest, candidate[0]))
    if theirs == ours:
        return None
    [model] = store.get_artifacts_by_id([latest])
    return (f"the latest blessed model ({model.uri}) was trained on {theirs}, this candidate "
            f"on {ours}: no fair comparison, so it was left out")


def cancel_interrupted(config: PipelineConfig) -> Tuple[List[str], List[str]]:
    """After an interrupt: marks the latest run's RUNNING executions CANCELED (TFX leaves
    them RUNNING; their outputs were never published, so no later run can use them) and
    returns (the components that were stopped, those that had completed)."""
    store = metadata_store.MetadataStore(metadata_config(config))
    stopped, done = [], []
    for node, execution in run_record.latest_executions(store):
        if execution.last_known_state == metadata_store_pb2.Execution.RUNNING:
            execution.last_known_state = metadata_store_pb2.Execution.CANCELED
            store.put_executions([execution])
            stopped.append(node)
        elif execution.last_known_state in (metadata_store_pb2.Execution.COMPLETE,
                                            metadata_store_pb2.Execution.CACHED) and \
                node not in RESOLVER_IDS:  # not reused: resolved anew each run
            done.append(node)
    return stopped, done


def failed_components(config: PipelineConfig) -> List[str]:
    """The components whose execution failed in the latest run."""
    store = metadata_store.MetadataStore(metadata_config(config))
    return [node for node, execution in run_record.latest_executions(store)
            if execution.last_known_state == metadata_store_pb2.Execution.FAILED]
