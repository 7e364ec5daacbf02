"""The multi-task recommender: two embedding towers, a rating MLP, two weighted losses.

Written in Keras 3 only. (tensorflow_transform switches `tf.keras` to Keras 2 in its process,
so nothing here touches `tf.keras`.) The towers map vocabulary indices (the Transform's output,
OOV bucket included) to embeddings; retrieval scores are their dot products.
"""

from __future__ import annotations

from typing import Dict

import keras
import numpy as np
import tensorflow as tf

from pipeline.config import ModelConfig

from components.features import MOVIE_INDEX, USER_INDEX


class MultiTaskRecommender(keras.Model):
    """Retrieval (in-batch softmax) and rating (MSE on [0, 1]) over shared embeddings."""

    def __init__(self, num_users: int, num_movies: int, movie_log_frequency: np.ndarray,
                 config: ModelConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.num_users = num_users  # vocabulary sizes; index == size is the OOV bucket
        self.num_movies = num_movies
        regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
        self.user_embedding = keras.layers.Embedding(
            num_users + 1, config.embedding_dim, embeddings_regularizer=regularizer,
            name="user_embedding")
        self.movie_embedding = keras.layers.Embedding(
            num_movies + 1, config.embedding_dim, embeddings_regularizer=regularizer,
            name="movie_embedding")
        self.rating_mlp = keras.Sequential(
            [keras.layers.Dense(units, activation="relu") for units in config.rating_layers]
            + [keras.layers.Dense(1)], name="rating_mlp")
        if config.use_bias:
            self.user_bias = keras.layers.Embedding(num_users + 1, 1, embeddings_initializer="zeros",
                                                    name="user_bias")
            self.movie_bias = keras.layers.Embedding(num_movies + 1, 1,
                                                     embeddings_initializer="zeros",
                                                     name="movie_bias")
        # log q(movie): how often in-batch sampling offers each movie as a negative.
        self.movie_log_frequency = tf.constant(movie_log_frequency, dtype=tf.float32)
        self.retrieval_loss_tracker = keras.metrics.Mean(name="retrieval_loss")
        self.rating_loss_tracker = keras.metrics.Mean(name="rating_loss")

    def user_vectors(self, user_index: tf.Tensor) -> tf.Tensor:
        return self.user_embedding(user_index)

    def movie_vectors(self, movie_index: tf.Tensor) -> tf.Tensor:
        return self.movie_embedding(movie_index)

    def rate(self, user_vector: tf.Tensor, movie_vector: tf.Tensor, user_index: tf.Tensor,
             movie_index: tf.Tensor) -> tf.Tensor:
        """Predicted normalised rating, shape [batch]."""
        rating = self.rating_mlp(tf.concat([user_vector, movie_vector], axis=-1))[:, 0]
        if self.config.use_bias:
            rating += self.user_bias(user_index)[:, 0] + self.movie_bias(movie_index)[:, 0]
        return rating

    def call(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        user_index = tf.reshape(inputs[USER_INDEX], [-1])
        movie_index = tf.reshape(inputs[MOVIE_INDEX], [-1])
        user_vector = self.user_vectors(user_index)
        movie_vector = self.movie_vectors(movie_index)
        return {
            "user_vector": user_vector,
            "movie_vector": movie_vector,
            "rating": self.rate(user_vector, movie_vector, user_index, movie_index),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        del sample_weight, training
        movie_index = tf.reshape(x[MOVIE_INDEX], [-1])
        retrieval = self._in_batch_softmax(y_pred["user_vector"], y_pred["movie_vector"],
                                           movie_index)
        rating = tf.reduce_mean(tf.square(y_pred["rating"] - tf.reshape(y, [-1])))
        self.retrieval_loss_tracker.update_state(retrieval)
        self.rating_loss_tracker.update_state(rating)
        total = self.config.retrieval_weight * retrieval + self.config.rating_weight * rating
        if self.losses:
            total += tf.add_n(self.losses)
        return total

    def _in_batch_softmax(self, user_vector, movie_vector, movie_index) -> tf.Tensor:
        """Each user's own movie is the positive; the batch's other movies are negatives."""
        logits = tf.matmul(user_vector, movie_vector, transpose_b=True) / self.config.temperature
        if self.config.popularity_correction:
            logits -= tf.gather(self.movie_log_frequency, movie_index)[tf.newaxis, :]
        # A popular movie can appear twice in a batch: never use it as its own negative.
        same_movie = tf.equal(movie_index[:, tf.newaxis], movie_index[tf.newaxis, :])
        off_diagonal = tf.logical_not(tf.eye(tf.shape(logits)[0], dtype=tf.bool))
        logits = tf.where(tf.logical_and(same_movie, off_diagonal), -1e9, logits)
        labels = tf.range(tf.shape(logits)[0])
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    @property
    def metrics(self):
        return [self.retrieval_loss_tracker, self.rating_loss_tracker] + super().metrics


def build(num_users: int, num_movies: int, movie_counts: np.ndarray,
          config: ModelConfig) -> MultiTaskRecommender:
    """A compiled model; `movie_counts[i]` is movie i's number of training ratings."""
    keras.utils.set_random_seed(config.seed)
    counts = np.append(np.asarray(movie_counts, dtype=np.float64), 0.0)  # OOV bucket
    log_frequency = np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0))
    model = MultiTaskRecommender(num_users, num_movies, log_frequency, config)
    optimizers = {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
                  "sgd": keras.optimizers.SGD}
    model.compile(optimizer=optimizers[config.optimizer](learning_rate=config.learning_rate))
    return model
