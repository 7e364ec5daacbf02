"""Offline quality metrics, computed exactly (brute force over every movie).

Scores come from a `Scorer`: a function from user indices to their scores over every movie
([len(users), num_movies]). It is called for blocks of users, so memory stays bounded by
`BLOCK_SCORES` floats whatever the number of users; nothing builds users x movies.

Definitions (also in docs/metrics-and-experiments.md):
- rmse: root mean squared error of the predicted normalised rating, on [0, 1]; x4 for stars.
- top_k_accuracy: the share of eval (user, movie) pairs whose movie is among the user's k
  highest-scored movies; `only` restricts the pairs (e.g. 5-star), `exclude` removes movies
  from the ranking (the user's training movies) before taking the top k.
- recall_at_k: per user, the share of the user's eval movies found in the top k (training
  movies excluded), averaged over users with eval movies.
- ndcg_at_k: per user, DCG of the top k with binary relevance (eval movies), over the ideal
  DCG of min(k, #eval movies) hits; averaged over users with eval movies.
- coverage@k: the share of the catalogue in at least one user's top k (training movies
  excluded), as the Evaluator's catalogue_coverage.

The reports also give each metric by slice, the slices of the Evaluator (`slices`): every eval
pair, then by the user's activity and by the movie's popularity in train.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np
import scipy.sparse as sparse
import tensorflow as tf

from common import features
from trainer.data import Ratings

Scorer = Callable[[np.ndarray], np.ndarray]
BLOCK_SCORES = 1 << 24  # scores held at once: 64 MB of float32
SLICES = "slices"  # a report's key of its metrics by slice: {slice name: {metric: value}}
RATINGS = "ratings"  # a slice's number of eval pairs
TOP_10 = "top10_seen_excluded"  # by slice: the Evaluator's top-k accuracy, k = 10
COVERAGE = "coverage@10"


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error of `predicted` against `actual`."""
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def seen_matrix(train: Ratings, num_users: int, num_movies: int) -> sparse.csr_matrix:
    """users x movies, 1 where the user rated the movie in training (sparse)."""
    ones = np.ones(len(train), dtype=bool)
    return sparse.csr_matrix((ones, (train.user_index, train.movie_index)),
                             shape=(num_users + 1, num_movies + 1))


def _block_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's k best columns, best first; of equal scores, the lower column first.
    TensorFlow's top_k, not numpy's argpartition: on 1,100 users x 3,706 movies 0.02 s
    against 0.04-0.26 s (single-threaded, and slowest on rows with many equal scores)."""
    k = min(k, scores.shape[1])
    return tf.math.top_k(scores, k).indices.numpy().astype(np.int64)


def top_k_movies(scorer: Scorer, users: np.ndarray, k: int,
                 exclude: Optional[sparse.csr_matrix] = None) -> np.ndarray:
    """Indices of the k best-scored movies of each user in `users`, best first, scoring
    blocks of users at a time. A catalogue smaller than k returns every movie."""
    users = np.asarray(users)
    blocks, start, block_size = [], 0, 1  # the first block tells the catalogue's size
    while start < len(users):
        block = users[start: start + block_size]
        scores = np.array(scorer(block), dtype=np.float32, copy=True)
        if exclude is not None:
            seen = exclude[block][:, : scores.shape[1]].tocoo()
            scores[seen.row, seen.col] = -np.inf
        blocks.append(_block_top_k(scores, k))
        start += len(block)
        block_size = max(1, BLOCK_SCORES // max(scores.shape[1], 1))
    return np.concatenate(blocks) if blocks else np.zeros((0, k), dtype=np.int64)


def _rows(users: np.ndarray, pairs: Ratings) -> np.ndarray:
    """For each pair, the row of its user in `users`."""
    row_of = np.full(int(max(users.max(initial=0), pairs.user_index.max(initial=0))) + 1, -1)
    row_of[users] = np.arange(len(users))
    return row_of[pairs.user_index]


def _hits(top: np.ndarray, users: np.ndarray, pairs: Ratings) -> np.ndarray:
    """For each pair, whether its movie is in its user's row of `top` (rows are `users`)."""
    return (top[_rows(users, pairs)] == pairs.movie_index[:, None]).any(axis=1)


def top_k_accuracy(scorer: Scorer, evaluation: Ratings, k: int,
                   only: Optional[np.ndarray] = None,
                   exclude: Optional[sparse.csr_matrix] = None) -> float:
    """The share of `evaluation`'s pairs (those `only` selects) whose movie is among the user's
    k best-scored movies, the `exclude` movies left out of the ranking."""
    pairs = evaluation if only is None else evaluation.take(np.flatnonzero(only))
    users = np.unique(pairs.user_index)
    return float(_hits(top_k_movies(scorer, users, k, exclude), users, pairs).mean())


def recall_and_ndcg_at_k(scorer: Scorer, evaluation: Ratings, k: int,
                         exclude: sparse.csr_matrix) -> Dict[str, float]:
    """Recall@k and NDCG@k (keys `recall@k`, `ndcg@k`) over the eval users, each user's
    `exclude` movies left out of the ranking."""
    users = np.unique(evaluation.user_index)
    top = top_k_movies(scorer, users, k, exclude)
    return _recall_and_ndcg(top, users, evaluation, k)


