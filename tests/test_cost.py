"""A training step's counted cost against TensorFlow's own count and real batches."""

import dataclasses

import numpy as np
import tensorflow as tf

from common.features import MOVIE_INDEX, USER_INDEX
from trainer import cost, data
from trainer import model as model_lib
from trainer.config import ModelConfig

CONFIG = ModelConfig(embedding_dim=8, rating_layers=(16, 12), batch_size=64, l2=0.0,
                     max_history=20)


def _matmul_flops(function, *specs) -> int:
    """TensorFlow's profiler count of the matrix products in `function`'s graph."""
    graph = tf.function(function).get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options.update(output="none", account_type_regexes=["MatMul"])
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def test_step_flops_are_tensorflows_count_of_the_models_products():
    rng = np.random.default_rng(0)
    users, movies = rng.integers(0, 30, 600), rng.integers(0, 50, 600)
    # the catalogue softmax, then the in-batch one without and with drawn negatives
    for limit, drawn in ((4096, 0), (0, 0), (0, 7)):
        config = dataclasses.replace(CONFIG, catalogue_softmax_limit=limit,
                                     sampled_negatives=drawn)
        model = model_lib.build(30, 50, users, movies, config)
        model({USER_INDEX: tf.constant(users[:64]), MOVIE_INDEX: tf.constant(movies[:64])})
        counted = {part: flops / cost.FORWARD_AND_BACKWARD for part, flops in
                   cost.step_flops(config, 50, users_per_batch=10,
                                   history_per_user=5).items()}
        mlp = _matmul_flops(model.rating_mlp, tf.TensorSpec([64, 16]))
        assert counted["rating MLP"] == mlp == 2 * 64 * (16 * 16 + 16 * 12 + 12 * 1)
        if limit:  # 10 distinct users against the catalogue of 50
            logits = _matmul_flops(model.retrieval_scores, tf.TensorSpec([10, 8]))
        else:  # the batch's 64 rows against its 64 movies, its 10 users against 7 drawn
            logits = _matmul_flops(
                model._in_batch_softmax, tf.TensorSpec([64, 8]), tf.TensorSpec([64, 8]),
                tf.TensorSpec([64], tf.int64), tf.TensorSpec([10, 8]),
                tf.TensorSpec([10], tf.int64), tf.TensorSpec([64], tf.int32))
        assert counted["retrieval softmax"] == logits


def test_history_lengths_are_the_models_history_rows():
    """The profiler does not count the history's sparse product; its size is each batch
    user's history row in the model's table, as batch_shape counts it."""
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(30), rng.integers(1, 40, 30))
    movies = rng.integers(0, 50, len(users))
    model = model_lib.build(30, 50, users, movies, CONFIG)
    batch = np.unique(users[:64])
    history = tf.gather(model.history_movies, tf.constant(batch))
    # What batch_shape assumes of a user's history: min(their ratings, max_history) rows.
    lengths = history.row_lengths().numpy()
    np.testing.assert_array_equal(
        lengths, np.minimum(np.bincount(users)[batch], CONFIG.max_history))
    assert lengths.max() == CONFIG.max_history > lengths.min()  # some capped, some not
    shape = cost.batch_shape(users[np.isin(users, batch)], CONFIG)
    assert lengths.min() <= shape["history_per_user"] <= lengths.max()


def test_batch_shape_is_what_real_training_batches_hold():
    rng = np.random.default_rng(1)
    # Users from 1 to 120 ratings: some runs short, some histories capped.
    users = np.repeat(np.arange(80), rng.integers(1, 121, 80))
    shape = cost.batch_shape(users, CONFIG)
    order = data.run_order(users, CONFIG.user_run, np.random.default_rng(2))
    counts = np.bincount(users)
    distinct, history = [], []
    for start in range(0, len(order) - CONFIG.batch_size + 1, CONFIG.batch_size):
        batch = users[order[start: start + CONFIG.batch_size]]
        # One user a run (consecutive rows of one user), as batch_shape counts them.
        changes = np.flatnonzero(np.r_[True, batch[1:] != batch[:-1]])
        distinct.append(len(changes))
        history.extend(np.minimum(counts[batch[changes]], CONFIG.max_history))
    assert abs(np.mean(distinct) - shape["users_per_batch"]) < 0.05 * np.mean(distinct)
    assert abs(np.mean(history) - shape["history_per_user"]) < 0.05 * np.mean(history)
