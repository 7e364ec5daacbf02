import os

import pytest

from common import storage
from components.pusher import component as pusher
from tests import faults


def _model(tmp_path, name="model"):
    source = tmp_path / name
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"graph")
    return str(source)


def test_versions_increase_and_nothing_half_written_is_left(tmp_path):
    serving = str(tmp_path / "serving")
    first = pusher.push(_model(tmp_path), serving, "movielens")
    second = pusher.push(_model(tmp_path, "retrained"), serving, "movielens")
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    assert sorted(os.listdir(os.path.join(serving, "movielens"))) == [pusher.LOCK_FILE, "1", "2"]
    with open(os.path.join(second, "saved_model.pb"), "rb") as copied:
        assert copied.read() == b"graph"


def test_next_version_skips_past_the_largest_and_ignores_other_entries(tmp_path):
    for name in ("3", "10", ".incoming-x", "notes"):
        (tmp_path / name).mkdir()
    assert pusher.next_version(str(tmp_path)) == 11


def test_a_failed_copy_leaves_the_serving_directory_as_it_was(tmp_path):
    serving = str(tmp_path / "serving")
    pusher.push(_model(tmp_path), serving, "movielens")
    with pytest.raises(OSError):
        pusher.push(str(tmp_path / "missing"), serving, "movielens")
    assert sorted(os.listdir(os.path.join(serving, "movielens"))) == [pusher.LOCK_FILE, "1"]


def test_object_stores_get_every_file_with_the_graph_written_last(tmp_path, monkeypatch):
    import tensorflow as tf

    source = _model(tmp_path)
    (tmp_path / "model" / "variables" / "variables.index").write_bytes(b"index")
    copied = []
    real_copy = tf.io.gfile.copy
    monkeypatch.setattr(tf.io.gfile, "copy",
                        lambda src, dst, *a, **k: (copied.append(os.path.basename(dst)),
                                                   real_copy(src, dst, *a, **k)))
    retrained = _model(tmp_path, "retrained")
    (tmp_path / "retrained" / "variables" / "variables.index").write_bytes(b"other index")
    serving = f"ram://{tmp_path.name}/serving"  # TensorFlow's in-memory file system
    first = pusher.push(source, serving, "movielens", "/roots/a")
    second = pusher.push(retrained, serving, "movielens", "/roots/a")
    assert (first, second) == (f"{serving}/movielens/1", f"{serving}/movielens/2")
    assert copied == ["variables.index", "saved_model.pb"] * 2
    assert tf.io.gfile.GFile(f"{second}/saved_model.pb", "rb").read() == b"graph"
    assert pusher._pushed_from(second) == "/roots/a"  # written before the graph
    assert pusher.push(retrained, serving, "movielens", "/roots/a") == second  # served


def test_a_copy_failing_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    """An OSError from the file layer (a full disk) on the second file: the served versions
    are as they were, and no staging copy is left."""
    import shutil

    serving = str(tmp_path / "serving")
    pusher.push(_model(tmp_path), serving, "movielens")
    source = _model(tmp_path, "retrained")
    (tmp_path / "retrained" / "variables" / "variables.index").write_bytes(b"index")
    failing_copy = faults.full_disk_on_call(shutil.copyfile, 2)
    monkeypatch.setattr(shutil, "copyfile", failing_copy)
    with pytest.raises(shutil.Error, match="No space left on device"):
        pusher.push(source, serving, "movielens")
    assert len(failing_copy.calls) == 2
    assert sorted(os.listdir(os.path.join(serving, "movielens"))) == [pusher.LOCK_FILE, "1"]


