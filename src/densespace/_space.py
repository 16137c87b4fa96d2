"""The search space a spec describes, worked out from the spec alone (no Keras).

* ``hyperparameters(spec)``: every hyperparameter with its name, domain and the
  condition that activates it, in the order the hypermodel declares them;
* ``configurations(spec)``: the exact number of distinct configurations;
* ``parameter_bounds(spec)``: the smallest and largest trainable parameter count;
* ``resolve(spec, values)``: the concrete architecture chosen by given values;
* ``freeze(spec, values)``: the spec with every tunable value fixed.

Naming: with one hidden block, ``layers``, ``units_0``, ``activation_0``, ...
(``units`` when the block is ``shared``); with several blocks each name is
prefixed ``block<b>_``. Then ``flip``, ``translate``, ``optimizer``,
``learning_rate``, ``schedule``, ``batch_size``, ``label_smoothing``.
Only tunable fields become hyperparameters; constants stay constants.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from densespace import _domains

if TYPE_CHECKING:
    from densespace._spec import Block, Spec

LAYER_FIELDS = ("units", "activation", "dropout", "batch_norm", "l2")
#: Hyperparameters outside the hidden blocks: (name, spec field), in declaration order.
GLOBAL_FIELDS = (
    ("flip", "input.augmentation.flip"),
    ("translate", "input.augmentation.translate"),
    ("optimizer", "optimizer.name"),
    ("learning_rate", "optimizer.learning_rate"),
    ("schedule", "optimizer.schedule"),
    ("batch_size", "training.batch_size"),
    ("label_smoothing", "training.label_smoothing"),
)


@dataclass(frozen=True)
class Condition:
    """Active only when the hyperparameter ``parent`` takes one of ``values``."""

    parent: str
    values: tuple[int, ...]

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"{self.parent} = {self.values[0]}"
        return f"{self.parent} in {{{', '.join(map(str, self.values))}}}"


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of the space."""

    name: str
    location: str  #: the spec field it comes from, written as in the spec
    domain: _domains.Domain
    condition: Condition | None = None

    def describe(self) -> str:
        """The domain in a few words: ``int 64..512 step 64``, ``choice relu|elu``."""
        d = self.domain
        if isinstance(d, _domains.Choice):
            return "choice " + "|".join(_word(v) for v in d.values)
        kind = "int" if isinstance(d, _domains.IntRange) else "float"
        text = f"{kind} {d.min}..{d.max}"
        if d.step is not None:
            text += f" step {d.step}"
        return text + ("" if d.sampling == "linear" else f" ({d.sampling})")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (used by ``densespace inspect --json``)."""
        return {
            "name": self.name,
            "location": self.location,
            "domain": self.domain.model_dump(),
            "values": _domains.size(self.domain),
            "condition": None
            if self.condition is None
            else {"parent": self.condition.parent, "values": list(self.condition.values)},
        }


def _word(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Layer:
    """One hidden Dense layer, every value concrete."""

    units: int
    activation: str
    dropout: float
    batch_norm: bool
    l2: float


@dataclass(frozen=True)
class Plan:
    """A concrete model: what one configuration of the space builds."""

    layers: tuple[Layer, ...]
    flip: bool
    translate: float
    optimizer: str
    learning_rate: float
    schedule: str
    batch_size: int
    label_smoothing: float


# ------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class _BlockNames:
    prefix: str
    location: str

    def layers(self) -> str:
        return f"{self.prefix}layers"

    def field(self, field: str, index: int | None) -> str:
        return f"{self.prefix}{field}" if index is None else f"{self.prefix}{field}_{index}"


def _block_names(spec: Spec) -> Iterator[tuple[Block, _BlockNames]]:
    several = len(spec.blocks) > 1
    listed = isinstance(spec.hidden, list)
    for b, block in enumerate(spec.blocks):
        yield (
            block,
            _BlockNames(
                prefix=f"block{b}_" if several else "",
                location=f"hidden[{b}]" if listed else "hidden",
            ),
        )


def _layer_indices(block: Block) -> Iterator[int | None]:
    """The per-layer indices whose hyperparameters a block declares (None: shared)."""
    if block.shared:
        yield None
    else:
        yield from range(_domains.bounds(block.layers)[1])


def _condition(block: Block, names: _BlockNames, index: int | None) -> Condition | None:
    if not _domains.is_tunable(block.layers):
        return None
    needed = 0 if index is None else index
    counts = _domains.values(block.layers)
    active = tuple(n for n in counts if n > needed)
    return None if len(active) == len(counts) else Condition(names.layers(), active)


# -------------------------------------------------------------------- the space


def hyperparameters(spec: Spec) -> list[Hyperparameter]:
    """Every hyperparameter of the space, in declaration order."""
    result: list[Hyperparameter] = []
    for block, names in _block_names(spec):
        if _domains.is_tunable(block.layers):
            result.append(Hyperparameter(names.layers(), f"{names.location}.layers", block.layers))
        for index in _layer_indices(block):
            condition = _condition(block, names, index)
            for field in LAYER_FIELDS:
                domain = getattr(block, field)
                if _domains.is_tunable(domain):
                    result.append(
                        Hyperparameter(
                            names.field(field, index), f"{names.location}.{field}", domain, condition
                        )
                    )
    for name, location in GLOBAL_FIELDS:
        domain = _field(spec, location)
        if _domains.is_tunable(domain):
            result.append(Hyperparameter(name, location, domain))
    return result


def _field(spec: Spec, location: str) -> Any:
    return functools.reduce(getattr, location.split("."), spec)


def configurations(spec: Spec) -> int | None:
    """The exact number of distinct configurations; None when a float range is continuous."""
    total: int | None = 1
    for block, _ in _block_names(spec):
        block_total: int | None = 0
        for count in _domains.values(block.layers):
            sizes = [_domains.size(getattr(block, f)) for f in LAYER_FIELDS]
            layers = min(count, 1) if block.shared else count
            block_total = _add(block_total, _product([s for s in sizes for _ in range(layers)]))
        total = _product([total, block_total])
    return _product([total] + [_domains.size(_field(spec, loc)) for _, loc in GLOBAL_FIELDS])


def _product(sizes: list[int | None]) -> int | None:
    return None if None in sizes else math.prod(sizes)  # type: ignore[arg-type]


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def parameter_bounds(spec: Spec) -> tuple[int, int]:
    """The smallest and largest trainable parameter count of a model in the space.

    A layer's count, ``inputs * units + units`` (``+ 2 * units`` with batch
    normalization, whose Dense has no bias), grows with every width, so for a
    given number of layers per block the extremes take every field at its
    smallest (largest) value. The layer counts are searched block by block,
    keeping the best total for each width a block can hand to the next one.
    """
    return _parameters(spec, 0), _parameters(spec, 1)


def _parameters(spec: Spec, end: int) -> int:
    pick = min if end == 0 else max
    best = {math.prod(spec.input.shape): 0}  # width -> best total so far
    for block in spec.blocks:
        units = _domains.bounds(block.units)[end]
        batch_norm = _domains.bounds(block.batch_norm)[end]
        options: dict[int, int] = {}
        for width, total in best.items():
            for count in _domains.values(block.layers):
                out = units if count else width
                cost = (
                    total
                    + (count > 0) * _dense(width, units, batch_norm)
                    + max(count - 1, 0) * _dense(units, units, batch_norm)
                )
                options[out] = pick(options.get(out, cost), cost)
        best = options
    return pick(total + _dense(width, spec.output.units, False) for width, total in best.items())


def _dense(width: int, units: int, batch_norm: bool) -> int:
    """Trainable parameters of one Dense layer: kernel and bias, or kernel and
    BatchNormalization's gamma and beta (the Dense has no bias then)."""
    return width * units + (2 if batch_norm else 1) * units


