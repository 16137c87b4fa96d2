"""Running a search: options, the results folder, progress, and ``tune`` over its phases.

Nothing here imports TensorFlow at import time; the search phase imports
``densespace._keras`` when it starts.
"""

from densespace._run.options import Distributed, SearchOptions, TuneOptions, apply_overrides
from densespace._run.progress import planned_budget
from densespace._run.tune import (
    TunerFunction,
    bayesian_optimization,
    grid_search,
    hyperband,
    random_search,
    tpe,
    tune,
)

__all__ = [
    "Distributed",
    "SearchOptions",
    "TuneOptions",
    "TunerFunction",
    "apply_overrides",
    "bayesian_optimization",
    "grid_search",
    "hyperband",
    "planned_budget",
    "random_search",
    "tpe",
    "tune",
]
