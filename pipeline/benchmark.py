"""Pipeline speed benchmark: a cold run into an empty root, then a cached re-run.

Writes `<report_dir>/pipeline.json` and `pipeline.md`: the wall time of each component and
of each run (measured in this process, after imports), and the gate's metrics.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Callable, Dict, List

from components.evaluator import gate_summary
from pipeline import files, local_runner
from pipeline.config import PipelineConfig, ServingConfig


def _timed_run(config: PipelineConfig) -> Dict:
    started = time.monotonic()
    runs = local_runner.run(config)
    return {"seconds": time.monotonic() - started,
            "components": [{"component": r.component, "cached": r.cached,
                            "seconds": r.seconds} for r in runs],
            "runs": runs}


def run(config: PipelineConfig, report_dir: str, log: Callable[[str], None] = print) -> Dict:
    """Runs `config`'s pipeline twice in a fresh root and serving directory."""
    with tempfile.TemporaryDirectory() as scratch:
        config = dataclasses.replace(
            config, pipeline_root=os.path.join(scratch, "root"),
            serving=ServingConfig(os.path.join(scratch, "serving"), config.serving.model_name))
        log("cold run ...")
        cold = _timed_run(config)
        log(f"cold run: {cold['seconds']:.1f} s; cached re-run ...")
        cached = _timed_run(config)
        log(f"cached re-run: {cached['seconds']:.1f} s")
        evaluator = next(r for r in cold.pop("runs") if r.component == "Evaluator")
        gate = gate_summary(evaluator.outputs["evaluation"])
        cached.pop("runs")
    report = {
        **files.report_header(config.data.source),
        "beam_pipeline_args": config.beam_pipeline_args,
        "cold": cold, "cached": cached, "gate": gate,
    }
    files.publish_text(os.path.join(report_dir, "pipeline.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "pipeline.md"), markdown(report))
    return report


def markdown(report: Dict) -> str:
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
    gate = report["gate"]
    lines += ["", f"Gate on {gate['example_count']:.0f} eval examples: RMSE "
              f"{gate['rmse']:.4f} stars, top-k accuracy {gate['top_k_accuracy']:.4f}, "
              f"{'blessed' if gate['passed'] else 'not blessed'}.", ""]
    return "\n".join(lines)
