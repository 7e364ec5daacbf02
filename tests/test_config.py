"""PipelineConfig's Beam arguments (what each runner gets, and combinations that cannot
work), where the configs live, and the options refused by name before anything runs."""

import ast
import math
import pathlib
import re

import pytest

from common.config_error import ConfigError
from components.evaluator.config import GateConfig
from components.movielens.config import DataConfig
from components.movielens.synthetic import SyntheticConfig
from pipeline.config import DEFAULT_IMAGE, PipelineConfig
from trainer.config import L2_SIZES, ModelConfig


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


# Each value that cannot work, as the CLI would pass it (nan and inf included: the CLI reads
# "nan" as a float), and the rule the message must state.
BAD_MODEL = [
    ("embedding_dim", 0, "at least 1"), ("epochs", 0, "at least 1"),
    ("batch_size", 0, "at least 1"), ("top_k", 0, "at least 1"),
    ("max_history", 0, "at least 1"), ("max_validation_examples", 0, "at least 1"),
    ("rating_layers", (64, 0), "widths of at least 1"),
    ("early_stopping_patience", -1, "at least 0"),
    ("temperature", 0.0, "finite and above 0"), ("temperature", math.nan, "finite and above 0"),
    ("learning_rate", math.inf, "finite and above 0"),
    ("learning_rate", -0.1, "finite and above 0"),
    ("l2", math.nan, "finite and at least 0"), ("rating_weight", math.inf, "finite"),
    ("learning_rate_decay", 0.0, "in (0, 1]"), ("validation_fraction", 0.0, "in (0, 1)"),
    ("validation_fraction", 1.0, "in (0, 1)"), ("history_dropout", 1.0, "in [0, 1)"),
    ("rating_average_momentum", math.nan, "in [0, 1)"), ("liked_weighting", 3.0, "in [0, 2]"),
    ("user_weight_power", -1.0, "in [0, 1]"), ("l2_size_power", math.nan, "in [0, 1]"),
    ("optimizer", "lion", "adam, adagrad or sgd"),
    ("rating_activation", "tanh", "gelu or relu"),
    ("examples_per_epoch", 10, "at least batch_size"),
]


@pytest.mark.parametrize("field, value, rule", BAD_MODEL)
def test_a_model_option_that_cannot_work_is_refused_by_name(field, value, rule):
    with pytest.raises(ConfigError, match=f"^--model {field} must be {re.escape(rule)}"):
        ModelConfig(**{field: value})


def test_l2_grows_with_the_square_root_of_the_ratings_between_the_sizes_measured():
    smallest, largest = L2_SIZES
    config = ModelConfig(l2=6.4, l2_size_power=0.5)
    assert config.l2_for(100) == config.l2_for(smallest) == 6.4  # below: as chosen
    assert config.l2_for(4 * smallest) == pytest.approx(12.8)
    assert config.l2_for(10 * largest) == config.l2_for(largest) == pytest.approx(
        6.4 * (largest / smallest) ** 0.5)  # above: no more than measured
    assert ModelConfig(l2=6.4, l2_size_power=0.0).l2_for(largest) == 6.4
    rating_only = ModelConfig(l2=6.4, l2_size_power=0.5, retrieval_weight=0.0)
    assert rating_only.l2_for(largest) == 6.4  # no growth without the retrieval softmax


def test_no_loss_at_all_is_refused():
    with pytest.raises(ConfigError, match="retrieval_weight and rating_weight are both 0"):
        ModelConfig(retrieval_weight=0.0, rating_weight=0.0)


@pytest.mark.parametrize("field, value", [
    ("max_rmse", 0.0), ("max_rmse", math.nan), ("min_top_k_accuracy", 1.5),
    ("max_rmse_over_baseline", math.inf), ("min_top_k_over_baseline", math.nan),
    ("max_rmse_increase", -0.1), ("max_top_k_accuracy_decrease", math.inf),
])
def test_a_gate_option_that_cannot_work_is_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=f"^--gate {field} must be"):
        GateConfig(**{field: value})


def test_the_model_is_checked_against_the_data_before_training():
    config = ModelConfig(top_k=5000)
    with pytest.raises(ConfigError, match="top_k=5000 is more than the 1,650 movies"):
        config.check_data(training_ratings=80_000, num_movies=1650)
    with pytest.raises(ConfigError, match="batch_size=1024 is more than the 760 training"):
        ModelConfig().check_data(training_ratings=800, num_movies=1650)
    with pytest.raises(ConfigError, match="leaves no validation ratings out of 10"):
        ModelConfig(validation_fraction=0.01, batch_size=4).check_data(10, 50)
    ModelConfig().check_data(training_ratings=80_000, num_movies=1650)


def test_a_batch_must_split_into_equal_replica_batches():
    with pytest.raises(ConfigError, match="batch_size=1024 does not split into 3 equal "
                                          "replica batches: give a multiple of 3"):
        ModelConfig().check_replicas(3)
    ModelConfig().check_replicas(4)


def test_synthetic_data_is_checked_against_the_model_when_the_pipeline_is_configured():
    small = DataConfig(synthetic=SyntheticConfig(num_users=50, num_movies=80, num_ratings=1000))
    with pytest.raises(ConfigError, match="batch_size=1024 is more than the 760 training"):
        PipelineConfig(pipeline_root="root", data=small)
    with pytest.raises(ConfigError, match="top_k=100 is more than the 80 movies"):
        PipelineConfig(pipeline_root="root", data=small,
                       model=ModelConfig(batch_size=64, top_k=100))
    PipelineConfig(pipeline_root="root", data=small, model=ModelConfig(batch_size=64))
