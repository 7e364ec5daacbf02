"""The in-memory form of a MovieLens data set, shared by every source and by the splitters."""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Tuple

import numpy as np


class DataFormatError(ValueError):
    """A MovieLens input that cannot be read, located by file, line and field.

    The message always says where the problem is, so that a user can open the file at that
    line; `line` is 1-based and `field` is the MovieLens column name.
    """

    def __init__(
        self,
        path: str,
        message: str,
        line: Optional[int] = None,
        field: Optional[str] = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclasses.dataclass(frozen=True)
class Movie:
    """One movie of the catalogue; `genres` keeps MovieLens' genre names in file order."""

    movie_id: str
    title: str
    genres: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class MovieLensData:
    """Ratings as parallel columns plus the movie catalogue they refer to.

    Columns rather than one object per rating keep ml-25m (25 million ratings) within memory,
    and let the splitters work on numpy arrays.
    """

    user_ids: np.ndarray  # str, one per rating
    movie_ids: np.ndarray  # str, one per rating
    ratings: np.ndarray  # float32 stars
    timestamps: np.ndarray  # int64 seconds since the epoch
    movies: Dict[str, Movie]
    description: str  # where the data came from, for logs and errors

    def __post_init__(self) -> None:
        lengths = {len(self.user_ids), len(self.movie_ids), len(self.ratings), len(self.timestamps)}
        if len(lengths) != 1:
            raise ValueError(f"{self.description}: rating columns differ in length: {lengths}")

    @property
    def num_ratings(self) -> int:
        """The number of ratings."""
        return len(self.ratings)
