"""Readers for the MovieLens releases: a directory or the zip GroupLens ships, on local disk
or in an object store (gs://...).

The release is detected from the file names it holds:
- ml-100k: `u.data` (tab separated) and `u.item` (pipe separated, latin-1, 19 genre flags);
- ml-1m (and ml-10m): `ratings.dat` and `movies.dat` (`::` separated, latin-1);
- ml-latest, ml-latest-small, ml-20m, ml-25m: `ratings.csv` and `movies.csv` (UTF-8 CSV).

Every malformed row raises `DataFormatError` naming the file, the 1-based line and the field.
Files are streamed line by line so that the larger releases need not be read into memory whole.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import re
import zipfile
import zlib
from typing import IO, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np
from absl import logging

from common import storage
from components.movielens.records import DataFormatError, Movie, MovieLensData

# The genre columns of ml-100k's u.item, in file order (u.genre).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
_ML100K_ITEM_FIELDS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")

# ASCII only: str.isdigit() and float() also read '²' and Arabic-Indic digits, and float()
# reads 'nan', 'inf' and '1_0'.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
MAX_ID = 2**31 - 1  # MovieLens ids count from 1; the largest release's are below 400,000
MAX_TIMESTAMP = 10**12  # seconds since 1970: year 33,658
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, which some editors put first
_ZIP_MAGIC = b"PK\x03\x04"  # the first bytes of a zip archive (its directory is at the end)
# What zipfile raises on a member it cannot read: a bad checksum, compressed data that ends
# early or does not inflate, a compression it does not know (Deflate64, which Windows
# writes for large archives), a password.
_UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                      RuntimeError)


@dataclasses.dataclass(frozen=True)
class RatingScale:
    """The ratings a release may hold: whole stars 1-5, or half stars 0.5-5 in ml-latest."""

    lowest: float
    highest: float
    step: float

    def check(self, value: float) -> bool:
        """Whether `value` is on the scale: within its range, a whole number of steps from the
        lowest."""
        if not self.lowest <= value <= self.highest:
            return False
        steps = (value - self.lowest) / self.step
        return abs(steps - round(steps)) < 1e-6

    def describe(self) -> str:
        """The scale in words, for error messages."""
        return f"{self.lowest:g} to {self.highest:g} in steps of {self.step:g}"


WHOLE_STARS = RatingScale(1.0, 5.0, 1.0)
HALF_STARS = RatingScale(0.5, 5.0, 0.5)


@dataclasses.dataclass(frozen=True)
class _Format:
    name: str
    ratings_file: str
    movies_file: str
    read_movies: Callable[["_Source", str], Dict[str, Movie]]
    ratings_rows: Callable[["_Source", str], Iterator[Tuple[int, Sequence[str]]]]
    scale: RatingScale


class _Source:
    """A directory or a zip archive, opened by file base name wherever it sits inside."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._zip = None
        self._stream = None  # the zip archive's file
        if storage.isdir(path):
            self._members = _files_in_directory(path)
        elif storage.exists(path):
            self._stream = storage.open_binary(path)
            if not storage.is_zip(self._stream):
                self._stream.seek(0)
                cut_off = self._stream.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
                self.close()
                if cut_off:
                    raise DataFormatError(path, "starts as a zip archive but has no directory "
                                                "at its end: it looks cut off (an interrupted "
                                                "download or copy); fetch it again")
                raise DataFormatError(path, "is neither a directory nor a zip archive of "
                                            "MovieLens")
            try:
                self._zip = zipfile.ZipFile(self._stream)
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                self.close()
                raise DataFormatError(path, f"is a damaged zip archive ({error}); fetch it "
                                            "again") from None
            self._members = {
                os.path.basename(name): name
                for name in self._zip.namelist()
                if not name.endswith("/") and not os.path.basename(name).startswith(".")
            }
        else:
            raise DataFormatError(path, "does not exist")

    def has(self, name: str) -> bool:
        return name in self._members

    def label(self, name: str) -> str:
        if self._zip is not None:
            return f"{self.path}!{self._members[name]}"
        return self._members[name]

    def names(self) -> List[str]:
        return sorted(self._members)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._zip is not None:
            try:
                with self._zip.open(self._members[name]) as stream:
                    yield stream
            except _UNREADABLE_MEMBER as error:
                raise DataFormatError(self.label(name), f"cannot be read from the zip archive "
                                                        f"({error}): fetch the archive again, "
                                                        "or extract it and give the folder"
                                      ) from None
        else:
            with storage.open_binary(self._members[name]) as stream:
                yield stream

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._stream is not None:
            self._stream.close()

    def lines(self, name: str, encoding: str) -> Iterator[Tuple[int, str]]:
        """Yields (1-based line number, text without the line break). An empty file is an
        error, and so is a last line with text but no line break: every MovieLens file ends
        with one, and a file cut off in the middle of a line may still parse (a timestamp
        cut short is a timestamp)."""
        label = self.label(name)
        number, raw = 0, b""
        with self.open(name) as stream:
            for number, raw in enumerate(stream, start=1):
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as error:
                    bad = raw[error.start:error.start + 1].hex()
                    raise DataFormatError(
                        label,
                        f"cannot be read as {encoding} text (byte 0x{bad} at column "
                        f"{error.start + 1}); MovieLens {name} files are {encoding}",
                        line=number,
                    ) from None
                if not raw.endswith(b"\n") and raw.strip():  # only ever the last line
                    raise DataFormatError(
                        label, "the file ends in this line, without a line break: it looks "
                               "cut off (an interrupted download or copy). If the line is "
                               "complete, end it with a line break", line=number)
                text = text.rstrip("\r\n")
                if text.strip():
                    yield number, text
        if not number:
            raise DataFormatError(label, "file is empty")


