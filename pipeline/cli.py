"""The `movielens-tfx` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
import time
import warnings
from importlib.metadata import entry_points
from typing import Optional, Sequence

from pipeline import options
from serving.client import DEFAULT_TIMEOUT

# The entry-point group of packages that add subcommands: each entry is a function that
# takes argparse's subparsers and adds its commands, each with `set_defaults(handler=...)`.
COMMANDS = "movielens_tfx.commands"

# Exit codes of `run` (docs/running.md): 2 is a configuration or input error.
EXIT_FAILED = 1  # a component failed (one line names it and the error)
EXIT_NOT_BLESSED = 3  # the gate refused the candidate: nothing pushed
REPORT_PAGE = "report.html"  # in the pipeline root: the latest run's report page (a link)
EXIT_NOT_PUSHED = 4  # blessed, but not pushed (e.g. TF Serving could not load it)
EXIT_DATA_ANOMALY = 5  # the data gate refused the data: nothing trained or pushed
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


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import ServingConfig

    target = parser.add_mutually_exclusive_group()
    target.add_argument("--server", metavar="URL",
                        help="TF Serving's REST address, e.g. http://localhost:8501")
    target.add_argument("--grpc", metavar="HOST:PORT",
                        help="TF Serving's gRPC address, e.g. localhost:8500")
    target.add_argument("--model-dir", default=None,
                        help="a pushed model directory, run in this process with TF Serving's "
                             "loader (newest version; default SERVING_DIR/MODEL_NAME of `run`)")
    parser.add_argument("--model-name", default=options.default(ServingConfig, "model_name"),
                        help="the model's name on the server")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--version", type=int, help="a model version (default: the newest)")
    version.add_argument("--label", help="a version label of the server's model config")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds per request")


def _add_run(commands) -> None:
    from pipeline.config import PipelineConfig, ServingConfig

    run = commands.add_parser("run", help="run the pipeline locally (LocalDagRunner)")
    run.set_defaults(handler=_run)
    options.add_data_options(run)
    options.add_validation_options(run)
    run.add_argument("--pipeline-root", default=options.DEFAULT_PIPELINE_ROOT,
                     help="where artifacts and the SQLite ML Metadata store go")
    run.add_argument("--beam-workers", type=int,
                     default=options.default(PipelineConfig, "beam_workers"),
                     help="0: Beam in-process (default); N: DirectRunner with N processes")
    run.add_argument("--beam-runner", choices=["direct", "portable"],
                     default=options.default(PipelineConfig, "beam_runner"),
                     help="portable: Beam's job service and an SDK worker pool as local "
                          "processes, the path Flink, Spark and Dataflow take")
    run.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                     help="an extra Beam pipeline option, e.g. --beam-arg=--runner=DataflowRunner"
                          " (repeatable)")
    options.add_image_option(run)
    run.add_argument("--serving-dir", default=options.default(ServingConfig, "serving_dir"),
                     help="blessed models go to SERVING_DIR/MODEL_NAME/<version>/")
    options.add_push_options(run)
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.add_argument("--verbose", action="store_true", help="show TFX's and Beam's own logs")
    options.add_local_trainer_options(run)
    options.add_model_options(run)


def _add_compile(commands) -> None:
    compile_ = commands.add_parser(
        "compile", help="compile the pipeline for an orchestrator (kfp: Kubeflow Pipelines v2)")
    compile_.set_defaults(handler=_compile)
    compile_.add_argument("target", choices=["kfp"])
    compile_.add_argument("--output", required=True,
                          help="pipeline.yaml (PipelineSpec for KFP on GKE) or pipeline.json "
                               "(Vertex AI PipelineJob)")
    options.add_image_option(compile_)
    compile_.add_argument("--pipeline-root", required=True,
                          help="where the pipeline writes artifacts, e.g. gs://BUCKET/root")
    compile_.add_argument("--serving-dir", required=True,
                          help="where blessed models are pushed, as seen from the cluster")
    options.add_push_options(compile_)
    compile_.add_argument("--beam-arg", action="append", default=[], dest="beam_args")
    options.add_data_options(compile_)
    options.add_validation_options(compile_)
    options.add_cluster_trainer_options(compile_)
    options.add_model_options(compile_)


def _add_recommend(commands) -> None:
    recommend = commands.add_parser(
        "recommend", help="a user's top movies from the pushed model (TF Serving or on disk)")
    recommend.set_defaults(handler=_recommend)
    recommend.add_argument("--user", required=True, nargs="+", help="MovieLens user id(s)")
    recommend.add_argument("--k", type=int, default=None,
                           help="how many movies (at most the model's top_k; default all)")
    _add_serving_options(recommend)


def _add_rate(commands) -> None:
    rate = commands.add_parser(
        "rate", help="a user's predicted rating (1-5 stars) of movies, by id or title")
    rate.set_defaults(handler=_rate)
    rate.add_argument("--user", required=True, help="MovieLens user id")
    rate.add_argument("--movie", required=True, nargs="+",
                      help="movie id(s) or title(s), e.g. 50 or 'Star Wars (1977)' or "
                           "'star wars' (case ignored, year optional)")
    _add_serving_options(rate)


def _add_generate(commands) -> None:
    generate = commands.add_parser(
        "generate", help="write the synthetic data set as ml-100k files (u.data, u.item)")
    generate.set_defaults(handler=_generate)
    options.add_data_options(generate)
    generate.add_argument("--output", required=True, help="directory to write into")


def _parser() -> argparse.ArgumentParser:
    """The product's commands, then those that installed packages add under the entry-point
    group COMMANDS (this project's `bench` adds the benchmarks and experiments)."""
    parser = argparse.ArgumentParser(
        prog="movielens-tfx", description="A TFX pipeline for a multi-task movie recommender.")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_compile, _add_recommend, _add_rate, _add_generate):
        add(commands)
    for plugin in entry_points(group=COMMANDS):
        plugin.load()(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    from common import storage
    from components.data_gate.checks import DataAnomalies
    from pipeline import local_runner, run_lock
    from pipeline.config import PipelineConfig

    config = PipelineConfig(
        pipeline_root=os.path.abspath(args.pipeline_root),
        data=options.data_config(args),
        validation=options.validation_config(args),
        model=options.model_config(args),
        trainer=options.trainer_config(args),
        gate=options.gate_config(args),
        serving=options.serving_config(args, args.serving_dir if storage.is_url(args.serving_dir)
                                       else os.path.abspath(args.serving_dir)),
        enable_cache=not args.no_cache,
        beam_workers=args.beam_workers,
        extra_beam_args=tuple(args.beam_args),
        beam_runner=args.beam_runner,
        **options.naming(args),
    )
    options.configure_logging(args.verbose)
    started = time.monotonic()
    default_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        components = local_runner.run(config)
    except KeyboardInterrupt as stop:
        return _report_interrupt(config, signal.SIGTERM if isinstance(stop, Interrupted)
                                 else signal.SIGINT)
    except DataAnomalies as error:
        print(f"movielens-tfx run: data anomalies: {error}", file=sys.stderr)
        return EXIT_DATA_ANOMALY
    except Exception as error:  # a component failed: one line, unless asked for the rest
        if isinstance(error, (*_user_errors(), run_lock.RootInUse)) or args.verbose:
            raise
        failed = local_runner.failed_components(config)
        if not failed:
            raise
        print(f"movielens-tfx run: error: {', '.join(failed)} failed: "
              f"{type(error).__name__}: {error}; {_pushed_before_failure(config)} "
              "(--verbose shows the traceback)", file=sys.stderr)
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
    _print_data(config, components)
    code = _print_gate(config, components)
    _print_report(config, components)
    return code


def _pushed_before_failure(config) -> str:
    """After a failed run: what the Pusher did, if it ran before the failure (only the
    RunReport follows it), else that nothing was pushed."""
    from components.pusher.component import PUSHED_MODEL, recorded_outcome
    from pipeline import local_runner
    from pipeline.pipeline import PUSHER

    pusher = next((c for c in local_runner.latest_run(config)
                   if c.component == PUSHER and PUSHED_MODEL in c.properties), None)
    destination = pusher and recorded_outcome(pusher.properties[PUSHED_MODEL]).destination
    if destination:
        return f"the model was pushed to {destination} before it"
    return "nothing was pushed, the served versions are as they were"


def _print_data(config, components) -> None:
    """Prints how much of eval is unseen in train and the drift from the served version."""
    from components.data_gate.checks import describe_unseen, unseen
    from components.drift_check.component import measured
    from components.drift_check.drift import describe
    from pipeline.pipeline import DRIFT_CHECK, EXAMPLE_GEN

    by_name = {component.component: component for component in components}
    if EXAMPLE_GEN in by_name:
        print(describe_unseen(unseen(by_name[EXAMPLE_GEN].properties["examples"])))
    if DRIFT_CHECK in by_name:
        drift = measured(by_name[DRIFT_CHECK].properties["drift_anomalies"])
        print(describe(drift.compared_with, drift.not_compared, drift.distances,
                       config.validation))


def report_page(config, components) -> Optional[str]:
    """Links REPORT_PAGE in the pipeline root to this run's RunReport page (a browser needs
    the .html name) and returns its path; None when the run wrote no report."""
    from pipeline import files
    from pipeline.pipeline import RUN_REPORT

    report = next((c.outputs.get("report") for c in components
                   if c.component == RUN_REPORT), None)
    return files.link(report, os.path.join(config.pipeline_root, REPORT_PAGE)) if report \
        else None


def _print_report(config, components) -> None:
    page = report_page(config, components)
    if page:
        print(f"Report: {page} (open it in a browser)")


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
    from components.evaluator.gate import describe_failure, gate_summary, slice_table, slices
    from components.pusher.component import PUSHED_MODEL, recorded_outcome
    from pipeline import local_runner
    from pipeline.pipeline import EVALUATOR, PUSHER, TRAINER

    evaluator = next((c for c in components if c.component == EVALUATOR), None)
    if evaluator is None:
        return 0
    gate, bounds = gate_summary(evaluator.outputs["evaluation"]), config.gate
    absolute = "".join([f", at most {bounds.max_rmse}" if math.isfinite(bounds.max_rmse) else "",
                        f"; top-k at least {bounds.min_top_k_accuracy}"
                        if bounds.min_top_k_accuracy else ""])
    compared = ("no worse than the latest blessed model" if gate["compared_with_blessed_model"]
                else "no blessed model yet to compare with")
    trainer = next((c for c in components if c.component == TRAINER), None)
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
    print("Slices of the gate split (reported; the gate decides on the whole):")
    print("\n".join(slice_table(slices(evaluator.outputs["evaluation"]), config.model.top_k)))
    if not gate["passed"]:
        return EXIT_NOT_BLESSED
    pusher = next((c for c in components if c.component == PUSHER), None)
    if pusher is None or PUSHED_MODEL not in pusher.properties:
        return 0
    outcome = recorded_outcome(pusher.properties[PUSHED_MODEL])
    if outcome.destination is None:
        print(f"Push: {outcome.reason}")
        return EXIT_NOT_PUSHED
    print(f"Serving: {outcome.destination}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from components.movielens import synthetic

    config = options.data_config(args)
    data = synthetic.generate(config.synthetic)
    paths = synthetic.write_ml100k(data, args.output)
    print(f"Wrote {data.num_ratings} ratings of {config.synthetic.num_users} users on "
          f"{len(data.movies)} movies: {', '.join(paths)}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from pipeline import kubeflow_runner
    from pipeline.config import PipelineConfig

    config = PipelineConfig(
        pipeline_root=args.pipeline_root, data=options.data_config(args),
        validation=options.validation_config(args),
        model=options.model_config(args), trainer=options.trainer_config(args),
        gate=options.gate_config(args), serving=options.serving_config(args, args.serving_dir),
        extra_beam_args=tuple(args.beam_args), **options.naming(args))
    path = kubeflow_runner.compile_pipeline(config, args.output)
    print(f"Compiled '{config.pipeline_name}' for Kubeflow Pipelines v2: {path}")
    return 0


def _recommender(args: argparse.Namespace):
    """The client for --server, --grpc or --model-dir, and words naming where it points."""
    from pipeline.config import ServingConfig
    from serving import client

    options.configure_logging(verbose=False)
    model = client.ModelSpec(args.model_name, args.version, args.label)
    if args.server:
        return client.Recommender(client.RestTransport(args.server, model, args.timeout)), \
            f"TF Serving at {args.server}, {model}"
    if args.grpc:
        return client.Recommender(client.GrpcTransport(args.grpc, model, args.timeout)), \
            f"TF Serving gRPC at {args.grpc}, {model}"
    if args.label:
        raise client.BadRequest("--label needs a server (--server or --grpc)")
    default_dir = os.path.join(options.default(ServingConfig, "serving_dir"), args.model_name)
    transport = client.LocalTransport(args.model_dir or default_dir, args.version)
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
    from common.config_error import ConfigError
    from components.movielens.records import DataFormatError
    from components.movielens.tfds_source import SourceUnavailableError
    from pipeline.portable_beam import PortableBeamError
    from serving.client import ServingError

    return ConfigError, DataFormatError, SourceUnavailableError, ServingError, PortableBeamError


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the subcommand that `argv` names; returns its exit code (2, with one line on
    stderr, for a configuration or input error)."""
    from pipeline import run_lock

    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
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
