"""Bayesian optimization: keras-tuner's BayesianOptimization (a Gaussian process).

Its oracle hook ``BayesianHooks.replace_repeated`` keeps the Gaussian process from
training a configuration twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from densespace._search._base import CountedTrials, SearchSection, Tuner

#: Rounds of keras-tuner's random draws ``BayesianHooks.replace_repeated`` tries for a configuration
#: never tried.
REDRAWS = 50


class BayesianSearch(CountedTrials, SearchSection):
    """keras-tuner's BayesianOptimization (a Gaussian process)."""

    tuner: Literal["bayesian"] = Field(description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")
    num_initial_points: int | None = Field(
        None,
        ge=1,
        le=100000,
        description="Random trials before the Gaussian process takes over; "
        "default 3 x the number of hyperparameters (keras-tuner's).",
    )

    def warning(self, dimensions: int) -> str | None:
        """Says so when the Gaussian process proposes fewer than half the trials.

        It only proposes trials after ``num_initial_points`` random ones
        (keras-tuner's default: 3 x the number of hyperparameters).
        """
        initial = self.num_initial_points or max(3 * dimensions, 3)
        guided = max(self.max_trials - initial, 0)
        if guided * 2 >= self.max_trials:
            return None
        origin = (
            "search.num_initial_points"
            if self.num_initial_points
            else f"keras-tuner's default num_initial_points (3 x {dimensions} hyperparameters)"
        )
        return (
            f"{origin} = {initial} random trials leave {guided} of max_trials = {self.max_trials} "
            "to the Gaussian process: this search is mostly random"
        )


class BayesianHooks:
    """densespace's hooks of keras-tuner's BayesianOptimizationOracle (mixed in before ``SearchOracle``)."""

    if TYPE_CHECKING:  # of the oracle this mixes into

        def _random_values(self) -> dict[str, Any] | None: ...

    def replace_repeated(self, values: dict[str, Any]) -> dict[str, Any]:
        """A random configuration never tried instead of ``values``, which a trial has already.

        keras-tuner's Gaussian process proposes the optimum of its fit, which may be a configuration
        it trained, or a warm-start trial's: training it again would waste the trial. When ``REDRAWS``
        rounds of keras-tuner's random draws (each giving up after its own collisions) find no untried
        configuration, the proposal stands, as in keras-tuner: that says nothing certain about the
        space being exhausted.
        """
        for _ in range(REDRAWS):
            fresh = self._random_values()
            if fresh is not None:
                return fresh
        return values


TUNER = Tuner(
    "bayesian",
    BayesianSearch,
    "BayesianOptimization",
    "BayesianOptimizationOracle",
    (BayesianHooks,),
    "bayesian_optimization",
)
"""The registry entry of the Bayesian optimization."""
