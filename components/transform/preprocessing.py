"""The Transform step: ids to vocabulary indices and ratings to [0, 1].

Transform runs `preprocessing_fn` over the train split to build the vocabularies and writes the
graph, not transformed examples: the Trainer applies the graph as it reads the raw examples
(at ml-25m size, writing 25M transformed examples would be a pass over the data that nothing
else needs), and exports the same graph so serving takes raw MovieLens ids.
"""

from __future__ import annotations

from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft

from common import features

# One bucket past the vocabulary for every id not seen in training: index == vocabulary size.
NUM_OOV_BUCKETS = 1


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Maps raw features (each [batch, 1]) to the Trainer's features."""
    return {
        features.USER_INDEX: tft.compute_and_apply_vocabulary(
            inputs[features.USER_ID], num_oov_buckets=NUM_OOV_BUCKETS,
            vocab_filename=features.USER_VOCABULARY),
        features.MOVIE_INDEX: tft.compute_and_apply_vocabulary(
            inputs[features.MOVIE_ID], num_oov_buckets=NUM_OOV_BUCKETS,
            vocab_filename=features.MOVIE_VOCABULARY),
        # (r - 1) / 4 maps 1-5 stars onto [0, 1]; ml-latest's half star (0.5) clips to 0.
        features.RATING_NORMALIZED: tf.clip_by_value(
            (inputs[features.RATING] - 1.0) / 4.0, 0.0, 1.0),
        features.MOVIE_TITLE: inputs[features.MOVIE_TITLE],
    }
