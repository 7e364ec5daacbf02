"""Real edits to a copy of the code, real runs of it: an edit to the Pusher re-runs only the
Pusher and the report after it, an edit to the serving client only the report (which asks
the model through it), an edit to the model the Trainer and what follows it. What ran is
what ML Metadata records (`run` prints it)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from components.resolver.strategy import RESOLVER_IDS
from tests import small_run

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("common", "components", "pipeline", "serving", "trainer", "bench")
DATA_COMPONENTS = ["MovieLensExampleGen", "MovieLensSchemaGen", "StatisticsGen",
                   "ExampleValidator", "DriftCheck", "DataGate", "Transform"]


def _run(source: str, root: str) -> dict:
    """Runs the copy's pipeline; each component -> "ran" or "cached" (the resolver, which
    has no outputs to cache, is re-resolved on every run and left out)."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--pipeline-root", root,
         "--serving-dir", os.path.join(root, "serving"), *small_run.ARGS,
         "--model", "epochs=2"],
        cwd=source, env={**os.environ, "PYTHONPATH": source}, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    states = dict(re.findall(r"^  (\w+) \((ran|cached),", done.stdout, re.M))
    for resolver in RESOLVER_IDS:
        del states[resolver]
    return states


def _edit(source: str, relative: str) -> None:
    with open(os.path.join(source, relative), "a", encoding="utf-8") as module:
        module.write("\n# an edit\n")


def test_an_edit_reruns_exactly_the_components_that_run_it(tmp_path):
    source, root = str(tmp_path / "source"), str(tmp_path / "root")
    for package in PACKAGES:
        shutil.copytree(os.path.join(REPO, package), os.path.join(source, package),
                        ignore=shutil.ignore_patterns("__pycache__"))
    first = _run(source, root)
    assert set(first.values()) == {"ran"} and "VersionedPusher" in first, first

    _edit(source, "components/pusher/component.py")
    after_pusher = _run(source, root)
    # The drift check (and the gate after it) measure against the version the first run
    # pushed, the first time they see it.
    assert [name for name, state in after_pusher.items() if state == "ran"] == \
        ["DriftCheck", "DataGate", "VersionedPusher", "RunReport"], after_pusher

    # The report asks the model for recommendations through the client: only it runs it.
    _edit(source, "serving/client.py")
    after_client = _run(source, root)
    assert [name for name, state in after_client.items() if state == "ran"] == \
        ["RunReport"], after_client
    assert len(after_client) == len(first) == 12

    _edit(source, "trainer/model.py")
    after_model = _run(source, root)
    assert sorted(name for name, state in after_model.items() if state == "ran") == \
        ["Evaluator", "RunReport", "ServableCheck", "Trainer", "VersionedPusher"], after_model
    assert all(after_model[name] == "cached" for name in DATA_COMPONENTS), after_model
