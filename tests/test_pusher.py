import os

import pytest

from components import pusher


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
    assert sorted(os.listdir(os.path.join(serving, "movielens"))) == ["1", "2"]
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
    assert os.listdir(os.path.join(serving, "movielens")) == ["1"]


def test_object_stores_get_every_file_with_the_graph_written_last(tmp_path, monkeypatch):
    import tensorflow as tf

    source = _model(tmp_path)
    (tmp_path / "model" / "variables" / "variables.index").write_bytes(b"index")
    copied = []
    real_copy = tf.io.gfile.copy
    monkeypatch.setattr(tf.io.gfile, "copy",
                        lambda src, dst, *a, **k: (copied.append(os.path.basename(dst)),
                                                   real_copy(src, dst, *a, **k)))
    serving = f"ram://{tmp_path.name}/serving"  # TensorFlow's in-memory file system
    first = pusher.push(source, serving, "movielens")
    second = pusher.push(source, serving, "movielens")
    assert (first, second) == (f"{serving}/movielens/1", f"{serving}/movielens/2")
    assert copied == ["variables.index", "saved_model.pb"] * 2
    assert tf.io.gfile.GFile(f"{second}/saved_model.pb", "rb").read() == b"graph"
