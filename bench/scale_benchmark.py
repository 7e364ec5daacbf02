"""Scale benchmark: the whole pipeline on synthetic data of the MovieLens releases' sizes.

Each size runs `movielens-tfx run` in a child process on a fresh root, while this process
samples the child's memory (its whole process tree) every 0.2 s. ML Metadata then says when
each component ran, which attributes each sample to a component: per component, seconds,
peak RSS and examples (ratings) per second; per size, the gate's metrics beside the naive
baselines'. Between neighbouring sizes, growth = (time ratio) / (ratings ratio): 1 is linear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import psutil
from tfx.utils import path_utils

from bench import gate_spread, serving_benchmark
from bench.releases import SIZES
from common import storage
from components.evaluator.gate import gate_summary
from components.movielens.config import DataConfig
from components.pusher.component import PUSHED_MODEL, recorded_outcome
from pipeline import cli, files, local_runner
from pipeline.config import PipelineConfig
from pipeline.pipeline import EVALUATOR, EXAMPLE_GEN, PUSHER, TRAINER
from serving import contract
from serving.session_model import SessionModel
from trainer import task

SAMPLE_SECONDS = 0.2


class RunFailed(RuntimeError):
    """One size's pipeline run failed; the message ends with its last output."""


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process] + process.children(recursive=True):
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return total


# Exit codes of a run that completed: pushed, refused by the gate, or blessed but not pushed.
COMPLETED = (0, cli.EXIT_NOT_BLESSED, cli.EXIT_NOT_PUSHED)


def _run_size(name: str, size: Tuple[int, int, int], root: str, gate_examples: int,
              log: Callable[[str], None]) -> Dict:
    users, movies, ratings = size
    command = [sys.executable, "-m", "pipeline.cli", "run", "--pipeline-root", root,
               "--serving-dir", os.path.join(root, "serving"),
               "--synthetic-users", str(users), "--synthetic-movies", str(movies),
               "--synthetic-ratings", str(ratings), "--gate-examples", str(gate_examples)]
    samples: List[Tuple[float, int]] = []
    started = time.time()
    with open(os.path.join(root, "run.log"), "w", encoding="utf-8") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        watched = psutil.Process(child.pid)

        def sample() -> None:
            while child.poll() is None:
                try:
                    samples.append((time.time(), _tree_rss(watched)))
                except psutil.Error:
                    return
                time.sleep(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        sampler.join()
    seconds = time.time() - started
    if code not in COMPLETED:
        with open(os.path.join(root, "run.log"), encoding="utf-8", errors="replace") as output:
            tail = output.read()[-3000:]
        raise RunFailed(f"{name}: the run failed (exit {code}); its last output:\n{tail}")
    runs = local_runner.latest_run(PipelineConfig(pipeline_root=root))
    components = []
    for run in runs:
        during = [rss for when, rss in samples if run.started <= when <= run.started
                  + run.seconds]
        components.append({"component": run.component, "seconds": run.seconds,
                           "peak_rss_gb": max(during, default=0) / 1e9,
                           "examples_per_second": ratings / max(run.seconds, 1e-9)})
    by_name = {run.component: run for run in runs}
    log(f"{name}: the gate's ratios on further samples of eval ...")
    spread = gate_spread.spread(
        path_utils.serving_model_path(by_name[TRAINER].outputs["model"]),
        by_name[EXAMPLE_GEN].outputs["examples"], gate_examples)
    result = {"size": name, "users": users, "movies": movies, "ratings": ratings,
              "seconds": seconds, "peak_rss_gb": max((s for _, s in samples), default=0) / 1e9,
              "components": components,
              "gate": gate_summary(by_name[EVALUATOR].outputs["evaluation"]),
              "gate_spread": spread, "training": _training(by_name[TRAINER]),
              "served": _served(by_name[PUSHER], users)}
    log(f"{name}: {seconds:.0f} s, peak RSS {result['peak_rss_gb']:.1f} GB")
    return result


def _training(trainer: local_runner.ComponentRun) -> Dict:
    """What the Trainer's training record says: examples, seconds, why it stopped."""
    training = task.read_training_record(trainer.outputs["model_run"])
    return {key: training[key] for key in ("training_ratings", "examples_seen", "seconds",
                                           "read_seconds", "export_seconds", "batch_size",
                                           "epochs", "stopped_because")}


def _seconds(value: Optional[float]) -> str:
    """A phase's seconds, or a dash for a size measured before the phase was recorded."""
    return "–" if value is None else f"{value:.0f}"


def _served(pusher: local_runner.ComponentRun, users: int) -> Dict:
    """The pushed version (as the Pusher recorded it): why it was (not) pushed, its size on
    disk, and `retrieve`'s latency for one user through TF Serving's session path (after
    warm-up)."""
    pushed = recorded_outcome(pusher.properties[PUSHED_MODEL])
    served: Dict = {"outcome": pushed.reason}
    if pushed.destination is None:
        return served
    version = pushed.destination
    served["graph_mb"] = os.path.getsize(os.path.join(version, storage.GRAPH_FILE)) / 1e6
    served["total_mb"] = sum(os.path.getsize(os.path.join(folder, name))
                             for folder, _, names in os.walk(version) for name in names) / 1e6
    ids = [str(u) for u in np.random.default_rng(0).integers(1, users + 1, size=500)]
    with SessionModel(version) as model:
        for user in ids[:20]:
            model.run(contract.RETRIEVE, {contract.USER_ID: [user]})
        served[contract.RETRIEVE] = serving_benchmark.latency_summary(
            [serving_benchmark.latencies_ms(
                lambda i: model.run(contract.RETRIEVE, {contract.USER_ID: [ids[i]]}), len(ids))])
    return served


def run(sizes: Sequence[str], report_dir: str, log: Callable[[str], None] = print,
        table: Dict[str, Tuple[int, int, int]] = SIZES,
        gate_examples: int = DataConfig.gate_examples) -> Dict:
    """Runs the pipeline at each named size of `table` (users, movies, ratings), in order.

    Sizes measured before (in `report_dir`'s scale.json) and not named here are kept, so the
    long sizes can be run one session at a time; the report lists them by size and is
    written again after each size, so a stopped or failed run keeps the sizes it finished."""
    previous = os.path.join(report_dir, "scale.json")
    kept: Dict[str, Dict] = {}
    if os.path.exists(previous):
        with open(previous, encoding="utf-8") as saved:
            kept = {r["size"]: r for r in json.load(saved)["results"] if r["size"] not in sizes}
    report: Dict = {}
    for name in sizes:
        log(f"{name}: {table[name][2]:,} ratings ...")
        with tempfile.TemporaryDirectory(prefix=f"scale-{name}-") as root:
            kept[name] = _run_size(name, table[name], root, gate_examples, log)
        report = _publish(kept, report_dir)
    return report


def _publish(kept: Dict[str, Dict], report_dir: str) -> Dict:
    results = sorted(kept.values(), key=lambda result: result["ratings"])
    report = {**files.report_header("synthetic"), "results": results}
    files.publish_text(os.path.join(report_dir, "scale.json"), json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "scale.md"), markdown(report))
    files.publish(os.path.join(report_dir, "scale.png"), lambda path: _plot(report, path))
    return report


