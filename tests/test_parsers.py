import os
import zipfile

import numpy as np
import pytest

from components.movielens import parsers, synthetic
from components.movielens.records import DataFormatError


def _write(path, text, encoding="utf-8"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding=encoding, newline="\n") as out:
        out.write(text)
    return path


ITEM_FLAGS = "|".join(["0"] * 19)


def _ml100k(tmp_path, data_text, item_text=None):
    folder = tmp_path / "ml-100k"
    _write(str(folder / "u.data"), data_text)
    item = item_text if item_text is not None else (
        f"1|Toy Story (1995)|01-Jan-1995||url|{ITEM_FLAGS}\n"
        f"2|Misérables, Les (1995)|01-Jan-1995||url|0|0|0|0|0|0|0|0|1|{'|'.join(['0'] * 10)}\n"
    )
    _write(str(folder / "u.item"), item, encoding="latin-1")
    return str(folder)


def test_synthetic_ml100k_files_read_back_exactly(tmp_path, small_data):
    synthetic.write_ml100k(small_data, str(tmp_path))
    read = parsers.read_movielens(str(tmp_path))
    assert parsers.detect_format(str(tmp_path)) == "ml-100k"
    np.testing.assert_array_equal(read.user_ids, small_data.user_ids)
    np.testing.assert_array_equal(read.movie_ids, small_data.movie_ids)
    np.testing.assert_array_equal(read.ratings, small_data.ratings)
    np.testing.assert_array_equal(read.timestamps, small_data.timestamps)
    assert read.movies == small_data.movies


def test_zip_is_read_in_place_and_named_in_errors(tmp_path):
    folder = _ml100k(tmp_path, "1\t1\t5\t881250949\n1\t2\t9\t881250950\n")
    archive = str(tmp_path / "ml-100k.zip")
    with zipfile.ZipFile(archive, "w") as out:
        for name in ("u.data", "u.item"):
            out.write(os.path.join(folder, name), f"ml-100k/{name}")
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(archive)
    assert str(error.value).startswith(f"{archive}!ml-100k/u.data, line 2, field 'rating'")


def test_ml100k_latin1_titles_and_genres(tmp_path):
    folder = _ml100k(tmp_path, "7\t2\t4\t881250949\n")
    data = parsers.read_movielens(folder)
    assert data.movies["2"].title == "Misérables, Les (1995)"
    assert data.movies["2"].genres == ("Drama",)
    assert data.movies["1"].genres == ()
    assert list(data.user_ids) == ["7"] and data.ratings.tolist() == [4.0]


def test_ml1m_format(tmp_path):
    folder = tmp_path / "ml-1m"
    _write(str(folder / "ratings.dat"), "1::1193::5::978300760\n2::1193::3::978298413\n")
    _write(str(folder / "movies.dat"),
           "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
           "3::Été (1999)::Comedy|Romance\n", encoding="latin-1")
    data = parsers.read_movielens(str(tmp_path))  # the release's folder one level down
    assert parsers.detect_format(str(tmp_path)) == "ml-1m"
    assert data.num_ratings == 2
    assert data.movies["3"] == parsers.Movie("3", "Été (1999)", ("Comedy", "Romance"))
    assert data.timestamps.tolist() == [978300760, 978298413]


def test_ml_latest_csv_format_with_half_stars(tmp_path):
    _write(str(tmp_path / "ratings.csv"),
           "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n")
    _write(str(tmp_path / "movies.csv"),
           'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n'
           '3,"American President, The (1995)",(no genres listed)\n')
    data = parsers.read_movielens(str(tmp_path))
    assert parsers.detect_format(str(tmp_path)) == "ml-latest"
    assert data.ratings.tolist() == [4.0, 0.5]
    assert data.movies["3"].title == "American President, The (1995)"
    assert data.movies["3"].genres == ()


