import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.config_error import ConfigError
from common.features import MOVIE_INDEX, MOVIE_TITLE, RATING_NORMALIZED, USER_INDEX
from trainer import data, train, validation
from trainer import model as model_lib
from trainer.config import ModelConfig
from trainer.data import Ratings

SMALL = dict(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=1)


def _losses(config, users, movies, ratings):
    model = model_lib.build(5, 6, np.array(users), np.array(movies), config)
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
    model = model_lib.build(5, 6, np.array([0, 1, 2]), np.array([3, 3, 4]), config)
    users = tf.constant([0, 1, 2])
    x = {USER_INDEX: users, MOVIE_INDEX: tf.constant([3, 3, 4])}
    out = model(x)
    loss = np.mean(model._in_batch_softmax(out["user_vector"], out["movie_vector"],
                                           x[MOVIE_INDEX], out["batch_user_vector"],
                                           users, tf.range(3)))
    u, v = out["user_vector"].numpy(), out["movie_vector"].numpy()
    logits = u @ v.T
    logits[0, 1] = logits[1, 0] = -1e9  # the duplicate of movie 3
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                                  keepdims=True)) - logits.max(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.diag(log_softmax)), rel=1e-4)


def test_history_term_leaves_out_the_target_movie():
    config = ModelConfig(**SMALL)
    users, movies = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 2])
    model = model_lib.build(3, 4, users, movies, config)
    model.user_vectors(tf.constant([0], tf.int64))  # builds the embedding layers
    rng = np.random.default_rng(0)
    y = rng.normal(size=(5, 8)).astype(np.float32)
    model.history_embedding.embeddings.assign(y)
    p = model.user_embedding.embeddings.numpy()
    full = model.user_vectors(tf.constant([0, 1, 2], tf.int64)).numpy()
    np.testing.assert_allclose(full[0], p[0] + (y[1] + y[2] + y[3]) / np.sqrt(3), rtol=1e-5)
    np.testing.assert_allclose(full[1], p[1] + y[2], rtol=1e-5)
    np.testing.assert_allclose(full[2], p[2], rtol=1e-5)  # no history
    # The export's whole-table product gives the same vectors as a batch's own histories.
    np.testing.assert_allclose(model.all_user_vectors().numpy()[:3], full, rtol=1e-5)
    # A batch with repeated users and a target movie: each row as computed alone.
    batch = model.user_vectors(tf.constant([1, 0, 1], tf.int64),
                               target_movie=tf.constant([2, 1, 2], tf.int64)).numpy()
    np.testing.assert_allclose(batch[1], p[0] + (y[2] + y[3]) / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(batch[0], p[1], rtol=1e-5)
    np.testing.assert_allclose(batch[2], batch[0], rtol=1e-6)


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
    config = ModelConfig(epochs=15, learning_rate=0.01, temperature=1.0,
                         validation_fraction=0.1, early_stopping_patience=15,
                         **{k: v for k, v in SMALL.items() if k != "epochs"})
    result = train.fit(config, Ratings(users, movies, ratings), 20, 10, verbose=0)
    model = result.model
    u = model.user_vectors(tf.range(20, dtype=tf.int64)).numpy()
    v = model.movie_embedding.embeddings.numpy()[:10]
    scores = u @ v.T
    assert (scores[:10, :5].mean(axis=1) > scores[:10, 5:].mean(axis=1)).all()
    predicted = model.rate(tf.constant(u[[0, 15]]), tf.constant(v[[0, 0]]),
                           tf.constant([0, 15]), tf.constant([0, 0])).numpy()
    assert predicted[0] > 0.7 and predicted[1] < 0.3
    assert result.epochs_run >= 1 and result.examples_per_second > 0


def test_large_data_is_validated_every_examples_per_epoch_and_the_stop_is_explained():
    rng = np.random.default_rng(0)
    rows = Ratings(rng.integers(0, 20, 3000), rng.integers(0, 10, 3000),
                   rng.random(3000).astype(np.float32))
    config = ModelConfig(**{**SMALL, "epochs": 4}, examples_per_epoch=640,
                         validation_fraction=0.1, max_validation_examples=100,
                         early_stopping_patience=4)
    result = train.fit(config, rows, 20, 10, verbose=0)
    assert result.epochs_run == 4 and result.examples_seen == 4 * 640  # 10 steps an epoch
    assert result.stopped_because.startswith("Training stopped, reached the maximum of 4 epochs")
    assert "epochs of 640 examples" in result.stopped_because
    patient = dataclasses.replace(config, epochs=50, early_stopping_patience=1,
                                  learning_rate=0.5)
    stopped = train.fit(patient, rows, 20, 10, verbose=0)
    assert stopped.epochs_run < 50
    assert stopped.stopped_because.startswith(
        f"Training stopped, early stopping after epoch {stopped.epochs_run}")


def test_examples_per_epoch_below_the_batch_size_is_refused():
    with pytest.raises(ConfigError, match="examples_per_epoch"):
        ModelConfig(batch_size=1024, examples_per_epoch=1000)


def test_titles_are_read_once_per_movie_from_any_batch():
    batches = [{USER_INDEX: np.array([[0], [1], [0]]), MOVIE_INDEX: np.array([[2], [0], [2]]),
                RATING_NORMALIZED: np.array([[0.5], [1.0], [0.0]]),
                MOVIE_TITLE: np.array([[b"Two"], [b"Zero"], [b"Two"]])},
               {USER_INDEX: np.array([[1]]), MOVIE_INDEX: np.array([[1]]),
                RATING_NORMALIZED: np.array([[0.25]]), MOVIE_TITLE: np.array([["Één".encode()]])}]
    ratings, titles = data.from_transformed_batches(batches)
    assert titles == {0: "Zero", 1: "Één", 2: "Two"}
    assert ratings.movie_index.tolist() == [2, 0, 2, 1]
    assert ratings.rating.tolist() == [0.5, 1.0, 0.0, 0.25]


def test_a_capped_history_keeps_a_seeded_choice_and_subtracts_only_a_target_it_holds():
    config = ModelConfig(**SMALL, max_history=2)
    users, movies = np.array([0, 0, 0, 0, 1]), np.array([0, 1, 2, 3, 2])
    model = model_lib.build(2, 4, users, movies, config)
    kept = model.history_movies[0].numpy()
    assert len(kept) == 2 and set(kept) < {0, 1, 2, 3} and list(kept) == sorted(kept)
    assert model.history_movies[1].numpy().tolist() == [2]
    assert len(model.watched[0]) == 4  # `retrieve` still leaves out every training movie
    again = model_lib.history_of(users, movies, 2, limit=2, seed=config.seed)
    assert again[0].numpy().tolist() == kept.tolist()
    model.user_vectors(tf.constant([0], tf.int64))
    y = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    model.history_embedding.embeddings.assign(y)
    p = model.user_embedding.embeddings.numpy()
    dropped = next(m for m in range(4) if m not in kept)
    batch = model.user_vectors(tf.constant([0, 0], tf.int64),
                               target_movie=tf.constant([kept[0], dropped], tf.int64)).numpy()
    np.testing.assert_allclose(batch[0], p[0] + y[kept[1]], rtol=1e-5)
    np.testing.assert_allclose(batch[1], p[0] + (y[kept[0]] + y[kept[1]]) / np.sqrt(2),
                               rtol=1e-5)
    np.testing.assert_allclose(model.all_user_vectors().numpy()[0], batch[1], rtol=1e-5)


def test_max_history_below_one_is_refused():
    with pytest.raises(ConfigError, match="max_history"):
        ModelConfig(max_history=0)


def _log_softmax_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(labels)), labels]))


