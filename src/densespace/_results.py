"""Typed results: trial records, retrained models, and ``results.json`` read and written.

``Results`` is the content of ``results.json``; its JSON Schema is published as
``schemas/densespace-results-v1.schema.json``. Every ``results.json`` densespace
reads is checked by the models the schema is made from, in one linear pass that stops
at the caps below and reports the first problem, so a foreign or damaged file is named
with the place it breaks the format. Trial ids, hyperparameter and metric names are
patterned (they become file names, columns and terminal text), values are scalars, and
numbers are finite: ``results.json`` is strict JSON, written and read. Pydantic only:
no Keras at import.
"""

from __future__ import annotations

import json
import math
import platform
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from densespace._errors import RunFolderError, printable, quote, show
from densespace._files import read_json, write_text
from densespace._tasks import DIRECTIONS, direction
from densespace._version import __version__

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas

    from densespace._spec import Spec

RESULTS_FILE = "results.json"
#: The ensemble's model file (``ensemble=K``).
ENSEMBLE_FILE = "ensemble.keras"
RESULTS_SCHEMA_ID = "https://densespace.dev/schemas/densespace-results-v1.schema.json"
RESULTS_SCHEMA_FILE = "schemas/densespace-results-v1.schema.json"
#: The largest ``results.json`` densespace reads (a million trials fit in far less).
MAX_RESULTS_BYTES = 256 << 20
#: The most trials a results file lists: a search runs at most 100,000 (``max_trials``' bound),
#: plus the scored trials a warm start hands it.
MAX_TRIALS = 200_000
#: The most hyperparameter values of a trial (a space has at most 10 blocks of 100 layers of 5
#: fields, and 8 more).
MAX_VALUES = 10_000
#: The most metrics of a trial's history or a model's test metrics (and versions listed).
MAX_METRICS = 100
#: The most folds of a trial (``search.cross_validation``'s bound).
MAX_FOLDS = 20
#: The most epochs of a metric's history (``training.epochs`` and Hyperband's ``max_epochs``' bound).
MAX_EPOCHS = 10_000
#: A trial id: keras-tuner's (``07``), or a warm-start trial's (``warm-07``).
TRIAL_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
#: A hyperparameter or metric name (``units_0``, ``val_loss``); a bookkeeping value of a run's
#: own records has one more part (``tuner/epochs``).
NAME = r"^[A-Za-z][A-Za-z0-9_]{0,127}(/[A-Za-z0-9_]{1,128})?$"
#: What each pattern asks for, as an error says it.
PATTERNS = {
    TRIAL_ID: "a trial id: letters, digits, '-' and '_', at most 128 characters",
    NAME: "a name: letters, digits and '_', at most 128 characters",
}

Status = Literal["completed", "failed", "running", "stopped", "pruned"]
#: Why a search stopped (``Results.stopped``).
StopReason = Literal["budget", "time_limit", "target", "exhausted"]


