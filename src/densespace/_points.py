"""Points of a search space: hyperparameter values written by a person or taken from a model.

* ``check_point(spec, values, location=...)``: values written by hand (an entry of
  ``search.initial_points``) checked against the space: every name one of its
  hyperparameters, every active one given and no inactive one, every value one of its
  domain's (the domain's own value kept, as keras-tuner computes it), and the model within
  ``search.constraints``;
* ``point_of(spec, plan)``: the values of the space that build a given model, the inverse
  of ``_space.resolve``: how a frozen spec (a retrained best model's) becomes a point of a
  wider space.

No Keras: validation calls ``check_point`` (``densespace._spec.checks``).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from densespace import _domains, _space
from densespace._errors import Problem, SpecError, show
from densespace._hyperparameters import Hyperparameter

if TYPE_CHECKING:
    from densespace._spec.models import Spec

#: The most layer-count combinations ``point_of`` tries when a model's layers could be split
#: among the blocks in several ways (a product of up to 10 blocks' counts).
MAX_SPLITS = 100_000


def check_point(spec: Spec, values: Mapping[str, Any], *, location: str) -> dict[str, Any]:
    """The point ``values`` name, checked against the space of ``spec``.

    Args:
        spec: The spec whose space the point belongs to.
        values: A value for every hyperparameter active at the point (``_space.hyperparameters``'
            names); inactive ones (a layer beyond the chosen count) are left out.
        location: Where the point is written, for the problems (``search.initial_points[0]``).

    Returns:
        The point: each active hyperparameter's name and its domain's own value.

    Raises:
        SpecError: A name is not a hyperparameter of the space, an active one has no value, an
            inactive one has one, a value is not one of its domain's, or the model is outside
            ``search.constraints`` (checked once the input shape is known).

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> check_point(spec, {"layers": 2, "units_0": 512, "units_1": 64}, location="point")
        {'layers': 2, 'units_0': 512, 'units_1': 64}
        >>> check_point(spec, {"layers": 2, "units_0": 500, "units_1": 64}, location="point")
        Traceback (most recent call last):
        ...
        densespace._errors.SpecError: point.units_0: 500 is not a value of hidden.units (int 64..512 step 64)
    """
    space = {h.name: h for h in _space.hyperparameters(spec)}
    problems = _unknown_names(space, values, location)
    point: dict[str, Any] = {}
    for h in space.values():
        active = h.condition is None or point.get(h.condition.parent) in h.condition.values
        problem = _value_problem(h, values, location, active)
        if problem is not None:
            problems.append(problem)
        elif active:
            point[h.name] = h.domain.member(values[h.name])
    why = None if problems or spec.input.shape is None else _space.outside_constraints(spec, point)
    if why is not None:
        problems.append(Problem(location, "point_infeasible", f"selects {why}"))
    if problems:
        raise SpecError(problems)
    return point


def _unknown_names(
    space: Mapping[str, Hyperparameter], values: Mapping[str, Any], location: str
) -> list[Problem]:
    """A problem for each name of ``values`` that is not one of the ``space``'s hyperparameters."""
    problems = []
    for name in values:
        if name not in space:
            close = difflib.get_close_matches(name, list(space), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"its hyperparameters: {', '.join(space) or 'none'}"
            )
            problems.append(
                Problem(
                    f"{location}.{_key(name)}", "point_name", f"not a hyperparameter of this space ({hint})"
                )
            )
    return problems


def _value_problem(
    h: Hyperparameter, values: Mapping[str, Any], location: str, active: bool
) -> Problem | None:
    """What is wrong with the value ``values`` give ``h`` (active or not at the point), or None."""
    at = f"{location}.{h.name}"
    if not active:
        if h.name not in values:
            return None
        chosen = show(values.get(h.condition.parent)) if h.condition else ""
        return Problem(
            at,
            "point_inactive",
            f"not used when {h.condition.parent if h.condition else ''} is {chosen} "
            f"(active when {h.condition}); leave it out",
        )
    if h.name not in values:
        return Problem(location, "point_missing", f"no value for {h.name} ({h.location}, {h.describe()})")
    if h.domain.member(values[h.name]) is None:
        return Problem(
            at, "point_value", f"{show(values[h.name])} is not a value of {h.location} ({h.describe()})"
        )
    return None


