import filecmp
import os

import numpy as np
import pytest

from common.config_error import ConfigError
from components.movielens import synthetic
from components.movielens.synthetic import SyntheticConfig


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = SyntheticConfig(num_users=50, num_movies=120, num_ratings=2000, seed=3)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        synthetic.write_ml100k(synthetic.generate(
            SyntheticConfig(**{**config.__dict__, "seed": seed})), str(tmp_path / name))
    for file in ("u.data", "u.item"):
        assert filecmp.cmp(tmp_path / "a" / file, tmp_path / "b" / file, shallow=False)
    assert not filecmp.cmp(tmp_path / "a" / "u.data", tmp_path / "c" / "u.data", shallow=False)


def test_default_is_ml100k_sized_and_shaped():
    data = synthetic.generate()
    assert data.num_ratings == 100_000
    assert len(set(data.user_ids)) == 943 and len(data.movies) == 1682
    pairs = set(zip(data.user_ids, data.movie_ids))
    assert len(pairs) == data.num_ratings, "a user rates a movie at most once"
    # Star distribution of ml-100k (6/11/27/34/21 %).
    shares = np.bincount(data.ratings.astype(int), minlength=6)[1:] / data.num_ratings
    np.testing.assert_allclose(shares, [0.0611, 0.1137, 0.2715, 0.3417, 0.2120], atol=0.01)
    # Popularity skew: the 10% most rated movies take a large share of ratings.
    per_movie = np.sort(np.unique(data.movie_ids, return_counts=True)[1])[::-1]
    assert per_movie[: len(per_movie) // 10].sum() / data.num_ratings > 0.3
    # Every user has enough history to split; activity is heavy-tailed.
    per_user = np.unique(data.user_ids, return_counts=True)[1]
    assert per_user.min() >= 20 and per_user.max() > 5 * np.median(per_user)
    assert 874724710 <= data.timestamps.min() and data.timestamps.max() <= 893286638
    assert all(1 <= len(m.genres) <= 3 for m in data.movies.values())


def test_ratings_carry_learnable_signal():
    """Users differ in how they rate, and ratings depend on the movie: a model can learn."""
    data = synthetic.generate(SyntheticConfig(num_users=200, num_movies=300, num_ratings=20_000))
    users = np.unique(data.user_ids, return_inverse=True)[1]
    movies = np.unique(data.movie_ids, return_inverse=True)[1]
    user_means = np.bincount(users, data.ratings) / np.bincount(users)
    movie_means = np.bincount(movies, data.ratings) / np.bincount(movies)
    baseline = np.sqrt(np.mean((data.ratings - data.ratings.mean()) ** 2))
    biased = data.ratings.mean() + (user_means[users] - data.ratings.mean()) + (
        movie_means[movies] - data.ratings.mean())
    assert np.sqrt(np.mean((data.ratings - biased) ** 2)) < 0.9 * baseline


@pytest.mark.parametrize("kwargs, option", [
    ({"num_users": 0}, "--synthetic-users"), ({"num_movies": 1}, "--synthetic-movies"),
    ({"num_ratings": 10}, "--synthetic-ratings"), ({"num_ratings": 10**9}, "--synthetic-ratings"),
])
def test_impossible_sizes_are_refused_naming_the_option(kwargs, option):
    with pytest.raises(ConfigError, match=f"^{option} must be"):
        SyntheticConfig(**kwargs)


def test_titles_are_latin1_and_written_so(tmp_path, small_data):
    _, item_path = synthetic.write_ml100k(small_data, str(tmp_path))
    with open(item_path, "rb") as raw:
        content = raw.read()
    assert any(b > 0x7F for b in content), "some titles use latin-1 letters"
    content.decode("latin-1")
    assert os.path.getsize(tmp_path / "u.data") > 0
