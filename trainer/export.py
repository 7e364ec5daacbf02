"""The serving SavedModel: raw MovieLens ids in, recommendations and ratings out.

A `tf.Module` holds the Keras 3 model and the Transform layer; each signature is a
`tf.function` that applies the Transform graph to raw ids and then the model. (The TFT layer is
a tf_keras layer and cannot sit inside a Keras 3 functional model, and Keras 3's own `save`
does not write a TF SavedModel; this route does.)

Defined answers for ids the model never saw in training:
- `retrieve`/`recommend` for an unknown user: the most popular training movies, with
  `personalized` false (their `scores` are then log(1 + training count), not model scores);
- `rate` with an unknown user: the movie's mean training rating; with an unknown movie: the
  global mean training rating.

TF Serving runs the SavedModel through the session loader (`serving/session_model.py`), which
restores only the variables that the object graph holds as variables. Keras 3 layers hold
their `tf.Variable`s inside Keras wrappers, so the exported module also tracks every variable
the signatures capture, directly (as `keras.export.ExportArchive` does); without that, the
session loader leaves them uninitialized and every request fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any, Dict, Sequence

import numpy as np
import tensorflow as tf

from common import features
from serving import contract
from trainer.model import MultiTaskRecommender


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """What serving needs besides the model, each array indexed by movie vocabulary index."""

    movie_ids: np.ndarray  # str, [num_movies]
    titles: np.ndarray  # str, [num_movies]
    movie_counts: np.ndarray  # training ratings per movie, [num_movies]
    movie_mean_rating: np.ndarray  # mean normalised training rating, [num_movies]
    global_mean_rating: float  # normalised


def _stars(normalised: tf.Tensor) -> tf.Tensor:
    return 1.0 + 4.0 * tf.clip_by_value(normalised, 0.0, 1.0)


def _table(values, name: str) -> tf.Variable:
    return tf.Variable(values, trainable=False, name=name)


def _hit(top_indices: tf.Tensor, movie_index: tf.Tensor) -> tf.Tensor:
    """1.0 where the example's movie is among its row of top-k movie indices."""
    found = tf.reduce_any(tf.equal(top_indices, tf.cast(movie_index, tf.int32)[:, None]), axis=1)
    return tf.cast(found, tf.float32)


def _at_most(signature: str, what: str, ids: tf.Tensor) -> tf.Tensor:
    """`ids`, once a batch above contract.MAX_BATCH[signature] has been refused (before anything
    reads them)."""
    limit = contract.MAX_BATCH[signature]
    check = tf.debugging.Assert(
        tf.size(ids) <= limit,
        [f"{signature}: at most {limit:,} {what} a request (serving.client.Recommender "
         "splits longer lists); this one has", tf.size(ids)])
    with tf.control_dependencies([check]):
        return tf.identity(ids)


def _title_key(text: str) -> str:
    return " ".join(text.split()).lower()


def movie_lookup_keys(catalogue: Catalogue) -> Dict[str, int]:
    """What `lookup_movie` accepts for each movie: its id, its title, its title without the
    year; case and spacing ignored. A key shared by several movies (a few MovieLens titles
    are) names the one rated most in training."""
    by_popularity = np.argsort(-np.asarray(catalogue.movie_counts), kind="stable")
    titles = [str(catalogue.titles[index]) for index in by_popularity]
    keys: Dict[str, int] = {}
    # Ids first: a title that reads like an id never hides that id.
    for names in ([str(catalogue.movie_ids[index]) for index in by_popularity], titles,
                  [re.sub(r"\s*\(\d{4}\)\s*$", "", title) for title in titles]):
        for index, name in zip(by_popularity, names):
            if name.strip():
                keys.setdefault(_title_key(name), int(index))
    return keys


