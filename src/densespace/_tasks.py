"""The task registry: what a model predicts, and so its head, loss, metrics and objectives.

One entry per value of a spec's ``task``. Everything that differs between tasks
derives from it: the output layer's activation, the loss, the metrics recorded
(and so the objectives a search may optimize), the units counted when no data
says how many, and the labels the data must hold. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskName = Literal["classification", "binary", "multilabel", "regression"]
LossName = Literal["mse", "mae", "huber"]

#: Whether each metric (and the loss) improves downwards or upwards.
DIRECTIONS: dict[str, Literal["min", "max"]] = {
    "loss": "min",
    "accuracy": "max",
    "binary_accuracy": "max",
    "auc": "max",
    "balanced_accuracy": "max",
    "macro_f1": "max",
    "mae": "min",
    "rmse": "min",
}


@dataclass(frozen=True)
class Task:
    """One kind of prediction.

    Attributes:
        name: its name in a spec's ``task``.
        activation: the output layer's activation.
        loss: the Keras loss (for regression, the default of ``training.loss``).
        metrics: the metrics recorded besides the loss, as Keras names them in histories.
        units: the output units counted (``inspect``) when neither the spec nor data say.
        labels: what the labels are: class ids, 0/1 values, a 0/1 matrix, or numbers.
    """

    name: TaskName
    activation: Literal["softmax", "sigmoid", "linear"]
    loss: str
    metrics: tuple[str, ...]
    units: int
    labels: Literal["ids", "binary", "matrix", "values"]

    def objectives(self) -> list[str]:
        """Every objective a search of this task may optimize, training and validation."""
        names = ["loss", *self.metrics]
        return [*names, *(f"val_{name}" for name in names)]


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "classification",
            "softmax",
            "sparse_categorical_crossentropy",
            ("accuracy", "balanced_accuracy", "macro_f1"),
            10,
            "ids",
        ),
        Task(
            "binary",
            "sigmoid",
            "binary_crossentropy",
            ("accuracy", "auc", "balanced_accuracy", "macro_f1"),
            1,
            "binary",
        ),
        Task("multilabel", "sigmoid", "binary_crossentropy", ("binary_accuracy", "auc"), 1, "matrix"),
        Task("regression", "linear", "mse", ("mae", "rmse"), 1, "values"),
    )
}


def direction(objective: str) -> Literal["min", "max"]:
    """Whether an objective (``val_auc``, ``loss``, ...) improves downwards or upwards."""
    return DIRECTIONS[objective.removeprefix("val_")]