class _Record(BaseModel):
    """Base of the records: unknown keys refused, immutable, every number finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: The validation context of a file read back (``load_results``).
READING = {"reading": True}


def _scalar(value: Any) -> Any:
    """A hyperparameter value as keras-tuner has them: a number, a string or a boolean."""
    if isinstance(value, bool | int | float | str):
        return value
    raise PydanticCustomError(
        "scalar", "expected a number, a string or true/false, received {received}", {"received": show(value)}
    )


def _not_finite(value: Any) -> bool:
    """Whether ``value`` is a float that is not a finite number (NaN, infinite)."""
    return isinstance(value, float) and not math.isfinite(value)


#: A mapping's schema: its keys match the pattern of its ``patternProperties`` (names), none other.
_NAMES_ONLY: dict[str, Any] = {"additionalProperties": False}
TrialId = Annotated[str, StringConstraints(pattern=TRIAL_ID)]
Name = Annotated[str, StringConstraints(pattern=NAME)]
Values = Annotated[
    dict[Name, Annotated[bool | int | float | str, BeforeValidator(_scalar)]],
    Field(max_length=MAX_VALUES, json_schema_extra=_NAMES_ONLY),
]


class TrialRecord(_Record):
    """One trial of a search."""

    id: TrialId = Field(description="keras-tuner's trial id.")
    values: Values = Field(description="The trial's active hyperparameter values.")
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
    history: (
        Annotated[
            dict[Name, Annotated[list[float], Field(max_length=MAX_EPOCHS, fail_fast=True)]],
            Field(max_length=MAX_METRICS, json_schema_extra=_NAMES_ONLY),
        ]
        | None
    ) = Field(
        None,
        description="Per-epoch values of every training and validation metric (the first execution's; "
        "a metric with a value that was not a finite number is left out); null when not recorded.",
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
    fold_scores: Annotated[list[float], Field(min_length=1, max_length=MAX_FOLDS)] | None = Field(
        None,
        description="With search.cross_validation: each fold's score (the objective at its best epoch), in "
        "fold order; the score is their mean, and history is the first fold's. A pruned trial lists the "
        "folds it trained. null without cross-validation.",
    )

    def __getitem__(self, key: str) -> Any:
        """Deprecated: ``record["score"]``, from when trials were dicts; use ``record.score``."""
        warnings.warn(
            f"trial records are objects now: use record.{key} instead of record[{key!r}]",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, key)

    @model_validator(mode="before")
    @classmethod
    def _finite(cls, data: Any, info: ValidationInfo) -> Any:
        """A run's record keeps ``results.json`` strict JSON: a score that is not a finite number
        (a metric that diverged) becomes None, a history metric with such a value is left out.
        A file read back (``READING``) holding one is refused instead."""
        if info.context == READING or not isinstance(data, dict):
            return data
        score, history, folds = data.get("score"), data.get("history"), data.get("fold_scores")
        if _not_finite(score):
            data = {**data, "score": None}
        if isinstance(folds, list) and any(map(_not_finite, folds)):
            data = {**data, "fold_scores": None}
        if isinstance(history, dict):
            kept = {
                k: v for k, v in history.items() if not (isinstance(v, list) and any(map(_not_finite, v)))
            }
            data = {**data, "history": kept or None}
        return data


class DataRecord(_Record):
    """Where the data came from and how large each split is."""

    source: str = Field(description="A path, 'keras' or a description.")
    train: int = Field(ge=0, description="Training examples.")
    validation: int = Field(ge=0, description="Validation examples.")
    test: int = Field(ge=0, description="Test examples.")
    digest: str = Field(description="16 hex digits of a sha256 over the arrays.")
    kind: str | None = Field(
        None, description="The kind of source: cifar10, arrays, npz, csv, keras or frame."
    )
    class_names: list[str] | None = Field(
        None, fail_fast=True, description="The class (or label) names, by id."
    )
    feature_names: list[str] | None = Field(
        None, fail_fast=True, description="The input columns, for tabular data."
    )
    target_names: list[str] | None = Field(
        None, fail_fast=True, description="The target columns, for regression."
    )


class BestRecord(_Record):
    """One retrained configuration, as ``results.json`` lists it."""

    rank: int = Field(ge=1, description="1 for the best.")
    trial: TrialId = Field(description="The trial it came from.")
    values: Values = Field(description="Its hyperparameter values.")
    test_metrics: Annotated[
        dict[Name, float], Field(max_length=MAX_METRICS, json_schema_extra=_NAMES_ONLY)
    ] = Field(description="Metrics on the test split (one that was not a finite number is left out).")
    parameters: int = Field(ge=0, description="Trainable parameters.")
    epochs: int = Field(ge=0, description="Epochs trained in retraining.")
    model: str = Field(description="File name of the model: best-<rank>.keras.")
    frozen_spec: str = Field(description="File name of its frozen spec: best-<rank>.spec.json.")

    @field_validator("model", "frozen_spec")
    @classmethod
    def _written_name(cls, name: str, info: ValidationInfo) -> str:
        """The file densespace writes for the rank: paths are made from these names."""
        rank = info.data.get("rank")
        wanted = (
            None if rank is None else (model_file if info.field_name == "model" else frozen_spec_file)(rank)
        )
        if wanted is not None and name != wanted:
            raise PydanticCustomError(
                "file_name",
                "expected {wanted}, the file of rank {rank}, received {received}",
                {"wanted": wanted, "rank": rank, "received": show(name)},
            )
        return name


class EnsembleRecord(_Record):
    """The ensemble of the best retrained models (``ensemble=K``): one model averaging their outputs."""

    members: list[Annotated[int, Field(ge=1)]] = Field(
        min_length=2, max_length=MAX_TRIALS, description="The ranks of the retrained models it averages."
    )
    test_metrics: Annotated[
        dict[Name, float], Field(max_length=MAX_METRICS, json_schema_extra=_NAMES_ONLY)
    ] = Field(description="Metrics on the test split (one that was not a finite number is left out).")
    model: Literal["ensemble.keras"] = Field("ensemble.keras", description="File name of the model.")


class Cost(_Record):
    """What the whole run cost."""

    search_epochs: float = Field(ge=0, description="Epochs trained in the search.")
    retrain_epochs: int = Field(ge=0, description="Epochs trained in retraining.")
    images_trained: float = Field(ge=0, description="Epochs x training examples.")
    seconds: float = Field(ge=0, description="Wall seconds of the run.")


class FrontPoint(_Record):
    """A completed trial on the accuracy/size front: no trial with fewer parameters beats it."""

    trial: TrialId = Field(description="The trial's id.")
    parameters: int = Field(ge=0, description="Trainable parameters of the trial's model.")
    score: float = Field(description="The trial's score (the objective at its best epoch).")


class Results(_Record):
    """The content of ``results.json`` (format version 1, docs/results.md)."""

    densespace: str = Field(description="densespace version that wrote the file.")
    versions: dict[str, str] = Field(
        max_length=MAX_METRICS,
        description="Versions of Python and the libraries: python, keras, tensorflow, keras_tuner, numpy.",
    )
    backend: Name | None = Field(
        None,
        description="The Keras backend the models were trained and saved with (keras.backend.backend(), "
        "such as tensorflow); null in older files.",
    )
    created: str = Field(description="UTC time, ISO 8601.")
    spec: dict[str, Any] = Field(description="The effective spec, as JSON.")
    seed: int | None = Field(description="search.seed.")
    tuner: str = Field(description="The search algorithm.")
    objective: str = Field(description="The metric the search optimized.")
    task: str = Field("classification", description="What the models predict (the spec's task).")
    data: DataRecord
    trials: list[TrialRecord] = Field(
        max_length=MAX_TRIALS, fail_fast=True, description="Every trial, in creation order."
    )
    best: list[BestRecord] = Field(
        max_length=MAX_TRIALS, fail_fast=True, description="The retrained configurations, best first."
    )
    cost: Cost
    stopped: StopReason | None = Field(
        None,
        description="Why the search stopped: budget (max_trials or Hyperband's plan done), time_limit, "
        "target (stop_at reached) or exhausted (no configuration left to try); null in older files.",
    )
    ensemble: EnsembleRecord | None = Field(
        None,
        exclude_if=lambda ensemble: ensemble is None,  # files without one stay as they were
        description="The ensemble of the best retrained models, when one was asked for (ensemble=K).",
    )
    front: list[FrontPoint] = Field(
        default_factory=list,
        max_length=MAX_TRIALS,
        fail_fast=True,
        description="The accuracy/size front: the completed trials that no trial with fewer trainable "
        "parameters beats on the objective, by parameters (smallest first); empty in older files.",
    )

    @model_validator(mode="after")
    def _members_retrained(self) -> Results:
        """An ensemble averages retrained models: each member is a rank of ``best``."""
        ranks = [b.rank for b in self.best]
        missing = [m for m in (self.ensemble.members if self.ensemble else []) if m not in ranks]
        if missing:
            raise PydanticCustomError(
                "ensemble_members",
                "ensemble.members: rank {rank} is not among the retrained models' ranks {ranks}",
                {"rank": missing[0], "ranks": ranks},
            )
        return self

    @field_validator("spec")
    @classmethod
    def _spec_size(cls, spec: dict[str, Any]) -> dict[str, Any]:
        """A spec no larger or deeper than a spec file may be (a deeper one could not be printed)."""
        from densespace._spec.loading import _size_problem

        problem = _size_problem(spec)
        if problem is not None:
            raise PydanticCustomError("spec_size", "{message}", {"message": problem.message})
        return spec

    #: The results folder ``load_results`` read this from; None for results made in memory.
    _folder: Path | None = PrivateAttr(None)
    #: The retrained models loaded so far, by rank.
    _models: dict[int, Any] = PrivateAttr(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        """Equal content: where the results were read from, and the models loaded, do not count."""
        if not isinstance(other, Results):
            return NotImplemented
        return self.__dict__ == other.__dict__ and self.__pydantic_extra__ == other.__pydantic_extra__

    def trials_dataframe(self) -> pandas.DataFrame:
        """Every trial as a pandas DataFrame, as ``TuneResult.trials_dataframe`` describes."""
        from densespace._report.dataframe import trials_dataframe

        return trials_dataframe(self.trials)

    def predict(self, data: Any, *, model: int = 1, proba: bool = False) -> Any:
        """Predictions of a retrained model (``best-K.keras`` of the folder read) on new rows.

        Args:
            data: The rows: an array of examples shaped like the run's (``(N, *input.shape)``),
                or a pandas DataFrame (or a mapping of column names to columns) holding the
                run's feature columns, in any order; its other columns (an ID, the target) are
                left out.
            model: The rank of the retrained model (1: the best).
            proba: Each class's probability instead of the predicted class.

        Returns:
            One prediction per row, in the rows' order: the class names (the ids when the run
            named no classes) for a classification or binary run; a 0/1 matrix for multilabel;
            the targets, in their units, for a regression. With ``proba``, a dict of each
            class's probabilities by class name (``pandas.DataFrame(...)`` makes it a table).

        Raises:
            RunFolderError: These results were not read from a folder, or its model is missing.
            OptionError: ``model`` is no retrained rank, or ``proba`` is asked of a regression.
            DatasetError: ``data`` lacks a feature column, holds something else than finite
                numbers, or its examples are not shaped as the model's.

        Examples:
            >>> results = densespace.load_results("runs/iris")  # doctest: +SKIP
            >>> results.predict(pandas.read_csv("new.csv"))  # doctest: +SKIP
            array(['setosa', 'virginica'], dtype=object)
        """
        from densespace import _predict

        if self._folder is None:
            raise RunFolderError(
                "these results were not read from a results folder: predict with "
                "densespace.load_results(FOLDER).predict(...)"
            )
        path = _predict.model_path(self, self._folder, model)
        if model not in self._models:
            if not path.is_file():
                raise RunFolderError(f"{path} does not exist: the results folder lost its model")
            from densespace._keras.io import load_model

            self._models[model] = load_model(path)
        return _predict.predict(self, self._models[model], data, proba=proba)

    def export(self, *, format: Literal["savedmodel", "tflite"], model: int = 1, data: Any = None) -> Path:
        """Writes a retrained model as a TensorFlow SavedModel (``best-K.savedmodel/``) or a TFLite
        file (``best-K.tflite``) beside its ``best-K.keras``, once the export, reloaded, predicts what
        the Keras model predicts within 1e-5 (SavedModel) or 1e-4 (TFLite) of the outputs' scale.
        The model of a table's typed columns exports as a SavedModel only, checked on ``data``.

        Args:
            format: ``"savedmodel"`` or ``"tflite"``.
            model: The rank of the retrained model (1: the best).
            data: The rows to check the export on (any rows ``predict`` takes, such as the test
                rows); by default 64 random rows of the model's input shape (a table's run needs them).

        Returns:
            The path of the export.

        Raises:
            RunFolderError: These results were not read from a folder, the folder is in use, or it
                holds a file densespace did not write where the export goes.
            OptionError: ``format`` or ``model`` is not one of the choices, or a table's run is
                exported to TFLite or without ``data``.
            TuningError: The export predicts otherwise than the Keras model (nothing is written).

        Examples:
            >>> densespace.load_results("runs/iris").export(format="tflite")  # doctest: +SKIP
            PosixPath('runs/iris/best-1.tflite')
        """
        from densespace._export import export

        if self._folder is None:
            raise RunFolderError(
                "these results were not read from a results folder: export with "
                "densespace.load_results(FOLDER).export(...)"
            )
        return export(self, self._folder, format=format, model=model, data=data)[0]

    def plot(self) -> matplotlib.figure.Figure:
        """The figure of ``scores.png``: each trial's score by trial id with the best so far and,
        when the parameter counts are known, each completed trial's score against its size.

        Examples:
            >>> densespace.load_results("runs/x").plot().savefig("scores.svg")  # doctest: +SKIP
        """
        from densespace._report.plot import figure

        return figure(self)

    def __repr__(self) -> str:
        from densespace._report.notebook import brief

        return f"<Results {brief(self)}>"

    def _repr_html_(self) -> str:
        """The summary as HTML, for notebooks."""
        from densespace._report.notebook import results_html

        return results_html(self)


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
            test_metrics={k: v for k, v in self.test_metrics.items() if math.isfinite(v)},  # strict JSON
            parameters=self.parameters,
            epochs=self.epochs,
            model=model_file(self.rank),
            frozen_spec=frozen_spec_file(self.rank),
        )


@dataclass(repr=False)
class TuneResult:
    """What ``tune`` hands back.

    Attributes:
        out: the results folder.
        record: what ``results.json`` holds; None on a worker of a distributed
            search, whose ``trials`` are the ones it ran.
        trials: every trial (on a worker: the ones it ran).
        best: the retrained models, best first.
        worker: this worker's id, on a worker.
        ensemble: the ``keras.Model`` averaging the best ones (``ensemble=K``), else None.
    """

    out: Path
    record: Results | None
    trials: list[TrialRecord]
    best: list[BestModel] = field(default_factory=list)
    worker: str | None = None
    ensemble: Any = None

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

    def predict(self, data: Any, *, model: int = 1, proba: bool = False) -> Any:
        """Predictions of a retrained model (in memory) on new rows, as ``Results.predict`` makes them.

        Raises:
            RunFolderError: On a worker, which holds no retrained model.
            OptionError: ``model`` is no retrained rank, or ``proba`` is asked of a regression.
            DatasetError: ``data`` is not rows the model takes.
        """
        from densespace import _predict

        if self.record is None:
            raise RunFolderError("a worker holds no retrained model: predict with the chief's results")
        _predict.check_rank(self.record, model)
        return _predict.predict(self.record, self.best[model - 1].model, data, proba=proba)

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

    def __repr__(self) -> str:
        from densespace._report.notebook import brief

        if self.record is None:
            return f"<TuneResult worker {self.worker}: {len(self.trials)} trials run; the chief holds the results>"
        return f"<TuneResult {printable(str(self.out))}: {brief(self.record)}>"

    def _repr_html_(self) -> str:
        """The summary as HTML, with where the files are, for notebooks."""
        from densespace._report.notebook import results_html, worker_html

        if self.record is None:
            return worker_html(self.worker, len(self.trials))
        return results_html(self.record, out=self.out)


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
    backend: str,
    stopped: StopReason | None = None,
    ensemble: EnsembleRecord | None = None,
) -> Results:
    """The content of ``results.json``; ``versions`` and ``backend`` are the libraries' that ran it."""
    search_epochs = sum(t.epochs or 0 for t in trials)
    retrain_epochs = sum(b.epochs for b in best)
    return Results(
        densespace=__version__,
        versions={"python": platform.python_version(), **versions},
        backend=backend,
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
        ensemble=ensemble,
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


def write_results(out: Path, results: Results, *, name: str = RESULTS_FILE) -> None:
    """Writes ``results.json`` (or another ``name``) into ``out`` (atomically), as strict JSON (no NaN
    or Infinity)."""
    text = json.dumps(results.model_dump(mode="json"), indent=2, allow_nan=False)
    write_text(out / name, text + "\n")


def load_results(out: str | Path) -> Results:
    """Reads and checks the ``results.json`` of a results folder.

    The check is one pass over the file, which stops at the first problem and at the caps
    (``MAX_TRIALS``, ``MAX_VALUES``, ``MAX_METRICS``, ``MAX_EPOCHS``, ``MAX_RESULTS_BYTES``).

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
    try:
        results = Results.model_validate(data, strict=True, context=READING)
    except ValidationError as exc:
        problem: str | None = _problem(exc.errors(include_url=False)[0])
    else:
        problem = _inconsistency(results)
    if problem is not None:
        raise RunFolderError(f"{path}: not a densespace results file: {problem}")
    results._folder = Path(out)
    return results


#: What a type error expects, by pydantic's error type.
_EXPECTED = {
    "model_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "finite_number": "a finite number",
}


def _problem(error: ErrorDetails) -> str:
    """A pydantic error as ``location: message``, with what was received (cut short)."""
    loc = [part for part in error["loc"] if part != "[key]"]  # a dict key's error: the key
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        message = "required key is missing"
    elif kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "too_long":
        message = f"more than {ctx['max_length']:,} entries; densespace reads no more"
    elif kind in {"scalar", "file_name", "spec_size"}:
        message = error["msg"]
    elif kind == "literal_error":
        message = f"expected one of {ctx['expected']}, received {show(error['input'])}"
    elif kind in _EXPECTED or kind == "string_pattern_mismatch":
        expected = _EXPECTED.get(kind) or PATTERNS[ctx["pattern"]]
        message = f"expected {expected}, received {show(error['input'])}"
    else:
        message = f"{error['msg']} (received {show(error['input'])})"
    return f"{printable(quote(where)) or 'top level'}: {message}"


def _inconsistency(results: Results) -> str | None:
    """What the records of a valid file contradict: a trial id given twice, an unknown objective."""
    seen: set[str] = set()
    for index, trial in enumerate(results.trials):
        if trial.id in seen:
            return f"trials[{index}].id: {show(trial.id)} is the id of an earlier trial (ids are unique)"
        seen.add(trial.id)
    if results.objective.removeprefix("val_") not in DIRECTIONS:
        return f"objective: {quote(results.objective)} is no metric densespace records"
    return None
