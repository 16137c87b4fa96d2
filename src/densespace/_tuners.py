"""The tuner registry: one entry per search algorithm densespace runs.

An entry ties together everything that differs between tuners: the name written
in a spec's ``search.tuner`` (and given to ``--tuner``), the model of the spec's
``search`` section with that tuner's options and budget rules, the keras-tuner
class that runs it, and the name of the public shortcut (``densespace.hyperband``).
The spec's ``search`` union, the CLI's choices, the shortcuts and the budget
arithmetic all derive from ``TUNERS``; adding a tuner is one section model and
one entry here. Pydantic only: no Keras at import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from densespace._domains import FloatRange, IntRange, Strict
from densespace._errors import show

if TYPE_CHECKING:
    from densespace._spec import Spec

TunerName = Literal["random", "bayesian", "hyperband", "grid"]


#: Most trainable parameters of a model of the space (``densespace._spec.MAX_PARAMETERS``; defined here,
#: where ``Constraints`` bounds its fields by it).
MAX_PARAMETERS = 100_000_000
#: Most entries of ``search.initial_points``.
MAX_POINTS = 1000


def _point_value(value: Any) -> Any:
    """A value of ``search.initial_points``: a number, a string or a boolean, as a spec writes them."""
    if isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise PydanticCustomError(
        "point_value_type", f"expected a number, a string or true/false, received {show(value)}"
    )


#: A hyperparameter value of ``search.initial_points`` (checked against the space by the spec).
PointValue = Annotated[
    Any, PlainValidator(_point_value), WithJsonSchema({"type": ["number", "string", "boolean"]})
]


class Constraints(Strict):
    """Which configurations the search may try: a range of trainable parameter counts, narrowing layers.

    A configuration is feasible when its model's trainable parameter count lies within
    min_parameters and max_parameters and, with funnel, no hidden layer is wider than the
    one before it, across blocks. A spec whose space has no feasible configuration is refused.
    """

    max_parameters: int | None = Field(
        None,
        ge=1,
        le=MAX_PARAMETERS,
        description="Largest trainable parameter count of a model the search may try; null: no limit.",
    )
    min_parameters: int | None = Field(
        None,
        ge=1,
        le=MAX_PARAMETERS,
        description="Smallest trainable parameter count of a model the search may try (at most "
        "max_parameters); null: no limit.",
    )
    funnel: bool = Field(
        False,
        description="true: every hidden layer is no wider than the one before it, across blocks.",
    )

    @model_validator(mode="after")
    def _order(self) -> Constraints:
        low, high = self.min_parameters, self.max_parameters
        if low is not None and high is not None and low > high:
            raise PydanticCustomError(
                "range_order", f"min_parameters ({low}) must be <= max_parameters ({high})"
            )
        return self

    @property
    def active(self) -> bool:
        """Whether any constraint is set (the defaults constrain nothing).

        Examples:
            >>> from densespace import Constraints
            >>> Constraints(max_parameters=500_000, funnel=True).active
            True
            >>> Constraints().active
            False
        """
        return self.max_parameters is not None or self.min_parameters is not None or self.funnel


class Pruning(Strict):
    """Median pruning: a trial whose objective is worse than the median of the earlier trials at
    the same epoch stops there (random and bayesian searches; Hyperband prunes by its brackets)."""

    rule: Literal["median"] = Field("median", description="The pruning rule: median.")
    warmup_epochs: int = Field(
        1,
        ge=0,
        le=10000,
        description="Epochs every trial trains before it may be pruned; a trial is compared with the "
        "median at an epoch only once at least 3 earlier trials reached that epoch.",
    )


class SearchSection(Strict):
    """Options every tuner shares; the base of each tuner's ``search`` section."""

    objective: str = Field(
        "val_loss",
        description="Metric the tuner optimizes: loss, val_loss, or a metric of the task, for "
        "example val_accuracy (classification), val_auc (binary, multilabel), val_rmse (regression).",
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Seed of the tuner's sampling.")
    executions_per_trial: int = Field(
        1, ge=1, le=100, description="Models trained per trial (their scores are averaged)."
    )
    constraints: Constraints = Field(
        Constraints(),
        description="Which configurations the search may try: trainable parameter bounds and funnels. "
        "densespace's own; not a keras-tuner argument.",
    )

    pruning: Pruning | None = Field(
        None,
        description="Stop trials that fall behind the earlier ones (random and bayesian searches); "
        "null: every trial trains its epochs. densespace's own; not a keras-tuner argument.",
    )
    initial_points: list[dict[str, PointValue]] = Field(
        [],
        max_length=MAX_POINTS,
        description="Hyperparameter values to evaluate first, in order (random and bayesian "
        "searches): each maps every active hyperparameter's name (as `densespace inspect` lists "
        "them) to one of its values. densespace's own; not a keras-tuner argument.",
    )

    #: Options kept when an override switches to another tuner.
    COMMON: ClassVar[tuple[str, ...]] = (
        "objective",
        "seed",
        "executions_per_trial",
        "constraints",
        "pruning",
        "initial_points",
    )
    #: Why this tuner cannot evaluate given points before its own (None: it can); refuses
    #: ``initial_points``, ``--enqueue`` and ``--warm-start``.
    NO_POINTS: ClassVar[str | None] = None
    #: Whether the budget depends on how many configurations the space has (an exhaustive
    #: search's does): ``planned_budget`` counts them only then.
    EXHAUSTIVE: ClassVar[bool] = False

    @field_validator("initial_points")
    @classmethod
    def _points_allowed(cls, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if points and cls.NO_POINTS is not None:
            raise PydanticCustomError("tuner_points", cls.points_refused("search.initial_points"))
        return points

    @classmethod
    def points_refused(cls, what: str) -> str:
        """Why ``what`` (a spec field or an option) cannot be used with this tuner."""
        return f"{cls.NO_POINTS}: remove {what}, or use the random or bayesian tuner"

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """The most trials and training epochs the search runs, for ``epochs`` per model.

        ``configurations`` is the number of configurations ``search.constraints`` allow
        (None: not counted, or infinitely many); only an exhaustive search's budget uses it.
        """
        raise NotImplementedError

    def unsearchable(self, spec: Spec) -> str | None:
        """Why this tuner cannot search the spec's space (reported at ``search.tuner``), or None."""
        return None

    def trial_epochs(self, values: Mapping[str, Any], epochs: int) -> int:
        """The planned epochs one trial with ``values`` stands for (run in full or not)."""
        return epochs * self.executions_per_trial

    def longest_training(self, epochs: int) -> int:
        """The most epochs one model trains in the search (a cosine schedule decays over them)."""
        return epochs

    def warning(self, dimensions: int) -> str | None:
        """Why the search will not run the way its spec suggests, or None."""
        return None


class _CountedTrials:
    """A search of ``max_trials`` trials that each train for the spec's epochs."""

    if TYPE_CHECKING:  # fields of the models this mixes into (not declared here: that would reorder them)
        max_trials: int
        executions_per_trial: int

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """``max_trials`` trials of ``epochs`` epochs per execution."""
        return self.max_trials, self.max_trials * epochs * self.executions_per_trial


class RandomSearch(_CountedTrials, SearchSection):
    """keras-tuner's RandomSearch."""

    tuner: Literal["random"] = Field("random", description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")


class BayesianSearch(_CountedTrials, SearchSection):
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
                "Hyperband prunes by its own brackets: remove search.pruning, or use the random or "
                "bayesian tuner",
            )
        return pruning

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
        return trials * iterations, total_epochs * iterations * self.executions_per_trial

    def trial_epochs(self, values: Mapping[str, Any], epochs: int) -> int:
        """A Hyperband trial trains from ``tuner/initial_epoch`` to ``tuner/epochs``."""
        return (values["tuner/epochs"] - values["tuner/initial_epoch"]) * self.executions_per_trial

    def longest_training(self, epochs: int) -> int:
        """Hyperband trains a model for up to ``max_epochs``."""
        return self.max_epochs


class GridSearch(_CountedTrials, SearchSection):
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
        return trials, trials * epochs * self.executions_per_trial

    def unsearchable(self, spec: Spec) -> str | None:
        """A range without step has no grid: a float range is continuous, and keras-tuner's grid
        takes only 10 values of an integer range with log sampling."""
        from densespace import _space

        for h in _space.hyperparameters(spec):
            domain = h.domain
            if isinstance(domain, FloatRange) and domain.step is None:
                why = "is continuous"
            elif isinstance(domain, IntRange) and domain.step is None and domain.sampling != "linear":
                why = f"has sampling '{domain.sampling}' and no step (the grid would take 10 of its values)"
            else:
                continue
            return f"a grid search needs every range to have a step; {h.location} {why}"
        return None


@dataclass(frozen=True)
class Tuner:
    """One search algorithm.

    Attributes:
        name: its name in ``search.tuner`` and ``--tuner``.
        section: the model of the spec's ``search`` section for it.
        keras_class: the keras-tuner class that runs it (``keras_tuner.<name>``).
        function: the public shortcut ``densespace.<function>(spec, data=...)``.
    """

    name: TunerName
    section: type[SearchSection]
    keras_class: str
    function: str


TUNERS: dict[str, Tuner] = {
    t.name: t
    for t in (
        Tuner("random", RandomSearch, "RandomSearch", "random_search"),
        Tuner("bayesian", BayesianSearch, "BayesianOptimization", "bayesian_optimization"),
        Tuner("hyperband", HyperbandSearch, "Hyperband", "hyperband"),
        Tuner("grid", GridSearch, "GridSearch", "grid_search"),
    )
}
"""The tuner registry: ``search.tuner`` name -> its spec section, keras-tuner class and shortcut."""
