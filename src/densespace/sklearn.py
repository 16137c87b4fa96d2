"""scikit-learn estimators that search a space on ``fit``: ``DenseSpaceClassifier`` and ``DenseSpaceRegressor``.

``fit(X, y)`` runs ``densespace.tune`` on the data (a held-out split of ``validation`` scores the
trials and tests the retrained best), keeps the best retrained model, and predicts with it. ``X`` is
an array of numbers, or a pandas DataFrame; a DataFrame with text, category, true/false or date
columns, or with gaps, is a table: its columns are typed and encoded inside the model as
``densespace.datasets.from_frame`` does, and ``predict`` takes such a DataFrame. The
estimators take ``spec`` and every option of ``tune`` (``SearchOptions``' fields, the same
defaults but ``verbose=0``), plus ``validation``; so they sit in a ``Pipeline``, ``cross_val_score``
or ``GridSearchCV`` like any estimator. Needs scikit-learn (``pip install 'densespace[sklearn]'``).

Examples:
    >>> from densespace.sklearn import DenseSpaceClassifier
    >>> from sklearn.datasets import load_iris  # doctest: +SKIP
    >>> X, y = load_iris(return_X_y=True, as_frame=True)  # doctest: +SKIP
    >>> model = DenseSpaceClassifier(max_trials=5, epochs=20).fit(X, y)  # doctest: +SKIP
    >>> model.predict(X.head(2))  # doctest: +SKIP
    array([0, 0])
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        check_array,
        check_consistent_length,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - the tests install scikit-learn
    raise ImportError("densespace.sklearn needs scikit-learn: pip install 'densespace[sklearn]'") from exc

from densespace import _predict
from densespace._budgets import Target
from densespace._export import ExportFormat
from densespace._results import Results, TrialRecord
from densespace._run.options import KeepCheckpoints, Verbosity
from densespace._run.tune import tune
from densespace._search import TunerName
from densespace._spec import Spec, load_spec, validate_spec
from densespace.datasets import Dataset, from_arrays, from_frame
from densespace.datasets._arrays import is_frame

__all__ = ["DEFAULT_SPEC", "DenseSpaceClassifier", "DenseSpaceRegressor"]

#: The space searched when no ``spec`` is given: 1 to 3 Dense layers on standardized features.
DEFAULT_SPEC: dict[str, Any] = {
    "version": 1,
    "name": "sklearn",
    "input": {"preprocessing": "standardize"},
    "hidden": {
        "layers": {"min": 1, "max": 3},
        "units": {"values": [32, 64, 128, 256]},
        "dropout": {"values": [0.0, 0.2]},
        "shared": True,
    },
    "optimizer": {"name": "adam", "learning_rate": {"values": [0.0003, 0.001, 0.003]}},
    "training": {"epochs": 30, "batch_size": 32},
    "search": {"tuner": "random", "max_trials": 10},
}


class _DenseSpaceEstimator(BaseEstimator):
    """What both estimators share: the parameters, ``fit`` and the model's outputs."""

    #: The task the spec is given (``_task_of``).
    _task: ClassVar[str]

    def __init__(
        self,
        *,
        spec: Spec | dict[str, Any] | str | os.PathLike[str] | None = None,
        tuner: TunerName | None = None,
        max_trials: int | None = None,
        epochs: int | None = None,
        seed: int | None = None,
        pack: int | Literal["auto", "off"] | None = None,
        retrain_top: int = 1,
        ensemble: int = 0,
        out: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        verbose: Verbosity = 0,
        on_trial_end: Callable[[TrialRecord], None] | None = None,
        chief: str | None = None,
        worker: str | None = None,
        worker_id: str | None = None,
        connect_timeout: float = 180.0,
        callbacks: Sequence[Any] | None = None,
        tensorboard: bool = False,
        keep_checkpoints: KeepCheckpoints = "best",
        with_optimizer: bool = False,
        retrain: bool = False,
        time_limit: float | None = None,
        stop_at: tuple[str, float] | Target | None = None,
        enqueue: Sequence[str | os.PathLike[str]] = (),
        warm_start: str | os.PathLike[str] | None = None,
        ignore: Sequence[str] = (),
        export: Sequence[ExportFormat] = (),
        validation: float = 0.2,
    ) -> None:
        self.spec = spec
        self.tuner = tuner
        self.max_trials = max_trials
        self.epochs = epochs
        self.seed = seed
        self.pack = pack
        self.retrain_top = retrain_top
        self.ensemble = ensemble
        self.out = out
        self.overwrite = overwrite
        self.verbose = verbose
        self.on_trial_end = on_trial_end
        self.chief = chief
        self.worker = worker
        self.worker_id = worker_id
        self.connect_timeout = connect_timeout
        self.callbacks = callbacks
        self.tensorboard = tensorboard
        self.keep_checkpoints = keep_checkpoints
        self.with_optimizer = with_optimizer
        self.retrain = retrain
        self.time_limit = time_limit
        self.stop_at = stop_at
        self.enqueue = enqueue
        self.warm_start = warm_start
        self.ignore = ignore
        self.export = export
        self.validation = validation

    def _fit(self, X: Any, y: Any, *, classes: bool) -> tuple[Any, Any]:
        """Checks ``X``, ``y`` as scikit-learn does and keeps the data to search on: (the rows, the
        targets) as checked. A table's columns stay as they are (any type, gaps): only their names
        and count are checked and kept, and ``y`` on its own."""
        table = _is_table(X)
        if table:
            validate_data(self, X, skip_check_array=True)
            y = column_or_1d(
                check_array(y, ensure_2d=False, dtype="numeric" if not classes else None, input_name="y")
            )
            check_consistent_length(X, y)
            if len(y) < 2:
                raise ValueError(f"Found array with {len(y)} sample(s) while a minimum of 2 is required.")
            x = X
        else:
            x, y = validate_data(
                self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2, y_numeric=not classes
            )
        self._table = table
        return x, y

    def _data(self, x: Any, y: np.ndarray, class_names: list[str] | None) -> Dataset:
        """The rows split for the search: a stratified ``validation`` split held out, on which the
        trials are scored and the retrained best tested."""
        if not self._table:
            return from_arrays(
                x.astype(np.float32),
                y,
                validation="test",
                test=self.validation,
                seed=self.seed or 0,
                class_names=class_names,
                feature_names=[str(name) for name in getattr(self, "feature_names_in_", [])] or None,
            )
        target = next(
            f"target{'_' * i}" for i in range(len(x.columns) + 1) if f"target{'_' * i}" not in x.columns
        )
        labels = y if class_names is None else np.asarray(class_names, dtype=object)[y]
        return from_frame(
            x.assign(**{target: labels}),
            target=target,
            validation="test",
            test=self.validation,
            seed=self.seed or 0,
            numbers=class_names is None,
        )

    def _search(self, x: Any, y: np.ndarray, class_names: list[str] | None) -> None:
        """Runs the search on ``x``, ``y`` and keeps the best retrained model."""
        data = self._data(x, y, class_names)
        options = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name not in ("spec", "validation", "out")
        }
        options["warm_start"] = self.warm_start or None  # scikit-learn's checks set warm_start=False
        spec = self._spec()
        with contextlib.ExitStack() as stack:
            out = self.out if self.out is not None else stack.enter_context(tempfile.TemporaryDirectory())
            result = tune(spec, data=data, out=out, **options)
        if not result.best or result.record is None:
            raise ValueError(
                f"the search retrained no model (retrain_top={self.retrain_top}); it needs 1 or more"
            )
        self.model_: Any = result.best[0].model
        self.results_: Results = result.record

    def _spec(self) -> Spec:
        """``spec`` (a ``Spec``, a dict, a spec file; ``DEFAULT_SPEC`` for None) with the estimator's task."""
        given = self.spec
        if given is None:
            spec = validate_spec(DEFAULT_SPEC, source="DEFAULT_SPEC")
        elif isinstance(given, Spec):
            spec = given
        elif isinstance(given, dict):
            spec = validate_spec(given, source="spec")
        else:
            spec = load_spec(Path(given))
        data = spec.model_dump()
        data["task"] = self._task_of(spec.task)
        return validate_spec(data, source="spec")

    def _task_of(self, task: str) -> str:
        return self._task

    def _outputs(self, X: Any) -> np.ndarray:
        """The best model's raw outputs on ``X``, checked as scikit-learn checks inputs (a table's
        rows: a DataFrame holding its columns)."""
        check_is_fitted(self)
        if self._table:
            validate_data(self, X, reset=False, skip_check_array=True)
            rows = X.rename(columns=str) if is_frame(X) else X  # as from_frame names them
        else:
            rows = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return _predict.outputs(self.model_, _predict._inputs(self.results_, rows))


