"""Typed results: trial records, retrained models, and ``results.json`` read and written.

``Results`` is the content of ``results.json``; its JSON Schema is published as
``schemas/densespace-results-v1.schema.json`` and every ``results.json`` densespace
reads is checked against it first, so a foreign or damaged file is named with the
place it breaks the format. Pydantic and jsonschema only: no Keras at import.
"""

from __future__ import annotations

import json
import platform
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from densespace._errors import RunFolderError, quote
from densespace._files import read_json, write_text
from densespace._tasks import DIRECTIONS, direction
from densespace._version import __version__

if TYPE_CHECKING:
    import pandas

    from densespace._spec import Spec

RESULTS_FILE = "results.json"
RESULTS_SCHEMA_ID = "https://densespace.dev/schemas/densespace-results-v1.schema.json"
RESULTS_SCHEMA_FILE = "schemas/densespace-results-v1.schema.json"
#: The largest ``results.json`` densespace reads (a million trials fit in far less).
MAX_RESULTS_BYTES = 256 << 20

Status = Literal["completed", "failed", "running", "stopped", "pruned"]
#: Why a search stopped (``Results.stopped``).
StopReason = Literal["budget", "time_limit", "target", "exhausted"]


class _Record(BaseModel):
    """Base of the records: unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialRecord(_Record):
    """One trial of a search."""

    id: str = Field(description="keras-tuner's trial id.")
    values: dict[str, Any] = Field(description="The trial's active hyperparameter values.")
    status: Status = Field(
        description="How the trial ended (running or stopped: cut short; pruned: stopped by "
        "search.pruning, not retrained)."
    )
    score: float | None = Field(
        description="The objective at the best epoch (of a pruned trial: of the epochs it trained); "
        "null unless completed or pruned."
    )
    seconds: float | None = Field(description="Wall seconds of the trial (0 for a warm-start trial).")
    epochs: int | None = Field(description="Epochs actually trained (0 for a warm-start trial).")
    message: str | None = Field(
        description="Why the trial failed (the last line of the message); where a warm-start trial was scored."
    )
    history: dict[str, list[float]] | None = Field(
        None,
        description="Per-epoch values of every training and validation metric (the first execution's); "
        "null when not recorded.",
    )
    best_epoch: int | None = Field(
        None, ge=1, description="1-based position in history of the epoch the score came from."
    )
    parameters: int | None = Field(None, ge=0, description="Trainable parameters of the trial's model.")
    warm_start: bool = Field(
        False,
        description="true: scored by an earlier run (--warm-start) and fed to this search's tuner, not "
        "trained in it; its history, score and parameters are the earlier run's.",
    )

    def __getitem__(self, key: str) -> Any:
        """Deprecated: ``record["score"]``, from when trials were dicts; use ``record.score``."""
        warnings.warn(
            f"trial records are objects now: use record.{key} instead of record[{key!r}]",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, key)


class DataRecord(_Record):
    """Where the data came from and how large each split is."""

    source: str = Field(description="A path, 'keras' or a description.")
    train: int = Field(ge=0, description="Training examples.")
    validation: int = Field(ge=0, description="Validation examples.")
    test: int = Field(ge=0, description="Test examples.")
    digest: str = Field(description="16 hex digits of a sha256 over the arrays.")
    kind: str | None = Field(None, description="The kind of source: cifar10, arrays, npz, csv or keras.")
    class_names: list[str] | None = Field(None, description="The class (or label) names, by id.")
    feature_names: list[str] | None = Field(None, description="The input columns, for tabular data.")
    target_names: list[str] | None = Field(None, description="The target columns, for regression.")


class BestRecord(_Record):
    """One retrained configuration, as ``results.json`` lists it."""

    rank: int = Field(ge=1, description="1 for the best.")
    trial: str = Field(description="The trial it came from.")
    values: dict[str, Any] = Field(description="Its hyperparameter values.")
    test_metrics: dict[str, float] = Field(description="Metrics on the test split.")
    parameters: int = Field(ge=0, description="Trainable parameters.")
    epochs: int = Field(ge=0, description="Epochs trained in retraining.")
    model: str = Field(description="File name of the model.")
    frozen_spec: str = Field(description="File name of its frozen spec.")


class Cost(_Record):
    """What the whole run cost."""

    search_epochs: float = Field(ge=0, description="Epochs trained in the search.")
    retrain_epochs: int = Field(ge=0, description="Epochs trained in retraining.")
    images_trained: float = Field(ge=0, description="Epochs x training examples.")
    seconds: float = Field(ge=0, description="Wall seconds of the run.")


class FrontPoint(_Record):
    """A completed trial on the accuracy/size front: no trial with fewer parameters beats it."""

    trial: str = Field(description="The trial's id.")
    parameters: int = Field(ge=0, description="Trainable parameters of the trial's model.")
    score: float = Field(description="The trial's score (the objective at its best epoch).")


class Results(_Record):
    """The content of ``results.json`` (format version 1, docs/results.md)."""

    densespace: str = Field(description="densespace version that wrote the file.")
    versions: dict[str, str] = Field(description="Versions of Python and the libraries.")
    created: str = Field(description="UTC time, ISO 8601.")
    spec: dict[str, Any] = Field(description="The effective spec, as JSON.")
    seed: int | None = Field(description="search.seed.")
    tuner: str = Field(description="The search algorithm.")
    objective: str = Field(description="The metric the search optimized.")
    task: str = Field("classification", description="What the models predict (the spec's task).")
    data: DataRecord
    trials: list[TrialRecord] = Field(description="Every trial, in creation order.")
    best: list[BestRecord] = Field(description="The retrained configurations, best first.")
    cost: Cost
    stopped: StopReason | None = Field(
        None,
        description="Why the search stopped: budget (max_trials or Hyperband's plan done), time_limit, "
        "target (stop_at reached) or exhausted (no configuration left to try); null in older files.",
    )
    front: list[FrontPoint] = Field(
        default_factory=list,
        description="The accuracy/size front: the completed trials that no trial with fewer trainable "
        "parameters beats on the objective, by parameters (smallest first); empty in older files.",
    )

    def trials_dataframe(self) -> pandas.DataFrame:
        """Every trial as a pandas DataFrame, as ``TuneResult.trials_dataframe`` describes."""
        from densespace._report.dataframe import trials_dataframe

        return trials_dataframe(self.trials)


@dataclass
class BestModel:
    """One retrained configuration of the top ``retrain_top``, with its model in memory."""

    rank: int
    trial_id: str
    values: dict[str, Any]
    test_metrics: dict[str, float]
    model: Any  #: the retrained ``keras.Model``
    frozen_spec: Spec
    parameters: int
    epochs: int

    def record(self) -> BestRecord:
        """The entry of ``results.json``'s ``best`` list."""
        return BestRecord(
            rank=self.rank,
            trial=self.trial_id,
            values=self.values,
            test_metrics=self.test_metrics,
            parameters=self.parameters,
            epochs=self.epochs,
            model=model_file(self.rank),
            frozen_spec=frozen_spec_file(self.rank),
        )


