"""The `movielens-tfx` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import gc
import logging as std_logging
import math
import os
import signal
import sys
import time
import warnings
from typing import Optional, Sequence

from serving.client import DEFAULT_TIMEOUT

# Exit codes of `run` (README, "Running"): 2 is a configuration or input error.
EXIT_FAILED = 1  # a component failed (one line names it and the error)
EXIT_NOT_BLESSED = 3  # the gate refused the candidate: nothing pushed
EXIT_NOT_PUSHED = 4  # blessed, but not pushed (e.g. TF Serving could not load it)
EXIT_ROOT_IN_USE = 75  # another run holds the pipeline root (EX_TEMPFAIL: try again later)
EXIT_SIGNALLED = 128  # + the signal's number: 130 for SIGINT (Ctrl-C), 143 for SIGTERM


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the run unwinds the same way
    (Python's default for SIGTERM ends the process without running any cleanup)."""


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted()

# TensorFlow's C++ start-up chatter (CUDA not found, cuFFT/cuDNN factories; logged as errors)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Google's client libraries warn that Python 3.10 (and grpcio) is old; the TFX 1.16 stack
# requires both. The environment variable carries this to `--beam-workers` processes.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
os.environ.setdefault("PYTHONWARNINGS", ",".join(
    f"ignore::FutureWarning:{module}"
    for module in ("google.api_core._python_version_support", "google.auth.transport.grpc")))


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default="synthetic",
        help="'synthetic' (built-in generator, default), 'tfds' (movielens/100k-ratings, needs "
             "the network once), or the path of a MovieLens directory or zip")
    parser.add_argument("--split", default="random", choices=["random", "temporal"])
    parser.add_argument("--eval-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the random split and of the synthetic data")
    parser.add_argument("--synthetic-users", type=int, default=943)
    parser.add_argument("--synthetic-movies", type=int, default=1682)
    parser.add_argument("--synthetic-ratings", type=int, default=100_000)
    parser.add_argument("--gate-examples", type=int, default=None,
                        help="the pipeline's gate reads a seeded sample of this many eval "
                             "ratings, all of eval when smaller "
                             "(default: DataConfig.gate_examples)")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", action="append", default=[], metavar="FIELD=VALUE", dest="model_overrides",
        help="override one ModelConfig field (trainer/config.py), e.g. --model epochs=5 "
             "--model rating_layers=64,32 (repeatable)")
    parser.add_argument(
        "--gate", action="append", default=[], metavar="FIELD=VALUE", dest="gate_overrides",
        help="override one GateConfig field, e.g. --gate max_rmse=1.0 (repeatable)")


def _add_image_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image", default=None,
        help="this project's container image (Dockerfile): what Kubeflow's pods and remote Beam "
             "workers (Dataflow, Flink, Spark) run; the local runners ignore it")


def _add_push_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-name", default="movielens")
    parser.add_argument("--pipeline-name", default=None,
                        help="the pipeline's name in ML Metadata, where the gate looks for "
                             "blessed models (default: movielens-recommender)")
    parser.add_argument("--replace-unknown-version", action="store_true",
                        help="push even when the newest served version was pushed from "
                             "another pipeline root (never compared with the candidate); "
                             "refused otherwise")


def _serving_config(args: argparse.Namespace, serving_dir: str):
    from pipeline.config import ServingConfig

    return ServingConfig(serving_dir, args.model_name, args.replace_unknown_version)


