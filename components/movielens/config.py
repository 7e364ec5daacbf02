"""Where the ratings come from and how they are split: the MovieLens ExampleGen's config.

The component receives it as JSON (a TFX execution property) and rebuilds it with
`from_json`, so a run recorded in ML Metadata says exactly what it was configured with.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from common import storage
from common.config_error import ConfigError, require
from common.json_config import JsonConfig
from components.movielens.splits import SPLITTERS
from components.movielens.synthetic import SyntheticConfig
from components.movielens.tfds_source import DEFAULT_DATASET

SYNTHETIC = "synthetic"
TFDS = "tfds"


@dataclasses.dataclass(frozen=True)
class DataConfig(JsonConfig):
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
    # StatisticsGen describes seeded samples of this many train and eval ratings (all of a
    # split when it is smaller), in memory, so that data validation costs about a second and
    # bounded memory at any size.
    statistics_examples: int = 25_000

    def __post_init__(self) -> None:
        if self.split not in SPLITTERS:
            raise ConfigError(f"--split must be one of {sorted(SPLITTERS)}, got {self.split!r}")
        require(self.gate_examples >= 1, "--gate-examples", "at least 1", self.gate_examples)
        require(self.statistics_examples >= 1, "--statistics-examples", "at least 1",
                self.statistics_examples)
        require(0.0 < self.eval_fraction < 1.0, "--eval-fraction", "between 0 and 1",
                self.eval_fraction)
        if self.is_local_path and not storage.exists(self.source):
            raise ConfigError(
                f"--data {self.source!r}: no such file or directory. Give 'synthetic', 'tfds', "
                "or the path (or gs:// URL) of a MovieLens directory or zip."
            )

    @property
    def is_local_path(self) -> bool:
        """Whether `source` is a MovieLens directory, zip or URL (not synthetic or TFDS data)."""
        return self.source not in (SYNTHETIC, TFDS)
