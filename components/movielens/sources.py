"""Loads MovieLens ratings from the source a DataConfig names, and splits them."""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np

from components.movielens import parsers, splits, synthetic, tfds_source
from components.movielens.records import MovieLensData
from pipeline.config import SYNTHETIC, TFDS, DataConfig


def load(config: DataConfig) -> MovieLensData:
    if config.source == SYNTHETIC:
        return synthetic.generate(config.synthetic)
    if config.source == TFDS:
        return tfds_source.load_tfds(config.tfds_dataset, config.tfds_data_dir)
    return parsers.read_movielens(config.source)


def load_split(config: DataConfig) -> Tuple[MovieLensData, np.ndarray]:
    """The data and its eval mask (True: the rating belongs to eval)."""
    data = load(config)
    return data, splits.SPLITTERS[config.split](data, config.eval_fraction, config.split_seed)


def fingerprint(config: DataConfig) -> str:
    """Changes when a local source's files change, so a cached ExampleGen run is not reused.

    Size and modification time of every file; the generated and TFDS sources are fixed by the
    configuration alone.
    """
    if not config.is_local_path:
        return config.source
    paths = [config.source]
    if os.path.isdir(config.source):
        paths = sorted(
            os.path.join(folder, name)
            for folder, _, names in os.walk(config.source)
            for name in names
        )
    return ";".join(f"{p}:{os.stat(p).st_size}:{os.stat(p).st_mtime_ns}" for p in paths)
