"""Training on two workers against one, on this machine: wall time, examples per second,
quality over seeds, and what a step costs in communication against computation.

Each training runs in fresh processes (a worker's collective ops are configured when its
TensorFlow starts): one worker on both cores; two workers of one core each (the cores
pinned by the benchmark, never by the trainer), talking over loopback; and, for the cost of
computation alone, one worker on one core training on the half batch that each of the two
workers trains on. Results go to `<report_dir>/distributed.json` and `distributed.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Any, Callable, Dict, List, Sequence

from pipeline import files

QUALITY = ("rmse_stars", "top10_5star", "ndcg@10")
ONE = "1 worker, 2 cores"
TWO = "2 workers, 1 core each"
HALF = "1 worker, 1 core, half batch"
WORKER_TIMEOUT = 3600.0  # seconds a training may take before the benchmark gives up


def _pin(core: int) -> None:
    """This process on one core, with TensorFlow's thread pools sized to it (before TF
    runs anything)."""
    import tensorflow as tf

    os.sched_setaffinity(0, {core})
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def gradient_bytes(model, features, rating) -> Dict[str, int]:
    """What one replica's gradients of one step hold, in bytes: the embedding tables' rows
    the batch touched (values and indices, as the workers exchange them) and the dense
    gradients (the rating MLP, and tables a whole-catalogue softmax reads)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        predicted = model(features, training=True)
        loss = model.compute_loss(features, rating, predicted)
    sparse = dense = 0
    for gradient in tape.gradient(loss, model.trainable_variables):
        if isinstance(gradient, tf.IndexedSlices):
            sparse += int(gradient.values.numpy().nbytes + gradient.indices.numpy().nbytes)
        elif gradient is not None:
            dense += int(gradient.numpy().nbytes)
    return {"sparse": sparse, "dense": dense}


def _worker(argv: Sequence[str]) -> None:
    """One training process: trains, and (the chief) scores the model on eval and writes
    the result as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--core", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.core >= 0:
        _pin(args.core)
    from trainer import distribution

    placement = distribution.place()  # before anything else runs TensorFlow
    from bench import experiments
    from components.movielens import sources
    from components.movielens.config import DataConfig
    from trainer import train
    from trainer.config import ModelConfig

    data, is_eval = sources.load_split(DataConfig(source=args.data, split_seed=args.seed))
    train_set, eval_set, num_users, num_movies = experiments.index_split(data, is_eval)
    config = ModelConfig(seed=args.seed, batch_size=args.batch_size, epochs=args.epochs)
    result = train.fit(config, train_set, num_users, num_movies, verbose=0,
                       placement=placement)
    distribution.barrier(placement)
    if not placement.is_chief:
        return
    steps = result.examples_seen // config.batch_size
    record: Dict[str, Any] = {
        "seconds": result.seconds, "examples_per_second": result.examples_per_second,
        "epochs": result.epochs_run, "steps": steps,
        "step_seconds": (result.seconds - result.validation_seconds) / max(steps, 1),
        "devices": placement.describe()}
    record.update({name: value for name, value in experiments.evaluate(
        result.model, train_set, eval_set, num_users, num_movies).items()
        if name in QUALITY})
    if placement.workers == 1:
        batch = next(iter(train_set.dataset(config.batch_size, shuffle_seed=args.seed,
                                            user_run=config.user_run)))
        record["gradient_bytes"] = gradient_bytes(result.model, *batch)
    files.publish_text(args.out, json.dumps(record))


def _train(data: str, seed: int, workers: int, cores: Sequence[int], batch_size: int,
           epochs: int, scratch: str) -> Dict[str, Any]:
    """Runs one training (`workers` processes, worker i on cores[i] if given) and returns
    the chief's record."""
    from components.trainer import local_workers

    out = os.path.join(scratch, f"{seed}-{workers}-{batch_size}.json")
    command = [sys.executable, "-m", "bench.distributed_benchmark", "--data", data,
               "--seed", str(seed), "--batch-size", str(batch_size), "--epochs", str(epochs),
               "--out", out]
    commands = [command + (["--core", str(cores[index])] if cores else [])
                for index in range(workers)]
    local_workers.run_workers(commands, local_workers.tf_configs(workers),
                              timeout=WORKER_TIMEOUT)
    with open(out, encoding="utf-8") as record:
        return json.load(record)


def _spread(values: List[float]) -> Dict[str, float]:
    return {"mean": statistics.mean(values), "min": min(values), "max": max(values)}