def _image(args: argparse.Namespace) -> dict:
    """PipelineConfig's image and name arguments, where the command line gave them."""
    given = {"image": args.image, "pipeline_name": args.pipeline_name}
    return {name: value for name, value in given.items() if value}


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--server", metavar="URL",
                        help="TF Serving's REST address, e.g. http://localhost:8501")
    target.add_argument("--grpc", metavar="HOST:PORT",
                        help="TF Serving's gRPC address, e.g. localhost:8500")
    target.add_argument("--model-dir", default=None,
                        help="a pushed model directory, run in this process with TF Serving's "
                             "loader (newest version; default serving_model/movielens)")
    parser.add_argument("--model-name", default="movielens", help="the model's name on the server")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--version", type=int, help="a model version (default: the newest)")
    version.add_argument("--label", help="a version label of the server's model config")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds per request")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movielens-tfx", description="A TFX pipeline for a multi-task movie recommender.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the pipeline locally (LocalDagRunner)")
    _add_data_options(run)
    run.add_argument("--pipeline-root", default="pipeline_output",
                     help="where artifacts and the SQLite ML Metadata store go")
    run.add_argument("--beam-workers", type=int, default=0,
                     help="0: Beam in-process (default); N: DirectRunner with N processes")
    run.add_argument("--beam-runner", choices=["direct", "portable"], default="direct",
                     help="portable: Beam's job service and an SDK worker pool as local "
                          "processes, the path Flink, Spark and Dataflow take")
    run.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                     help="an extra Beam pipeline option, e.g. --beam-arg=--runner=DataflowRunner"
                          " (repeatable)")
    _add_image_option(run)
    run.add_argument("--serving-dir", default="serving_model",
                     help="blessed models go to SERVING_DIR/MODEL_NAME/<version>/")
    _add_push_options(run)
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.add_argument("--verbose", action="store_true", help="show TFX's and Beam's own logs")
    _add_model_options(run)

    compile_ = commands.add_parser(
        "compile", help="compile the pipeline for an orchestrator (kfp: Kubeflow Pipelines v2)")
    compile_.add_argument("target", choices=["kfp"])
    compile_.add_argument("--output", required=True,
                          help="pipeline.yaml (PipelineSpec for KFP on GKE) or pipeline.json "
                               "(Vertex AI PipelineJob)")
    _add_image_option(compile_)
    compile_.add_argument("--pipeline-root", required=True,
                          help="where the pipeline writes artifacts, e.g. gs://BUCKET/root")
    compile_.add_argument("--serving-dir", required=True,
                          help="where blessed models are pushed, as seen from the cluster")
    _add_push_options(compile_)
    compile_.add_argument("--beam-arg", action="append", default=[], dest="beam_args")
    _add_data_options(compile_)
    _add_model_options(compile_)

    bench = commands.add_parser(
        "bench-pipeline", help="time a cold and a cached run of the whole pipeline")
    _add_data_options(bench)
    _add_model_options(bench)
    bench.add_argument("--beam-workers", type=int, default=0)
    bench.add_argument("--report-dir", default="reports/pipeline")

    bench_serving = commands.add_parser(
        "bench-serving", help="latency and throughput of the pushed model and of the client")
    _add_data_options(bench_serving)
    _add_model_options(bench_serving)
    bench_serving.add_argument(
        "--pipeline-root", default=os.path.join("pipeline_output", "bench-serving"),
        help="the pipeline that trains the benchmarked model runs here (cached on re-runs)")
    bench_serving.add_argument("--report-dir", default="reports/serving")

    bench_scale = commands.add_parser(
        "bench-scale", help="the whole pipeline at MovieLens sizes: time, memory, gate")
    bench_scale.add_argument("--sizes", nargs="+", default=["ml-100k", "ml-1m"],
                             choices=["ml-100k", "ml-1m", "ml-10m", "ml-25m"])
    bench_scale.add_argument("--report-dir", default="reports")

    experiments = commands.add_parser(
        "experiments", help="compare rating-only, retrieval-only and multi-task models")
    _add_data_options(experiments)
    _add_model_options(experiments)
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
                                  "held to its ranking (pipeline/experiments.py: VARIANTS)")

    recommend = commands.add_parser(
        "recommend", help="a user's top movies from the pushed model (TF Serving or on disk)")
    recommend.add_argument("--user", required=True, nargs="+", help="MovieLens user id(s)")
    recommend.add_argument("--k", type=int, default=None,
                           help="how many movies (at most the model's top_k; default all)")
    _add_serving_options(recommend)

    rate = commands.add_parser(
        "rate", help="a user's predicted rating (1-5 stars) of movies, by id or title")
    rate.add_argument("--user", required=True, help="MovieLens user id")
    rate.add_argument("--movie", required=True, nargs="+",
                      help="movie id(s) or title(s), e.g. 50 or 'Star Wars (1977)' or "
                           "'star wars' (case ignored, year optional)")
    _add_serving_options(rate)

    generate = commands.add_parser(
        "generate", help="write the synthetic data set as ml-100k files (u.data, u.item)")
    _add_data_options(generate)
    generate.add_argument("--output", required=True, help="directory to write into")
    return parser


