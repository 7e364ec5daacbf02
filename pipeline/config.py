"""The pipeline's configuration: each component's config, defined beside what it configures
(DataConfig with the MovieLens components, ModelConfig in trainer/, GateConfig beside the
Evaluator), composed here with how and where the pipeline runs."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

from common.config_error import ConfigError
from components.data_gate.config import ValidationConfig
from components.evaluator.config import GateConfig
from components.movielens.config import SYNTHETIC, DataConfig
from components.trainer.config import TrainerConfig
from serving import contract
from trainer.config import ModelConfig


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    """Where blessed models go: <serving_dir>/<model_name>/<version>/ (TF Serving's layout)."""

    serving_dir: str = "serving_model"
    model_name: str = contract.DEFAULT_MODEL_NAME
    # Push over a newest served version that is no model of this pipeline root (the
    # candidate was never compared with it); by default such a push is refused.
    replace_unknown_version: bool = False


# The project's image (Dockerfile); remote Beam workers (Dataflow, Flink, Spark) run it.
DEFAULT_IMAGE = "gcr.io/YOUR_PROJECT/movielens-tfx:latest"
# Beam options that tell TFX how remote workers get this code; without one, TFX builds a
# throwaway tfx sdist (1.2 s and a 49 MB temp folder left behind) for every Beam component.
_DEPENDENCY_OPTIONS = ("--extra_package", "--extra_packages", "--setup_file",
                       "--requirements_file", "--worker_harness_container_image",
                       "--sdk_container_image")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The pipeline as a whole: its name, where it writes, and how Beam runs."""

    pipeline_root: str
    data: DataConfig = DataConfig()
    validation: ValidationConfig = ValidationConfig()
    model: ModelConfig = ModelConfig()
    trainer: TrainerConfig = TrainerConfig()  # where the Trainer step trains
    gate: GateConfig = GateConfig()
    serving: ServingConfig = ServingConfig()
    pipeline_name: str = "movielens-recommender"
    enable_cache: bool = True
    beam_workers: int = 0  # 0: in-process; N > 0: DirectRunner with N worker processes
    extra_beam_args: Tuple[str, ...] = ()
    image: str = DEFAULT_IMAGE  # for remote Beam workers; the DirectRunner ignores it
    # "direct": Beam's DirectRunner; "portable": a local job service and worker pool
    # (pipeline/portable_beam.py), the portable path that Flink, Spark and Dataflow take.
    beam_runner: str = "direct"

    def __post_init__(self) -> None:
        if self.beam_workers < 0:
            raise ConfigError(f"--beam-workers must be 0 or more, got {self.beam_workers}")
        if self.beam_runner not in ("direct", "portable"):
            raise ConfigError(f"--beam-runner must be direct or portable, got "
                              f"{self.beam_runner!r}")
        runner = self._beam_option("--runner")
        if self.beam_workers and (runner not in (None, "DirectRunner")
                                  or self.beam_runner != "direct"):
            raise ConfigError(f"--beam-workers sets the DirectRunner's worker processes; it "
                              f"does nothing with "
                              f"{'--runner=' + runner if runner else '--beam-runner portable'}"
                              ". Drop one of the two.")
        if self.beam_runner == "portable" and runner not in (None, "PortableRunner"):
            raise ConfigError(f"--beam-runner portable runs Beam's PortableRunner locally; "
                              f"--beam-arg=--runner={runner} contradicts it")
        self.model.check_replicas(max(self.trainer.workers, self.trainer.replicas))
        if self.data.source == SYNTHETIC:  # its size is known: check the model against it now
            synthetic = self.data.synthetic
            self.model.check_data(int(synthetic.num_ratings * (1.0 - self.data.eval_fraction)),
                                  synthetic.num_movies)

    def _beam_option(self, option: str) -> Optional[str]:
        """The value of a Beam option given in extra_beam_args (the last one wins)."""
        values = [arg.partition("=")[2] for arg in self.extra_beam_args
                  if arg.partition("=")[0] == option]
        return values[-1] if values else None

    @property
    def metadata_path(self) -> str:
        """The SQLite ML Metadata database in the pipeline root."""
        return os.path.join(self.pipeline_root, "metadata.sqlite")

    @property
    def beam_pipeline_args(self) -> List[str]:
        """DirectRunner in-process by default; Beam's own flags given by the user win."""
        if self.beam_workers:
            mode = ["--direct_running_mode=multi_processing",
                    f"--direct_num_workers={self.beam_workers}"]
        else:
            mode = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
        given = {arg.partition("=")[0] for arg in self.extra_beam_args}
        dependency = ([] if given & set(_DEPENDENCY_OPTIONS)
                      else [f"--sdk_container_image={self.image}"])
        return mode + dependency + list(self.extra_beam_args)


def overridden(defaults: Any, overrides: List[str], option: str) -> Any:
    """`defaults` (a config dataclass) with `FIELD=VALUE` overrides, typed by each field."""
    values: Dict[str, Any] = {}
    for override in overrides:
        name, separator, text = override.partition("=")
        if not separator or not hasattr(defaults, name):
            fields = ", ".join(f.name for f in dataclasses.fields(defaults))
            raise ConfigError(f"{option} {override!r}: expected FIELD=VALUE with FIELD one of "
                              f"{fields}")
        current = getattr(defaults, name)
        try:
            if isinstance(current, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                values[name] = text.lower() in ("true", "1")
            elif isinstance(current, tuple):
                values[name] = tuple(int(part) for part in text.split(",") if part)
            else:
                values[name] = type(current)(text)
        except ValueError:
            raise ConfigError(f"{option} {name}: cannot read {text!r} as "
                              f"{type(current).__name__}") from None
    return dataclasses.replace(defaults, **values)