@dataclass
class TuneResult:
    """What ``tune`` hands back.

    Attributes:
        out: the results folder.
        record: what ``results.json`` holds; None on a worker of a distributed
            search, whose ``trials`` are the ones it ran.
        trials: every trial (on a worker: the ones it ran).
        best: the retrained models, best first.
        worker: this worker's id, on a worker.
    """

    out: Path
    record: Results | None
    trials: list[TrialRecord]
    best: list[BestModel] = field(default_factory=list)
    worker: str | None = None

    @property
    def results(self) -> dict[str, Any]:
        """``results.json`` as a dict (on a worker: ``worker`` and its ``trials``)."""
        if self.record is None:
            return {"worker": self.worker, "trials": [t.model_dump() for t in self.trials]}
        return self.record.model_dump(mode="json")

    @property
    def best_hyperparameters(self) -> list[dict[str, Any]]:
        """The values of the retrained configurations, best first."""
        return [b.values for b in self.best]

    @property
    def best_models(self) -> list[Any]:
        """The retrained ``keras.Model`` objects, best first."""
        return [b.model for b in self.best]

    @property
    def test_metrics(self) -> list[dict[str, float]]:
        """Test-split metrics (``loss``, ``accuracy``) of the retrained models, best first."""
        return [b.test_metrics for b in self.best]

    def trials_dataframe(self) -> pandas.DataFrame:
        """Every trial as a pandas DataFrame, one row each, in creation order.

        Columns: ``id, status, score, seconds, epochs``, one per hyperparameter (NaN
        where inactive), then ``parameters`` and ``best_epoch`` where the records carry them.

        Raises:
            ModuleNotFoundError: pandas is missing (``pip install 'densespace[dataframe]'``).

        Examples:
            >>> result.trials_dataframe().sort_values("score").head(3)  # doctest: +SKIP
        """
        from densespace._report.dataframe import trials_dataframe

        return trials_dataframe(self.trials)


