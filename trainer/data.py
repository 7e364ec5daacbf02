"""Ratings as index arrays, the form the model trains on and the metrics read."""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from components.features import MOVIE_INDEX, MOVIE_TITLE, RATING_NORMALIZED, USER_INDEX


SHUFFLE_BUFFER = 1_000_000  # rows; a full shuffle of 20M rows would hold them all twice


@dataclasses.dataclass(frozen=True)
class Ratings:
    user_index: np.ndarray  # int64
    movie_index: np.ndarray  # int64
    rating: np.ndarray  # float32, normalised to [0, 1]

    def __len__(self) -> int:
        return len(self.rating)

    def take(self, rows: np.ndarray) -> "Ratings":
        return Ratings(self.user_index[rows], self.movie_index[rows], self.rating[rows])

    def split_off(self, fraction: float, seed: int) -> tuple:
        """(rest, held out): a seeded random `fraction` of rows held out for validation."""
        order = np.random.default_rng(seed).permutation(len(self))
        held = int(round(len(self) * fraction))
        return self.take(np.sort(order[held:])), self.take(np.sort(order[:held]))

    def dataset(self, batch_size: int, shuffle_seed=None, repeat: bool = False
                ) -> tf.data.Dataset:
        """Batches; shuffled (each pass anew) when `shuffle_seed` is given. Beyond
        SHUFFLE_BUFFER rows the rows are permuted once here and the buffer reshuffles locally,
        so memory stays bounded."""
        rows = self
        if shuffle_seed is not None and len(self) > SHUFFLE_BUFFER:
            rows = self.take(np.random.default_rng(shuffle_seed).permutation(len(self)))
        features = {USER_INDEX: rows.user_index, MOVIE_INDEX: rows.movie_index}
        data = tf.data.Dataset.from_tensor_slices((features, rows.rating))
        if shuffle_seed is not None:
            data = data.shuffle(min(len(self), SHUFFLE_BUFFER), seed=shuffle_seed,
                                reshuffle_each_iteration=True)
        if repeat:
            data = data.repeat()
        return data.batch(batch_size, drop_remainder=shuffle_seed is not None).prefetch(2)

    def sample(self, limit: int, seed: int) -> "Ratings":
        """At most `limit` rows, a seeded random sample (in their original order)."""
        if len(self) <= limit:
            return self
        return self.take(np.sort(np.random.default_rng(seed).choice(len(self), limit,
                                                                    replace=False)))


def from_transformed_batches(batches) -> Tuple[Ratings, Dict[int, str]]:
    """Ratings (and each movie's title by index) from batches of transformed features.

    `batches` yields dicts of numpy arrays, as a TFX data accessor's or a parsed TFRecord
    dataset's batches do. Titles are decoded once per movie, not once per rating.
    """
    columns: Dict[str, List[np.ndarray]] = {USER_INDEX: [], MOVIE_INDEX: [],
                                            RATING_NORMALIZED: []}
    titles: Dict[int, str] = {}
    for batch in batches:
        for name, parts in columns.items():
            parts.append(np.asarray(batch[name]).reshape(-1))
        movies, first = np.unique(columns[MOVIE_INDEX][-1], return_index=True)
        new = [i for i, movie in enumerate(movies.tolist()) if movie not in titles]
        batch_titles = np.asarray(batch[MOVIE_TITLE]).reshape(-1)
        for i in new:
            titles[int(movies[i])] = batch_titles[first[i]].decode("utf-8")
    if not columns[USER_INDEX]:
        raise ValueError("no transformed examples to read")
    return Ratings(
        np.concatenate(columns[USER_INDEX]).astype(np.int64),
        np.concatenate(columns[MOVIE_INDEX]).astype(np.int64),
        np.concatenate(columns[RATING_NORMALIZED]).astype(np.float32),
    ), titles
