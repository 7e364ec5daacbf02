"""Feature names and the raw schema of the examples MovieLensExampleGen writes.

The schema is declared here rather than inferred by StatisticsGen + SchemaGen: the example
format is this project's own, and declaring it saves two components and a pass over the data.
"""

from __future__ import annotations

import numpy as np
from tensorflow_metadata.proto.v0 import schema_pb2

# Raw features, as in the tf.Examples.
USER_ID = "user_id"
MOVIE_ID = "movie_id"
RATING = "rating"  # stars, 1-5 (0.5-5 in ml-latest)
TIMESTAMP = "timestamp"  # seconds since 1970
MOVIE_TITLE = "movie_title"
GENRES = "genres"  # genre names joined by '|', empty for none
USER_ACTIVITY = "user_activity"  # bucket of the user's train-split rating count, for slicing
MOVIE_POPULARITY = "movie_popularity"  # head, torso or tail by train ratings, for slicing

# (bucket name, fewest training ratings): the Evaluator reports each bucket as a slice.
ACTIVITY_BUCKETS = (("light (<50)", 0), ("medium (50-149)", 50), ("heavy (150+)", 150))

# Movies by popularity, each bucket a third of train's ratings: the most rated movies that
# hold the first third are the head, the next third the torso, the rest (and movies with no
# train rating) the tail. The Evaluator reports each bucket as a slice.
POPULARITY_BUCKETS = ("head", "torso", "tail")
WHOLE = "all"  # the name of the slice that holds every example
# The sliced features, each with its buckets in the order reports show them.
SLICE_BUCKETS = {USER_ACTIVITY: tuple(name for name, _ in ACTIVITY_BUCKETS),
                 MOVIE_POPULARITY: POPULARITY_BUCKETS}


def slice_name(feature: str, bucket: str) -> str:
    """How reports name a bucket's slice, e.g. "user_activity heavy (150+)"."""
    return f"{feature} {bucket}"

# Transformed features, as the Trainer reads them.
USER_INDEX = "user_index"
MOVIE_INDEX = "movie_index"
RATING_NORMALIZED = "rating_normalized"  # (rating - 1) / 4, clipped to [0, 1]

# Transform vocabulary files; the index of an unknown id is the vocabulary size (OOV bucket).
USER_VOCABULARY = "user_id"
MOVIE_VOCABULARY = "movie_id"

_RAW_TYPES = {
    USER_ID: schema_pb2.BYTES,
    MOVIE_ID: schema_pb2.BYTES,
    RATING: schema_pb2.FLOAT,
    TIMESTAMP: schema_pb2.INT,
    MOVIE_TITLE: schema_pb2.BYTES,
    GENRES: schema_pb2.BYTES,
    USER_ACTIVITY: schema_pb2.BYTES,
    MOVIE_POPULARITY: schema_pb2.BYTES,
}


def raw_schema() -> schema_pb2.Schema:
    """Every raw feature is required and holds exactly one value."""
    schema = schema_pb2.Schema()
    for name, feature_type in _RAW_TYPES.items():
        feature = schema.feature.add(name=name, type=feature_type)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        feature.shape.dim.add(size=1)
    rating = next(f for f in schema.feature if f.name == RATING)
    rating.float_domain.min = 0.5
    rating.float_domain.max = 5.0
    return schema


def activity_buckets(train_ratings: np.ndarray) -> np.ndarray:
    """The USER_ACTIVITY bucket of each user, by their number of ratings in the train split."""
    fewest = [low for _, low in ACTIVITY_BUCKETS]
    names = np.array([name for name, _ in ACTIVITY_BUCKETS], dtype=object)
    return names[np.searchsorted(fewest, np.asarray(train_ratings), side="right") - 1]


def popularity_buckets(train_ratings: np.ndarray) -> np.ndarray:
    """The MOVIE_POPULARITY bucket of each movie, by its number of ratings in the train split:
    a movie is in the head while the movies rated more than it hold less than a third of the
    ratings, in the torso while they hold less than two thirds (equal counts, equal bucket)."""
    counts = np.asarray(train_ratings, dtype=np.int64)
    ascending = np.sort(counts)
    at_most = np.cumsum(ascending)[np.searchsorted(ascending, counts, side="right") - 1] \
        if len(counts) else counts
    total = max(int(counts.sum()), 1)
    bucket = np.minimum((3 * (total - at_most)) // total, 2)  # by the ratings of those above
    bucket[counts == 0] = 2
    return np.array(POPULARITY_BUCKETS, dtype=object)[bucket]

