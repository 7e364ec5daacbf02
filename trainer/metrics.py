"""Offline quality metrics, computed exactly (brute force over every movie) in numpy.

Definitions (also in the README):
- rmse: root mean squared error of the predicted normalised rating, on [0, 1]; x4 for stars.
- top_k_accuracy: the share of eval (user, movie) pairs whose movie is among the user's k
  highest-scored movies; `only` restricts the pairs (e.g. 5-star), `exclude` removes movies
  from the ranking (the user's training movies) before taking the top k.
- recall_at_k: per user, the share of the user's eval movies found in the top k (training
  movies excluded), averaged over users with eval movies.
- ndcg_at_k: per user, DCG of the top k with binary relevance (eval movies), over the ideal
  DCG of min(k, #eval movies) hits; averaged over users with eval movies.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import scipy.sparse as sparse

from trainer.data import Ratings


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def seen_matrix(train: Ratings, num_users: int, num_movies: int) -> sparse.csr_matrix:
    """users x movies, 1 where the user rated the movie in training."""
    ones = np.ones(len(train), dtype=bool)
    return sparse.csr_matrix((ones, (train.user_index, train.movie_index)),
                             shape=(num_users + 1, num_movies + 1))


def top_k_movies(scores: np.ndarray, k: int, exclude: Optional[sparse.csr_matrix] = None,
                 users: Optional[np.ndarray] = None) -> np.ndarray:
    """Indices of the k best-scored movies per row of `scores` (rows are `users`).

    A catalogue smaller than k returns every movie.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    k = min(k, scores.shape[1])
    if exclude is not None:
        mask = exclude[users][:, : scores.shape[1]].toarray()
        scores[mask] = -np.inf
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def top_k_accuracy(scores_by_user: np.ndarray, evaluation: Ratings, k: int,
                   only: Optional[np.ndarray] = None,
                   exclude: Optional[sparse.csr_matrix] = None) -> float:
    """`scores_by_user[u]` scores every movie for user index u."""
    pairs = evaluation if only is None else evaluation.take(np.flatnonzero(only))
    users = np.unique(pairs.user_index)
    top = top_k_movies(scores_by_user[users], k, exclude, users)
    row_of = np.full(scores_by_user.shape[0], -1)
    row_of[users] = np.arange(len(users))
    hits = (top[row_of[pairs.user_index]] == pairs.movie_index[:, None]).any(axis=1)
    return float(hits.mean())


def recall_and_ndcg_at_k(scores_by_user: np.ndarray, evaluation: Ratings, k: int,
                         exclude: sparse.csr_matrix) -> Dict[str, float]:
    users = np.unique(evaluation.user_index)
    top = top_k_movies(scores_by_user[users], k, exclude, users)
    relevant = sparse.csr_matrix(
        (np.ones(len(evaluation), dtype=bool), (evaluation.user_index, evaluation.movie_index)),
        shape=(scores_by_user.shape[0], max(scores_by_user.shape[1], exclude.shape[1])))
    hit = np.take_along_axis(relevant[users].toarray(), top, axis=1)
    num_relevant = np.asarray(relevant[users].sum(axis=1)).ravel()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.array([discounts[: min(k, n)].sum() for n in num_relevant])
    return {
        f"recall@{k}": float(np.mean(hit.sum(axis=1) / num_relevant)),
        f"ndcg@{k}": float(np.mean((hit * discounts).sum(axis=1) / ideal)),
    }


def most_popular_scores(train: Ratings, num_users: int, num_movies: int) -> np.ndarray:
    """The baseline: every user gets movies ranked by training-set rating count."""
    counts = np.bincount(train.movie_index, minlength=num_movies + 1)[:num_movies]
    return np.tile(counts.astype(np.float64), (num_users + 1, 1))


def retrieval_report(scores_by_user: np.ndarray, train: Ratings, evaluation: Ratings,
                     num_users: int, num_movies: int) -> Dict[str, float]:
    """The retrieval metrics of the three-model comparison, for one score matrix."""
    seen = seen_matrix(train, num_users, num_movies)
    five_stars = evaluation.rating >= 1.0 - 1e-6
    report = {
        "top10_5star": top_k_accuracy(scores_by_user, evaluation, 10, only=five_stars),
        "top10_5star_seen_excluded": top_k_accuracy(scores_by_user, evaluation, 10,
                                                    only=five_stars, exclude=seen),
        "top100": top_k_accuracy(scores_by_user, evaluation, 100),
    }
    report.update(recall_and_ndcg_at_k(scores_by_user, evaluation, 10, seen))
    return report
