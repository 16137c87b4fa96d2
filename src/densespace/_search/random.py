"""Random search: keras-tuner's RandomSearch, each trial a random configuration never tried.

densespace's oracle hooks keep their defaults (``densespace._keras.oracle.SearchOracle``):
a random draw outside ``search.constraints`` is recorded as tried and drawn again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from densespace._search._base import CountedTrials, SearchSection, Tuner


class RandomSearch(CountedTrials, SearchSection):
    """keras-tuner's RandomSearch."""

    tuner: Literal["random"] = Field("random", description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")


TUNER = Tuner("random", RandomSearch, "RandomSearch", "RandomSearchOracle", (), "random_search")
"""The registry entry of the random search."""
