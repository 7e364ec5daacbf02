"""MovieLens sources in an object store, through tf.io.gfile (TF's in-memory ram:// store
stands in for gs://, which it shares the code path with)."""

import os
import uuid
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from common.config_error import ConfigError
from components.movielens import parsers, sources, synthetic
from components.movielens.config import DataConfig
from components.movielens.records import DataFormatError


@pytest.fixture
def bucket():
    return f"ram://bucket-{uuid.uuid4().hex}"


def _upload(local_folder, url):
    for name in os.listdir(local_folder):
        tf.io.gfile.makedirs(url)
        tf.io.gfile.copy(os.path.join(local_folder, name), f"{url}/{name}")


def _assert_same(read, data):
    np.testing.assert_array_equal(read.user_ids, data.user_ids)
    np.testing.assert_array_equal(read.ratings, data.ratings)
    assert read.movies == data.movies


def test_a_release_folder_in_a_bucket_reads_like_a_local_one(tmp_path, bucket, small_data):
    synthetic.write_ml100k(small_data, str(tmp_path))
    _upload(str(tmp_path), f"{bucket}/movielens/ml-100k")
    url = f"{bucket}/movielens"  # the release one folder down, as an extracted zip leaves it
    _assert_same(parsers.read_movielens(url), small_data)
    config = DataConfig(source=url)
    before = sources.fingerprint(config)
    with tf.io.gfile.GFile(f"{url}/ml-100k/u.data", "a") as out:
        out.write("1\t1\t5\t881250949\n")
    assert sources.fingerprint(config) != before


def test_a_zip_in_a_bucket_is_read_in_place_and_named_in_errors(tmp_path, bucket, small_data):
    synthetic.write_ml100k(small_data, str(tmp_path))
    archive = str(tmp_path / "ml-100k.zip")
    with zipfile.ZipFile(archive, "w") as out:
        for name in ("u.data", "u.item"):
            out.write(tmp_path / name, f"ml-100k/{name}")
    tf.io.gfile.makedirs(bucket)
    tf.io.gfile.copy(archive, f"{bucket}/ml-100k.zip")
    _assert_same(parsers.read_movielens(f"{bucket}/ml-100k.zip"), small_data)
    with tf.io.gfile.GFile(f"{bucket}/bad.zip", "wb") as out:
        out.write(b"not a zip")
    with pytest.raises(DataFormatError, match=f"{bucket}/bad.zip: is neither a directory"):
        parsers.read_movielens(f"{bucket}/bad.zip")


def test_a_bad_row_in_a_bucket_is_located_by_url(tmp_path, bucket, small_data):
    synthetic.write_ml100k(small_data, str(tmp_path))
    with open(tmp_path / "u.data", "a") as out:
        out.write("3\t5\tseven\t881250949\n")
    _upload(str(tmp_path), bucket)
    line = small_data.num_ratings + 1
    with pytest.raises(DataFormatError,
                       match=f"{bucket}/u.data, line {line}, field 'rating'"):
        parsers.read_movielens(bucket)


def test_a_missing_url_is_a_config_error(bucket):
    with pytest.raises(ConfigError, match="no such file or directory"):
        DataConfig(source=f"{bucket}/nothing-here")
