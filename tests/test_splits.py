import numpy as np
import pytest

from components.movielens import parsers, splits


def test_random_split_is_seeded_80_20(small_data):
    mask = splits.random_split(small_data, 0.2, seed=1)
    assert mask.sum() == round(0.2 * small_data.num_ratings)
    np.testing.assert_array_equal(mask, splits.random_split(small_data, 0.2, seed=1))
    assert not np.array_equal(mask, splits.random_split(small_data, 0.2, seed=2))


def test_temporal_split_keeps_each_users_latest_ratings_for_eval(small_data):
    mask = splits.temporal_split(small_data, 0.2, seed=0)
    for user in np.unique(small_data.user_ids):
        mine = small_data.user_ids == user
        train_times = small_data.timestamps[mine & ~mask]
        eval_times = small_data.timestamps[mine & mask]
        assert len(eval_times) == int(mine.sum() * 0.2)
        assert len(train_times) > 0
        if len(eval_times):
            assert train_times.max() <= eval_times.min()
    assert abs(mask.mean() - 0.2) < 0.02


def test_temporal_ties_break_by_movie_id():
    from components.movielens.records import Movie, MovieLensData

    movies = {str(i): Movie(str(i), f"m{i}", ()) for i in range(1, 6)}
    data = MovieLensData(
        user_ids=np.array(["1"] * 5, dtype=object),
        movie_ids=np.array(["5", "3", "1", "4", "2"], dtype=object),
        ratings=np.full(5, 3.0, dtype=np.float32),
        timestamps=np.full(5, 100, dtype=np.int64),
        movies=movies, description="ties")
    mask = splits.temporal_split(data, 0.4, seed=0)
    assert sorted(data.movie_ids[mask]) == ["4", "5"]


@pytest.mark.parametrize("split", ["random", "temporal"])
def test_real_movielens_100k_splits(ml100k_dir, split):
    data = parsers.read_movielens(ml100k_dir)
    mask = splits.SPLITTERS[split](data, 0.2, 42)
    if split == "random":
        assert mask.sum() == 20_000
    else:
        # Every ml-100k user has at least 20 ratings, so every user has eval ratings.
        assert len(np.unique(data.user_ids[mask])) == 943
        assert 0.19 < mask.mean() < 0.2