def _catalogue_losses(model, out, users, movies, seen) -> np.ndarray:
    """Each row's loss, computed alone: its movie, scored with the row's vector (its target
    left out of the history), against every movie its user did not rate in training,
    scored with the user's whole vector."""
    whole = dict(zip(dict.fromkeys(users), out["batch_user_vector"].numpy()))
    catalogue = model.movie_embedding.embeddings.numpy()[: model.num_movies]
    losses = []
    for row, (user, movie) in enumerate(zip(users, movies)):
        negatives = np.delete(whole[user] @ catalogue.T, sorted(seen[user]))
        positive = out["user_vector"].numpy()[row] @ catalogue[movie]
        losses.append(np.logaddexp.reduce(np.r_[positive, negatives]) - positive)
    return np.array(losses)


def test_the_catalogue_softmax_leaves_out_a_users_training_movies_once_per_distinct_user():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, catalogue_softmax_limit=10,
                         user_weight_power=0.0, **SMALL)
    # User 0 rated movies 1 and 2; user 1 movie 3; user 2 movies 0 and 3.
    users, movies = np.array([0, 0, 1, 2, 2]), np.array([1, 2, 3, 0, 3])
    model = model_lib.build(3, 5, users, movies, config)
    model.user_vectors(tf.constant([0], tf.int64))  # builds the embedding layers
    model.history_embedding.embeddings.assign(
        np.random.default_rng(1).normal(size=(6, 8)).astype(np.float32))
    batch_users, batch_movies = [0, 1, 2, 0], [1, 3, 0, 2]  # user 0's two movies
    x = {USER_INDEX: tf.constant(batch_users), MOVIE_INDEX: tf.constant(batch_movies)}
    out = model(x)
    assert out["batch_user_vector"].shape == (3, 8)  # one a distinct user
    model.compute_loss(x, tf.fill([4], 0.5), out)  # 3 stars: every row weighs 1
    expected = _catalogue_losses(model, out, batch_users, batch_movies,
                                 {0: {1, 2}, 1: {3}, 2: {0, 3}})
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(expected.mean(),
                                                                          rel=1e-4)
    # The whole vector is the user's with every history movie; a row's leaves its own out.
    whole = out["batch_user_vector"].numpy()
    np.testing.assert_allclose(whole[0], model.user_vectors(tf.constant([0])).numpy()[0],
                               rtol=1e-5)
    assert not np.allclose(out["user_vector"].numpy()[0], whole[0])


