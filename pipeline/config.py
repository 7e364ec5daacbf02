"""Every tunable of the pipeline, in one typed place.

Components receive their part as JSON (a TFX execution property) and rebuild it with
`from_json`, so a run recorded in ML Metadata says exactly what it was configured with.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

from components import storage
from components.movielens.splits import SPLITTERS
from components.movielens.synthetic import SyntheticConfig
from components.movielens.tfds_source import DEFAULT_DATASET

SYNTHETIC = "synthetic"
TFDS = "tfds"


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the ratings come from and how they are split into train and eval."""

    source: str = SYNTHETIC  # "synthetic", "tfds", or a MovieLens directory or zip (or URL)
    split: str = "random"  # "random" or "temporal"
    eval_fraction: float = 0.2
    split_seed: int = 42
    synthetic: SyntheticConfig = SyntheticConfig()
    tfds_dataset: str = DEFAULT_DATASET
    tfds_data_dir: Optional[str] = None
    # The Evaluator's gate reads a seeded sample of this many eval ratings (all of eval when
    # it is smaller): at ml-25m size eval holds 5M. The spread of the gate's ratios over such
    # samples is in reports/scale.md.
    gate_examples: int = 100_000

    def __post_init__(self) -> None:
        if self.split not in SPLITTERS:
            raise ConfigError(f"--split must be one of {sorted(SPLITTERS)}, got {self.split!r}")
        if self.gate_examples < 1:
            raise ConfigError(f"gate_examples must be at least 1, got {self.gate_examples}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ConfigError(f"eval_fraction must be between 0 and 1, got {self.eval_fraction}")
        if self.is_local_path and not storage.exists(self.source):
            raise ConfigError(
                f"--data {self.source!r}: no such file or directory. Give 'synthetic', 'tfds', "
                "or the path (or gs:// URL) of a MovieLens directory or zip."
            )

    @property
    def is_local_path(self) -> bool:
        return self.source not in (SYNTHETIC, TFDS)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DataConfig":
        values: Dict[str, Any] = json.loads(text)
        values["synthetic"] = SyntheticConfig(**values["synthetic"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The multi-task recommender's architecture and training; passed to the Trainer as JSON.

    rating-only is (rating_weight=1, retrieval_weight=0), retrieval-only (0, 1), multi-task
    (1, 1): one model, different loss weights.
    """

    embedding_dim: int = 32
    rating_layers: Tuple[int, ...] = (256, 128)  # hidden layers; a final 1-unit layer follows
    retrieval_weight: float = 1.0
    rating_weight: float = 1.0
    temperature: float = 1.0  # divides the in-batch softmax logits (measured: 1.0 > 0.2)
    popularity_correction: bool = True  # subtract log training frequency (Yi et al. 2019)
    use_bias: bool = True  # user and movie rating biases
    use_history: bool = True  # add the user's training movies to the user tower (SVD++-style)
    # At most this many of a user's training movies (a seeded random choice) in that term:
    # it bounds a training step's cost, whatever a heavy user's count.
    max_history: int = 256
    l2: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 0.001
    epochs: int = 30  # at most; an epoch is one pass or examples_per_epoch, the smaller
    batch_size: int = 1024
    # Validation (and so early stopping) comes at least every this many examples, so large
    # data stops on time: at 20M ratings an "epoch" is 1M of them, not one whole pass.
    examples_per_epoch: int = 1_000_000
    validation_fraction: float = 0.05  # carved from train, for early stopping
    max_validation_examples: int = 50_000  # a seeded sample beyond that: validation is cheap
    early_stopping_patience: int = 3
    seed: int = 0
    top_k: int = 10  # recorded in the export; `retrieve` returns this many movies
    exclude_seen: bool = True  # `retrieve` leaves out the movies a user rated in training

    def __post_init__(self) -> None:
        if self.retrieval_weight < 0 or self.rating_weight < 0:
            raise ConfigError("loss weights must be >= 0")
        if self.retrieval_weight == 0 and self.rating_weight == 0:
            raise ConfigError("at least one of retrieval_weight and rating_weight must be > 0")
        if self.examples_per_epoch < self.batch_size:
            raise ConfigError(f"examples_per_epoch ({self.examples_per_epoch}) must be at least "
                              f"batch_size ({self.batch_size})")
        if self.max_history < 1:
            raise ConfigError(f"max_history must be >= 1, got {self.max_history}")
        if self.optimizer not in ("adam", "adagrad", "sgd"):
            raise ConfigError(f"optimizer must be adam, adagrad or sgd, got {self.optimizer!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        values: Dict[str, Any] = json.loads(text)
        values["rating_layers"] = tuple(values["rating_layers"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """What a candidate model must reach to be blessed (and so pushed).

    By default, bounds relative to naive baselines on the same eval examples, so the gate
    works on any data: the model's RMSE over the global-mean rating's, its top-k accuracy
    over the most-popular ranking's (training movies excluded, as `retrieve` serves). Then
    changes against the latest blessed model (ignored on the first run, when there is none).
    Absolute bounds are optional (off by default). RMSE is in stars.
    """

    # The default model on ml-100k: RMSE 0.81 of the global mean's (0.909 / 1.122 stars),
    # top-10 accuracy 1.76 times the most-popular ranking's (0.164 / 0.093).
    max_rmse_over_baseline: float = 0.95
    min_top_k_over_baseline: float = 1.1
    max_rmse_increase: float = 0.02
    max_top_k_accuracy_decrease: float = 0.01
    max_rmse: float = math.inf  # absolute bound, stars; inf: none
    min_top_k_accuracy: float = 0.0  # absolute bound; 0: none

    def __post_init__(self) -> None:
        if self.max_rmse <= 0 or self.max_rmse_increase < 0:
            raise ConfigError("max_rmse must be > 0 and max_rmse_increase >= 0")
        if not 0 <= self.min_top_k_accuracy <= 1 or self.max_top_k_accuracy_decrease < 0:
            raise ConfigError("min_top_k_accuracy must be in [0, 1] and "
                              "max_top_k_accuracy_decrease >= 0")
        if self.max_rmse_over_baseline <= 0 or self.min_top_k_over_baseline < 0:
            raise ConfigError("max_rmse_over_baseline must be > 0 and min_top_k_over_baseline "
                              ">= 0")


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    """Where blessed models go: <serving_dir>/<model_name>/<version>/ (TF Serving's layout)."""

    serving_dir: str = "serving_model"
    model_name: str = "movielens"


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
    model: ModelConfig = ModelConfig()
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

    def _beam_option(self, option: str) -> Optional[str]:
        """The value of a Beam option given in extra_beam_args (the last one wins)."""
        values = [arg.partition("=")[2] for arg in self.extra_beam_args
                  if arg.partition("=")[0] == option]
        return values[-1] if values else None

    @property
    def metadata_path(self) -> str:
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
