"""Pipeline speed benchmark: cold runs into empty roots, then a cached re-run.

Writes `<report_dir>/pipeline.json` and `pipeline.md`: the wall time of each component and
of each run (measured in this process, after imports), where the Trainer's time goes, how
far its steps are from this machine's matrix-product rate (measured in the same run), the
gate's metrics, and what issue 24's steps add to each cold run, as a ratio to the rest of
the same run: data validation (StatisticsGen, ExampleValidator, DriftCheck, DataGate), the
RunReport, and the Evaluator's popularity slices and coverage metrics (bench/evaluator_cost.py
runs the Evaluator with and without them on the run's model).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Callable, Dict, List

import tensorflow as tf

from bench import evaluator_cost
from components.evaluator.gate import eval_config, gate_summary
from components.resolver.strategy import LATEST_PUSH_ID
from pipeline import files, local_runner
from pipeline.config import PipelineConfig, ServingConfig
from pipeline.pipeline import (
    DATA_GATE,
    DRIFT_CHECK,
    EVALUATOR,
    EXAMPLE_GEN,
    EXAMPLE_VALIDATOR,
    RUN_REPORT,
    STATISTICS_GEN,
    TRAINER,
)
from trainer import task

# The steps issue 24 adds to a run (ExampleGen's writing of the samples StatisticsGen reads is
# inside its own time), beside the Evaluator's growth.
NEW_STEPS = (STATISTICS_GEN, EXAMPLE_VALIDATOR, LATEST_PUSH_ID, DRIFT_CHECK, DATA_GATE,
             RUN_REPORT)
BOUND = 0.15  # the issue's: at most 15% over the run without them


def new_steps_cost(components: List[Dict], evaluator_growth: float) -> Dict:
    """The new steps' seconds in a run plus the Evaluator's growth (`evaluator_growth`), the
    rest of the run's component seconds, and the ratio of the two."""
    added = sum(c["seconds"] for c in components if c["component"] in NEW_STEPS)
    added += evaluator_growth
    rest = sum(c["seconds"] for c in components) - added
    return {"seconds": added, "evaluator_growth": evaluator_growth, "rest": rest,
            "ratio": added / rest if rest else 0.0}


def _timed_run(config: PipelineConfig) -> Dict:
    started = time.monotonic()
    runs = local_runner.run(config)
    return {"seconds": time.monotonic() - started,
            "components": [{"component": r.component, "cached": r.cached,
                            "seconds": r.seconds} for r in runs],
            "runs": runs}


def matmul_rate(size: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of this machine's float32 matrix product ([size, size] by [size, size], the
    best of `repeats` timings after a warm-up): the rate a training step could reach."""
    a = tf.random.stateless_normal([size, size], seed=[1, 2])
    b = tf.random.stateless_normal([size, size], seed=[3, 4])
    tf.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size ** 3 / best


def _trainer(run: local_runner.ComponentRun) -> Dict:
    """Where the Trainer's time went (its training record) and what its steps cost."""
    training = task.read_training_record(run.outputs["model_run"])
    steps = training["examples_seen"] // training["batch_size"]
    stepping = training["seconds"] - training["validation_seconds"]
    parts = {
        "reading the train split": training["read_seconds"],
        "training steps (and Keras' validation loss)": stepping,
        "validation ranking and rating (early stopping)": training["validation_seconds"],
        "export (signatures, warm-up records)": training["export_seconds"],
    }
    parts["the rest (TFX, Transform graph, model building)"] = run.seconds - sum(
        parts.values())
    return {"seconds": run.seconds, "parts": parts, "epochs": training["epochs"],
            "steps": steps, "step_seconds": stepping / max(steps, 1),
            "step_flops": training["step_flops"],
            "stopped_because": training["stopped_because"]}


