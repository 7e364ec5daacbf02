"""A push record whose served version is gone is retired, so the cache cannot skip the push
(ML Metadata's own in-memory store)."""

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.pusher.component import REFUSED_VERSION
from pipeline import vanished_pushes

LIVE = metadata_store_pb2.Artifact.LIVE


def _store_with(*destinations):
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    store = metadata_store.MetadataStore(config)
    type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="PushedModel"))
    for i, destination in enumerate(destinations):
        artifact = metadata_store_pb2.Artifact(type_id=type_id, uri=f"/root/push/{i}", state=LIVE)
        if destination is not None:
            artifact.custom_properties["pushed_destination"].string_value = destination
        store.put_artifacts([artifact])
    return store


def test_only_the_records_of_removed_versions_are_retired(tmp_path):
    kept = tmp_path / "serving" / "movielens" / "1"
    kept.mkdir(parents=True)
    gone = str(tmp_path / "moved" / "movielens" / "1")
    store = _store_with(str(kept), gone, None)  # None: a refused push, no destination
    assert vanished_pushes.forget(store) == [gone]
    states = {a.uri: a.state for a in store.get_artifacts_by_type("PushedModel")}
    assert states == {"/root/push/0": LIVE, "/root/push/2": LIVE,
                      "/root/push/1": metadata_store_pb2.Artifact.MARKED_FOR_DELETION}
    retired = next(a for a in store.get_artifacts_by_type("PushedModel") if a.uri == "/root/push/1")
    assert retired.custom_properties[vanished_pushes.VANISHED].string_value.startswith(gone)
    assert vanished_pushes.forget(store) == []  # once


def test_a_store_without_pushes_is_left_alone():
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    assert vanished_pushes.forget(metadata_store.MetadataStore(config)) == []


def test_a_refusal_over_another_roots_version_is_decided_again_on_each_run():
    store = _store_with(None, None)  # two refused pushes: one for not being blessed
    refused = next(a for a in store.get_artifacts_by_type("PushedModel")
                   if a.uri == "/root/push/1")
    refused.custom_properties[REFUSED_VERSION].string_value = "/serving/movielens/3"
    store.put_artifacts([refused])
    assert vanished_pushes.forget(store) == []  # no destination was gone
    states = {a.uri: a.state for a in store.get_artifacts_by_type("PushedModel")}
    assert states == {"/root/push/0": LIVE,
                      "/root/push/1": metadata_store_pb2.Artifact.MARKED_FOR_DELETION}
