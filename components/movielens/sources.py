"""Loads MovieLens ratings from the source a DataConfig names, and splits them."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from common import storage
from components.movielens import duplicates, parsers, splits, synthetic, tfds_source
from components.movielens.config import SYNTHETIC, TFDS, DataConfig
from components.movielens.records import MovieLensData


def load(config: DataConfig) -> MovieLensData:
    """The ratings of the source `config` names, one a (user, movie) pair (see
    duplicates.py)."""
    if config.source == SYNTHETIC:
        return synthetic.generate(config.synthetic)
    if config.source == TFDS:
        return duplicates.keep_latest(
            tfds_source.load_tfds(config.tfds_dataset, config.tfds_data_dir))
    return duplicates.keep_latest(parsers.read_movielens(config.source))


def load_split(config: DataConfig) -> Tuple[MovieLensData, np.ndarray]:
    """The data and its eval mask (True: the rating belongs to eval)."""
    data = load(config)
    return data, splits.SPLITTERS[config.split](data, config.eval_fraction, config.split_seed)


def fingerprint(config: DataConfig) -> str:
    """Changes when a local source's files change, so a cached ExampleGen run is not reused.

    Size and modification time of every file (gs:// and other stores through tf.io.gfile);
    the generated and TFDS sources are fixed by the configuration alone.
    """
    if not config.is_local_path:
        return config.source
    paths = storage.files_under(config.source) if storage.isdir(config.source) else [
        config.source]
    return ";".join("{}:{}:{}".format(path, *storage.size_and_mtime(path)) for path in paths)
