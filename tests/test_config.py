"""PipelineConfig's Beam arguments (what each runner gets, and combinations that cannot
work), and where the configs live."""

import ast
import pathlib

import pytest

from components.config_error import ConfigError
from pipeline.config import DEFAULT_IMAGE, PipelineConfig


def test_beam_components_get_the_project_image_so_tfx_builds_no_package():
    args = PipelineConfig(pipeline_root="root").beam_pipeline_args
    assert f"--sdk_container_image={DEFAULT_IMAGE}" in args
    custom = PipelineConfig(pipeline_root="root", image="gcr.io/p/img:1").beam_pipeline_args
    assert "--sdk_container_image=gcr.io/p/img:1" in custom


@pytest.mark.parametrize("given", ["--setup_file=./setup.py", "--extra_package=dist/x.tar.gz",
                                   "--sdk_container_image=mine:2", "--requirements_file=r.txt"])
def test_a_dependency_option_of_the_user_replaces_the_default_image(given):
    args = PipelineConfig(pipeline_root="root", extra_beam_args=(given,)).beam_pipeline_args
    assert given in args
    assert not any(a.startswith("--sdk_container_image=") and a != given for a in args)


def test_beam_workers_with_another_runner_is_refused():
    with pytest.raises(ConfigError, match="does nothing with --runner=DataflowRunner"):
        PipelineConfig(pipeline_root="root", beam_workers=2,
                       extra_beam_args=("--runner=DataflowRunner",))
    PipelineConfig(pipeline_root="root", beam_workers=2, extra_beam_args=("--runner=DirectRunner",))


def test_the_portable_runner_excludes_other_runners_and_beam_workers():
    with pytest.raises(ConfigError, match="contradicts it"):
        PipelineConfig(pipeline_root="root", beam_runner="portable",
                       extra_beam_args=("--runner=FlinkRunner",))
    with pytest.raises(ConfigError, match="does nothing with --beam-runner portable"):
        PipelineConfig(pipeline_root="root", beam_runner="portable", beam_workers=2)
    with pytest.raises(ConfigError, match="direct or portable"):
        PipelineConfig(pipeline_root="root", beam_runner="flink")


def test_components_trainer_and_serving_never_import_the_pipeline():
    """Each config lives beside what it configures; only pipeline/ composes them."""
    root = pathlib.Path(__file__).resolve().parent.parent
    offenders = []
    for package in ("components", "trainer", "serving"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import)
                         else [])
                offenders += [f"{path.relative_to(root)}: {name}" for name in names
                              if name == "pipeline" or name.startswith("pipeline.")]
    assert offenders == []