def test_above_the_limit_the_softmax_is_in_batch_without_the_movies_the_rows_user_rated():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, popularity_correction=False,
                         catalogue_softmax_limit=4, user_weight_power=0.0, sampled_negatives=0,
                         **SMALL)
    # User 1 rated movies 3 and 1 in training; the batch has movie 1 in user 0's row.
    model = model_lib.build(3, 5, np.array([0, 1, 2, 0, 1]), np.array([1, 3, 0, 4, 1]), config)
    x = {USER_INDEX: tf.constant([0, 1, 2, 0]), MOVIE_INDEX: tf.constant([1, 3, 0, 4])}
    out = model(x)
    model.compute_loss(x, tf.fill([4], 0.5), out)  # 3 stars: every row weighs 1
    logits = out["user_vector"].numpy() @ out["movie_vector"].numpy().T
    logits[0, 3] = logits[3, 0] = -1e9  # user 0's two rows: not each other's negatives
    logits[1, 0] = -1e9  # user 1 rated movie 1: no negative of theirs
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(
        _log_softmax_loss(logits, np.arange(4)), rel=1e-4)


def test_drawn_negatives_join_the_batchs_movies_with_the_sampled_softmax_correction():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, catalogue_softmax_limit=4,
                         user_weight_power=0.0, sampled_negatives=6, **SMALL)
    users, movies = np.array([0, 1, 2, 0]), np.array([1, 3, 0, 4])
    model = model_lib.build(3, 5, users, movies, config)
    x = {USER_INDEX: tf.constant(users), MOVIE_INDEX: tf.constant(movies)}
    out = model(x)
    # The step's draws: the model's seed generator starts where a new one of its seed does.
    drawn = keras.random.randint([6], 0, 5, seed=keras.random.SeedGenerator(config.seed))
    drawn = drawn.numpy()
    model.compute_loss(x, tf.fill([4], 0.5), out)
    table = model.movie_embedding.embeddings.numpy()
    logits = np.concatenate([out["user_vector"].numpy() @ out["movie_vector"].numpy().T,
                             out["batch_user_vector"].numpy()[[0, 1, 2, 0]] @ table[drawn].T],
                            axis=1)
    # Each candidate's expected count: 4 rows x its training frequency (1 of 4 ratings each;
    # movie 2, never rated, 1 of 4 as the floor) + 6 drawn of 5 movies.
    logits -= np.log(4 * 0.25 + 6 / 5)
    same = (movies[:, None] == movies[None, :]) | (users[:, None] == users[None, :])
    logits[:, :4][same & ~np.eye(4, dtype=bool)] = -1e9  # rows 0 and 3: one user's
    # A drawn movie the row's user rated (its own movie among them) is no negative.
    rated = {0: {1, 4}, 1: {3}, 2: {0}}
    seen = np.array([[movie in rated[user] for movie in drawn] for user in users])
    logits[:, 4:][seen] = -1e9
    assert seen.any() and not seen.all()  # the draws exercise both cases
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(
        _log_softmax_loss(logits, np.arange(4)), rel=1e-4)


