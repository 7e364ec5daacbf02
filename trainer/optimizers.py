"""Optimizers whose step costs what the batch touched, not what the tables hold.

Keras 3's Adam and Adagrad turn an embedding's sparse gradient (the rows a batch looked up)
into a dense update of the whole table and its slots. At ml-25m size (162,541 users, 59,047
movies) that dense work made each step 14 ms slower than at ml-1m size, for the same batch.
Here a sparse gradient updates only its rows, as TF Addons' LazyAdam did (that package is
Keras 2 only and no longer maintained): a row's moments decay when it is looked up, not
every step. Dense gradients (the rating MLP) take Keras's own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _rows(gradient: tf.IndexedSlices, dtype) -> tuple:
    """(distinct row indices, their summed gradient rows): a row looked up twice is one
    update."""
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position,
                                          tf.size(rows))
    return rows, values


def _gather(slot, rows) -> tf.Tensor:
    return tf.gather(slot.value if isinstance(slot, keras.Variable) else slot, rows)


class LazyAdam(keras.optimizers.Adam):
    """Adam; for sparse gradients, moments and weights of the looked-up rows only."""

    def update_step(self, gradient, variable, learning_rate):
        """Keras' Adam update for a dense gradient (or with amsgrad); for a sparse one, the
        looked-up rows' moments and weights only."""
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, values = _rows(gradient, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = (tf.cast(learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step))
                 / (1 - tf.pow(beta_1, step)))
        index = self._get_variable_index(variable)
        m = beta_1 * _gather(self._momentums[index], rows) + (1 - beta_1) * values
        v = beta_2 * _gather(self._velocities[index], rows) + (1 - beta_2) * tf.square(values)
        self.assign(self._momentums[index], tf.IndexedSlices(m, rows))
        self.assign(self._velocities[index], tf.IndexedSlices(v, rows))
        self.assign_sub(variable, tf.IndexedSlices(alpha * m / (tf.sqrt(v) + self.epsilon),
                                                   rows))
        return None


class LazyAdagrad(keras.optimizers.Adagrad):
    """Adagrad; for sparse gradients, the accumulators and weights of the looked-up rows
    only (for Adagrad this is exact: an untouched row's update is zero)."""

    def update_step(self, gradient, variable, learning_rate):
        """Keras' Adagrad update for a dense gradient; for a sparse one, the looked-up rows'
        accumulators and weights only."""
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, values = _rows(gradient, dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        total = _gather(accumulator, rows) + tf.square(values)
        self.assign(accumulator, tf.IndexedSlices(total, rows))
        self.assign_sub(variable, tf.IndexedSlices(
            tf.cast(learning_rate, dtype) * values / tf.sqrt(total + self.epsilon), rows))
        return None


# ModelConfig.optimizer -> the optimizer class. SGD's update is already sparse in Keras.
OPTIMIZERS = {"adam": LazyAdam, "adagrad": LazyAdagrad, "sgd": keras.optimizers.SGD}
