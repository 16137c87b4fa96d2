"""The search algorithms densespace runs, one module each, and their registry.

An algorithm's module (``random``, ``bayesian``, ``hyperband``, ``grid``, ``tpe``) holds the
model of its spec section, densespace's hooks of its keras-tuner oracle and its
``Tuner`` entry; ``_base`` holds what they share. The spec's ``search`` union, the
CLI's choices, the public shortcuts, the budget arithmetic and the oracles all derive
from ``TUNERS``: adding an algorithm is one module and its line below (and its name in
``TunerName``, which a test keeps in step). Pydantic only: no Keras at import.
"""

from __future__ import annotations

from typing import Literal

from densespace._search import bayesian, grid, hyperband, random, tpe
from densespace._search._base import (
    MAX_PARAMETERS,
    Constraints,
    Pruning,
    SearchSection,
    Tuner,
)
from densespace._search.bayesian import BayesianSearch
from densespace._search.grid import GridSearch
from densespace._search.hyperband import HyperbandSearch
from densespace._search.random import RandomSearch
from densespace._search.tpe import TPESearch

TunerName = Literal["random", "bayesian", "hyperband", "grid", "tpe"]

TUNERS: dict[str, Tuner] = {
    t.name: t
    for t in (
        random.TUNER,
        bayesian.TUNER,
        hyperband.TUNER,
        grid.TUNER,
        tpe.TUNER,
    )
}
"""The tuner registry: ``search.tuner`` name -> its spec section, oracle hooks, keras-tuner classes and shortcut."""

__all__ = [
    "MAX_PARAMETERS",
    "TUNERS",
    "BayesianSearch",
    "Constraints",
    "GridSearch",
    "HyperbandSearch",
    "Pruning",
    "RandomSearch",
    "SearchSection",
    "TPESearch",
    "TunerName",
]
