"""What every search algorithm shares: the ``search`` section's common options and a registry entry.

A search algorithm is one module of ``densespace._search`` (``random``, ``bayesian``,
``hyperband``, ``grid``): the model of its spec section (a ``SearchSection``), the
densespace hooks of its oracle (a mixin over ``densespace._keras.oracle.SearchOracle``,
written without importing keras-tuner) and its ``Tuner`` entry, which the registry
lists. Pydantic only: no Keras at import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from densespace._domains import Strict
from densespace._errors import show
from densespace._hyperparameters import Hyperparameter

#: Fields of a ``search`` section that densespace handles itself, or passes to keras-tuner's tuner
#: rather than its oracle (``executions_per_trial``): none reaches the oracle.
OWN_OPTIONS = (
    "tuner",
    "objective",
    "executions_per_trial",
    "constraints",
    "pruning",
    "initial_points",
    "cross_validation",
    "pack",
)


#: Most trainable parameters of a model of the space (``densespace._spec.MAX_PARAMETERS``; defined here,
#: where ``Constraints`` bounds its fields by it).
MAX_PARAMETERS = 100_000_000
#: Most entries of ``search.initial_points``.
MAX_POINTS = 1000
#: Most trials ``search.pack`` trains in one model.
MAX_PACK = 256


def _pack(value: Any) -> Any:
    """A value of ``search.pack``: ``"auto"``, ``"off"`` or an integer from 2 to ``MAX_PACK``."""
    if value in ("auto", "off") or (type(value) is int and 2 <= value <= MAX_PACK):
        return value
    raise PydanticCustomError("pack_value", f'expected "auto", "off" or an integer from 2 to {MAX_PACK}')


#: ``search.pack``: ``"off"``, ``"auto"`` or the most trials trained together in one model.
Pack = Annotated[
    Literal["auto", "off"] | int,
    PlainValidator(_pack),
    WithJsonSchema(
        {"anyOf": [{"enum": ["auto", "off"]}, {"type": "integer", "minimum": 2, "maximum": MAX_PACK}]}
    ),
]


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
    cross_validation: int | None = Field(
        None,
        ge=2,
        le=20,
        description="For small data: score each trial by the mean over this many folds of the training "
        "and validation rows together (stratified by class for classification and binary tasks), each "
        "fold's model trained on the other folds; the test split is untouched, and retraining uses the "
        "train and validation splits as given. null: train on the training split, score on the "
        "validation split. densespace's own; not a keras-tuner argument.",
    )
    pack: Pack = Field(
        "off",
        description="Train several trials together in one model (random, bayesian, tpe and grid "
        f"searches): an integer K (2 to {MAX_PACK}) packs up to K trials of equal batch size; "
        '"auto" chooses as "off" does for now; "off": one model per trial. Needs '
        "executions_per_trial 1. densespace's own; not a keras-tuner argument.",
    )

    #: Options kept when an override switches to another tuner.
    COMMON: ClassVar[tuple[str, ...]] = (
        "objective",
        "seed",
        "executions_per_trial",
        "constraints",
        "pruning",
        "initial_points",
        "cross_validation",
        "pack",
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

    @model_validator(mode="after")
    def _packable(self) -> SearchSection:
        if isinstance(self.pack, int) and self.executions_per_trial > 1:
            raise PydanticCustomError(
                "pack_executions",
                f"pack ({self.pack}) trains one model per trial: set executions_per_trial "
                f'({self.executions_per_trial}) to 1, or pack to "off"',
            )
        if isinstance(self.pack, int) and self.cross_validation is not None:
            raise PydanticCustomError(
                "pack_folds",
                f"pack ({self.pack}) trains one model per trial, cross_validation "
                f'({self.cross_validation}) one per fold: set pack to "off", or remove cross_validation',
            )
        return self

    @classmethod
    def points_refused(cls, what: str) -> str:
        """Why ``what`` (a spec field or an option) cannot be used with this tuner."""
        return f"{cls.NO_POINTS}: remove {what}, or use the random, bayesian or tpe tuner"

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """The most trials and training epochs the search runs, for ``epochs`` per model.

        ``configurations`` is the number of configurations ``search.constraints`` allow
        (None: not counted, or infinitely many); only an exhaustive search's budget uses it.
        """
        raise NotImplementedError

    def unsearchable(self, hyperparameters: Iterable[Hyperparameter]) -> str | None:
        """Why this tuner cannot search a space of ``hyperparameters`` (``densespace.hyperparameters(spec)``;
        reported at ``search.tuner``), or None."""
        return None

    def oracle_options(self) -> dict[str, Any]:
        """The options the algorithm's keras-tuner oracle takes: every field but the tuner's name and
        the options densespace handles itself (the objective, the executions per trial, constraints,
        pruning and initial points)."""
        return self.model_dump(exclude=set(OWN_OPTIONS))

    @property
    def models_per_trial(self) -> int:
        """The models one trial trains: ``executions_per_trial`` on each fold (one fold without
        ``cross_validation``)."""
        return self.executions_per_trial * (self.cross_validation or 1)

    def trial_epochs(self, values: Mapping[str, Any], epochs: int) -> int:
        """The planned epochs one trial with ``values`` stands for (run in full or not)."""
        return epochs * self.models_per_trial

    def longest_training(self, epochs: int) -> int:
        """The most epochs one model trains in the search (a cosine schedule decays over them)."""
        return epochs

    def warning(self, dimensions: int) -> str | None:
        """Why the search will not run the way its spec suggests, or None."""
        return None


class CountedTrials:
    """A search of ``max_trials`` trials that each train for the spec's epochs."""

    if TYPE_CHECKING:  # fields of the models this mixes into (not declared here: that would reorder them)
        max_trials: int
        models_per_trial: int

    def budget(self, epochs: int, configurations: int | None = None) -> tuple[int, int]:
        """``max_trials`` trials of ``epochs`` epochs per model."""
        return self.max_trials, self.max_trials * epochs * self.models_per_trial


@dataclass(frozen=True)
class Tuner:
    """One search algorithm: a registry entry.

    Attributes:
        name: its name in ``search.tuner`` and ``--tuner``.
        section: the model of the spec's ``search`` section for it.
        keras_class: the keras-tuner tuner class that trains its trials (``keras_tuner.<keras_class>``).
        keras_oracle: the keras-tuner oracle class that proposes them (``keras_tuner.oracles.<keras_oracle>``).
        hooks: densespace's hooks of its oracle that differ from ``SearchOracle``'s defaults (mixins
            placed before ``SearchOracle``; none: the defaults).
        function: the public shortcut ``densespace.<function>(spec, data=...)``.
    """

    name: str
    section: type[SearchSection]
    keras_class: str
    keras_oracle: str
    hooks: tuple[type, ...]
    function: str