def resolve(spec: Spec, values: Mapping[str, Any]) -> Plan:
    """The concrete model that the hyperparameter ``values`` select.

    Args:
        spec: The spec.
        values: A value for every active hyperparameter (extra names are ignored).

    Raises:
        KeyError: An active hyperparameter has no value.
    """
    layers: list[Layer] = []
    for block, names in _block_names(spec):
        count = values[names.layers()] if _domains.is_tunable(block.layers) else block.layers
        for i in range(count):
            index = None if block.shared else i
            fields = {
                f: values[names.field(f, index)]
                if _domains.is_tunable(getattr(block, f))
                else getattr(block, f)
                for f in LAYER_FIELDS
            }
            layers.append(Layer(**fields))
    chosen = {
        name: values[name] if _domains.is_tunable(_field(spec, loc)) else _field(spec, loc)
        for name, loc in GLOBAL_FIELDS
    }
    return Plan(layers=tuple(layers), **chosen)


def plan_parameters(spec: Spec, plan: Plan) -> int:
    """The trainable parameter count of the model a plan builds."""
    width, total = math.prod(spec.input.shape), 0
    for layer in plan.layers:
        total += _dense(width, layer.units, layer.batch_norm)
        width = layer.units
    return total + _dense(width, spec.output.units, False)


def freeze(spec: Spec, values: Mapping[str, Any]) -> Spec:
    """The spec with every tunable value fixed to the one ``values`` select.

    Consecutive identical layers stay one block; the result has exactly one
    configuration, the chosen model.
    """
    plan = resolve(spec, values)
    blocks: list[dict[str, Any]] = []
    for layer in plan.layers:
        fields = {f: getattr(layer, f) for f in LAYER_FIELDS}
        if blocks and all(blocks[-1][f] == v for f, v in fields.items()):
            blocks[-1]["layers"] += 1
        else:
            blocks.append({"layers": 1, **fields})
    data = spec.model_dump()
    data["hidden"] = blocks or [{"layers": 0, "units": 1}]
    for name, location in GLOBAL_FIELDS:
        *sections, field = location.split(".")
        functools.reduce(dict.__getitem__, sections, data)[field] = getattr(plan, name)
    return type(spec).model_validate(data)
