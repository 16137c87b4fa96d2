"""densespace: declarative search spaces for tuning dense networks with keras-tuner.

``import densespace`` and the spec tools never import TensorFlow; the names that
need Keras (``build_hypermodel``) load it on first use.

Example:
    >>> import densespace
    >>> spec = densespace.load_spec("examples/seed-depth.json")  # doctest: +SKIP
    >>> densespace.configurations(spec)  # doctest: +SKIP
    19
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from densespace._domains import Choice, FloatRange, IntRange
from densespace._errors import DatasetError, DensespaceError, SpecError, TuningError
from densespace._schema import json_schema
from densespace._space import (
    Condition,
    Hyperparameter,
    Layer,
    Plan,
    configurations,
    freeze,
    hyperparameters,
    parameter_bounds,
    resolve,
)
from densespace._spec import (
    Augmentation,
    BayesianSearch,
    Block,
    EarlyStopping,
    HyperbandSearch,
    Input,
    Optimizer,
    Output,
    RandomSearch,
    Spec,
    Training,
    load_spec,
    parse_spec,
    validate_spec,
)
from densespace._tuning import (
    BestModel,
    SearchWarning,
    TuneResult,
    bayesian_optimization,
    hyperband,
    planned_budget,
    random_search,
    tune,
)
from densespace._version import __version__

if TYPE_CHECKING:
    from densespace._keras import DenseHyperModel, build_hypermodel, load_model

#: Public names that import Keras, loaded on first access.
_LAZY = dict.fromkeys(("build_hypermodel", "DenseHyperModel", "load_model"), "densespace._keras")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'densespace' has no attribute '{name}'")


__all__ = [
    "Augmentation",
    "BayesianSearch",
    "BestModel",
    "Block",
    "Choice",
    "Condition",
    "DatasetError",
    "DenseHyperModel",
    "DensespaceError",
    "EarlyStopping",
    "FloatRange",
    "HyperbandSearch",
    "Hyperparameter",
    "Input",
    "IntRange",
    "Layer",
    "Optimizer",
    "Output",
    "Plan",
    "RandomSearch",
    "SearchWarning",
    "Spec",
    "SpecError",
    "Training",
    "TuneResult",
    "TuningError",
    "__version__",
    "bayesian_optimization",
    "build_hypermodel",
    "configurations",
    "freeze",
    "hyperband",
    "hyperparameters",
    "json_schema",
    "load_model",
    "load_spec",
    "parameter_bounds",
    "parse_spec",
    "planned_budget",
    "random_search",
    "resolve",
    "tune",
    "validate_spec",
]