class RecommenderModule(tf.Module):
    """The exported object; its tf.functions become the SavedModel's signatures."""

    def __init__(self, model: MultiTaskRecommender, transform_layer, catalogue: Catalogue,
                 top_k: int, exclude_seen: bool = True) -> None:
        super().__init__()
        # Not tracked: saving a tracked Keras 3 model also saves its traced training `call`,
        # whose captured history table would land in the graph as a constant of every
        # rating. The variables the signatures use are tracked by `save`.
        self.__dict__["model"] = model
        self.transform_layer = transform_layer
        self.top_k = top_k
        self.exclude_seen = exclude_seen
        self.num_users = model.num_users
        self.num_movies = model.num_movies
        # Every table is a variable, not a graph constant: the graph stays small whatever the
        # data (TF Serving refuses a GraphDef over 2 GB), and the tables live in the
        # checkpoint. The model is frozen: every user's vector (history term included) is
        # computed once.
        self.user_vectors = _table(model.all_user_vectors(), "user_vectors")
        self.movie_ids = _table(catalogue.movie_ids.astype(str), "movie_ids")
        self.titles = _table(catalogue.titles.astype(str), "titles")
        self.popularity = _table(np.log1p(catalogue.movie_counts).astype(np.float32),
                                 "popularity")
        self.movie_mean = _table(np.append(catalogue.movie_mean_rating,
                                           catalogue.global_mean_rating).astype(np.float32),
                                 "movie_mean")
        # Each user's training movies, as a ragged tensor's two arrays.
        self.seen_movies = _table(model.watched.flat_values, "seen_movies")
        self.seen_row_splits = _table(model.watched.row_splits, "seen_row_splits")
        keys = movie_lookup_keys(catalogue)
        self.movie_lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(keys), tf.string), tf.constant(list(keys.values()), tf.int64)),
            default_value=-1)

    def _indices(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        transformed = self.transform_layer({k: tf.reshape(v, [-1, 1]) for k, v in raw.items()})
        return {k: tf.reshape(v, [-1]) for k, v in transformed.items()}

    def _scores(self, user_index: tf.Tensor) -> tf.Tensor:
        """[batch, num_movies] retrieval scores; popularity for unknown users."""
        scores = self.model.retrieval_scores(tf.gather(self.user_vectors, user_index))
        known = user_index < self.num_users
        return tf.where(known[:, tf.newaxis], scores, self._popular(user_index))

    def _popular(self, user_index: tf.Tensor) -> tf.Tensor:
        """[batch, num_movies]: every user scores movies by log(1 + training count)."""
        return tf.broadcast_to(self.popularity, [tf.size(user_index), self.num_movies])

    def _exclude_seen(self, scores: tf.Tensor, user_index: tf.Tensor) -> tf.Tensor:
        watched = tf.RaggedTensor.from_row_splits(self.seen_movies, self.seen_row_splits,
                                                  validate=False)
        seen = tf.gather(watched, user_index)  # the user's training movies
        positions = tf.stack([seen.value_rowids(), seen.flat_values], axis=1)
        fill = tf.fill(tf.shape(seen.flat_values), tf.constant(-np.inf, tf.float32))
        return tf.tensor_scatter_nd_update(scores, positions, fill)

    def _top_k(self, scores: tf.Tensor, user_index: tf.Tensor):
        """The k best-scored movies of each row, the user's training movies left out."""
        if self.exclude_seen:
            scores = self._exclude_seen(scores, user_index)
        return tf.math.top_k(scores, k=self.top_k)

    def _retrieve(self, user_index: tf.Tensor):
        return self._top_k(self._scores(user_index), user_index)

    def _personalized(self, user_index: tf.Tensor) -> tf.Tensor:
        return user_index < self.num_users

    def _rate(self, user_index: tf.Tensor, movie_index: tf.Tensor) -> tf.Tensor:
        """Normalised rating; training means stand in where an id is unknown."""
        predicted = self.model.rate(tf.gather(self.user_vectors, user_index),
                                    self.model.movie_vectors(movie_index),
                                    user_index, movie_index)
        known = tf.logical_and(user_index < self.num_users, movie_index < self.num_movies)
        return tf.where(known, predicted, tf.gather(self.movie_mean, movie_index))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.USER_ID)])
    def retrieve(self, user_id):
        """Each user's top-k movies by retrieval score, best first, their training movies left out
        (with `exclude_seen`); the most popular movies for an unknown user."""
        user_id = _at_most(contract.RETRIEVE, "user ids", user_id)
        user_index = self._indices({features.USER_ID: user_id})[features.USER_INDEX]
        top = self._retrieve(user_index)
        return {contract.MOVIE_IDS: tf.gather(self.movie_ids, top.indices),
                contract.TITLES: tf.gather(self.titles, top.indices),
                contract.SCORES: top.values,
                contract.PERSONALIZED: self._personalized(user_index)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.USER_ID),
                                  tf.TensorSpec([None], tf.string, name=features.MOVIE_ID)])
    def rate(self, user_id, movie_id):
        """Predicted stars (1-5) of each (user_id, movie_id) pair; training means stand in for
        unknown ids."""
        # Without this, pairs of unequal length fail deep inside the graph (ConcatOp); the
        # check runs before anything reads the ids.
        same_length = tf.debugging.assert_equal(
            tf.size(user_id), tf.size(movie_id),
            message="rate: user_id and movie_id must have the same length")
        with tf.control_dependencies([same_length]):
            user_id, movie_id = _at_most(contract.RATE, "pairs", user_id), tf.identity(movie_id)
        index = self._indices({features.USER_ID: user_id, features.MOVIE_ID: movie_id})
        return {contract.RATING: _stars(self._rate(index[features.USER_INDEX],
                                            index[features.MOVIE_INDEX]))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.USER_ID)])
    def recommend(self, user_id):
        """Retrieve top-k, then rank them by predicted rating (best first)."""
        user_id = _at_most(contract.RECOMMEND, "user ids", user_id)
        user_index = self._indices({features.USER_ID: user_id})[features.USER_INDEX]
        top = self._retrieve(user_index)
        users = tf.repeat(user_index, self.top_k)
        ratings = tf.reshape(self._rate(users, tf.reshape(top.indices, [-1])),
                             [-1, self.top_k])
        order = tf.argsort(ratings, axis=1, direction="DESCENDING", stable=True)
        movies = tf.gather(top.indices, order, batch_dims=1)
        return {contract.MOVIE_IDS: tf.gather(self.movie_ids, movies),
                contract.TITLES: tf.gather(self.titles, movies),
                contract.RATINGS: _stars(tf.gather(ratings, order, batch_dims=1)),
                contract.SCORES: tf.gather(top.values, order, batch_dims=1),
                contract.PERSONALIZED: self._personalized(user_index)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contract.MOVIE_QUERY)])
    def lookup_movie(self, movie):
        """A movie id or title (case and spacing ignored, year optional) -> its id and title;
        empty strings where nothing matches."""
        movie = _at_most(contract.LOOKUP_MOVIE, "queries", movie)
        key = tf.strings.lower(
            tf.strings.reduce_join(tf.strings.split(movie), axis=-1, separator=" "),
            encoding="utf-8")
        index = self.movie_lookup.lookup(key)
        found = index >= 0
        safe = tf.maximum(index, 0)
        empty = tf.fill(tf.shape(movie), "")
        return {contract.MOVIE_ID: tf.where(found, tf.gather(self.movie_ids, safe), empty),
                contract.TITLE: tf.where(found, tf.gather(self.titles, safe), empty)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contract.EXAMPLES)])
    def serving_default(self, examples):
        """For the Evaluator: serialized tf.Examples -> predicted rating (stars) and top_k_hit,
        and the same for the naive baselines (baseline_rating, baseline_top_k_hit).

        top_k_hit is 1 where the example's movie is among the user's top k as `retrieve`
        serves them, so its mean over eval examples is the top-k accuracy. top_k_movies are
        those k (catalogue rows, with the baseline's and the catalogue's size), from which the
        Evaluator measures the catalogue coverage of the recommendations.
        """
        spec = {name: tf.io.FixedLenFeature([1], tf.string)
                for name in (features.USER_ID, features.MOVIE_ID)}
        index = self._indices(tf.io.parse_example(examples, spec))
        user_index, movie_index = index[features.USER_INDEX], index[features.MOVIE_INDEX]
        top = self._retrieve(user_index)
        # The naive baselines the gate compares with (components/evaluator/metrics.py): the
        # global mean training rating, and the k most rated training movies not yet seen.
        most_popular = self._top_k(self._popular(user_index), user_index)
        global_mean = self.movie_mean[self.num_movies]
        return {contract.RATING: _stars(self._rate(user_index, movie_index)),
                contract.TOP_K_HIT: _hit(top.indices, movie_index),
                contract.BASELINE_RATING: _stars(tf.fill(tf.shape(user_index), global_mean)),
                contract.BASELINE_TOP_K_HIT: _hit(most_popular.indices, movie_index),
                contract.TOP_K_MOVIES: tf.cast(top.indices, tf.int64),
                contract.BASELINE_TOP_K_MOVIES: tf.cast(most_popular.indices, tf.int64),
                contract.CATALOGUE_SIZE: tf.fill(tf.shape(user_index),
                                                 tf.constant(self.num_movies, tf.int64))}


