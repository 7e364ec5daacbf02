"""Train/eval split protocols. Each returns a boolean mask: True where a rating goes to eval.

- `random`: a seeded shuffle of all ratings, the first `eval_fraction` to eval (the
  reference multi-task example's 80/20 protocol).
- `temporal`: per user, the latest `eval_fraction` of that user's ratings (rounded down) go to
  eval, so the model is judged on each user's future; ties in time break by movie id.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from components.movielens.records import MovieLensData


def random_split(data: MovieLensData, eval_fraction: float, seed: int) -> np.ndarray:
    """The eval mask of `random`: a seeded shuffle of all ratings, the first `eval_fraction` of
    them (rounded) to eval."""
    num_eval = int(round(data.num_ratings * eval_fraction))
    order = np.random.default_rng(seed).permutation(data.num_ratings)
    is_eval = np.zeros(data.num_ratings, dtype=bool)
    is_eval[order[:num_eval]] = True
    return is_eval


def temporal_split(data: MovieLensData, eval_fraction: float, seed: int) -> np.ndarray:
    """The eval mask of `temporal`: each user's latest `eval_fraction` of ratings (rounded
    down), ties broken by movie id; `seed` is not used."""
    del seed  # the temporal protocol is fully determined by the data
    movie_numbers = np.array([int(m) for m in data.movie_ids], dtype=np.int64)
    # Sort by user, then time, then movie: each user's ratings become one contiguous run.
    order = np.lexsort((movie_numbers, data.timestamps, data.user_ids.astype(str)))
    users = data.user_ids[order]
    run_starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    run_ends = np.r_[run_starts[1:], len(users)]
    is_eval_sorted = np.zeros(data.num_ratings, dtype=bool)
    for start, end in zip(run_starts, run_ends):
        num_eval = int((end - start) * eval_fraction)
        if num_eval:
            is_eval_sorted[end - num_eval:end] = True
    is_eval = np.empty_like(is_eval_sorted)
    is_eval[order] = is_eval_sorted
    return is_eval


SPLITTERS: Dict[str, Callable[[MovieLensData, float, int], np.ndarray]] = {
    "random": random_split,
    "temporal": temporal_split,
}