def _component(result: Dict, name: str) -> Optional[Dict]:
    """A size's record of the component `name`; None for a size measured before it existed."""
    return next((c for c in result["components"] if c["component"] == name), None)


def _components(results: List[Dict]) -> List[str]:
    """Every component any size records, in the order of the size that records the most."""
    fullest = max(results, key=lambda result: len(result["components"]))
    return [c["component"] for c in fullest["components"]]


def _growth(results: List[Dict], component: str = "") -> List[str]:
    """(time ratio) / (ratings ratio) from each size to the next (blank where either size
    lacks the component)."""
    def seconds(result: Dict) -> Optional[float]:
        if not component:
            return result["seconds"]
        found = _component(result, component)
        return found["seconds"] if found else None

    cells = [""]
    for small, large in zip(results, results[1:]):
        small_seconds, large_seconds = seconds(small), seconds(large)
        if small_seconds is None or large_seconds is None:
            cells.append("")
            continue
        time_ratio = large_seconds / max(small_seconds, 1e-9)
        cells.append(f"{time_ratio / (large['ratings'] / small['ratings']):.2f}")
    return cells


def markdown(report: Dict) -> str:
    """The text of scale.md: each component's seconds, peak RSS, rate and growth by size; the
    whole run with the gate; and the training, pushed-model and gate-sample tables."""
    results = report["results"]
    lines = ["# Scale: the whole pipeline on synthetic data of MovieLens sizes",
             "", f"{report['machine']}, {report['date']}. Growth = (time ratio) / (ratings "
             "ratio) from the size above: 1.00 is linear.", ""]
    for name in _components(results):
        growth = _growth(results, name)
        lines += [f"## {name}", "", "| size | seconds | peak RSS (GB) | ratings/s | growth |",
                  "|---|---|---|---|---|"]
        for result, cell in zip(results, growth):
            component = _component(result, name)
            if component is None:
                lines.append(f"| {result['size']} | – (measured before this step existed) "
                             "| | | |")
                continue
            lines.append(f"| {result['size']} | {component['seconds']:.1f} | "
                         f"{component['peak_rss_gb']:.2f} | "
                         f"{component['examples_per_second']:,.0f} | {cell} |")
        lines.append("")
    lines += ["## Whole run and the gate", "",
              "| size | seconds | peak RSS (GB) | growth | RMSE / global mean's | "
              "top-k / most popular's | blessed |", "|---|---|---|---|---|---|---|"]
    for result, cell in zip(results, _growth(results)):
        gate = result["gate"]
        lines.append(f"| {result['size']} | {result['seconds']:.0f} | "
                     f"{result['peak_rss_gb']:.2f} | {cell} | {gate['rmse']:.3f} / "
                     f"{gate['baseline_rmse']:.3f} | {gate['top_k_accuracy']:.3f} / "
                     f"{gate['baseline_top_k_accuracy']:.3f} | "
                     f"{'yes' if gate['passed'] else 'no'} |")
    lines += ["", "## Training", "",
              "The Trainer's phases: reading the train split through the Transform graph, "
              "Keras fitting, and the export; the rest of its time is building the model "
              "(history tables, validation slice) and TFX's own work. A step is one batch.",
              "",
              "| size | training ratings | read (s) | examples seen | epochs | fit (s) | "
              "ms per step (validation included) | export (s) | why it stopped |",
              "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        training = result.get("training")
        if training:
            step_ms = "–"  # a size measured before the batch size was recorded
            if "batch_size" in training:
                seconds_per_example = training["seconds"] / training["examples_seen"]
                step_ms = f"{1000 * seconds_per_example * training['batch_size']:.1f}"
            lines.append(
                f"| {result['size']} | {training['training_ratings']:,} | "
                f"{_seconds(training.get('read_seconds'))} | {training['examples_seen']:,} | "
                f"{training['epochs']} | {training['seconds']:.0f} | "
                f"{step_ms} | "
                f"{_seconds(training.get('export_seconds'))} | "
                f"{training['stopped_because'].split(';')[0]} |")
    lines += ["", "## The pushed model", "",
              "Pushed only when blessed and servable (TF Serving's loader and every warm-up "
              "request). `retrieve` for one user through TF Serving's session path, 500 "
              "requests after warm-up.", "",
              "| size | push | saved_model.pb (MB) | version on disk (MB) | retrieve p50 / p99 "
              "(ms) |", "|---|---|---|---|---|"]
    for result in results:
        served = result.get("served")
        if served and contract.RETRIEVE in served:
            latency = served[contract.RETRIEVE]
            lines.append(f"| {result['size']} | {served['outcome']} | {served['graph_mb']:.1f} "
                         f"| {served['total_mb']:.0f} | {latency['p50_ms']:.2f} / "
                         f"{latency['p99_ms']:.2f} |")
        elif served:
            lines.append(f"| {result['size']} | {served['outcome']} | | | |")
    lines += ["", "## The gate's sample", "",
              "The Evaluator reads a seeded sample of eval (DataConfig.gate_examples). The "
              "same ratios on further seeded samples of that size, from the model's "
              "`serving_default` outputs: mean ± std [min, max], and how many samples the "
              "default relative gate blesses.", "",
              "| size | eval ratings | sample | RMSE / global mean's | top-k / most popular's "
              "| blessed |", "|---|---|---|---|---|---|"]
    for result in results:
        spread = result.get("gate_spread")
        if spread is None:
            continue
        if not spread["samples"]:
            lines.append(f"| {result['size']} | {spread['eval_size']:,} | all of eval | "
                         "(no sampling) | (no sampling) | |")
            continue
        cells = [f"{spread[n]['mean']:.3f} ± {spread[n]['std']:.3f} [{spread[n]['min']:.3f}, "
                 f"{spread[n]['max']:.3f}]" for n in ("rmse_over_baseline",
                                                      "top_k_over_baseline")]
        lines.append(f"| {result['size']} | {spread['eval_size']:,} | "
                     f"{spread['sample_size']:,} | {cells[0]} | {cells[1]} | "
                     f"{spread['blessed']} of {spread['samples']} |")
    return "\n".join(lines + [""])


def _plot(report: Dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    results = report["results"]
    figure, axis = pyplot.subplots(figsize=(7, 5))
    ratings = [r["ratings"] for r in results]
    for name in _components(results):
        measured = [(r["ratings"], _component(r, name)) for r in results]
        points = [(x, c["seconds"]) for x, c in measured if c is not None]
        if max(seconds for _, seconds in points) >= 0.5:
            axis.plot(*zip(*points), marker="o", label=name)
    axis.plot(ratings, [r["seconds"] for r in results], marker="s", color="black",
              label="whole run")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("ratings")
    axis.set_ylabel("seconds")
    axis.legend(fontsize=8)
    axis.set_title("Pipeline time by data size (synthetic MovieLens sizes)")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    pyplot.close(figure)