def _key(name: str) -> str:
    return name if name.isprintable() else repr(name)


def point_of(spec: Spec, plan: _space.Plan) -> dict[str, Any]:
    """The values of ``spec``'s hyperparameters that build the model ``plan`` describes.

    Every field of the model must be the spec's constant there or one of its domain's values;
    when the layers could be split among the blocks in several ways, the first split that
    fits (fewest layers in the first block) is taken: each builds the same model.

    Raises:
        ValueError: No point of the space builds this model (the message says what differs).

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> frozen = densespace.freeze(spec, {"layers": 2, "units_0": 256, "units_1": 128})
        >>> point_of(spec, densespace.resolve(frozen, {}))
        {'layers': 2, 'units_0': 256, 'units_1': 128}
    """
    point: dict[str, Any] = {}
    for name, location in _space.GLOBAL_FIELDS:
        point.update(_field_value(name, location, _space._field(spec, location), getattr(plan, name)))
    first: ValueError | None = None
    for counts in itertools.islice(_splits(spec, len(plan.layers)), MAX_SPLITS):
        try:
            return {**_layer_values(spec, plan, counts), **point}
        except ValueError as exc:
            first = first or exc
    if first is not None:
        raise first
    allowed = [_domains.values(block.layers) for block in spec.blocks]
    least, most = sum(min(c) for c in allowed), sum(max(c) for c in allowed)
    raise ValueError(f"it has {len(plan.layers)} hidden layers; this space's models have {least} to {most}")


def _splits(spec: Spec, layers: int) -> Iterator[tuple[int, ...]]:
    """Each way of giving the blocks layer counts their ``layers`` allow that add up to ``layers``."""
    counts = [_domains.values(block.layers) for block in spec.blocks]
    rest = [sum(max(c) for c in counts[b:]) for b in range(len(counts))] + [0]

    def split(b: int, left: int) -> Iterator[tuple[int, ...]]:
        if b == len(counts):
            if left == 0:
                yield ()
            return
        for count in sorted(counts[b]):
            if count <= left <= count + rest[b + 1]:
                for tail in split(b + 1, left - count):
                    yield (count, *tail)

    return split(0, layers)


def _layer_values(spec: Spec, plan: _space.Plan, counts: tuple[int, ...]) -> dict[str, Any]:
    """The block hyperparameters' values when block ``b`` takes ``counts[b]`` of the plan's layers."""
    point: dict[str, Any] = {}
    layers = enumerate(plan.layers, 1)
    for (block, names), count in zip(_space._block_names(spec), counts, strict=True):
        if _domains.is_tunable(block.layers):
            point[names.layers()] = count
        for i in range(count):
            number, layer = next(layers)
            index = None if block.shared else i
            for field in block.FIELDS:
                name, value = names.field(field, index), getattr(layer, field)
                own = _field_value(
                    name,
                    f"{names.location}.{field}",
                    getattr(block, field),
                    value,
                    f"hidden layer {number}'s ",
                )
                if name in point and own and not _domains.same(point[name], own[name]):
                    raise ValueError(
                        f"the layers of the shared block {names.location} would need {field} "
                        f"{show(point[name])} and {show(value)}"
                    )
                point.update(own)
    return point


def _field_value(name: str, location: str, field: Any, value: Any, where: str = "") -> dict[str, Any]:
    """``{name: the domain's own value}`` for a tunable field, ``{}`` for a constant one equal to
    ``value``.

    Raises:
        ValueError: ``value`` is not one of the field's values.
    """
    what = where + location.rpartition(".")[2]
    if not _domains.is_tunable(field):
        if _domains.same(field, value):
            return {}
        raise ValueError(f"its {what} is {show(value)}; this space's {location} is {show(field)}")
    own = field.member(value)
    if own is None:
        h = Hyperparameter(name, location, field)
        raise ValueError(f"its {what} is {show(value)}, not a value of {location} ({h.describe()})")
    return {name: own}
