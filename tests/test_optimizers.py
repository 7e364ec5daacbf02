import keras
import numpy as np
import pytest
import tensorflow as tf

from common.features import MOVIE_INDEX, USER_INDEX
from trainer import model as model_lib
from trainer.config import ModelConfig
from trainer.optimizers import LazyAdagrad, LazyAdam

ROWS, DIM = 6, 3


def _sparse(rows, seed):
    values = np.random.default_rng(seed).normal(size=(len(rows), DIM)).astype(np.float32)
    return tf.IndexedSlices(tf.constant(values), tf.constant(rows, tf.int64),
                            tf.constant([ROWS, DIM], tf.int64))


def _steps(optimizer, gradients):
    variable = keras.Variable(np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM) / 10)
    optimizer.build([variable])
    for gradient in gradients:
        optimizer.apply_gradients([(gradient, variable)])
    return variable.numpy()


def _dense(gradients):
    return [tf.convert_to_tensor(gradient) for gradient in gradients]  # duplicates summed


def test_lazy_adam_first_step_is_adams_on_the_dense_gradient():
    step = [_sparse([4, 1, 4], seed=0)]  # row 4 looked up twice: one row, the sum
    assert _steps(LazyAdam(0.1), step) == pytest.approx(
        _steps(keras.optimizers.Adam(0.1), _dense(step)), abs=1e-5)


def test_lazy_adam_leaves_rows_not_looked_up_alone():
    start = _steps(LazyAdam(0.1), [])
    after = _steps(LazyAdam(0.1), [_sparse([0, 1], seed=0), _sparse([2], seed=1)])
    dense = _steps(keras.optimizers.Adam(0.1),
                   _dense([_sparse([0, 1], seed=0), _sparse([2], seed=1)]))
    assert after[3:] == pytest.approx(start[3:])  # never looked up
    assert not np.allclose(after[:3], start[:3])
    # Dense Adam moves rows 0 and 1 again at step 2 through their momentum; lazy Adam not.
    assert after[:2] == pytest.approx(_steps(LazyAdam(0.1), [_sparse([0, 1], seed=0)])[:2])
    assert not np.allclose(dense[:2], after[:2])


def test_lazy_adagrad_is_exactly_adagrad():
    steps = [_sparse([0, 5, 5], seed=0), _sparse([2], seed=1), _sparse([0, 2], seed=2)]
    assert _steps(LazyAdagrad(0.1), steps) == pytest.approx(
        _steps(keras.optimizers.Adagrad(0.1), _dense(steps)), rel=1e-6)


def test_a_training_step_updates_embedding_tables_by_rows_only():
    """The gradients of every table are sparse, L2 penalty included: above the catalogue
    softmax's limit a step's cost follows the batch (its users, their histories), not the
    number of users or movies in the data set (and the movie table's drawn negatives)."""
    users, movies = np.array([0, 1, 1, 2, 0]), np.array([3, 0, 4, 1, 2])
    config = ModelConfig(embedding_dim=4, rating_layers=(8,), batch_size=5,
                         catalogue_softmax_limit=399, l2=1e-4, sampled_negatives=7)
    model = model_lib.build(500, 400, users, movies, config)
    x = {USER_INDEX: tf.constant(users[:3]), MOVIE_INDEX: tf.constant(movies[:3])}
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, tf.constant([0.5, 1.0, 0.0]), model(x, training=True))
    assert model.losses  # the penalty is in the loss
    gradients = dict(zip([v.path for v in model.trainable_variables],
                         tape.gradient(loss, model.trainable_variables)))
    tables = {path: g for path, g in gradients.items() if "rating_mlp" not in path}
    assert len(tables) == 5  # user, movie, history embeddings and the two biases
    for path, gradient in tables.items():
        assert isinstance(gradient, tf.IndexedSlices), path
        rows = 5 + (7 if "movie_embedding" in path else 0)
        assert len(np.unique(gradient.indices.numpy())) <= rows, path