def test_history_dropout_never_lets_the_target_into_its_own_user_vector():
    config = ModelConfig(**SMALL, history_dropout=0.5)
    users, movies = np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3])
    model = model_lib.build(1, 4, users, movies, config)
    model.user_vectors(tf.constant([0], tf.int64))
    y = np.zeros((5, 8), np.float32)
    y[2] = 1000.0  # only the target has a history vector
    model.history_embedding.embeddings.assign(y)
    p = model.user_embedding.embeddings.numpy()[0]
    for _ in range(20):  # whatever the dropout draws
        row = model.user_vectors(tf.constant([0, 0], tf.int64),
                                 target_movie=tf.constant([2, 1], tf.int64),
                                 training=True).numpy()
        np.testing.assert_allclose(row[0], p, atol=1e-3)
        assert set(np.round((row[1] - p)[:1] * np.sqrt(3), 2)) <= {0.0, 2000.0}


def test_the_l2_weight_a_step_follows_the_size_of_the_training_data():
    """Against the sum of the ratings' losses, `l2` at up to 64,000 ratings, twice that at
    four times as many (l2_size_power 0.5)."""
    config = ModelConfig(l2=0.1, l2_size_power=0.5, **SMALL)
    for ratings, l2 in ((1_000, 0.1), (256_000, 0.2)):
        users = np.arange(ratings) % 3
        model = model_lib.build(3, 5, users, users + 1, config)
        assert model.l2_weight == pytest.approx(l2 / ratings)


