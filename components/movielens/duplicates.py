"""Repeated (user, movie) pairs: one rating a pair, the latest.

MovieLens releases hold one rating per (user, movie), but a hand-made or concatenated export
may repeat a pair. Kept twice, a pair can land in train and in eval (the model is then
evaluated on what it was trained on) and counts twice in training. The policy: keep each
pair's latest rating by timestamp (a re-rating replaces the earlier one, as on the
MovieLens site), the later line on a tie, and count what was dropped.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from components.movielens.records import MovieLensData


def _codes(ids: np.ndarray) -> np.ndarray:
    """Each id's code among the distinct ids (pyarrow's hashing in C++, no Python loop)."""
    return pa.array(ids, type=pa.string()).dictionary_encode().indices.to_numpy(
        zero_copy_only=False).astype(np.int64)


def keep_latest(data: MovieLensData) -> MovieLensData:
    """`data` with one rating per (user, movie), the latest, rows in their order; its
    description says how many were dropped, with an example."""
    if data.num_ratings < 2:
        return data
    movies = _codes(data.movie_ids)
    pair = _codes(data.user_ids) * (int(movies.max()) + 1) + movies
    ordered = np.sort(pair)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeated):
        return data
    # Only the rows of repeated pairs are sorted again: by pair, then timestamp, then line.
    rows = np.flatnonzero(np.isin(pair, repeated))
    by_pair = rows[np.lexsort((rows, data.timestamps[rows], pair[rows]))]
    last_of_pair = np.append(pair[by_pair][1:] != pair[by_pair][:-1], True)
    kept = np.ones(data.num_ratings, bool)
    kept[by_pair[~last_of_pair]] = False
    example = rows[0]
    times = int((pair == pair[example]).sum())
    return dataclasses.replace(
        data, user_ids=data.user_ids[kept], movie_ids=data.movie_ids[kept],
        ratings=data.ratings[kept], timestamps=data.timestamps[kept],
        description=f"{data.description} ({int((~kept).sum()):,} repeated (user, movie) "
                    f"ratings dropped, e.g. user {data.user_ids[example]} rated movie "
                    f"{data.movie_ids[example]} {times} times: each pair's latest kept)")
