"""The multi-task model's architecture and training: the Trainer's config.

Passed to the Trainer as JSON through `custom_config` and rebuilt with `from_json`, so a run
recorded in ML Metadata says exactly what it was configured with.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

from common.config_error import ConfigError, require
from common.json_config import JsonConfig

# The training ratings between which `l2` grows with the data's size (ModelConfig.l2_for):
# the size it was chosen at, and about ml-1m's (the largest release measured).
L2_SIZES = (64_000, 1_000_000)


@dataclasses.dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """The multi-task recommender's architecture and training; passed to the Trainer as JSON.

    rating-only is (rating_weight=1, retrieval_weight=0), retrieval-only (0, 1), multi-task
    (1, 1): one model, different loss weights.
    """

    embedding_dim: int = 64
    rating_layers: Tuple[int, ...] = (256, 128)  # hidden layers; a final 1-unit layer follows
    rating_activation: str = "gelu"  # of the hidden layers: gelu or relu (holdouts: gelu)
    # The rating MLP the model keeps is an exponential moving average of its weights over the
    # training steps, with this momentum a step (0: its last weights). Only the MLP: averaging
    # the embedding tables would cost whole tables a step.
    rating_average_momentum: float = 0.99
    retrieval_weight: float = 1.0
    rating_weight: float = 1.0
    temperature: float = 1.0  # divides the retrieval logits (measured: 1.0 > 0.5, 2.0)
    # Up to this many movies the retrieval softmax scores every movie of the catalogue but
    # the user's other training movies (they are not negatives); its cost grows with the
    # catalogue, hence the limit. Above it, the batch's own movies (in-batch softmax), but
    # those the row's user rated in training.
    catalogue_softmax_limit: int = 4096
    # A rating's weight as a retrieval positive is 1 + this x (normalised rating - 1/2):
    # 0 treats every rating alike; 1 weighs a 5-star rating 1.5, a 1-star rating 0.5; 2 (the
    # default) 2 and 0: a 1-star rating is no positive. Holdouts (seed 42), against 1:
    # top-10 5-star +5% on ml-100k, +4% on ml-1m, NDCG@10 +1% / -0.5%, RMSE a little lower.
    liked_weighting: float = 2.0
    # A rating's weight as a retrieval positive is also divided by its user's count of
    # training ratings to this power: 0 weighs every rating alike, 1 every user alike.
    user_weight_power: float = 0.5
    popularity_correction: bool = True  # in-batch: subtract log training frequency (Yi 2019)
    # In the in-batch softmax, this many movies drawn uniformly from the catalogue a step
    # join the batch's movies as negatives (mixed negative sampling, Yang 2020). Measured
    # on ml-1m with the limit forced to 0 (reports/ml-1m/tuning.md): NDCG@10 +1.4% with
    # 1,024 on seed 42's holdout, -0.5% on its eval split; 256 and 4,096 no better. Off
    # until a gain holds over seeds.
    sampled_negatives: int = 0
    use_bias: bool = True  # user and movie rating biases
    use_history: bool = True  # add the user's training movies to the user tower (SVD++-style)
    # At most this many of a user's training movies (a seeded random choice) in that term:
    # it bounds a training step's cost, whatever a heavy user's count.
    max_history: int = 256
    history_dropout: float = 0.0  # in training, the chance of leaving out a history movie
    # L2 penalty on the embedding and bias tables, weighed against the sum of the training
    # ratings' losses (a prior's precision): each step adds l2_for(training ratings) /
    # (training ratings) times the whole-table penalty, estimated from the rows the batch
    # reads (each over its chance of being read). `l2` is the weight at 64,000 training
    # ratings (L2_SIZES[0]; 1e-4 a step, chosen on ml-100k's holdouts); it grows as
    # (ratings / 64,000) ** l2_size_power up to L2_SIZES[1] ratings, as the holdouts of
    # ml-1m (608,000 ratings) wanted three times ml-100k's (reports/ml-1m/tuning.md).
    # Outside the sizes measured it stays at the nearer end's. The growth was measured with
    # the retrieval softmax in the loss; without it (rating-only) the loss is the rating MSE
    # alone, about a hundredth of the softmax's a rating, and growth cost its RMSE on ml-1m
    # (holdout, seed 42: 0.8694 against 0.8662), so rating-only keeps `l2` at every size.
    # Validation losses leave it out.
    l2: float = 6.4
    l2_size_power: float = 0.5
    optimizer: str = "adam"
    learning_rate: float = 0.003
    # The learning rate is multiplied by this after every epoch (1.0: constant).
    learning_rate_decay: float = 0.9
    epochs: int = 20  # at most; an epoch is one pass or examples_per_epoch, the smaller
    batch_size: int = 1024
    # A training batch takes each user's ratings in runs of up to this many (a user's
    # ratings shuffled and cut into runs, the runs shuffled): the catalogue softmax is
    # computed once per distinct user of a batch, so runs of 8 cost an eighth of single
    # ratings. 1: ratings shuffled one by one.
    user_run: int = 8
    # Validation (and so early stopping) comes at least every this many examples, so large
    # data stops on time: at 20M ratings an "epoch" is 1M of them, not one whole pass.
    examples_per_epoch: int = 1_000_000
    validation_fraction: float = 0.05  # carved from train, for early stopping
    max_validation_examples: int = 50_000  # a seeded sample beyond that: validation is cheap
    # Early stopping ranks the catalogue for at most this many validation users (a seeded
    # sample) after each epoch: at 59,047 movies 5,000 users take about a second.
    validation_users: int = 5_000
    # Epochs without a better validation objective before training stops: ml-100k's
    # validation NDCG is noisy (about 3,000 ratings), and 3 stopped it while it still
    # improved (holdout RMSE 0.912 against 0.908 with 5); ml-1m stops at the same epoch.
    early_stopping_patience: int = 5
    seed: int = 0
    top_k: int = 10  # recorded in the export; `retrieve` returns this many movies
    exclude_seen: bool = True  # `retrieve` leaves out the movies a user rated in training

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, rule: str) -> None:
            require(ok, f"--model {field}", rule, getattr(self, field))

        for field in ("embedding_dim", "epochs", "batch_size", "user_run", "max_history",
                      "max_validation_examples", "validation_users", "top_k"):
            need(getattr(self, field) >= 1, field, "at least 1")
        need(all(units >= 1 for units in self.rating_layers), "rating_layers",
             "widths of at least 1")
        need(self.early_stopping_patience >= 0, "early_stopping_patience", "at least 0")
        for field in ("catalogue_softmax_limit", "sampled_negatives"):
            need(getattr(self, field) >= 0, field, "at least 0")
        for field in ("retrieval_weight", "rating_weight", "l2"):
            need(0.0 <= getattr(self, field) < math.inf, field, "finite and at least 0")
        if self.retrieval_weight == 0 and self.rating_weight == 0:
            raise ConfigError("--model retrieval_weight and rating_weight are both 0: at least "
                              "one loss must count")
        for field in ("temperature", "learning_rate"):
            need(0.0 < getattr(self, field) < math.inf, field, "finite and above 0")
        need(0.0 < self.learning_rate_decay <= 1.0, "learning_rate_decay", "in (0, 1]")
        need(0.0 < self.validation_fraction < 1.0, "validation_fraction", "in (0, 1)")
        for field in ("history_dropout", "rating_average_momentum"):
            need(0.0 <= getattr(self, field) < 1.0, field, "in [0, 1)")
        need(0.0 <= self.liked_weighting <= 2.0, "liked_weighting", "in [0, 2]")
        need(0.0 <= self.user_weight_power <= 1.0, "user_weight_power", "in [0, 1]")
        need(0.0 <= self.l2_size_power <= 1.0, "l2_size_power", "in [0, 1]")
        need(self.examples_per_epoch >= self.batch_size, "examples_per_epoch",
             f"at least batch_size ({self.batch_size})")
        need(self.rating_activation in ("gelu", "relu"), "rating_activation", "gelu or relu")
        need(self.optimizer in ("adam", "adagrad", "sgd"), "optimizer", "adam, adagrad or sgd")

    def l2_for(self, training_ratings: int) -> float:
        """The L2 penalty's weight against the sum of `training_ratings` ratings' losses
        (see `l2`)."""
        if not self.retrieval_weight:
            return self.l2
        smallest, largest = L2_SIZES
        size = min(max(training_ratings, smallest), largest) / smallest
        return self.l2 * size ** self.l2_size_power

    def check_replicas(self, replicas: int) -> None:
        """Checks that a batch splits into `replicas` equal slices, one a model replica
        (trainer/distribution.py): a worker, or a device of one."""
        if self.batch_size % replicas:
            raise ConfigError(f"--model batch_size={self.batch_size} does not split into "
                              f"{replicas} equal replica batches: give a multiple of "
                              f"{replicas}")

    def check_data(self, training_ratings: int, num_movies: int) -> None:
        """Checks the options that depend on the data, before any training: `num_movies`
        is the catalogue the model ranks (the movies with training ratings)."""
        if self.top_k > num_movies:
            raise ConfigError(f"--model top_k={self.top_k} is more than the {num_movies:,} "
                              "movies the model can rank (those with training ratings)")
        left = training_ratings - int(round(training_ratings * self.validation_fraction))
        if left < self.batch_size:
            raise ConfigError(
                f"--model batch_size={self.batch_size} is more than the {left:,} training "
                f"ratings left after the validation slice ({training_ratings:,} training "
                "ratings in all): give a smaller batch_size, or more data")
        if left == training_ratings:
            raise ConfigError(
                f"--model validation_fraction={self.validation_fraction} leaves no "
                f"validation ratings out of {training_ratings:,}: give a larger one")
