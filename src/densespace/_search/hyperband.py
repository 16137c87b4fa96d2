"""Hyperband: keras-tuner's Hyperband, brackets of models trained for more and more epochs.

Its budget is keras-tuner's bracket arithmetic; its oracle hook ``HyperbandHooks.finished``
knows when the brackets are done.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from densespace._search._base import Pack, Pruning, SearchSection, Tuner


class HyperbandSearch(SearchSection):
    """keras-tuner's Hyperband."""

    tuner: Literal["hyperband"] = Field(description="The search algorithm.")
    max_epochs: int = Field(100, ge=2, le=10000, description="Most epochs one model is trained.")
    factor: int = Field(3, ge=2, le=100, description="Reduction factor between brackets.")
    hyperband_iterations: int = Field(
        1, ge=1, le=100, description="Times the whole Hyperband algorithm is run."
    )

    NO_POINTS: ClassVar[str | None] = "Hyperband draws every bracket's models itself"

    @field_validator("pruning")
    @classmethod
    def _no_pruning(cls, pruning: Pruning | None) -> Pruning | None:
        if pruning is not None:
            raise PydanticCustomError(
                "hyperband_pruning",
                "Hyperband prunes by its own brackets: remove search.pruning, or use the random, "
                "bayesian or tpe tuner",
            )
        return pruning

    @field_validator("cross_validation")
    @classmethod
    def _no_folds(cls, folds: int | None) -> int | None:
        if folds is not None:
            raise PydanticCustomError(
                "hyperband_folds",
                "Hyperband continues a trial from one model's weights, which trained on the other folds' "
                "validation rows: remove search.cross_validation, or use the random, bayesian, grid or tpe tuner",
            )
        return folds

    @field_validator("pack")
    @classmethod
    def _no_pack(cls, pack: Pack) -> Pack:
        if isinstance(pack, int):
            raise PydanticCustomError(
                "hyperband_pack",
                f"Hyperband continues its trials' models from round to round, one by one: set "
                f'search.pack ({pack}) to "off", or use the random, bayesian, tpe or grid tuner',
            )
        return pack

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """keras-tuner's own bracket arithmetic: each round of a bracket trains ``size``
        models, continuing the previous round's best from where they stopped."""
        trials = total_epochs = brackets = 0
        remaining = float(self.max_epochs)
        while remaining >= 1:
            remaining /= self.factor
            brackets += 1
        end_size = math.ceil(1 + math.log(self.max_epochs, self.factor))
        for bracket in range(brackets):
            for round_ in range(bracket + 1):
                size = math.ceil(end_size / (bracket + 1) * self.factor ** (bracket - round_))
                done = math.ceil(self.max_epochs / self.factor ** (bracket - round_ + 1)) if round_ else 0
                total = math.ceil(self.max_epochs / self.factor ** (bracket - round_))
                trials += size
                total_epochs += size * (total - done)
        iterations = self.hyperband_iterations
        return trials * iterations, total_epochs * iterations * self.models_per_trial

    def trial_epochs(self, values: Mapping[str, Any], epochs: int) -> int:
        """A Hyperband trial trains from ``tuner/initial_epoch`` to ``tuner/epochs``."""
        return (values["tuner/epochs"] - values["tuner/initial_epoch"]) * self.models_per_trial

    def longest_training(self, epochs: int) -> int:
        """Hyperband trains a model for up to ``max_epochs``."""
        return self.max_epochs


class HyperbandHooks:
    """densespace's hooks of keras-tuner's HyperbandOracle (mixed in before ``SearchOracle``)."""

    if TYPE_CHECKING:  # of the oracle this mixes into
        hyperband_iterations: int
        _current_bracket: int
        _current_iteration: int

    def finished(self) -> bool:
        """Whether the plan is done: ``max_trials`` trials (keras-tuner's Hyperband sets none), or
        the last bracket of the last iteration begun (keras-tuner counts the brackets down)."""
        return super().finished() or (  # type: ignore[misc]
            self._current_bracket == 0 and self._current_iteration + 1 == self.hyperband_iterations
        )


TUNER = Tuner("hyperband", HyperbandSearch, "Hyperband", "HyperbandOracle", (HyperbandHooks,), "hyperband")
"""The registry entry of Hyperband."""
