"""The serving benchmark runs end to end on a small model and reports every row it promises."""

import json
import shutil

from bench import serving_benchmark as benchmark


def test_the_benchmark_reports_latency_throughput_and_targets(exported, tmp_path):
    version = tmp_path / "movielens" / "1"
    shutil.copytree(exported["path"], version)
    report = benchmark.run(str(version), exported["users"], exported["movie_ids"],
                           str(tmp_path / "report"), "synthetic", rounds=2, requests=20,
                           log=lambda line: None)
    assert set(report["session"]) == {"lookup_movie (floor)", "retrieve", "recommend"}
    assert set(report["rate"]) == {"1000", "10000"} and set(report["client"]) == {"REST", "gRPC"}
    for row in list(report["session"].values()) + list(report["client"].values()):
        low, high = row["p50_range_ms"]
        assert 0 < low <= row["p50_ms"] <= high and row["p99_ms"] >= low
    assert all(row["pairs_per_second"] > 0 for row in report["rate"].values())
    written = (tmp_path / "report" / "serving.md").read_text()
    assert "## Targets" in written and "pairs per second" in written
    assert json.loads((tmp_path / "report" / "serving.json").read_text()) == report
