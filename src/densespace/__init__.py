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
from densespace._errors import DatasetError, DensespaceError, SpecError
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

if TYPE_CHECKING:
    from densespace._keras import DenseHyperModel, build_hypermodel

__version__ = "0.1.0"

#: Public names that import Keras, loaded on first access.
_LAZY = {"build_hypermodel": "densespace._keras", "DenseHyperModel": "densespace._keras"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'densespace' has no attribute '{name}'")


__all__ = [
    "BayesianSearch",
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
    "Spec",
    "SpecError",
    "Training",
    "__version__",
    "build_hypermodel",
    "configurations",
    "freeze",
    "hyperparameters",
    "json_schema",
    "load_spec",
    "parameter_bounds",
    "parse_spec",
    "resolve",
    "validate_spec",
]
