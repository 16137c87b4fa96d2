"""keras-tuner's tuners with densespace's trial handling, one per registry entry.

Each tuner trains its trials as the keras-tuner tuner class of its registry entry does,
with densespace's oracle (``densespace._keras.oracle``) proposing them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]  # keras-tuner's dependency, without type information
import keras
import keras_tuner
import numpy as np

from densespace._budgets import Limits, median_by_epoch
from densespace._errors import PeerError, environmental, quote
from densespace._files import claim
from densespace._keras.callbacks import EpochCallback, EpochReport, MedianPruning
from densespace._keras.data import Batches
from densespace._keras.hypermodel import FINGERPRINT, DenseHyperModel
from densespace._keras.oracle import HISTORY, PRUNED, WARM, WARM_ID, SearchOracle, make_oracle
from densespace._results import Status, TrialRecord
from densespace._search import TUNERS

if TYPE_CHECKING:
    from densespace._keras.tensorboard import Board
    from densespace._spec import Spec


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

    With ``search.pruning``, each execution trains with a ``MedianPruning`` callback
    against the earlier trials' first-execution histories; once it prunes, the trial's
    remaining executions are skipped and the trial reports an extra ``pruned`` metric
    of 1 (keras-tuner scores it as completed; densespace records it as pruned).

    With ``folds`` (``search.cross_validation``), a trial's executions go round the folds, each
    training on its fold's training rows and validating on its own rows in place of the splits
    ``search`` passes: the trial's score is the mean over the folds, and each fold's score (its
    best epoch's objective, averaged over its executions) is reported as ``fold/<i>``. Pruning
    then watches the first fold's executions only (against the earlier trials' first folds).
    """

    def __init__(
        self,
        oracle: SearchOracle,
        hypermodel: DenseHyperModel,
        *,
        on_trial_end: Any = None,
        on_epoch: EpochReport | None = None,
        board: Board | None = None,
        folds: Sequence[tuple[Batches, Batches]] = (),
        **kwargs: Any,
    ) -> None:
        self._folds = list(folds)
        self._on_trial_end = on_trial_end
        self._on_epoch = on_epoch
        self._board = board
        self._reported: dict[str, float] = {}
        self._execution = 0
        self._pruned: keras.callbacks.History | None = None
        # keras-tuner's tuner classes differ from keras_tuner.Tuner by the oracle their __init__
        # makes (densespace makes its own) and, for Hyperband, by how a trial trains (kept).
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)

    def _build_and_fit_model(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        # keras-tuner calls this once per execution, with that execution's copies of the callbacks.
        execution, self._execution = self._execution, self._execution + 1
        if execution == 0:
            self._pruned = None
        if self._pruned is not None:  # an earlier execution was pruned: the trial is over
            return self._pruned
        if self._folds:
            fold = self._folds[execution % len(self._folds)]
            args, kwargs["validation_data"] = (fold[0], *args[1:]), fold[1]
        extra: list[keras.callbacks.Callback] = []
        first_fold = not self._folds or execution % len(self._folds) == 0
        pruning = self._pruning(trial.trial_id) if first_fold else None
        if pruning is not None:
            extra.append(pruning)
        if self._on_epoch is not None:
            extra.append(EpochCallback(self._on_epoch))
        if self._board is not None and execution == 0:
            extra.append(self._board.epochs(self._board.trial_run(trial.trial_id)))
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *extra]
        history = super()._build_and_fit_model(trial, *args, **kwargs)  # type: ignore[misc]
        if pruning is not None and pruning.pruned_at is not None:
            self._pruned = history
        return history

    def _pruning(self, trial_id: str) -> MedianPruning | None:
        """The median rule's callback for a trial, None without ``search.pruning``."""
        pruning = self.hypermodel.spec.search.pruning  # type: ignore[attr-defined]
        if pruning is None:
            return None
        objective = self.oracle.objective.name  # type: ignore[attr-defined]
        histories = [
            history
            for other, history in ended_histories(self.oracle, objective)  # type: ignore[attr-defined]
            if other != trial_id
        ]
        return MedianPruning(objective, median_by_epoch(histories), warmup_epochs=pruning.warmup_epochs)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        self._reported = {}
        self._execution = 0
        claim(Path(self._get_checkpoint_fname(trial.trial_id)))  # type: ignore[attr-defined]
        start = time.monotonic()
        try:
            histories = super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            if not environmental(exc):
                raise
            # Not the configuration's fault: end the run with the trial unfinished, so that
            # keras-tuner runs it again on resume instead of recording it as failed.
            raise EnvironmentFailure(exc) from exc
        histories = histories if isinstance(histories, list) else [histories]
        histories = list({id(h): h for h in histories}.values())  # executions skipped after pruning
        for history in histories:
            for epoch, loss in enumerate(history.history.get("loss", [])):
                if not math.isfinite(loss):
                    raise keras_tuner.errors.FailedTrialError(f"loss became {loss} in epoch {epoch + 1}")
        metrics = _best_epoch_metrics(histories, self.oracle.objective)  # type: ignore[attr-defined]
        if self._folds:
            metrics.update(_fold_scores(histories, len(self._folds), self.oracle.objective))  # type: ignore[attr-defined]
        metrics["seconds"] = time.monotonic() - start
        metrics["epochs"] = float(sum(len(h.epoch) for h in histories))
        metrics.update(first_execution(histories[0], self.oracle.objective))  # type: ignore[attr-defined]
        if self._pruned is not None:
            metrics[PRUNED] = 1.0
        self._reported = metrics
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]
        if self._on_trial_end is None and self._board is None:
            return
        record = trial_record(trial)
        if record.status == "completed" and record.score is None:
            # A worker's copy of the trial: the chief scores it, so use what was reported (validated
            # anew: a number that is not finite is cleaned as in any record).
            record = TrialRecord(
                **{
                    **record.model_dump(),
                    "status": "pruned" if self._reported.get(PRUNED) else record.status,
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


#: The prefix of a trial's extra metric of one fold's score (``fold/1``, ...).
FOLD = "fold/"


def _fold_scores(histories: list[keras.callbacks.History], folds: int, objective: Any) -> dict[str, float]:
    """Each fold's score as an extra metric ``fold/<i>`` (from 1): its executions' best-epoch objective,
    averaged (execution ``e`` trained fold ``e % folds``; a pruned trial's folds after the first did not run)."""
    scores: dict[int, list[float]] = {}
    for execution, history in enumerate(histories):
        best = _best_epoch_metrics([history], objective)[objective.name]
        scores.setdefault(execution % folds, []).append(best)
    return {f"{FOLD}{fold + 1}": float(np.mean(values)) for fold, values in sorted(scores.items())}


#: The most trials a worker asks its chief for, to prune against (``max_trials``' bound).
MAX_TRIALS = 100_000


def ended_histories(oracle: Any, objective: str) -> list[tuple[str, dict[int, float]]]:
    """The first-execution history of ``objective`` of every ended trial (pruned ones too), as
    ``(trial id, {epoch: value})``; on a worker, of the trials its chief has scored."""
    try:
        trials = list(oracle.trials.values())
    except AttributeError:  # a worker's client of the chief's oracle
        trials = oracle.get_best_trials(MAX_TRIALS)
    prefix = f"{HISTORY}{objective}/"
    result = []
    for trial in trials:
        if trial.status != "COMPLETED":
            continue
        history = {
            int(name[len(prefix) :]): float(trial.metrics.get_last_value(name))
            for name in trial.metrics.metrics
            if name.startswith(prefix)
        }
        result.append((trial.trial_id, history))
    return result


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
    """``history``, ``best_epoch``, ``parameters`` and ``fold_scores`` of a trial record, from its extra metrics
    (None where the trial has none: it failed, or an older densespace ran it)."""
    series: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        if key.startswith(HISTORY):
            name, _, epoch = key[len(HISTORY) :].rpartition("/")
            series.setdefault(name, {})[int(epoch)] = float(value)
    best, parameters = metrics.get("best_epoch"), metrics.get("parameters")
    folds = sorted(
        (int(key[len(FOLD) :]), float(value)) for key, value in metrics.items() if key.startswith(FOLD)
    )
    return {
        "fold_scores": [value for _, value in folds] or None,
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
    on_trial_end: Any = None,
    on_epoch: EpochReport | None = None,
    board: Board | None = None,
    limits: Limits | None = None,
    points: Sequence[Mapping[str, Any]] = (),
    folds: Sequence[tuple[Batches, Batches]] = (),
) -> keras_tuner.Tuner:
    """The keras-tuner tuner that ``spec.search`` describes, storing its state in ``directory``.

    Its oracle is densespace's (``densespace._keras.oracle``): ``limits`` (on a single machine or
    the chief) stop the search early, ``limits.stopped`` saying why it stopped once it has,
    whatever stopped it; ``points`` (checked points of the space, on a single machine or the
    chief) are evaluated before the algorithm's own proposals. Warm-start trials the project
    holds (``feed_earlier``) do not count against ``max_trials``. With ``folds`` (``search.cross_validation``),
    each trial trains ``executions_per_trial`` models on each fold.
    """
    classes = TUNER_CLASSES
    if isinstance(spec.search.pack, int):  # ``search.pack``: see densespace._keras.packed_tuner
        from densespace._keras.packed_tuner import PACKED_CLASSES as classes
    return classes[spec.search.tuner](  # type: ignore[attr-defined]
        make_oracle(spec, points=points, limits=limits),
        hypermodel,
        directory=directory,
        project_name=PROJECT,
        overwrite=False,  # never keras-tuner's: it deletes the whole project folder, files of a person's too
        executions_per_trial=spec.search.models_per_trial,
        on_trial_end=on_trial_end,
        on_epoch=on_epoch,
        board=board,
        folds=folds,
    )


def feed_earlier(tuner: keras_tuner.Tuner, trials: Sequence[TrialRecord], source: str) -> int:
    """Hands an earlier run's scored trials to the oracle (its ``warm`` hook) as completed trials
    of this search, without training them: each keeps its score (and history, for pruning's medians), and the
    search's ``max_trials`` new trials come on top. On a resumed search that holds them already,
    nothing is fed again.

    Returns:
        How many warm-start trials the oracle holds.

    Raises:
        ValueError: The project holds trials of its own but no warm-start ones (a search
            under way cannot be warm-started).
    """
    oracle = tuner.oracle
    held = oracle.warm_trials()
    if held or not trials:
        return held
    if oracle.trials:
        raise ValueError(f"its folder holds {len(oracle.trials)} trials of this search already")
    objective = oracle.objective
    width = max(2, len(str(len(trials) - 1)))
    for number, record in enumerate(trials):
        hyperparameters = oracle.get_space()
        hyperparameters.values = dict(record.values)
        trial = keras_tuner.engine.trial.Trial(
            hyperparameters,
            trial_id=f"{WARM_ID}{number:0{width}d}",  # densespace's numbering: the folder's name
            status=keras_tuner.engine.trial.TrialStatus.COMPLETED,
        )
        metrics = {objective.name: record.score, "epochs": 0.0, "seconds": 0.0, WARM: 1.0}
        if record.status == "pruned":
            metrics[PRUNED] = 1.0
        if record.best_epoch is not None:
            metrics["best_epoch"] = float(record.best_epoch)
        if record.parameters is not None:
            metrics["parameters"] = float(record.parameters)
        # the objective's history only (what pruning's medians need), not every metric's
        series = (record.history or {}).get(objective.name, [])
        metrics.update({f"{HISTORY}{objective.name}/{epoch}": v for epoch, v in enumerate(series, 1)})
        for name, value in metrics.items():
            trial.metrics.register(name, direction=objective.direction if name == objective.name else "min")
            trial.metrics.update(name, value)
        trial.score, trial.best_step = record.score, 0
        trial.message = f"scored in {source} (trial {record.id}); not trained in this search"
        oracle.warm(trial)
    if oracle.max_trials:
        oracle.max_trials += len(trials)
    oracle.save()
    return len(trials)


def trial_record(trial: Any) -> TrialRecord:
    """A keras-tuner trial as a record, its values with keras-tuner's bookkeeping ones
    (``tuner/epochs``, ...) still in them."""
    metrics = trial.metrics
    message = (trial.message or "").strip().splitlines()

    def metric(name: str) -> float | None:
        return metrics.get_last_value(name) if metrics.exists(name) else None

    epochs = metric("epochs")
    status = STATUSES.get(trial.status, "stopped")
    return TrialRecord(
        id=trial.trial_id,
        values=dict(trial.hyperparameters.values),
        status="pruned" if status == "completed" and metric(PRUNED) else status,
        warm_start=bool(metric(WARM)),
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
    return [r for r in records if r.status in ("completed", "failed", "pruned")]


def chief_fingerprint(tuner: keras_tuner.Tuner) -> str | None:
    """The fingerprint the chief of a distributed search declares (asked over gRPC)."""
    return tuner.oracle.get_space().values.get(FINGERPRINT)


class ChiefLost(PeerError, keras_tuner.errors.FatalError):
    """A worker's call to its chief went unanswered or failed; keras-tuner lets it end the search
    (a ``FatalError``) instead of failing the trial at hand."""


class _ChiefStub:
    """keras-tuner's gRPC stub of the chief's oracle (``OracleClient.stub``), each call with a
    deadline of ``timeout`` seconds (keras-tuner's is an hour) and failing as a ``ChiefLost``."""

    def __init__(self, stub: Any, *, address: str, timeout: float) -> None:
        self._stub, self._address, self._timeout = stub, address, timeout

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any, **options: Any) -> Any:
            try:
                return method(request, **{**options, "timeout": self._timeout})
            except grpc.RpcError as exc:
                raise ChiefLost(self._why(name, exc)) from None

        return call

    def _why(self, name: str, exc: Any) -> str:
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            what = f"did not answer this worker's {name} call within {self._timeout:g} s"
        else:
            details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
            what = (
                f"failed this worker's {name} call ({getattr(code, 'name', 'error')}: {quote(str(details))})"
            )
        return (
            f"the chief at {self._address} {what}; check that the chief runs (restarted on the same --out, "
            "it resumes the search; then restart this worker with the same --worker-id), or raise "
            "--connect-timeout"
        )


def bound_chief_calls(tuner: keras_tuner.Tuner, *, timeout: float) -> None:
    """Gives each call a worker's tuner makes to its chief a deadline of ``timeout`` seconds,
    after which (or when the chief fails the call) the search ends with a ``ChiefLost``, a
    ``PeerError``; a tuner that is not a worker's is left as it is."""
    from keras_tuner.src.distribute import oracle_client  # as keras-tuner does: only on a worker

    client = tuner.oracle
    if isinstance(client, oracle_client.OracleClient):
        address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
        client.stub = _ChiefStub(client.stub, address=address, timeout=timeout)
