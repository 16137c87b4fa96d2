"""The progress of a search: one line per finished trial, with the best so far and time left;
in a terminal, also a live display of the trial and epoch under way (``LiveProgress``)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from densespace import _space
from densespace._errors import printable
from densespace._report import fit, show_values, terminal_width
from densespace._results import TrialRecord, better, clean_values

if TYPE_CHECKING:
    from densespace._spec import Spec


def planned_budget(spec: Spec) -> tuple[int, int]:
    """The most trials and training epochs the search will run (before retraining).

    A grid search's budget is the exact number of configurations ``search.constraints``
    allow, at most ``max_trials``; the others' follow from their options alone.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/cifar10-dense.json")
        >>> densespace.planned_budget(spec)
        (23, 75)
    """
    search = spec.search
    configurations = _space.feasible_configurations(spec) if search.EXHAUSTIVE else None
    return search.budget(spec.training.epochs, configurations)


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
        self.epoch_done, self.epoch_total = 0, 0  # the epoch under way, of the model being trained
        self.retrain: tuple[int, int, str] | None = None  # rank, how many, trial id: while retraining

    def showing(self) -> contextlib.AbstractContextManager[None]:
        """A block during which the progress is shown (plain lines need no set-up)."""
        return contextlib.nullcontext()

    def epoch(self, done: int, total: int) -> None:
        """Hears the epoch under way: ``done`` of ``total`` epochs of the current model."""
        self.epoch_done, self.epoch_total = done, total

    def retraining(self, rank: int, count: int, trial: str) -> None:
        """Hears that retraining model ``rank`` of ``count`` (from trial ``trial``) begins."""
        self.retrain = (rank, count, trial)
        self.epoch_done, self.epoch_total = 0, 0

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
        self.epoch_done, self.epoch_total = 0, 0
        trial = trial.model_copy(update={"values": clean_values(trial.values)})
        self.records.append(trial)
        self._keep_best(trial.score)
        if self.then is not None:
            self.then(trial)
        if self.verbose:
            self._emit(self._line(trial))

    def _emit(self, line: str) -> None:
        print(fit(line, self._width()), file=sys.stderr, flush=True)

    def _width(self) -> int | None:
        """The columns a line may take: the terminal's; None (one line a trial) in a pipe or a file."""
        return terminal_width() if sys.stderr.isatty() else None

    def _left(self, elapsed: float, running: int = 0) -> float | None:
        """Seconds of search left, by the planned epochs not yet run at the seconds per epoch so far
        (by epochs, not trials: Hyperband's later trials train longer), counting ``running`` epochs
        of the trial under way as run; None without a plan."""
        if self.planned is None:
            return None
        done = self.epochs + running
        return elapsed / max(done, 1) * max(self.planned[1] - self.resumed_epochs - done, 0)

    def _line(self, trial: TrialRecord) -> str:
        elapsed = time.monotonic() - self.start
        values = show_values(trial.values)
        outcome = (
            f"{self.spec.search.objective}={trial.score:.4f}"
            if trial.score is not None
            else f"failed ({trial.message})"
        )
        best = "" if self.best is None else f"  best={self.best:.4f}"
        position, left = f"[{self.finished}]", ""
        seconds = self._left(elapsed)
        if self.planned is not None and seconds is not None:
            position = f"[{self.finished}/{self.planned[0]}]"
            left = f"  left ~{clock(seconds)}"
        fields = [
            f"{position} trial {trial.id}",
            values,
            f"{outcome}{best}",
            f"elapsed {clock(elapsed)}{left}",
        ]
        # a failure's message may quote the data
        return printable("  ".join(field for field in fields if field))

    def _keep_best(self, score: float | None) -> None:
        """Remembers ``score`` when it beats the best so far."""
        if score is not None and (self.best is None or better(score, self.best, self.spec.search.objective)):
            self.best = score

    def _planned_epochs(self, trial: TrialRecord) -> int:
        """The epochs of the planned budget one trial stands for, whether it ran them all or
        not (early stopping, a failure)."""
        return self.spec.search.trial_epochs(trial.values, self.spec.training.epochs)


class LiveProgress(Progress):
    """``Progress`` as a live display in a terminal, with ``rich`` (imported here only).

    The trial lines scroll as before; below them, a status area (redrawn four times
    a second, gone when the run ends) shows the search's trial n of N, the best score
    so far, the time elapsed and left, and the epoch of the trial under way; while
    retraining, the model n of K and its epoch. Anything else printed meanwhile
    (Keras' epoch lines with ``--verbose``) scrolls above it too.

    Args:
        console: A ``rich.console.Console``; default one on standard error.
    """

    def __init__(
        self,
        spec: Spec,
        *,
        verbose: int,
        start: float,
        then: Callable[[TrialRecord], None] | None,
        estimate: bool,
        console: Any = None,
    ) -> None:
        super().__init__(spec, verbose=verbose, start=start, then=then, estimate=estimate)
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self._live: Any = None

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        """Shows the status area while the block runs."""
        from rich.live import Live

        with Live(
            console=self.console, get_renderable=self.render, refresh_per_second=4, transient=True
        ) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    def epoch(self, done: int, total: int) -> None:
        super().epoch(done, total)
        if self._live is not None:
            self._live.refresh()

    def _emit(self, line: str) -> None:
        self.console.print(fit(line, self._width()), markup=False, highlight=False, soft_wrap=True)

    def _width(self) -> int | None:
        return int(self.console.width)

    def render(self) -> Any:
        """The status area, as a ``rich`` renderable."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 1))
        elapsed = time.monotonic() - self.start
        times = f"elapsed {clock(elapsed)}"
        if self.retrain is not None:
            rank, count, trial = self.retrain
            bar = ProgressBar(total=count, completed=rank - 1, width=24)
            grid.add_row("retrain", bar, f"model {rank}/{count} (trial {trial})  {times}")
        else:
            trials = self.planned[0] if self.planned is not None else None
            position = f"trial {self.finished + 1}"
            if trials is not None:
                position = f"trial {min(self.finished + 1, trials)}/{trials}"
            best = "" if self.best is None else f"  best {self.spec.search.objective}={self.best:.4f}"
            left = self._left(elapsed, self.epoch_done)
            if left is not None and self.epochs + self.epoch_done:  # a rate once an epoch ran
                times += f"  left ~{clock(left)}"
            bar = ProgressBar(total=trials, completed=self.finished, width=24)
            grid.add_row("search", bar, f"{position}{best}  {times}")
        if self.epoch_total:
            bar = ProgressBar(total=self.epoch_total, completed=self.epoch_done, width=24)
            grid.add_row("", bar, f"epoch {self.epoch_done}/{self.epoch_total}")
        return grid


def clock(seconds: float) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
