"""Grid search: keras-tuner's GridSearch, every configuration in grid order, once.

Its budget counts the configurations ``search.constraints`` allow; a range without a
step has no grid (``GridSearch.unsearchable``). Its oracle hooks (``GridHooks``) step
over whole sub-grids outside the constraints and give a reloaded grid its place back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from densespace._domains import FloatRange, IntRange
from densespace._hyperparameters import Hyperparameter
from densespace._search._base import CountedTrials, SearchSection, Tuner


class GridSearch(CountedTrials, SearchSection):
    """keras-tuner's GridSearch: every configuration in turn (the last hyperparameter fastest),
    up to ``max_trials``; every range needs a step, and search.constraints' exclusions are skipped."""

    tuner: Literal["grid"] = Field(description="The search algorithm.")
    max_trials: int = Field(
        100,
        ge=1,
        le=100000,
        description="Most trials: the grid stops after this many configurations, or when it is exhausted.",
    )

    EXHAUSTIVE: ClassVar[bool] = True
    NO_POINTS: ClassVar[str | None] = "a grid search tries every configuration in grid order"

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """One trial per configuration (``configurations``), at most ``max_trials``.

        Examples:
            >>> import densespace
            >>> spec = densespace.validate_spec({
            ...     "version": 1, "name": "grid", "hidden": {"layers": 2, "units": {"values": [64, 128]}},
            ...     "training": {"epochs": 5}, "search": {"tuner": "grid"},
            ... })
            >>> densespace.planned_budget(spec)
            (4, 20)
        """
        trials = self.max_trials if configurations is None else min(configurations, self.max_trials)
        return trials, trials * epochs * self.models_per_trial

    def unsearchable(self, hyperparameters: Iterable[Hyperparameter]) -> str | None:
        """A range without step has no grid: a float range is continuous, and keras-tuner's grid
        takes only 10 values of an integer range with log sampling."""
        for h in hyperparameters:
            domain = h.domain
            if isinstance(domain, FloatRange) and domain.step is None:
                why = "is continuous"
            elif isinstance(domain, IntRange) and domain.step is None and domain.sampling != "linear":
                why = f"has sampling '{domain.sampling}' and no step (the grid would take 10 of its values)"
            else:
                continue
            return f"a grid search needs every range to have a step; {h.location} {why}"
        return None


class GridHooks:
    """densespace's hooks of keras-tuner's GridSearchOracle (mixed in before ``SearchOracle``).

    keras-tuner's grid proposes each point as the one after a trial's values
    (``_get_next_combination``), and the first trial at every default. Under
    ``search.constraints`` both move on to the next feasible point in grid order, so the
    search runs exactly the feasible configurations (at most ``max_trials``) and stops after
    the last. An infeasible point's whole sub-grid without a feasible point (``dead_end``) is
    skipped at once, so finding the next feasible point takes a few steps per hyperparameter
    value, however many infeasible points lie before it.
    """

    if TYPE_CHECKING:  # of the oracle this mixes into
        trials: dict[str, Any]
        start_order: list[str]
        end_order: list[str]
        _ordered_ids: Any
        _populate_next: list[str]

        def get_space(self) -> Any: ...
        def dead_end(self, values: Mapping[str, Any]) -> str | None: ...
        def _compare(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> int: ...

    def _get_next_combination(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """keras-tuner's next point after ``values``, past the sub-grids outside the constraints."""
        while True:
            values = super()._get_next_combination(values)  # type: ignore[misc]
            dead = None if values is None else self.dead_end(values)
            if dead is None:
                return values
            values = self._end_of_subgrid(values, dead)

    def replace_infeasible(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The next feasible point after the sub-grid of ``values`` (only the first trial's
        defaults come here unchecked), never a random one; None: there is none."""
        dead = self.dead_end(values)
        return self._get_next_combination(values if dead is None else self._end_of_subgrid(values, dead))

    def _end_of_subgrid(self, values: dict[str, Any], last_fixed: str) -> dict[str, Any]:
        """The last point, in keras-tuner's grid order, that shares ``values`` up to ``last_fixed``:
        every later hyperparameter at its last value (keras-tuner orders each one's values default
        first); keras-tuner's next step from there leaves that sub-grid."""
        space = self.get_space().space
        names = [hp.name for hp in space]
        end = dict(values)
        for hp in space[names.index(last_fixed) + 1 :]:
            end[hp.name] = [hp.default, *(v for v in hp.values if v != hp.default)][-1]
        return end

    def reload(self) -> None:
        """Reloads the oracle and gives it back its place in the grid.

        keras-tuner's grid keeps the order of its trials (``_ordered_ids``) and the trials whose next
        point is due (``_populate_next``) in memory only: reloaded from a project that holds trials,
        it would stop at once, as if the grid were exhausted. Both are rebuilt from the trials, in
        grid order: every trial started in the order, every ended one due for its next point
        (an unfinished one is retried first, and is due once it ends).
        """
        super().reload()  # type: ignore[misc]
        if not self.start_order or self._populate_next:  # a new search, or one under way
            return

        def compare(a: str, b: str) -> int:
            return self._compare(self.trials[a].hyperparameters.values, self.trials[b].hyperparameters.values)

        started = sorted(self.start_order, key=functools.cmp_to_key(compare))
        for trial_id in started:
            self._ordered_ids.insert(trial_id)
        ended = set(self.end_order)
        self._populate_next = [trial_id for trial_id in started if trial_id in ended]


TUNER = Tuner("grid", GridSearch, "GridSearch", "GridSearchOracle", (GridHooks,), "grid_search")
"""The registry entry of the grid search."""