@pytest.mark.parametrize(
    "data_text, line, field, message",
    [
        ("1\t1\t5\t881250949\n1\t1\t5\n", 2, None, "expected 4 fields"),
        ("1\t1\t5\t881250949\nabc\t1\t5\t881250949\n", 2, "user_id", "integer id from 1"),
        ("1\t1.5\t5\t881250949\n", 1, "movie_id", "integer id from 1"),
        ("19\u00b2\t1\t5\t881250949\n", 1, "user_id", "found '19\u00b2'"),
        ("\u0661\u0669\u0666\t1\t5\t881250949\n", 1, "user_id", "integer id from 1"),
        ("0\t1\t5\t881250949\n", 1, "user_id", "integer id from 1 to 2,147,483,647"),
        ("-3\t1\t5\t881250949\n", 1, "user_id", "integer id from 1"),
        (f"{2**63}\t1\t5\t881250949\n", 1, "user_id", "integer id from 1"),
        (f"{'7' * 5000}\t1\t5\t881250949\n", 1, "user_id", "integer id from 1"),
        ("1\t1\tnan\t881250949\n", 1, "rating", "expected a number of stars"),
        ("1\t1\tinf\t881250949\n", 1, "rating", "expected a number of stars"),
        ("1\t1\t\u0663\t881250949\n", 1, "rating", "expected a number of stars"),
        ("1\t1\t4\t1e9\n", 1, "timestamp", "seconds since 1970"),
        (f"1\t1\t4\t{2**63}\n", 1, "timestamp", "up to 1,000,000,000,000"),
        ("1\t1\tfive\t881250949\n", 1, "rating", "expected a number"),
        ("1\t1\t6\t881250949\n", 1, "rating", "outside 1 to 5"),
        ("1\t1\t0\t881250949\n", 1, "rating", "outside 1 to 5"),
        ("1\t1\t4.5\t881250949\n", 1, "rating", "in steps of 1"),
        ("1\t1\t4\tyesterday\n", 1, "timestamp", "seconds since 1970"),
        ("1\t1\t4\t881250949\n1\t99\t4\t881250949\n", 2, "movie_id", "movie 99 is not in"),
    ],
)
def test_malformed_rating_rows_are_located(tmp_path, data_text, line, field, message):
    folder = _ml100k(tmp_path, data_text)
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(folder)
    assert error.value.path == os.path.join(folder, "u.data")
    assert (error.value.line, error.value.field) == (line, field)
    assert message in str(error.value)
    assert f"u.data, line {line}" in str(error.value)


def test_a_byte_order_mark_crlf_and_a_trailing_blank_line_are_accepted(tmp_path):
    folder = _ml100k(tmp_path, "\ufeff7\t2\t4\t881250949\r\n8\t1\t3\t881250950\r\n\r\n")
    data = parsers.read_movielens(folder)
    assert data.user_ids.tolist() == ["7", "8"] and data.timestamps.tolist() == [881250949,
                                                                                  881250950]


def test_a_utf8_catalogue_is_read_as_utf8_not_as_mojibake(tmp_path):
    item = f"2|Misérables, Les (1995)|01-Jan-1995||url|{ITEM_FLAGS}\n"
    folder = _ml100k(tmp_path, "7\t2\t4\t881250949\n", item)
    _write(os.path.join(folder, "u.item"), item, encoding="utf-8")
    assert parsers.read_movielens(folder).movies["2"].title == "Misérables, Les (1995)"
    _write(os.path.join(folder, "u.item"), item, encoding="latin-1")  # GroupLens' own
    assert parsers.read_movielens(folder).movies["2"].title == "Misérables, Les (1995)"


def test_empty_file_is_an_error(tmp_path):
    folder = _ml100k(tmp_path, "")
    with pytest.raises(DataFormatError, match=r"u\.data: file is empty"):
        parsers.read_movielens(folder)


def test_bad_genre_flag_names_the_genre(tmp_path):
    flags = ITEM_FLAGS[:-1] + "x"
    folder = _ml100k(tmp_path, "1\t1\t5\t881250949\n", f"1|Toy Story (1995)|d||url|{flags}\n")
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(folder)
    assert (error.value.line, error.value.field) == (1, "Western")


