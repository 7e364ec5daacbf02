"""What early stopping follows: the model's ranking and rating quality on the validation
slice carved from train, combined as the training objective weighs the two tasks.

The validation loss is no guide to ranking. On a train-only holdout of ml-1m the ranking
metrics peaked at epochs 4-6 and had lost 10% by epoch 12, while the validation loss kept
falling: a softmax over the whole catalogue rewards the tail of each ranking as much as its
head, and top-10 sees only the head. So each epoch ends by ranking the catalogue for a
sample of the validation users, as serving ranks it, and rating their validation movies.
"""

from __future__ import annotations

import math
import time
from typing import Dict

import keras
import numpy as np
import tensorflow as tf

from trainer import metrics
from trainer.config import ModelConfig
from trainer.data import Ratings

MONITOR = "val_objective"  # what EarlyStopping follows (lower is better)
K = 10


def objective(config: ModelConfig, ndcg: float, rmse: float) -> float:
    """rating_weight x log(RMSE) - retrieval_weight x log(NDCG@10): a 1% better RMSE counts
    as much as a 1% better NDCG, each task by its loss weight. Lower is better."""
    return (config.rating_weight * math.log(max(rmse, 1e-12))
            - config.retrieval_weight * math.log(max(ndcg, 1e-12)))


class ValidationMetrics(keras.callbacks.Callback):
    """After each epoch: NDCG@10 and RMSE on the validation ratings of at most
    config.validation_users users (a seeded sample), and MONITOR from them, into the logs.

    A user's validation movies, unknown to training (trainer/train.py), are ranked among
    the movies the user did not rate in the rest of train, the way a served user's unseen
    movies are ranked. RMSE uses the rating MLP's moving average, the weights that training
    keeps.
    """

    def __init__(self, fit_rows: Ratings, validation: Ratings, num_users: int,
                 num_movies: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.num_movies = num_movies
        users = np.unique(validation.user_index)
        if len(users) > config.validation_users:
            users = np.sort(np.random.default_rng(config.seed).choice(
                users, config.validation_users, replace=False))
        self.users = users
        self.rows = validation.take(np.flatnonzero(np.isin(validation.user_index, users)))
        self.row_of = np.full(num_users + 1, -1)
        self.row_of[users] = np.arange(len(users))
        self.exclude = metrics.seen_matrix(fit_rows, num_users, num_movies)
        self.seconds = 0.0  # spent measuring, over all epochs

    def measure(self) -> Dict[str, float]:
        """NDCG@10 and RMSE (stars) of the model as it is now."""
        model = self.model
        # From the users' training histories, which leave their validation movies out.
        vectors = model.user_vectors(tf.constant(self.users)).numpy()
        catalogue = model.movie_embedding.embeddings.numpy()[: self.num_movies]
        ndcg = metrics.recall_and_ndcg_at_k(
            lambda block: vectors[self.row_of[block]] @ catalogue.T, self.rows, K,
            self.exclude)[f"ndcg@{K}"]
        weights = model.rating_mlp.trainable_weights
        current = [weight.numpy() for weight in weights]
        for average, weight in zip(model.rating_average, weights):
            weight.assign(average)
        movies = tf.constant(self.rows.movie_index)
        predicted = model.rate(tf.constant(vectors[self.row_of[self.rows.user_index]]),
                               model.movie_vectors(movies), tf.constant(self.rows.user_index),
                               movies).numpy()
        for value, weight in zip(current, weights):
            weight.assign(value)
        rmse = 4.0 * metrics.rmse(np.clip(predicted, 0.0, 1.0), self.rows.rating)
        return {f"val_ndcg@{K}": ndcg, "val_rmse": rmse}

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Measures the model and adds the validation NDCG@10, RMSE and MONITOR to the epoch's
        logs."""
        started = time.monotonic()
        measured = self.measure()
        self.seconds += time.monotonic() - started
        measured[MONITOR] = objective(self.config, measured[f"val_ndcg@{K}"],
                                      measured["val_rmse"])
        if logs is not None:
            logs.update(measured)
