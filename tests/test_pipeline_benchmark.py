"""bench-pipeline on a small synthetic set: both runs timed, the Trainer's time accounted for."""

import json

import pytest

from bench import evaluator_cost
from bench import pipeline_benchmark as benchmark
from components.evaluator.config import GateConfig
from components.movielens.config import DataConfig
from components.movielens.synthetic import SyntheticConfig
from pipeline.config import PipelineConfig
from trainer.config import ModelConfig

pytestmark = pytest.mark.slow


def test_bench_pipeline_reports_components_trainer_parts_and_step_cost(tmp_path):
    config = PipelineConfig(
        pipeline_root=str(tmp_path / "unused"),  # the benchmark runs in a fresh root
        data=DataConfig(synthetic=SyntheticConfig(num_users=60, num_movies=200,
                                                  num_ratings=3000)),
        model=ModelConfig(epochs=2, batch_size=256, embedding_dim=8, rating_layers=(16,)),
        gate=GateConfig(max_rmse_over_baseline=1.5, min_top_k_over_baseline=0.5))
    lines = []
    report = benchmark.run(config, str(tmp_path / "report"), log=lines.append, cold_runs=1)
    assert not (tmp_path / "unused").exists()
    cold = {c["component"]: c for c in report["cold"]["components"]}
    assert not any(c["cached"] for c in cold.values())
    assert all(c["cached"] for c in report["cached"]["components"] if c["component"] in
               ("MovieLensExampleGen", "Transform", "Trainer", "Evaluator"))
    trainer = report["trainer"]
    # Each part took time, and the parts measured inside the Trainer fit in its wall time
    # ("the rest", its wall time less them, is positive).
    assert trainer["seconds"] == cold["Trainer"]["seconds"]
    assert all(seconds > 0 for seconds in trainer["parts"].values())
    assert trainer["steps"] == 2 * ((2400 - 120) // 256)  # 2 epochs of whole batches
    assert trainer["machine_flops_per_second"] > 1e8
    saved = json.loads((tmp_path / "report" / "pipeline.json").read_text())
    assert saved["trainer"] == report["trainer"]
    page = (tmp_path / "report" / "pipeline.md").read_text()
    assert f"## Where the Trainer's {trainer['seconds']:.1f} s went" in page
    assert "of this machine's float32 matrix product" in page
    assert lines[-2].startswith("cached re-run:") and "matrix-product rate" in lines[-1]
    # What issue 24's steps add: theirs and the Evaluator's growth over the rest of the run.
    [run] = report["cold_runs"]
    evaluator, cost = run["evaluator"], run["new_steps"]
    assert evaluator["now"] > 0 and evaluator["before"] > 0
    assert cost["evaluator_growth"] == pytest.approx(evaluator["now"] - evaluator["before"])
    added = sum(cold[name]["seconds"] for name in benchmark.NEW_STEPS) + \
        cost["evaluator_growth"]
    assert cost["seconds"] == pytest.approx(added)
    assert cost["ratio"] == pytest.approx(added / (sum(
        c["seconds"] for c in cold.values()) - added))
    assert report["new_steps"]["mean"] == report["new_steps"]["min"] == cost["ratio"]
    assert "## What issue 24's steps add" in page and f"{cost['ratio']:.1%} |" in page


def test_the_evaluator_before_issue_24_has_neither_popularity_slices_nor_coverage():
    from common import features
    from components.evaluator.gate import eval_config

    now = eval_config(GateConfig())
    before = evaluator_cost.before_issue_24(now)
    keys = [list(spec.feature_keys) for spec in before.slicing_specs]
    assert [features.MOVIE_POPULARITY] in [list(s.feature_keys) for s in now.slicing_specs]
    assert [features.MOVIE_POPULARITY] not in keys and [features.USER_ACTIVITY] in keys
    classes = {m.class_name for spec in before.metrics_specs for m in spec.metrics}
    assert not classes & set(evaluator_cost.ADDED_METRICS)
    assert len(classes) == len({m.class_name for spec in now.metrics_specs
                                for m in spec.metrics}) - 2


def test_no_cold_run_is_a_clear_error_before_anything_runs(capsys, tmp_path):
    from pipeline import cli

    code = cli.main(["bench-pipeline", "--cold-runs", "0", "--report-dir", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == \
        "movielens-tfx bench-pipeline: error: --cold-runs must be at least 1, got 0"
    assert not list(tmp_path.iterdir())
