"""Callbacks densespace adds to training: the epoch reports of the progress display, median
pruning, and fresh copies of the user's callbacks for each model."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from densespace._budgets import worse_than_median

#: Called with the epochs done and the epochs planned, at the start and end of every epoch.
EpochReport = Callable[[int, int], None]


class EpochCallback(keras.callbacks.Callback):
    """Reports the epoch within the current ``fit``: ``report(epochs done, epochs planned)``.

    Keras numbers epochs from ``initial_epoch`` (Hyperband continues a model), so a
    continued trial reports, for example, 3 of 6 when it starts.
    """

    def __init__(self, report: EpochReport) -> None:
        super().__init__()
        self._report = report

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._report(epoch, int(self.params.get("epochs") or 0))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._report(epoch + 1, int(self.params.get("epochs") or 0))


def fresh_copies(
    callbacks: Sequence[keras.callbacks.Callback], *, run: str
) -> list[keras.callbacks.Callback]:
    """Deep copies of ``callbacks`` for one model, as keras-tuner makes for every trial.

    A ``keras.callbacks.TensorBoard`` among them logs into ``<its log_dir>/<run>`` (keras-tuner
    uses ``<log_dir>/<trial id>/execution<n>`` for the trials), so that models do not mix.
    """
    copies = copy.deepcopy(list(callbacks))
    for callback in copies:
        if isinstance(callback, keras.callbacks.TensorBoard):
            callback.log_dir = os.path.join(str(callback.log_dir), run)
    return copies


class MedianPruning(keras.callbacks.Callback):
    """``search.pruning``'s median rule: stops training after an epoch where the objective is worse
    than the median of the earlier trials at that epoch (``densespace._budgets.worse_than_median``).

    ``pruned_at`` is the epoch (1-based) it stopped after, None while the trial runs on. The last
    epoch (Keras' ``params["epochs"]``) is never pruned: stopping there saves nothing, and the
    trial, fully trained, is ranked like any other.
    """

    def __init__(self, objective: str, medians: Mapping[int, float], *, warmup_epochs: int) -> None:
        super().__init__()
        self.objective = objective
        self.medians = dict(medians)
        self.warmup_epochs = warmup_epochs
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.objective)
        if value is None or self.pruned_at is not None or epoch + 1 >= self.params.get("epochs", math.inf):
            return
        if worse_than_median(
            float(value), epoch + 1, self.medians, objective=self.objective, warmup_epochs=self.warmup_epochs
        ):
            self.pruned_at = epoch + 1
            self.model.stop_training = True
