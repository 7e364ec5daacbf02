"""Ratings as index arrays, the form the model trains on and the metrics read."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from common.features import MOVIE_INDEX, MOVIE_TITLE, RATING_NORMALIZED, USER_INDEX


@dataclasses.dataclass(frozen=True)
class Ratings:
    """Ratings as parallel arrays: user and movie vocabulary indices, and the rating on [0, 1]."""

    user_index: np.ndarray  # int64
    movie_index: np.ndarray  # int64
    rating: np.ndarray  # float32, normalised to [0, 1]

    def __len__(self) -> int:
        return len(self.rating)

    def take(self, rows: np.ndarray) -> "Ratings":
        """The ratings at positions `rows`, in that order."""
        return Ratings(self.user_index[rows], self.movie_index[rows], self.rating[rows])

    def split_off(self, fraction: float, seed: int) -> tuple:
        """(rest, held out): a seeded random `fraction` of rows held out for validation."""
        order = np.random.default_rng(seed).permutation(len(self))
        held = int(round(len(self) * fraction))
        return self.take(np.sort(order[held:])), self.take(np.sort(order[:held]))

    def dataset(self, batch_size: int, shuffle_seed=None, repeat: bool = False,
                user_run: int = 1, slices: Sequence[int] = (0,), of: int = 1
                ) -> tf.data.Dataset:
        """Batches. With `shuffle_seed`, every pass is shuffled anew in runs of up to
        `user_run` ratings of one user (`run_order`), whole batches only; without it, the
        rows in order, the last batch short.

        With `of` > 1 (shuffled only), each batch is cut into `of` equal slices and the
        data set yields the slices numbered `slices`, in turn: a worker of distributed
        training makes the same batches as every other worker, as one worker alone would,
        and keeps its replicas' slices of each."""
        if shuffle_seed is None:
            features = {USER_INDEX: self.user_index, MOVIE_INDEX: self.movie_index}
            data = tf.data.Dataset.from_tensor_slices((features, self.rating))
            return data.batch(batch_size).prefetch(2)
        passes = itertools.count()  # Keras iterates the data set anew each epoch
        part = batch_size // of

        def batches():
            while True:
                order = run_order(self.user_index, user_run,
                                  np.random.default_rng([shuffle_seed, next(passes)]))
                for start in range(0, len(order) - batch_size + 1, batch_size):
                    for slice_ in slices:
                        rows = order[start + slice_ * part: start + (slice_ + 1) * part]
                        yield ({USER_INDEX: self.user_index[rows],
                                MOVIE_INDEX: self.movie_index[rows]}, self.rating[rows])
                if not repeat:
                    return

        index = tf.TensorSpec([part], tf.int64)
        data = tf.data.Dataset.from_generator(batches, output_signature=(
            {USER_INDEX: index, MOVIE_INDEX: index}, tf.TensorSpec([part], tf.float32)))
        # The generator's length, so that Keras knows where an epoch ends.
        length = (tf.data.INFINITE_CARDINALITY if repeat
                  else len(self) // batch_size * len(slices))
        return data.apply(tf.data.experimental.assert_cardinality(length)).prefetch(2)

    def sample(self, limit: int, seed: int) -> "Ratings":
        """At most `limit` rows, a seeded random sample (in their original order)."""
        if len(self) <= limit:
            return self
        return self.take(np.sort(np.random.default_rng(seed).choice(len(self), limit,
                                                                    replace=False)))


def shuffled_within_users(user_index: np.ndarray, rng: np.random.Generator) -> tuple:
    """(an order of the rows grouped by user, each user's rows in random order; each ordered
    row's rank among its user's rows)."""
    order = np.lexsort((rng.random(len(user_index)), user_index))
    users = user_index[order]
    first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    return order, rank


def run_order(user_index: np.ndarray, run: int, rng: np.random.Generator) -> np.ndarray:
    """A random order of the rows in which each user's rows come in runs of `run` (a
    user's last run shorter): the user's rows shuffled and cut into runs, the runs of all
    users shuffled. A batch then holds about batch_size / run distinct users, and the
    retrieval softmax, computed once per distinct user, costs that many catalogue rows."""
    if run == 1:
        return rng.permutation(len(user_index))
    order, rank = shuffled_within_users(user_index, rng)
    run_id = np.cumsum(rank % run == 0) - 1
    shuffled = rng.permutation(run_id[-1] + 1 if len(order) else 0)
    return order[np.argsort(shuffled[run_id], kind="stable")]


def runs_of(counts: np.ndarray, run: int) -> np.ndarray:
    """Each user's number of runs in `run_order` of their `counts` ratings."""
    return np.ceil(counts / run)


def runs_per_batch(runs: float, rows: int, batch_size: int) -> float:
    """The runs a batch of `run_order`'s consecutive rows touches on average, `runs` runs
    cutting `rows` rows: the one where it starts, and one more each mean run length after."""
    return 1.0 + (batch_size - 1) * runs / max(rows, 1)


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
