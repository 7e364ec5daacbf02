"""VersionedPusher: copies a blessed model into TF Serving's layout, atomically.

`<serving_dir>/<model_name>/<version>/` with version = the largest existing version + 1, so
versions only increase whatever the clocks say. On a local file system the model is copied
into a hidden temporary directory beside the versions and renamed into place in one step, so
TF Serving (which only loads directories named by an integer) never sees a half-written
version. Object stores (gs://, s3://) have no atomic directory rename: there the files are
copied with `saved_model.pb` last, and TF Serving cannot load (and retries) a version until
that file is there. A model without a blessing, or one that TF Serving could not load and
warm up (serving/servable.py), leaves the serving directory untouched; so does one whose
newest served version is no model of this pipeline root (the Evaluator compared the candidate
with this root's latest blessed model, not with that version), unless asked to replace it.
"""

import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
import uuid
from typing import Iterator, Optional

import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from components import storage
from serving import servable

SERVING_SUBDIR = "Format-Serving"  # where the Trainer writes the serving SavedModel
PUSH_OUTCOME = "push_outcome"  # PushedModel property: why it was or was not pushed
# PushedModel property: the served version a push was refused over (no model of this root).
# The refusal depends on the serving directory, not on the inputs: pipeline/vanished_pushes.py
# retires such records at the start of a run, so the Pusher decides again.
REFUSED_VERSION = "refused_version"


def next_version(model_dir: str) -> int:
    return max(storage.versions(model_dir), default=0) + 1


class UnknownServedVersion(Exception):
    """The newest served version is no model of this pipeline root: the candidate was never
    compared with the model it would replace."""


def _same_model(one: str, other: str) -> bool:
    """Whether two SavedModel folders hold the same model: the same graph and the same
    variables index (which holds a checksum of every variable's bytes)."""
    for name in ("variables/variables.index", storage.GRAPH_FILE):
        paths = [os.path.join(one, name), os.path.join(other, name)]
        if not all(tf.io.gfile.exists(path) for path in paths):
            return False
        if len({tf.io.gfile.stat(path).length for path in paths}) > 1:
            return False
        contents = []
        for path in paths:
            with tf.io.gfile.GFile(path, "rb") as stream:
                contents.append(stream.read())
        if contents[0] != contents[1]:
            return False
    return True


def _check_newest_is_own(model_dir: str, own_models: str) -> None:
    """Raises UnknownServedVersion unless the newest version under `model_dir` (if any) is
    one of the models under `own_models` (this root's Trainer outputs, <id>/Format-Serving)."""
    newest = max(storage.versions(model_dir), default=None)
    if newest is None:
        return
    served = os.path.join(model_dir, str(newest))
    for execution in tf.io.gfile.listdir(own_models):
        if _same_model(os.path.join(own_models, execution.rstrip("/"), SERVING_SUBDIR), served):
            return
    raise UnknownServedVersion(served)


def _push_to_object_store(source: str, model_dir: str) -> str:
    """One writer per model directory: object stores have no lock (README). A failed copy
    removes what it wrote, so no version without its graph is left to count."""
    target = os.path.join(model_dir, str(next_version(model_dir)))
    files = [os.path.relpath(path, source) for path in storage.files_under(source)]
    try:
        for relative in sorted(files, key=lambda f: f == storage.GRAPH_FILE):  # graph last
            destination = os.path.join(target, relative)
            tf.io.gfile.makedirs(os.path.dirname(destination))
            tf.io.gfile.copy(os.path.join(source, relative), destination)
    except BaseException:
        if tf.io.gfile.exists(target):
            tf.io.gfile.rmtree(target)
        raise
    return target


STAGING_PREFIX = ".incoming-"  # <prefix><pid>-<random>: a copy not yet renamed into place
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"([0-9]+)-[0-9a-f]+")
LOCK_FILE = ".push.lock"


