"""Repeated (user, movie) pairs: each pair's latest rating is kept, the rest counted."""

import logging
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from components.example_gen import executor
from components.movielens import duplicates, sources
from components.movielens.config import DataConfig
from components.movielens.records import MovieLensData


def _data(users, movies, ratings, stamps) -> MovieLensData:
    return MovieLensData(np.array(users, dtype=object), np.array(movies, dtype=object),
                         np.array(ratings, np.float32), np.array(stamps, np.int64), {}, "test")


def test_the_latest_rating_of_a_pair_is_kept_and_a_tie_goes_to_the_later_line():
    data = _data(["1", "2", "1", "1", "2", "3"], ["5", "5", "5", "6", "5", "5"],
                 [4, 1, 2, 3, 5, 3], [200, 100, 100, 50, 100, 10])
    kept = duplicates.keep_latest(data)
    # User 1 rated movie 5 at 200 (line 1) and 100 (line 3): line 1 stays. User 2 rated
    # movie 5 twice at 100 (lines 2 and 5): line 5 stays.
    assert kept.user_ids.tolist() == ["1", "1", "2", "3"]
    assert kept.movie_ids.tolist() == ["5", "6", "5", "5"]
    assert kept.ratings.tolist() == [4, 3, 5, 3]
    assert kept.timestamps.tolist() == [200, 50, 100, 10]
    assert kept.description == ("test (2 repeated (user, movie) ratings dropped, e.g. user 1 "
                                "rated movie 5 2 times: each pair's latest kept)")


def test_ids_are_compared_as_pairs_not_as_joined_text():
    # "1"+"12" and "11"+"2" would collide if the ids were joined into one string.
    data = _data(["1", "11"], ["12", "2"], [3, 4], [1, 2])
    assert duplicates.keep_latest(data) is data


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5),
                          st.integers(0, 3)), min_size=1, max_size=40))
def test_one_rating_a_pair_the_latest_the_rest_counted(rows):
    users, movies, ratings, stamps = zip(*rows)
    data = _data([str(u) for u in users], [str(m) for m in movies], ratings, stamps)
    kept = duplicates.keep_latest(data)
    pairs = list(zip(kept.user_ids, kept.movie_ids))
    assert len(pairs) == len(set(pairs)) == len(set(zip(users, movies)))
    expected = {}  # pair -> the row kept: latest timestamp, then latest line
    for line, (user, movie, rating, stamp) in enumerate(rows):
        key = (str(user), str(movie))
        if key not in expected or stamp >= expected[key][1]:
            expected[key] = (rating, stamp, line)
    lines = sorted(line for _, _, line in expected.values())
    assert [(u, m) for u, m in pairs] == [(str(users[i]), str(movies[i])) for i in lines]
    assert kept.ratings.tolist() == [ratings[i] for i in lines]
    dropped = len(rows) - len(lines)
    assert (f"({dropped:,} repeated" in kept.description) == bool(dropped)


def test_the_example_gen_line_counts_what_was_dropped(tmp_path, caplog):
    folder = tmp_path / "ml-100k"
    os.makedirs(folder)
    (folder / "u.data").write_text("7\t1\t4\t100\n8\t1\t2\t100\n7\t1\t5\t300\n7\t2\t3\t100\n"
                                   "9\t2\t3\t100\n")
    (folder / "u.item").write_text("".join(f"{m}|M{m} (1995)|d||url|{'|'.join(['0'] * 19)}\n"
                                           for m in (1, 2)))
    config = DataConfig(source=str(folder), eval_fraction=0.5, split_seed=1)
    data = sources.load(config)
    assert data.num_ratings == 4 and data.ratings.tolist() == [2, 5, 3, 3]
    with caplog.at_level(logging.INFO):
        _, rows = executor.split_rows(config.to_json())
    assert sum(len(rows[split]) for split in (executor.TRAIN, executor.EVAL)) == 4
    line = next(r.getMessage() for r in caplog.records
                if r.getMessage().startswith("MovieLensExampleGen:"))
    assert line.startswith("MovieLensExampleGen: 4 ratings from ml-100k at ")
    assert "(1 repeated (user, movie) ratings dropped, e.g. user 7 rated movie 1 2 times" in line