def _recall_and_ndcg(top: np.ndarray, users: np.ndarray, evaluation: Ratings,
                     k: int) -> Dict[str, float]:
    top = top[:, :k]
    relevant = sparse.csr_matrix(
        (np.ones(len(evaluation), dtype=bool), (evaluation.user_index, evaluation.movie_index)),
        shape=(int(evaluation.user_index.max()) + 1,
               int(max(evaluation.movie_index.max(), top.max(initial=0))) + 1))
    rows = np.repeat(users, top.shape[1])
    hit = np.asarray(relevant[rows, top.ravel()]).reshape(top.shape).astype(bool)
    num_relevant = np.asarray(relevant[users].sum(axis=1)).ravel()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))[: top.shape[1]]
    ideal_cumulative = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = ideal_cumulative[np.minimum(num_relevant, k) - 1]
    return {
        f"recall@{k}": float(np.mean(hit.sum(axis=1) / num_relevant)),
        f"ndcg@{k}": float(np.mean((hit * discounts).sum(axis=1) / ideal)),
    }


def most_popular_scorer(train: Ratings, num_movies: int) -> Scorer:
    """The baseline: every user gets movies ranked by training-set rating count."""
    counts = np.bincount(train.movie_index, minlength=num_movies + 1)[:num_movies]
    counts = counts.astype(np.float32)
    return lambda users: np.broadcast_to(counts, (len(users), num_movies))


def slices(train: Ratings, evaluation: Ratings, num_users: int,
           num_movies: int) -> Dict[str, np.ndarray]:
    """Which of `evaluation`'s pairs each slice holds, named and ordered as the Evaluator's:
    features.WHOLE, then each bucket of features.SLICE_BUCKETS, by the number of train ratings
    of the pair's user (activity) and movie (popularity); an id with none is light, or tail."""
    by_user = np.bincount(train.user_index, minlength=num_users + 1)
    by_movie = np.bincount(train.movie_index, minlength=num_movies + 1)
    buckets = {
        features.USER_ACTIVITY: features.activity_buckets(by_user)[evaluation.user_index],
        features.MOVIE_POPULARITY: features.popularity_buckets(by_movie)[evaluation.movie_index],
    }
    found = {features.WHOLE: np.ones(len(evaluation), dtype=bool)}
    for feature, names in features.SLICE_BUCKETS.items():
        for bucket in names:
            found[features.slice_name(feature, bucket)] = buckets[feature] == bucket
    return found


def rating_report(predicted: np.ndarray, evaluation: Ratings,
                  sliced: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Any]:
    """The RMSE of `predicted` clipped to [0, 1] against `evaluation`'s ratings, on the unit
    scale (`rmse_unit`) and in stars (`rmse_stars`), and in stars by slice (`sliced`)."""
    clipped = np.clip(np.asarray(predicted), 0.0, 1.0)
    unit = rmse(clipped, evaluation.rating)
    report: Dict[str, Any] = {"rmse_unit": unit, "rmse_stars": 4.0 * unit}
    if sliced is not None:
        report[SLICES] = {name: {"rmse_stars": 4.0 * rmse(clipped[mask], evaluation.rating[mask])}
                          for name, mask in sliced.items() if mask.any()}
    return report


def combined(*reports: Dict[str, Any]) -> Dict[str, Any]:
    """One report of several (a model's ranking and rating metrics), slices merged."""
    merged: Dict[str, Any] = {}
    for report in reports:
        for key, value in report.items():
            if key == SLICES:
                for name, values in value.items():
                    merged.setdefault(SLICES, {}).setdefault(name, {}).update(values)
            else:
                merged[key] = value
    return merged


def _ranking_slices(top: np.ndarray, users: np.ndarray, evaluation: Ratings,
                    sliced: Dict[str, np.ndarray], num_movies: int) -> Dict[str, Dict[str, float]]:
    """By slice: its pairs, the share whose movie is in its user's `top` (TOP_10), and the
    share of the catalogue in the `top` of its pairs' users (COVERAGE)."""
    rows, hits = _rows(users, evaluation), _hits(top, users, evaluation)
    found: Dict[str, Dict[str, float]] = {}
    for name, mask in sliced.items():
        found[name] = {RATINGS: float(mask.sum())}
        if mask.any():
            found[name][TOP_10] = float(hits[mask].mean())
            found[name][COVERAGE] = len(np.unique(top[rows[mask]])) / num_movies
    return found


def retrieval_report(scorer: Scorer, train: Ratings, evaluation: Ratings,
                     num_users: int, num_movies: int) -> Dict[str, Any]:
    """The retrieval metrics of the three-model comparison, overall and by slice (`slices`):
    two passes over the eval users, top 100 as ranked and top 10 without each user's training
    movies."""
    seen = seen_matrix(train, num_users, num_movies)
    users = np.unique(evaluation.user_index)
    top_100 = top_k_movies(scorer, users, 100)
    top_10_unseen = top_k_movies(scorer, users, 10, exclude=seen)
    five_stars = evaluation.take(np.flatnonzero(evaluation.rating >= 1.0 - 1e-6))
    report: Dict[str, Any] = {
        "top10_5star": float(_hits(top_100[:, :10], users, five_stars).mean()),
        "top10_5star_seen_excluded": float(_hits(top_10_unseen, users, five_stars).mean()),
        "top100": float(_hits(top_100, users, evaluation).mean()),
        COVERAGE: len(np.unique(top_10_unseen)) / num_movies,
    }
    report.update(_recall_and_ndcg(top_10_unseen, users, evaluation, 10))
    report[SLICES] = _ranking_slices(top_10_unseen, users, evaluation,
                                     slices(train, evaluation, num_users, num_movies),
                                     num_movies)
    return report
