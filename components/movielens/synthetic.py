"""A deterministic MovieLens-like data set, so the pipeline runs offline and tests run fast.

Users and movies get latent taste vectors; movies get a power-law popularity and genres tied
to their taste vector. A user's choice of movies mixes popularity with how much they would
like the movie, as real users do: candidates drawn by popularity, of which the user takes the
ones they like best (Gumbel top-k: sampling without replacement weighted by exp(1.5 x
affinity)). A user costs what they rate, not the catalogue, so data of ml-25m's size (162,541
users x 59,047 movies) is made in time linear in the ratings. Star ratings come from the
user-movie affinity plus user and movie biases, mapped onto MovieLens 100k's star
distribution. Timestamps fall in each user's own active window inside ml-100k's seven months.
Everything is drawn from one seeded numpy Generator, so the same configuration yields the same
data, byte for byte, everywhere.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Tuple

import numpy as np

from common.config_error import require
from components.movielens.parsers import ML100K_GENRES
from components.movielens.records import Movie, MovieLensData

# Share of each star rating in ml-100k (1 to 5 stars).
_STAR_SHARES = np.array([0.0611, 0.1137, 0.2715, 0.3417, 0.2120])
_FIRST_TIMESTAMP = 874724710  # ml-100k's first and last ratings: Sep 1997 to Apr 1998.
_LAST_TIMESTAMP = 893286638
_WORDS = (
    "Night", "City", "Return", "Blue", "Secret", "Last", "Summer", "River", "Dark", "Garden",
    "Star", "Kingdom", "Heart", "Storm", "Silent", "Golden", "Road", "Ghost", "Winter", "Fire",
    "Café", "Señor", "Déjà", "Mirror", "Island", "Journey", "Shadow", "Dream", "Wild", "Moon",
)


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Size and seed of the synthetic set; the defaults are about ml-100k's size."""

    num_users: int = 943
    num_movies: int = 1682
    num_ratings: int = 100_000
    seed: int = 42
    taste_dimensions: int = 8

    def __post_init__(self) -> None:
        require(self.num_users >= 1, "--synthetic-users", "at least 1", self.num_users)
        require(self.num_movies >= 2, "--synthetic-movies", "at least 2", self.num_movies)
        require(self.num_users <= self.num_ratings <= self.num_users * self.num_movies,
                "--synthetic-ratings",
                f"between --synthetic-users ({self.num_users:,}) and users x movies "
                f"({self.num_users * self.num_movies:,})", self.num_ratings)
        require(self.taste_dimensions >= 1, "taste_dimensions", "at least 1",
                self.taste_dimensions)


# A user's movies are picked from this many times as many candidates drawn by popularity.
POOL_FACTOR = 4


def generate(config: SyntheticConfig = SyntheticConfig()) -> MovieLensData:
    """Draws a MovieLens-format data set; equal configs give equal data."""
    rng = np.random.default_rng(config.seed)
    movie_taste = rng.normal(size=(config.num_movies, config.taste_dimensions))
    user_taste = rng.normal(size=(config.num_users, config.taste_dimensions))
    movies = _movies(rng, movie_taste)

    # Power-law popularity: a few blockbusters, a long tail, as in every MovieLens release.
    popularity = 1.0 / np.arange(1, config.num_movies + 1) ** 0.9
    popularity = popularity[rng.permutation(config.num_movies)]
    per_user = _ratings_per_user(rng, config)

    cumulative = np.cumsum(popularity / popularity.sum())
    log_popularity = np.log(popularity)
    scale = 1.0 / np.sqrt(config.taste_dimensions)
    user_ids: List[np.ndarray] = []
    movie_ids: List[np.ndarray] = []
    scores: List[np.ndarray] = []
    timestamps: List[np.ndarray] = []
    user_bias = rng.normal(scale=0.5, size=config.num_users)
    movie_bias = (rng.normal(scale=0.5, size=config.num_movies)
                  + 0.3 * np.log(popularity / popularity.mean()))
    for user in range(config.num_users):
        count = int(per_user[user])
        pool = _candidates(rng, cumulative, POOL_FACTOR * count)
        affinity = (movie_taste[pool] @ user_taste[user]) * scale
        keys = 1.5 * affinity + rng.gumbel(size=len(pool))
        if len(pool) == config.num_movies:  # the whole catalogue: weigh popularity here
            keys += log_popularity
        best = np.argpartition(-keys, count - 1)[:count]
        chosen = pool[best]
        noise = rng.normal(scale=0.6, size=count)
        scores.append(affinity[best] + user_bias[user] + movie_bias[chosen] + noise)
        user_ids.append(np.full(count, user + 1))
        movie_ids.append(chosen + 1)
        timestamps.append(_user_timestamps(rng, count))

    all_scores = np.concatenate(scores)
    # Map the continuous scores onto stars by the quantiles of ml-100k's star shares.
    cut_points = np.quantile(all_scores, np.cumsum(_STAR_SHARES)[:-1])
    stars = (np.searchsorted(cut_points, all_scores) + 1).astype(np.float32)
    return MovieLensData(
        user_ids=np.array([str(u) for u in np.concatenate(user_ids)], dtype=object),
        movie_ids=np.array([str(m) for m in np.concatenate(movie_ids)], dtype=object),
        ratings=stars,
        timestamps=np.concatenate(timestamps).astype(np.int64),
        movies=movies,
        description=(
            f"synthetic MovieLens (seed {config.seed}, {config.num_users} users, "
            f"{config.num_movies} movies, {config.num_ratings} ratings)"
        ),
    )


