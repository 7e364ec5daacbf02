"""The multi-task recommender: two embedding towers, a rating MLP, two weighted losses.

Written in Keras 3 only. (tensorflow_transform switches `tf.keras` to Keras 2 in its process,
so nothing here touches `tf.keras`.) The towers map vocabulary indices (the Transform's output,
OOV bucket included) to embeddings; retrieval scores are their dot products.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from common.features import MOVIE_INDEX, USER_INDEX
from trainer import data
from trainer.config import ModelConfig
from trainer.optimizers import OPTIMIZERS


class MultiTaskRecommender(keras.Model):
    """Retrieval (a softmax over the catalogue or the batch) and rating (MSE on [0, 1]) over
    shared embeddings."""

    def __init__(self, num_users: int, num_movies: int, movie_log_frequency: np.ndarray,
                 trained: "UserMovies", served: "UserMovies", config: ModelConfig,
                 row_chances: Optional[Dict[str, np.ndarray]] = None, l2_weight: float = 0.0,
                 **kwargs) -> None:
        """`trained`: the movies of the ratings the model trains on; `served`: all of each
        user's known movies, which the exported model's user vectors and `retrieve`'s
        exclusions use (the validation slice that early stopping holds out of training is
        part of them)."""
        super().__init__(**kwargs)
        self.config = config
        self.num_users = num_users  # vocabulary sizes; index == size is the OOV bucket
        self.num_movies = num_movies
        self.user_embedding = keras.layers.Embedding(
            num_users + 1, config.embedding_dim, name="user_embedding")
        self.movie_embedding = keras.layers.Embedding(
            num_movies + 1, config.embedding_dim, name="movie_embedding")
        self.rating_mlp = keras.Sequential(
            [keras.layers.Dense(units, activation=config.rating_activation)
             for units in config.rating_layers]
            + [keras.layers.Dense(1)], name="rating_mlp")
        # The moving average of the MLP's weights (see use_rating_average), not trained.
        self.rating_mlp.build((None, 2 * config.embedding_dim))
        # Updated in each replica's step with the same value: a replica's own is kept.
        self.rating_average = [
            keras.Variable(weight.numpy(), trainable=False, name=f"average_{i}",
                           aggregation="only_first_replica")
            for i, weight in enumerate(self.rating_mlp.trainable_weights)]
        if config.use_bias:
            self.user_bias = keras.layers.Embedding(num_users + 1, 1,
                                                    embeddings_initializer="zeros",
                                                    name="user_bias")
            self.movie_bias = keras.layers.Embedding(num_movies + 1, 1,
                                                     embeddings_initializer="zeros",
                                                     name="movie_bias")
        if config.use_history:
            # y_j of SVD++: what having watched movie j says about a user's taste.
            self.history_embedding = keras.layers.Embedding(
                num_movies + 1, config.embedding_dim, embeddings_initializer="zeros",
                name="history_embedding")
            self.history_embedding.build()  # user_vectors reads its table directly
        self.watched = served.watched  # user index -> the movie indices they rated in train
        if num_movies <= config.catalogue_softmax_limit:
            # The same as a bit a (user, movie), for the catalogue softmax's mask: a batch
            # gathers its users' rows, at most catalogue_softmax_limit / 8 = 512 bytes each
            # (about a user's embedding row with its optimiser slots). Gathering the
            # ragged rows instead costs a heavy user's whole count a row (measured on
            # ml-100k: 10 ms a step against 2.7).
            # Only the trained-on movies are masked: a movie held out for validation must
            # be a negative in training, as an eval movie is, or the mask tells the model
            # which movies the user rated and validation flatters it.
            self.seen_bits = tf.constant(_bit_rows(trained.watched, num_movies))
        # A user's weight as a retrieval positive: training rating count ^ -user_weight_power.
        self.user_weight = tf.pow(
            tf.maximum(tf.cast(trained.watched.row_lengths(), tf.float32), 1.0),
            -config.user_weight_power)
        # N(u) of the user tower in training: the user's trained-on movies, at most
        # config.max_history (not `history`: Keras sets that attribute in fit).
        self.history_movies = trained.history
        self.history_count = tf.cast(trained.history.row_lengths(), tf.float32)
        # N(u) for export: every known movie of the user, at most config.max_history.
        self.served_history = tf.sparse.SparseTensor(
            indices=tf.stack([served.history.value_rowids(), served.history.flat_values],
                             axis=1),
            values=tf.ones_like(served.history.flat_values, dtype=tf.float32),
            dense_shape=[num_users + 1, num_movies + 1])
        self.served_history_count = tf.cast(served.history.row_lengths(), tf.float32)
        # The L2 penalty's weight a step (config.l2_for over the training ratings) and the
        # chance that a training batch reads each row of each table.
        self.l2_weight = l2_weight
        if l2_weight:
            if row_chances is None:
                raise ValueError("l2_weight needs row_chances (trainer.model.row_chances)")
            self.row_chances = {name: tf.constant(np.maximum(chance, 1e-12), tf.float32)
                                for name, chance in row_chances.items()}
        # log q(movie): how often in-batch sampling offers each movie as a negative.
        self.movie_log_frequency = tf.constant(movie_log_frequency, dtype=tf.float32)
        if config.sampled_negatives:  # the in-batch softmax's draws
            self.negative_seeds = keras.random.SeedGenerator(config.seed)
        strategy = self._distribute_strategy  # the one it was made under, if any
        # Several workers (not only several local devices) train this model.
        self._across_workers = strategy is not None and (
            strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))
        self.retrieval_loss_tracker = keras.metrics.Mean(name="retrieval_loss")
        self.rating_loss_tracker = keras.metrics.Mean(name="rating_loss")

    def user_vectors(self, user_index: tf.Tensor, target_movie=None,
                     training: bool = False) -> tf.Tensor:
        """Each row's user vector (see `batch_user_vectors`)."""
        return self.batch_user_vectors(user_index, target_movie, training)[1]

    def batch_user_vectors(self, user_index: tf.Tensor, target_movie=None,
                           training: bool = False) -> Tuple[tf.Tensor, tf.Tensor]:
        """(a vector for each distinct user of `user_index` in order of first appearance,
        a vector for each row).

        A user's vector is p_u + |N(u)|^-1/2 * sum of y_j over N(u), the user's (capped)
        training movies. A row's is its user's, but with the row's `target_movie` left out of
        N(u) when it is there, so that the tower cannot score a movie by finding it in the
        user's history. Only the histories of the distinct users of `user_index` are read,
        each of at most config.max_history movies, so a step costs at most batch_size x
        max_history whatever the size of the data set. In training, each history movie is
        dropped with probability config.history_dropout (the rest scaled up to keep the
        sum's expectation).
        """
        users, position = tf.unique(user_index)
        vector = self.user_embedding(users)
        if not self.config.use_history:
            return vector, tf.gather(vector, position)
        history = tf.gather(self.history_movies, users)  # ragged: each distinct user's movies
        # A sparse (distinct users x distinct history movies) by dense product over the
        # looked-up rows: its gradient reaches only those rows (a sparse update, see
        # trainer/optimizers.py), and no step touches the whole table.
        movies, column = tf.unique(history.flat_values)
        weights = self._history_weights(history.flat_values, training)
        rows = tf.sparse.SparseTensor(
            indices=tf.stack([history.value_rowids(), tf.cast(column, tf.int64)], axis=1),
            values=weights,
            dense_shape=tf.stack([tf.size(users, out_type=tf.int64),
                                  tf.size(movies, out_type=tf.int64)]))
        sums = tf.sparse.sparse_dense_matmul(rows, self.history_embedding(movies))
        count = tf.gather(self.history_count, users)
        whole = vector + sums * tf.math.rsqrt(tf.maximum(count, 1.0))[:, tf.newaxis]
        if target_movie is None:
            return whole, tf.gather(whole, position)
        # Is the row's target in its user's capped history, and with what weight in the sum
        # (dropout)? A search among the batch's own sorted (distinct user, movie) keys.
        keys = _sorted_keys(history, self.num_movies)
        wanted = tf.cast(position, tf.int64) * (self.num_movies + 1) + target_movie
        found = tf.searchsorted(keys, wanted)
        present = tf.cast(tf.equal(tf.gather(keys, found), wanted), tf.float32)
        weight = tf.gather(tf.concat([weights, [0.0]], axis=0), found) * present
        left = (tf.gather(sums, position)
                - self.history_embedding(target_movie) * weight[:, tf.newaxis])
        scale = tf.math.rsqrt(tf.maximum(tf.gather(count, position) - present, 1.0))
        return whole, tf.gather(vector, position) + left * scale[:, tf.newaxis]

    def _history_weights(self, movies: tf.Tensor, training: bool) -> tf.Tensor:
        ones = tf.ones_like(movies, dtype=tf.float32)
        if not training or not self.config.history_dropout:
            return ones
        return tf.nn.dropout(ones, rate=self.config.history_dropout)

    def all_user_vectors(self) -> tf.Tensor:
        """Every user's vector (OOV row included) from all their known movies, for export:
        one sparse (users x movies) by dense (movies x dim) product, cheaper than gathering
        every history."""
        vector = self.user_embedding.embeddings
        if not self.config.use_history:
            return vector
        sums = tf.sparse.sparse_dense_matmul(self.served_history,
                                             self.history_embedding.embeddings)
        scale = tf.math.rsqrt(tf.maximum(self.served_history_count, 1.0))
        return vector + sums * scale[:, tf.newaxis]

    def movie_vectors(self, movie_index: tf.Tensor) -> tf.Tensor:
        """Each movie index's embedding."""
        return self.movie_embedding(movie_index)

    def retrieval_scores(self, user_vector: tf.Tensor) -> tf.Tensor:
        """[batch, num_movies]: each user's retrieval score of every movie of the catalogue
        (the OOV bucket left out), as training, evaluation and serving rank them."""
        movies = self.movie_embedding.embeddings[: self.num_movies]
        return tf.matmul(user_vector, movies, transpose_b=True)

    def rate(self, user_vector: tf.Tensor, movie_vector: tf.Tensor, user_index: tf.Tensor,
             movie_index: tf.Tensor) -> tf.Tensor:
        """Predicted normalised rating, shape [batch]."""
        rating = self.rating_mlp(tf.concat([user_vector, movie_vector], axis=-1))[:, 0]
        if self.config.use_bias:
            rating += self.user_bias(user_index)[:, 0] + self.movie_bias(movie_index)[:, 0]
        return rating

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False
             ) -> Dict[str, tf.Tensor]:
        """Training view: every (user, movie) pair is one of the training ratings."""
        # Cast: Keras traces the model for saving with the float inputs it infers.
        user_index = tf.cast(tf.reshape(inputs[USER_INDEX], [-1]), tf.int64)
        movie_index = tf.cast(tf.reshape(inputs[MOVIE_INDEX], [-1]), tf.int64)
        users, user_vector = self.batch_user_vectors(user_index, target_movie=movie_index,
                                                     training=training)
        movie_vector = self.movie_vectors(movie_index)
        if training and self.l2_weight:
            self.add_loss(self.l2_weight * self._l2_penalty(user_index, movie_index))
        return {
            "user_vector": user_vector,
            "movie_vector": movie_vector,
            "rating": self.rate(user_vector, movie_vector, user_index, movie_index),
            "batch_user_vector": users,  # one a distinct user, see batch_user_vectors
        }

    def _l2_penalty(self, user_index, movie_index) -> tf.Tensor:
        """An unbiased estimate of the L2 penalty on whole tables, from the rows this batch
        reads: each distinct row's squared norm over its chance of being read by a batch.
        Its cost and gradient stay within the batch (a penalty on whole tables would update
        every row at every step); in expectation it is the same penalty."""
        users = tf.unique(user_index).y
        movies = tf.unique(movie_index).y
        reads = [(self.user_embedding, "user", users), (self.movie_embedding, "movie", movies)]
        if self.config.use_bias:
            reads += [(self.user_bias, "user", users), (self.movie_bias, "movie", movies)]
        if self.config.use_history:
            history = tf.unique(tf.gather(self.history_movies, users).flat_values).y
            reads.append((self.history_embedding, "history", history))
        return tf.add_n([
            tf.reduce_sum(tf.reduce_sum(tf.square(table(rows)), axis=1)
                          / tf.gather(self.row_chances[name], rows))
            for table, name, rows in reads])

    def train_step(self, data):
        """Keras' training step, then the rating MLP's moving average updated towards its new
        weights (rating_average_momentum)."""
        logs = super().train_step(data)
        momentum = self.config.rating_average_momentum
        for average, weight in zip(self.rating_average, self.rating_mlp.trainable_weights):
            average.assign(momentum * average + (1.0 - momentum) * weight)
        return self._per_replica_logs(logs)

    def test_step(self, data):
        """Keras' evaluation step (see `_per_replica_logs`)."""
        return self._per_replica_logs(super().test_step(data))

    def _per_replica_logs(self, logs):
        """The step's logs, shaped [1] across several workers: Keras 3 averages a step's logs
        over the workers along axis 0, which a scalar does not have (keras-team/keras#20585,
        tensorflow/tensorflow#72388)."""
        if not self._across_workers:
            return logs
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras builds a model made under a strategy from the mean of a first batch over
        the replicas, which fails across workers (keras-team/keras#20585) and for integer
        features; the first replica's batch has the shapes the build needs."""
        strategy = self._distribute_strategy
        if iterator is not None and strategy is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0],
                    next(batches))
                break
            iterator = None
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def use_rating_average(self) -> None:
        """Sets the rating MLP to its weights' moving average (after training: the average
        is part of the weights that early stopping saves and restores, so it matches the
        epoch kept)."""
        for average, weight in zip(self.rating_average, self.rating_mlp.trainable_weights):
            weight.assign(average)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The step's loss: retrieval_weight x the weighted retrieval loss (catalogue or in-batch
        softmax) + rating_weight x the rating MSE + the L2 penalty that `call` added."""
        del sample_weight, training
        movie_index = tf.cast(tf.reshape(x[MOVIE_INDEX], [-1]), tf.int64)
        user_index = tf.cast(tf.reshape(x[USER_INDEX], [-1]), tf.int64)
        users, position = tf.unique(user_index)  # as batch_user_vectors found them
        if self.num_movies <= self.config.catalogue_softmax_limit:
            positive = tf.reduce_sum(y_pred["user_vector"] * y_pred["movie_vector"], axis=1)
            retrieval = self._catalogue_softmax(y_pred["batch_user_vector"], users, position,
                                                positive / self.config.temperature)
        else:
            retrieval = self._in_batch_softmax(y_pred["user_vector"], y_pred["movie_vector"],
                                               movie_index, y_pred["batch_user_vector"],
                                               users, position)
        rated = tf.reshape(y, [-1])
        # Each rating's weight as a positive: 1 + liked_weighting x (normalised rating - 1/2),
        # over its user's training rating count to the power user_weight_power.
        weight = (1.0 + self.config.liked_weighting * (rated - 0.5)) * tf.gather(
            self.user_weight, user_index)
        # (A batch of 1-star ratings alone weighs nothing with liked_weighting 2: no loss.)
        weighted, weights = tf.reduce_sum(weight * retrieval), tf.reduce_sum(weight)
        rating = tf.reduce_mean(tf.square(y_pred["rating"] - rated))
        self.retrieval_loss_tracker.update_state(tf.math.divide_no_nan(weighted, weights))
        self.rating_loss_tracker.update_state(rating)
        # Several replicas' gradients are summed into the whole batch's: each replica's
        # weighted retrieval losses count over the whole batch's weight, and it has its
        # share of the rating MSE and of the L2 penalty (each replica's estimates the whole
        # tables' from its own slice's rows: build's `replicas`).
        replicas = self.distribute_strategy.num_replicas_in_sync
        if replicas > 1:
            weights = tf.distribute.get_replica_context().all_reduce("SUM", weights)
        total = (self.config.retrieval_weight * tf.math.divide_no_nan(weighted, weights)
                 + self.config.rating_weight * rating / replicas)
        if self.losses:
            total += tf.add_n(self.losses) / replicas
        return total

    def _catalogue_softmax(self, user_vectors, users, position, positive) -> tf.Tensor:
        """Each row's movie against every movie of the catalogue its user has not rated in
        training (the user's other training movies, liked or not, are not negatives): an
        exact softmax, no sampling and so no correction. The normaliser over the unrated
        movies is computed once per distinct user of the batch: a row's loss is
        log(exp(positive) + exp(log_z)) - positive = softplus(log_z - positive). Its cost
        is the batch's distinct users times the catalogue (hence `user_run`, and the limit)."""
        logits = self.retrieval_scores(user_vectors) / self.config.temperature
        rows = tf.gather(self.seen_bits, users)  # [distinct users, ceil(num_movies / 8)] bytes
        bits = tf.bitwise.bitwise_and(rows[:, :, tf.newaxis], _BIT_VALUES) > 0
        seen = tf.reshape(bits, [-1, 8 * self.seen_bits.shape[1]])[:, : self.num_movies]
        log_z = tf.reduce_logsumexp(tf.where(seen, tf.constant(-1e9), logits), axis=1)
        return tf.nn.softplus(tf.gather(log_z, position) - positive)

    def _in_batch_softmax(self, user_vector, movie_vector, movie_index, user_vectors,
                          users, position) -> tf.Tensor:
        """Each row's own movie is the positive. The negatives are the batch's other movies,
        and config.sampled_negatives movies drawn uniformly from the catalogue for the step
        (mixed negative sampling, Yang et al. 2020: the batch's movies are drawn by
        popularity, so the tail of the catalogue is rarely a negative without them), but
        for the movies the row's user rated in training, as the catalogue softmax leaves
        them out (the user's capped history, N(u) of the user tower, and the other movies
        of the row's run). Drawn movies are scored by each distinct user's whole vector
        (`user_vectors`, as the catalogue softmax's normaliser is). With
        popularity_correction, each candidate's logit is less the log of its expected count
        among the candidates (batch size x its training frequency + drawn / catalogue): the
        sampled softmax's correction."""
        logits = tf.matmul(user_vector, movie_vector, transpose_b=True)
        movie_index = tf.cast(movie_index, tf.int64)
        candidates = movie_index
        drawn = self.config.sampled_negatives
        if drawn:
            sampled = tf.cast(keras.random.randint([drawn], 0, self.num_movies,
                                                   seed=self.negative_seeds), tf.int64)
            scores = tf.matmul(user_vectors, self.movie_vectors(sampled), transpose_b=True)
            logits = tf.concat([logits, tf.gather(scores, position)], axis=1)
            candidates = tf.concat([movie_index, sampled], axis=0)
        rows = tf.shape(movie_index)[0]
        # A popular movie can appear twice in a batch: never use it as its own negative.
        same_movie = tf.equal(movie_index[:, tf.newaxis], candidates[tf.newaxis, :])
        same_user = tf.equal(position[:, tf.newaxis], position[tf.newaxis, :])
        same_user = tf.pad(same_user, [[0, 0], [0, drawn]])
        seen = tf.gather(self._rated_candidates(users, candidates), position)
        own = tf.pad(tf.eye(rows, dtype=tf.bool), [[0, 0], [0, drawn]])
        masked = tf.logical_and(tf.logical_or(tf.logical_or(same_movie, same_user), seen),
                                tf.logical_not(own))
        logits /= self.config.temperature
        if self.config.popularity_correction:
            batch = tf.cast(rows, tf.float32)
            expected = (batch * tf.exp(tf.gather(self.movie_log_frequency, candidates))
                        + drawn / self.num_movies)
            logits -= tf.math.log(expected)[tf.newaxis, :]
        logits = tf.where(masked, -1e9, logits)
        labels = tf.range(rows)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    def _rated_candidates(self, users: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """[distinct users, candidates]: is the candidate in the user's capped history? Each
        history movie is looked up among the candidates (not each candidate in each
        history): batch_size x max_history searches at most, whatever the data."""
        history = tf.gather(self.history_movies, users)
        distinct = tf.sort(tf.unique(candidates).y)
        where = tf.searchsorted(distinct, history.flat_values)
        where = tf.minimum(where, tf.size(distinct) - 1)
        found = tf.equal(tf.gather(distinct, where), history.flat_values)
        hits = tf.boolean_mask(tf.stack([history.value_rowids(),
                                         tf.cast(where, tf.int64)], axis=1), found)
        rated = tf.scatter_nd(hits, tf.ones(tf.shape(hits)[:1], tf.int32),
                              tf.cast(tf.stack([tf.size(users), tf.size(distinct)]), tf.int64))
        return tf.gather(rated > 0, tf.searchsorted(distinct, candidates), axis=1)

    @property
    def metrics(self):
        """The two loss trackers, then Keras' own: what `fit` reports and resets each epoch."""
        return [self.retrieval_loss_tracker, self.rating_loss_tracker] + super().metrics


_BIT_VALUES = np.array([1 << bit for bit in range(8)], np.uint8)  # np.packbits' little


def _bit_rows(rows: tf.RaggedTensor, num_movies: int) -> np.ndarray:
    """uint8 [len(rows), ceil(num_movies / 8)]: bit m % 8 of byte m // 8 of row u is set
    when row u holds movie m (< num_movies; the OOV movie has no bit)."""
    movies = rows.flat_values.numpy()
    kept = movies < num_movies
    bits = np.zeros((int(rows.nrows()), -(-num_movies // 8)), np.uint8)
    # In place, no (rows x num_movies) array on the way: 3.4 s for 25M ratings.
    np.bitwise_or.at(bits, (rows.value_rowids().numpy()[kept], movies[kept] >> 3),
                     np.left_shift(1, movies[kept] & 7).astype(np.uint8))
    return bits


def _sorted_keys(rows: tf.RaggedTensor, num_movies: int) -> tf.Tensor:
    """row * (num_movies + 1) + movie for each entry of `rows` (each row's movies in
    ascending order, so the keys are sorted), and a sentinel above every key, so that a
    search never runs past the end."""
    return tf.concat([rows.value_rowids() * (num_movies + 1) + rows.flat_values,
                      tf.constant([np.iinfo(np.int64).max])], axis=0)


def history_of(user_index: np.ndarray, movie_index: np.ndarray, num_users: int,
               limit: Optional[int] = None, seed: int = 0) -> tf.RaggedTensor:
    """Row u lists user u's training movies in index order; the OOV user's row
    (u == num_users) is empty. With a `limit`, a user with more movies keeps a seeded
    random `limit` of them."""
    user_index, movie_index = np.asarray(user_index), np.asarray(movie_index)
    if limit is not None:
        order, rank = data.shuffled_within_users(user_index, np.random.default_rng(seed))
        kept = order[rank < limit]
        user_index, movie_index = user_index[kept], movie_index[kept]
    order = np.lexsort((movie_index, user_index))
    row_splits = np.searchsorted(user_index[order], np.arange(num_users + 2), side="left")
    return tf.RaggedTensor.from_row_splits(
        tf.constant(movie_index[order], tf.int64), tf.constant(row_splits, tf.int64))


def row_chances(train_users: np.ndarray, train_movies: np.ndarray, history: tf.RaggedTensor,
                num_users: int, num_movies: int, batch_size: int,
                user_run: int = 1) -> Dict[str, np.ndarray]:
    """For each table, the chance that a training batch reads each row, the batch being
    consecutive runs of up to `user_run` ratings of one user (data.run_order) of a shuffled
    pass: a user's row is read when one of its runs is in the batch, a movie's when one of
    its ratings is, a history row when a run of one of the users holding it in their history
    is."""
    def drawn(counts: np.ndarray, total: float, draws: float) -> np.ndarray:
        # Drawn without replacement: the hypergeometric chance of none, with the mean
        # of the shrinking pool (exact within 1% at these sizes).
        pool = max(total - (draws - 1.0) / 2.0, 1.0)
        share = np.minimum(counts / pool, 1.0 - 1e-12)  # (a pair rated twice)
        return -np.expm1(draws * np.log1p(-share))

    user_runs = data.runs_of(np.bincount(train_users, minlength=num_users + 1), user_run)
    runs = user_runs.sum()
    runs_drawn = data.runs_per_batch(runs, len(train_users), batch_size)
    holder_runs = np.bincount(history.flat_values.numpy(), minlength=num_movies + 1,
                              weights=user_runs[history.value_rowids().numpy()])
    movie_counts = np.bincount(train_movies, minlength=num_movies + 1).astype(np.float64)
    return {"user": drawn(user_runs, runs, runs_drawn),
            "movie": drawn(movie_counts, len(train_users), batch_size),
            "history": drawn(holder_runs[: num_movies + 1], runs, runs_drawn)}


@dataclasses.dataclass(frozen=True)
class UserMovies:
    """Each user's rated movies (row u; the OOV user's row is empty): all of them, and at
    most config.max_history of them (a seeded random choice), N(u) of the user tower."""

    watched: tf.RaggedTensor
    history: tf.RaggedTensor

    @classmethod
    def of(cls, users: np.ndarray, movies: np.ndarray, num_users: int,
           config: ModelConfig) -> "UserMovies":
        """Each user's movies of the ratings (`users[i]`, `movies[i]`): all of them, and the
        seeded, capped history."""
        return cls(history_of(users, movies, num_users),
                   history_of(users, movies, num_users, config.max_history, config.seed))


def build(num_users: int, num_movies: int, train_users: np.ndarray, train_movies: np.ndarray,
          config: ModelConfig, served: Optional[UserMovies] = None,
          replicas: int = 1) -> MultiTaskRecommender:
    """A compiled model for the training ratings (`train_users[i]`, `train_movies[i]`);
    `served`: every known movie of each user, for export (default: the training ones);
    `replicas`: the model replicas that each train on an equal slice of every batch."""
    keras.utils.set_random_seed(config.seed)
    counts = np.bincount(train_movies, minlength=num_movies + 1)[: num_movies + 1]
    counts = counts.astype(np.float64)
    log_frequency = np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0))
    trained = UserMovies.of(train_users, train_movies, num_users, config)
    chances = None
    if config.l2:
        chances = row_chances(train_users, train_movies, trained.history, num_users,
                              num_movies, config.batch_size // replicas, config.user_run)
    model = MultiTaskRecommender(
        num_users, num_movies, log_frequency, trained, served or trained, config, chances,
        l2_weight=config.l2_for(len(train_users)) / max(len(train_users), 1))
    model.compile(optimizer=OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate))
    return model