def _files_in_directory(path: str) -> Dict[str, str]:
    """Maps base names to paths, in `path` itself or one level down (an extracted zip's folder)."""
    found: Dict[str, str] = {}
    entries = [os.path.join(path, entry) for entry in storage.listdir(path)]
    folders = [entry for entry in entries if storage.isdir(entry)]
    for folder in folders:
        for inner in storage.listdir(folder):
            found.setdefault(inner, os.path.join(folder, inner))
    for entry in entries:
        if entry not in folders:
            found[os.path.basename(entry)] = entry
    return found


def _split_rows(
    source: _Source, name: str, separator: str, columns: Sequence[str], encoding: str
) -> Iterator[Tuple[int, Sequence[str]]]:
    for number, text in source.lines(name, encoding):
        fields = text.split(separator)
        if len(fields) != len(columns):
            raise DataFormatError(
                source.label(name),
                f"expected {len(columns)} fields ({', '.join(columns)}) separated by "
                f"{separator!r}, found {len(fields)}",
                line=number,
            )
        yield number, fields


def _csv_rows(
    source: _Source, name: str, columns: Sequence[str]
) -> Iterator[Tuple[int, Sequence[str]]]:
    label = source.label(name)
    lines = source.lines(name, "utf-8")
    numbers: List[int] = []

    def texts() -> Iterator[str]:
        for number, text in lines:
            numbers.append(number)
            yield text

    reader = csv.reader(texts())
    header = next(reader, None)
    if header != list(columns):
        raise DataFormatError(
            label,
            f"expected the header {','.join(columns)}, found {header}",
            line=numbers[0] if numbers else None,
        )
    for fields in reader:
        if len(fields) != len(columns):
            raise DataFormatError(
                label,
                f"expected {len(columns)} comma separated fields ({', '.join(columns)}), "
                f"found {len(fields)}",
                line=numbers[-1],
            )
        yield numbers[-1], fields


def _bounded_int(text: str, largest: int) -> int:
    """The ASCII integer `text`, or -1 when it is not one or is above `largest` (checked on
    its digits first: int() refuses more than 4,300 of them)."""
    if not _DIGITS.fullmatch(text) or len(text.lstrip("0")) > len(str(largest)):
        return -1
    value = int(text.lstrip("0") or "0")
    return value if value <= largest else -1


def _parse_id(label: str, line: int, field: str, text: str) -> str:
    text = text.strip()
    if not 1 <= _bounded_int(text, MAX_ID) <= MAX_ID:
        raise DataFormatError(label, f"expected an integer id from 1 to {MAX_ID:,}, found "
                                     f"{text!r}", line, field)
    return str(int(text))


def _parse_rating(label: str, line: int, text: str, scale: RatingScale) -> float:
    if not _DECIMAL.fullmatch(text.strip()):
        raise DataFormatError(label, f"expected a number of stars such as 4 or 3.5, found "
                                     f"{text!r}", line, "rating")
    value = float(text)
    if not scale.check(value):
        raise DataFormatError(
            label, f"rating {text.strip()} is outside {scale.describe()}", line, "rating"
        )
    return value


def _parse_timestamp(label: str, line: int, text: str) -> int:
    text = text.strip()
    if not 0 <= _bounded_int(text, MAX_TIMESTAMP) <= MAX_TIMESTAMP:
        raise DataFormatError(
            label, f"expected seconds since 1970 as an integer up to {MAX_TIMESTAMP:,}, found "
                   f"{text!r}", line, "timestamp"
        )
    return int(text)


def _register(movies: Dict[str, Movie], label: str, line: int, movie: Movie) -> None:
    if movie.movie_id in movies:
        raise DataFormatError(label, f"movie {movie.movie_id} is listed twice", line, "movie_id")
    movies[movie.movie_id] = movie


def _catalogue_encoding(source: _Source, name: str) -> str:
    """latin-1, as GroupLens writes the ml-100k and ml-1m catalogues, unless the file is
    UTF-8 with some non-ASCII text: latin-1 decodes any bytes, so a catalogue saved as UTF-8
    would otherwise turn every accented title into mojibake without a word. (A latin-1 title
    is almost never valid UTF-8: 'é' alone is the invalid byte 0xe9.)"""
    with source.open(name) as stream:
        content = stream.read()  # a catalogue: at most a few MB
    if content.isascii():
        return "latin-1"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    logging.info("%s is UTF-8, not the latin-1 of GroupLens' files: read as UTF-8",
                 source.label(name))
    return "utf-8"


