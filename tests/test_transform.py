"""preprocessing_fn under a real tf.Transform Beam run, analysing train and applying to eval."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils

from common import features
from components.transform.preprocessing import preprocessing_fn


def _raw(user, movie, rating):
    return {features.USER_ID: [user], features.MOVIE_ID: [movie], features.RATING: [rating],
            features.TIMESTAMP: [881250949], features.MOVIE_TITLE: [f"title {movie}"],
            features.GENRES: ["Drama|War"], features.USER_ACTIVITY: ["light (<50)"],
            features.MOVIE_POPULARITY: ["tail"]}


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    temp = str(tmp_path_factory.mktemp("tft"))
    train = [_raw("u1", "m1", 1.0), _raw("u1", "m2", 5.0), _raw("u2", "m1", 3.0),
             _raw("u1", "m3", 4.0)]
    evaluation = [_raw("u2", "m2", 2.0), _raw("stranger", "unseen", 0.5)]
    metadata = tft.DatasetMetadata(schema_utils.schema_from_feature_spec(
        schema_utils.schema_as_feature_spec(features.raw_schema()).feature_spec))
    with tft_beam.Context(temp_dir=temp):
        (train_out, _), transform_fn = (train, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn)
        eval_out, _ = ((evaluation, metadata), transform_fn) | tft_beam.TransformDataset()
        _ = transform_fn | tft_beam.WriteTransformFn(temp)
    return train_out, eval_out, tft.TFTransformOutput(temp)


def test_ids_become_vocabulary_indices_with_an_oov_bucket(transformed):
    train_out, eval_out, output = transformed
    users = output.vocabulary_by_name(features.USER_VOCABULARY)
    movies = output.vocabulary_by_name(features.MOVIE_VOCABULARY)
    assert sorted(users) == [b"u1", b"u2"] and users[0] == b"u1"  # most frequent first
    assert sorted(movies) == [b"m1", b"m2", b"m3"]
    for row, raw_user, raw_movie in zip(train_out, [b"u1", b"u1", b"u2", b"u1"],
                                        [b"m1", b"m2", b"m1", b"m3"]):
        assert users[int(row[features.USER_INDEX][0])] == raw_user
        assert movies[int(row[features.MOVIE_INDEX][0])] == raw_movie
    # Ids never seen in train map to the single OOV bucket: index == vocabulary size.
    assert int(eval_out[1][features.USER_INDEX][0]) == len(users)
    assert int(eval_out[1][features.MOVIE_INDEX][0]) == len(movies)
    assert output.num_buckets_for_transformed_feature(features.MOVIE_INDEX) == len(movies) + 1


def test_ratings_are_normalised_to_unit_interval(transformed):
    train_out, eval_out, _ = transformed
    got = [float(row[features.RATING_NORMALIZED][0]) for row in train_out + eval_out]
    np.testing.assert_allclose(got, [0.0, 1.0, 0.5, 0.75, 0.25, 0.0])


def test_the_trainer_gets_indices_ratings_and_titles_only(transformed):
    train_out, _, output = transformed
    assert train_out[0][features.MOVIE_TITLE][0] == b"title m1"
    spec = output.transformed_feature_spec()
    assert set(spec) == {features.USER_INDEX, features.MOVIE_INDEX, features.RATING_NORMALIZED,
                         features.MOVIE_TITLE}
    assert spec[features.USER_INDEX].dtype == tf.int64
    assert spec[features.RATING_NORMALIZED].dtype == tf.float32
