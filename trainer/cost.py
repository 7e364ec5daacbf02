"""What a training step costs in floating-point operations (the Trainer records it; the
speed report sets it against this machine's matrix-product rate).

A step's cost is in its matrix products: the retrieval logits, the history sums and the
rating MLP. Each is counted forward (2 operations a multiply-add) and backward (the
gradients of both operands: twice the forward), so three times the forward. (The history
sums' sparse operand is a constant; if TensorFlow prunes its gradient, that part is an
upper bound: 9 of 600 MFLOP on ml-1m.)
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from trainer import data
from trainer.config import ModelConfig

FORWARD_AND_BACKWARD = 3


def batch_shape(user_index: np.ndarray, config: ModelConfig) -> Dict[str, float]:
    """The mean distinct users of a training batch, and the mean length of their capped
    histories, for the batches `data.run_order` makes of these ratings: a user's ratings
    come in runs of config.user_run, so a batch holds one user a run (a user with two runs
    in one batch, rare but for tiny data, is counted twice)."""
    counts = np.bincount(user_index)
    runs = data.runs_of(counts, config.user_run)
    return {"users_per_batch": data.runs_per_batch(runs.sum(), len(user_index),
                                                   config.batch_size),
            "history_per_user": float((runs * np.minimum(counts, config.max_history)).sum()
                                      / max(runs.sum(), 1.0))}


def step_flops(config: ModelConfig, num_movies: int, users_per_batch: float,
               history_per_user: float) -> Dict[str, float]:
    """Floating-point operations of one training step, by part."""
    dim, batch = config.embedding_dim, config.batch_size
    if num_movies <= config.catalogue_softmax_limit:
        logits = users_per_batch * num_movies  # each distinct user against the catalogue
    else:
        # each row against the batch's movies; each distinct user against the drawn ones
        logits = batch * batch + users_per_batch * config.sampled_negatives
    widths = (2 * dim, *config.rating_layers, 1)
    forward = {
        "retrieval softmax": 2.0 * logits * dim,
        "history sums": 2.0 * users_per_batch * history_per_user * dim if config.use_history
        else 0.0,
        "rating MLP": 2.0 * batch * sum(a * b for a, b in zip(widths, widths[1:])),
    }
    return {part: FORWARD_AND_BACKWARD * flops for part, flops in forward.items()}

