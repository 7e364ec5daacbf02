"""The research and benchmark subcommands of `movielens-tfx`, added to the product's command
line through the entry-point group `pipeline.cli.COMMANDS` (setup.py): bench-pipeline,
bench-serving, bench-scale, bench-distributed and experiments. The product never imports
this package."""

from __future__ import annotations

import argparse
import os
import sys

from bench.releases import SIZES
from common.config_error import require
from pipeline import options


def add_commands(commands) -> None:
    """Adds this package's subcommands to argparse's `commands`."""
    for add in (_add_bench_pipeline, _add_bench_serving, _add_bench_scale,
                _add_bench_distributed, _add_experiments):
        add(commands)


def _log(line: str) -> None:
    print(line, flush=True)


def _print_report(path: str) -> None:
    with open(path, encoding="utf-8") as report:
        print(report.read())


def _add_bench_pipeline(commands) -> None:
    bench = commands.add_parser(
        "bench-pipeline", help="time a cold and a cached run of the whole pipeline")
    bench.set_defaults(handler=_bench_pipeline)
    options.add_data_options(bench)
    options.add_model_options(bench)
    bench.add_argument("--beam-workers", type=int, default=0)
    bench.add_argument("--cold-runs", type=int, default=3,
                       help="cold runs, each in a fresh root: the spread of what the new "
                            "steps cost (default 3)")
    bench.add_argument("--report-dir", default="reports/pipeline")


def _bench_pipeline(args: argparse.Namespace) -> int:
    from bench import pipeline_benchmark
    from pipeline.config import PipelineConfig

    require(args.cold_runs >= 1, "--cold-runs", "at least 1", args.cold_runs)
    options.configure_logging(verbose=False)
    config = PipelineConfig(pipeline_root="unused", data=options.data_config(args),
                            model=options.model_config(args), gate=options.gate_config(args),
                            beam_workers=args.beam_workers)
    pipeline_benchmark.run(config, args.report_dir, log=_log, cold_runs=args.cold_runs)
    _print_report(os.path.join(args.report_dir, "pipeline.md"))
    return 0


def _add_bench_serving(commands) -> None:
    bench_serving = commands.add_parser(
        "bench-serving", help="latency and throughput of the pushed model and of the client")
    bench_serving.set_defaults(handler=_bench_serving)
    options.add_data_options(bench_serving)
    options.add_model_options(bench_serving)
    bench_serving.add_argument(
        "--pipeline-root", default=os.path.join(options.DEFAULT_PIPELINE_ROOT, "bench-serving"),
        help="the pipeline that trains the benchmarked model runs here (cached on re-runs)")
    bench_serving.add_argument("--report-dir", default="reports/serving")


def _bench_serving(args: argparse.Namespace) -> int:
    import tensorflow_transform as tft

    from bench import serving_benchmark
    from common import features
    from components.pusher.component import PUSHED_MODEL, recorded_outcome
    from pipeline import local_runner
    from pipeline.config import PipelineConfig, ServingConfig
    from pipeline.pipeline import PUSHER, TRANSFORM
    from serving import client

    options.configure_logging(verbose=False)
    root = os.path.abspath(args.pipeline_root)
    config = PipelineConfig(pipeline_root=root, data=options.data_config(args),
                            model=options.model_config(args), gate=options.gate_config(args),
                            serving=ServingConfig(os.path.join(root, "serving")))
    runs = {r.component: r for r in local_runner.run(config)}
    pushed = recorded_outcome(runs[PUSHER].properties[PUSHED_MODEL])
    if pushed.destination is None:
        raise client.ServingError(f"bench-serving: this run pushed no model: {pushed.reason}")
    vocabularies = tft.TFTransformOutput(runs[TRANSFORM].outputs["transform_graph"])
    users, movies = ([v.decode() for v in vocabularies.vocabulary_by_name(name)]
                     for name in (features.USER_VOCABULARY, features.MOVIE_VOCABULARY))
    serving_benchmark.run(pushed.destination, users, movies, args.report_dir,
                          config.data.source, log=_log)
    _print_report(os.path.join(args.report_dir, "serving.md"))
    return 0


def _add_bench_scale(commands) -> None:
    bench_scale = commands.add_parser(
        "bench-scale", help="the whole pipeline at MovieLens sizes: time, memory, gate")
    bench_scale.set_defaults(handler=_bench_scale)
    bench_scale.add_argument("--sizes", nargs="+", default=["ml-100k", "ml-1m"],
                             choices=sorted(SIZES))
    bench_scale.add_argument("--report-dir", default="reports")


def _bench_scale(args: argparse.Namespace) -> int:
    from bench import scale_benchmark

    try:
        scale_benchmark.run(args.sizes, args.report_dir, log=_log)
    except scale_benchmark.RunFailed as error:
        print(f"movielens-tfx bench-scale: {error}", file=sys.stderr)
        return 1
    _print_report(os.path.join(args.report_dir, "scale.md"))
    return 0


def _add_bench_distributed(commands) -> None:
    bench = commands.add_parser(
        "bench-distributed", help="training on two workers of one core against one worker")
    bench.set_defaults(handler=_bench_distributed)
    bench.add_argument("--data", required=True, help="a MovieLens release's directory or zip")
    bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench.add_argument("--epochs", type=int, default=20, help="at most (early stopping)")
    bench.add_argument("--report-dir", default="reports/ml-100k")


def _bench_distributed(args: argparse.Namespace) -> int:
    from bench import distributed_benchmark

    cores = os.cpu_count() or 1
    require(cores >= 2, "this machine's cores", "at least 2 (one a worker)", cores)
    distributed_benchmark.run(os.path.abspath(args.data), args.seeds, args.report_dir,
                              epochs=args.epochs, log=_log)
    _print_report(os.path.join(args.report_dir, "distributed.md"))
    return 0


def _add_experiments(commands) -> None:
    experiments = commands.add_parser(
        "experiments", help="compare rating-only, retrieval-only and multi-task models")
    experiments.set_defaults(handler=_experiments)
    options.add_data_options(experiments)
    options.add_model_options(experiments)
    experiments.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44],
                             help="one split and one training of each model per seed")
    experiments.add_argument("--report-dir", default="reports/experiments",
                             help="where results.json, results.md and results.png go")
    experiments.add_argument("--holdout", action="store_true",
                             help="score on a seeded holdout of train instead of eval (for "
                                  "choosing defaults without looking at eval)")
    experiments.add_argument("--peers", nargs="+", default=["all"], metavar="PEER",
                             help="library peers to tune and score beside the model: all "
                                  "(default), none, or names from EASE ItemKNN iALS BPR SVD "
                                  "SVD++ (they need pip install -e '.[bench]')")
    experiments.add_argument("--variants", nargs="+", default=[], metavar="VARIANT",
                             help="variants of the multi-task model to add beside it, each "
                                  "held to its ranking (bench/experiments.py: VARIANTS)")


def _experiments(args: argparse.Namespace) -> int:
    from bench import experiments, peers

    report = experiments.run(options.data_config(args), options.model_config(args), args.seeds,
                             args.report_dir, log=_log, peers=peers.named(args.peers),
                             holdout=args.holdout, variants=args.variants)
    print(f"\nReport: {os.path.join(args.report_dir, 'results.md')} (and .json, .png)")
    for target in report["targets"]:
        print(f"  {target['model']} {target['metric']} {target['target']}: {target['value']:.4f} "
              f"({'met' if target['met'] else 'NOT met'})")
    return 0
