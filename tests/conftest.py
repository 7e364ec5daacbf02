"""Shared fixtures: the real MovieLens 100k (by path, never copied), small synthetic sets, and
a small serving model exported from a real Transform graph and a trained model."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils

from common import features
from components.movielens import splits, synthetic
from components.transform.preprocessing import preprocessing_fn
from serving.session_model import SessionModel
from trainer import data, export, train
from trainer.config import ModelConfig

# Real MovieLens 100k is read in place: its licence forbids copying it into this repository.
ML100K_DIR = os.environ.get(
    "MOVIELENS_100K_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ml-100k"),
)


@pytest.fixture(scope="session")
def ml100k_dir() -> str:
    if not os.path.isfile(os.path.join(ML100K_DIR, "u.data")):
        pytest.skip(f"MovieLens 100k not found at {ML100K_DIR} (set MOVIELENS_100K_DIR)")
    return ML100K_DIR


SMALL = synthetic.SyntheticConfig(num_users=60, num_movies=200, num_ratings=3000, seed=7)


@pytest.fixture(scope="session")
def small_data():
    return synthetic.generate(SMALL)


CONFIG = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=128, epochs=2, top_k=5)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    temp = str(tmp_path_factory.mktemp("export"))
    raw = synthetic.generate(synthetic.SyntheticConfig(40, 80, 1600, seed=1))
    is_eval = splits.random_split(raw, 0.2, seed=1)
    rows = [{features.USER_ID: [u], features.MOVIE_ID: [m], features.RATING: [float(r)],
             features.TIMESTAMP: [int(t)], features.MOVIE_TITLE: [raw.movies[m].title],
             features.GENRES: ["|".join(raw.movies[m].genres)],
             features.USER_ACTIVITY: ["light (<50)"], features.MOVIE_POPULARITY: ["head"]}
            for u, m, r, t in zip(raw.user_ids, raw.movie_ids, raw.ratings, raw.timestamps)]
    train_rows = [row for row, e in zip(rows, is_eval) if not e]
    metadata = tft.DatasetMetadata(schema_utils.schema_from_feature_spec(
        schema_utils.schema_as_feature_spec(features.raw_schema()).feature_spec))
    with tft_beam.Context(temp_dir=os.path.join(temp, "tmp")):
        (transformed, _), transform_fn = (
            (train_rows, metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(temp, "transform"))
    tft_output = tft.TFTransformOutput(os.path.join(temp, "transform"))
    batch = {name: np.array([row[name] for row in transformed]) for name in transformed[0]}
    ratings, titles = data.from_transformed_batches([batch])
    num_users = tft_output.vocabulary_size_by_name(features.USER_VOCABULARY)
    movie_ids = [m.decode() for m in tft_output.vocabulary_by_name(features.MOVIE_VOCABULARY)]
    result = train.fit(CONFIG, ratings, num_users, len(movie_ids), verbose=0)
    catalogue = export.make_catalogue(ratings, movie_ids, titles)
    module = export.RecommenderModule(result.model, tft_output.transform_features_layer(),
                                      catalogue, top_k=CONFIG.top_k)
    path = os.path.join(temp, "serving")
    users = [u.decode() for u in tft_output.vocabulary_by_name(features.USER_VOCABULARY)]
    export.export(module, path, users[0], movie_ids[0])
    with SessionModel(path) as session:
        yield dict(path=path, model=result.model, ratings=ratings, catalogue=catalogue,
                   users=users, movie_ids=movie_ids, loaded=tf.saved_model.load(path),
                   session=session, transform_layer=tft_output.transform_features_layer())