def run(data: str, seeds: Sequence[int], report_dir: str, epochs: int = 20,
        batch_size: int = 1024, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Trains every condition on every seed (the half-batch one on the first seed only: it
    measures a step's computation, not quality); writes and returns the report."""
    runs: Dict[str, List[Dict[str, Any]]] = {ONE: [], TWO: [], HALF: []}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            for name, workers, cores in ((ONE, 1, ()), (TWO, 2, (0, 1))):
                record = _train(data, seed, workers, cores, batch_size, epochs, scratch)
                runs[name].append(record)
                log(f"seed {seed}, {name}: {record['seconds']:.1f} s, "
                    f"{record['examples_per_second']:,.0f} examples/s, "
                    f"{record['epochs']} epochs; RMSE {record['rmse_stars']:.4f}, top-10 "
                    f"5-star {record['top10_5star']:.4f}, NDCG@10 {record['ndcg@10']:.4f}")
        half = _train(data, seeds[0], 1, (0,), batch_size // 2, epochs, scratch)
        runs[HALF].append(half)
        log(f"seed {seeds[0]}, {HALF}: {half['step_seconds'] * 1000:.1f} ms a step")
    report = summarise(runs, data, seeds, batch_size)
    os.makedirs(report_dir, exist_ok=True)
    files.publish_text(os.path.join(report_dir, "distributed.json"),
                       json.dumps(report, indent=2))
    files.publish_text(os.path.join(report_dir, "distributed.md"), markdown(report))
    return report


def summarise(runs: Dict[str, List[Dict[str, Any]]], data: str, seeds: Sequence[int],
              batch_size: int) -> Dict[str, Any]:
    """Each condition's spread over seeds; a step's time split into computation (one core,
    the half batch) and the rest, communication and waiting (two workers' step less it)."""
    conditions = {
        name: {metric: _spread([run[metric] for run in records])
               for metric in ("seconds", "examples_per_second", "epochs", "step_seconds",
                              *QUALITY)}
        for name, records in runs.items() if name != HALF}
    half = runs[HALF][0]
    two_step = conditions[TWO]["step_seconds"]["mean"]
    compute = half["step_seconds"]
    return {"data": os.path.basename(os.path.normpath(data)), "seeds": list(seeds),
            "batch_size": batch_size, "conditions": conditions, "runs": runs,
            "speedup": {key: conditions[TWO][key]["mean"] / conditions[ONE][key]["mean"]
                        for key in ("examples_per_second",)},
            "step": {"two_workers_ms": 1000 * two_step, "computation_ms": 1000 * compute,
                     "communication_ms": 1000 * (two_step - compute),
                     "one_worker_ms": 1000 * conditions[ONE]["step_seconds"]["mean"],
                     "gradient_bytes": half["gradient_bytes"]}}


def _cell(spread: Dict[str, float], digits: int) -> str:
    return (f"{spread['mean']:,.{digits}f} ({spread['min']:,.{digits}f}-"
            f"{spread['max']:,.{digits}f})")


def markdown(report: Dict[str, Any]) -> str:
    """The report as a page: the conditions side by side, then a step's cost."""
    rows = [("wall time of training (s)", "seconds", 1),
            ("examples per second", "examples_per_second", 0), ("epochs", "epochs", 1),
            ("a step (ms)", "step_seconds", 4), ("RMSE (stars)", "rmse_stars", 4),
            ("top-10 on 5-star pairs", "top10_5star", 4), ("NDCG@10", "ndcg@10", 4)]
    names = [name for name in (ONE, TWO) if name in report["conditions"]]
    lines = [f"# Two training workers against one: {report['data']}", "",
             f"Seeds {', '.join(map(str, report['seeds']))}; batch {report['batch_size']:,} "
             "(all replicas together); default model otherwise. Mean (min-max) over the "
             "seeds. Written by `movielens-tfx bench-distributed`.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, key, digits in rows:
        scale = 1000.0 if key == "step_seconds" else 1.0
        cells = []
        for name in names:
            spread = {k: v * scale for k, v in report["conditions"][name][key].items()}
            cells.append(_cell(spread, 1 if key == "step_seconds" else digits))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    step = report["step"]
    sent = step["gradient_bytes"]
    lines += ["", f"Two workers train at {report['speedup']['examples_per_second']:.2f} x "
              "one worker's examples per second (the ratio of the means).", "",
              "## A step's cost", "",
              f"- one worker on both cores: {step['one_worker_ms']:.1f} ms a step;",
              f"- two workers of one core each: {step['two_workers_ms']:.1f} ms a step, of "
              f"which computation {step['computation_ms']:.1f} ms (one worker on one core "
              f"with the half batch each worker trains on) and communication and waiting "
              f"{step['communication_ms']:.1f} ms;",
              f"- each worker's gradients of a step: {sent['sparse'] / 1e3:,.0f} kB of "
              f"embedding rows the batch touched (values and indices) and "
              f"{sent['dense'] / 1e3:,.0f} kB dense (the rating MLP, and the movie table "
              "when the whole-catalogue softmax reads it)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """A benchmark worker process (`python -m bench.distributed_benchmark ...`)."""
    _worker(sys.argv[1:])


if __name__ == "__main__":
    main()
