"""Push records that the serving directory may have made stale, retired at the start of a
run so that TFX's cache does not reuse them and the Pusher decides again: a push whose
served version was removed since (the blessed model would not be served again), and a push
refused because the newest served version was no model of this root (that version may have
gone, or the user may now pass --replace-unknown-version)."""

from __future__ import annotations

from typing import List

from absl import logging
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from common import storage
from components.pusher.component import PUSHED_DESTINATION, REFUSED_VERSION

VANISHED = "vanished"  # PushedModel property: why the record was retired


def forget(store: metadata_store.MetadataStore) -> List[str]:
    """Retires (MARKED_FOR_DELETION) each live push record whose destination is gone, and
    each refusal over a served version of another root; returns the destinations gone."""
    gone = []
    for artifact in store.get_artifacts_by_type("PushedModel"):
        if artifact.state != metadata_store_pb2.Artifact.LIVE:
            continue
        properties = artifact.custom_properties
        if REFUSED_VERSION in properties:
            _retire(store, artifact, "a refusal over a served version of another root is "
                                     "decided again on each run")
            continue
        destination = properties[PUSHED_DESTINATION].string_value \
            if PUSHED_DESTINATION in properties else ""
        if not destination or storage.exists(destination):
            continue
        _retire(store, artifact, f"{destination} no longer exists")
        logging.warning("%s, pushed by an earlier run, no longer exists: the blessed model "
                        "will be pushed again", destination)
        gone.append(destination)
    return gone


def _retire(store: metadata_store.MetadataStore, artifact: metadata_store_pb2.Artifact,
            reason: str) -> None:
    artifact.state = metadata_store_pb2.Artifact.MARKED_FOR_DELETION
    artifact.custom_properties[VANISHED].string_value = reason
    store.put_artifacts([artifact])
