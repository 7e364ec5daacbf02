"""Runs that share a serving directory or a root with other data (real processes and the
real pipeline): a push never replaces a served version that the candidate was not compared
with, and a baseline trained on another split is left out, with the reason printed."""

import os
import subprocess
import sys

import pytest

from common import storage
from pipeline import cli
from tests import small_run
from tests.children import Child

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = small_run.ARGS + ["--model", "epochs=2"]


def test_two_roots_at_once_into_one_serving_directory(tmp_path, capsys):
    """Both run to the end; the first to push takes version 1, and the other, whose
    candidate was never compared with version 1, does not replace it until asked to."""
    serving = str(tmp_path / "serving")
    runs = {}
    for name, seed in (("a", 1), ("b", 2)):
        where = ["--pipeline-root", str(tmp_path / name), "--serving-dir", serving]
        runs[name] = (where, Child(
            [sys.executable, "-m", "pipeline.cli", "run", *where, *DATA, "--model",
             f"seed={seed}"], stream="stdout", stderr=subprocess.STDOUT, cwd=REPO))
    ended = {}
    try:
        for name, (_, child) in runs.items():
            ended[name] = child.finish(timeout=600)
    finally:
        for _, child in runs.values():
            child.kill()
    assert sorted(code for code, _ in ended.values()) == [0, cli.EXIT_NOT_PUSHED], ended
    [pushed] = [name for name, (code, _) in ended.items() if code == 0]
    [refused] = [name for name in ended if name != pushed]
    version_1 = os.path.join(serving, "movielens", "1")
    assert f"Serving: {version_1}\n" in ended[pushed][1]
    assert (f"Push: nothing pushed: the newest served version, {version_1}, was pushed from "
            f"the pipeline root {tmp_path / pushed}, not this one ({tmp_path / refused}): this "
            "pipeline's gate never compared a model with it. Run with the --pipeline-root that "
            "pushed it, or pass --replace-unknown-version") in ended[refused][1]
    assert storage.versions(os.path.join(serving, "movielens")) == [1]

    where = runs[refused][0]
    assert cli.main(["run", *where, *DATA, "--model", f"seed={2 if refused == 'b' else 1}",
                     "--replace-unknown-version"]) == 0
    out = capsys.readouterr().out
    for component in ("MovieLensExampleGen", "Transform", "Trainer", "Evaluator"):
        assert f"  {component} (cached," in out
    assert "  VersionedPusher (ran," in out
    assert f"Serving: {os.path.join(serving, 'movielens', '2')}\n" in out
    assert storage.versions(os.path.join(serving, "movielens")) == [1, 2]
    # Without the flag again (another cache key for the Pusher): version 2 is this root's
    # and this very model, so nothing is pushed twice.
    assert cli.main(["run", *where, *DATA, "--model", f"seed={2 if refused == 'b' else 1}"]) == 0
    assert f"Serving: {os.path.join(serving, 'movielens', '2')}\n" in capsys.readouterr().out
    assert storage.versions(os.path.join(serving, "movielens")) == [1, 2]


def test_a_blessed_model_of_another_split_is_no_baseline_and_the_run_says_so(tmp_path, capsys):
    where = ["--pipeline-root", str(tmp_path / "root"), "--serving-dir",
             str(tmp_path / "serving")]
    assert cli.main(["run", *where, *DATA]) == 0
    assert "no blessed model yet to compare with: blessed." in capsys.readouterr().out
    assert cli.main(["run", *where, *DATA, "--split", "temporal"]) == 0
    out = capsys.readouterr().out
    assert ("no blessed model of the same data and split to compare with (the latest blessed "
            f"model ({tmp_path / 'root'}/Trainer/model/") in out
    assert ("random split, eval fraction 0.2, seed 42, this candidate on synthetic data "
            "(num_movies 200, num_ratings 3000, num_users 60, seed 42, taste_dimensions 8), "
            "temporal split, eval fraction 0.2, seed 42: no fair comparison, so it was left "
            "out): blessed.") in out
    assert f"Serving: {tmp_path / 'serving'}/movielens/2\n" in out  # 1 is this root's