def _candidates(rng: np.random.Generator, cumulative: np.ndarray, size: int) -> np.ndarray:
    """`size` distinct movies drawn by popularity (`cumulative`: its running sum), or every
    movie when `size` is half the catalogue or more (so many distinct draws would take many
    rounds, and the whole catalogue costs no more than `size`). Drawing with replacement and
    keeping first occurrences costs O(size log movies), not O(movies)."""
    num_movies = len(cumulative)
    if size >= num_movies // 2:
        return np.arange(num_movies)
    found = np.empty(0, dtype=np.int64)
    while len(found) < size:
        draws = np.minimum(np.searchsorted(cumulative, rng.random(2 * size)), num_movies - 1)
        both = np.concatenate([found, draws])
        _, first = np.unique(both, return_index=True)
        found = both[np.sort(first)]
    return found[:size]


def _ratings_per_user(rng: np.random.Generator, config: SyntheticConfig) -> np.ndarray:
    """Heavy-tailed activity: most users rate a few dozen movies, some rate hundreds."""
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=config.num_users)
    minimum = min(20, config.num_ratings // config.num_users)
    spare = config.num_ratings - minimum * config.num_users
    counts = minimum + np.floor(spare * activity / activity.sum()).astype(np.int64)
    counts = np.minimum(counts, config.num_movies)
    # Hand out what rounding and the per-user cap left over, one rating at a time.
    shortfall = config.num_ratings - int(counts.sum())
    order = np.argsort(-activity, kind="stable")
    while shortfall > 0:
        for user in order:
            if shortfall == 0:
                break
            if counts[user] < config.num_movies:
                counts[user] += 1
                shortfall -= 1
    return counts


def _user_timestamps(rng: np.random.Generator, count: int) -> np.ndarray:
    span = _LAST_TIMESTAMP - _FIRST_TIMESTAMP
    start = _FIRST_TIMESTAMP + rng.integers(0, span * 3 // 4)
    length = rng.integers(3600, _LAST_TIMESTAMP - start + 1)
    return np.sort(start + rng.integers(0, length, size=count))


def _movies(rng: np.random.Generator, movie_taste: np.ndarray) -> Dict[str, Movie]:
    genre_names = ML100K_GENRES[1:]  # 'unknown' is kept for movies without a genre
    genre_axes = rng.normal(size=(movie_taste.shape[1], len(genre_names)))
    genre_scores = movie_taste @ genre_axes
    movies: Dict[str, Movie] = {}
    for index in range(len(movie_taste)):
        count = 1 + int(rng.integers(0, 3))
        best = np.argsort(-genre_scores[index], kind="stable")[:count]
        genres = tuple(genre_names[g] for g in sorted(best))
        words = rng.choice(len(_WORDS), size=1 + int(rng.integers(0, 3)), replace=False)
        year = 1930 + int(rng.integers(0, 68))
        title = f"{' '.join(_WORDS[w] for w in words)} {index + 1} ({year})"
        movies[str(index + 1)] = Movie(str(index + 1), title, genres)
    return movies


def write_ml100k(data: MovieLensData, directory: str) -> Tuple[str, str]:
    """Writes `data` as ml-100k's u.data and u.item (latin-1) and returns their paths."""
    os.makedirs(directory, exist_ok=True)
    data_path = os.path.join(directory, "u.data")
    item_path = os.path.join(directory, "u.item")
    with open(data_path, "w", encoding="ascii", newline="\n") as out:
        for user, movie, rating, timestamp in zip(
            data.user_ids, data.movie_ids, data.ratings, data.timestamps
        ):
            out.write(f"{user}\t{movie}\t{int(rating)}\t{timestamp}\n")
    with open(item_path, "w", encoding="latin-1", newline="\n") as out:
        for movie in sorted(data.movies.values(), key=lambda m: int(m.movie_id)):
            flags = "|".join("1" if g in movie.genres else "0" for g in ML100K_GENRES)
            out.write(f"{movie.movie_id}|{movie.title}|01-Jan-1995||http://example.invalid/|{flags}\n")
    return data_path, item_path
