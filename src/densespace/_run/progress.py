"""The progress of a search: one line per finished trial, with the best so far and time left."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from densespace._report import show
from densespace._results import TrialRecord, better, clean_values

if TYPE_CHECKING:
    from densespace._spec import Spec


def planned_budget(spec: Spec) -> tuple[int, int]:
    """The most trials and training epochs the search will run (before retraining).

    Example:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/cifar10-dense.json")
        >>> densespace.planned_budget(spec)
        (23, 75)
    """
    return spec.search.budget(spec.training.epochs)


class Progress:
    """Prints one line per finished trial: values, score, best so far, time and estimate.

    Called by the tuner with each finished trial's record (bookkeeping values
    still in it); keeps the cleaned records and hands each one on to ``then``.
    """

    def __init__(
        self,
        spec: Spec,
        *,
        verbose: int,
        start: float,
        then: Callable[[TrialRecord], None] | None,
        estimate: bool,
    ) -> None:
        self.spec, self.verbose, self.start, self.then = spec, verbose, start, then
        self.planned = planned_budget(spec) if estimate else None
        self.records: list[TrialRecord] = []
        self.finished = 0
        self.epochs = 0  # the planned epochs this run's finished trials used up
        self.resumed_epochs = 0  # the same, for the trials an earlier run finished
        self.best: float | None = None

    def resume(self, trials: Iterable[TrialRecord]) -> None:
        """Counts the trials an earlier run of this search finished: the numbering, the best
        score and the estimate go on from them."""
        for trial in trials:
            self.finished += 1
            self.resumed_epochs += self._planned_epochs(trial)
            self._keep_best(trial.score)

    def __call__(self, trial: TrialRecord) -> None:
        self.finished += 1
        self.epochs += self._planned_epochs(trial)
        trial = trial.model_copy(update={"values": clean_values(trial.values)})
        self.records.append(trial)
        self._keep_best(trial.score)
        if self.then is not None:
            self.then(trial)
        if self.verbose:
            print(self._line(trial), file=sys.stderr, flush=True)

    def _line(self, trial: TrialRecord) -> str:
        elapsed = time.monotonic() - self.start
        values = " ".join(f"{k}={show(v)}" for k, v in trial.values.items())
        outcome = (
            f"{self.spec.search.objective}={trial.score:.4f}"
            if trial.score is not None
            else f"failed ({trial.message})"
        )
        best = "" if self.best is None else f"  best={self.best:.4f}"
        position, left = f"[{self.finished}]", ""
        if self.planned is not None:
            trials, epochs = self.planned
            position = f"[{self.finished}/{trials}]"
            # by epochs, not trials: Hyperband's later trials train longer
            seconds = elapsed / max(self.epochs, 1) * max(epochs - self.resumed_epochs - self.epochs, 0)
            left = f"  left ~{clock(seconds)}"
        return f"{position} trial {trial.id}  {values}  {outcome}{best}  elapsed {clock(elapsed)}{left}"

    def _keep_best(self, score: float | None) -> None:
        """Remembers ``score`` when it beats the best so far."""
        if score is not None and (self.best is None or better(score, self.best, self.spec.search.objective)):
            self.best = score

    def _planned_epochs(self, trial: TrialRecord) -> int:
        """The epochs of the planned budget one trial stands for, whether it ran them all or
        not (early stopping, a failure)."""
        return self.spec.search.trial_epochs(trial.values, self.spec.training.epochs)


def clock(seconds: float) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
