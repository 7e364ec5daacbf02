"""Command-line options shared by the `movielens-tfx` commands, and the configs they build.

Every default is read from the config dataclass the option fills, so a change there is
never silently overridden by the command line. The configs are imported where they are used:
they import TensorFlow, which must not load before `pipeline.cli` has quietened it."""

from __future__ import annotations

import argparse
import dataclasses
import logging as std_logging
import os
from typing import Any

DEFAULT_PIPELINE_ROOT = "pipeline_output"


def default(config_class: type, field_name: str) -> Any:
    """The default of one field of a config dataclass."""
    field = {f.name: f for f in dataclasses.fields(config_class)}[field_name]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise TypeError(f"{config_class.__name__}.{field_name} has no default")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--data, --split and the other fields of DataConfig and SyntheticConfig."""
    from components.movielens.config import SYNTHETIC, TFDS, DataConfig
    from components.movielens.synthetic import SyntheticConfig

    parser.add_argument(
        "--data", default=default(DataConfig, "source"),
        help=f"'{SYNTHETIC}' (built-in generator, default), '{TFDS}' (movielens/100k-ratings, "
             "needs the network once), or the path of a MovieLens directory or zip")
    parser.add_argument("--split", default=default(DataConfig, "split"),
                        choices=["random", "temporal"])
    parser.add_argument("--eval-fraction", type=float,
                        default=default(DataConfig, "eval_fraction"))
    parser.add_argument("--seed", type=int, default=default(DataConfig, "split_seed"),
                        help="seed of the random split and of the synthetic data")
    parser.add_argument("--synthetic-users", type=int,
                        default=default(SyntheticConfig, "num_users"))
    parser.add_argument("--synthetic-movies", type=int,
                        default=default(SyntheticConfig, "num_movies"))
    parser.add_argument("--synthetic-ratings", type=int,
                        default=default(SyntheticConfig, "num_ratings"))
    parser.add_argument("--gate-examples", type=int, default=default(DataConfig, "gate_examples"),
                        help="the pipeline's gate reads a seeded sample of this many eval "
                             "ratings, all of eval when smaller (default: %(default)s)")
    parser.add_argument("--statistics-examples", type=int,
                        default=default(DataConfig, "statistics_examples"),
                        help="StatisticsGen describes seeded samples of this many train and "
                             "eval ratings, all of a split when smaller (default: %(default)s)")


def add_validation_options(parser: argparse.ArgumentParser) -> None:
    """--accept-anomaly SPLIT:FEATURE:TYPE and --validation FIELD=VALUE, repeatable."""
    parser.add_argument(
        "--accept-anomaly", action="append", default=[], metavar="SPLIT:FEATURE:TYPE",
        dest="accepted_anomalies",
        help="let the run go on despite this data anomaly, named as the refusal names it, "
             "e.g. eval:movie_id:EVAL_UNSEEN_MOVIES (repeatable)")
    parser.add_argument(
        "--validation", action="append", default=[], metavar="FIELD=VALUE",
        dest="validation_overrides",
        help="override one ValidationConfig field (components/data_gate/config.py), e.g. "
             "--validation max_unseen_movies=0.3 (repeatable)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model FIELD=VALUE and --gate FIELD=VALUE, repeatable."""
    parser.add_argument(
        "--model", action="append", default=[], metavar="FIELD=VALUE", dest="model_overrides",
        help="override one ModelConfig field (trainer/config.py), e.g. --model epochs=5 "
             "--model rating_layers=64,32 (repeatable)")
    parser.add_argument(
        "--gate", action="append", default=[], metavar="FIELD=VALUE", dest="gate_overrides",
        help="override one GateConfig field, e.g. --gate max_rmse=1.0 (repeatable)")


def add_image_option(parser: argparse.ArgumentParser) -> None:
    """--image: the container image remote steps run."""
    parser.add_argument(
        "--image", default=None,
        help="this project's container image (Dockerfile): what Kubeflow's pods and remote Beam "
             "workers (Dataflow, Flink, Spark) run; the local runners ignore it")


def add_local_trainer_options(parser: argparse.ArgumentParser) -> None:
    """--trainer-workers: the Trainer step's worker processes on this machine."""
    from components.trainer.config import TrainerConfig

    parser.add_argument(
        "--trainer-workers", type=int, default=default(TrainerConfig, "workers"),
        help="train in N worker processes on this machine, as N machines would "
             "(MultiWorkerMirroredStrategy over loopback; default: %(default)s, in-process)")


