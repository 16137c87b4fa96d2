"""Balanced accuracy and macro F1: Keras metrics exact over a whole split, from a confusion matrix.

Each metric accumulates the confusion matrix of every batch it sees, so its result over a
split is the score of the split's predictions taken together (a mean over batches would not
be). They are densespace's classes: models are compiled with them for training and search
only; ``for_evaluation`` compiles with Keras' own metrics, so a saved model loads with Keras
alone, and ``scores`` computes them for the test split.
"""

from __future__ import annotations

from typing import Any, Literal

import keras
import numpy as np

from densespace._keras.data import batched

Score = Literal["balanced_accuracy", "macro_f1"]
#: The metrics of this module, by the name histories and results give them.
SCORES: tuple[Score, ...] = ("balanced_accuracy", "macro_f1")


class ConfusionScore(keras.metrics.Metric):
    """A score of the confusion matrix of class predictions (``scikit-learn``'s definitions).

    ``balanced_accuracy`` is the mean recall of the classes the true labels hold;
    ``macro_f1`` the mean F1 of the classes the true labels or the predictions hold. Both need
    only the matrix's diagonal, row sums and column sums: per class, the hits, the true labels
    and the predictions, kept as three rows of counts (``classes`` x 3 values, not ``classes``
    squared; sums of one-hot rows, which XLA compiles, as Keras does on a GPU). Labels are class
    ids or one-hot rows; predictions are class probabilities (their argmax), or one sigmoid
    column (class 1 above 0.5) for a binary task.
    """

    def __init__(self, score: Score, classes: int, **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", score), **kwargs)
        self.score, self.classes = score, classes
        self.counts = self.add_variable(shape=(3, classes), initializer="zeros", name="counts")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        ops = keras.ops
        if y_pred.shape[-1] == 1:
            predicted = ops.cast(ops.reshape(y_pred, (-1,)) > 0.5, "int32")
        else:
            predicted = ops.argmax(y_pred, axis=-1)
        if len(y_true.shape) > 1 and y_true.shape[-1] not in (None, 1):
            truth = ops.argmax(y_true, axis=-1)
        else:
            truth = ops.round(ops.reshape(ops.cast(y_true, "float32"), (-1,)))
        true = ops.one_hot(ops.cast(truth, "int32"), self.classes, dtype=self.dtype)
        guessed = ops.one_hot(ops.cast(predicted, "int32"), self.classes, dtype=self.dtype)
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, self.dtype), (-1, 1))
            true, guessed = true * weights, guessed * weights
        hits = ops.sum(true * ops.cast(guessed > 0, self.dtype), axis=0)
        self.counts.assign_add(ops.stack([hits, ops.sum(true, axis=0), ops.sum(guessed, axis=0)]))

    def result(self) -> Any:
        ops = keras.ops
        hits, true, guessed = self.counts[0], self.counts[1], self.counts[2]
        if self.score == "balanced_accuracy":
            held, per_class = true > 0, hits / ops.maximum(true, 1e-12)
        else:
            both = true + guessed
            held, per_class = both > 0, 2.0 * hits / ops.maximum(both, 1e-12)
        held = ops.cast(held, self.dtype)
        return ops.sum(per_class * held) / ops.maximum(ops.sum(held), 1.0)

    def reset_state(self) -> None:
        self.counts.assign(keras.ops.zeros_like(self.counts))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "score": self.score, "classes": self.classes}


def confusion_scores(names: tuple[str, ...], classes: int) -> list[ConfusionScore]:
    """The metrics of ``names`` that this module computes, for ``classes`` classes (2 for binary)."""
    return [ConfusionScore(name, classes) for name in names if name in SCORES]


def scores(
    names: tuple[str, ...], classes: int, model: keras.Model, data: tuple[np.ndarray, np.ndarray]
) -> dict[str, float]:
    """The metrics of ``names`` that this module computes, over the whole of ``data``, of ``model``."""
    metrics = confusion_scores(names, classes)
    if not metrics:
        return {}
    predictions = model.predict(batched(data[0]), verbose=0)
    labels = np.asarray(data[1])
    for metric in metrics:
        metric.update_state(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(predictions))
    return {metric.name: float(metric.result()) for metric in metrics}