def export(module: RecommenderModule, directory: str, example_user_id: str,
           example_movie_id: str) -> None:
    """Writes the SavedModel with its four signatures, a metadata file and warm-up requests."""
    from trainer import warmup  # imports the TF Serving protos only when exporting

    signatures = {
        contract.RETRIEVE: module.retrieve, contract.RATE: module.rate,
        contract.RECOMMEND: module.recommend, contract.LOOKUP_MOVIE: module.lookup_movie,
        contract.SERVING_DEFAULT: module.serving_default,
    }
    save(module, directory, signatures)
    extra = os.path.join(directory, contract.ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)  # gfile: on Kubeflow the model directory is on gs://
    with tf.io.gfile.GFile(os.path.join(extra, contract.METADATA_FILE), "w") as out:
        json.dump({"top_k": module.top_k, "exclude_seen": module.exclude_seen,
                   "num_users": module.num_users, "num_movies": module.num_movies,
                   "unknown_user": "most popular training movies",
                   "unknown_id_rating": "movie mean, else global mean training rating",
                   "max_batch": contract.MAX_BATCH},
                  out, indent=2)
    warmup.write(extra, warmup.requests(example_user_id, example_movie_id))


def save(module: tf.Module, directory: str, signatures: Dict[str, Any]) -> None:
    """`tf.saved_model.save`, with every variable the signatures capture tracked directly on
    the module, so that TF Serving's session loader restores them (module docstring)."""
    captured: Dict[int, tf.Variable] = {}
    for function in signatures.values():
        for variable in function.get_concrete_function().variables:
            captured.setdefault(id(variable), variable)
    module.captured_variables = list(captured.values())
    tf.saved_model.save(module, directory, signatures=signatures)


def make_catalogue(train, movie_ids: Sequence[str], titles: Dict[int, str]) -> Catalogue:
    """Serving's lookup tables from the training ratings (a trainer.data.Ratings)."""
    num_movies = len(movie_ids)
    in_vocabulary = train.movie_index < num_movies
    counts = np.bincount(train.movie_index[in_vocabulary], minlength=num_movies)
    sums = np.bincount(train.movie_index[in_vocabulary], weights=train.rating[in_vocabulary],
                       minlength=num_movies)
    global_mean = float(train.rating.mean())
    means = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
    return Catalogue(
        movie_ids=np.asarray(movie_ids, dtype=object),
        titles=np.array([titles.get(i, "") for i in range(num_movies)], dtype=object),
        movie_counts=counts,
        movie_mean_rating=means.astype(np.float32),
        global_mean_rating=global_mean,
    )