def run(config: PipelineConfig, report_dir: str, log: Callable[[str], None] = print,
        cold_runs: int = 3) -> Dict:
    """Runs `config`'s pipeline `cold_runs` times, each in a fresh root and serving
    directory, measuring after each what issue 24's steps added; then again in the first
    root (cached)."""
    colds: List[Dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        roots = [dataclasses.replace(
            config, pipeline_root=os.path.join(scratch, f"root-{i}"),
            serving=ServingConfig(os.path.join(scratch, f"serving-{i}"),
                                  config.serving.model_name)) for i in range(cold_runs)]
        for i, root in enumerate(roots):
            log(f"cold run {i + 1} of {cold_runs} ...")
            cold = _timed_run(root)
            by_name = {r.component: r for r in cold.pop("runs")}
            log(f"cold run: {cold['seconds']:.1f} s; the Evaluator with and without issue "
                "24's slices and coverage ...")
            cold["evaluator"] = evaluator_cost.growth(
                by_name[EXAMPLE_GEN].outputs["examples"], by_name[TRAINER].outputs["model"],
                eval_config(config.gate), config.beam_pipeline_args)
            cold["new_steps"] = new_steps_cost(cold["components"],
                                               cold["evaluator"]["growth"])
            log(f"new steps: {cold['new_steps']['ratio']:.1%} over the rest")
            colds.append(cold)
            if i == 0:
                gate = gate_summary(by_name[EVALUATOR].outputs["evaluation"])
                trainer = _trainer(by_name[TRAINER])
        log("cached re-run ...")
        cached = _timed_run(roots[0])
        cached.pop("runs")
        log(f"cached re-run: {cached['seconds']:.1f} s")
    log("measuring this machine's matrix-product rate ...")
    trainer["machine_flops_per_second"] = matmul_rate()
    ratios = [cold["new_steps"]["ratio"] for cold in colds]
    report = {
        **files.report_header(config.data.source),
        "beam_pipeline_args": config.beam_pipeline_args,
        "cold": colds[0], "cold_runs": colds, "cached": cached, "gate": gate,
        "trainer": trainer,
        "new_steps": {"mean": sum(ratios) / len(ratios), "min": min(ratios),
                      "max": max(ratios), "bound": BOUND},
    }
    files.publish_text(os.path.join(report_dir, "pipeline.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "pipeline.md"), markdown(report))
    return report


def _new_steps(report: Dict) -> List[str]:
    """The section on what issue 24's steps add, each cold run and their spread."""
    summary = report["new_steps"]
    lines = ["", "## What issue 24's steps add", "",
             f"Data validation ({', '.join(NEW_STEPS[:-1])}), the {NEW_STEPS[-1]}, and the "
             "Evaluator's growth (TFX's Evaluator executor on the run's model and gate split, "
             "with the pipeline's eval config and without the popularity slices and coverage "
             "metrics), over the rest of the same run's component seconds:", "",
             "| cold run | whole run (s) | data validation + report (s) | Evaluator now / "
             "before (s) | added (s) | rest (s) | added / rest |", "|---|---|---|---|---|---|---|"]
    for i, cold in enumerate(report["cold_runs"], start=1):
        cost, evaluator = cold["new_steps"], cold["evaluator"]
        lines.append(f"| {i} | {cold['seconds']:.1f} | "
                     f"{cost['seconds'] - cost['evaluator_growth']:.1f} | "
                     f"{evaluator['now']:.1f} / {evaluator['before']:.1f} | "
                     f"{cost['seconds']:.1f} | {cost['rest']:.1f} | {cost['ratio']:.1%} |")
    lines += ["", f"Over {len(report['cold_runs'])} cold runs: {summary['mean']:.1%} on average "
              f"(from {summary['min']:.1%} to {summary['max']:.1%}); the issue's bound: "
              f"{summary['bound']:.0%}."]
    return lines


def markdown(report: Dict) -> str:
    """The text of pipeline.md: each component's wall time in the cold and the cached run,
    where the Trainer's time went and what its steps achieved, and the gate's metrics."""
    cached_by_name = {c["component"]: c for c in report["cached"]["components"]}
    lines: List[str] = [
        f"# Pipeline wall time: {report['data']}",
        "",
        f"{report['machine']}, {report['date']}; Beam args {report['beam_pipeline_args']}.",
        "Seconds in one process after imports (TensorFlow/TFX imports add about 12 s to a "
        "command).",
        "",
        "| component | cold run (s) | cached re-run (s) |",
        "|---|---|---|",
    ]
    for component in report["cold"]["components"]:
        again = cached_by_name[component["component"]]
        state = " (cached)" if again["cached"] else ""
        lines.append(f"| {component['component']} | {component['seconds']:.1f} | "
                     f"{again['seconds']:.1f}{state} |")
    lines.append(f"| **whole run** | **{report['cold']['seconds']:.1f}** | "
                 f"**{report['cached']['seconds']:.1f}** |")
    lines += _new_steps(report)
    trainer = report["trainer"]
    lines += ["", f"## Where the Trainer's {trainer['seconds']:.1f} s went", "",
              "| part | seconds |", "|---|---|"]
    lines += [f"| {part} | {seconds:.1f} |" for part, seconds in trainer["parts"].items()]
    flops = sum(trainer["step_flops"].values())
    machine = trainer["machine_flops_per_second"]
    achieved = flops / trainer["step_seconds"]
    lines += ["", f"{trainer['stopped_because']}.", "",
              f"A training step: {1e3 * trainer['step_seconds']:.1f} ms (the training "
              f"steps' time over their {trainer['steps']:,}, which includes Keras' validation "
              f"loss and the first step's tracing), {flops / 1e6:.0f} MFLOP ("
              + ", ".join(f"{part} {value / 1e6:.0f}"
                          for part, value in trainer["step_flops"].items())
              + f"; trainer/cost.py): {achieved / 1e9:.1f} GFLOP/s, "
              f"{achieved / machine:.0%} of this machine's float32 matrix product "
              f"({machine / 1e9:.1f} GFLOP/s, 1024 x 1024 by 1024 x 1024, measured in this "
              f"run). At that rate a step would take {1e3 * flops / machine:.1f} ms."]
    gate = report["gate"]
    lines += ["", f"Gate on {gate['example_count']:.0f} eval examples: RMSE "
              f"{gate['rmse']:.4f} stars, top-k accuracy {gate['top_k_accuracy']:.4f}, "
              f"{'blessed' if gate['passed'] else 'not blessed'}.", ""]
    return "\n".join(lines)
