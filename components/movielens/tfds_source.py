"""MovieLens through TensorFlow Datasets (`movielens/100k-ratings` and its siblings).

TFDS downloads the GroupLens zip on first use. Offline, that download would retry for minutes;
we probe the host first and fail at once with the two sources that work without a network.
A data set TFDS has already prepared in `data_dir` is read without touching the network.
"""

from __future__ import annotations

import socket
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlparse

import numpy as np

from components.movielens.records import Movie, MovieLensData

DEFAULT_DATASET = "movielens/100k-ratings"


class SourceUnavailableError(RuntimeError):
    """A data source that cannot be reached from here; the message names the alternatives."""


def _check_reachable(url: str, timeout_seconds: float) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds):
            return
    except OSError as error:
        raise SourceUnavailableError(
            f"TFDS needs to download {url}, but {host}:{port} cannot be reached ({error}). "
            "Offline, use --data synthetic (the built-in generator) or --data PATH to a local "
            "MovieLens directory or zip (ml-100k, ml-1m, ml-latest-small, ml-25m)."
        ) from None


def load_tfds(
    dataset: str = DEFAULT_DATASET,
    data_dir: Optional[str] = None,
    timeout_seconds: float = 5.0,
    download_url: Optional[str] = None,
) -> MovieLensData:
    """Loads every rating of a TFDS MovieLens ratings data set (the only split is 'train')."""
    import tensorflow_datasets as tfds  # slow to import; only this source needs it

    builder = tfds.builder(dataset, data_dir=data_dir)
    if not builder.is_prepared():
        url = download_url or builder.builder_config.download_url
        _check_reachable(url, timeout_seconds)
        builder.download_and_prepare()
    genre_names = builder.info.features["movie_genres"].feature.names

    columns: Tuple[List[str], List[str], List[float], List[int]] = ([], [], [], [])
    movies: Dict[str, Movie] = {}
    for row in tfds.as_numpy(builder.as_dataset(split="train")):
        movie_id = row["movie_id"].decode()
        if movie_id not in movies:
            genres = tuple(genre_names[g] for g in row["movie_genres"])
            movies[movie_id] = Movie(movie_id, row["movie_title"].decode(), genres)
        columns[0].append(row["user_id"].decode())
        columns[1].append(movie_id)
        columns[2].append(float(row["user_rating"]))
        columns[3].append(int(row["timestamp"]))
    return MovieLensData(
        user_ids=np.array(columns[0], dtype=object),
        movie_ids=np.array(columns[1], dtype=object),
        ratings=np.array(columns[2], dtype=np.float32),
        timestamps=np.array(columns[3], dtype=np.int64),
        movies=movies,
        description=f"TFDS {dataset}",
    )
