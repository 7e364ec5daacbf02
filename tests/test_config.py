"""PipelineConfig's Beam arguments: what each runner gets, and combinations that cannot work."""

import pytest

from pipeline.config import DEFAULT_IMAGE, ConfigError, PipelineConfig


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