@contextlib.contextmanager
def _locked(model_dir: str) -> Iterator[None]:
    """Holds an exclusive lock on the model directory: pushes from any process on this
    machine take their version numbers one at a time. The kernel releases it when its
    holder dies, even by SIGKILL."""
    with open(os.path.join(model_dir, LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_abandoned_copies(model_dir: str) -> None:
    """Removes the staging copies of pushes whose process is gone (killed mid-copy)."""
    for name in os.listdir(model_dir):
        staged = _STAGING.fullmatch(name)
        if staged and not _alive(int(staged.group(1))):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def push(source: str, serving_dir: str, model_name: str, own_models: Optional[str] = None
         ) -> str:
    """Copies the SavedModel at `source` to the next version; returns the version's path.
    Locally the copy goes to a staging directory renamed into place under the lock, so no
    two pushes take one number and TF Serving never sees a half-written version.

    With `own_models` (the folder of this pipeline root's Trainer models), the push is
    refused (UnknownServedVersion) when the newest served version is none of them; locally
    that check is made under the lock, so two pipelines cannot both pass it."""
    model_dir = os.path.join(serving_dir, model_name)
    if storage.is_url(serving_dir):
        tf.io.gfile.makedirs(model_dir)
        if own_models:
            _check_newest_is_own(model_dir, own_models)
        return _push_to_object_store(source, model_dir)
    os.makedirs(model_dir, exist_ok=True)
    staging = os.path.join(model_dir, f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        shutil.copytree(source, staging)
        with _locked(model_dir):
            _remove_abandoned_copies(model_dir)
            if own_models:
                _check_newest_is_own(model_dir, own_models)
            target = os.path.join(model_dir, str(next_version(model_dir)))
            os.rename(staging, target)  # atomic
            return target
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)


@dataclasses.dataclass(frozen=True)
class PushOutcome:
    destination: Optional[str]  # the version's path; None when nothing was pushed
    reason: str  # one line for the run's summary
    refused_version: str = ""  # the served version that was not this root's (refused)


def push_if_blessed_and_servable(model_uri: str, blessed: bool, serving_dir: str,
                                 model_name: str, replace_unknown_version: bool = False
                                 ) -> PushOutcome:
    """Pushes the Trainer's serving model only if it is blessed, TF Serving can serve it,
    and the newest served version is one of this pipeline root's models (the one the
    candidate was compared with), unless `replace_unknown_version`."""
    source = os.path.join(model_uri, SERVING_SUBDIR)
    if not blessed:
        return PushOutcome(None, "not blessed by the Evaluator; nothing pushed")
    try:
        servable.check(source)
    except servable.NotServable as error:
        return PushOutcome(None, f"not servable by TF Serving, nothing pushed: {error}")
    own_models = None if replace_unknown_version else os.path.dirname(model_uri.rstrip("/"))
    try:
        return PushOutcome(push(source, serving_dir, model_name, own_models),
                           "blessed and servable")
    except UnknownServedVersion as unknown:
        return PushOutcome(None, (
            f"nothing pushed: the newest served version, {unknown.args[0]}, is no model of "
            "this pipeline root, so the candidate was never compared with the model it would "
            "replace. Run with the --pipeline-root that pushed it, or pass "
            "--replace-unknown-version to replace it without that comparison"),
            refused_version=unknown.args[0])


@tfx.dsl.components.component
def VersionedPusher(
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.OutputArtifact[standard_artifacts.PushedModel],
    serving_dir: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
    replace_unknown_version: tfx.dsl.components.Parameter[int] = 0,
) -> None:
    outcome = push_if_blessed_and_servable(
        model.uri, bool(model_blessing.get_int_custom_property("blessed")), serving_dir,
        model_name, bool(replace_unknown_version))
    pushed_model.set_string_custom_property(PUSH_OUTCOME, outcome.reason)
    if outcome.refused_version:
        pushed_model.set_string_custom_property(REFUSED_VERSION, outcome.refused_version)
    pushed_model.set_int_custom_property("pushed", int(outcome.destination is not None))
    if outcome.destination is None:
        print(f"VersionedPusher: model {model.uri}: {outcome.reason}")
        return
    pushed_model.set_string_custom_property("pushed_destination", outcome.destination)
    pushed_model.set_int_custom_property("pushed_version",
                                         int(os.path.basename(outcome.destination)))
    print(f"VersionedPusher: pushed {model.uri} to {outcome.destination}")