def _ml100k_movies(source: _Source, name: str) -> Dict[str, Movie]:
    label = source.label(name)
    columns = _ML100K_ITEM_FIELDS + ML100K_GENRES
    movies: Dict[str, Movie] = {}
    for number, fields in _split_rows(source, name, "|", columns,
                                      _catalogue_encoding(source, name)):
        flags = fields[len(_ML100K_ITEM_FIELDS):]
        for genre, flag in zip(ML100K_GENRES, flags):
            if flag not in ("0", "1"):
                raise DataFormatError(label, f"expected a 0/1 genre flag, found {flag!r}",
                                      number, genre)
        genres = tuple(g for g, flag in zip(ML100K_GENRES, flags) if flag == "1")
        movie_id = _parse_id(label, number, "movie_id", fields[0])
        _register(movies, label, number, Movie(movie_id, fields[1], genres))
    return movies


def _ml1m_movies(source: _Source, name: str) -> Dict[str, Movie]:
    label = source.label(name)
    movies: Dict[str, Movie] = {}
    for number, fields in _split_rows(source, name, "::", ("MovieID", "Title", "Genres"),
                                      _catalogue_encoding(source, name)):
        movie_id = _parse_id(label, number, "MovieID", fields[0])
        _register(movies, label, number, Movie(movie_id, fields[1], _genre_list(fields[2])))
    return movies


def _csv_movies(source: _Source, name: str) -> Dict[str, Movie]:
    label = source.label(name)
    movies: Dict[str, Movie] = {}
    for number, fields in _csv_rows(source, name, ("movieId", "title", "genres")):
        movie_id = _parse_id(label, number, "movieId", fields[0])
        _register(movies, label, number, Movie(movie_id, fields[1], _genre_list(fields[2])))
    return movies


def _genre_list(text: str) -> Tuple[str, ...]:
    if text in ("", "(no genres listed)"):
        return ()
    return tuple(text.split("|"))


FORMATS = (
    _Format(
        "ml-100k", "u.data", "u.item", _ml100k_movies,
        lambda source, name: _split_rows(
            source, name, "\t", ("user_id", "item_id", "rating", "timestamp"), "utf-8"),
        WHOLE_STARS,
    ),
    _Format(
        "ml-1m", "ratings.dat", "movies.dat", _ml1m_movies,
        lambda source, name: _split_rows(
            source, name, "::", ("UserID", "MovieID", "Rating", "Timestamp"), "utf-8"),
        WHOLE_STARS,
    ),
    _Format(
        "ml-latest", "ratings.csv", "movies.csv", _csv_movies,
        lambda source, name: _csv_rows(source, name, ("userId", "movieId", "rating", "timestamp")),
        HALF_STARS,
    ),
)


def detect_format(path: str) -> str:
    """Names the MovieLens release at `path` (a directory or zip), or raises DataFormatError."""
    source = _Source(path)
    try:
        return _detect(source).name
    finally:
        source.close()


def _detect(source: _Source) -> _Format:
    for fmt in FORMATS:
        if source.has(fmt.ratings_file) and source.has(fmt.movies_file):
            return fmt
    expected = "; ".join(f"{f.name}: {f.ratings_file} and {f.movies_file}" for f in FORMATS)
    names = source.names()
    held = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    raise DataFormatError(
        source.path, f"holds no MovieLens release I know (it holds: {held or 'no files'}). "
                     f"Expected the files of one of {expected}"
    )


def read_movielens(path: str) -> MovieLensData:
    """Reads every rating and the movie catalogue of the MovieLens release at `path`."""
    source = _Source(path)
    try:
        fmt = _detect(source)
        movies = fmt.read_movies(source, fmt.movies_file)
        label = source.label(fmt.ratings_file)
        user_ids: List[str] = []
        movie_ids: List[str] = []
        ratings: List[float] = []
        timestamps: List[int] = []
        for number, (user, movie, rating, timestamp) in fmt.ratings_rows(source,
                                                                         fmt.ratings_file):
            user_ids.append(_parse_id(label, number, "user_id", user))
            movie_id = _parse_id(label, number, "movie_id", movie)
            if movie_id not in movies:
                raise DataFormatError(
                    label,
                    f"movie {movie_id} is not in {source.label(fmt.movies_file)}",
                    number,
                    "movie_id",
                )
            movie_ids.append(movie_id)
            ratings.append(_parse_rating(label, number, rating, fmt.scale))
            timestamps.append(_parse_timestamp(label, number, timestamp))
    finally:
        source.close()
    if not ratings:
        raise DataFormatError(label, "holds no ratings")
    return MovieLensData(
        user_ids=np.array(user_ids, dtype=object),
        movie_ids=np.array(movie_ids, dtype=object),
        ratings=np.array(ratings, dtype=np.float32),
        timestamps=np.array(timestamps, dtype=np.int64),
        movies=movies,
        description=f"{fmt.name} at {path}",
    )