def _data_config(args: argparse.Namespace):
    from components import storage
    from components.movielens.synthetic import SyntheticConfig
    from components.movielens.config import DataConfig

    local = args.data not in ("synthetic", "tfds") and not storage.is_url(args.data)
    return DataConfig(
        source=os.path.abspath(args.data) if local else args.data,  # one name from any folder
        split=args.split,
        eval_fraction=args.eval_fraction,
        split_seed=args.seed,
        **({} if args.gate_examples is None else {"gate_examples": args.gate_examples}),
        synthetic=SyntheticConfig(
            num_users=args.synthetic_users, num_movies=args.synthetic_movies,
            num_ratings=args.synthetic_ratings, seed=args.seed),
    )


def _model_config(args: argparse.Namespace):
    from trainer.config import ModelConfig
    from pipeline.config import overridden

    return overridden(ModelConfig(), args.model_overrides, "--model")


def _gate_config(args: argparse.Namespace):
    from components.gate_config import GateConfig
    from pipeline.config import overridden

    return overridden(GateConfig(), args.gate_overrides, "--gate")


def _configure_logging(verbose: bool) -> None:
    from absl import logging

    if verbose:
        logging.set_verbosity(logging.INFO)
        return
    # Keep TFX's one-line progress per component, drop the rest of its INFO output and the
    # warnings known to be harmless with this stack (see README, "Known noise").
    logging.set_verbosity(logging.INFO)
    progress = ("is running.", "is finished.", "MovieLensExampleGen:", "Training stopped")
    harmless = ("Tables initialized inside a tf.function", "property_predicate is not supported",
                "python-snappy", "does not have payload_format",
                "is deprecated and will be removed in a future version",
                # what each `--beam-workers` process says as it starts
                "No semi_persistent_directory found", "Discarding unparseable args")

    class _Progress(std_logging.Filter):
        def filter(self, record: std_logging.LogRecord) -> bool:
            message = record.getMessage()
            if any(h in message for h in harmless):
                return False
            return record.levelno >= std_logging.WARNING or any(p in message for p in progress)

    # local_job_service forwards the logs of `--beam-workers` processes.
    for name in ("absl", "tensorflow", "apache_beam.io.tfrecordio",
                 "apache_beam.runners.portability.local_job_service"):
        std_logging.getLogger(name).addFilter(_Progress())


