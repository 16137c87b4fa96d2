"""Tunable values: a constant, a range or a choice, and the arithmetic of their domains.

A spec field that may be tuned accepts one of three shapes:

* a constant (``128``, ``"elu"``, ``0.2``, ``true``),
* a range ``{"min": a, "max": b, "step": s, "sampling": "linear"|"log"|"reverse_log"}``,
* a choice ``{"values": [...]}``.

The field's bounds apply to every shape (a range's ends, each value of a choice).
Ranges follow keras-tuner's ``hp.Int`` / ``hp.Float`` exactly: with ``linear``
sampling the step is added, with ``log`` / ``reverse_log`` it multiplies, and
the values reachable are the ones keras-tuner can sample.

A float range with a step has at most ``MAX_STEPPED_VALUES`` values, all
distinct floats, so that its count is exact (see ``FloatRange``).
"""

from __future__ import annotations

import math
import operator
import sys
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13

Sampling = Literal["linear", "log", "reverse_log"]

#: Most values a float range with a step may have. keras-tuner samples from a
#: stepped range by index, so a range with more values than any search can try
#: (``max_trials`` is at most 100,000) is continuous in all but name: write it
#: without ``step``. Below the cap the values can be checked to be distinct
#: floats, so that the count is exact, and listing them stays cheap.
#: Integer fields are bounded far below it (at most 65,536 values).
MAX_STEPPED_VALUES = 10**6


def _show(value: Any) -> str:
    """``repr(value)``, also for an integer too long for ``str`` (``sys.set_int_max_str_digits``)."""
    try:
        return repr(value)
    except ValueError:
        return f"<an integer of more than {sys.get_int_max_str_digits()} digits>"


