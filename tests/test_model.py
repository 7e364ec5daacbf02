import numpy as np
import pytest
import tensorflow as tf

from components.features import MOVIE_INDEX, USER_INDEX
from pipeline.config import ConfigError, ModelConfig
from trainer import model as model_lib
from trainer import train
from trainer.data import Ratings

SMALL = dict(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=1)


def _losses(config, users, movies, ratings):
    model = model_lib.build(5, 6, np.ones(6), config)
    x = {USER_INDEX: tf.constant(users), MOVIE_INDEX: tf.constant(movies)}
    y = tf.constant(ratings, tf.float32)
    total = model.compute_loss(x, y, model(x))
    return float(total), float(model.retrieval_loss_tracker.result()), float(
        model.rating_loss_tracker.result())


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.3, 2.0)])
def test_total_loss_is_the_weighted_sum(weights):
    config = ModelConfig(retrieval_weight=weights[0], rating_weight=weights[1], **SMALL)
    total, retrieval, rating = _losses(config, [0, 1, 2], [3, 4, 5], [0.0, 0.5, 1.0])
    assert total == pytest.approx(weights[0] * retrieval + weights[1] * rating, rel=1e-5)
    assert retrieval > 0 and rating > 0


def test_a_movie_twice_in_a_batch_is_not_its_own_negative():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, temperature=1.0,
                         popularity_correction=False, **SMALL)
    model = model_lib.build(5, 6, np.ones(6), config)
    users = tf.constant([0, 1, 2])
    x = {USER_INDEX: users, MOVIE_INDEX: tf.constant([3, 3, 4])}
    out = model(x)
    loss = float(model._in_batch_softmax(out["user_vector"], out["movie_vector"],
                                         x[MOVIE_INDEX]))
    u, v = out["user_vector"].numpy(), out["movie_vector"].numpy()
    logits = u @ v.T
    logits[0, 1] = logits[1, 0] = -1e9  # the duplicate of movie 3
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                                  keepdims=True)) - logits.max(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.diag(log_softmax)), rel=1e-4)


def test_zero_weights_are_refused():
    with pytest.raises(ConfigError):
        ModelConfig(retrieval_weight=0, rating_weight=0)


def test_config_round_trips_through_json():
    config = ModelConfig(rating_layers=(64, 32), temperature=0.3)
    assert ModelConfig.from_json(config.to_json()) == config


def test_training_learns_a_planted_preference():
    """Users 0-9 like movies 0-4 (rating 1), users 10-19 movies 5-9; training must find it."""
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, size=4000)
    movies = np.where(users < 10, rng.integers(0, 5, 4000), rng.integers(5, 10, 4000))
    liked = rng.random(4000) < 0.8
    movies = np.where(liked, movies, rng.integers(0, 10, 4000))
    ratings = np.where((users < 10) == (movies < 5), 1.0, 0.0).astype(np.float32)
    config = ModelConfig(epochs=8, learning_rate=0.01, validation_fraction=0.1, **{
        k: v for k, v in SMALL.items() if k != "epochs"})
    result = train.fit(config, Ratings(users, movies, ratings), 20, 10, verbose=0)
    model = result.model
    u = model.user_embedding.embeddings.numpy()[:20]
    v = model.movie_embedding.embeddings.numpy()[:10]
    scores = u @ v.T
    assert (scores[:10, :5].mean(axis=1) > scores[:10, 5:].mean(axis=1)).all()
    predicted = model.rate(tf.constant(u[[0, 15]]), tf.constant(v[[0, 0]]),
                           tf.constant([0, 15]), tf.constant([0, 0])).numpy()
    assert predicted[0] > 0.7 and predicted[1] < 0.3
    assert result.epochs_run >= 1 and result.examples_per_second > 0