def test_an_object_store_copy_failing_half_way_removes_the_partial_version(tmp_path,
                                                                          monkeypatch):
    import tensorflow as tf

    source = _model(tmp_path)
    (tmp_path / "model" / "variables" / "variables.index").write_bytes(b"index")
    serving = f"ram://{tmp_path.name}/failing"

    def failing_copy(src, dst, *args, **kwargs):
        if dst.endswith("saved_model.pb"):
            raise tf.errors.UnavailableError(None, None, "connection reset")
        return real_copy(src, dst, *args, **kwargs)

    real_copy = tf.io.gfile.copy
    monkeypatch.setattr(tf.io.gfile, "copy", failing_copy)
    with pytest.raises(tf.errors.UnavailableError):
        pusher.push(source, serving, "movielens")
    assert not tf.io.gfile.exists(f"{serving}/movielens/1")
    monkeypatch.setattr(tf.io.gfile, "copy", real_copy)
    assert pusher.push(source, serving, "movielens") == f"{serving}/movielens/1"


def _push_many(source, serving, count):
    return [pusher.push(source, serving, "movielens") for _ in range(count)]


def test_two_processes_pushing_to_one_directory_never_share_a_version(tmp_path):
    import multiprocessing

    source, serving = _model(tmp_path), str(tmp_path / "serving")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pushed = pool.starmap(_push_many, [(source, serving, 10)] * 2)
    numbers = sorted(int(os.path.basename(path)) for paths in pushed for path in paths)
    assert numbers == list(range(1, 21))
    for number in numbers:
        with open(os.path.join(serving, "movielens", str(number), "saved_model.pb"), "rb") as f:
            assert f.read() == b"graph"


def test_the_staging_copy_of_a_killed_push_is_removed_by_the_next(tmp_path):
    import subprocess
    import sys

    serving = str(tmp_path / "serving")
    model_dir = os.path.join(serving, "movielens")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(os.path.join(model_dir, f"{pusher.STAGING_PREFIX}{dead}-abc", "variables"))
    live = os.path.join(model_dir, f"{pusher.STAGING_PREFIX}{os.getpid()}-def")
    os.makedirs(live)  # a push of a process still running: left alone
    pusher.push(_model(tmp_path), serving, "movielens")
    assert sorted(os.listdir(model_dir)) == sorted(["1", pusher.LOCK_FILE, os.path.basename(live)])


def _model_with_weights(tmp_path, name, index):
    source = _model(tmp_path, name)
    (tmp_path / name / "variables" / "variables.index").write_bytes(index)
    return source


def test_a_served_version_of_another_root_is_not_replaced_unless_asked(tmp_path):
    serving = str(tmp_path / "serving")
    model_dir = os.path.join(serving, "movielens")
    mine = _model_with_weights(tmp_path, "mine", b"weights 1")
    assert pusher.push(mine, serving, "movielens", "/roots/a").endswith("/1")  # none served
    retrained = _model_with_weights(tmp_path, "retrained", b"weights 2")
    assert pusher.push(retrained, serving, "movielens", "/roots/a").endswith("/2")  # 1 is a's
    theirs = _model_with_weights(tmp_path, "theirs", b"weights 3")
    with pytest.raises(pusher.UnknownServedVersion) as refused:
        pusher.push(theirs, serving, "movielens", "/roots/b")
    assert refused.value.args == (f"{model_dir}/2", "was pushed from the pipeline root /roots/a")
    assert sorted(os.listdir(model_dir)) == [pusher.LOCK_FILE, "1", "2"]  # no staging left
    assert pusher.push(theirs, serving, "movielens", "/roots/b",
                       replace_unknown_version=True).endswith("/3")
    # Asked again without the flag: version 3 is b's own and the same model, so no version 4.
    assert pusher.push(theirs, serving, "movielens", "/roots/b").endswith("/3")
    assert storage.versions(model_dir) == [1, 2, 3]


def test_a_version_that_records_no_root_is_named_so(tmp_path):
    model_dir = tmp_path / "serving" / "movielens"
    (model_dir / "7").mkdir(parents=True)
    (model_dir / "7" / "saved_model.pb").write_bytes(b"copied by hand")
    (model_dir / "8").mkdir()  # incomplete (no graph): TF Serving serves 7
    with pytest.raises(pusher.UnknownServedVersion) as refused:
        pusher.push(_model(tmp_path), str(tmp_path / "serving"), "movielens", "/roots/a")
    assert refused.value.args == (f"{model_dir}/7", "records no pipeline root that pushed it")
