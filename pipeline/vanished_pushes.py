"""Pushes whose served version was removed since: TFX's cache would otherwise call them
done, and the blessed model would not be served again."""

from __future__ import annotations

from typing import List

from absl import logging
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import storage

VANISHED = "vanished"  # PushedModel property: why the record was retired


def forget(store: metadata_store.MetadataStore) -> List[str]:
    """Retires (MARKED_FOR_DELETION) each live push record whose destination is gone, so
    that the cache does not reuse it and the Pusher pushes the blessed model again; returns
    those destinations."""
    gone = []
    for artifact in store.get_artifacts_by_type("PushedModel"):
        properties = artifact.custom_properties
        destination = properties["pushed_destination"].string_value \
            if "pushed_destination" in properties else ""
        if (artifact.state != metadata_store_pb2.Artifact.LIVE or not destination
                or storage.exists(destination)):
            continue
        artifact.state = metadata_store_pb2.Artifact.MARKED_FOR_DELETION
        artifact.custom_properties[VANISHED].string_value = f"{destination} no longer exists"
        store.put_artifacts([artifact])
        logging.warning("%s, pushed by an earlier run, no longer exists: the blessed model "
                        "will be pushed again", destination)
        gone.append(destination)
    return gone
