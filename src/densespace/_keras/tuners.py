"""keras-tuner's tuners with densespace's trial handling, one per registry entry."""

from __future__ import annotations

import errno
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np

from densespace._keras.callbacks import EpochCallback, EpochReport
from densespace._keras.hypermodel import FINGERPRINT, DenseHyperModel
from densespace._results import Status, TrialRecord
from densespace._tasks import direction
from densespace._tuners import TUNERS

if TYPE_CHECKING:
    from densespace._keras.tensorboard import Board
    from densespace._spec import Spec


#: errno values that say the machine, not the trial, failed (disk full, quota, out of memory).
ENVIRONMENTAL = {errno.ENOSPC, errno.EDQUOT, errno.ENOMEM}


class EnvironmentFailure(keras_tuner.errors.FatalError):
    """A trial stopped by the machine (disk full, out of memory); ``cause`` is the original error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Tuner:
    """What densespace adds to keras-tuner's tuners.

    A loss that turns NaN or infinite fails the trial instead of scoring it,
    and every trial reports its wall seconds, epochs trained, trainable
    parameters, best epoch and per-epoch history (``first_execution``) as
    extra metrics, so they are kept with the trial (in ``trial.json``, and
    across machines: keras-tuner sends a worker's metrics to the chief).
    keras-tuner itself clears the Keras session and collects garbage before
    building each trial's model; that frees the previous one because
    ``DenseHyperModel.fit`` trains inside ``released_graphs``.

    ``on_epoch`` hears every epoch of every execution (the progress display);
    ``board`` logs each trial's first execution and its HParams session.
    """

    def __init__(
        self,
        *args: Any,
        on_trial_end: Any = None,
        on_epoch: EpochReport | None = None,
        board: Board | None = None,
        **kwargs: Any,
    ) -> None:
        self._on_trial_end = on_trial_end
        self._on_epoch = on_epoch
        self._board = board
        self._reported: dict[str, float] = {}
        self._execution = 0
        super().__init__(*args, **kwargs)

    def _build_and_fit_model(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        # keras-tuner calls this once per execution, with that execution's copies of the callbacks.
        execution, self._execution = self._execution, self._execution + 1
        extra: list[keras.callbacks.Callback] = []
        if self._on_epoch is not None:
            extra.append(EpochCallback(self._on_epoch))
        if self._board is not None and execution == 0:
            extra.append(self._board.epochs(self._board.trial_run(trial.trial_id)))
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *extra]
        return super()._build_and_fit_model(trial, *args, **kwargs)  # type: ignore[misc]

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        self._reported = {}
        self._execution = 0
        start = time.monotonic()
        try:
            histories = super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]
        except (MemoryError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in ENVIRONMENTAL:
                raise
            # Not the configuration's fault: end the run with the trial unfinished, so that
            # keras-tuner runs it again on resume instead of recording it as failed.
            raise EnvironmentFailure(exc) from exc
        histories = histories if isinstance(histories, list) else [histories]
        for history in histories:
            for epoch, loss in enumerate(history.history.get("loss", [])):
                if not math.isfinite(loss):
                    raise keras_tuner.errors.FailedTrialError(f"loss became {loss} in epoch {epoch + 1}")
        metrics = _best_epoch_metrics(histories, self.oracle.objective)  # type: ignore[attr-defined]
        metrics["seconds"] = time.monotonic() - start
        metrics["epochs"] = float(sum(len(h.epoch) for h in histories))
        metrics.update(first_execution(histories[0], self.oracle.objective))  # type: ignore[attr-defined]
        self._reported = metrics
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]
        if self._on_trial_end is None and self._board is None:
            return
        record = trial_record(trial)
        if record.status == "completed" and record.score is None:
            # A worker's copy of the trial: the chief scores it, so use what was reported.
            record = record.model_copy(
                update={
                    "score": self._reported[self.oracle.objective.name],  # type: ignore[attr-defined]
                    "seconds": self._reported["seconds"],
                    "epochs": int(self._reported["epochs"]),
                    **extras(self._reported),
                }
            )
        if self._board is not None:
            self._board.trial_ended(record)
        if self._on_trial_end is not None:
            self._on_trial_end(record)


def _best_epoch_metrics(histories: list[keras.callbacks.History], objective: Any) -> dict[str, float]:
    """The metrics of each execution's best epoch, averaged over executions."""
    pick = min if objective.direction == "min" else max
    best = []
    for history in histories:
        scores = history.history[objective.name]
        epoch = pick(range(len(scores)), key=scores.__getitem__)
        best.append({name: values[epoch] for name, values in history.history.items()})
    return {name: float(np.mean([b[name] for b in best])) for name in best[0]}


#: The prefix of the extra metrics that hold a trial's history: ``history/<metric>/<epoch>``.
HISTORY = "history/"


def first_execution(history: keras.callbacks.History, objective: Any) -> dict[str, float]:
    """The first execution's history, best epoch and trainable parameters, as extra trial metrics.

    keras-tuner reports a trial's metrics to its oracle once, all at one step, so
    each epoch's value of each metric is a metric of its own, ``history/<metric>/<epoch>``
    (epochs from 1); ``best_epoch`` is where the objective is best (1-based).
    """
    values = history.history
    scores = values[objective.name]
    pick = min if objective.direction == "min" else max
    metrics = {"best_epoch": float(pick(range(len(scores)), key=scores.__getitem__) + 1)}
    model = getattr(history, "model", None)
    if model is not None:
        metrics["parameters"] = float(sum(math.prod(w.shape) for w in model.trainable_weights))
    for name, series in values.items():
        for epoch, value in enumerate(series, 1):
            metrics[f"{HISTORY}{name}/{epoch}"] = float(value)
    return metrics


def extras(metrics: Mapping[str, float]) -> dict[str, Any]:
    """``history``, ``best_epoch`` and ``parameters`` of a trial record, from its extra metrics
    (None where the trial has none: it failed, or an older densespace ran it)."""
    series: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        if key.startswith(HISTORY):
            name, _, epoch = key[len(HISTORY) :].rpartition("/")
            series.setdefault(name, {})[int(epoch)] = float(value)
    best, parameters = metrics.get("best_epoch"), metrics.get("parameters")
    return {
        "history": {name: [v for _, v in sorted(s.items())] for name, s in sorted(series.items())} or None,
        "best_epoch": None if best is None else int(best),
        "parameters": None if parameters is None else int(parameters),
    }


#: The folder of keras-tuner's own state inside a results folder.
PROJECT = "search"

#: One class per registry entry: keras-tuner's tuner with densespace's trial handling.
TUNER_CLASSES: dict[str, type[keras_tuner.Tuner]] = {
    name: type(f"{entry.keras_class}Tuner", (_Tuner, getattr(keras_tuner, entry.keras_class)), {})
    for name, entry in TUNERS.items()
}

#: keras-tuner's trial statuses, as densespace reports them.
STATUSES: dict[str, Status] = {
    "COMPLETED": "completed",
    "FAILED": "failed",
    "INVALID": "failed",
    "RUNNING": "running",
    "IDLE": "running",
    "STOPPED": "stopped",
}


def make_tuner(
    spec: Spec,
    hypermodel: DenseHyperModel,
    *,
    directory: str,
    overwrite: bool,
    on_trial_end: Any = None,
    on_epoch: EpochReport | None = None,
    board: Board | None = None,
) -> keras_tuner.Tuner:
    """The keras-tuner tuner that ``spec.search`` describes, storing its state in ``directory``."""
    search = spec.search
    options = search.model_dump(exclude={"tuner", "objective", "constraints"})
    return TUNER_CLASSES[search.tuner](  # type: ignore[attr-defined]
        hypermodel,
        objective=keras_tuner.Objective(search.objective, direction(search.objective)),
        directory=directory,
        project_name=PROJECT,
        overwrite=overwrite,
        on_trial_end=on_trial_end,
        on_epoch=on_epoch,
        board=board,
        max_consecutive_failed_trials=1 << 30,  # a failed trial never stops the search
        **options,
    )


def trial_record(trial: Any) -> TrialRecord:
    """A keras-tuner trial as a record, its values with keras-tuner's bookkeeping ones
    (``tuner/epochs``, ...) still in them."""
    metrics = trial.metrics
    message = (trial.message or "").strip().splitlines()

    def metric(name: str) -> float | None:
        return metrics.get_last_value(name) if metrics.exists(name) else None

    epochs = metric("epochs")
    return TrialRecord(
        id=trial.trial_id,
        values=dict(trial.hyperparameters.values),
        status=STATUSES.get(trial.status, "stopped"),
        score=trial.score if trial.status == "COMPLETED" else None,
        seconds=metric("seconds"),
        epochs=None if epochs is None else int(epochs),
        message=message[-1] if message else None,
        **extras({name: metrics.get_last_value(name) for name in metrics.metrics}),
    )


def ended_trials(tuner: keras_tuner.Tuner) -> list[TrialRecord]:
    """The trials of the tuner's project that have ended: on a resumed search, those an
    earlier run finished."""
    records = [trial_record(t) for t in tuner.oracle.trials.values()]
    return [r for r in records if r.status in ("completed", "failed")]


def chief_fingerprint(tuner: keras_tuner.Tuner) -> str | None:
    """The fingerprint the chief of a distributed search declares (asked over gRPC)."""
    return tuner.oracle.get_space().values.get(FINGERPRINT)
