"""Callbacks densespace adds to training: the epoch reports of the progress display, and fresh
copies of the user's callbacks for each model."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import Any

import keras

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
