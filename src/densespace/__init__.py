"""densespace: declarative search spaces for tuning dense networks with keras-tuner.

``import densespace`` and the spec tools never import TensorFlow; the names that
need Keras (``build_hypermodel``, ``DenseHyperModel``, ``load_model``) load it on
first use.

Examples:
    >>> import densespace
    >>> spec = densespace.load_spec("examples/seed-depth.json")
    >>> densespace.configurations(spec)
    19
"""

from __future__ import annotations

import importlib
import typing

from densespace._blocks.base import Layer
from densespace._blocks.dense import DenseLayer
from densespace._domains import Choice, FloatRange, IntRange
from densespace._errors import (
    DatasetError,
    DensespaceError,
    OptionError,
    PeerError,
    Problem,
    ResourceError,
    RunFolderError,
    SearchWarning,
    SpecError,
    TuningError,
)
from densespace._hyperparameters import Condition, Hyperparameter
from densespace._results import (
    BestModel,
    BestRecord,
    Results,
    TrialRecord,
    TuneResult,
    load_results,
)
from densespace._run import (
    Distributed,
    SearchOptions,
    TuneOptions,
    TunerFunction,
    bayesian_optimization,
    grid_search,
    hyperband,
    planned_budget,
    random_search,
    tpe,
    tune,
)
from densespace._search import (
    TUNERS,
    BayesianSearch,
    Constraints,
    GridSearch,
    HyperbandSearch,
    Pruning,
    RandomSearch,
)
from densespace._space import (
    Plan,
    configurations,
    feasible,
    feasible_configurations,
    feasible_parameter_bounds,
    freeze,
    hyperparameters,
    parameter_bounds,
    resolve,
)
from densespace._spec import (
    Augmentation,
    Block,
    EarlyStopping,
    Input,
    Optimizer,
    Output,
    Spec,
    Training,
    json_schema,
    load_spec,
    parse_spec,
    validate_spec,
)
from densespace._version import __version__

if typing.TYPE_CHECKING:
    from densespace._keras import DenseHyperModel, build_hypermodel, load_model

#: Public names that import Keras, loaded on first access.
_LAZY = dict.fromkeys(("build_hypermodel", "DenseHyperModel", "load_model"), "densespace._keras")


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'densespace' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "TUNERS",
    "Augmentation",
    "BayesianSearch",
    "BestModel",
    "BestRecord",
    "Block",
    "Choice",
    "Condition",
    "Constraints",
    "DatasetError",
    "DenseHyperModel",
    "DenseLayer",
    "DensespaceError",
    "Distributed",
    "EarlyStopping",
    "FloatRange",
    "GridSearch",
    "HyperbandSearch",
    "Hyperparameter",
    "Input",
    "IntRange",
    "Layer",
    "Optimizer",
    "OptionError",
    "Output",
    "PeerError",
    "Plan",
    "Problem",
    "Pruning",
    "RandomSearch",
    "ResourceError",
    "Results",
    "RunFolderError",
    "SearchOptions",
    "SearchWarning",
    "Spec",
    "SpecError",
    "Training",
    "TrialRecord",
    "TuneOptions",
    "TuneResult",
    "TunerFunction",
    "TuningError",
    "__version__",
    "bayesian_optimization",
    "build_hypermodel",
    "configurations",
    "feasible",
    "feasible_configurations",
    "feasible_parameter_bounds",
    "freeze",
    "grid_search",
    "hyperband",
    "hyperparameters",
    "json_schema",
    "load_model",
    "load_results",
    "load_spec",
    "parameter_bounds",
    "parse_spec",
    "planned_budget",
    "random_search",
    "resolve",
    "tpe",
    "tune",
    "validate_spec",
]
