"""VersionedPusher: copies a blessed model into TF Serving's layout, atomically.

`<serving_dir>/<model_name>/<version>/` with version = the largest existing version + 1, so
versions only increase whatever the clocks say. On a local file system the model is copied
into a hidden temporary directory beside the versions and renamed into place in one step, so
TF Serving (which only loads directories named by an integer) never sees a half-written
version. Object stores (gs://, s3://) have no atomic directory rename: there the files are
copied with `saved_model.pb` last, and TF Serving cannot load (and retries) a version until
that file is there. A model without a blessing, or one that TF Serving could not load and
warm up (serving/servable.py), leaves the serving directory untouched; so does one whose
newest served version was pushed from another pipeline root (this root's gate never compared
a model with it; each version records its root in assets.extra/pushed_from.json), unless
asked to replace it. Each version also holds the statistics of its training data
(assets.extra/training_statistics.pb), which later runs measure drift against. A model
already served as the newest version is not pushed twice.
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import uuid
from typing import Any, Iterator, Mapping, Optional

import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.statistics_gen.executor import DEFAULT_FILE_NAME as STATISTICS_FILE
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

from common import storage
from components.example_gen.layout import TRAIN_SAMPLE
from components.servable_check import component as servable_check
from serving import contract

PUSH_OUTCOME = "push_outcome"  # PushedModel property: why it was or was not pushed
# PushedModel property: the served version a push was refused over (no model of this root).
# The refusal depends on the serving directory, not on the inputs: pipeline/vanished_pushes.py
# retires such records at the start of a run, so the Pusher decides again.
REFUSED_VERSION = "refused_version"
# The Pusher's output (VersionedPusher's parameter of that name) and its other properties.
PUSHED_MODEL = "pushed_model"
PUSHED = "pushed"  # 1 if a version was pushed
PUSHED_DESTINATION = "pushed_destination"  # the version's directory
PUSHED_VERSION = "pushed_version"  # its number


def next_version(model_dir: str) -> int:
    """The number of the next version under `model_dir`: the largest there + 1, or 1."""
    return max(storage.versions(model_dir), default=0) + 1


class UnknownServedVersion(Exception):
    """The newest served version was not pushed from this pipeline root: this root's gate
    never compared a model with it. args: (the version's path, what it says of its origin)."""


# In each pushed version: which pipeline root pushed it, and from which model. TF Serving
# reads only the warm-up file of assets.extra/.
PUSHED_FROM = os.path.join(contract.ASSETS_EXTRA, "pushed_from.json")


def _mark(version: str, pipeline_root: str, model_uri: str,
          training_statistics: Optional[str]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(version, PUSHED_FROM)))
    with tf.io.gfile.GFile(os.path.join(version, PUSHED_FROM), "w") as out:
        json.dump({"pipeline_root": pipeline_root, "model": model_uri}, out)
    if training_statistics:
        tf.io.gfile.copy(training_statistics, os.path.join(
            version, contract.ASSETS_EXTRA, contract.TRAINING_STATISTICS_FILE), overwrite=True)


def _pushed_from(version: str) -> Optional[str]:
    """The pipeline root recorded in a served version; None when it records none."""
    path = os.path.join(version, PUSHED_FROM)
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path, "r") as stream:
            return str(json.load(stream)["pipeline_root"])
    except (ValueError, KeyError, TypeError):
        return None


def _same_model(one: str, other: str) -> bool:
    """Whether two SavedModel folders hold the same model: the same graph and the same
    variables index (which holds a checksum of every variable's bytes)."""
    for name in ("variables/variables.index", storage.GRAPH_FILE):
        paths = [os.path.join(one, name), os.path.join(other, name)]
        if not all(tf.io.gfile.exists(path) for path in paths):
            return False
        contents = []
        for path in paths:
            with tf.io.gfile.GFile(path, "rb") as stream:
                contents.append(stream.read())
        if contents[0] != contents[1]:
            return False
    return True


def _check_newest_is_own(newest: Optional[str], pipeline_root: str) -> None:
    """Raises UnknownServedVersion unless the newest served version (if any) was pushed from
    `pipeline_root`."""
    if newest is None:
        return
    origin = _pushed_from(newest)
    if origin != pipeline_root:
        raise UnknownServedVersion(newest, f"was pushed from the pipeline root {origin}"
                                   if origin else "records no pipeline root that pushed it")


def _push_to_object_store(source: str, model_dir: str, mark) -> str:
    """One writer per model directory: object stores have no lock (docs/gate-and-push.md).
    The graph is copied last, after the push's record; a failed copy removes what it wrote,
    so no version without its graph is left to count."""
    target = os.path.join(model_dir, str(next_version(model_dir)))
    files = [os.path.relpath(path, source) for path in storage.files_under(source)]
    try:
        for relative in sorted(files, key=lambda f: f == storage.GRAPH_FILE):  # graph last
            if relative == storage.GRAPH_FILE:
                mark(target)
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