def _run(args: argparse.Namespace) -> int:
    from components import storage
    from pipeline import local_runner, run_lock
    from pipeline.config import PipelineConfig

    config = PipelineConfig(
        pipeline_root=os.path.abspath(args.pipeline_root),
        data=_data_config(args),
        model=_model_config(args),
        gate=_gate_config(args),
        serving=_serving_config(args, args.serving_dir if storage.is_url(args.serving_dir)
                                else os.path.abspath(args.serving_dir)),
        enable_cache=not args.no_cache,
        beam_workers=args.beam_workers,
        extra_beam_args=tuple(args.beam_args),
        beam_runner=args.beam_runner,
        **_image(args),
    )
    _configure_logging(args.verbose)
    started = time.monotonic()
    default_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        components = local_runner.run(config)
    except KeyboardInterrupt as stop:
        return _report_interrupt(config, signal.SIGTERM if isinstance(stop, Interrupted)
                                 else signal.SIGINT)
    except Exception as error:  # a component failed: one line, unless asked for the rest
        if isinstance(error, (*_user_errors(), run_lock.RootInUse)) or args.verbose:
            raise
        failed = local_runner.failed_components(config)
        if not failed:
            raise
        print(f"movielens-tfx run: error: {', '.join(failed)} failed: "
              f"{type(error).__name__}: {error}; nothing was pushed, the served versions are "
              "as they were (--verbose shows the traceback)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, default_handler)
    elapsed = time.monotonic() - started
    print(f"\nPipeline '{config.pipeline_name}' finished in {elapsed:.1f} s. "
          f"ML Metadata: {config.metadata_path}")
    for component in components:
        state = "cached" if component.cached else "ran"
        print(f"  {component.component} ({state}, {component.seconds:.1f} s)")
        for name, uri in sorted(component.outputs.items()):
            print(f"    {name}: {uri}")
    # The resolver node is re-resolved on every run; it has no outputs of its own to cache.
    if components and all(c.cached for c in components if c.outputs):
        print("Nothing changed since the last run: every component was served from the cache.")
    return _print_gate(config, components)


def _report_interrupt(config, signum: signal.Signals) -> int:
    """One line: which component stopped and what the next run reuses."""
    from pipeline import local_runner

    stopped, done = local_runner.cancel_interrupted(config)
    where = f" during {', '.join(stopped)}" if stopped else ""
    kept = (f"; {', '.join(done)} completed and will be reused: the next run resumes there"
            if done else "; nothing had completed")
    print(f"movielens-tfx run: interrupted ({signum.name}){where}{kept}", file=sys.stderr)
    return EXIT_SIGNALLED + signum


def _print_gate(config, components) -> int:
    """Prints the gate's numbers, why a candidate was refused, and where the model went;
    returns the run's exit code (EXIT_NOT_BLESSED, EXIT_NOT_PUSHED or 0)."""
    from components.evaluator import describe_failure, gate_summary
    from components.pusher import PUSH_OUTCOME
    from pipeline import local_runner

    evaluator = next((c for c in components if c.component == "Evaluator"), None)
    if evaluator is None:
        return 0
    gate, bounds = gate_summary(evaluator.outputs["evaluation"]), config.gate
    absolute = "".join([f", at most {bounds.max_rmse}" if math.isfinite(bounds.max_rmse) else "",
                        f"; top-k at least {bounds.min_top_k_accuracy}"
                        if bounds.min_top_k_accuracy else ""])
    compared = ("no worse than the latest blessed model" if gate["compared_with_blessed_model"]
                else "no blessed model yet to compare with")
    trainer = next((c for c in components if c.component == "Trainer"), None)
    left_out = trainer and local_runner.unfair_latest_blessed(config, trainer.outputs["model"])
    if left_out:
        compared = ("no worse than the latest blessed model of the same data and split"
                    if gate["compared_with_blessed_model"]
                    else "no blessed model of the same data and split to compare with") + \
            f" ({left_out})"
    if gate["passed"]:
        verdict = "blessed"
    else:
        reasons = [describe_failure(failure, bounds, config.model.top_k)
                   for failure in gate["failures"]]
        verdict = "NOT blessed, nothing pushed: " + "; ".join(reasons or ["see the Evaluator"])
    print(f"Gate: RMSE {gate['rmse']:.4f} stars = {gate['rmse_over_baseline']:.2f} x the "
          f"global mean rating's {gate['baseline_rmse']:.4f} (at most "
          f"{bounds.max_rmse_over_baseline} x); top-{config.model.top_k} accuracy "
          f"{gate['top_k_accuracy']:.4f} = {gate['top_k_over_baseline']:.2f} x the most popular "
          f"movies' {gate['baseline_top_k_accuracy']:.4f} (at least "
          f"{bounds.min_top_k_over_baseline} x){absolute}; {compared}: {verdict}.")
    if not gate["passed"]:
        return EXIT_NOT_BLESSED
    pusher = next((c for c in components if c.component == "VersionedPusher"), None)
    outcome = pusher.properties.get("pushed_model", {}) if pusher else {}
    if not outcome.get("pushed", 1):
        print(f"Push: {outcome.get(PUSH_OUTCOME, 'nothing pushed')}")
        return EXIT_NOT_PUSHED
    if outcome.get("pushed_destination"):
        print(f"Serving: {outcome['pushed_destination']}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from components.movielens import synthetic

    config = _data_config(args)
    data = synthetic.generate(config.synthetic)
    paths = synthetic.write_ml100k(data, args.output)
    print(f"Wrote {data.num_ratings} ratings of {config.synthetic.num_users} users on "
          f"{len(data.movies)} movies: {', '.join(paths)}")
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from pipeline import experiments, peers

    report = experiments.run(_data_config(args), _model_config(args), args.seeds,
                             args.report_dir, log=lambda line: print(line, flush=True),
                             peers=peers.named(args.peers), holdout=args.holdout,
                             variants=args.variants)
    print(f"\nReport: {os.path.join(args.report_dir, 'results.md')} (and .json, .png)")
    for target in report["targets"]:
        print(f"  {target['model']} {target['metric']} {target['target']}: {target['value']:.4f} "
              f"({'met' if target['met'] else 'NOT met'})")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from pipeline import kubeflow_runner
    from pipeline.config import PipelineConfig

    config = PipelineConfig(
        pipeline_root=args.pipeline_root, data=_data_config(args), model=_model_config(args),
        gate=_gate_config(args), serving=_serving_config(args, args.serving_dir),
        extra_beam_args=tuple(args.beam_args), **_image(args))
    path = kubeflow_runner.compile_pipeline(
        config, args.output)
    print(f"Compiled '{config.pipeline_name}' for Kubeflow Pipelines v2: {path}")
    return 0


def _bench_pipeline(args: argparse.Namespace) -> int:
    from pipeline import benchmark
    from pipeline.config import PipelineConfig

    _configure_logging(verbose=False)
    config = PipelineConfig(pipeline_root="unused", data=_data_config(args),
                            model=_model_config(args), gate=_gate_config(args),
                            beam_workers=args.beam_workers)
    benchmark.run(config, args.report_dir, log=lambda line: print(line, flush=True))
    with open(os.path.join(args.report_dir, "pipeline.md"), encoding="utf-8") as report:
        print(report.read())
    return 0


def _bench_serving(args: argparse.Namespace) -> int:
    import tensorflow_transform as tft

    from components import features
    from components.pusher import PUSH_OUTCOME
    from pipeline import local_runner, serving_benchmark
    from pipeline.config import PipelineConfig, ServingConfig
    from serving import client

    _configure_logging(verbose=False)
    root = os.path.abspath(args.pipeline_root)
    config = PipelineConfig(pipeline_root=root, data=_data_config(args), model=_model_config(args),
                            gate=_gate_config(args),
                            serving=ServingConfig(os.path.join(root, "serving")))
    runs = {r.component: r for r in local_runner.run(config)}
    pushed = runs["VersionedPusher"].properties["pushed_model"]
    if not pushed.get("pushed"):
        raise client.ServingError(f"bench-serving: this run pushed no model: "
                                  f"{pushed.get(PUSH_OUTCOME)}")
    vocabularies = tft.TFTransformOutput(runs["Transform"].outputs["transform_graph"])
    users, movies = ([v.decode() for v in vocabularies.vocabulary_by_name(name)]
                     for name in (features.USER_VOCABULARY, features.MOVIE_VOCABULARY))
    serving_benchmark.run(pushed["pushed_destination"], users, movies, args.report_dir,
                          config.data.source, log=lambda line: print(line, flush=True))
    with open(os.path.join(args.report_dir, "serving.md"), encoding="utf-8") as report:
        print(report.read())
    return 0


def _bench_scale(args: argparse.Namespace) -> int:
    from pipeline import scale_benchmark

    try:
        scale_benchmark.run(args.sizes, args.report_dir,
                            log=lambda line: print(line, flush=True))
    except scale_benchmark.RunFailed as error:
        print(f"movielens-tfx bench-scale: {error}", file=sys.stderr)
        return 1
    with open(os.path.join(args.report_dir, "scale.md"), encoding="utf-8") as report:
        print(report.read())
    return 0


def _recommender(args: argparse.Namespace):
    """The client for --server, --grpc or --model-dir, and words naming where it points."""
    from serving import client

    _configure_logging(verbose=False)
    model = client.ModelSpec(args.model_name, args.version, args.label)
    if args.server:
        return client.Recommender(client.RestTransport(args.server, model, args.timeout)), \
            f"TF Serving at {args.server}, {model}"
    if args.grpc:
        return client.Recommender(client.GrpcTransport(args.grpc, model, args.timeout)), \
            f"TF Serving gRPC at {args.grpc}, {model}"
    if args.label:
        raise client.BadRequest("--label needs a server (--server or --grpc)")
    transport = client.LocalTransport(args.model_dir or os.path.join("serving_model",
                                                                     args.model_name),
                                      args.version)
    return client.Recommender(transport), transport.directory


def _recommend(args: argparse.Namespace) -> int:
    from serving import console

    recommender, source = _recommender(args)
    for result in recommender.recommend(args.user, args.k):
        print(console.recommendations(result, source))
    return 0


def _rate(args: argparse.Namespace) -> int:
    from serving import client, console

    recommender, source = _recommender(args)
    movies = recommender.find_movies(args.movie)
    missing = [query for query, found in zip(args.movie, movies) if found is None]
    if missing:
        raise client.NotFound(f"no movie with id or title {missing[0]!r} in the model's "
                              "catalogue (titles as in MovieLens, e.g. 'Star Wars (1977)')")
    stars = recommender.rate([(args.user, movie_id) for movie_id, _ in movies])
    print(console.ratings(args.user, movies, stars, source))
    return 0


def _user_errors() -> tuple:
    """The errors of a configuration or an input: one line and exit code 2."""
    from components.config_error import ConfigError
    from components.movielens.records import DataFormatError
    from components.movielens.tfds_source import SourceUnavailableError
    from pipeline.portable_beam import PortableBeamError
    from serving.client import ServingError

    return ConfigError, DataFormatError, SourceUnavailableError, ServingError, PortableBeamError


def main(argv: Optional[Sequence[str]] = None) -> int:
    from pipeline import run_lock

    args = _parser().parse_args(argv)
    handlers = {"run": _run, "generate": _generate, "experiments": _experiments,
                "bench-pipeline": _bench_pipeline, "bench-serving": _bench_serving,
                "bench-scale": _bench_scale,
                "compile": _compile,
                "recommend": _recommend, "rate": _rate}
    try:
        return handlers[args.command](args)
    except _user_errors() as error:
        print(f"movielens-tfx {args.command}: error: {error}", file=sys.stderr)
        return 2
    except run_lock.RootInUse as error:
        print(f"movielens-tfx {args.command}: {error}", file=sys.stderr)
        return EXIT_ROOT_IN_USE
    finally:
        # Free TF functions while TF's modules still exist: left to interpreter shutdown, each
        # one prints "Exception ignored in AtomicFunction.__del__ ... NoneType".
        gc.collect()


if __name__ == "__main__":
    sys.exit(main())