def test_l2_penalises_each_row_the_batch_reads_over_its_chance_per_rating_and_only_in_training():
    config = ModelConfig(l2=0.1, **{**SMALL, "batch_size": 2})
    users, movies = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 2])
    model = model_lib.build(4, 5, users, movies, config)
    x = {USER_INDEX: tf.constant([0, 0, 1]), MOVIE_INDEX: tf.constant([1, 2, 2])}
    model(x)
    rng = np.random.default_rng(2)
    tables = {layer: rng.normal(size=(n + 1, width)).astype(np.float32)
              for layer, n, width in ((model.user_embedding, 4, 8), (model.movie_embedding, 5, 8),
                                      (model.history_embedding, 5, 8), (model.user_bias, 4, 1),
                                      (model.movie_bias, 5, 1))}
    for layer, values in tables.items():
        layer.embeddings.assign(values)
    model(x, training=True)
    chances = model_lib.row_chances(users, movies, model.history_movies, 4, 5, 2,
                                    config.user_run)
    square = {layer: np.square(values).sum(axis=1) for layer, values in tables.items()}

    def penalty(layer, chance, rows):  # each distinct row once, over its chance of a read
        return (square[layer][rows] / chances[chance][rows]).sum()

    expected = 0.1 / len(users) * (penalty(model.user_embedding, "user", [0, 1])
                      + penalty(model.movie_embedding, "movie", [1, 2])
                      + penalty(model.history_embedding, "history", [1, 2, 3])
                      + penalty(model.user_bias, "user", [0, 1])
                      + penalty(model.movie_bias, "movie", [1, 2]))
    assert [float(loss) for loss in model.losses] == pytest.approx([expected], rel=1e-5)
    model(x)
    assert not model.losses  # validation and serving: no penalty
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, tf.zeros(3), model(x, training=True))
    gradients = tape.gradient(loss, [model.user_embedding.embeddings,
                                     model.history_embedding.embeddings])
    assert all(isinstance(g, tf.IndexedSlices) for g in gradients)  # no whole-table update


def _random_ratings(seed: int, n: int) -> Ratings:
    """n ratings of 50 users and 40 movies."""
    rng = np.random.default_rng(seed)
    return Ratings(rng.integers(0, 50, n), rng.integers(0, 40, n),
                   rng.random(n).astype(np.float32))


def test_learning_rate_decay_multiplies_the_rate_after_every_epoch():
    ratings = _random_ratings(seed=3, n=2000)
    config = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=4,
                         learning_rate=0.05, learning_rate_decay=0.5,
                         early_stopping_patience=8, validation_fraction=0.2)
    result = train.fit(config, ratings, 50, 40, verbose=0)
    assert result.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125, 0.00625])
    assert float(result.model.optimizer.learning_rate) == pytest.approx(0.00625)


class _RatingMLPRecorder(keras.callbacks.Callback):
    """The rating MLP's weights before training and after every step."""

    def on_train_begin(self, logs=None):
        self.steps = [[w.numpy() for w in self.model.rating_mlp.trainable_weights]]

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.numpy() for w in self.model.rating_mlp.trainable_weights])


