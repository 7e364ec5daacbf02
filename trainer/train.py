"""Training: the same function serves the TFX Trainer's run_fn and the experiments."""

from __future__ import annotations

import dataclasses
import time
from typing import List, Optional

import keras

from pipeline.config import ModelConfig
from trainer import model as model_lib
from trainer.data import Ratings


@dataclasses.dataclass
class TrainResult:
    model: model_lib.MultiTaskRecommender
    epochs_run: int
    seconds: float
    examples_per_second: float
    history: dict


def fit(config: ModelConfig, train: Ratings, num_users: int, num_movies: int,
        callbacks: Optional[List[keras.callbacks.Callback]] = None, verbose: int = 2
        ) -> TrainResult:
    """Trains on `train`, stopping early on a validation slice carved from it (never eval)."""
    fit_rows, validation = train.split_off(config.validation_fraction, seed=config.seed)
    model = model_lib.build(num_users, num_movies, train.user_index, train.movie_index, config)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True)
    started = time.monotonic()
    history = model.fit(
        fit_rows.dataset(config.batch_size, shuffle_seed=config.seed),
        validation_data=validation.dataset(config.batch_size),
        epochs=config.epochs, callbacks=[stop] + list(callbacks or []), verbose=verbose)
    seconds = time.monotonic() - started
    epochs_run = len(history.history["loss"])
    return TrainResult(model, epochs_run, seconds, len(fit_rows) * epochs_run / seconds,
                       history.history)
