"""Each component's cache key carries a digest of the code it runs: its modules and every
project module they import. The end-to-end proof (real edits, real runs) is in
tests/test_cache_keys.py."""

import importlib
import json
import sys

import pytest

from components import code_version
from components.code_version import CODE_VERSION_KEY
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline

LAZY = "def load():\n    from pkgx import b\n    return b.DEPTH\n"


@pytest.fixture
def pkgx(tmp_path, monkeypatch):
    """A package on sys.path: a imports b inside a function; c is imported by no one."""
    root = tmp_path / "pkgx"
    root.mkdir()
    for name, text in {"__init__.py": "", "a.py": LAZY, "b.py": "DEPTH = 2\n",
                       "c.py": "WIDTH = 4\n"}.items():
        (root / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield root
    for name in [name for name in sys.modules if name.split(".")[0] == "pkgx"]:
        del sys.modules[name]  # the next test's pkgx is another folder


def test_the_closure_follows_imports_inside_functions(pkgx):
    assert code_version.closure(["pkgx.a"], ("pkgx",)) == {"pkgx", "pkgx.a", "pkgx.b"}


def test_the_digest_changes_with_the_code_it_runs_only(pkgx):
    before = code_version.digest(["pkgx.a"], ("pkgx",))
    assert code_version.digest(["pkgx.a"], ("pkgx",)) == before
    (pkgx / "c.py").write_text("WIDTH = 5\n")  # not imported by a
    (pkgx / "notes.txt").write_text("edited")
    assert code_version.digest(["pkgx.a"], ("pkgx",)) == before
    (pkgx / "b.py").write_text("DEPTH = 3\n")  # imported by a, inside a function
    assert code_version.digest(["pkgx.a"], ("pkgx",)) != before


def test_each_component_runs_only_its_own_code():
    runs = {name: code_version.closure(modules) for name, modules in (
        ("ExampleGen", code_version.EXAMPLE_GEN_CODE), ("Transform", code_version.TRANSFORM_CODE),
        ("Trainer", code_version.TRAINER_CODE), ("Evaluator", code_version.EVALUATOR_CODE),
        ("Pusher", code_version.PUSHER_CODE))}
    assert [name for name, closure in runs.items() if "trainer.model" in closure] == ["Trainer"]
    assert [name for name, closure in runs.items()
            if "components.pusher.component" in closure] == ["Pusher"]
    assert not [name for name, closure in runs.items() if "serving.client" in closure]
    assert "common.features" in runs["Transform"] and "serving.contract" in runs["Evaluator"]


def test_components_that_run_project_code_carry_its_digest(tmp_path):
    pipeline = create_pipeline(PipelineConfig(pipeline_root=str(tmp_path)))
    by_id = {component.id: component for component in pipeline.components}
    code = code_version.digests()
    assert by_id["MovieLensExampleGen"].exec_properties[CODE_VERSION_KEY] == code["example_gen"]
    assert by_id["MovieLensSchemaGen"].exec_properties[CODE_VERSION_KEY] == code["schema_gen"]
    assert by_id["StatisticsGen"].exec_properties[CODE_VERSION_KEY] == code["statistics_gen"]
    for component, name in (("Transform", "transform"), ("Trainer", "trainer")):
        custom = json.loads(by_id[component].exec_properties["custom_config"])
        assert custom[CODE_VERSION_KEY] == code[name]
    eval_config = json.loads(by_id["Evaluator"].exec_properties["eval_config"])
    metrics = [metric for spec in eval_config["metrics_specs"] for metric in spec["metrics"]]
    assert {"code_version": code["evaluator"]} in [json.loads(metric.get("config", "{}"))
                                                   for metric in metrics]
    assert by_id["VersionedPusher"].exec_properties[CODE_VERSION_KEY] == code["pusher"]
    assert by_id["ServableCheck"].exec_properties[CODE_VERSION_KEY] == code["servable_check"]
    assert by_id["DataGate"].exec_properties[CODE_VERSION_KEY] == code["data_gate"]
    assert by_id["RunReport"].exec_properties[CODE_VERSION_KEY] == code["run_report"]
