"""What ML Metadata records of the latest pipeline run: each component's execution, in the
order they started. The local runner reads it after a run; the RunReport reads it during one
(its own execution is then the one still running)."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

Execution = metadata_store_pb2.Execution
STATES = {Execution.COMPLETE: "ran", Execution.CACHED: "cached", Execution.FAILED: "failed",
          Execution.RUNNING: "running", Execution.CANCELED: "canceled"}


def latest_executions(store: metadata_store.MetadataStore
                      ) -> List[Tuple[str, metadata_store_pb2.Execution]]:
    """(component, execution) of the latest pipeline run, in the order they started."""
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return []
    latest = max(runs, key=lambda context: context.create_time_since_epoch)
    return [(next(c for c in store.get_contexts_by_execution(execution.id)
                  if c.type == "node").name.split(".", 1)[-1], execution)
            for execution in sorted(store.get_executions_by_context(latest.id),
                                    key=lambda e: e.id)]


def seconds(execution: metadata_store_pb2.Execution) -> float:
    """An execution's wall time, from its record's creation to its last update."""
    return (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0


def state(execution: metadata_store_pb2.Execution) -> str:
    """ran, cached, failed, running or canceled."""
    return STATES.get(execution.last_known_state, "unknown")


def properties(artifact: metadata_store_pb2.Artifact) -> Dict[str, Any]:
    """An artifact's custom properties as plain values (int, float or str)."""
    return {key: getattr(value, value.WhichOneof("value"))
            for key, value in artifact.custom_properties.items() if value.WhichOneof("value")}
