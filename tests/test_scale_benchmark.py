"""The scale benchmark on two tiny sizes: every component timed, memory sampled, growth."""

import json
import shutil

import pytest

from bench import scale_benchmark
from components.pusher.component import PUSH_OUTCOME
from pipeline import local_runner


@pytest.mark.slow
def test_two_sizes_give_times_memory_growth_and_the_gate(tmp_path):
    table = {"tiny": (40, 100, 1500), "small": (60, 150, 3000)}
    report = scale_benchmark.run(["tiny", "small"], str(tmp_path), log=lambda line: None,
                                 table=table, gate_examples=200)
    tiny, small = report["results"]
    assert (tiny["ratings"], small["ratings"]) == (1500, 3000)
    for result in (tiny, small):
        names = {c["component"] for c in result["components"]}
        assert {"MovieLensExampleGen", "Transform", "Trainer", "Evaluator"} <= names
        assert all(c["seconds"] >= 0 for c in result["components"])
        trainer = next(c for c in result["components"] if c["component"] == "Trainer")
        assert 0.2 < trainer["peak_rss_gb"] <= result["peak_rss_gb"] < 24  # a TF process
        assert result["gate"]["baseline_rmse"] > 0
    # tiny's eval (300) is sampled for the gate; small's (600) too, five more times here.
    assert tiny["gate"]["example_count"] == small["gate"]["example_count"] == 200
    spread = small["gate_spread"]
    assert (spread["eval_size"], spread["sample_size"], spread["samples"]) == (600, 200, 5)
    for ratio in ("rmse_over_baseline", "top_k_over_baseline"):
        low, mean, high = (spread[ratio][k] for k in ("min", "mean", "max"))
        assert 0 < low < high and low <= mean <= high and spread[ratio]["std"] > 0
    assert 0 <= spread["blessed"] <= 5
    assert small["training"]["training_ratings"] == 2400
    # So little data does not beat the baselines by the default margins: refused, not pushed.
    assert not small["gate"]["passed"]
    assert small["served"] == {"outcome": "not blessed by the Evaluator; nothing pushed"}
    assert "| small | not blessed by the Evaluator; nothing pushed |" in \
        (tmp_path / "scale.md").read_text()
    assert small["training"]["examples_seen"] > 0 and "Training stopped" in \
        small["training"]["stopped_because"]
    assert small["training"]["read_seconds"] > 0 and small["training"]["export_seconds"] > 0
    written = (tmp_path / "scale.md").read_text()
    assert "## Trainer" in written and "| small |" in written
    assert f"{spread['blessed']} of 5 |" in written
    assert json.loads((tmp_path / "scale.json").read_text()) == report
    # A size kept from a report written before the Trainer recorded its phases.
    older = json.loads(json.dumps(report))
    for key in ("read_seconds", "export_seconds", "batch_size"):
        del older["results"][0]["training"][key]
    kept = older["results"][0]["training"]
    assert f"| tiny | {kept['training_ratings']:,} | – | {kept['examples_seen']:,} |" in \
        scale_benchmark.markdown(older)
    # A size kept from before a step existed (issue 24's RunReport): a dash, no growth.
    older["results"][0]["components"] = [c for c in older["results"][0]["components"]
                                         if c["component"] != "RunReport"]
    page = scale_benchmark.markdown(older).split("## RunReport")[1].split("## ")[0]
    assert "| tiny | – (measured before this step existed) | | | |" in page
    assert "| small | " in page and page.rstrip().endswith("|  |")
    assert (tmp_path / "scale.png").stat().st_size > 1000
    # A later run of one size keeps the other's measurement, and a size that fails after
    # it loses neither.
    table["broken"] = (0, 100, 1500)
    with pytest.raises(scale_benchmark.RunFailed, match="broken: the run failed"):
        scale_benchmark.run(["tiny", "broken"], str(tmp_path), log=lambda line: None,
                            table=table)
    again = json.loads((tmp_path / "scale.json").read_text())
    assert [r["size"] for r in again["results"]] == ["tiny", "small"]
    assert again["results"][1] == small and again["results"][0] != tiny


def test_the_pushed_version_is_measured_through_the_session_path(exported, tmp_path):
    version = tmp_path / "serving" / "movielens" / "3"
    shutil.copytree(exported["path"], version)
    pusher = local_runner.ComponentRun(
        "VersionedPusher", cached=False, outputs={}, seconds=1.0, started=0.0,
        properties={"pushed_model": {PUSH_OUTCOME: "pushed version 3", "pushed": 1,
                                     "pushed_destination": str(version)}})
    served = scale_benchmark._served(pusher, users=40)
    assert served["outcome"] == "pushed version 3"
    assert 0 < served["graph_mb"] < served["total_mb"] < 50
    assert served["retrieve"]["requests"] == 500
    assert 0 < served["retrieve"]["p50_ms"] <= served["retrieve"]["p99_ms"]