def test_the_rating_mlp_kept_is_the_moving_average_of_its_weights_over_the_steps():
    ratings = _random_ratings(seed=5, n=1000)
    config = ModelConfig(embedding_dim=8, rating_layers=(16,), batch_size=64, epochs=2,
                         rating_average_momentum=0.9, validation_fraction=0.2)
    recorder = _RatingMLPRecorder()
    result = train.fit(config, ratings, 50, 40, callbacks=[recorder], verbose=0)
    steps_per_epoch = 800 // 64
    assert len(recorder.steps) == 1 + 2 * steps_per_epoch
    # Early stopping keeps the epoch of the better validation objective, and the average as
    # it was then.
    kept_steps = steps_per_epoch * (1 + int(np.argmin(result.history[validation.MONITOR])))
    expected = recorder.steps[0]
    for step in recorder.steps[1:1 + kept_steps]:
        expected = [0.9 * a + 0.1 * w for a, w in zip(expected, step)]
    kept = [w.numpy() for w in result.model.rating_mlp.trainable_weights]
    for got, want, last in zip(kept, expected, recorder.steps[kept_steps]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        assert not np.allclose(got, last)  # not the last step's weights
    no_average = train.fit(dataclasses.replace(config, rating_average_momentum=0.0), ratings,
                           50, 40, callbacks=[recorder], verbose=0)
    kept_steps = steps_per_epoch * (1 + int(np.argmin(no_average.history[validation.MONITOR])))
    for got, last in zip(no_average.model.rating_mlp.trainable_weights,
                         recorder.steps[kept_steps]):
        np.testing.assert_array_equal(got.numpy(), last)


def test_learning_rate_decay_outside_zero_one_is_refused():
    with pytest.raises(ConfigError, match="learning_rate_decay"):
        ModelConfig(learning_rate_decay=0.0)


@pytest.mark.parametrize("user_run", [1, 3])
def test_row_chances_match_the_training_batches(user_run):
    rng = np.random.default_rng(4)
    # Popular movies, though none with more than a tenth of the ratings (MovieLens: 0.5%)
    pairs = np.unique(np.stack([rng.integers(0, 30, 400), rng.geometric(0.08, 400) % 25]),
                      axis=1)
    users, movies = pairs  # each (user, movie) once, as in MovieLens
    history = model_lib.history_of(users, movies, 30, limit=5, seed=0)
    chances = model_lib.row_chances(users, movies, history, 30, 25, batch_size=8,
                                    user_run=user_run)
    read = {name: np.zeros(n + 1) for name, n in (("user", 30), ("movie", 25), ("history", 25))}
    trials = 0
    holders = [set(history[u].numpy()) for u in range(31)]
    while trials < 4000:  # whole passes, cut into batches as training cuts them
        order = data.run_order(users, user_run, rng)
        for start in range(0, len(order) - 7, 8):
            batch = order[start: start + 8]
            read["user"][np.unique(users[batch])] += 1
            read["movie"][np.unique(movies[batch])] += 1
            read["history"][list(set().union(*(holders[u] for u in users[batch])))] += 1
            trials += 1
    for name, counts in read.items():
        np.testing.assert_allclose(counts / trials, chances[name], atol=0.03, err_msg=name)
    assert chances["user"][30] == 0.0 and 0.0 < chances["movie"][movies].min() < 0.5


def test_liked_weighting_weighs_each_positive_by_its_rating():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, liked_weighting=1.0,
                         catalogue_softmax_limit=10, **SMALL)
    users, movies = np.array([0, 1, 2]), np.array([1, 3, 0])
    model = model_lib.build(3, 5, users, movies, config)
    x = {USER_INDEX: tf.constant(users), MOVIE_INDEX: tf.constant(movies)}
    out = model(x)
    model.compute_loss(x, tf.constant([1.0, 0.5, 0.0]), out)  # 5, 3 and 1 stars
    each = _catalogue_losses(model, out, users, movies, {0: {1}, 1: {3}, 2: {0}})
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(
        (1.5 * each[0] + 1.0 * each[1] + 0.5 * each[2]) / 3.0, rel=1e-4)


def test_user_weight_power_divides_a_positive_by_its_users_rating_count():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, user_weight_power=1.0,
                         catalogue_softmax_limit=10, **SMALL)
    # User 0 rated three movies in training, user 1 one.
    model = model_lib.build(2, 5, np.array([0, 0, 0, 1]), np.array([1, 2, 3, 0]), config)
    x = {USER_INDEX: tf.constant([0, 1]), MOVIE_INDEX: tf.constant([1, 0])}
    out = model(x)
    model.compute_loss(x, tf.constant([0.5, 0.5]), out)  # 3 stars: liked_weighting adds 0
    each = _catalogue_losses(model, out, [0, 1], [1, 0], {0: {1, 2, 3}, 1: {0}})
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(
        (each[0] / 3 + each[1]) / (1 / 3 + 1), rel=1e-4)


