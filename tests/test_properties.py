"""Property-based tests (hypothesis) of the parsers and the splitters: any bytes either parse
into exactly the rows a strict reading gives or raise the project's own error; every split is
disjoint, complete and of the size its protocol says."""

import os
import re
import tempfile

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.movielens import parsers, splits
from components.movielens.records import DataFormatError, MovieLensData

ITEM = "".join(f"{m}|Movie {m} (1995)|01-Jan-1995||url|{'|'.join(['0'] * 19)}\n"
               for m in range(1, 6))
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# An independent, strict reading of one u.data line: four tab separated fields (spaces around
# a field allowed), ASCII ids 1..2^31-1 of a user and of a catalogue movie, a whole star 1-5,
# a timestamp up to 10^12.
NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _oracle(line):
    fields = [field.strip() for field in line.split("\t")]
    if len(fields) != 4 or not all(NUMBER.fullmatch(f) for f in fields):
        return None
    user, movie, rating, stamp = fields
    if "." in user + movie + stamp:
        return None
    if not (1 <= int(user) < 2**31 and 1 <= int(movie) <= 5 and int(stamp) <= 10**12
            and float(rating) in (1.0, 2.0, 3.0, 4.0, 5.0)):
        return None
    return str(int(user)), str(int(movie)), float(rating), int(stamp)


def _read(data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "u.data"), "wb") as out:
            out.write(data)
        with open(os.path.join(folder, "u.item"), "w", encoding="latin-1") as out:
            out.write(ITEM)
        return parsers.read_movielens(folder)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_the_projects_error(data):
    try:
        _read(data)
    except DataFormatError:
        pass


NASTY = ["4.0", "4.5", "nan", "inf", "-1", "1e3", "", " 3", "\u0663", "19\u00b2", str(2**63),
         "0", "1_0", "+2", "0x1f"]
FIELD = st.one_of(st.sampled_from(NASTY), st.integers(0, 6).map(str),
                  st.text(alphabet="0123456789.\t x\u00b2", max_size=6))
VALID = st.tuples(st.integers(1, 999), st.integers(1, 6), st.integers(0, 6),
                  st.integers(0, 2 * 10**9)).map(lambda row: [str(value) for value in row])


def _with(row, change):
    position, value = change
    return row[:position] + [value] + row[position + 1:]


# A valid row, or one with a field replaced, dropped or added.
LINE = VALID.flatmap(lambda row: st.one_of(
    st.just(row),
    st.tuples(st.integers(0, 3), FIELD).map(lambda change: _with(row, change)),
    st.just(row[:3]), st.just(row + ["1"]))).map("\t".join)


@SETTINGS
@given(st.lists(LINE, min_size=1, max_size=8),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
@example(["19\u00b2\t1\t3\t5"], "\n", False)  # issue 12's case
def test_rows_are_exactly_the_strict_reading_or_an_error(lines, ending, bom):
    data = ((b"\xef\xbb\xbf" if bom else b"") + ending.join(lines).encode("utf-8")
            + ending.encode())
    expected = [_oracle(line) for line in lines if line.strip()]
    try:
        read = _read(data)
    except DataFormatError:
        assert None in expected or not expected
        return
    assert None not in expected and expected
    assert list(zip(read.user_ids, read.movie_ids, read.ratings.tolist(),
                    read.timestamps.tolist())) == expected


def _data(users, timestamps):
    count = len(users)
    return MovieLensData(np.array([str(u) for u in users], dtype=object),
                         np.array([str(1 + i % 7) for i in range(count)], dtype=object),
                         np.full(count, 3.0, np.float32), np.array(timestamps, np.int64),
                         {}, "generated")


RATINGS = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 8), min_size=n, max_size=n),
    st.lists(st.integers(0, 50), min_size=n, max_size=n)))


@SETTINGS
@given(RATINGS, st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_random_split_is_complete_and_of_its_size(ratings, fraction, seed):
    data = _data(*ratings)
    is_eval = splits.random_split(data, fraction, seed)
    assert is_eval.shape == (data.num_ratings,) and is_eval.dtype == bool
    assert is_eval.sum() == int(round(data.num_ratings * fraction))
    np.testing.assert_array_equal(is_eval, splits.random_split(data, fraction, seed))


@SETTINGS
@given(RATINGS, st.floats(0.05, 0.95))
def test_temporal_split_holds_out_each_users_latest_share(ratings, fraction):
    data = _data(*ratings)
    is_eval = splits.temporal_split(data, fraction, 0)
    for user in set(data.user_ids):
        mine = data.user_ids == user
        held = int(mine.sum() * fraction)
        assert is_eval[mine].sum() == held  # the latest share, rounded down
        if held and (~is_eval[mine]).any():
            assert data.timestamps[mine & is_eval].min() >= data.timestamps[mine & ~is_eval].max()
