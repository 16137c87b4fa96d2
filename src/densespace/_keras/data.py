"""The data side of training: each split kept once in memory, served as ``tf.data`` pipelines."""

from __future__ import annotations

from typing import Any

import numpy as np


class Batches:
    """A split kept once in memory as tensors (inputs as given: an array, or a table's arrays by
    input name), served as batched ``tf.data`` pipelines.

    One ``Batches`` serves every trial: each trial only asks for a pipeline
    with its own batch size, shuffled (training) or not (validation).
    """

    def __init__(
        self, x: np.ndarray | dict[str, np.ndarray], y: np.ndarray, *, seed: int | None = None
    ) -> None:
        import tensorflow as tf

        self.x = {name: tf.constant(v) for name, v in x.items()} if isinstance(x, dict) else tf.constant(x)
        labels = np.asarray(y)
        ids = labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)
        self.y = tf.constant(labels.astype(np.int32 if ids else np.float32))  # class ids, or numbers
        self.size = len(y)
        self.seed = seed

    def pipeline(self, batch_size: int, *, shuffle: bool, classes: int | None = None) -> Any:
        """Batches of ``(images, labels)``; labels one-hot over ``classes`` when given."""
        import tensorflow as tf

        indices = tf.data.Dataset.range(self.size)
        if shuffle:
            indices = indices.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)

        def gather(index: Any) -> tuple[Any, Any]:
            labels = tf.gather(self.y, index)
            inputs = tf.nest.map_structure(lambda values: tf.gather(values, index), self.x)
            return inputs, labels if classes is None else tf.one_hot(tf.cast(labels, tf.int32), classes)

        batches = indices.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)


def fold_batches(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    rows: list[np.ndarray],
    *,
    seed: int | None = None,
) -> list[tuple[Batches, Batches]]:
    """The ``(training, validation)`` splits of each fold of the training and validation rows together:
    a fold validates on its ``rows`` (``densespace._folds.fold_rows``) and trains on every other row."""
    x = _joined(train[0], validation[0])
    y = np.concatenate([np.asarray(train[1]), np.asarray(validation[1])])
    rest = [np.setdiff1d(np.arange(len(y)), held) for held in rows]
    return [
        (Batches(_rows(x, kept), y[kept], seed=seed), Batches(_rows(x, held), y[held]))
        for kept, held in zip(rest, rows, strict=True)
    ]


def _joined(first: Any, second: Any) -> Any:
    """Two splits' inputs as one: arrays, or a table's arrays by input name."""
    if isinstance(first, dict):
        return {name: np.concatenate([first[name], second[name]]) for name in first}
    return np.concatenate([np.asarray(first), np.asarray(second)])


def _rows(x: Any, index: np.ndarray) -> Any:
    """The rows ``index`` of inputs: an array, or a table's arrays by input name."""
    return {name: values[index] for name, values in x.items()} if isinstance(x, dict) else x[index]


def batched(x: Any, y: Any = None, *, batch_size: int = 1024) -> Any:
    """``x`` (an array, or a table's arrays by input name), with ``y`` when given, as ``tf.data``
    batches in order: Keras' ``predict`` and ``evaluate`` take a table's text columns only so."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).batch(batch_size)