def test_the_catalogue_softmax_masks_by_bit_across_byte_boundaries():
    """Movies 7, 8 and 12 sit on either side of a byte of the packed mask; the OOV movie
    (index 13) is no column of the catalogue."""
    config = ModelConfig(retrieval_weight=1.0, rating_weight=0.0, catalogue_softmax_limit=13,
                         user_weight_power=0.0, **SMALL)
    users, movies = np.array([0, 0, 0, 1, 1, 2]), np.array([7, 8, 12, 0, 13, 5])
    model = model_lib.build(3, 13, users, movies, config)
    batch_users, batch_movies = [0, 0, 1, 2], [8, 3, 0, 5]
    x = {USER_INDEX: tf.constant(batch_users), MOVIE_INDEX: tf.constant(batch_movies)}
    out = model(x)
    model.compute_loss(x, tf.fill([4], 0.5), out)  # 3 stars: every row weighs 1
    expected = _catalogue_losses(model, out, batch_users, batch_movies,
                                 {0: {7, 8, 12}, 1: {0}, 2: {5}})  # user 1's 13 is OOV
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(expected.mean(),
                                                                          rel=1e-4)


@pytest.mark.parametrize("run", [1, 3])
def test_run_order_takes_every_rating_once_in_runs_of_one_users_ratings(run):
    users = np.repeat(np.arange(5), [1, 2, 3, 7, 10])
    rng = np.random.default_rng(0)
    order = data.run_order(users, run, rng)
    assert sorted(order.tolist()) == list(range(len(users)))
    # Cut where the user changes: each user's rows come in ceil(count / run) runs of <= run.
    cuts = np.flatnonzero(np.diff(users[order]) != 0) + 1
    runs = np.split(users[order], cuts)
    if run > 1:  # (a user's runs may meet by chance: compare their counts at least)
        assert all(len(r) <= 2 * run for r in runs)
        assert len(runs) >= len(set(users.tolist()))
    assert not np.array_equal(order, data.run_order(users, run, rng))  # each pass anew
    batches = Ratings(users, users, np.zeros(len(users), np.float32)).dataset(
        4, shuffle_seed=0, user_run=run)
    assert batches.cardinality() == len(users) // 4  # whole batches only
    seen = np.concatenate([x[USER_INDEX].numpy() for x, _ in batches])
    assert len(seen) == 20 and set(seen.tolist()) <= set(users.tolist())


def test_validation_movies_are_negatives_in_training_and_known_to_the_export():
    config = ModelConfig(catalogue_softmax_limit=10, **SMALL)
    # Trained on user 0's movies 1 and 2; movie 3 is user 0's validation movie.
    served = model_lib.UserMovies.of(np.array([0, 0, 0]), np.array([1, 2, 3]), 1, config)
    model = model_lib.build(1, 5, np.array([0, 0]), np.array([1, 2]), config, served=served)
    seen = np.unpackbits(model.seen_bits.numpy()[0], bitorder="little")[:5]
    assert seen.tolist() == [0, 1, 1, 0, 0]  # 3 is a negative in training
    assert model.watched[0].numpy().tolist() == [1, 2, 3]  # `retrieve` leaves it out
    model.user_vectors(tf.constant([0], tf.int64))
    y = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    model.history_embedding.embeddings.assign(y)
    p = model.user_embedding.embeddings.numpy()[0]
    np.testing.assert_allclose(model.user_vectors(tf.constant([0], tf.int64)).numpy()[0],
                               p + (y[1] + y[2]) / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(model.all_user_vectors().numpy()[0],
                               p + (y[1] + y[2] + y[3]) / np.sqrt(3), rtol=1e-5)


def test_a_batch_of_one_star_ratings_alone_adds_no_retrieval_loss_and_no_nan():
    config = ModelConfig(retrieval_weight=1.0, rating_weight=1.0, liked_weighting=2.0,
                         catalogue_softmax_limit=10, **SMALL)
    users, movies = np.array([0, 1]), np.array([1, 3])
    model = model_lib.build(2, 5, users, movies, config)
    x = {USER_INDEX: tf.constant(users), MOVIE_INDEX: tf.constant(movies)}
    total = model.compute_loss(x, tf.zeros(2), model(x))  # 1 star: weight 0
    assert float(model.retrieval_loss_tracker.result()) == 0.0
    assert float(total) == pytest.approx(float(model.rating_loss_tracker.result()))