class Strict(BaseModel):
    """Base of every spec object: strict types, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def _sampling() -> Any:
    return Field(
        "linear",
        description="How keras-tuner spreads samples over the range: 'linear', 'log' "
        "or 'reverse_log'. With log sampling `step` is a multiplier.",
    )


class _Range(Strict):
    """Shared rules of integer and float ranges."""

    #: The field's bounds (``ge``, ``gt``, ``le``, ``lt``), set by ``tunable``.
    limits: ClassVar[dict[str, Any]] = {}

    if TYPE_CHECKING:  # the fields IntRange and FloatRange declare
        min: Any
        max: Any
        step: Any
        sampling: Sampling

    @model_validator(mode="after")
    def _check(self) -> _Range:
        lo, hi, step = self.min, self.max, self.step
        if lo > hi:
            raise PydanticCustomError("range_order", f"min ({_show(lo)}) must be <= max ({_show(hi)})")
        if self.sampling != "linear" and lo <= 0:
            raise PydanticCustomError(
                "log_sampling", f"min ({_show(lo)}) must be > 0 with sampling '{self.sampling}'"
            )
        if step is not None and self.sampling != "linear" and step <= 1:
            raise PydanticCustomError(
                "step",
                f"step ({_show(step)}) must be > 1 with sampling '{self.sampling}' (it multiplies)",
            )
        if self.sampling != "linear" and not math.isfinite(_ratio(hi, lo)):
            # keras-tuner samples min * (max / min) ** p: an infinite ratio gives inf or NaN.
            raise PydanticCustomError(
                "log_sampling",
                f"min ({_show(lo)}) is too small for sampling '{self.sampling}': max / min overflows",
            )
        self._check_values()
        return self

    def _check_values(self) -> None:
        """Further checks of the values (float ranges)."""

    def size(self) -> int | None:
        """Number of distinct values keras-tuner can sample; None when continuous."""
        step = self._effective_step()
        if step is None:
            return 1 if self.min == self.max else None
        if self.sampling == "linear":
            return int((self.max - self.min) // step + 1)
        return int(math.log(self.max / self.min, step) + 1e-8) + 1

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value keras-tuner can sample."""
        size = self.size()
        if size is None or self._effective_step() is None:
            return self.min, self.max
        ends = (self.value_at(0), self.value_at(size - 1))
        return min(ends), max(ends)

    def expand(self) -> list[Any]:
        """Every value keras-tuner can sample, in order (finite ranges only)."""
        size = self.size()
        if size is None:
            raise ValueError("a float range without step is continuous")
        if self._effective_step() is None:
            return [self.min]  # min == max: keras-tuner samples min
        return [self.value_at(i) for i in range(size)]

    def value_at(self, index: int) -> Any:
        """The index-th value of a stepped range, as keras-tuner computes it."""
        lo, hi = self.min, self.max
        step: Any = self._effective_step()
        if self.sampling == "linear":
            value = lo + index * step
        elif self.sampling == "log":
            value = lo * math.pow(step, index)
        else:
            value = hi + lo - lo * math.pow(step, index)
        return self._cast(value)

    def member(self, value: Any) -> Any:
        """The range's own value equal to ``value``, or None when it has none.

        A stepped range's values are the ones keras-tuner computes (``value_at``): a
        float matches the nearest one within rounding (1e-9 relative) and the range's
        own is returned, so that it is the exact value keras-tuner would have sampled.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        try:
            if not math.isfinite(value):
                return None
        except OverflowError:  # an integer beyond every float, so beyond every range's values too
            return None
        if not isinstance(value, self._kinds):  # a float for an integer range
            return None
        if self._effective_step() is None:  # continuous, or every integer of a log range
            return self._cast(value) if self.min <= value <= self.max else None
        own = self._nearest(value)
        if own == value or (isinstance(own, float) and math.isclose(own, value, rel_tol=1e-9)):
            return own
        return None

    def _nearest(self, value: float) -> Any:
        """The range's value nearest ``value``, by bisection: a stepped range's values
        rise with their index (fall with ``reverse_log``)."""
        size = self.size()
        assert size is not None  # a range with a step has a count
        rising = self.sampling != "reverse_log"
        low, high = 0, size - 1
        while low < high:  # the first index whose value is at or past ``value``
            middle = (low + high) // 2
            at = self.value_at(middle)
            if at < value if rising else at > value:
                low = middle + 1
            else:
                high = middle
        near = [self.value_at(i) for i in (low - 1, low) if i >= 0]
        return min(near, key=lambda v: abs(v - value))

    #: The Python types of the range's values.
    _kinds: ClassVar[tuple[type, ...]] = (int, float)

    def _effective_step(self) -> float | None:
        return self.step

    def _cast(self, value: float) -> Any:
        return float(value)


def _ratio(hi: float, lo: float) -> float:
    """``hi / lo`` as keras-tuner computes it; inf when it overflows (integers too large)."""
    try:
        return hi / lo
    except OverflowError:
        return math.inf


class IntRange(_Range):
    """An integer range; the ends are included (keras-tuner's ``hp.Int``)."""

    min: int = Field(description="Smallest value (inclusive).")
    max: int = Field(description="Largest value (inclusive).")
    step: int | None = Field(
        None,
        gt=0,
        description="Distance between values (a multiplier with log sampling); "
        "default 1 with linear sampling.",
    )
    sampling: Sampling = _sampling()

    def _effective_step(self) -> float | None:
        if self.step is None:
            return 1 if self.sampling == "linear" else None
        return self.step

    def size(self) -> int:
        if self.step is None and self.sampling != "linear":
            return self.max - self.min + 1  # every integer is reachable
        return super().size()  # type: ignore[return-value]

    def bounds(self) -> tuple[int, int]:
        if self.step is None:
            return self.min, self.max
        return super().bounds()  # type: ignore[return-value]

    def expand(self) -> list[int]:
        if self.step is None:
            return list(range(self.min, self.max + 1))
        return super().expand()

    _kinds: ClassVar[tuple[type, ...]] = (int,)

    def _cast(self, value: float) -> int:
        return int(value)


class FloatRange(_Range):
    """A float range; continuous unless ``step`` is given (keras-tuner's ``hp.Float``)."""

    min: float = Field(description="Smallest value (inclusive).")
    max: float = Field(description="Largest value (inclusive).")
    step: float | None = Field(
        None,
        gt=0,
        description="Distance between values (a multiplier with log sampling); "
        "without it the range is continuous.",
    )
    sampling: Sampling = _sampling()

    def _check_values(self) -> None:
        """The values keras-tuner samples are countable and within the field's bounds."""
        if self.step is not None:
            self._check_count()
            ends = self.bounds()
        else:
            ends = self._continuous_ends()
        for value in ends:
            for key, limit in self.limits.items():
                test, sign = _LIMITS[key]
                if not test(value, limit):
                    raise PydanticCustomError(
                        "range_order",
                        f"keras-tuner can sample {_show(value)} from this range (rounding in its "
                        f"arithmetic); values must be {sign} {_show(limit)}",
                    )

    def _continuous_ends(self) -> tuple[float, float]:
        """keras-tuner's ``_sample_numerical_value`` at probabilities 0 and 1: rounding
        can take a range without step a little past its ends."""
        lo, hi = self.min, self.max
        if self.sampling == "linear":
            return lo, (hi - lo) + lo
        ratio = hi / lo
        if self.sampling == "log":
            return lo, lo * ratio
        return hi + lo - lo * ratio, hi + lo - lo

    def _check_count(self) -> None:
        """A stepped range has at most ``MAX_STEPPED_VALUES`` values, all distinct floats.

        keras-tuner counts ``n`` values and samples the ``i``-th for an index
        ``i < n``; with a step below the precision of floats two indices give one
        value, and ``n`` would count it twice.
        """
        assert self.step is not None
        if self.sampling == "linear":  # the last index as size() finds it, before int()
            last = (self.max - self.min) // self.step
        else:
            last = math.log(self.max / self.min, self.step) + 1e-8
        if not last < MAX_STEPPED_VALUES:  # more values than the cap; also NaN and inf
            raise PydanticCustomError(
                "step",
                f"step ({_show(self.step)}) is too small: the range would have more than "
                f"{MAX_STEPPED_VALUES:,} values",
            )
        if self._spaced():
            return
        previous = None
        for index in range(int(last) + 1):
            value = self.value_at(index)
            if value == previous:
                raise PydanticCustomError(
                    "step",
                    f"values {index - 1} and {index} of the range are both {_show(value)}: "
                    "its steps are below the precision of floats",
                )
            previous = value

    def _spaced(self) -> bool:
        """Whether the values are surely distinct: consecutive values lie further
        apart than the rounding errors of computing them (a few ulps)."""
        lo, hi, step = self.min, self.max, self.step
        assert step is not None
        if self.sampling == "linear":  # lo + fl(i * step), each rounding within ulp(largest)
            return step > 4 * math.ulp(max(abs(lo), abs(hi)) + step)
        relative = step - 1 > 2**-45  # a ratio well above math.pow's and the product's errors
        if self.sampling == "log":  # lo * pow(step, i), normal floats keep their relative precision
            return relative and lo >= sys.float_info.min
        # (hi + lo) - lo * pow(step, i): neighbours lie lo * step**i * (step - 1) apart
        return relative and lo * (step - 1) > 8 * math.ulp(hi + lo)


_LIMITS = {
    "ge": (operator.ge, ">="),
    "gt": (operator.gt, ">"),
    "le": (operator.le, "<="),
    "lt": (operator.lt, "<"),
}


class Choice(Strict):
    """A choice among listed values (keras-tuner's ``hp.Choice`` / ``hp.Boolean``)."""

    values: list[Any] = Field(min_length=1, description="The values to choose from (no duplicates).")

    @field_validator("values")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        """No value twice, by Python equality (``1 == 1.0 == True``, ``0.0 == -0.0``);
        a set finds them in linear time (hashing agrees with equality)."""
        seen: set[Any] = set()
        unhashable: list[Any] = []  # only in a Choice built in Python
        for value in values:
            try:
                repeated = value in seen
                seen.add(value)
            except TypeError:
                repeated = value in unhashable
                unhashable.append(value)
            if repeated:
                raise PydanticCustomError("duplicate", f"duplicate value {_show(value)}")
        return values

    def size(self) -> int:
        """Number of values."""
        return len(self.values)

    def bounds(self) -> tuple[Any, Any]:
        """The smallest and largest value."""
        return min(self.values), max(self.values)

    def member(self, value: Any) -> Any:
        """The listed value equal to ``value`` (of the same kind), or None when none is."""
        return next((own for own in self.values if same(own, value)), None)


class _BoolChoice(Choice):
    @field_validator("values")
    @classmethod
    def _both(cls, values: list[bool]) -> list[bool]:
        if len(values) != 2:
            raise PydanticCustomError(
                "bool_choice",
                "a boolean choice must list both true and false "
                f"(received {len(values)} value); write a constant instead",
            )
        return values


Domain = Union[IntRange, FloatRange, Choice]


def _kind(value: Any) -> str:
    if isinstance(value, (dict, Choice, _Range)):
        return "choice" if isinstance(value, Choice) or "values" in value else "range"
    return "constant"


def _choice_only_kind(value: Any) -> str:
    if isinstance(value, dict) and "values" not in value:
        return "range"  # not a member: reported as "takes a constant or a choice"
    return "choice" if isinstance(value, (dict, Choice)) else "constant"


def _as_data(value: Any) -> Any:
    """Ranges and choices built in Python are checked again against the field's bounds."""
    return value.model_dump() if isinstance(value, (Choice, _Range)) else value


def tunable(
    name: str,
    kind: type,
    *,
    ranged: bool = True,
    **bounds: Any,
) -> Any:
    """The annotation of a tunable field: constant | range | choice, all bounded alike.

    Args:
        name: Prefix of the generated model names (``"Units"`` gives
            ``UnitsRange`` and ``UnitsChoice`` in the JSON Schema).
        kind: ``int``, ``float``, ``bool``, ``str`` or a ``Literal`` of strings.
        ranged: Whether a range is allowed (numbers) or only a choice.
        **bounds: ``ge``/``gt``/``le``/``lt`` constraints applied to every value.
    """
    item: Any = Annotated[kind, Field(**bounds)] if bounds else kind
    choice_base = _BoolChoice if kind is bool else Choice
    choice = create_model(
        f"{name}Choice",
        __base__=choice_base,
        __doc__=f"A choice among listed {name.lower()} values.",
        values=(
            list[item],
            Field(
                min_length=1,
                description="The values to choose from (no duplicates).",
                json_schema_extra={"uniqueItems": True},
            ),
        ),
    )
    members: list[Any] = [Annotated[item, Tag("constant")]]
    if ranged:
        base = IntRange if kind is int else FloatRange
        rng = create_model(
            f"{name}Range",
            __base__=base,
            __doc__=f"A range of {name.lower()} values (inclusive).",
            min=(item, Field(description="Smallest value (inclusive).")),
            max=(item, Field(description="Largest value (inclusive).")),
        )
        cast("type[_Range]", rng).limits = dict(bounds)
        members.append(Annotated[rng, Tag("range")])
    members.append(Annotated[choice, Tag("choice")])
    return Annotated[
        Union[tuple(members)],
        Discriminator(_kind if ranged else _choice_only_kind),
        BeforeValidator(_as_data),
    ]


def is_tunable(value: Any) -> TypeIs[Domain]:
    """Whether a field value is a range or a choice rather than a constant."""
    return isinstance(value, (_Range, Choice))


def size(value: Any) -> int | None:
    """Number of distinct values of a field value (1 for a constant, None if continuous)."""
    return value.size() if is_tunable(value) else 1


def bounds(value: Any) -> tuple[Any, Any]:
    """The smallest and largest value of a field value."""
    return value.bounds() if is_tunable(value) else (value, value)


def same(a: Any, b: Any) -> bool:
    """Whether two values of a field are the same value: equal, and both booleans, both integers
    or both not (``1.0`` is a float's value, not an integer's; ``True`` is not ``1``).

    Examples:
        >>> same(0.5, 0.5), same(1, 1.0), same(1.0, 1), same(True, 1)
        (True, False, True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int) and not isinstance(b, int):
        return False
    return bool(a == b)


def values(value: Any) -> list[Any]:
    """Every value of a finite field value, in order."""
    if isinstance(value, Choice):
        return list(value.values)
    return value.expand() if isinstance(value, _Range) else [value]
