"""Early stopping's measure: ranking and rating quality on the validation slice."""

import math

import numpy as np
import pytest
import tensorflow as tf

from common.features import MOVIE_INDEX, USER_INDEX
from trainer import metrics, train, validation
from trainer import model as model_lib
from trainer.config import ModelConfig
from trainer.data import Ratings


def _ratings(seed: int, n: int = 3000) -> Ratings:
    """Users 0-19 like movies 0-9, users 20-39 movies 10-19 (5 stars), with some noise."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n)
    movies = np.where(rng.random(n) < 0.8, (users >= 20) * 10 + rng.integers(0, 10, n),
                      rng.integers(0, 20, n))
    pairs = np.unique(np.stack([users, movies], axis=1), axis=0)
    liked = (pairs[:, 1] >= 10) == (pairs[:, 0] >= 20)
    return Ratings(pairs[:, 0], pairs[:, 1], np.where(liked, 1.0, 0.25).astype(np.float32))


def test_the_measure_ranks_each_validation_users_unseen_movies_as_serving_would():
    ratings = _ratings(0)
    config = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=2,
                         catalogue_softmax_limit=100, validation_users=15)
    fit_rows, held = ratings.split_off(0.2, seed=1)
    model = model_lib.build(40, 20, fit_rows.user_index, fit_rows.movie_index, config)
    measure = validation.ValidationMetrics(fit_rows, held, 40, 20, config)
    measure.set_model(model)
    assert len(measure.users) == 15 and set(measure.users) <= set(held.user_index.tolist())
    model({USER_INDEX: tf.constant([0]), MOVIE_INDEX: tf.constant([0])})  # builds the layers
    model.history_embedding.embeddings.assign(
        np.random.default_rng(2).normal(size=(21, 8)).astype(np.float32))
    got = measure.measure()
    # The same numbers from the model's own user vectors and the metric code.
    vectors = model.user_vectors(tf.constant(np.arange(41), tf.int64)).numpy()
    catalogue = model.movie_embedding.embeddings.numpy()[:20]
    rows = held.take(np.flatnonzero(np.isin(held.user_index, measure.users)))
    expected = metrics.recall_and_ndcg_at_k(lambda users: vectors[users] @ catalogue.T, rows,
                                            10, metrics.seen_matrix(fit_rows, 40, 20))
    assert got["val_ndcg@10"] == pytest.approx(expected["ndcg@10"], rel=1e-5)
    for average, weight in zip(model.rating_average, model.rating_mlp.trainable_weights):
        weight.assign(average)
    index = tf.constant(rows.user_index)
    predicted = model.rate(tf.gather(vectors, index), model.movie_vectors(
        tf.constant(rows.movie_index)), index, tf.constant(rows.movie_index)).numpy()
    assert got["val_rmse"] == pytest.approx(
        4 * metrics.rmse(np.clip(predicted, 0, 1), rows.rating), rel=1e-5)


def test_the_objective_weighs_relative_changes_by_the_loss_weights():
    multi = ModelConfig(retrieval_weight=1.0, rating_weight=1.0)
    assert validation.objective(multi, 0.2, 0.9) == pytest.approx(math.log(0.9 / 0.2))
    # 1% better NDCG and 1% worse RMSE: the same objective to first order.
    assert validation.objective(multi, 0.202, 0.909) == pytest.approx(
        validation.objective(multi, 0.2, 0.9), abs=1e-4)
    retrieval = ModelConfig(retrieval_weight=1.0, rating_weight=0.0)
    assert validation.objective(retrieval, 0.3, 5.0) < validation.objective(retrieval, 0.2, 0.5)


def test_training_keeps_the_epoch_of_the_best_objective_and_says_so():
    config = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=6,
                         early_stopping_patience=2, learning_rate=0.02,
                         catalogue_softmax_limit=100)
    result = train.fit(config, _ratings(3), 40, 20, verbose=0)
    objectives = result.history[validation.MONITOR]
    best = int(np.argmin(objectives))
    assert len(objectives) == result.epochs_run
    assert f"kept epoch {best + 1} (validation NDCG@10" in result.stopped_because
    assert result.history["val_ndcg@10"][best] > 0.2  # the planted taste is found