def model_file(rank: int | str) -> str:
    """File name of the retrained model of a rank (``"*"``: the pattern of them all)."""
    return f"best-{rank}.keras"


def frozen_spec_file(rank: int | str) -> str:
    """File name of the frozen spec of a rank (``"*"``: the pattern of them all)."""
    return f"best-{rank}.spec.json"


def clean_values(values: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameter values without bookkeeping ones (``tuner/...``, ``densespace/...``)."""
    return {k: v for k, v in values.items() if "/" not in k}


def better(a: float, b: float, objective: str) -> bool:
    """Whether score ``a`` beats ``b`` for the objective (losses go down, accuracies up)."""
    return a < b if direction(objective) == "min" else a > b


def front(points: Sequence[tuple[int, float]], *, objective: str) -> list[bool]:
    """Which points no smaller model beats: the accuracy/size front.

    A point (parameters, score) is on the front unless another point with fewer
    parameters, or as many and earlier in ``points``, has a better or equal score.

    Args:
        points: (trainable parameters, score) of each trial, in trial order.
        objective: The objective the scores are of (it says whether lower is better).

    Returns:
        One flag per point, in the order given.

    Examples:
        >>> front([(100, 0.5), (50, 0.6), (200, 0.7), (200, 0.7)], objective="val_accuracy")
        [False, True, True, False]
        >>> front([(100, 1.0), (50, 1.2), (400, 1.2)], objective="val_loss")
        [True, True, False]
    """
    flags = [False] * len(points)
    best: float | None = None
    for i in sorted(range(len(points)), key=lambda i: (points[i][0], i)):
        score = points[i][1]
        if best is None or better(score, best, objective):
            flags[i] = True
            best = score
    return flags


def front_points(spec: Spec, trials: list[TrialRecord]) -> list[FrontPoint]:
    """The completed trials on the accuracy/size front, by parameters (``Results.front``).

    A trial's parameter count is the one it recorded, else the one its values resolve to.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")  # objective val_loss
        >>> trials = [
        ...     TrialRecord(id=i, values={"layers": 1, "units_0": u}, status="completed", score=s,
        ...                 seconds=1.0, epochs=1, message=None)
        ...     for i, u, s in [("0", 512, 0.9), ("1", 64, 1.1), ("2", 128, 1.2)]
        ... ]
        >>> [(p.trial, p.parameters, p.score) for p in front_points(spec, trials)]
        [('1', 197322, 1.1), ('0', 1578506, 0.9)]
    """
    from densespace import _space

    sized: list[tuple[str, int, float]] = []
    for t in trials:
        if t.status != "completed" or t.score is None:
            continue
        count = t.parameters
        if count is None:
            count = _space.plan_parameters(spec, _space.resolve(spec, t.values))
        sized.append((t.id, count, t.score))
    flags = front([(count, score) for _, count, score in sized], objective=spec.search.objective)
    points = [
        FrontPoint(trial=trial, parameters=count, score=score)
        for (trial, count, score), on in zip(sized, flags, strict=True)
        if on
    ]
    return sorted(points, key=lambda p: p.parameters)


def ranked(trials: list[TrialRecord], objective: str) -> list[TrialRecord]:
    """Completed trials, best first, one per configuration (pruned trials are not fully trained:
    never ranked).

    Hyperband continues a configuration in later trials with the same values;
    only its best-scoring trial is kept.
    """
    sign = 1 if direction(objective) == "min" else -1
    seen: set[str] = set()
    result = []
    scored = [t for t in trials if t.score is not None and t.status != "pruned"]
    for trial in sorted(scored, key=lambda t: sign * t.score):  # type: ignore[operator]
        key = json.dumps(trial.values, sort_keys=True)
        if key not in seen:
            seen.add(key)
            result.append(trial)
    return result


def assemble(
    spec: Spec,
    data: DataRecord,
    trials: list[TrialRecord],
    best: list[BestModel],
    *,
    seconds: float,
    versions: dict[str, str],
    stopped: StopReason | None = None,
) -> Results:
    """The content of ``results.json``."""
    search_epochs = sum(t.epochs or 0 for t in trials)
    retrain_epochs = sum(b.epochs for b in best)
    return Results(
        densespace=__version__,
        versions={"python": platform.python_version(), **versions},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        spec=spec.model_dump(mode="json"),
        seed=spec.search.seed,
        tuner=spec.search.tuner,  # type: ignore[attr-defined]
        objective=spec.search.objective,
        task=spec.task,
        data=data,
        trials=trials,
        best=[b.record() for b in best],
        cost=Cost(
            search_epochs=search_epochs,
            retrain_epochs=retrain_epochs,
            images_trained=(search_epochs + retrain_epochs) * data.train,
            seconds=round(seconds, 1),
        ),
        stopped=stopped,
        front=front_points(spec, trials),
    )


def results_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results.json``, format version 1."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": RESULTS_SCHEMA_ID,
        **Results.model_json_schema(),
        "title": "densespace results v1",
    }


def results_schema_text() -> str:
    """The results schema exactly as committed in ``schemas/`` (sorted keys, trailing newline)."""
    return json.dumps(results_schema(), indent=2, sort_keys=True) + "\n"


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(results_schema())


def write_results(out: Path, results: Results) -> None:
    """Writes ``results.json`` into ``out`` (atomically)."""
    write_text(out / RESULTS_FILE, json.dumps(results.model_dump(mode="json"), indent=2) + "\n")


def load_results(out: str | Path) -> Results:
    """Reads and checks the ``results.json`` of a results folder.

    Args:
        out: A ``densespace tune --out`` folder.

    Returns:
        The typed results.

    Raises:
        RunFolderError: The file is missing, unreadable, not JSON, or not in
            densespace's results format (the message names the file and the place).

    Examples:
        >>> import densespace
        >>> densespace.load_results("no/such/folder")
        Traceback (most recent call last):
        ...
        densespace._errors.RunFolderError: no/such/folder/results.json does not exist: is this a finished densespace tune --out folder?
    """
    path = Path(out) / RESULTS_FILE
    data = read_json(
        path, limit=MAX_RESULTS_BYTES, missing="is this a finished densespace tune --out folder?"
    )
    error = next(iter(sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise RunFolderError(
            f"{path}: not a densespace results file: {where or 'top level'}: {quote(error.message)}"
        )
    try:
        results = Results.model_validate(data)
    except ValidationError as exc:  # what JSON Schema cannot say: NaN where a number is needed
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "top level"
        raise RunFolderError(
            f"{path}: not a densespace results file: {where}: {quote(error['msg'])}"
        ) from None
    metric = results.objective.removeprefix("val_")
    if metric not in DIRECTIONS:
        raise RunFolderError(
            f"{path}: not a densespace results file: objective: {quote(results.objective)} is no metric "
            "densespace records"
        )
    return results