def _is_table(X: Any) -> bool:
    """Whether ``X`` is a DataFrame that an array of numbers cannot hold: a column of text,
    categories, true/false or dates, or a gap."""
    if not is_frame(X):
        return False
    import pandas as pd

    numbers = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in X.dtypes)
    return not numbers or bool(X.isna().to_numpy().any())


class DenseSpaceClassifier(ClassifierMixin, _DenseSpaceEstimator):
    """A classifier whose network densespace searches for on ``fit``.

    The parameters but ``spec`` and ``validation`` are ``tune``'s options (``max_trials``,
    ``epochs``, ``seed``, ``out``, ...), with the same defaults but ``verbose=0``; ``out`` None:
    a temporary folder, deleted after ``fit``.

    Args:
        spec: The search space: a ``Spec``, a dict, or a spec file's path; by default
            ``DEFAULT_SPEC``. Its task becomes ``classification`` (``binary`` stays, for two classes).
        validation: The share of the rows held out, stratified by class, to score the trials
            on and test the retrained best on.

    Attributes:
        classes_: The classes, sorted.
        n_features_in_: The features seen by ``fit``.
        feature_names_in_: Their names, when ``X`` was a DataFrame with string column names.
        model_: The best retrained ``keras.Model``.
        results_: The search's ``Results`` (trials, test metrics of the held-out split).
    """

    _task = "classification"

    def fit(self, X: Any, y: Any) -> DenseSpaceClassifier:
        """Searches the space on ``X``, ``y``, retrains the best configuration and keeps it.

        Raises:
            ValueError: ``X`` or ``y`` are not usable (scikit-learn's checks; a class with too
                few rows to hold some out); the spec is invalid.
        """
        x, y = self._fit(X, y, classes=True)
        check_classification_targets(y)
        self.classes_, ids = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y holds one class ({self.classes_[0]!r}); a classifier needs 2 or more")
        self._search(x, ids.astype(np.int64), [str(c) for c in self.classes_])
        return self

    def _task_of(self, task: str) -> str:
        return "binary" if task == "binary" and len(self.classes_) == 2 else "classification"

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each class's probability, one column per class of ``classes_``."""
        raw = self._outputs(X)  # checks it is fitted first
        probabilities = _predict.probabilities(self.results_, raw)  # by class name, in the data's order
        return np.stack([probabilities[str(c)] for c in self.classes_], axis=1).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each row."""
        proba = self.predict_proba(X)  # checks it is fitted first
        return np.asarray(self.classes_[proba.argmax(axis=1)])


class DenseSpaceRegressor(RegressorMixin, _DenseSpaceEstimator):
    """A regressor whose network densespace searches for on ``fit``; its task becomes ``regression``.

    Takes the parameters of ``DenseSpaceClassifier`` (the held-out split is a random one).

    Attributes:
        n_features_in_: The features seen by ``fit``.
        feature_names_in_: Their names, when ``X`` was a DataFrame with string column names.
        model_: The best retrained ``keras.Model`` (it predicts in the targets' units).
        results_: The search's ``Results``.
    """

    _task = "regression"

    def fit(self, X: Any, y: Any) -> DenseSpaceRegressor:
        """Searches the space on ``X``, ``y``, retrains the best configuration and keeps it.

        Raises:
            ValueError: ``X`` or ``y`` are not usable (scikit-learn's checks; a constant ``y``);
                the spec is invalid.
        """
        x, y = self._fit(X, y, classes=False)
        self._search(x, np.asarray(y, dtype=np.float32), None)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target of each row, in its units."""
        return self._outputs(X)[:, 0].astype(np.float64)