def push(source: str, serving_dir: str, model_name: str, pipeline_root: str = "",
         replace_unknown_version: bool = False, training_statistics: Optional[str] = None
         ) -> str:
    """Copies the SavedModel at `source` to the next version, recording `pipeline_root` and
    the `training_statistics` file in it; returns the version's path. When the newest served
    version already holds this model, nothing is copied and that version is returned.
    Locally the copy goes to a staging directory renamed into place under the lock, so no two
    pushes take one number and TF Serving never sees a half-written version.

    Unless `replace_unknown_version`, a newest served version pushed from another root (or
    recording none) is not replaced (UnknownServedVersion); locally that check is made under
    the lock, so two pipelines cannot both pass it."""
    model_dir = os.path.join(serving_dir, model_name)
    mark = lambda version: _mark(version, pipeline_root, source,  # noqa: E731
                                 training_statistics)

    def decide() -> Optional[str]:
        newest = storage.newest_complete_version(model_dir)
        if newest is not None and _same_model(source, newest):
            return newest
        if not replace_unknown_version:
            _check_newest_is_own(newest, pipeline_root)
        return None

    if storage.is_url(serving_dir):
        tf.io.gfile.makedirs(model_dir)
        return decide() or _push_to_object_store(source, model_dir, mark)
    os.makedirs(model_dir, exist_ok=True)
    staging = os.path.join(model_dir, f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        shutil.copytree(source, staging)
        mark(staging)
        with _locked(model_dir):
            _remove_abandoned_copies(model_dir)
            served = decide()
            if served:
                return served
            target = os.path.join(model_dir, str(next_version(model_dir)))
            os.rename(staging, target)  # atomic
            return target
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)


@dataclasses.dataclass(frozen=True)
class PushOutcome:
    """What a push did: the version's path (None when nothing was pushed), the reason, and the
    served version it refused, if any."""

    destination: Optional[str]  # the version's path; None when nothing was pushed
    reason: str  # one line for the run's summary
    refused_version: str = ""  # the served version that was not this root's (refused)


def recorded_outcome(properties: Mapping[str, Any]) -> PushOutcome:
    """The PushOutcome a PushedModel records (`properties`: its custom properties)."""
    pushed = bool(properties.get(PUSHED, 0))
    return PushOutcome(str(properties[PUSHED_DESTINATION]) if pushed else None,
                       str(properties.get(PUSH_OUTCOME, "nothing pushed")),
                       str(properties.get(REFUSED_VERSION, "")))


def push_if_blessed_and_servable(model_uri: str, blessed: bool, serving_dir: str,
                                 model_name: str, pipeline_root: str,
                                 replace_unknown_version: bool = False,
                                 not_servable: str = "",
                                 training_statistics: Optional[str] = None) -> PushOutcome:
    """Pushes the Trainer's serving model only if it is blessed, TF Serving can serve it (the
    ServableCheck's InfraBlessing; `not_servable` is its reason when it refused), and the
    newest served version was pushed from this pipeline root (whose gate compared the
    candidate with its own latest blessed model), unless `replace_unknown_version`."""
    source = path_utils.serving_model_path(model_uri)
    if not blessed:
        return PushOutcome(None, "not blessed by the Evaluator; nothing pushed")
    if not_servable:
        return PushOutcome(None, f"not servable by TF Serving, nothing pushed: {not_servable}")
    try:
        return PushOutcome(push(source, serving_dir, model_name, pipeline_root,
                                replace_unknown_version, training_statistics),
                           "blessed and servable")
    except UnknownServedVersion as unknown:
        version, origin = unknown.args
        return PushOutcome(None, (
            f"nothing pushed: the newest served version, {version}, {origin}, not this one "
            f"({pipeline_root}): this pipeline's gate never compared a model with it. Run "
            "with the --pipeline-root that pushed it, or pass --replace-unknown-version to "
            "replace it without that comparison"), refused_version=version)


@tfx.dsl.components.component
def VersionedPusher(
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    infra_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.InfraBlessing],
    statistics: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleStatistics],
    pushed_model: tfx.dsl.components.OutputArtifact[standard_artifacts.PushedModel],
    serving_dir: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
    pipeline_root: tfx.dsl.components.Parameter[str],
    replace_unknown_version: tfx.dsl.components.Parameter[int] = 0,
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Pushes a model the Evaluator blessed and the ServableCheck found servable, as the next
    version, with the `statistics` of its training data (train_sample).
    `code_version`: the digest of this code (components/code_version.py), a parameter only so
    that an edit to it changes the cache key."""
    del code_version
    servable = bool(infra_blessing.get_int_custom_property(servable_check.BLESSED))
    outcome = push_if_blessed_and_servable(
        model.uri, bool(model_blessing.get_int_custom_property("blessed")), serving_dir,
        model_name, pipeline_root, bool(replace_unknown_version),
        not_servable="" if servable else
        infra_blessing.get_string_custom_property(servable_check.REASON),
        training_statistics=os.path.join(
            artifact_utils.get_split_uri([statistics], TRAIN_SAMPLE), STATISTICS_FILE))
    pushed_model.set_string_custom_property(PUSH_OUTCOME, outcome.reason)
    if outcome.refused_version:
        pushed_model.set_string_custom_property(REFUSED_VERSION, outcome.refused_version)
    pushed_model.set_int_custom_property(PUSHED, int(outcome.destination is not None))
    if outcome.destination is None:
        print(f"VersionedPusher: model {model.uri}: {outcome.reason}")
        return
    pushed_model.set_string_custom_property(PUSHED_DESTINATION, outcome.destination)
    pushed_model.set_int_custom_property(PUSHED_VERSION,
                                         int(os.path.basename(outcome.destination)))
    print(f"VersionedPusher: pushed {model.uri} to {outcome.destination}")