def test_unreadable_encoding_names_line_and_byte(tmp_path):
    _write(str(tmp_path / "movies.csv"), "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    with open(tmp_path / "ratings.csv", "wb") as out:
        out.write(b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,1,\xff4.0,9649\n")
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(str(tmp_path))
    assert error.value.line == 3
    assert "cannot be read as utf-8 text (byte 0xff at column 5)" in str(error.value)


def test_csv_header_is_checked(tmp_path):
    _write(str(tmp_path / "movies.csv"), "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    _write(str(tmp_path / "ratings.csv"), "user,movie,rating,timestamp\n1,1,4.0,964982703\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 1: expected the header"):
        parsers.read_movielens(str(tmp_path))


def test_duplicate_movie_is_an_error(tmp_path):
    item = f"1|A (1995)|d||url|{ITEM_FLAGS}\n1|B (1995)|d||url|{ITEM_FLAGS}\n"
    folder = _ml100k(tmp_path, "1\t1\t5\t881250949\n", item)
    with pytest.raises(DataFormatError,
                       match=r"u\.item, line 2, field 'movie_id': movie 1 is listed twice"):
        parsers.read_movielens(folder)


def test_unknown_layout_lists_what_is_expected(tmp_path):
    _write(str(tmp_path / "notes.txt"), "hello\n")
    with pytest.raises(DataFormatError, match="ml-100k: u.data and u.item"):
        parsers.read_movielens(str(tmp_path))
    with pytest.raises(DataFormatError, match="does not exist"):
        parsers.read_movielens(str(tmp_path / "missing"))
    with pytest.raises(DataFormatError, match="neither a directory nor a zip"):
        parsers.read_movielens(str(tmp_path / "notes.txt"))


def test_real_movielens_100k(ml100k_dir):
    data = parsers.read_movielens(ml100k_dir)
    assert data.num_ratings == 100_000
    assert len(set(data.user_ids)) == 943
    assert len(set(data.movie_ids)) == 1682 == len(data.movies)
    assert data.movies["1"] == parsers.Movie(
        "1", "Toy Story (1995)", ("Animation", "Children's", "Comedy"))
    assert data.movies["543"].title == "Misérables, Les (1995)"  # latin-1 in u.item
    counts = np.bincount(data.ratings.astype(int), minlength=6)[1:]
    assert counts.tolist() == [6110, 11370, 27145, 34174, 21201]


def _zip(tmp_path, folder, names, compression=zipfile.ZIP_DEFLATED):
    archive = str(tmp_path / "ml-100k.zip")
    with zipfile.ZipFile(archive, "w", compression=compression) as out:
        for name in names:
            out.write(os.path.join(folder, name), f"ml-100k/{name}")
    return archive


def test_a_zip_without_the_expected_members_names_what_it_holds(tmp_path):
    archive = _zip(tmp_path, _ml100k(tmp_path, "1\t1\t5\t881250949\n"), ["u.data"])
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(archive)
    assert str(error.value).startswith(
        f"{archive}: holds no MovieLens release I know (it holds: u.data). Expected")
    assert "ml-100k: u.data and u.item" in str(error.value)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_damaged_zip_member_is_named(tmp_path, compression):
    """Deflated, a changed byte breaks the inflation; stored, a rating changed from 5 to 4
    still parses, and only the member's checksum tells."""
    rows = "".join(f"{u}\t1\t5\t881250949\n" for u in range(1, 400))
    archive = _zip(tmp_path, _ml100k(tmp_path, rows), ["u.item", "u.data"], compression)
    content = bytearray(open(archive, "rb").read())
    start = content.index(b"ml-100k/u.data") + len("ml-100k/u.data")
    if compression == zipfile.ZIP_STORED:
        content[content.index(b"\t5\t", start) + 1] = ord("4")
    else:
        content[start + 40] ^= 0xFF
    open(archive, "wb").write(bytes(content))
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(archive)
    assert str(error.value).startswith(
        f"{archive}!ml-100k/u.data: cannot be read from the zip archive (")
    assert str(error.value).endswith("): fetch the archive again, or extract it and give the "
                                     "folder")


def test_a_zip_cut_off_is_named_as_cut_off(tmp_path):
    archive = _zip(tmp_path, _ml100k(tmp_path, "1\t1\t5\t881250949\n"), ["u.item", "u.data"])
    content = open(archive, "rb").read()
    open(archive, "wb").write(content[: len(content) // 2])
    with pytest.raises(DataFormatError, match="starts as a zip archive but has no directory at "
                                              "its end: it looks cut off"):
        parsers.read_movielens(archive)


@pytest.mark.parametrize("cut", ["1\t1\t5\t88125", "1\t1\t5\t881250949", "1\t1\t5",
                                 "1\t1\t4."])
def test_a_file_cut_off_in_its_last_line_is_refused(tmp_path, cut):
    """A cut timestamp is still a timestamp: only the missing line break tells."""
    folder = _ml100k(tmp_path, "2\t1\t5\t881250949\n" + cut)
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(folder)
    assert (error.value.path, error.value.line) == (os.path.join(folder, "u.data"), 2)
    assert "without a line break: it looks cut off" in str(error.value)


def test_a_header_line_in_u_data_is_refused_at_line_one(tmp_path):
    folder = _ml100k(tmp_path, "user_id\titem_id\trating\ttimestamp\n1\t1\t5\t881250949\n")
    with pytest.raises(DataFormatError) as error:
        parsers.read_movielens(folder)
    assert (error.value.line, error.value.field) == (1, "user_id")


def test_a_csv_with_its_header_only_holds_no_ratings(tmp_path):
    _write(str(tmp_path / "movies.csv"), "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    _write(str(tmp_path / "ratings.csv"), "userId,movieId,rating,timestamp\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv: holds no ratings"):
        parsers.read_movielens(str(tmp_path))