def add_cluster_trainer_options(parser: argparse.ArgumentParser) -> None:
    """--trainer pod|vertex and the Vertex AI Training job's machines."""
    from components.trainer.config import TrainerConfig

    parser.add_argument(
        "--trainer", choices=["pod", "vertex"], default="pod",
        help="pod: train in the Trainer step's own pod (default); vertex: the step starts a "
             "Vertex AI Training job of --trainer-replicas machines running --image")
    parser.add_argument("--trainer-machine-type",
                        default=default(TrainerConfig, "machine_type"),
                        help="Vertex AI machine type of each replica (default: %(default)s)")
    parser.add_argument("--trainer-replicas", type=int,
                        default=default(TrainerConfig, "replicas"),
                        help="machines training together, the chief included "
                             "(default: %(default)s)")
    parser.add_argument("--trainer-accelerator", default="", metavar="TYPE:COUNT",
                        help="accelerators on each replica, e.g. NVIDIA_TESLA_T4:1")
    parser.add_argument("--region", default="", help="the Vertex AI region, e.g. us-central1")
    parser.add_argument("--project", default="", help="the Google Cloud project of the job")


def trainer_config(args: argparse.Namespace):
    """The TrainerConfig of the trainer options this command has."""
    from components.trainer.config import TrainerConfig

    if not hasattr(args, "trainer"):
        return TrainerConfig(workers=args.trainer_workers)
    return TrainerConfig(vertex=args.trainer == "vertex",
                         machine_type=args.trainer_machine_type,
                         replicas=args.trainer_replicas, accelerator=args.trainer_accelerator,
                         region=args.region, project=args.project)


def add_push_options(parser: argparse.ArgumentParser) -> None:
    """--model-name, --pipeline-name and --replace-unknown-version."""
    from pipeline.config import PipelineConfig, ServingConfig

    parser.add_argument("--model-name", default=default(ServingConfig, "model_name"))
    parser.add_argument("--pipeline-name", default=default(PipelineConfig, "pipeline_name"),
                        help="the pipeline's name in ML Metadata, where the gate looks for "
                             "blessed models (default: %(default)s)")
    parser.add_argument("--replace-unknown-version", action="store_true",
                        help="push even when the newest served version was pushed from "
                             "another pipeline root (never compared with the candidate); "
                             "refused otherwise")


def data_config(args: argparse.Namespace):
    """The DataConfig the data options describe."""
    from common import storage
    from components.movielens.config import SYNTHETIC, TFDS, DataConfig
    from components.movielens.synthetic import SyntheticConfig

    local = args.data not in (SYNTHETIC, TFDS) and not storage.is_url(args.data)
    return DataConfig(
        source=os.path.abspath(args.data) if local else args.data,  # one name from any folder
        split=args.split,
        eval_fraction=args.eval_fraction,
        split_seed=args.seed,
        gate_examples=args.gate_examples,
        statistics_examples=args.statistics_examples,
        synthetic=SyntheticConfig(
            num_users=args.synthetic_users, num_movies=args.synthetic_movies,
            num_ratings=args.synthetic_ratings, seed=args.seed),
    )


def model_config(args: argparse.Namespace):
    """The ModelConfig with the --model overrides."""
    from pipeline.config import overridden
    from trainer.config import ModelConfig

    return overridden(ModelConfig(), args.model_overrides, "--model")


def validation_config(args: argparse.Namespace):
    """The ValidationConfig with the --validation overrides and the accepted anomalies."""
    from components.data_gate.config import ValidationConfig
    from pipeline.config import overridden

    return dataclasses.replace(
        overridden(ValidationConfig(), args.validation_overrides, "--validation"),
        accepted_anomalies=tuple(args.accepted_anomalies))


def gate_config(args: argparse.Namespace):
    """The GateConfig with the --gate overrides."""
    from components.evaluator.config import GateConfig
    from pipeline.config import overridden

    return overridden(GateConfig(), args.gate_overrides, "--gate")


def serving_config(args: argparse.Namespace, serving_dir: str):
    """The ServingConfig of the push options and `serving_dir`."""
    from pipeline.config import ServingConfig

    return ServingConfig(serving_dir, args.model_name, args.replace_unknown_version)


def naming(args: argparse.Namespace) -> dict:
    """PipelineConfig's name, and its image where the command line gave one."""
    return {"pipeline_name": args.pipeline_name, **({"image": args.image} if args.image else {})}


def configure_logging(verbose: bool) -> None:
    """TFX's one line per component, without the noise known to be harmless (docs/running.md,
    "Known noise"); everything with `verbose`."""
    from absl import logging

    logging.set_verbosity(logging.INFO)
    if verbose:
        return
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
