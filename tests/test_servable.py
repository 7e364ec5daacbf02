"""The servable check before a push, on a small Keras 3 model saved the broken and the fixed way.

`tf.saved_model.save` of a tf.Module holding a Keras 3 layer is the defect TF Serving users
hit ("Could not find variable ..."): the TF2 loader runs it, the session loader does not.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.utils import path_utils

from common import storage
from components.pusher import component as pusher
from components.servable_check import component as servable_check
from serving import servable
from trainer import export, warmup


class Scorer(tf.Module):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones")
        self.dense.build((None, 2))

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def score(self, x):
        return {"y": self.dense(x)[:, 0]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
    def echo(self, word):
        return {"word": word}


def _save(path, fixed, requests=(("score", {"x": np.ones((1, 2), np.float32)}),
                                 ("echo", {"word": [b"a"]}))):
    module = Scorer()
    signatures = {"score": module.score, "echo": module.echo}
    if fixed:
        export.save(module, path, signatures)
    else:
        tf.saved_model.save(module, path, signatures=signatures)
    extra = os.path.join(path, "assets.extra")
    os.makedirs(extra)
    warmup.write(extra, requests)
    return path


def test_a_keras_3_model_saved_plainly_is_refused_with_the_cause(tmp_path):
    path = _save(str(tmp_path / "plain"), fixed=False)
    assert tf.saved_model.load(path).signatures["score"](
        x=tf.ones((1, 2)))["y"].numpy() == pytest.approx([3.0])  # the TF2 loader is fooled
    with pytest.raises(servable.NotServable,
                       match=r"warm-up request 1 \(score\) fails: .*Could not find variable"):
        servable.check(path)


def test_the_same_model_saved_by_export_save_passes(tmp_path):
    servable.check(_save(str(tmp_path / "fixed"), fixed=True))


def test_a_failing_warmup_request_is_named(tmp_path):
    path = _save(str(tmp_path / "m"), fixed=True, requests=[
        ("echo", {"word": [b"a"]}), ("score", {"x": np.ones((1, 3), np.float32)})])
    with pytest.raises(servable.NotServable, match=r"warm-up request 2 \(score\) fails"):
        servable.check(path)


def test_every_signature_needs_a_warmup_request(tmp_path):
    path = _save(str(tmp_path / "m"), fixed=True, requests=[("echo", {"word": [b"a"]})])
    with pytest.raises(servable.NotServable, match="no warm-up request for signature.* score"):
        servable.check(path)


def test_a_model_without_warmup_file_is_refused(tmp_path):
    path = _save(str(tmp_path / "m"), fixed=True)
    os.remove(os.path.join(path, servable.WARMUP_PATH))
    with pytest.raises(servable.NotServable, match="tf_serving_warmup_requests is missing"):
        servable.check(path)


def test_more_warmup_records_than_tf_serving_allows_are_refused(tmp_path):
    path = _save(str(tmp_path / "m"), fixed=True,
                 requests=[("echo", {"word": [b"a"]})] * (servable.MAX_WARMUP_RECORDS + 1))
    with pytest.raises(servable.NotServable, match="1001 records; TF Serving allows 1000"):
        servable.check(path)


def _trainer_output(folder, fixed):
    model_uri = folder / ("fixed" if fixed else "plain")
    _save(path_utils.serving_model_path(str(model_uri)), fixed=fixed)
    return str(model_uri)


def test_the_check_blesses_a_servable_model_and_names_what_fails_in_another(tmp_path):
    assert servable_check.verdict(_trainer_output(tmp_path, fixed=True)) == (
        True, servable_check.SERVABLE)
    ok, reason = servable_check.verdict(_trainer_output(tmp_path, fixed=False))
    assert not ok and reason.startswith("warm-up request") and "\n" not in reason


def test_a_blessed_but_unservable_model_is_never_pushed(tmp_path):
    serving = str(tmp_path / "serving")
    fixed, plain = (_trainer_output(tmp_path, fixed) for fixed in (True, False))
    pushed = pusher.push_if_blessed_and_servable(fixed, True, serving, "m", "/root")
    assert pushed.destination == os.path.join(serving, "m", "1")
    _, reason = servable_check.verdict(plain)
    refused = pusher.push_if_blessed_and_servable(plain, True, serving, "m", "/root",
                                                  not_servable=reason)
    assert refused.destination is None
    assert refused.reason.startswith("not servable by TF Serving, nothing pushed: warm-up")
    assert "\n" not in refused.reason
    assert storage.versions(os.path.join(serving, "m")) == [1]


def test_an_unblessed_model_is_not_checked_nor_pushed(tmp_path):
    outcome = pusher.push_if_blessed_and_servable(str(tmp_path / "absent"), False,
                                                  str(tmp_path / "serving"), "m", "/root")
    assert outcome.destination is None and "not blessed" in outcome.reason
    assert not os.path.exists(tmp_path / "serving")


def test_a_push_over_another_roots_served_version_is_refused_unless_asked(tmp_path):
    serving = str(tmp_path / "serving")
    mine = _trainer_output(tmp_path / "a", fixed=True)
    assert pusher.push_if_blessed_and_servable(mine, True, serving, "m", "/roots/a").destination
    theirs = _trainer_output(tmp_path / "b", fixed=True)
    refused = pusher.push_if_blessed_and_servable(theirs, True, serving, "m", "/roots/b")
    served = os.path.join(serving, "m", "1")
    assert refused.destination is None and refused.refused_version == served
    assert refused.reason == (
        f"nothing pushed: the newest served version, {served}, was pushed from the pipeline "
        "root /roots/a, not this one (/roots/b): this pipeline's gate never compared a model "
        "with it. Run with the --pipeline-root that pushed it, or pass "
        "--replace-unknown-version to replace it without that comparison")
    replaced = pusher.push_if_blessed_and_servable(theirs, True, serving, "m", "/roots/b",
                                                   replace_unknown_version=True)
    assert replaced.destination == os.path.join(serving, "m", "2")
