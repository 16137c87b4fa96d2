"""Tunable values: a constant, a range or a choice, and the arithmetic of their domains.

A spec field that may be tuned accepts one of three shapes:

* a constant (``128``, ``"elu"``, ``0.2``, ``true``),
* a range ``{"min": a, "max": b, "step": s, "sampling": "linear"|"log"|"reverse_log"}``,
* a choice ``{"values": [...]}``.

The field's bounds apply to every shape (a range's ends, each value of a choice).
Ranges follow keras-tuner's ``hp.Int`` / ``hp.Float`` exactly: with ``linear``
sampling the step is added, with ``log`` / ``reverse_log`` it multiplies, and
the values reachable are the ones keras-tuner can sample.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

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

Sampling = Literal["linear", "log", "reverse_log"]


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

    @model_validator(mode="after")
    def _check(self) -> _Range:
        lo, hi, step = self.min, self.max, self.step  # type: ignore[attr-defined]
        if lo > hi:
            raise PydanticCustomError("range_order", f"min ({lo}) must be <= max ({hi})")
        if self.sampling != "linear" and lo <= 0:
            raise PydanticCustomError(
                "log_sampling", f"min ({lo}) must be > 0 with sampling '{self.sampling}'"
            )
        if step is not None and self.sampling != "linear" and step <= 1:
            raise PydanticCustomError(
                "step",
                f"step ({step}) must be > 1 with sampling '{self.sampling}' (it multiplies)",
            )
        return self

    def size(self) -> int | None:
        """Number of distinct values keras-tuner can sample; None when continuous."""
        step = self._effective_step()
        if step is None:
            return None
        if self.sampling == "linear":
            return int((self.max - self.min) // step + 1)  # type: ignore[attr-defined]
        return int(math.log(self.max / self.min, step) + 1e-8) + 1  # type: ignore[attr-defined]

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value keras-tuner can sample."""
        size = self.size()
        if size is None:
            return self.min, self.max  # type: ignore[attr-defined]
        ends = (self.value_at(0), self.value_at(size - 1))
        return min(ends), max(ends)

    def expand(self) -> list[Any]:
        """Every value keras-tuner can sample, in order (finite ranges only)."""
        size = self.size()
        if size is None:
            raise ValueError("a float range without step is continuous")
        return [self.value_at(i) for i in range(size)]

    def value_at(self, index: int) -> Any:
        """The index-th value of a stepped range, as keras-tuner computes it."""
        lo, hi, step = self.min, self.max, self._effective_step()  # type: ignore[attr-defined]
        if self.sampling == "linear":
            value = lo + index * step
        elif self.sampling == "log":
            value = lo * math.pow(step, index)
        else:
            value = hi + lo - lo * math.pow(step, index)
        return self._cast(value)

    def _effective_step(self) -> float | None:
        return self.step  # type: ignore[attr-defined]

    def _cast(self, value: float) -> Any:
        return value


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


class Choice(Strict):
    """A choice among listed values (keras-tuner's ``hp.Choice`` / ``hp.Boolean``)."""

    values: list[Any] = Field(min_length=1, description="The values to choose from (no duplicates).")

    @field_validator("values")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        seen: list[Any] = []
        for value in values:
            if value in seen:
                raise PydanticCustomError("duplicate", f"duplicate value {value!r}")
            seen.append(value)
        return values

    def size(self) -> int:
        """Number of values."""
        return len(self.values)

    def bounds(self) -> tuple[Any, Any]:
        """The smallest and largest value."""
        return min(self.values), max(self.values)


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
    item = Annotated[kind, Field(**bounds)] if bounds else kind
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
        end = {"description": "Smallest value (inclusive)."}, {"description": "Largest value (inclusive)."}
        rng = create_model(
            f"{name}Range",
            __base__=base,
            __doc__=f"A range of {name.lower()} values (inclusive).",
            min=(item, Field(**end[0])),
            max=(item, Field(**end[1])),
        )
        members.append(Annotated[rng, Tag("range")])
    members.append(Annotated[choice, Tag("choice")])
    return Annotated[
        Union[tuple(members)],  # type: ignore[valid-type]
        Discriminator(_kind if ranged else _choice_only_kind),
        BeforeValidator(_as_data),
    ]


def is_tunable(value: Any) -> bool:
    """Whether a field value is a range or a choice rather than a constant."""
    return isinstance(value, (_Range, Choice))


def size(value: Any) -> int | None:
    """Number of distinct values of a field value (1 for a constant, None if continuous)."""
    return value.size() if is_tunable(value) else 1


def bounds(value: Any) -> tuple[Any, Any]:
    """The smallest and largest value of a field value."""
    return value.bounds() if is_tunable(value) else (value, value)


def values(value: Any) -> list[Any]:
    """Every value of a finite field value, in order."""
    if isinstance(value, Choice):
        return list(value.values)
    return value.expand() if is_tunable(value) else [value]
