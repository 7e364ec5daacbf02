"""Training: the same function serves the TFX Trainer's run_fn and the experiments."""

from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from trainer import cost, distribution
from trainer import model as model_lib
from trainer import validation as validation_lib
from trainer.config import ModelConfig
from trainer.data import Ratings


@dataclasses.dataclass
class TrainResult:
    """What `fit` returns: the model with its best epoch's weights, what training cost, and
    why it stopped."""

    model: model_lib.MultiTaskRecommender
    epochs_run: int
    seconds: float
    examples_per_second: float
    history: dict
    examples_seen: int
    stopped_because: str  # one line, also logged
    kept_epoch: int  # the epoch whose weights were kept (the best validation objective), from 1
    validation_seconds: float  # of `seconds`: ranking and rating the validation users
    step_flops: Dict[str, float]  # a training step's floating-point operations by part


def fit(config: ModelConfig, train: Ratings, num_users: int, num_movies: int,
        callbacks: Optional[List[keras.callbacks.Callback]] = None, verbose: int = 2,
        placement: Optional[distribution.Placement] = None) -> TrainResult:
    """Trains on `train`, stopping early on a validation slice carved from it (never eval):
    when the validation objective (trainer/validation.py: NDCG@10 and RMSE, as the loss
    weights weigh them) has not improved for config.early_stopping_patience epochs, the
    best epoch's weights are kept.

    An epoch is one pass over the data or `examples_per_epoch` examples, whichever is
    smaller, and validation runs after each: on large data early stopping can act within
    the first pass instead of after hours.

    Under a `placement` of several replicas, each batch is cut into one equal slice a
    replica (`_replica_batches`), so that training steps through the same batches as on one
    device; every worker measures validation itself, alike, and so stops at the same epoch.
    """
    placement = placement or distribution.place()
    config.check_data(len(train), num_movies)
    config.check_replicas(placement.replicas)
    fit_rows, validation = train.split_off(config.validation_fraction, seed=config.seed)
    validation = validation.sample(config.max_validation_examples, seed=config.seed)
    # Trained on the rest; validation movies are unknown to training, as eval movies are,
    # and known to the exported model, as every training rating is.
    with placement.strategy.scope():
        model = model_lib.build(num_users, num_movies, fit_rows.user_index,
                                fit_rows.movie_index, config, served=model_lib.UserMovies.of(
                                    train.user_index, train.movie_index, num_users, config),
                                replicas=placement.replicas)
    measure = validation_lib.ValidationMetrics(fit_rows, validation, num_users, num_movies,
                                               config)
    stop = keras.callbacks.EarlyStopping(
        monitor=validation_lib.MONITOR, mode="min", patience=config.early_stopping_patience,
        restore_best_weights=True)
    if config.learning_rate_decay < 1.0:
        callbacks = [keras.callbacks.LearningRateScheduler(
            lambda epoch: config.learning_rate * config.learning_rate_decay ** epoch),
            *(callbacks or [])]
    partial = len(fit_rows) > config.examples_per_epoch
    steps = config.examples_per_epoch // config.batch_size if partial else None
    if placement.replicas > 1:
        steps = steps or len(fit_rows) // config.batch_size
        training_data = _replica_batches(fit_rows, config, placement)
    else:
        training_data = fit_rows.dataset(config.batch_size, shuffle_seed=config.seed,
                                         repeat=partial, user_run=config.user_run)
    where = f"Trainer: {placement.describe()}"  # the device(s) that train
    if verbose:
        print(where, flush=True)  # with Keras' epoch lines
    else:
        logging.info(where)
    started = time.monotonic()
    history = model.fit(
        training_data, validation_data=validation.dataset(config.batch_size),
        epochs=config.epochs, steps_per_epoch=steps,
        callbacks=[measure, stop] + list(callbacks or []), verbose=verbose)
    seconds = time.monotonic() - started
    model.use_rating_average()
    epochs_run = len(history.history["loss"])
    batches = steps if steps is not None else len(fit_rows) // config.batch_size
    per_epoch = batches * config.batch_size
    examples = per_epoch * epochs_run
    objectives = history.history[validation_lib.MONITOR]
    best = int(np.argmin(objectives)) + 1
    kept = (f"kept epoch {best} (validation NDCG@10 "
            f"{history.history['val_ndcg@10'][best - 1]:.4f}, RMSE "
            f"{history.history['val_rmse'][best - 1]:.4f})")
    if stop.stopped_epoch:
        because = (f"early stopping after epoch {epochs_run}: the validation objective did "
                   f"not improve for {config.early_stopping_patience} epochs; {kept}")
    else:
        because = f"reached the maximum of {config.epochs} epochs; {kept}"
    epoch_size = f"epochs of {per_epoch:,} examples" if partial else "epochs are whole passes"
    because = f"Training stopped, {because}; {examples:,} examples in {seconds:.1f} s " \
              f"({epoch_size})"
    logging.info(because)
    flops = cost.step_flops(config, num_movies,
                            **cost.batch_shape(fit_rows.user_index, config))
    return TrainResult(model, epochs_run, seconds, examples / seconds, history.history,
                       examples, because, best, measure.seconds, flops)


def _replica_batches(rows: Ratings, config: ModelConfig, placement: distribution.Placement):
    """The training batches of this worker's replicas: every worker shuffles the same
    batches (seeded alike) and keeps its replicas' slices of each, one after the other."""
    local = placement.local_replicas

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        first = context.input_pipeline_id * local
        return rows.dataset(config.batch_size, shuffle_seed=config.seed, repeat=True,
                            user_run=config.user_run, slices=range(first, first + local),
                            of=placement.replicas)

    return placement.strategy.distribute_datasets_from_function(make)
